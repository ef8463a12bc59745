//! An in-memory transport: one publisher end and one subscriber end in the same process, with
//! a bounded queue that drops its oldest sample when full (as iceoryx2's overflow does).
//! For tests, examples and benchmarks of the transport-independent parts.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use super::{Source, Transport, TransportError};

#[derive(Debug, Default)]
struct Shared {
    stream: VecDeque<Vec<u8>>,
    capacity: usize,
    requests: usize,
    answers: VecDeque<Vec<u8>>,
    subscribed: bool,
    /// Samples overwritten because the subscriber did not keep up.
    overwritten: u64,
}

fn lock(shared: &Mutex<Shared>) -> std::sync::MutexGuard<'_, Shared> {
    shared.lock().unwrap_or_else(|e| e.into_inner())
}

/// The publishing end of a [`pair`].
#[derive(Debug, Clone)]
pub struct MemoryTransport {
    shared: Arc<Mutex<Shared>>,
    queued: usize,
}

/// The subscribing end of a [`pair`].
#[derive(Debug, Clone)]
pub struct MemorySource {
    shared: Arc<Mutex<Shared>>,
}

/// A connected pair whose queue holds up to `capacity` samples.
pub fn pair(capacity: usize) -> (MemoryTransport, MemorySource) {
    let shared = Arc::new(Mutex::new(Shared { capacity: capacity.max(1), ..Shared::default() }));
    (MemoryTransport { shared: Arc::clone(&shared), queued: 0 }, MemorySource { shared })
}

impl MemoryTransport {
    /// Samples overwritten so far because the subscriber end did not keep up.
    pub fn overwritten(&self) -> u64 {
        lock(&self.shared).overwritten
    }
}

impl Transport for MemoryTransport {
    fn describe(&self) -> String {
        "memory".into()
    }

    fn send(&mut self, sample: &[u8]) -> Result<(), TransportError> {
        let mut s = lock(&self.shared);
        if s.stream.len() >= s.capacity {
            s.stream.pop_front();
            s.overwritten += 1;
        }
        s.stream.push_back(sample.to_vec());
        Ok(())
    }

    fn take_requests(&mut self) -> Result<usize, TransportError> {
        let mut s = lock(&self.shared);
        self.queued += std::mem::take(&mut s.requests);
        Ok(self.queued)
    }

    fn answer(&mut self, snapshot: &[u8]) -> Result<(), TransportError> {
        let mut s = lock(&self.shared);
        for _ in 0..std::mem::take(&mut self.queued) {
            s.answers.push_back(snapshot.to_vec());
        }
        Ok(())
    }

    fn has_subscribers(&mut self) -> bool {
        lock(&self.shared).subscribed
    }
}

impl Source for MemorySource {
    fn describe(&self) -> String {
        "memory".into()
    }

    fn poll(&mut self, f: &mut dyn FnMut(&[u8])) -> Result<usize, TransportError> {
        let mut s = lock(&self.shared);
        s.subscribed = true;
        let n = s.stream.len();
        for sample in s.stream.drain(..) {
            f(&sample);
        }
        Ok(n)
    }

    fn request_snapshot(&mut self) -> Result<(), TransportError> {
        lock(&self.shared).requests += 1;
        Ok(())
    }

    fn poll_snapshot(&mut self, f: &mut dyn FnMut(&[u8])) -> Result<usize, TransportError> {
        let mut s = lock(&self.shared);
        let n = s.answers.len();
        for answer in s.answers.drain(..) {
            f(&answer);
        }
        Ok(n)
    }
}

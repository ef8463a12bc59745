//! Threads pinned to cores, and their clean shutdown.
//!
//! `core_affinity::get_core_ids()` lists only the CPUs in the *calling thread's* current
//! mask, so once a thread is pinned it sees one core. [`Cores::detect`] asks once, before
//! anything is pinned; hand its ids to [`spawn_pinned`] / [`spawn_consumer`].

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};

use core_affinity::CoreId;

use super::{Consumer, Idle, OnEvent};
use crate::event::Event;

/// The cores this process may run on, listed once.
#[derive(Debug, Clone, Default)]
pub struct Cores {
    ids: Vec<CoreId>,
}

impl Cores {
    /// Lists the cores in the calling thread's affinity mask. Call it before pinning anything
    /// (a pinned thread's mask holds only its own core).
    pub fn detect() -> Self {
        Cores { ids: core_affinity::get_core_ids().unwrap_or_default() }
    }

    /// The `i`-th core, if there is one.
    pub fn get(&self, i: usize) -> Option<CoreId> {
        self.ids.get(i).copied()
    }

    /// All cores.
    pub fn ids(&self) -> &[CoreId] {
        &self.ids
    }

    /// The number of cores.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// `true` if none were found (pinning then does nothing).
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }
}

/// Spawns a named thread pinned to `core` (unpinned if `None`). `f` is told whether pinning
/// succeeded: on a machine without the core it still runs, unpinned.
pub fn spawn_pinned<T, F>(name: &str, core: Option<CoreId>, f: F) -> io::Result<JoinHandle<T>>
where
    T: Send + 'static,
    F: FnOnce(bool) -> T + Send + 'static,
{
    thread::Builder::new().name(name.to_owned()).spawn(move || {
        let pinned = core.is_some_and(core_affinity::set_for_current);
        f(pinned)
    })
}

/// A shutdown flag for busy-polling loops: the control plane raises it, the loop checks it
/// when idle. Cloning shares the flag.
#[derive(Debug, Clone, Default)]
pub struct StopFlag(Arc<AtomicBool>);

impl StopFlag {
    /// A lowered flag.
    pub fn new() -> Self {
        Self::default()
    }

    /// Raises the flag.
    pub fn raise(&self) {
        // Release: whatever the control plane did before stopping is visible to the loop
        // that sees the flag.
        self.0.store(true, Ordering::Release);
    }

    /// `true` once raised.
    #[inline]
    pub fn is_raised(&self) -> bool {
        // Acquire: pairs with `raise`.
        self.0.load(Ordering::Acquire)
    }
}

/// A consumer running [`Consumer::run`] on its own (pinned) thread.
#[derive(Debug)]
pub struct ConsumerThread<S> {
    stop: StopFlag,
    handle: JoinHandle<(Consumer, S)>,
}

/// Spawns `consumer` on a thread pinned to `core`, calling `sink` on every event until
/// [`ConsumerThread::stop`], busy-polling.
pub fn spawn_consumer<S>(
    name: &str,
    consumer: Consumer,
    core: Option<CoreId>,
    sink: S,
) -> io::Result<ConsumerThread<S>>
where
    S: FnMut(&Event) + Send + 'static,
{
    spawn_consumer_with(name, consumer, core, Idle::Spin, sink)
}

/// [`spawn_consumer`] with an idle policy and any [`OnEvent`] sink (which
/// [`ConsumerThread::stop`] gives back, with everything it gathered).
pub fn spawn_consumer_with<S>(
    name: &str,
    mut consumer: Consumer,
    core: Option<CoreId>,
    idle: Idle,
    mut sink: S,
) -> io::Result<ConsumerThread<S>>
where
    S: OnEvent + Send + 'static,
{
    let stop = StopFlag::new();
    let flag = stop.clone();
    let handle = spawn_pinned(name, core, move |_pinned| {
        consumer.run_with(&flag, idle, &mut sink);
        (consumer, sink)
    })?;
    Ok(ConsumerThread { stop, handle })
}

impl<S> ConsumerThread<S> {
    /// The thread's stop flag (to share with other control-plane code).
    pub fn stop_flag(&self) -> &StopFlag {
        &self.stop
    }

    /// Raises the stop flag, waits for the thread (it drains what is on the ring first) and
    /// returns the consumer, with its histograms and counters, and the sink. Stop the
    /// producer first for `produced = consumed + dropped` to hold exactly. `Err` if the
    /// thread panicked.
    pub fn stop(self) -> thread::Result<(Consumer, S)> {
        self.stop.raise();
        self.handle.join()
    }
}

//! The reference log: one JSON object per line, in the order things happened.
//!
//! Every entry has `ts_ns` (epoch ns, when it happened, [`now_ns`]), `conn` (connection id, from 1; 0 for
//! the listener) and `event`:
//!
//! - `listen` (`url`), `connect` (`path`, `tls`), `tls_error` (`error`), `recv` (`text`: a
//!   client frame), `close` (`why`), `end` (totals);
//! - `send`: a frame sent, with `frame` (index in the capture's received frames), `seq` (the
//!   venue's sequence identity, when the frame has one), `bytes`, and `synthetic: true` for
//!   an acknowledgement the capture did not hold;
//! - `fault`: `fault` (its kind), `frame` and `seq` of the frame it hit, and `detail`;
//! - `rest`: `path`, `status`, `bytes`, and `fault` when one was applied.
//!
//! The log is kept in memory (tests read it from [`crate::Sim::stop`]) and, when asked,
//! written to a file as it goes.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};

use serde_json::{Map, Value};

/// Epoch nanoseconds now, from ladderfeed's clock (`CLOCK_REALTIME` anchored to
/// `CLOCK_MONOTONIC`): the clock the live path stamps receive times with, so that send and
/// receive times of one process compare directly.
pub fn now_ns() -> u64 {
    ladderfeed::clock::now_ns()
}

#[derive(Default)]
struct Inner {
    entries: Vec<Value>,
    file: Option<BufWriter<File>>,
}

/// A shared, append-only reference log.
#[derive(Clone, Default)]
pub struct RefLog {
    inner: Arc<Mutex<Inner>>,
}

impl std::fmt::Debug for RefLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RefLog").finish_non_exhaustive()
    }
}

impl RefLog {
    /// A log kept in memory and, with `path`, also written there line by line.
    pub fn new(path: Option<&Path>) -> std::io::Result<RefLog> {
        let file = match path {
            Some(p) => Some(BufWriter::new(File::create(p)?)),
            None => None,
        };
        Ok(RefLog { inner: Arc::new(Mutex::new(Inner { entries: Vec::new(), file })) })
    }

    /// Appends an entry: `event` for connection `conn` with `fields`.
    pub fn push(&self, conn: u64, event: &str, fields: Value) {
        let mut m = Map::new();
        m.insert("ts_ns".into(), now_ns().into());
        m.insert("conn".into(), conn.into());
        m.insert("event".into(), event.into());
        if let Value::Object(f) = fields {
            m.extend(f);
        }
        let v = Value::Object(m);
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(f) = inner.file.as_mut() {
            // A log that cannot be written is reported at flush; the run goes on.
            let _ = serde_json::to_writer(&mut *f, &v);
            let _ = f.write_all(b"\n");
        }
        inner.entries.push(v);
    }

    /// Flushes the file (if any).
    pub fn flush(&self) -> std::io::Result<()> {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        match inner.file.as_mut() {
            Some(f) => f.flush(),
            None => Ok(()),
        }
    }

    /// Every entry so far.
    pub fn entries(&self) -> Vec<Value> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).entries.clone()
    }
}

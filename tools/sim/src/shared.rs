//! What every connection of a run shares: the configuration, the venue's protocol, the
//! capture, the certificates, the reference log, the fault schedule and, for venues that
//! serve REST snapshots, the venue's books on the newest connection.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::capture::Capture;
use crate::config::Config;
use crate::faults::{Fault, Trigger};
use crate::log::RefLog;
use crate::protocol::SimProtocol;
use crate::reference::VenueBooks;
use crate::tls::Pki;
use crate::venues;

/// What every connection of a run shares.
pub(crate) struct Shared {
    /// The run's configuration.
    pub config: Config,
    /// The venue's protocol.
    pub proto: &'static dyn SimProtocol,
    /// The capture served.
    pub capture: Arc<Capture>,
    /// The certificates, for `wss://`.
    pub pki: Option<Pki>,
    /// The reference log.
    pub log: RefLog,
    stop: AtomicBool,
    deadline: Instant,
    /// One flag per `@N` fault: fired already.
    fired: Mutex<Vec<bool>>,
    /// REST requests so far.
    pub rest_requests: AtomicU64,
    /// Venues that serve REST snapshots: the venue's books on the newest connection (its
    /// id), for fresh snapshots.
    pub venue_books: Mutex<Option<(u64, VenueBooks)>>,
    /// A connection of this run has subscribed (the first one waits at
    /// [`Config::start_together`]'s gate, if any; the later ones do not).
    pub arrived: AtomicBool,
}

impl Shared {
    /// A run of `config` serving `capture`, its time counted from now.
    pub fn new(config: Config, capture: Arc<Capture>, pki: Option<Pki>, log: RefLog) -> Shared {
        let deadline = Instant::now() + Duration::from_secs_f64(config.max_seconds);
        let fired = vec![false; config.faults.len()];
        Shared {
            capture,
            pki,
            log,
            stop: AtomicBool::new(false),
            deadline,
            fired: Mutex::new(fired),
            rest_requests: AtomicU64::new(0),
            venue_books: Mutex::new(None),
            arrived: AtomicBool::new(false),
            proto: venues::protocol(config.venue),
            config,
        }
    }

    /// Ends the run: every session closes, the listener stops.
    pub fn request_stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    /// Whether the run is ending (stopped, or its time is up).
    pub fn stopping(&self) -> bool {
        self.stop.load(Ordering::Relaxed) || Instant::now() >= self.deadline
    }

    /// Takes the `@N` faults due at `at` (frame index, or REST request index for `rest`) on
    /// connection `conn`.
    pub fn due(&self, at: u64, rest: bool, conn: u64) -> Vec<Fault> {
        let mut fired = self.fired.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = Vec::new();
        for (i, f) in self.config.faults.iter().enumerate() {
            let here = rest || f.conn.is_none_or(|c| c == conn);
            if f.kind.is_rest() == rest && f.trigger == Trigger::At(at) && here && !fired[i] {
                fired[i] = true;
                out.push(*f);
            }
        }
        out
    }
}

//! What to serve and how: [`Config`], [`Pace`] and [`StartTogether`].

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use ladderfeed::book::Venue;

use crate::faults::Fault;
use crate::tls::CertFault;

/// How fast frames are sent.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Pace {
    /// As recorded: the gaps between receive timestamps are kept.
    Recorded,
    /// As fast as the client reads.
    Max,
    /// A fixed number of frames per second.
    Rate(f64),
}

impl Pace {
    /// Parses `recorded`, `max` or a number of messages per second.
    pub fn parse(s: &str) -> Result<Pace> {
        Ok(match s {
            "recorded" => Pace::Recorded,
            "max" => Pace::Max,
            n => {
                let r: f64 =
                    n.parse().with_context(|| format!("pace {n:?}: recorded, max or msgs/s"))?;
                if !(r.is_finite() && r > 0.0) {
                    bail!("pace {n:?}: a rate must be a positive number of messages per second");
                }
                Pace::Rate(r)
            }
        })
    }
}

/// What to serve and how.
#[derive(Debug, Clone)]
pub struct Config {
    /// The venue whose protocol is spoken.
    pub venue: Venue,
    /// The capture files (their REST companions are added).
    pub captures: Vec<PathBuf>,
    /// Where to listen: a loopback address (port 0 picks a free port).
    pub listen: SocketAddr,
    /// Serve `wss://` with a generated certificate authority.
    pub tls: bool,
    /// Write the CA certificate (PEM) here.
    pub ca_out: Option<PathBuf>,
    /// Present a certificate a correct client refuses.
    pub cert_fault: Option<CertFault>,
    /// How fast frames go out.
    pub pace: Pace,
    /// Faults to inject.
    pub faults: Vec<Fault>,
    /// The seed of the probabilistic faults.
    pub seed: u64,
    /// Write the reference log here too.
    pub log: Option<PathBuf>,
    /// The run stops after this many seconds.
    pub max_seconds: f64,
    /// Connections accepted in all (more are refused).
    pub max_connections: u64,
    /// Server ping interval in seconds (default: the venue's, Binance 20 s).
    pub ping_secs: Option<f64>,
    /// A client that takes no data for this long is dropped.
    pub write_timeout: Duration,
    /// Where the venues' instrument answers are read from (default: the repository's
    /// `fixtures/refdata`).
    pub reference_dir: Option<PathBuf>,
    /// Where a venue names channels by ids its connection chooses (Bitfinex), every capture
    /// channel id is served as this much more, as another connection of the venue would
    /// name them (two simulators with different bases stand for two connections).
    pub channel_base: u64,
    /// Simulators that stand for the lines of one feed start serving together: this one's
    /// first subscribed connection sends no frame past its greetings until every simulator
    /// sharing the gate has a subscribed connection (bounded). Without it, a fault at frame
    /// `N` on one line can come before the other line is open, on a busy host.
    pub start_together: Option<StartTogether>,
}

/// A gate shared by the simulators of one feed's lines (see [`Config::start_together`]).
#[derive(Debug, Clone)]
pub struct StartTogether {
    arrived: Arc<AtomicUsize>,
    parties: usize,
}

impl StartTogether {
    /// A gate for `parties` simulators.
    pub fn new(parties: usize) -> StartTogether {
        StartTogether { arrived: Arc::new(AtomicUsize::new(0)), parties }
    }

    /// One simulator has a subscribed connection (count it once per simulator).
    pub(crate) fn arrive(&self) {
        self.arrived.fetch_add(1, Ordering::AcqRel);
    }

    /// Whether every simulator has arrived.
    pub(crate) fn open(&self) -> bool {
        self.arrived.load(Ordering::Acquire) >= self.parties
    }
}

impl Config {
    /// [`Config::new`] with the venue by name (`okx`, `binance`, …): for callers that link
    /// another build of `ladderfeed` than this crate's (the main crate's own tests).
    pub fn for_venue(venue: &str, captures: Vec<PathBuf>) -> Result<Config> {
        let v = Venue::from_name(venue).with_context(|| format!("unknown venue {venue:?}"))?;
        Ok(Config::new(v, captures))
    }

    /// Defaults: `ws://127.0.0.1:0`, full speed, no faults, seed 0, 60 s, 64 connections.
    pub fn new(venue: Venue, captures: Vec<PathBuf>) -> Config {
        Config {
            venue,
            captures,
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            tls: false,
            ca_out: None,
            cert_fault: None,
            pace: Pace::Max,
            faults: Vec::new(),
            seed: 0,
            log: None,
            max_seconds: 60.0,
            max_connections: 64,
            ping_secs: None,
            write_timeout: Duration::from_secs(10),
            reference_dir: None,
            channel_base: 0,
            start_together: None,
        }
    }
}

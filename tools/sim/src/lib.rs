//! `ladderfeed-sim`: a local exchange for tests. It serves a capture (any format
//! `ladderfeed::capture` reads) to every client that connects and subscribes, over `ws://` or
//! `wss://` (a per-run certificate authority), in the venue's protocol (../shared/venues.md):
//! its connect path, subscribe handshake and acknowledgements, the captured frames byte for
//! byte (snapshots, updates, heartbeats), server pings, and Binance's REST depth snapshot
//! over HTTP/1.1. Faults ([`faults`]) are seeded and reproducible, and a reference log
//! ([`log`]) records every frame sent with its venue sequence identity and send time, and
//! every fault, so a test can account for every message. The venue's own book after the
//! frames sent ([`reference`](mod@reference)) is what a client in sync must hold; Binance
//! REST snapshots are served fresh from it once the stream has started.
//!
//! It binds loopback only, and every run is bounded in time and in connections: it stops by
//! itself.
//!
//! ```no_run
//! use ladderfeed_sim::{Config, Sim};
//! let mut config = Config::new(ladderfeed::book::Venue::Okx, vec!["okx.lfc".into()]);
//! config.tls = true;
//! let sim = Sim::start(config).unwrap();
//! println!("{} (trust {})", sim.url("/ws/v5/public"), sim.ca_pem().unwrap_or_default());
//! let log = sim.stop();
//! ```

//!
//! The layout: a small server core ([`Sim`] and the listener, `http` for requests and the
//! REST endpoint, `session` for one WebSocket connection, `shared` for what a run's
//! connections share, [`Config`]) that knows no venue, and one module
//! per venue protocol under `venues/`, each implementing the `SimProtocol` trait (`protocol`):
//! paths, subscriptions and acks, pings, sequence identities and numbering, how faults edit
//! a frame, REST snapshots, and resubscription snapshots from the venue's books. A new venue
//! is one file there and one line in `venues::protocol`.

mod capture;
mod config;
pub mod faults;
mod http;
mod instruments;
pub mod log;
/// The benchmarks' plain reference (`serde_json` + `BTreeMap`), the model under
/// [`reference`](mod@reference).
#[path = "../../../benches/reference/mod.rs"]
mod model;
mod protocol;
pub mod reference;
mod scan;
mod server;
mod session;
mod shared;
pub mod tls;
pub mod venue;
mod venues;

pub use capture::Capture;
pub use config::{Config, Pace, StartTogether};
pub use server::Sim;

//! The server core: configuration, the listener, and each accepted connection handed to a
//! WebSocket session ([`crate::session`]) or the REST endpoint ([`crate::http`]). It knows no
//! venue: what differs by venue is asked of the venue's protocol ([`crate::protocol`]).

use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use ladderfeed::book::Venue;
use serde_json::{json, Value};

use crate::capture::Capture;
use crate::faults::{Fault, Trigger};
use crate::http::{self, Conn};
use crate::log::RefLog;
use crate::protocol::SimProtocol;
use crate::reference::VenueBooks;
use crate::session::Session;
use crate::tls::{CertFault, Pki};
use crate::venues;

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
        }
    }
}

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
}

impl Shared {
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

/// A running simulator.
pub struct Sim {
    addr: SocketAddr,
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Sim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sim").field("addr", &self.addr).finish_non_exhaustive()
    }
}

impl Sim {
    /// Loads the capture, binds, and starts serving on a background thread.
    pub fn start(config: Config) -> Result<Sim> {
        if !config.listen.ip().is_loopback() {
            bail!("{}: the simulator listens on loopback addresses only", config.listen);
        }
        if !(config.max_seconds.is_finite() && config.max_seconds > 0.0) {
            bail!("--max-seconds must be a positive number");
        }
        if config.cert_fault.is_some() && !config.tls {
            bail!("a certificate fault needs --tls");
        }
        let capture = Arc::new(Capture::load(&config.captures)?);
        let pki = if config.tls { Some(Pki::generate(config.cert_fault)?) } else { None };
        if let (Some(pki), Some(path)) = (&pki, &config.ca_out) {
            std::fs::write(path, &pki.ca_pem)
                .with_context(|| format!("{}: cannot write the CA", path.display()))?;
        }
        let log = RefLog::new(config.log.as_deref())
            .with_context(|| format!("{:?}: cannot write the log", config.log))?;
        let listener = TcpListener::bind(config.listen)
            .with_context(|| format!("cannot listen on {}", config.listen))?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let deadline = Instant::now() + Duration::from_secs_f64(config.max_seconds);
        let fired = vec![false; config.faults.len()];
        let shared = Arc::new(Shared {
            capture,
            pki,
            log,
            stop: AtomicBool::new(false),
            deadline,
            fired: Mutex::new(fired),
            rest_requests: AtomicU64::new(0),
            venue_books: Mutex::new(None),
            proto: venues::protocol(config.venue),
            config,
        });
        let scheme = if shared.config.tls { "wss" } else { "ws" };
        shared.log.push(0, "listen", json!({ "url": format!("{scheme}://{addr}") }));
        let s = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("sim-accept".into())
            .spawn(move || accept_loop(&s, &listener))?;
        Ok(Sim { addr, shared, thread: Some(thread) })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `ws://127.0.0.1:PORT` or `wss://…` followed by `path`.
    pub fn url(&self, path: &str) -> String {
        let scheme = if self.shared.config.tls { "wss" } else { "ws" };
        format!("{scheme}://{}{path}", self.addr)
    }

    /// The CA certificate clients should trust (PEM), for `wss://`.
    pub fn ca_pem(&self) -> Option<String> {
        self.shared.pki.as_ref().map(|p| p.ca_pem.clone())
    }

    /// The capture being served.
    pub fn capture(&self) -> &Capture {
        &self.shared.capture
    }

    /// The venue's books before any frame (advance them with [`VenueBooks::advance_to`]):
    /// what a client in sync holds after the frames up to a given one.
    pub fn venue_books(&self) -> VenueBooks {
        VenueBooks::new(self.shared.config.venue, Arc::clone(&self.shared.capture))
    }

    /// The reference log so far.
    pub fn log(&self) -> &RefLog {
        &self.shared.log
    }

    /// Waits until the run ends by itself (its time is up) and returns the reference log.
    pub fn wait(mut self) -> Vec<Value> {
        self.join()
    }

    /// Stops now (every session closes) and returns the reference log.
    pub fn stop(mut self) -> Vec<Value> {
        self.shared.stop.store(true, Ordering::Relaxed);
        self.join()
    }

    fn join(&mut self) -> Vec<Value> {
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let _ = self.shared.log.flush();
        self.shared.log.entries()
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn accept_loop(sh: &Arc<Shared>, listener: &TcpListener) {
    let mut sessions: Vec<JoinHandle<()>> = Vec::new();
    let mut accepted = 0u64;
    while !sh.stopping() {
        match listener.accept() {
            Ok((tcp, peer)) => {
                accepted += 1;
                if accepted > sh.config.max_connections {
                    sh.log.push(
                        0,
                        "refused",
                        json!({ "peer": peer.to_string(), "why": "max connections" }),
                    );
                    drop(tcp);
                    continue;
                }
                let s = Arc::clone(sh);
                let conn = accepted;
                let spawned =
                    std::thread::Builder::new().name(format!("sim-conn-{conn}")).spawn(move || {
                        if let Err(e) = session(&s, tcp, conn) {
                            s.log.push(conn, "close", json!({ "why": format!("{e:#}") }));
                        }
                    });
                match spawned {
                    Ok(h) => sessions.push(h),
                    Err(e) => {
                        sh.log.push(conn, "close", json!({ "why": format!("no thread: {e}") }))
                    }
                }
                sessions.retain(|h| !h.is_finished());
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(2));
            }
            Err(e) => {
                sh.log.push(0, "accept_error", json!({ "error": e.to_string() }));
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
    sh.stop.store(true, Ordering::Relaxed);
    for h in sessions {
        let _ = h.join();
    }
    sh.log.push(0, "end", json!({ "connections": accepted }));
}

fn session(sh: &Arc<Shared>, tcp: TcpStream, conn: u64) -> Result<()> {
    tcp.set_nodelay(true)?;
    tcp.set_read_timeout(Some(Duration::from_secs(5)))?;
    tcp.set_write_timeout(Some(sh.config.write_timeout))?;
    let sock = tcp.try_clone()?;
    let mut stream = match &sh.pki {
        Some(pki) => {
            let mut s = rustls::StreamOwned::new(
                rustls::ServerConnection::new(Arc::clone(&pki.server))?,
                tcp,
            );
            while s.conn.is_handshaking() {
                if let Err(e) = s.conn.complete_io(&mut s.sock) {
                    sh.log.push(conn, "tls_error", json!({ "error": e.to_string() }));
                    return Ok(());
                }
            }
            Conn::Tls(Box::new(s))
        }
        None => Conn::Plain(tcp),
    };
    let (req, leftover) = http::read_head(&mut stream)?;
    let upgrade = req.header("upgrade").is_some_and(|u| u.eq_ignore_ascii_case("websocket"));
    if upgrade {
        Session::open(sh, stream, sock, conn, &req, leftover)?.run()
    } else {
        http::rest(sh, stream, conn, &req)
    }
}

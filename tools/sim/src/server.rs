//! The server core: [`Sim`], the listener, and each accepted connection (TLS first, when
//! serving `wss://`) handed to a WebSocket session ([`crate::session`]) or the REST endpoint
//! ([`crate::http`]). It knows no venue: what differs by venue is asked of the venue's
//! protocol ([`crate::protocol`]).

use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

use crate::capture::Capture;
use crate::config::Config;
use crate::http::{self, Conn};
use crate::log::RefLog;
use crate::reference::VenueBooks;
use crate::session::Session;
use crate::shared::Shared;
use crate::tls::Pki;

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
        let shared = Arc::new(Shared::new(config, capture, pki, log));
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
        self.shared.request_stop();
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
        self.shared.request_stop();
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
    sh.request_stop();
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
        http::rest(sh, stream, conn, &req, leftover)
    }
}

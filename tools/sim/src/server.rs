//! The listener, the WebSocket sessions and the REST endpoint.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use ladderfeed::book::Venue;
use ladderfeed::capture::{self, RecordKind};
use serde_json::{json, Value};
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};
use tungstenite::{Bytes, Message, Utf8Bytes, WebSocket};

use crate::faults::{Fault, Kind, Rng, Trigger};
use crate::log::RefLog;
use crate::reference::VenueBooks;
use crate::tls::{CertFault, Pki};
use crate::venue;

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

/// One frame the venue sent in the capture.
#[derive(Debug, Clone)]
struct Frame {
    ts: u64,
    msg: Message,
}

fn bytes_of(msg: &Message) -> &[u8] {
    match msg {
        Message::Text(t) => t.as_bytes(),
        Message::Binary(b) => b,
        _ => &[],
    }
}

fn message(payload: Vec<u8>) -> Message {
    match String::from_utf8(payload) {
        Ok(s) => Message::Text(Utf8Bytes::from(s)),
        Err(e) => Message::Binary(Bytes::from(e.into_bytes())),
    }
}

/// A loaded capture: the frames the venue sent, in order, and the REST bodies.
#[derive(Debug)]
pub struct Capture {
    frames: Vec<Frame>,
    snapshots: Vec<(String, Vec<u8>)>,
    has_acks: bool,
}

impl Capture {
    /// Reads every received frame and HTTP body of `paths` (and their REST companions).
    pub fn load(paths: &[PathBuf]) -> Result<Capture> {
        let mut all = Vec::new();
        for p in paths {
            all.extend(capture::companions(p));
            all.push(p.clone());
        }
        all.sort();
        all.dedup();
        let mut frames = Vec::new();
        let mut snapshots = Vec::new();
        for rec in capture::open_merged(&all)? {
            let rec = rec?;
            match rec.kind {
                RecordKind::Recv => {
                    frames.push(Frame { ts: rec.local_ts, msg: message(rec.payload) })
                }
                RecordKind::Http => snapshots.push((rec.url, rec.payload)),
                _ => {}
            }
        }
        if frames.is_empty() {
            bail!("{}: no received frames to serve", all[0].display());
        }
        let has_acks = frames.iter().take(500).any(|f| venue::is_ack(bytes_of(&f.msg)));
        Ok(Capture { frames, snapshots, has_acks })
    }

    /// The frames, byte for byte, in the order they are served.
    pub fn frames(&self) -> impl Iterator<Item = &[u8]> {
        self.frames.iter().map(|f| bytes_of(&f.msg))
    }

    /// Frame `i`, byte for byte.
    pub fn frame(&self, i: usize) -> Option<&[u8]> {
        self.frames.get(i).map(|f| bytes_of(&f.msg))
    }

    /// How many frames.
    pub fn len(&self) -> usize {
        self.frames.len()
    }

    /// Whether there is no frame (never: [`Capture::load`] refuses that).
    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    /// The REST body recorded for `symbol` (case-insensitive).
    pub(crate) fn snapshot(&self, symbol: &str) -> Option<&[u8]> {
        let want = format!("SYMBOL={}", symbol.to_ascii_uppercase());
        self.snapshots
            .iter()
            .find(|(url, _)| url.to_ascii_uppercase().contains(&want))
            .or_else(|| self.snapshots.iter().find(|(url, _)| url.is_empty()))
            .map(|(_, b)| &b[..])
    }
}

struct Shared {
    config: Config,
    capture: Arc<Capture>,
    pki: Option<Pki>,
    log: RefLog,
    stop: AtomicBool,
    deadline: Instant,
    /// One flag per `@N` fault: fired already.
    fired: Mutex<Vec<bool>>,
    rest_requests: AtomicU64,
    /// Binance: the venue's books on the newest connection (its id), for fresh REST snapshots.
    venue_books: Mutex<Option<(u64, VenueBooks)>>,
}

impl Shared {
    fn stopping(&self) -> bool {
        self.stop.load(Ordering::Relaxed) || Instant::now() >= self.deadline
    }

    /// Takes the `@N` faults due at `at` (frame index, or REST request index for `rest`) on
    /// connection `conn`.
    fn due(&self, at: u64, rest: bool, conn: u64) -> Vec<Fault> {
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

/// A plain or TLS stream.
enum Conn {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ServerConnection, TcpStream>>),
}

impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Conn::Plain(s) => s.read(buf),
            Conn::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Conn {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Conn::Plain(s) => s.write(buf),
            Conn::Tls(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Conn::Plain(s) => s.flush(),
            Conn::Tls(s) => s.flush(),
        }
    }
}

/// An HTTP request head.
struct Request {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// Reads an HTTP request head; returns it and any bytes read past it.
fn read_head(stream: &mut Conn) -> Result<(Request, Vec<u8>)> {
    let mut buf = Vec::with_capacity(2048);
    let mut chunk = [0u8; 2048];
    let end = loop {
        if let Some(at) = venue::find(&buf, b"\r\n\r\n") {
            break at + 4;
        }
        if buf.len() > 16 << 10 {
            bail!("request head larger than 16 KiB");
        }
        let n = stream.read(&mut chunk).context("reading the request")?;
        if n == 0 {
            bail!("connection closed before a request");
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let text = std::str::from_utf8(&buf[..end]).context("request head is not UTF-8")?;
    let mut lines = text.split("\r\n");
    let first = lines.next().unwrap_or_default();
    let mut parts = first.split(' ');
    let method = parts.next().unwrap_or_default().to_owned();
    let path = parts.next().unwrap_or_default().to_owned();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    Ok((Request { method, path, headers }, buf[end..].to_vec()))
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
    let (req, leftover) = read_head(&mut stream)?;
    let upgrade = req.header("upgrade").is_some_and(|u| u.eq_ignore_ascii_case("websocket"));
    if upgrade {
        Session::open(sh, stream, sock, conn, &req, leftover)?.run()
    } else {
        rest(sh, stream, conn, &req)
    }
}

fn http_response(status: &str, extra: &str, body: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n{extra}\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body);
    out
}

/// Binance's REST depth snapshot: `GET /api/v3/depth?symbol=…` (spot) or `/fapi/v1/depth`.
fn rest(sh: &Arc<Shared>, mut stream: Conn, conn: u64, req: &Request) -> Result<()> {
    let n = sh.rest_requests.fetch_add(1, Ordering::Relaxed);
    let faults = sh.due(n, true, conn);
    let (route, query) = req.path.split_once('?').unwrap_or((&req.path, ""));
    let symbol =
        query.split('&').find_map(|kv| kv.strip_prefix("symbol=")).unwrap_or_default().to_owned();
    let spot = route == "/api/v3/depth" && sh.config.venue == Venue::Binance;
    let futures = route == "/fapi/v1/depth" && sh.config.venue == Venue::BinanceFutures;
    let mut fault_name = Value::Null;
    let mut snapshot = Value::Null;
    for f in &faults {
        if f.kind == Kind::RestSlow {
            fault_name = f.kind.name().into();
            let until = Instant::now() + Duration::from_secs_f64(f.arg);
            while Instant::now() < until && !sh.stopping() {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    }
    let status_fault = faults.iter().find(|f| matches!(f.kind, Kind::Rest429 | Kind::Rest418));
    let stale = faults.iter().find(|f| f.kind == Kind::RestStale);
    let (status, response) = if req.method != "GET" {
        ("405 Method Not Allowed", http_response("405 Method Not Allowed", "", b"{}"))
    } else if let Some(f) = status_fault {
        fault_name = f.kind.name().into();
        let (status, body): (&str, &[u8]) = if f.kind == Kind::Rest429 {
            ("429 Too Many Requests", br#"{"code":-1003,"msg":"Too many requests; please use the websocket for live updates."}"#)
        } else {
            ("418 I'm a teapot", br#"{"code":-1003,"msg":"Way too many requests; IP banned."}"#)
        };
        (status, http_response(status, &format!("Retry-After: {}\r\n", f.arg.ceil() as u64), body))
    } else if !(spot || futures) {
        ("404 Not Found", http_response("404 Not Found", "", br#"{"code":-1,"msg":"not found"}"#))
    } else {
        // Binance's default is 100 levels; spot serves up to 5000, futures 1000.
        let limit = query
            .split('&')
            .find_map(|kv| kv.strip_prefix("limit="))
            .and_then(|l| l.parse::<usize>().ok())
            .unwrap_or(100)
            .min(if futures { 1000 } else { 5000 });
        // Fresh from the venue's books once the stream has started; before, the capture's.
        let fresh = sh.venue_books.lock().unwrap_or_else(|e| e.into_inner()).as_ref().and_then(
            |(_, books)| {
                let (id, body) = books.binance_snapshot(&symbol, limit)?;
                Some((body, books.applied().checked_sub(1), id))
            },
        );
        let found = fresh.or_else(|| {
            let body = sh.capture.snapshot(&symbol)?.to_vec();
            let id = last_update_id(&body).map_or(0, |(_, id)| id);
            Some((body, None, id))
        });
        match found {
            None => (
                "400 Bad Request",
                http_response("400 Bad Request", "", br#"{"code":-1121,"msg":"Invalid symbol."}"#),
            ),
            Some((body, frame, id)) => {
                snapshot = json!({ "frame": frame, "last_update_id": id });
                let body = match stale {
                    Some(f) => {
                        fault_name = f.kind.name().into();
                        snapshot["last_update_id"] = id.saturating_sub(f.arg as u64).into();
                        lower_last_update_id(&body, f.arg as u64)
                    }
                    None => body,
                };
                ("200 OK", http_response("200 OK", "", &body))
            }
        }
    };
    sh.log.push(
        conn,
        "rest",
        json!({
            "path": req.path,
            "status": status.split(' ').next(),
            "bytes": response.len(),
            "fault": fault_name,
            // The book served: `frame` is the last capture frame in it (`null`: the
            // capture's own snapshot), `last_update_id` the id the answer carries.
            "snapshot": snapshot,
        }),
    );
    stream.write_all(&response)?;
    stream.flush()?;
    Ok(())
}

/// Where a REST snapshot's `lastUpdateId` digits are, and their value.
fn last_update_id(body: &[u8]) -> Option<(std::ops::Range<usize>, u64)> {
    let key = b"\"lastUpdateId\":";
    let at = venue::find(body, key)? + key.len();
    let end = at + body[at..].iter().position(|c| !c.is_ascii_digit()).unwrap_or(body.len() - at);
    let id = std::str::from_utf8(&body[at..end]).ok()?.parse().ok()?;
    Some((at..end, id))
}

/// The snapshot with `lastUpdateId` lowered by `by` (a snapshot older than the stream).
fn lower_last_update_id(body: &[u8], by: u64) -> Vec<u8> {
    let Some((digits, id)) = last_update_id(body) else { return body.to_vec() };
    let mut out = body[..digits.start].to_vec();
    out.extend_from_slice(id.saturating_sub(by).to_string().as_bytes());
    out.extend_from_slice(&body[digits.end..]);
    out
}

/// A client's (un)subscription of one instrument, while streaming.
struct BookRequest {
    subscribe: bool,
    symbol: String,
    /// The book channel (OKX: its name, Kraken v1: its id); `None`: another channel.
    book: Option<String>,
    /// Kraken v1 and Bitfinex: the instrument's book channel id in the capture, and the
    /// book's depth (Kraken v1) or `len` (Bitfinex).
    capture_channel: Option<(u64, usize)>,
    /// The venue's acknowledgement of this instrument's request (OKX, Kraken v1; Coinbase
    /// Exchange acknowledges a whole message, Gemini nothing).
    ack: Option<String>,
}

/// What a client poll found.
#[derive(PartialEq, Eq)]
enum Poll {
    Open,
    Closed,
}

struct Session<'a> {
    sh: &'a Arc<Shared>,
    ws: WebSocket<Conn>,
    sock: TcpStream,
    conn: u64,
    rng: Rng,
    no_read_until: Option<Instant>,
    ping_every: Option<Duration>,
    next_ping: Instant,
    subscribed: bool,
    /// Venues that answer a resubscription with a snapshot (OKX, Kraken v1, Coinbase
    /// Exchange and Advanced, Gemini, Bitfinex): the venue's books on this connection, for
    /// that snapshot.
    books: Option<VenueBooks>,
    /// Instruments whose book channel the client unsubscribed (their frames are held back
    /// until it subscribes again).
    muted: Vec<String>,
    /// Bitfinex: the capture's channel ids of the muted books.
    muted_chans: Vec<u64>,
    /// Coinbase Advanced and Bitfinex number every frame of a connection: the venue numbers
    /// what it sends, so frames held back here and frames made here move the capture's
    /// numbers by this much.
    seq_shift: i64,
    /// The highest connection sequence number sent (the next made frame takes the next).
    last_seq: Option<u64>,
    /// Bitfinex: books subscribed again on this connection, under a new channel id
    /// (capture's id, this connection's id).
    chan_ids: Vec<(u64, u64)>,
}

impl<'a> Session<'a> {
    fn open(
        sh: &'a Arc<Shared>,
        mut stream: Conn,
        sock: TcpStream,
        conn: u64,
        req: &Request,
        leftover: Vec<u8>,
    ) -> Result<Session<'a>> {
        let Some(key) = req.header("sec-websocket-key") else {
            stream.write_all(&http_response("400 Bad Request", "", b"{}"))?;
            bail!("upgrade without Sec-WebSocket-Key");
        };
        let accept = tungstenite::handshake::derive_accept_key(key.as_bytes());
        let head = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
        );
        stream.write_all(head.as_bytes())?;
        stream.flush()?;
        sock.set_nonblocking(true)?;
        let config = WebSocketConfig::default()
            .max_message_size(Some(1 << 20))
            .max_frame_size(Some(1 << 20));
        let ws = WebSocket::from_partially_read(stream, leftover, Role::Server, Some(config));
        let ping_every = sh
            .config
            .ping_secs
            .or_else(|| venue::server_ping_secs(sh.config.venue))
            .map(Duration::from_secs_f64);
        sh.log.push(conn, "connect", json!({ "path": req.path, "tls": sh.pki.is_some() }));
        let subscribed = !venue::subscribes_by_message(sh.config.venue, &req.path);
        Ok(Session {
            sh,
            ws,
            sock,
            conn,
            rng: Rng::new(sh.config.seed.wrapping_add(conn.wrapping_mul(0x9E37_79B9))),
            no_read_until: None,
            ping_every,
            next_ping: Instant::now() + ping_every.unwrap_or(Duration::from_secs(3600)),
            subscribed,
            books: matches!(
                sh.config.venue,
                Venue::Okx
                    | Venue::KrakenV1
                    | Venue::CoinbaseExchange
                    | Venue::Coinbase
                    | Venue::Gemini
                    | Venue::Bitfinex
            )
            .then(|| VenueBooks::new(sh.config.venue, Arc::clone(&sh.capture))),
            muted: Vec::new(),
            muted_chans: Vec::new(),
            seq_shift: 0,
            last_seq: None,
            chan_ids: Vec::new(),
        })
    }

    fn flush_all(&mut self) -> Result<()> {
        let start = Instant::now();
        loop {
            match self.ws.flush() {
                Ok(()) => return Ok(()),
                Err(tungstenite::Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => {
                    if start.elapsed() > self.sh.config.write_timeout {
                        bail!("the client took nothing for {:?}", self.sh.config.write_timeout);
                    }
                    std::thread::sleep(Duration::from_micros(50));
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    fn send(&mut self, msg: Message) -> Result<()> {
        match self.ws.send(msg) {
            Ok(()) => Ok(()),
            Err(tungstenite::Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => {
                self.flush_all()
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Sends frame `i` (possibly altered) and logs it.
    fn send_frame(&mut self, i: usize, msg: Message) -> Result<()> {
        let msg = self.renumber(msg);
        let bytes = bytes_of(&msg);
        let seq = venue::seq_identity(self.sh.config.venue, bytes);
        self.sh.log.push(
            self.conn,
            "send",
            json!({ "frame": i, "seq": seq, "bytes": bytes.len() }),
        );
        self.send(msg)
    }

    /// A capture frame as this connection numbers it (Coinbase Advanced, Bitfinex): its
    /// sequence number moved by `seq_shift`, a resubscribed Bitfinex channel's new id.
    fn renumber(&mut self, msg: Message) -> Message {
        let venue = self.sh.config.venue;
        if !matches!(venue, Venue::Coinbase | Venue::Bitfinex) {
            return msg;
        }
        let bytes = bytes_of(&msg);
        let mut changed: Option<Vec<u8>> = None;
        if venue == Venue::Bitfinex && !self.chan_ids.is_empty() {
            if let Some((digits, id)) = venue::bitfinex_chan(bytes) {
                if let Some(&(_, now)) = self.chan_ids.iter().find(|(was, _)| *was == id) {
                    changed = Some(venue::with_number(bytes, digits, now));
                }
            }
        }
        let current = changed.as_deref().unwrap_or(bytes);
        if let Some((digits, seq)) = venue::conn_seq(venue, current) {
            let seq = seq.saturating_add_signed(self.seq_shift);
            if self.seq_shift != 0 {
                changed = Some(venue::with_number(current, digits, seq));
            }
            self.last_seq = Some(self.last_seq.map_or(seq, |l| l.max(seq)));
        }
        changed.map_or(msg, message)
    }

    /// The number of a frame made here (Coinbase Advanced, Bitfinex): the next one; the
    /// capture's frames after it move up by one.
    fn next_seq(&mut self) -> u64 {
        let seq = self.last_seq.map_or(0, |l| l + 1);
        self.last_seq = Some(seq);
        self.seq_shift += 1;
        seq
    }

    /// Sends a frame made here (an acknowledgement, a snapshot) and logs it with `detail`.
    fn send_made(&mut self, frame: String, mut detail: Value) -> Result<()> {
        detail["synthetic"] = json!(true);
        detail["bytes"] = json!(frame.len());
        self.sh.log.push(self.conn, "send", detail);
        self.send(Message::Text(frame.into()))
    }

    fn fault(&self, kind: Kind, i: usize, detail: Value) {
        let seq = self
            .sh
            .capture
            .frames
            .get(i)
            .and_then(|f| venue::seq_identity(self.sh.config.venue, bytes_of(&f.msg)));
        self.sh.log.push(
            self.conn,
            "fault",
            json!({ "fault": kind.name(), "frame": i, "seq": seq, "detail": detail }),
        );
    }

    /// What a client's message asks of books while streaming, as the venue words it: per
    /// instrument, subscribe or not, a book channel or not, and the venue's acknowledgement.
    fn book_requests(&self, v: &Value) -> Vec<BookRequest> {
        let mut out = Vec::new();
        match self.sh.config.venue {
            Venue::Okx => {
                let op = v["op"].as_str().unwrap_or_default();
                for arg in v["args"].as_array().into_iter().flatten() {
                    let (Some(channel), Some(inst)) =
                        (arg["channel"].as_str(), arg["instId"].as_str())
                    else {
                        continue;
                    };
                    out.push(BookRequest {
                        subscribe: op == "subscribe",
                        symbol: inst.to_owned(),
                        book: channel.starts_with("books").then(|| channel.to_owned()),
                        capture_channel: None,
                        ack: Some(json!({ "event": op, "arg": arg, "connId": "sim" }).to_string()),
                    });
                }
            }
            Venue::KrakenV1 => {
                let event = v["event"].as_str().unwrap_or_default();
                let sub = &v["subscription"];
                let name = sub["name"].as_str().unwrap_or_default();
                for pair in v["pair"].as_array().into_iter().flatten().filter_map(Value::as_str) {
                    let found = if name == "book" { self.kraken_channel(pair) } else { None };
                    let status = if event == "subscribe" { "subscribed" } else { "unsubscribed" };
                    let channel = match found {
                        Some((_, d)) => format!("book-{d}"),
                        None => name.to_owned(),
                    };
                    out.push(BookRequest {
                        subscribe: event == "subscribe",
                        symbol: pair.to_owned(),
                        book: found.map(|(id, _)| id.to_string()),
                        capture_channel: found,
                        ack: Some(
                            json!({
                                "channelID": found.map(|(id, _)| id),
                                "channelName": channel,
                                "event": "subscriptionStatus",
                                "pair": pair,
                                "status": status,
                                "subscription": sub,
                            })
                            .to_string(),
                        ),
                    });
                }
            }
            Venue::CoinbaseExchange => {
                // `channels` holds names (for every product of the message) or
                // `{"name", "product_ids"}` objects.
                let subscribe = v["type"] == "subscribe";
                let products: Vec<&str> = v["product_ids"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .collect();
                for c in v["channels"].as_array().into_iter().flatten() {
                    let (name, own) = match c.as_str() {
                        Some(name) => (name, None),
                        None => {
                            (c["name"].as_str().unwrap_or_default(), c["product_ids"].as_array())
                        }
                    };
                    let list: Vec<&str> = match own {
                        Some(own) => own.iter().filter_map(Value::as_str).collect(),
                        None => products.clone(),
                    };
                    for product in list {
                        out.push(BookRequest {
                            subscribe,
                            symbol: product.to_owned(),
                            book: name.starts_with("level2").then(|| name.to_owned()),
                            capture_channel: None,
                            ack: None,
                        });
                    }
                }
            }
            Venue::Coinbase => {
                let subscribe = v["type"] == "subscribe";
                let channel = v["channel"].as_str().unwrap_or_default();
                for product in v["product_ids"].as_array().into_iter().flatten() {
                    out.push(BookRequest {
                        subscribe,
                        symbol: product.as_str().unwrap_or_default().to_owned(),
                        book: (channel == "level2" || channel == "l2_data")
                            .then(|| channel.to_owned()),
                        capture_channel: None,
                        ack: None,
                    });
                }
            }
            Venue::Bitfinex => {
                // Subscribed by symbol, unsubscribed by channel id (this connection's): the
                // capture's book subscription either names.
                let (subscribe, found) = match v["event"].as_str() {
                    Some("subscribe") if v["channel"] == "book" => {
                        let symbol = v["symbol"].as_str().unwrap_or_default();
                        (true, self.bitfinex_books().find(|(_, s, _)| s == symbol))
                    }
                    Some("unsubscribe") => {
                        let id = v["chanId"].as_u64().unwrap_or_default();
                        let id =
                            self.chan_ids.iter().find(|(_, now)| *now == id).map_or(id, |c| c.0);
                        (false, self.bitfinex_books().find(|(c, _, _)| *c == id))
                    }
                    _ => (false, None),
                };
                if let Some((id, symbol, len)) = found {
                    out.push(BookRequest {
                        subscribe,
                        symbol,
                        book: Some("book".to_owned()),
                        capture_channel: Some((id, len)),
                        ack: None,
                    });
                }
            }
            Venue::Gemini => {
                // One `l2` subscription carries a symbol's book and its trades.
                let subscribe = v["type"] == "subscribe";
                for sub in v["subscriptions"].as_array().into_iter().flatten() {
                    let name = sub["name"].as_str().unwrap_or_default();
                    for symbol in sub["symbols"].as_array().into_iter().flatten() {
                        out.push(BookRequest {
                            subscribe,
                            symbol: symbol.as_str().unwrap_or_default().to_owned(),
                            book: (name == "l2").then(|| name.to_owned()),
                            capture_channel: None,
                            ack: None,
                        });
                    }
                }
            }
            _ => {}
        }
        out
    }

    /// Coinbase's answer to a (un)subscribe message: the book channels with the products
    /// still subscribed to them on this connection (Exchange: `type: subscriptions`;
    /// Advanced: the `subscriptions` channel, numbered).
    fn coinbase_subscriptions(&mut self, requests: &[BookRequest]) -> String {
        let subscribed: Vec<String> = self
            .books
            .as_ref()
            .map(VenueBooks::symbols)
            .unwrap_or_default()
            .into_iter()
            .filter(|s| !self.muted.contains(s))
            .collect();
        let mut names: Vec<&str> = requests.iter().filter_map(|r| r.book.as_deref()).collect();
        names.dedup();
        if self.sh.config.venue == Venue::Coinbase {
            let map: serde_json::Map<String, Value> =
                names.iter().map(|n| ((*n).to_owned(), json!(subscribed))).collect();
            let at = crate::reference::rfc3339(crate::log::now_ns());
            let seq = self.next_seq();
            return json!({
                "channel": "subscriptions",
                "timestamp": at,
                "sequence_num": seq,
                "events": [{ "subscriptions": map }],
            })
            .to_string();
        }
        let channels: Vec<Value> =
            names.iter().map(|n| json!({ "name": n, "product_ids": subscribed })).collect();
        json!({ "type": "subscriptions", "channels": channels }).to_string()
    }

    /// Bitfinex: the capture's book subscriptions (channel id, symbol, `len`).
    fn bitfinex_books(&self) -> impl Iterator<Item = (u64, String, usize)> + '_ {
        self.sh.capture.frames().filter_map(|f| {
            if venue::find(f, b"\"event\":\"subscribed\"").is_none()
                || venue::find(f, b"\"channel\":\"book\"").is_none()
            {
                return None;
            }
            let v: Value = serde_json::from_slice(f).ok()?;
            let len = v["len"].as_str().and_then(|l| l.parse().ok()).unwrap_or(25);
            Some((v["chanId"].as_u64()?, v["symbol"].as_str()?.to_owned(), len))
        })
    }

    /// Kraken v1: the channel id and depth of `pair`'s book in the capture.
    fn kraken_channel(&self, pair: &str) -> Option<(u64, usize)> {
        let tail = format!("\",\"{pair}\"]");
        self.sh.capture.frames().find_map(|f| {
            if !f.ends_with(tail.as_bytes()) || venue::find(f, b",\"book-").is_none() {
                return None;
            }
            let v: Value = serde_json::from_slice(f).ok()?;
            let arr = v.as_array()?;
            let channel = arr.get(arr.len().checked_sub(2)?)?.as_str()?;
            Some((arr.first()?.as_u64()?, channel.strip_prefix("book-")?.parse().ok()?))
        })
    }

    /// OKX, Kraken v1, Coinbase (Exchange, Advanced), Gemini and Bitfinex, once streaming: an
    /// `unsubscribe` of a book holds that instrument's book frames back (Gemini: its trades
    /// too, which share the subscription); a later `subscribe` of it is acknowledged as the
    /// venue does and answered with a fresh snapshot from the venue's books (Bitfinex: under
    /// a new channel id; numbered on the connection's sequence where the venue numbers
    /// frames), and its frames flow again.
    /// Returns whether `text` was such a request (other subscriptions are the capture's to
    /// answer).
    fn resubscription(&mut self, text: &str) -> Result<bool> {
        let Ok(v) = serde_json::from_str::<Value>(text) else { return Ok(false) };
        let requests = self.book_requests(&v);
        let handled = requests
            .iter()
            .any(|r| r.book.is_some() && (!r.subscribe || self.muted.contains(&r.symbol)));
        if !handled {
            return Ok(false);
        }
        // Muted or not, as the message asks (Coinbase's answer lists what stays subscribed).
        for r in requests.iter().filter(|r| r.book.is_some()) {
            self.muted.retain(|m| *m != r.symbol);
            if !r.subscribe {
                self.muted.push(r.symbol.clone());
            }
        }
        let venue = self.sh.config.venue;
        if matches!(venue, Venue::CoinbaseExchange | Venue::Coinbase) {
            let ack = self.coinbase_subscriptions(&requests);
            self.send_made(ack.clone(), json!({ "text": ack }))?;
        }
        for r in requests {
            if let Some(ack) = r.ack {
                self.send_made(ack.clone(), json!({ "text": ack }))?;
            }
            let Some(channel) = r.book else { continue };
            if !r.subscribe {
                if let (Venue::Bitfinex, Some((id, _))) = (venue, r.capture_channel) {
                    let now = self.chan_ids.iter().find(|c| c.0 == id).map_or(id, |c| c.1);
                    let ack = json!({ "event": "unsubscribed", "status": "OK", "chanId": now })
                        .to_string();
                    self.send_made(ack.clone(), json!({ "text": ack }))?;
                    self.muted_chans.push(id);
                }
                continue;
            }
            let mut bitfinex_id = None;
            if let (Venue::Bitfinex, Some((id, len))) = (venue, r.capture_channel) {
                // A new channel id for the new subscription; the book's frames carry it.
                self.muted_chans.retain(|c| *c != id);
                let now = 900_000_000 + self.conn * 1000 + self.chan_ids.len() as u64;
                self.chan_ids.retain(|c| c.0 != id);
                self.chan_ids.push((id, now));
                let pair = r.symbol.strip_prefix('t').unwrap_or(&r.symbol);
                let ack = json!({
                    "event": "subscribed", "channel": "book", "chanId": now,
                    "symbol": r.symbol, "prec": "P0", "freq": "F0", "len": len.to_string(),
                    "pair": pair,
                })
                .to_string();
                self.send_made(ack.clone(), json!({ "text": ack }))?;
                bitfinex_id = Some((now, len));
            }
            let numbered = matches!(venue, Venue::Coinbase)
                || (venue == Venue::Bitfinex && self.last_seq.is_some());
            let seq = numbered.then(|| self.next_seq());
            let Some(books) = self.books.as_mut() else { continue };
            let snapshot = match (venue, r.capture_channel) {
                (Venue::KrakenV1, Some((id, depth))) => books.kraken_snapshot(id, depth, &r.symbol),
                (Venue::Okx, _) => books.okx_snapshot(&channel, &r.symbol),
                (Venue::CoinbaseExchange, _) => books.coinbase_exchange_snapshot(&r.symbol),
                (Venue::Coinbase, _) => {
                    books.coinbase_advanced_snapshot(&r.symbol, seq.unwrap_or(0))
                }
                (Venue::Gemini, _) => books.gemini_snapshot(&r.symbol),
                (Venue::Bitfinex, _) => bitfinex_id
                    .and_then(|(id, len)| books.bitfinex_snapshot(id, &r.symbol, len, seq)),
                _ => None,
            };
            let Some(snapshot) = snapshot else {
                if seq.is_some() {
                    // Nothing went out under that number.
                    self.seq_shift -= 1;
                    self.last_seq = self.last_seq.map(|l| l - 1);
                }
                continue;
            };
            // `venue_frame`: the last capture frame the snapshot's book includes.
            let detail = json!({
                "snapshot": r.symbol,
                "venue_frame": books.applied().checked_sub(1),
            });
            let text = String::from_utf8(snapshot).context("a made snapshot")?;
            self.send_made(text, detail)?;
        }
        Ok(true)
    }

    /// Reads whatever the client sent, answers it; sends a server ping when one is due.
    fn poll(&mut self) -> Result<Poll> {
        if let Some(every) = self.ping_every {
            if Instant::now() >= self.next_ping {
                self.next_ping = Instant::now() + every;
                self.sh.log.push(self.conn, "ping", json!({}));
                self.send(Message::Ping(Bytes::from_static(b"sim")))?;
            }
        }
        if let Some(until) = self.no_read_until {
            if Instant::now() < until {
                return Ok(Poll::Open);
            }
            self.no_read_until = None;
        }
        loop {
            match self.ws.read() {
                Ok(Message::Text(t)) => {
                    let text = t.as_str().to_owned();
                    self.sh.log.push(self.conn, "recv", json!({ "text": text }));
                    if let Some(pong) = venue::text_pong(self.sh.config.venue, &text) {
                        self.send(Message::Text(pong.into()))?;
                    } else if self.subscribed
                        && self.books.is_some()
                        && self.resubscription(&text)?
                    {
                        // A book resubscribed, answered.
                    } else if venue::is_subscribe(&text) {
                        self.subscribed = true;
                        if !self.sh.capture.has_acks {
                            if let Some(acks) = venue::synth_ack(self.sh.config.venue, &text) {
                                for ack in acks.lines() {
                                    self.sh.log.push(
                                        self.conn,
                                        "send",
                                        json!({ "synthetic": true, "bytes": ack.len(), "text": ack }),
                                    );
                                    self.send(Message::Text(ack.to_owned().into()))?;
                                }
                            }
                        }
                    }
                }
                Ok(Message::Ping(_)) => {
                    // tungstenite queued the pong; send it now.
                    self.sh.log.push(self.conn, "recv", json!({ "ping": true }));
                    self.flush_all()?;
                }
                Ok(Message::Pong(_)) => {
                    self.sh.log.push(self.conn, "recv", json!({ "pong": true }));
                }
                Ok(Message::Close(c)) => {
                    self.sh.log.push(
                        self.conn,
                        "close",
                        json!({ "why": "client closed", "code": c.map(|c| u16::from(c.code)) }),
                    );
                    let _ = self.flush_all();
                    return Ok(Poll::Closed);
                }
                Ok(_) => {}
                Err(tungstenite::Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => {
                    return Ok(Poll::Open)
                }
                Err(tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed) => {
                    self.sh.log.push(self.conn, "close", json!({ "why": "connection closed" }));
                    return Ok(Poll::Closed);
                }
                Err(e) => return Err(e).context("reading the client"),
            }
        }
    }

    /// Waits until `due`, serving the client meanwhile; `Closed` when it went away.
    fn wait_until(&mut self, due: Instant) -> Result<Poll> {
        loop {
            if self.poll()? == Poll::Closed {
                return Ok(Poll::Closed);
            }
            let now = Instant::now();
            if now >= due || self.sh.stopping() {
                return Ok(Poll::Open);
            }
            std::thread::sleep((due - now).min(Duration::from_millis(1)));
        }
    }

    fn going_away(&mut self, code: CloseCode, why: &str) -> Result<()> {
        self.sh.log.push(self.conn, "close", json!({ "why": why, "code": u16::from(code) }));
        let _ = self.ws.close(Some(CloseFrame { code, reason: why.to_owned().into() }));
        let _ = self.flush_all();
        // Let the client answer the close (bounded).
        let until = Instant::now() + Duration::from_millis(500);
        while Instant::now() < until {
            match self.ws.read() {
                Err(tungstenite::Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => {
                    std::thread::sleep(Duration::from_millis(1));
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
        Ok(())
    }

    /// Whether `frame` is a book frame of an instrument the client unsubscribed.
    fn is_muted(&self, frame: &[u8]) -> bool {
        match self.sh.config.venue {
            Venue::Okx => {
                venue::find(frame, b"\"channel\":\"books").is_some()
                    && self.muted.iter().any(|m| {
                        venue::find(frame, format!("\"instId\":\"{m}\"").as_bytes()).is_some()
                    })
            }
            Venue::KrakenV1 => {
                venue::find(frame, b",\"book-").is_some()
                    && self.muted.iter().any(|m| frame.ends_with(format!("\"{m}\"]").as_bytes()))
            }
            Venue::CoinbaseExchange => {
                (venue::find(frame, b"\"type\":\"l2update\"").is_some()
                    || venue::find(frame, b"\"type\":\"snapshot\"").is_some())
                    && self.muted.iter().any(|m| {
                        venue::find(frame, format!("\"product_id\":\"{m}\"").as_bytes()).is_some()
                    })
            }
            Venue::Coinbase => {
                venue::find(frame, b"\"channel\":\"l2_data\"").is_some()
                    && self.muted.iter().any(|m| {
                        venue::find(frame, format!("\"product_id\":\"{m}\"").as_bytes()).is_some()
                    })
            }
            Venue::Bitfinex => {
                venue::bitfinex_chan(frame).is_some_and(|(_, id)| self.muted_chans.contains(&id))
            }
            Venue::Gemini => {
                (venue::find(frame, b"\"type\":\"l2_updates\"").is_some()
                    || venue::find(frame, b"\"type\":\"trade\"").is_some())
                    && self.muted.iter().any(|m| {
                        venue::find(frame, format!("\"symbol\":\"{m}\"").as_bytes()).is_some()
                    })
            }
            _ => false,
        }
    }

    fn run(mut self) -> Result<()> {
        let cap = Arc::clone(&self.sh.capture);
        let frames = &cap.frames;
        // Greetings go out on connect.
        let greet = frames.iter().take_while(|f| venue::is_greeting(bytes_of(&f.msg))).count();
        for (i, f) in frames.iter().enumerate().take(greet) {
            self.send_frame(i, f.msg.clone())?;
        }
        // Then nothing until the client subscribes (bounded).
        let sub_deadline = Instant::now() + Duration::from_secs(10);
        while !self.subscribed {
            if self.sh.stopping() || Instant::now() > sub_deadline {
                return self.going_away(CloseCode::Policy, "no subscription");
            }
            if self.wait_until(Instant::now() + Duration::from_millis(1))? == Poll::Closed {
                return Ok(());
            }
        }
        let venue = self.sh.config.venue;
        let track = matches!(venue, Venue::Binance | Venue::BinanceFutures);
        if track {
            // The newest connection's stream is the venue's state REST snapshots come from.
            let mut books = VenueBooks::new(venue, Arc::clone(&cap));
            if let Some(last) = greet.checked_sub(1) {
                books.advance_to(last);
            }
            *self.sh.venue_books.lock().unwrap_or_else(|e| e.into_inner()) =
                Some((self.conn, books));
        }
        let start = Instant::now();
        let ts0 = frames[greet..].iter().map(|f| f.ts).find(|&t| t != 0).unwrap_or(0);
        let mut pending_corrupt = false;
        let mut pending_crossed = false;
        let mut held: Option<(usize, Message)> = None;
        let mut i = greet;
        while i < frames.len() {
            if self.sh.stopping() {
                return self.going_away(CloseCode::Away, "simulator stopping");
            }
            let due = match self.sh.config.pace {
                Pace::Max => None,
                Pace::Recorded if frames[i].ts >= ts0 && ts0 != 0 => {
                    Some(start + Duration::from_nanos(frames[i].ts - ts0))
                }
                Pace::Recorded => None,
                Pace::Rate(r) => Some(start + Duration::from_secs_f64((i - greet) as f64 / r)),
            };
            match due {
                Some(d) => {
                    if self.wait_until(d)? == Poll::Closed {
                        return Ok(());
                    }
                }
                None => {
                    if i % 64 == 0 && self.poll()? == Poll::Closed {
                        return Ok(());
                    }
                }
            }
            let mut faults = self.sh.due(i as u64, false, self.conn);
            for f in &self.sh.config.faults {
                if let Trigger::Chance(p) = f.trigger {
                    if f.conn.is_none_or(|c| c == self.conn) && self.rng.next_f64() < p {
                        faults.push(*f);
                    }
                }
            }
            let mut msg = frames[i].msg.clone();
            let mut skip = false;
            let mut dup = false;
            for f in &faults {
                match f.kind {
                    Kind::Stall => {
                        self.fault(f.kind, i, json!({ "seconds": f.arg }));
                        let until = Instant::now() + Duration::from_secs_f64(f.arg);
                        while Instant::now() < until && !self.sh.stopping() {
                            std::thread::sleep(Duration::from_millis(2));
                        }
                    }
                    Kind::SlowRead => {
                        self.fault(f.kind, i, json!({ "seconds": f.arg }));
                        self.no_read_until = Some(Instant::now() + Duration::from_secs_f64(f.arg));
                    }
                    Kind::Oversize => {
                        let n = f.arg as usize;
                        self.fault(f.kind, i, json!({ "bytes": n }));
                        let mut big = String::with_capacity(n);
                        big.push_str("{\"oversize\":\"");
                        while big.len() + 2 < n {
                            big.push('x');
                        }
                        big.push_str("\"}");
                        self.send(Message::Text(big.into()))?;
                    }
                    Kind::Close => {
                        self.fault(f.kind, i, json!({}));
                        return self.going_away(CloseCode::Normal, "simulated close");
                    }
                    Kind::Reset => {
                        self.fault(f.kind, i, json!({}));
                        socket2::SockRef::from(&self.sock).set_linger(Some(Duration::ZERO))?;
                        return Ok(());
                    }
                    Kind::Drop => {
                        self.fault(f.kind, i, json!({}));
                        skip = true;
                    }
                    Kind::Dup => {
                        self.fault(f.kind, i, json!({}));
                        dup = true;
                    }
                    Kind::Reorder if i + 1 < frames.len() && held.is_none() => {
                        self.fault(f.kind, i, json!({ "swapped_with": i + 1 }));
                        held = Some((i, msg.clone()));
                        skip = true;
                    }
                    Kind::Malformed => {
                        let b = bytes_of(&msg);
                        let half = b[..b.len() / 2].to_vec();
                        self.fault(f.kind, i, json!({ "bytes": half.len() }));
                        msg = Message::Binary(Bytes::from(half));
                        if let Ok(s) = std::str::from_utf8(bytes_of(&msg)) {
                            msg = Message::Text(s.to_owned().into());
                        }
                    }
                    Kind::Corrupt => pending_corrupt = true,
                    Kind::Crossed => pending_crossed = true,
                    _ => {}
                }
            }
            if pending_corrupt {
                if let Some(c) = venue::corrupt_level(venue, bytes_of(&msg)) {
                    self.fault(Kind::Corrupt, i, json!({}));
                    msg = message(c);
                    pending_corrupt = false;
                }
            }
            if pending_crossed {
                if let Some(c) = venue::cross_book(venue, bytes_of(&msg)) {
                    self.fault(Kind::Crossed, i, json!({}));
                    msg = message(c);
                    pending_crossed = false;
                }
            }
            if track {
                // The venue's book moves on whatever the client gets of it.
                let mut guard = self.sh.venue_books.lock().unwrap_or_else(|e| e.into_inner());
                if let Some((_, books)) = guard.as_mut().filter(|(c, _)| *c == self.conn) {
                    books.advance_to(i);
                }
            }
            if let Some(books) = self.books.as_mut() {
                books.advance_to(i);
            }
            if !skip && !self.muted.is_empty() && self.is_muted(bytes_of(&msg)) {
                // The client unsubscribed this book: the venue sends nothing of it.
                self.sh.log.push(self.conn, "withheld", json!({ "frame": i }));
                if venue::conn_seq(venue, bytes_of(&msg)).is_some() {
                    // Not sent, so not numbered: the frames after it move down by one.
                    self.seq_shift -= 1;
                }
                skip = true;
            }
            if !skip {
                self.send_frame(i, msg.clone())?;
                if dup {
                    self.send_frame(i, msg)?;
                }
                if let Some((j, m)) = held.take_if(|(j, _)| *j != i) {
                    self.send_frame(j, m)?;
                }
            }
            i += 1;
        }
        if let Some((j, m)) = held.take() {
            self.send_frame(j, m)?;
        }
        self.flush_all()?;
        self.sh.log.push(self.conn, "served", json!({ "frames": frames.len() }));
        // The capture is over: stay connected (pings, keep-alives) until the client leaves or
        // the run ends.
        loop {
            if self.sh.stopping() {
                return self.going_away(CloseCode::Away, "simulator stopping");
            }
            if self.wait_until(Instant::now() + Duration::from_millis(5))? == Poll::Closed {
                return Ok(());
            }
        }
    }
}

//! The live event loop: one thread owns every connection (several venues, many symbols) and
//! polls mio, with a zero timeout when busy-polling. Per message: read (rustls), frame
//! (tungstenite, a 4 KiB read buffer), hand it to the connection's
//! [`Session`] (parse, apply, publish into the caller's [`Sink`]).
//! Nothing else runs on that thread.
//!
//! This is a shell: every decision (when to connect, what to send, when a feed is stale, which
//! books to resubscribe, which REST snapshots to fetch and when, when to give a connection up)
//! is the session's, and nothing here knows which venue it talks to. The loop carries the
//! session's wishes out with TCP, TLS, WebSocket and HTTP, and tells it what happened.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use mio::{Events, Interest, Poll, Token};
use rustls::ClientConfig;
use tungstenite::handshake::client::ClientHandshake;
use tungstenite::handshake::{HandshakeError, MidHandshake};
use tungstenite::protocol::WebSocketConfig;
use tungstenite::{Message, WebSocket};

use super::http::HttpCall;
use super::stream::{AddrCache, NetStream};
use super::url::Url;
use super::NetError;
use crate::book::{InstrumentRegistry, Ladder, Venue};
use crate::clock::Clock;
use crate::engine::{Engine, Sink};
use crate::event::InstrumentId;
use crate::record::{Record, RecordKind};
use crate::session::ids::DEFAULT_BLOCK;
use crate::session::{HttpResponse, IdAllocator, Policy, Session, SessionConfig};
use crate::venue::{AnyAdapter, Protocol};

pub use crate::session::CloseClass;
/// What happened on one connection (the session's counters).
pub type LinkStats = crate::session::SessionStats;

/// Called after every message a connection handled: its engine, its first instrument id,
/// the message's receive time ([`Live::poll_once_each`]).
pub type AfterMessage<'a> = &'a mut dyn FnMut(&Engine<AnyAdapter>, InstrumentId, u64);

/// One connection to make: a venue, its WebSocket URL and the symbols to subscribe.
#[derive(Debug, Clone)]
pub struct Feed {
    /// The venue.
    pub venue: Venue,
    /// The WebSocket URL (see [`Feed::endpoint_url`]).
    pub url: String,
    /// The symbols, as the venue writes them.
    pub symbols: Vec<String>,
    /// Venues with REST snapshots: the REST base (default: the venue's,
    /// [`crate::venue::RestSnapshot::default_base`]).
    pub rest_base: Option<String>,
    /// Redundant lines: more WebSocket URLs carrying the same subscriptions into the same
    /// books (each message applied once, from the line that delivers it first; see
    /// [`crate::session::arbiter`]). Empty: one connection.
    pub backup_urls: Vec<String>,
}

impl Feed {
    /// The venue's own WebSocket endpoint ([`Protocol::endpoint`]).
    pub fn default_endpoint(venue: Venue) -> &'static str {
        Protocol::of(venue).endpoint
    }

    /// The WebSocket URL for `endpoint` (a venue's or a simulator's) carrying `symbols`
    /// ([`Protocol::url`]): an endpoint without a path gets the venue's.
    pub fn endpoint_url(venue: Venue, endpoint: &str, symbols: &[String]) -> String {
        Protocol::of(venue).url(endpoint, symbols)
    }
}

/// How the loop runs.
#[derive(Debug, Clone)]
pub struct Options {
    /// Poll with a zero timeout (a core spinning); `false` waits up to 1 ms.
    pub busy_poll: bool,
    /// TLS client configuration ([`super::tls::client_config`]).
    pub tls: Arc<ClientConfig>,
    /// Every connection's policy: timeouts, backoff, stale feed, resubscription and budget.
    pub policy: Policy,
    /// The clock that stamps receive times and measures every deadline.
    pub clock: Clock,
    /// The largest array window a book grows to, in ticks per side ([`Engine::with_window_ticks`]).
    pub window_ticks: usize,
    /// Ticks and lots of the instruments (configuration, reference data, built-ins).
    pub registry: InstrumentRegistry,
    /// Levels per side of the top N each book publishes ([`Engine::with_depth`]; 0: none).
    pub depth_levels: usize,
    /// Subscribe the venues' derivatives channels too (see [`SessionConfig::derivatives`]).
    pub derivatives: bool,
    /// Which parser reads the frames (see [`SessionConfig::parser`]).
    pub parser: crate::venue::Parser,
}

impl Options {
    /// Defaults: busy-poll, the [`Policy`] defaults, built-in instruments.
    pub fn new(tls: Arc<ClientConfig>) -> Options {
        Options {
            busy_poll: true,
            tls,
            policy: Policy::default(),
            clock: Clock::global(),
            window_ticks: Ladder::DEFAULT_WINDOW_TICKS,
            registry: InstrumentRegistry::with_builtins(),
            depth_levels: 0,
            derivatives: false,
            parser: crate::venue::Parser::Scan,
        }
    }
}

enum Phase {
    Idle,
    Tcp(NetStream),
    Tls(NetStream),
    Ws(MidHandshake<ClientHandshake<NetStream>>),
    Open(Box<WebSocket<NetStream>>),
}

impl Phase {
    fn name(&self) -> &'static str {
        match self {
            Phase::Idle => "idle",
            Phase::Tcp(_) => "in the TCP connect",
            Phase::Tls(_) => "in the TLS handshake",
            Phase::Ws(_) => "in the WebSocket handshake",
            Phase::Open(_) => "open",
        }
    }
}

/// Where a link's records go, and where emptied ones come back from for reuse.
#[derive(Clone)]
struct Recorder {
    tx: crossbeam_channel::Sender<Record>,
    spare: Option<crossbeam_channel::Receiver<Record>>,
}

impl Recorder {
    /// Sends a copy of one event, in a record the writer gave back when there is one; never
    /// waits. `false` when the queue is full or the writer has gone away: the recording loses
    /// the record, not the feed.
    fn record(
        &self,
        conn: u32,
        local_ts: u64,
        kind: RecordKind,
        url: &str,
        payload: &[u8],
    ) -> bool {
        let mut rec =
            self.spare.as_ref().and_then(|s| s.try_recv().ok()).unwrap_or_else(Record::empty);
        rec.assign(local_ts, conn, kind, url, payload);
        self.tx.try_send(rec).is_ok()
    }
}

/// One line's socket: a WebSocket connection in some phase.
struct Wire {
    /// The WebSocket URL of this line.
    url_text: String,
    url: Url,
    phase: Phase,
    token: Token,
    readable: bool,
    want_flush: bool,
    /// The WebSocket host's addresses (resolved once, see [`AddrCache`]).
    addrs: AddrCache,
    /// Connection id in recordings (from 1, in the order of the feeds and their lines; the
    /// same across reconnects).
    conn_id: u32,
}

impl Wire {
    fn is_open(&self) -> bool {
        matches!(self.phase, Phase::Open(_))
    }
}

/// One connection (or one set of redundant connections, [`Feed::backup_urls`]): its sockets
/// and its session.
pub struct Link {
    feed: Feed,
    session: Session,
    wires: Vec<Wire>,
    /// The REST host's addresses.
    rest_addrs: AddrCache,
    rest: Option<HttpCall>,
    rest_token: Token,
    recorder: Option<Recorder>,
}

impl std::fmt::Debug for Link {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Link")
            .field("url", &self.feed.url)
            .field("stats", self.session.stats())
            .finish()
    }
}

/// Sends one text frame; a full socket leaves it queued in tungstenite for a later flush.
fn send(
    ws: &mut WebSocket<NetStream>,
    text: String,
    want_flush: &mut bool,
) -> Result<(), NetError> {
    match ws.send(Message::Text(text.into())) {
        Ok(()) => Ok(()),
        Err(tungstenite::Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => {
            *want_flush = true;
            Ok(())
        }
        Err(e) => Err(NetError::Protocol(format!("writing: {e}"))),
    }
}

impl Link {
    /// The venue.
    pub fn venue(&self) -> Venue {
        self.feed.venue
    }

    /// The engine (books, counters).
    pub fn engine(&self) -> &Engine<AnyAdapter> {
        self.session.engine()
    }

    /// The session (policy state and counters).
    pub fn session(&self) -> &Session {
        &self.session
    }

    /// The connection's id in a recording (from 1, in the order of the feeds; a feed with
    /// redundant lines: its first line's).
    pub fn conn_id(&self) -> u32 {
        self.wires.first().map_or(0, |w| w.conn_id)
    }

    /// The recording ids of every line, in line order.
    pub fn conn_ids(&self) -> Vec<u32> {
        self.wires.iter().map(|w| w.conn_id).collect()
    }

    /// The WebSocket URL of every line, in line order.
    pub fn urls(&self) -> Vec<&str> {
        self.wires.iter().map(|w| w.url_text.as_str()).collect()
    }

    /// The first instrument id of this connection.
    pub fn base(&self) -> InstrumentId {
        self.session.base()
    }

    /// What happened so far (on every line).
    pub fn stats(&self) -> &LinkStats {
        self.session.stats()
    }

    /// Whether a WebSocket (any line) is open.
    pub fn is_open(&self) -> bool {
        self.wires.iter().any(Wire::is_open)
    }

    /// Whether every line's WebSocket is open.
    pub fn all_open(&self) -> bool {
        self.wires.iter().all(Wire::is_open)
    }

    /// Hands a copy of what happened to the recorder (a channel to a writer thread).
    fn record(&mut self, conn: u32, local_ts: u64, kind: RecordKind, url: &str, payload: &[u8]) {
        if let Some(r) = &self.recorder {
            if !r.record(conn, local_ts, kind, url, payload) {
                self.session.note_record_dropped();
            }
        }
    }

    /// Drops line `j`'s connection; the session schedules the next attempt.
    fn fail(&mut self, j: usize, why: String, opts: &Options, sink: &mut impl Sink) {
        let w = &mut self.wires[j];
        let was_open = w.is_open();
        w.phase = Phase::Idle;
        w.readable = false;
        w.want_flush = false;
        let conn = w.conn_id;
        let now = opts.clock.now_ns();
        if was_open {
            tracing::warn!(url = %w.url_text, why = %why, "connection lost");
            self.record(conn, now, RecordKind::Disconnect, "", b"");
        } else {
            tracing::warn!(url = %w.url_text, why = %why, "connecting failed");
            w.addrs.failed();
        }
        if !self.is_open() {
            // The REST request belongs to the books' connection: with none left it goes too.
            self.rest = None;
        }
        self.session.handle_disconnected_on(j, &why, now, sink);
    }

    fn start_connect(
        &mut self,
        j: usize,
        opts: &Options,
        registry: &mio::Registry,
    ) -> Result<(), NetError> {
        let w = &mut self.wires[j];
        let addr = w.addrs.get(&w.url)?;
        let mut stream = NetStream::connect(&w.url, addr, &opts.tls)?;
        registry.register(stream.tcp_mut(), w.token, Interest::READABLE | Interest::WRITABLE)?;
        w.phase = Phase::Tcp(stream);
        Ok(())
    }

    fn ws_config(&self) -> WebSocketConfig {
        let max = self.session.protocol().max_message;
        WebSocketConfig::default()
            .read_buffer_size(4 << 10)
            .max_message_size(Some(max))
            .max_frame_size(Some(max))
    }

    /// Moves every line forward; returns when the sockets have nothing more.
    fn service(
        &mut self,
        now: u64,
        opts: &Options,
        registry: &mio::Registry,
        sink: &mut impl Sink,
        each: AfterMessage<'_>,
    ) {
        self.session.handle_timeout(now);
        self.session.expire_quiet_books(now, sink);
        for j in 0..self.wires.len() {
            if let Err(e) = self.step(j, now, opts, registry, sink, each) {
                self.fail(j, e.to_string(), opts, sink);
            }
        }
        if self.is_open() {
            self.service_rest(now, opts, registry, sink, each);
        }
    }

    fn step(
        &mut self,
        j: usize,
        now: u64,
        opts: &Options,
        registry: &mio::Registry,
        sink: &mut impl Sink,
        each: AfterMessage<'_>,
    ) -> Result<(), NetError> {
        if matches!(self.wires[j].phase, Phase::Idle) && !self.session.poll_connect_on(j, now) {
            return Ok(());
        }
        if let Some(why) = self.session.poll_close_on(j) {
            let w = &self.wires[j];
            if w.is_open() {
                return Err(NetError::Protocol(why));
            }
            return Err(NetError::Protocol(format!("{why} ({})", w.phase.name())));
        }
        loop {
            let phase = std::mem::replace(&mut self.wires[j].phase, Phase::Idle);
            let next = match phase {
                Phase::Idle => {
                    return match self.start_connect(j, opts, registry) {
                        // The host's lookup runs on its own thread: the attempt is due
                        // again on the next turn.
                        Err(NetError::Resolving) => {
                            self.session.retry_connect_on(j);
                            Ok(())
                        }
                        r => r,
                    };
                }
                Phase::Tcp(stream) => {
                    if !stream.connected()? {
                        self.wires[j].phase = Phase::Tcp(stream);
                        return Ok(());
                    }
                    Phase::Tls(stream)
                }
                Phase::Tls(mut stream) => {
                    if !stream.handshake()? {
                        self.wires[j].phase = Phase::Tls(stream);
                        return Ok(());
                    }
                    let url = &self.wires[j].url;
                    let request = format!(
                        "{}://{}{}",
                        if url.tls { "wss" } else { "ws" },
                        url.authority(),
                        url.path
                    );
                    match tungstenite::client::client_with_config(
                        request,
                        stream,
                        Some(self.ws_config()),
                    ) {
                        Ok((ws, _)) => return self.opened(j, ws, opts),
                        Err(HandshakeError::Interrupted(mid)) => Phase::Ws(mid),
                        Err(HandshakeError::Failure(e)) => {
                            return Err(NetError::Protocol(format!("WebSocket handshake: {e}")))
                        }
                    }
                }
                Phase::Ws(mid) => match mid.handshake() {
                    Ok((ws, _)) => return self.opened(j, ws, opts),
                    Err(HandshakeError::Interrupted(mid)) => {
                        self.wires[j].phase = Phase::Ws(mid);
                        return Ok(());
                    }
                    Err(HandshakeError::Failure(e)) => {
                        return Err(NetError::Protocol(format!("WebSocket handshake: {e}")))
                    }
                },
                Phase::Open(ws) => {
                    self.wires[j].phase = Phase::Open(ws);
                    return self.read_open(j, opts, sink, each);
                }
            };
            self.wires[j].phase = next;
        }
    }

    fn opened(
        &mut self,
        j: usize,
        ws: WebSocket<NetStream>,
        opts: &Options,
    ) -> Result<(), NetError> {
        self.wires[j].phase = Phase::Open(Box::new(ws));
        let now = opts.clock.now_ns();
        let lines = self.wires.len();
        let tag = crate::session::arbiter::line_tag(lines, j, self.conn_id());
        let (conn, url) = (self.wires[j].conn_id, self.wires[j].url_text.clone());
        // Once per connection: the url is copied so the record can be counted on `self`.
        self.record(conn, now, RecordKind::Connect, &url, tag.as_bytes());
        tracing::info!(url = %url, symbols = self.feed.symbols.len(), line = j, "connected");
        self.session.handle_connected_on(j, now);
        self.wires[j].readable = true;
        self.transmit(j, opts)
    }

    /// Sends what the session has queued for line `j` (subscriptions, resubscriptions,
    /// pings), recording each frame.
    fn transmit(&mut self, j: usize, opts: &Options) -> Result<(), NetError> {
        while let Some(msg) = self.session.poll_transmit_on(j) {
            let w = &mut self.wires[j];
            if let Some(r) = &self.recorder {
                let local = opts.clock.now_ns();
                if !r.record(w.conn_id, local, RecordKind::Sent, &w.url_text, msg.as_bytes()) {
                    self.session.note_record_dropped();
                }
            }
            let Phase::Open(ws) = &mut w.phase else { return Ok(()) };
            send(ws, msg, &mut w.want_flush)?;
        }
        Ok(())
    }

    fn read_open(
        &mut self,
        j: usize,
        opts: &Options,
        sink: &mut impl Sink,
        each: AfterMessage<'_>,
    ) -> Result<(), NetError> {
        self.transmit(j, opts)?;
        let w = &mut self.wires[j];
        let Phase::Open(ws) = &mut w.phase else { return Ok(()) };
        if w.want_flush {
            match ws.flush() {
                Ok(()) => w.want_flush = false,
                Err(tungstenite::Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(NetError::Protocol(format!("writing: {e}"))),
            }
        }
        if !w.readable {
            return Ok(());
        }
        let reply = self.session.protocol().keepalive.map(|k| k.reply.as_bytes());
        loop {
            let w = &mut self.wires[j];
            let Phase::Open(ws) = &mut w.phase else { return Ok(()) };
            let msg = match ws.read() {
                Ok(m) => m,
                Err(tungstenite::Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => {
                    w.readable = false;
                    return Ok(());
                }
                Err(tungstenite::Error::ConnectionClosed) => {
                    return Err(NetError::Protocol("connection closed".into()))
                }
                Err(e) => return Err(NetError::Protocol(format!("reading: {e}"))),
            };
            let local = opts.clock.now_ns();
            match &msg {
                Message::Text(_) | Message::Binary(_) => {
                    let b: &[u8] = match &msg {
                        Message::Text(t) => t.as_bytes(),
                        Message::Binary(b) => b,
                        _ => &[],
                    };
                    if reply == Some(b) {
                        // The answer to our keep-alive: not market data, not recorded.
                        self.session.handle_activity_on(j, local);
                        continue;
                    }
                    if let Some(r) = &self.recorder {
                        if !r.record(w.conn_id, local, RecordKind::Recv, "", b) {
                            self.session.note_record_dropped();
                        }
                    }
                    // Errors are counted by the session and the engine.
                    let _ = self.session.handle_frame_on(j, b, local, sink);
                    each(self.session.engine(), self.session.base(), local);
                    self.transmit(j, opts)?;
                    // A resubscription may have gone to another line.
                    for k in (0..self.wires.len()).filter(|&k| k != j) {
                        if self.wires[k].is_open() {
                            self.transmit(k, opts)?;
                        }
                    }
                    if let Some(why) = self.session.poll_close_on(j) {
                        return Err(NetError::Protocol(why));
                    }
                }
                Message::Ping(_) => {
                    // tungstenite queued the pong: send it now, ahead of anything else.
                    self.session.handle_activity_on(j, local);
                    w.want_flush = true;
                    match ws.flush() {
                        Ok(()) => w.want_flush = false,
                        Err(tungstenite::Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => {
                        }
                        Err(e) => return Err(NetError::Protocol(format!("answering a ping: {e}"))),
                    }
                }
                Message::Pong(_) | Message::Frame(_) => self.session.handle_activity_on(j, local),
                Message::Close(frame) => {
                    let code = frame.as_ref().map(|f| u16::from(f.code));
                    self.session.handle_close_frame(code);
                    let code = code.unwrap_or(1005);
                    let reason = frame.as_ref().map(|f| f.reason.to_string()).unwrap_or_default();
                    return Err(NetError::Protocol(format!(
                        "closed by the server: {code} ({}) {reason}",
                        CloseClass::of(code).name()
                    )));
                }
            }
        }
    }

    /// Carries out the session's REST requests (one at a time per session).
    fn service_rest(
        &mut self,
        now: u64,
        opts: &Options,
        registry: &mio::Registry,
        sink: &mut impl Sink,
        each: AfterMessage<'_>,
    ) {
        if let Some(get) = self.rest.as_mut() {
            let Some(done) = get.drive() else { return };
            let url = std::mem::take(&mut get.url);
            self.rest = None;
            let local = opts.clock.now_ns();
            match done {
                Ok(r) => {
                    if r.status != 200 {
                        tracing::warn!(url = %url, status = r.status, "REST answer refused");
                    }
                    if r.status == 200 {
                        let conn = self.conn_id();
                        self.record(conn, local, RecordKind::Http, &url, &r.body);
                    }
                    let response = HttpResponse {
                        status: r.status,
                        retry_after: r.retry_after,
                        body: &r.body,
                    };
                    let _ = self.session.handle_http(&url, response, local, sink);
                    if r.status == 200 {
                        each(self.session.engine(), self.session.base(), local);
                    }
                }
                Err(e) => {
                    tracing::warn!(url = %url, why = %e, "REST request failed");
                    self.rest_addrs.failed();
                    self.session.handle_http_failed(&url, &e.to_string(), local);
                }
            }
        }
        if self.rest.is_some() {
            return;
        }
        let Some(url) = self.session.poll_request(now) else { return };
        let timeout = self.session.policy().rest_timeout;
        match HttpCall::get(&url, &mut self.rest_addrs, &opts.tls, timeout) {
            Ok(mut get) => {
                match registry.register(
                    get.stream_mut().tcp_mut(),
                    self.rest_token,
                    Interest::READABLE | Interest::WRITABLE,
                ) {
                    Ok(()) => self.rest = Some(get),
                    Err(e) => self.session.handle_http_failed(&url, &e.to_string(), now),
                }
            }
            // The REST host's lookup runs on its own thread: ask again later.
            Err(NetError::Resolving) => self.session.retry_request(),
            Err(e) => {
                self.rest_addrs.failed();
                self.session.handle_http_failed(&url, &e.to_string(), now);
            }
        }
    }
}

/// mio tokens per link: one per line ([`LINE_TOKENS`] at most), the last for REST.
const TOKENS_PER_LINK: usize = 8;

/// Most lines (redundant connections) per feed.
pub const LINE_TOKENS: usize = crate::session::arbiter::MAX_LINES;

/// Every connection of a live run, and the poller.
pub struct Live {
    links: Vec<Link>,
    /// The ids the connections' blocks span (every id below is some connection's).
    id_limit: usize,
    poll: Poll,
    events: Events,
    opts: Options,
}

impl std::fmt::Debug for Live {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Live").field("links", &self.links).finish()
    }
}

impl Live {
    /// Prepares one connection per feed (nothing is connected until [`Live::poll_once`]).
    /// Each takes a block of instrument ids from one allocator; more feeds than ids is an
    /// error.
    pub fn new(feeds: Vec<Feed>, opts: Options) -> Result<Live, NetError> {
        let mut links = Vec::with_capacity(feeds.len());
        let seed = Clock::global().now_ns() | 1;
        let mut ids = IdAllocator::new();
        let mut conn_id = 0u32;
        for (i, feed) in feeds.into_iter().enumerate() {
            let urls: Vec<String> =
                std::iter::once(feed.url.clone()).chain(feed.backup_urls.iter().cloned()).collect();
            if urls.len() > LINE_TOKENS {
                return Err(NetError::Protocol(format!(
                    "{}: {} redundant connections: at most {LINE_TOKENS}",
                    feed.venue.name(),
                    urls.len()
                )));
            }
            let mut wires = Vec::with_capacity(urls.len());
            for (j, u) in urls.into_iter().enumerate() {
                conn_id = conn_id.saturating_add(1);
                wires.push(Wire {
                    url: Url::parse(&u)?,
                    url_text: u,
                    phase: Phase::Idle,
                    token: Token(i * TOKENS_PER_LINK + j),
                    readable: false,
                    want_flush: false,
                    addrs: AddrCache::default(),
                    conn_id,
                });
            }
            let mut cfg =
                SessionConfig::new(feed.venue, feed.symbols.clone(), opts.registry.clone());
            cfg.rest_base = feed.rest_base.clone();
            cfg.window_ticks = opts.window_ticks;
            cfg.depth_levels = opts.depth_levels;
            cfg.derivatives = opts.derivatives;
            cfg.parser = opts.parser;
            cfg.policy = opts.policy.clone();
            cfg.seed = seed.wrapping_mul(i as u64 + 1);
            cfg.lines = wires.len();
            let block = ids
                .reserve(DEFAULT_BLOCK.max(feed.symbols.len()))
                .map_err(crate::session::SessionError::from)?;
            let session = Session::new(cfg, block)?;
            links.push(Link {
                feed,
                session,
                wires,
                rest_addrs: AddrCache::default(),
                rest: None,
                rest_token: Token(i * TOKENS_PER_LINK + TOKENS_PER_LINK - 1),
                recorder: None,
            });
        }
        let id_limit = ids.used() as usize;
        Ok(Live { links, id_limit, poll: Poll::new()?, events: Events::with_capacity(256), opts })
    }

    /// One more than the highest instrument id any connection can publish (to size tables
    /// indexed by id).
    pub fn id_limit(&self) -> usize {
        self.id_limit
    }

    /// Records everything every connection receives, sends, opens and loses, and every REST
    /// snapshot applied, as [`Record`]s on `tx` (for a writer thread: `ladderfeed record`).
    /// Each record is a copy made on this thread, into a record taken from `spare` when the
    /// writer has given one back (its buffers already grown): with a writer that returns
    /// what it wrote, recording allocates nothing per message once warm (the unbounded
    /// channel itself allocates a block per 31 messages).
    pub fn set_recorder(
        &mut self,
        tx: crossbeam_channel::Sender<Record>,
        spare: Option<crossbeam_channel::Receiver<Record>>,
    ) {
        let r = Recorder { tx, spare };
        for link in &mut self.links {
            link.recorder = Some(r.clone());
        }
    }

    /// The connections.
    pub fn links(&self) -> &[Link] {
        &self.links
    }

    /// Takes `table` (the venue's instrument reference data, fetched off this thread) into
    /// the instrument table of every connection of its venue: instruments not met yet
    /// resolve with it (a book already built keeps its steps). Returns the connections
    /// updated.
    pub fn reference(&mut self, table: &crate::refdata::RefTable) -> usize {
        let mut n = 0;
        for l in self.links.iter_mut().filter(|l| l.feed.venue == table.venue) {
            table.apply(l.session.registry_mut());
            n += 1;
        }
        n
    }

    /// One turn of the loop: poll (zero timeout when busy-polling), then move every
    /// connection forward and publish what arrived into `sink`.
    pub fn poll_once(&mut self, sink: &mut impl Sink) -> Result<(), NetError> {
        self.poll_once_each(sink, &mut |_, _, _| {})
    }

    /// [`Live::poll_once`], calling `each` after every message a connection handled (a
    /// WebSocket frame or a REST snapshot) with its engine, its first instrument id and the
    /// message's receive time: for work that must see every book state, such as the depth
    /// sink. It runs on this thread: keep it short.
    pub fn poll_once_each(
        &mut self,
        sink: &mut impl Sink,
        each: AfterMessage<'_>,
    ) -> Result<(), NetError> {
        let timeout = if self.opts.busy_poll { Duration::ZERO } else { Duration::from_millis(1) };
        match self.poll.poll(&mut self.events, Some(timeout)) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.into()),
        }
        for ev in self.events.iter() {
            let (i, j) = (ev.token().0 / TOKENS_PER_LINK, ev.token().0 % TOKENS_PER_LINK);
            let Some(w) = self.links.get_mut(i).and_then(|l| l.wires.get_mut(j)) else {
                continue;
            };
            if ev.is_readable() || ev.is_read_closed() || ev.is_error() {
                w.readable = true;
            }
            if ev.is_writable() && w.is_open() {
                w.want_flush = true;
            }
        }
        // One reading of the clock per turn for every connection's deadlines (frames are
        // stamped as they are read).
        let now = self.opts.clock.now_ns();
        let registry = self.poll.registry();
        for link in &mut self.links {
            link.service(now, &self.opts, registry, sink, each);
        }
        Ok(())
    }

    /// Closes every connection politely (a close frame, best effort).
    pub fn close_all(&mut self) {
        for w in self.links.iter_mut().flat_map(|l| l.wires.iter_mut()) {
            if let Phase::Open(ws) = &mut w.phase {
                let _ = ws.close(None);
                let _ = ws.flush();
            }
            w.phase = Phase::Idle;
        }
    }
}

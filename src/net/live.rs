//! The live event loop: one thread owns every connection (several venues, many symbols) and
//! polls mio, with a zero timeout when busy-polling. Per message: read (rustls), frame
//! (tungstenite, a 4 KiB read buffer), parse and apply (the venue adapter and engine), publish
//! (the caller's [`Sink`], the ring). Nothing else runs on that thread.
//!
//! Faults: a failed connect, handshake or read, a close from the server, or a feed silent for
//! longer than [`Options::stale_after`] drops the connection: the engine marks every book
//! `Stale` (published), the adapter forgets its per-connection state, and the connection is
//! made again after a capped exponential backoff with jitter; the books come back through the
//! venue's snapshots. Binance books are bridged from REST snapshots fetched here (one at a
//! time per connection, diff events buffered by the adapter meanwhile, a snapshot older than
//! the buffered events refetched, `429`/`418` `Retry-After` honoured). Every event is counted
//! in [`LinkStats`].

use std::collections::VecDeque;
use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::{Events, Interest, Poll, Token};
use rustls::ClientConfig;
use tungstenite::handshake::client::ClientHandshake;
use tungstenite::handshake::{HandshakeError, MidHandshake};
use tungstenite::protocol::WebSocketConfig;
use tungstenite::{Message, WebSocket};

use super::http::Get;
use super::stream::{AddrCache, NetStream};
use super::url::Url;
use super::NetError;
use crate::book::{InstrumentRegistry, Ladder, Venue};
use crate::capture::{Record, RecordKind};
use crate::clock::Clock;
use crate::engine::{Engine, Sink};
use crate::event::InstrumentId;
use crate::event::{BookState, Event, EventKind};
use crate::venue::{Adapter, AnyAdapter};

/// Called after every message a connection handled: its engine, its first instrument id,
/// the message's receive time ([`Live::poll_once_each`]).
pub type AfterMessage<'a> = &'a mut dyn FnMut(&Engine<AnyAdapter>, InstrumentId, u64);

/// Instrument ids reserved per connection (connection `i` publishes ids from `i * 1024`).
pub const IDS_PER_LINK: usize = 1024;

/// One connection to make: a venue, its WebSocket URL and the symbols to subscribe.
#[derive(Debug, Clone)]
pub struct Feed {
    /// The venue.
    pub venue: Venue,
    /// The WebSocket URL (see [`Feed::endpoint_url`]).
    pub url: String,
    /// The symbols, as the venue writes them.
    pub symbols: Vec<String>,
    /// Binance: the REST base for depth snapshots (`https://api.binance.com` by default).
    pub rest_base: Option<String>,
}

impl Feed {
    /// The venue's own WebSocket endpoint (venues.md).
    pub fn default_endpoint(venue: Venue) -> &'static str {
        match venue {
            Venue::Coinbase => "wss://advanced-trade-ws.coinbase.com",
            Venue::CoinbaseExchange => "wss://ws-feed.exchange.coinbase.com",
            Venue::Binance => "wss://stream.binance.com:9443",
            Venue::BinanceFutures => "wss://fstream.binance.com",
            Venue::Bitfinex => "wss://api-pub.bitfinex.com",
            Venue::Kraken => "wss://ws.kraken.com",
            Venue::KrakenV1 => "wss://ws.kraken.com",
            Venue::Okx => "wss://ws.okx.com:8443",
            Venue::Gemini | Venue::GeminiV1 => "wss://api.gemini.com",
        }
    }

    /// The venue's own REST base (Binance snapshots).
    pub fn default_rest(venue: Venue) -> Option<&'static str> {
        match venue {
            Venue::Binance => Some("https://api.binance.com"),
            Venue::BinanceFutures => Some("https://fapi.binance.com"),
            _ => None,
        }
    }

    /// The WebSocket URL for `endpoint` (a venue's or a simulator's): an endpoint without a
    /// path gets the venue's (`/stream` for Binance, `/ws/2` for Bitfinex, `/v2` for Kraken v2,
    /// `/ws/v5/public` for OKX, `/v2/marketdata` for Gemini, `/v1/marketdata/<symbol>` for
    /// Gemini v1, which takes one symbol per connection).
    pub fn endpoint_url(venue: Venue, endpoint: &str, symbols: &[String]) -> String {
        let base = endpoint.trim_end_matches('/');
        let has_path = base.split_once("://").is_some_and(|(_, rest)| rest.contains('/'));
        if has_path {
            return endpoint.to_owned();
        }
        let path = match venue {
            Venue::Binance | Venue::BinanceFutures => "/stream".to_owned(),
            Venue::Bitfinex => "/ws/2".to_owned(),
            Venue::Kraken => "/v2".to_owned(),
            Venue::Okx => "/ws/v5/public".to_owned(),
            Venue::Gemini => "/v2/marketdata".to_owned(),
            Venue::GeminiV1 => format!(
                "/v1/marketdata/{}?heartbeat=true",
                symbols.first().map_or("btcusd".to_owned(), |s| s.to_ascii_lowercase())
            ),
            Venue::Coinbase | Venue::CoinbaseExchange | Venue::KrakenV1 => "/".to_owned(),
        };
        format!("{base}{path}")
    }
}

/// How the loop runs.
#[derive(Debug, Clone)]
pub struct Options {
    /// Poll with a zero timeout (a core spinning); `false` waits up to 1 ms.
    pub busy_poll: bool,
    /// TLS client configuration ([`super::tls::client_config`]).
    pub tls: Arc<ClientConfig>,
    /// TCP connect plus TLS and WebSocket handshakes must finish within this.
    pub handshake_timeout: Duration,
    /// A connection with no message for this long is dropped and made again.
    pub stale_after: Duration,
    /// The first reconnect delay; doubled per failure up to `backoff_max`, with jitter.
    pub backoff_min: Duration,
    /// The longest reconnect delay.
    pub backoff_max: Duration,
    /// A REST snapshot must arrive within this.
    pub rest_timeout: Duration,
    /// A book that lost sync on a venue that allows it is resubscribed on the open connection
    /// ([`Adapter::resubscribe_book_messages`](crate::venue::Adapter)); `false`, or a venue
    /// that does not, reconnects for fresh snapshots of every book.
    pub resubscribe: bool,
    /// A resubscribed book must be synced again within this, or the connection is remade.
    pub resubscribe_timeout: Duration,
    /// At most this many subscription requests on one connection within the window; a
    /// resubscription past it reconnects instead. `None`: the venue's documented limit
    /// ([`Adapter::subscription_budget`](crate::venue::Adapter), OKX 480 an hour).
    pub subscription_budget: Option<(usize, Duration)>,
    /// The clock that stamps receive times.
    pub clock: Clock,
    /// Each book's array window in ticks per side ([`Engine::with_window_ticks`]).
    pub window_ticks: usize,
}

impl Options {
    /// Defaults: busy-poll, 10 s handshakes, stale after 30 s, backoff 100 ms to 30 s,
    /// per-book resubscribe where the venue allows it (5 s to resync).
    pub fn new(tls: Arc<ClientConfig>) -> Options {
        Options {
            busy_poll: true,
            tls,
            handshake_timeout: Duration::from_secs(10),
            stale_after: Duration::from_secs(30),
            backoff_min: Duration::from_millis(100),
            backoff_max: Duration::from_secs(30),
            rest_timeout: Duration::from_secs(10),
            resubscribe: true,
            resubscribe_timeout: Duration::from_secs(5),
            subscription_budget: None,
            clock: Clock::global(),
            window_ticks: Ladder::DEFAULT_WINDOW_TICKS,
        }
    }
}

/// How a WebSocket close code reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseClass {
    /// 1000.
    Normal,
    /// 1001: the server is going away (restart, maintenance).
    GoingAway,
    /// 1008: policy (rate limits, bad subscription).
    Policy,
    /// 1009: a message too big.
    TooBig,
    /// 1011: server error.
    ServerError,
    /// 1012/1013: restart or try again later.
    TryLater,
    /// Anything else, or no code.
    Other,
}

impl CloseClass {
    /// Every class, in [`LinkStats::closes`] order.
    pub const ALL: [CloseClass; 7] = [
        CloseClass::Normal,
        CloseClass::GoingAway,
        CloseClass::Policy,
        CloseClass::TooBig,
        CloseClass::ServerError,
        CloseClass::TryLater,
        CloseClass::Other,
    ];

    /// The class of a close code.
    pub fn of(code: u16) -> CloseClass {
        match code {
            1000 => CloseClass::Normal,
            1001 => CloseClass::GoingAway,
            1008 => CloseClass::Policy,
            1009 => CloseClass::TooBig,
            1011 => CloseClass::ServerError,
            1012 | 1013 => CloseClass::TryLater,
            _ => CloseClass::Other,
        }
    }

    /// A short name.
    pub fn name(self) -> &'static str {
        match self {
            CloseClass::Normal => "normal",
            CloseClass::GoingAway => "going_away",
            CloseClass::Policy => "policy",
            CloseClass::TooBig => "too_big",
            CloseClass::ServerError => "server_error",
            CloseClass::TryLater => "try_later",
            CloseClass::Other => "other",
        }
    }

    fn index(self) -> usize {
        CloseClass::ALL.iter().position(|c| *c == self).unwrap_or(6)
    }
}

/// What happened on one connection.
#[derive(Debug, Clone, Default)]
pub struct LinkStats {
    /// Connections opened (WebSocket handshake done).
    pub connects: u64,
    /// Attempts that failed before the WebSocket opened.
    pub connect_failures: u64,
    /// Open connections lost (closed, reset, stale, error).
    pub disconnects: u64,
    /// Of those, dropped for silence.
    pub stale: u64,
    /// Of those, dropped because a book lost sync (gap, checksum, crossed) on a venue whose
    /// snapshots come over the WebSocket and that cannot resend one book (or a resubscribed
    /// book did not resync in time).
    pub resync_reconnects: u64,
    /// Books that lost sync and were resubscribed on the open connection for a fresh snapshot.
    pub resync_resubscribes: u64,
    /// Messages received.
    pub messages: u64,
    /// Bytes of messages received.
    pub bytes: u64,
    /// Messages the adapter rejected.
    pub errors: u64,
    /// Closes from the server, by [`CloseClass`].
    pub closes: [u64; 7],
    /// REST snapshots received and applied.
    pub rest_ok: u64,
    /// REST answers 429 (throttled).
    pub rest_throttled: u64,
    /// REST answers 418 (banned for a while).
    pub rest_banned: u64,
    /// REST requests that failed otherwise.
    pub rest_failed: u64,
    /// Records the recorder could not take (its queue full: the writer fell behind, or it
    /// has stopped): the recording misses them; the feed does not.
    pub records_dropped: u64,
    /// The last failure, in words.
    pub last_error: Option<String>,
}

enum Phase {
    Idle,
    Tcp(NetStream),
    Tls(NetStream),
    Ws(MidHandshake<ClientHandshake<NetStream>>),
    Open(Box<WebSocket<NetStream>>),
}

/// One connection and its engine.
pub struct Link {
    feed: Feed,
    url: Url,
    engine: Engine<AnyAdapter>,
    base: InstrumentId,
    phase: Phase,
    token: Token,
    readable: bool,
    want_flush: bool,
    backoff: Duration,
    next_attempt: Instant,
    phase_deadline: Instant,
    last_rx: Instant,
    next_keepalive: Instant,
    got_data: bool,
    /// The WebSocket host's addresses (resolved once, see [`AddrCache`]).
    addrs: AddrCache,
    /// The REST host's addresses.
    rest_addrs: AddrCache,
    rest: Option<Get>,
    rest_queue: VecDeque<String>,
    rest_pause_until: Instant,
    resync: Vec<InstrumentId>,
    /// Books resubscribed on this connection, and when each must be synced again by.
    resubscribing: Vec<(InstrumentId, Instant)>,
    /// When each subscription request of this connection went out (within the venue's
    /// budget window).
    requests: std::collections::VecDeque<Instant>,
    stats: LinkStats,
    rng: u64,
    /// Connection id in recordings (the link's index + 1, the same across reconnects).
    conn_id: u32,
    recorder: Option<Recorder>,
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

impl std::fmt::Debug for Link {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Link").field("url", &self.feed.url).field("stats", &self.stats).finish()
    }
}

impl Link {
    /// The venue.
    pub fn venue(&self) -> Venue {
        self.feed.venue
    }

    /// The engine (books, counters).
    pub fn engine(&self) -> &Engine<AnyAdapter> {
        &self.engine
    }

    /// The first instrument id of this connection.
    pub fn base(&self) -> InstrumentId {
        self.base
    }

    /// What happened so far.
    pub fn stats(&self) -> &LinkStats {
        &self.stats
    }

    /// Whether the WebSocket is open.
    pub fn is_open(&self) -> bool {
        matches!(self.phase, Phase::Open(_))
    }

    fn max_message(&self) -> usize {
        match self.feed.venue {
            // Full-depth snapshots: BTC-USD is 45k levels in one multi-MB frame.
            Venue::Coinbase => 64 << 20,
            Venue::CoinbaseExchange | Venue::Gemini | Venue::GeminiV1 => 16 << 20,
            _ => 4 << 20,
        }
    }

    /// Hands a copy of what happened to the recorder (a channel to a writer thread).
    fn record(&mut self, local_ts: u64, kind: RecordKind, url: &str, payload: &[u8]) {
        if let Some(r) = &self.recorder {
            if !r.record(self.conn_id, local_ts, kind, url, payload) {
                self.stats.records_dropped += 1;
            }
        }
    }

    fn jitter(&mut self) -> f64 {
        // xorshift64: the jitter needs no quality beyond spreading reconnects.
        let mut x = self.rng;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng = x;
        0.5 + (x >> 11) as f64 / (1u64 << 53) as f64 * 0.5
    }

    /// Drops the connection and schedules the next attempt.
    fn fail(&mut self, why: String, now: Instant, opts: &Options, sink: &mut impl Sink) {
        let was_open = matches!(self.phase, Phase::Open(_));
        self.phase = Phase::Idle;
        self.rest = None;
        self.rest_queue.clear();
        self.resubscribing.clear();
        self.readable = false;
        self.want_flush = false;
        if was_open {
            self.stats.disconnects += 1;
            let local = opts.clock.now_ns();
            self.record(local, RecordKind::Disconnect, "", b"");
            self.engine.disconnected(local, sink);
        } else {
            self.stats.connect_failures += 1;
            self.addrs.failed();
        }
        self.stats.last_error = Some(why);
        let delay = self.backoff.mul_f64(self.jitter());
        self.next_attempt = now + delay;
        self.backoff = (self.backoff * 2).min(opts.backoff_max);
    }

    fn start_connect(
        &mut self,
        now: Instant,
        opts: &Options,
        registry: &mio::Registry,
    ) -> Result<(), NetError> {
        let addr = match self.addrs.get(&self.url) {
            Ok(addr) => addr,
            // The host's lookup runs on its own thread: ask again on a later turn.
            Err(NetError::Resolving) => return Ok(()),
            Err(e) => return Err(e),
        };
        let mut stream = NetStream::connect(&self.url, addr, &opts.tls)?;
        registry.register(stream.tcp_mut(), self.token, Interest::READABLE | Interest::WRITABLE)?;
        self.phase = Phase::Tcp(stream);
        self.phase_deadline = now + opts.handshake_timeout;
        Ok(())
    }

    fn ws_config(&self) -> WebSocketConfig {
        let max = self.max_message();
        WebSocketConfig::default()
            .read_buffer_size(4 << 10)
            .max_message_size(Some(max))
            .max_frame_size(Some(max))
    }

    /// Moves the connection forward; returns when the socket has nothing more.
    fn service(
        &mut self,
        now: Instant,
        opts: &Options,
        registry: &mio::Registry,
        sink: &mut impl Sink,
        each: AfterMessage<'_>,
    ) {
        if let Err(e) = self.step(now, opts, registry, sink, each) {
            self.fail(e.to_string(), now, opts, sink);
        }
        if self.is_open() {
            self.service_rest(now, opts, registry, sink, each);
        }
    }

    fn step(
        &mut self,
        now: Instant,
        opts: &Options,
        registry: &mio::Registry,
        sink: &mut impl Sink,
        each: AfterMessage<'_>,
    ) -> Result<(), NetError> {
        loop {
            let phase = std::mem::replace(&mut self.phase, Phase::Idle);
            self.phase = match phase {
                Phase::Idle => {
                    if now < self.next_attempt {
                        return Ok(());
                    }
                    return self.start_connect(now, opts, registry);
                }
                Phase::Tcp(stream) => {
                    if now > self.phase_deadline {
                        return Err(NetError::Timeout("connecting"));
                    }
                    if !stream.connected()? {
                        self.phase = Phase::Tcp(stream);
                        return Ok(());
                    }
                    Phase::Tls(stream)
                }
                Phase::Tls(mut stream) => {
                    if now > self.phase_deadline {
                        return Err(NetError::Timeout("in the TLS handshake"));
                    }
                    if !stream.handshake()? {
                        self.phase = Phase::Tls(stream);
                        return Ok(());
                    }
                    let request = format!(
                        "{}://{}{}",
                        if self.url.tls { "wss" } else { "ws" },
                        self.url.authority(),
                        self.url.path
                    );
                    match tungstenite::client::client_with_config(
                        request,
                        stream,
                        Some(self.ws_config()),
                    ) {
                        Ok((ws, _)) => return self.opened(ws, now, opts),
                        Err(HandshakeError::Interrupted(mid)) => Phase::Ws(mid),
                        Err(HandshakeError::Failure(e)) => {
                            return Err(NetError::Protocol(format!("WebSocket handshake: {e}")))
                        }
                    }
                }
                Phase::Ws(mid) => {
                    if now > self.phase_deadline {
                        return Err(NetError::Timeout("in the WebSocket handshake"));
                    }
                    match mid.handshake() {
                        Ok((ws, _)) => return self.opened(ws, now, opts),
                        Err(HandshakeError::Interrupted(mid)) => {
                            self.phase = Phase::Ws(mid);
                            return Ok(());
                        }
                        Err(HandshakeError::Failure(e)) => {
                            return Err(NetError::Protocol(format!("WebSocket handshake: {e}")))
                        }
                    }
                }
                Phase::Open(ws) => {
                    self.phase = Phase::Open(ws);
                    return self.read_open(now, opts, sink, each);
                }
            };
        }
    }

    fn opened(
        &mut self,
        ws: WebSocket<NetStream>,
        now: Instant,
        opts: &Options,
    ) -> Result<(), NetError> {
        let mut ws = Box::new(ws);
        self.stats.connects += 1;
        // Once per connection: the url is copied so the record can be counted on `self`.
        let url = self.feed.url.clone();
        self.record(opts.clock.now_ns(), RecordKind::Connect, &url, b"");
        let symbols: Vec<&str> = self.feed.symbols.iter().map(String::as_str).collect();
        self.requests.clear();
        for msg in self.engine.adapter().subscribe_messages(&symbols) {
            self.requests.push_back(now);
            self.record(opts.clock.now_ns(), RecordKind::Sent, &url, msg.as_bytes());
            match ws.send(Message::Text(msg.into())) {
                Ok(()) => {}
                Err(tungstenite::Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.want_flush = true;
                }
                Err(e) => return Err(NetError::Protocol(format!("subscribing: {e}"))),
            }
        }
        if self.feed.rest_base.is_some() {
            self.rest_queue = self.feed.symbols.iter().map(|s| s.to_ascii_uppercase()).collect();
        }
        self.phase = Phase::Open(ws);
        self.readable = true;
        self.last_rx = now;
        self.next_keepalive = now + Duration::from_secs(20);
        self.got_data = false;
        Ok(())
    }

    fn read_open(
        &mut self,
        now: Instant,
        opts: &Options,
        sink: &mut impl Sink,
        each: AfterMessage<'_>,
    ) -> Result<(), NetError> {
        if !self.resubscribing.is_empty() {
            let engine = &self.engine;
            let base = self.base;
            let synced = |id: InstrumentId| {
                let idx = id.wrapping_sub(base);
                engine.state(idx) == Some(BookState::Synced)
            };
            self.resubscribing.retain(|(id, _)| !synced(*id));
            if self.resubscribing.iter().any(|(_, by)| now > *by) {
                self.stats.resync_reconnects += 1;
                return Err(NetError::Timeout("a resubscribed book did not resync in time"));
            }
        }
        let Phase::Open(ws) = &mut self.phase else { return Ok(()) };
        if self.want_flush {
            match ws.flush() {
                Ok(()) => self.want_flush = false,
                Err(tungstenite::Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(NetError::Protocol(format!("writing: {e}"))),
            }
        }
        if self.feed.venue == Venue::Okx && now >= self.next_keepalive {
            // OKX closes a connection idle for 30 s unless the client sends `ping`.
            self.next_keepalive = now + Duration::from_secs(20);
            match ws.send(Message::Text("ping".into())) {
                Ok(()) => {}
                Err(tungstenite::Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.want_flush = true;
                }
                Err(e) => return Err(NetError::Protocol(format!("writing: {e}"))),
            }
        }
        if !self.readable {
            if now.duration_since(self.last_rx) > opts.stale_after {
                self.stats.stale += 1;
                return Err(NetError::Timeout("feed silent (stale)"));
            }
            return Ok(());
        }
        let mut tap = Tap { inner: sink, resync: &mut self.resync };
        loop {
            let msg = match ws.read() {
                Ok(m) => m,
                Err(tungstenite::Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.readable = false;
                    break;
                }
                Err(tungstenite::Error::ConnectionClosed) => {
                    return Err(NetError::Protocol("connection closed".into()))
                }
                Err(e) => return Err(NetError::Protocol(format!("reading: {e}"))),
            };
            let payload: Option<&[u8]> = match &msg {
                Message::Text(t) => Some(t.as_bytes()),
                Message::Binary(b) => Some(b),
                _ => None,
            };
            if let Some(b) = payload {
                let local = opts.clock.now_ns();
                self.last_rx = now;
                if b == b"pong" {
                    // OKX's answer to our keep-alive: not market data.
                    continue;
                }
                self.stats.messages += 1;
                self.stats.bytes += b.len() as u64;
                if let Some(r) = &self.recorder {
                    if !r.record(self.conn_id, local, RecordKind::Recv, "", b) {
                        self.stats.records_dropped += 1;
                    }
                }
                if self.engine.handle_frame(b, local, &mut tap).is_err() {
                    self.stats.errors += 1;
                }
                each(&self.engine, self.base, local);
                if !self.got_data {
                    // A connection that delivers resets the backoff.
                    self.got_data = true;
                    self.backoff = opts.backoff_min;
                }
            }
            match msg {
                Message::Text(_) | Message::Binary(_) => {}
                Message::Ping(_) => {
                    // tungstenite queued the pong: send it now, ahead of anything else.
                    self.last_rx = now;
                    self.want_flush = true;
                    match ws.flush() {
                        Ok(()) => self.want_flush = false,
                        Err(tungstenite::Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => {
                        }
                        Err(e) => return Err(NetError::Protocol(format!("answering a ping: {e}"))),
                    }
                }
                Message::Pong(_) | Message::Frame(_) => self.last_rx = now,
                Message::Close(frame) => {
                    let code = frame.as_ref().map_or(1005, |f| u16::from(f.code));
                    let class = CloseClass::of(code);
                    self.stats.closes[class.index()] += 1;
                    let reason = frame.map(|f| f.reason.to_string()).unwrap_or_default();
                    return Err(NetError::Protocol(format!(
                        "closed by the server: {code} ({}) {reason}",
                        class.name()
                    )));
                }
            }
            if self.feed.rest_base.is_none() && !tap.resync.is_empty() {
                // Books whose snapshots come over the WebSocket: resubscribe each where the
                // venue allows it, else a fresh connection (new snapshots for every book).
                let mut reconnect = !opts.resubscribe;
                let mut why = String::from("a book lost sync: reconnecting for fresh snapshots");
                for id in tap.resync.drain(..) {
                    if reconnect || self.resubscribing.iter().any(|(r, _)| *r == id) {
                        continue;
                    }
                    let idx = usize::from(id.wrapping_sub(self.base));
                    let Some(info) = self.engine.symbols().list().get(idx) else { continue };
                    let Some(msgs) = self.engine.adapter().resubscribe_book_messages(&info.key)
                    else {
                        reconnect = true;
                        continue;
                    };
                    let budget =
                        opts.subscription_budget.or(self.engine.adapter().subscription_budget());
                    if let Some((most, window)) = budget {
                        while self
                            .requests
                            .front()
                            .is_some_and(|t| now.duration_since(*t) >= window)
                        {
                            self.requests.pop_front();
                        }
                        if self.requests.len() + msgs.len() > most {
                            // Past the venue's limit it would refuse or disconnect: a new
                            // connection starts a new count.
                            why = format!(
                                "a book lost sync and this connection's {most} subscription requests per {window:?} are spent: reconnecting"
                            );
                            reconnect = true;
                            continue;
                        }
                        self.requests.extend(std::iter::repeat_n(now, msgs.len()));
                    }
                    // No messages: the book's snapshot is already on its way (a subscription
                    // not yet answered); it is still held to the same deadline.
                    self.stats.resync_resubscribes += u64::from(!msgs.is_empty());
                    for m in msgs {
                        if let Some(r) = &self.recorder {
                            let local = opts.clock.now_ns();
                            let url = &self.feed.url;
                            if !r.record(self.conn_id, local, RecordKind::Sent, url, m.as_bytes()) {
                                self.stats.records_dropped += 1;
                            }
                        }
                        match ws.send(Message::Text(m.into())) {
                            Ok(()) => {}
                            Err(tungstenite::Error::Io(e))
                                if e.kind() == io::ErrorKind::WouldBlock =>
                            {
                                self.want_flush = true;
                            }
                            Err(e) => {
                                return Err(NetError::Protocol(format!("resubscribing: {e}")))
                            }
                        }
                    }
                    self.resubscribing.push((id, now + opts.resubscribe_timeout));
                }
                if reconnect {
                    self.stats.resync_reconnects += 1;
                    return Err(NetError::Protocol(why));
                }
            }
        }
        if now.duration_since(self.last_rx) > opts.stale_after {
            self.stats.stale += 1;
            return Err(NetError::Timeout("feed silent (stale)"));
        }
        Ok(())
    }

    /// Binance: keeps one REST snapshot in flight for the books that need one.
    fn service_rest(
        &mut self,
        now: Instant,
        opts: &Options,
        registry: &mio::Registry,
        sink: &mut impl Sink,
        each: AfterMessage<'_>,
    ) {
        let Some(base) = self.feed.rest_base.clone() else {
            self.resync.clear();
            return;
        };
        // Books that lost sync need a new snapshot.
        for id in std::mem::take(&mut self.resync) {
            let idx = usize::from(id.wrapping_sub(self.base));
            if let Some(info) = self.engine.symbols().list().get(idx) {
                let sym = info.key.to_ascii_uppercase();
                if !self.rest_queue.contains(&sym) {
                    self.rest_queue.push_back(sym);
                }
            }
        }
        if let Some(get) = self.rest.as_mut() {
            let Some(done) = get.drive() else { return };
            let url = get.url.clone();
            self.rest = None;
            let symbol =
                url.split("symbol=").nth(1).map(|s| s.split('&').next().unwrap_or(s).to_owned());
            match done {
                Ok(r) if r.status == 200 => {
                    self.stats.rest_ok += 1;
                    let local = opts.clock.now_ns();
                    self.record(local, RecordKind::Http, &url, &r.body);
                    let mut tap = Tap { inner: sink, resync: &mut self.resync };
                    if self.engine.handle_http(&url, &r.body, local, &mut tap).is_err() {
                        self.stats.errors += 1;
                    }
                    each(&self.engine, self.base, local);
                }
                Ok(r) => {
                    let wait = r.retry_after.unwrap_or(if r.status == 418 { 60 } else { 1 });
                    match r.status {
                        429 => self.stats.rest_throttled += 1,
                        418 => self.stats.rest_banned += 1,
                        _ => self.stats.rest_failed += 1,
                    }
                    self.stats.last_error = Some(format!("REST {url}: status {}", r.status));
                    self.rest_pause_until = now + Duration::from_secs(wait.max(1));
                    if let Some(s) = symbol {
                        self.rest_queue.push_front(s);
                    }
                }
                Err(e) => {
                    self.stats.rest_failed += 1;
                    self.stats.last_error = Some(format!("REST {url}: {e}"));
                    self.rest_pause_until = now + self.backoff;
                    self.rest_addrs.failed();
                    if let Some(s) = symbol {
                        self.rest_queue.push_front(s);
                    }
                }
            }
        }
        if self.rest.is_none() && now >= self.rest_pause_until {
            if let Some(sym) = self.rest_queue.pop_front() {
                let limit = if self.feed.venue == Venue::BinanceFutures { 1000 } else { 5000 };
                let url = format!(
                    "{}{}?symbol={sym}&limit={limit}",
                    base.trim_end_matches('/'),
                    if self.feed.venue == Venue::BinanceFutures {
                        "/fapi/v1/depth"
                    } else {
                        "/api/v3/depth"
                    }
                );
                match Get::start(&url, &mut self.rest_addrs, &opts.tls, opts.rest_timeout) {
                    Ok(mut get) => {
                        let token = Token(self.token.0 + 1);
                        if registry
                            .register(
                                get.stream_mut().tcp_mut(),
                                token,
                                Interest::READABLE | Interest::WRITABLE,
                            )
                            .is_ok()
                        {
                            self.rest = Some(get);
                        }
                    }
                    // The REST host's lookup runs on its own thread: ask again later.
                    Err(NetError::Resolving) => self.rest_queue.push_front(sym),
                    Err(e) => {
                        self.stats.rest_failed += 1;
                        self.stats.last_error = Some(format!("REST {url}: {e}"));
                        self.rest_pause_until = now + self.backoff;
                        self.rest_addrs.failed();
                        self.rest_queue.push_front(sym);
                    }
                }
            }
        }
    }
}

/// Passes events on and notes the books that lost sync.
struct Tap<'a, S: Sink> {
    inner: &'a mut S,
    resync: &'a mut Vec<InstrumentId>,
}

impl<S: Sink> Sink for Tap<'_, S> {
    #[inline]
    fn publish(&mut self, event: Event) {
        if let EventKind::BookState { .. } = event.kind() {
            if event.state() == BookState::Resyncing {
                self.resync.push(event.instrument());
            }
        }
        self.inner.publish(event);
    }
}

/// Every connection of a live run, and the poller.
pub struct Live {
    links: Vec<Link>,
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
    pub fn new(feeds: Vec<Feed>, opts: Options) -> Result<Live, NetError> {
        let mut links = Vec::with_capacity(feeds.len());
        let seed = Clock::global().now_ns() | 1;
        for (i, feed) in feeds.into_iter().enumerate() {
            let url = Url::parse(&feed.url)?;
            let symbol =
                (feed.venue == Venue::GeminiV1).then(|| feed.symbols.first().cloned()).flatten();
            let adapter =
                AnyAdapter::new(feed.venue, InstrumentRegistry::with_builtins(), symbol.as_deref())
                    .map_err(|e| NetError::Protocol(format!("{}: {e}", feed.venue.name())))?;
            let base = (i * IDS_PER_LINK) as InstrumentId;
            let now = Instant::now();
            links.push(Link {
                feed,
                url,
                engine: Engine::new(adapter)
                    .with_instrument_base(base)
                    .with_window_ticks(opts.window_ticks),
                base,
                phase: Phase::Idle,
                token: Token(i * 2),
                readable: false,
                want_flush: false,
                backoff: opts.backoff_min,
                next_attempt: now,
                phase_deadline: now,
                last_rx: now,
                next_keepalive: now,
                got_data: false,
                addrs: AddrCache::default(),
                rest_addrs: AddrCache::default(),
                rest: None,
                rest_queue: VecDeque::new(),
                rest_pause_until: now,
                resync: Vec::new(),
                resubscribing: Vec::new(),
                requests: std::collections::VecDeque::new(),
                stats: LinkStats::default(),
                rng: seed.wrapping_mul(i as u64 + 1) | 1,
                conn_id: u32::try_from(i + 1).unwrap_or(u32::MAX),
                recorder: None,
            });
        }
        Ok(Live { links, poll: Poll::new()?, events: Events::with_capacity(256), opts })
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
            let i = ev.token().0 / 2;
            if let Some(link) = self.links.get_mut(i) {
                if ev.token().0 % 2 == 0
                    && (ev.is_readable() || ev.is_read_closed() || ev.is_error())
                {
                    link.readable = true;
                }
                if ev.token().0 % 2 == 0 && ev.is_writable() && link.is_open() {
                    link.want_flush = true;
                }
            }
        }
        let now = Instant::now();
        let registry = self.poll.registry();
        for link in &mut self.links {
            link.service(now, &self.opts, registry, sink, each);
        }
        Ok(())
    }

    /// Closes every connection politely (a close frame, best effort).
    pub fn close_all(&mut self) {
        for link in &mut self.links {
            if let Phase::Open(ws) = &mut link.phase {
                let _ = ws.close(None);
                let _ = ws.flush();
            }
            link.phase = Phase::Idle;
        }
    }
}

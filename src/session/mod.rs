//! One connection's policy, sans-IO: the model is quinn-proto's `Connection`.
//!
//! A [`Session`] owns a connection's venue adapter, its [`Engine`] and books, its block of
//! instrument ids, and every decision about the connection: when to connect and reconnect
//! (capped exponential backoff with jitter), what to send on opening (subscriptions), when
//! to ping, when the feed is stale, which books to resubscribe and within which budget,
//! which REST snapshots to fetch and how long to wait after a `429` or `418`, and when a book
//! that does not resync in time costs the connection. It holds no socket, reads no clock
//! and starts no thread: the caller says what happened and when (`handle_*`, with `now` in
//! nanoseconds on any clock it likes) and asks what to do next (`poll_*`).
//!
//! The live network shell ([`crate::net::live`]) carries the session's wishes out with mio,
//! rustls, tungstenite and an HTTP GET; replay, check and convert hand the same session a
//! capture's records ([`recorded`]), with each record's time as `now`. A capture therefore
//! goes through exactly the code that ran live, and the policy is unit-tested on a fake
//! clock (the tests below), deterministically and without sockets.
//!
//! ```
//! use ladderfeed::book::{InstrumentRegistry, Venue};
//! use ladderfeed::event::Event;
//! use ladderfeed::session::{Session, SessionConfig};
//!
//! let cfg = SessionConfig::new(Venue::Okx, vec!["BTC-USDT".into()], InstrumentRegistry::with_builtins());
//! let mut session = Session::new(cfg, 0..1024).unwrap();
//! let mut events: Vec<Event> = Vec::new();
//! let t0 = 1_000_000_000;
//! assert!(session.poll_connect(t0)); // connect now
//! session.handle_connected(t0);
//! let subscribe = session.poll_transmit().unwrap();
//! assert!(subscribe.contains("books"));
//! // Nothing arrives for 30 s: the session gives the connection up and says why.
//! session.handle_timeout(t0 + 31_000_000_000);
//! assert!(session.poll_close().unwrap().contains("stale"));
//! session.handle_disconnected("stale", t0 + 31_000_000_000, &mut events);
//! // The next attempt waits for the backoff.
//! assert!(!session.poll_connect(t0 + 31_000_000_000));
//! ```

pub mod arbiter;
pub mod content;
pub(crate) mod ids;
#[cfg(feature = "capture")]
pub mod recorded;

use std::collections::VecDeque;
use std::time::Duration;

use crate::book::{InstrumentRegistry, Ladder, Venue};
use crate::engine::{Engine, Sink};
use crate::event::{BookState, Event, EventKind, InstrumentId};
use crate::venue::{Adapter, AnyAdapter, Parser, Protocol, ScanControls, SymbolIdx, VenueError};
use arbiter::{Arbiter, Family, Verdict, MAX_LINES};

pub use arbiter::ArbiterCounts;

pub use ids::{IdAllocator, IdsExhausted, DEFAULT_BLOCK, ID_SPACE};

/// How a session treats its connection. Every duration is measured on the caller's clock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Connecting (TCP, TLS and WebSocket handshakes) must finish within this.
    pub handshake_timeout: Duration,
    /// A connection with no message for this long is given up and made again.
    pub stale_after: Duration,
    /// The first reconnect delay; doubled per failure up to `backoff_max`, with jitter.
    pub backoff_min: Duration,
    /// The longest reconnect delay.
    pub backoff_max: Duration,
    /// A REST snapshot must arrive within this (the shell enforces it on its request).
    pub rest_timeout: Duration,
    /// A book that lost sync on a venue that allows it is resubscribed on the open connection
    /// ([`Adapter::resubscribe_book_messages`]); `false`, or a venue that does not,
    /// reconnects for fresh snapshots of every book.
    pub resubscribe: bool,
    /// A resubscribed book must be synced again within this, or the connection is remade.
    pub resubscribe_timeout: Duration,
    /// At most this many subscription requests on one connection within the window; a
    /// resubscription past it reconnects instead. `None`: the venue's documented limit
    /// ([`Adapter::subscription_budget`], OKX 480 an hour).
    pub subscription_budget: Option<(usize, Duration)>,
    /// Redundant lines: how long a gap on one line waits for another line to deliver the
    /// missing message before the book resyncs ([`arbiter`]).
    pub fill_wait: Duration,
}

impl Default for Policy {
    /// 10 s handshakes, stale after 30 s, backoff 100 ms to 30 s, 10 s REST answers,
    /// per-book resubscribe where the venue allows it (5 s to resync), the venue's budget,
    /// 1 s for another line to fill a gap.
    fn default() -> Self {
        Policy {
            handshake_timeout: Duration::from_secs(10),
            stale_after: Duration::from_secs(30),
            backoff_min: Duration::from_millis(100),
            backoff_max: Duration::from_secs(30),
            rest_timeout: Duration::from_secs(10),
            resubscribe: true,
            resubscribe_timeout: Duration::from_secs(5),
            subscription_budget: None,
            fill_wait: Duration::from_secs(1),
        }
    }
}

/// What a session is built from.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// The venue.
    pub venue: Venue,
    /// The symbols to subscribe, as the venue writes them.
    pub symbols: Vec<String>,
    /// Ticks and lots: configured, reference data, built-ins (learned ones are added).
    pub registry: InstrumentRegistry,
    /// Where REST snapshots come from, for a venue that takes them over REST (default: the
    /// venue's own base, [`crate::venue::RestSnapshot::default_base`]).
    pub rest_base: Option<String>,
    /// The largest array window a book grows to, in ticks per side ([`Engine::with_window_ticks`]).
    pub window_ticks: usize,
    /// Levels per side of the top N each book publishes ([`Engine::with_depth`]; 0: none).
    pub depth_levels: usize,
    /// The connection policy.
    pub policy: Policy,
    /// Seeds the reconnect jitter (give each session its own).
    pub seed: u64,
    /// Subscribe the venue's derivatives channels too (funding, mark and index, open
    /// interest, liquidations: [`AnyAdapter::set_derivatives`]). Off by default: they add
    /// traffic (Binance's mark price every second per symbol, OKX's liquidations of a whole
    /// instrument type) that a book-only user does not want.
    pub derivatives: bool,
    /// Redundant connections carrying the same subscriptions into the same books (1: one
    /// connection; at most [`arbiter::MAX_LINES`]). Each message is applied once, from the
    /// line that delivers it first ([`arbiter`]); venues without a per-book sequence refuse
    /// more than one.
    pub lines: usize,
    /// Which parser reads the venue's frames ([`Parser::Scan`] by default: the venue's
    /// scanner where it has one, simd-json for everything else).
    pub parser: Parser,
}

impl SessionConfig {
    /// A configuration with the default window and policy.
    pub fn new(venue: Venue, symbols: Vec<String>, registry: InstrumentRegistry) -> Self {
        SessionConfig {
            venue,
            symbols,
            registry,
            rest_base: None,
            window_ticks: Ladder::DEFAULT_WINDOW_TICKS,
            depth_levels: 0,
            policy: Policy::default(),
            seed: 0x9e37_79b9_7f4a_7c15,
            derivatives: false,
            lines: 1,
            parser: Parser::Scan,
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
    /// Every class, in [`SessionStats::closes`] order.
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

/// What happened on one connection (for a session with several lines: on all of them).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionStats {
    /// Connections opened (WebSocket handshake done).
    pub connects: u64,
    /// Attempts that failed before the WebSocket opened.
    pub connect_failures: u64,
    /// Open connections lost (closed, reset, stale, error).
    pub disconnects: u64,
    /// Of those, dropped for silence.
    pub stale: u64,
    /// Books marked `Stale` because the venue stopped sending them while the connection
    /// stayed up ([`Protocol::book_quiet_after`]).
    pub quiet_books: u64,
    /// Of those, dropped because a book lost sync (gap, checksum, crossed) on a venue whose
    /// snapshots come over the WebSocket and that cannot resend one book (or a resubscribed
    /// book did not resync in time, or the subscription budget was spent).
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
    /// has stopped): the recording misses them; the feed does not. Counted by the shell.
    pub records_dropped: u64,
    /// Redundant lines: gaps no line filled (in time), so the book resynced.
    pub unfilled_gaps: u64,
    /// The last failure, in words.
    pub last_error: Option<String>,
}

/// What happened on one line of a session with redundant connections
/// ([`SessionConfig::lines`]).
#[derive(Debug, Clone)]
pub struct LineStats {
    /// Connections opened.
    pub connects: u64,
    /// Attempts that failed before the WebSocket opened.
    pub connect_failures: u64,
    /// Open connections lost.
    pub disconnects: u64,
    /// Of those, dropped for silence.
    pub stale: u64,
    /// Messages received.
    pub messages: u64,
    /// What the arbiter made of them: won, duplicates, gaps, gaps filled by another line.
    pub arbiter: ArbiterCounts,
    /// How much earlier (ns) this line's copy of a message went through than another line's
    /// duplicate arrived: the latency advantage of the winner.
    pub advantage: hdrhistogram::Histogram<u64>,
    /// The last failure, in words.
    pub last_error: Option<String>,
}

/// A REST answer, as the shell received it.
#[derive(Debug, Clone, Copy)]
pub struct HttpResponse<'a> {
    /// The status code.
    pub status: u16,
    /// `Retry-After` in seconds, if given.
    pub retry_after: Option<u64>,
    /// The body.
    pub body: &'a [u8],
}

/// Why a session could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    /// The venue's adapter refused the configuration (Gemini v1 without its symbol).
    #[error("{venue}: {err}")]
    Venue {
        /// The venue.
        venue: Venue,
        /// Why.
        err: VenueError,
    },
    /// No instrument ids left for it.
    #[error(transparent)]
    Ids(#[from] IdsExhausted),
    /// Redundant lines asked for a venue without a per-book sequence to arbitrate by, or
    /// more lines than supported.
    #[error("{venue}: {why}")]
    Lines {
        /// The venue.
        venue: Venue,
        /// Why.
        why: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Conn {
    /// Not connected; the next attempt is due at this time.
    Idle { next_attempt: u64 },
    /// An attempt is under way and must open by this time.
    Connecting { deadline: u64 },
    /// The WebSocket is open.
    Open,
}

/// How often [`Session::expire_quiet_books`] looks at the books (1 s).
const QUIET_CHECK_NS: u64 = 1_000_000_000;

fn ns(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// One connection's own state: a session has one line, or several redundant ones.
#[derive(Debug)]
struct Line {
    conn: Conn,
    backoff: Duration,
    rng: u64,
    /// Got a message since the connection opened (resets the backoff once).
    got_data: bool,
    transmit: VecDeque<String>,
    close: Option<String>,
    last_rx: u64,
    next_keepalive: u64,
    /// When each subscription request of this connection went out (within the budget window).
    requests: VecDeque<u64>,
    connects: u64,
    connect_failures: u64,
    disconnects: u64,
    stale: u64,
    messages: u64,
    last_error: Option<String>,
    /// How much earlier this line's copies went through (ns), when it won.
    advantage: Option<Box<hdrhistogram::Histogram<u64>>>,
}

impl Line {
    fn new(backoff: Duration, rng: u64) -> Line {
        Line {
            conn: Conn::Idle { next_attempt: 0 },
            backoff,
            rng: rng | 1,
            got_data: false,
            transmit: VecDeque::new(),
            close: None,
            last_rx: 0,
            next_keepalive: u64::MAX,
            requests: VecDeque::new(),
            connects: 0,
            connect_failures: 0,
            disconnects: 0,
            stale: 0,
            messages: 0,
            last_error: None,
            advantage: None,
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
}

/// A latency histogram from 1 ns to 60 s, 3 significant digits (made once per line).
fn advantage_histogram() -> hdrhistogram::Histogram<u64> {
    hdrhistogram::Histogram::new_with_bounds(1, 60_000_000_000, 3)
        .unwrap_or_else(|_| hdrhistogram::Histogram::new(3).expect("3 significant digits"))
}

/// One connection's (or one set of redundant connections') adapter, books and policy. See
/// the [module docs](self).
#[derive(Debug)]
pub struct Session {
    protocol: &'static Protocol,
    symbols: Vec<String>,
    rest_base: Option<String>,
    engine: Engine<AnyAdapter>,
    policy: Policy,
    /// `false` for a recorded connection: what happened is in the capture, nothing is asked.
    drives: bool,
    lines: Vec<Line>,
    /// Which copy of each message the books take, with more than one line.
    arbiter: Option<Arbiter>,
    /// The line of the message being handled.
    line: usize,
    /// A held message being applied (the arbiter's copy; capacity kept).
    held: Vec<u8>,
    /// When [`Session::expire_quiet_books`] looks at the books next.
    next_quiet_check: u64,
    /// Symbols waiting for a REST snapshot, in request order.
    rest_queue: VecDeque<String>,
    /// The symbol whose snapshot is being fetched.
    rest_inflight: Option<String>,
    rest_pause_until: u64,
    /// Books that lost sync in the message being handled.
    resync: Vec<InstrumentId>,
    /// Books resubscribed, when each must be synced again by, and on which line.
    resubscribing: Vec<(SymbolIdx, u64, usize)>,
    stats: SessionStats,
}

impl Session {
    /// A session that drives a live connection (or [`SessionConfig::lines`] redundant ones):
    /// it asks to connect, subscribes, pings, resubscribes and fetches snapshots. Its books
    /// take the ids `ids` (one per symbol; symbols beyond them get no book, see
    /// [`Engine::with_instrument_ids`]).
    pub fn new(cfg: SessionConfig, ids: std::ops::Range<u32>) -> Result<Session, SessionError> {
        let protocol = Protocol::of(cfg.venue);
        let rest_base = protocol
            .rest_snapshot
            .map(|r| cfg.rest_base.clone().unwrap_or_else(|| r.default_base.to_owned()));
        let arbiter = match cfg.lines {
            0 | 1 => None,
            n if n > MAX_LINES => {
                return Err(SessionError::Lines {
                    venue: cfg.venue,
                    why: format!("{n} redundant connections: at most {MAX_LINES}"),
                })
            }
            _ => Some(Arbiter::new(Family::of(cfg.venue))),
        };
        let symbol = cfg.symbols.first().map(String::as_str);
        let mut adapter = AnyAdapter::new(cfg.venue, cfg.registry, symbol)
            .map_err(|err| SessionError::Venue { venue: cfg.venue, err })?;
        adapter.set_derivatives(cfg.derivatives);
        adapter.set_merged_lines(cfg.lines > 1);
        adapter.set_parser(cfg.parser);
        let mut engine = Engine::new(adapter)
            .with_instrument_ids(ids)
            .with_window_ticks(cfg.window_ticks)
            .with_depth(cfg.depth_levels);
        let mut arbiter = arbiter;
        if let (Some(a), Some(first)) = (arbiter.as_mut(), engine.symbols().list().first()) {
            if cfg.venue == Venue::GeminiV1 {
                // A connection per symbol: its messages do not name it.
                a.set_only_book(first.key.as_bytes());
            }
        }
        if cfg.lines > 1 && Family::of(cfg.venue).by_content() {
            // A loss on the line in front fails its next checks (checksum, crossed) until another line's copy
            // puts the book right (see `content.rs`).
            engine.set_check_grace(ns(cfg.policy.fill_wait));
        }
        let lines = (0..cfg.lines.max(1))
            .map(|l| {
                let mut line = Line::new(
                    cfg.policy.backoff_min,
                    cfg.seed.wrapping_add((l as u64).wrapping_mul(0x9e37_79b9)),
                );
                if cfg.lines > 1 {
                    line.advantage = Some(Box::new(advantage_histogram()));
                }
                line
            })
            .collect();
        Ok(Session {
            protocol,
            symbols: cfg.symbols,
            rest_base,
            engine,
            policy: cfg.policy,
            drives: true,
            lines,
            arbiter,
            line: 0,
            held: Vec::new(),
            next_quiet_check: 0,
            rest_queue: VecDeque::new(),
            rest_inflight: None,
            rest_pause_until: 0,
            resync: Vec::new(),
            resubscribing: Vec::new(),
            stats: SessionStats::default(),
        })
    }

    /// A session fed from a capture: the records say what happened (connects, frames, REST
    /// bodies, disconnects) and the session asks for nothing ([`Session::poll_transmit`] and
    /// the other outputs stay empty). `symbol` is the connection's symbol where the venue
    /// needs one (Gemini v1).
    pub fn recorded(
        venue: Venue,
        registry: InstrumentRegistry,
        symbol: Option<&str>,
        ids: std::ops::Range<u32>,
    ) -> Result<Session, SessionError> {
        Session::recorded_lines(venue, registry, symbol, ids, 1)
    }

    /// [`Session::recorded`] for a capture of `lines` redundant connections: the arbiter
    /// judges the recorded frames in their recorded order and times, as it did live.
    pub fn recorded_lines(
        venue: Venue,
        registry: InstrumentRegistry,
        symbol: Option<&str>,
        ids: std::ops::Range<u32>,
        lines: usize,
    ) -> Result<Session, SessionError> {
        let mut cfg =
            SessionConfig::new(venue, symbol.into_iter().map(str::to_owned).collect(), registry);
        cfg.lines = lines;
        let mut s = Session::new(cfg, ids)?;
        s.drives = false;
        s.rest_base = None;
        Ok(s)
    }

    /// The largest array window a book grows to, in ticks per side
    /// ([`Engine::with_window_ticks`]); before the first book is made.
    pub fn with_window_ticks(mut self, ticks: usize) -> Self {
        self.engine = self.engine.with_window_ticks(ticks);
        self
    }

    /// Every book publishes its top `levels` per side ([`Engine::with_depth`]); before the
    /// first book is made.
    pub fn with_depth(mut self, levels: usize) -> Self {
        self.engine = self.engine.with_depth(levels);
        self
    }

    /// Reads frames with `parser` ([`ScanControls::set_parser`]).
    pub fn with_parser(mut self, parser: Parser) -> Self {
        self.engine.adapter_mut().set_parser(parser);
        self
    }

    /// Stamps parse times with `now` ([`Engine::with_clock`]): `|| 0` for a byte-for-byte
    /// deterministic stream.
    pub fn with_clock(mut self, now: fn() -> u64) -> Self {
        self.engine = self.engine.with_clock(now);
        self
    }

    /// The venue.
    pub fn venue(&self) -> Venue {
        self.engine.adapter().venue()
    }

    /// The venue's transport facts.
    pub fn protocol(&self) -> &'static Protocol {
        self.protocol
    }

    /// The symbols this session subscribes.
    pub fn symbols(&self) -> &[String] {
        &self.symbols
    }

    /// The policy.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The engine (books, counters).
    pub fn engine(&self) -> &Engine<AnyAdapter> {
        &self.engine
    }

    /// The instrument table the session's engine resolves new symbols through.
    pub fn registry_mut(&mut self) -> &mut InstrumentRegistry {
        self.engine.adapter_mut().symbols_mut().registry_mut()
    }

    /// The engine, taken out of the session (a finished replay's books).
    pub fn into_engine(self) -> Engine<AnyAdapter> {
        self.engine
    }

    /// The first instrument id of this session's books.
    pub fn base(&self) -> InstrumentId {
        self.engine.instrument_base()
    }

    /// What happened so far (on every line).
    pub fn stats(&self) -> &SessionStats {
        &self.stats
    }

    /// How many lines (redundant connections) the session has: 1 unless asked for more.
    pub fn lines(&self) -> usize {
        self.lines.len()
    }

    /// What happened on line `line` (a copy: the histogram is cloned).
    pub fn line_stats(&self, line: usize) -> Option<LineStats> {
        let l = self.lines.get(line)?;
        Some(LineStats {
            connects: l.connects,
            connect_failures: l.connect_failures,
            disconnects: l.disconnects,
            stale: l.stale,
            messages: l.messages,
            arbiter: self.arbiter.as_ref().map(|a| a.counts(line)).unwrap_or_default(),
            advantage: l.advantage.as_deref().cloned().unwrap_or_else(advantage_histogram),
            last_error: l.last_error.clone(),
        })
    }

    /// Counts a record the shell's recorder could not take.
    pub fn note_record_dropped(&mut self) {
        self.stats.records_dropped += 1;
    }

    /// Whether a connection (any line) is open.
    pub fn is_open(&self) -> bool {
        self.lines.iter().any(|l| l.conn == Conn::Open)
    }

    /// Whether line `line`'s connection is open.
    pub fn is_open_on(&self, line: usize) -> bool {
        self.lines.get(line).is_some_and(|l| l.conn == Conn::Open)
    }

    fn others_open(&self, line: usize) -> bool {
        self.lines.iter().enumerate().any(|(i, l)| i != line && l.conn == Conn::Open)
    }

    // ---- inputs -------------------------------------------------------------------------

    /// `true` when a connection should be started now (not connected, backoff over). The
    /// session then counts it as under way until [`Session::handle_connected`] or
    /// [`Session::handle_disconnected`].
    pub fn poll_connect(&mut self, now: u64) -> bool {
        self.poll_connect_on(0, now)
    }

    /// [`Session::poll_connect`] for line `line`.
    pub fn poll_connect_on(&mut self, line: usize, now: u64) -> bool {
        let drives = self.drives;
        let timeout = ns(self.policy.handshake_timeout);
        let Some(l) = self.lines.get_mut(line) else { return false };
        match l.conn {
            Conn::Idle { next_attempt } if drives && now >= next_attempt => {
                l.conn = Conn::Connecting { deadline: now.saturating_add(timeout) };
                true
            }
            _ => false,
        }
    }

    /// The attempt [`Session::poll_connect`] started could not begin yet (the host's address
    /// is still being looked up): it is due again at once, not counted as a failure.
    pub fn retry_connect(&mut self) {
        self.retry_connect_on(0);
    }

    /// [`Session::retry_connect`] for line `line`.
    pub fn retry_connect_on(&mut self, line: usize) {
        if let Some(l) = self.lines.get_mut(line) {
            if matches!(l.conn, Conn::Connecting { .. }) {
                l.conn = Conn::Idle { next_attempt: 0 };
            }
        }
    }

    /// The request [`Session::poll_request`] gave could not begin yet (the REST host's
    /// address is still being looked up): it is asked for again, not counted as a failure.
    pub fn retry_request(&mut self) {
        if let Some(s) = self.rest_inflight.take() {
            self.rest_queue.push_front(s);
        }
    }

    /// The WebSocket opened: subscriptions are queued ([`Session::poll_transmit`]), and for a
    /// venue with REST snapshots, one request per symbol ([`Session::poll_request`]).
    pub fn handle_connected(&mut self, now: u64) {
        self.handle_connected_on(0, now);
    }

    /// [`Session::handle_connected`] for line `line`. While another line carries the books,
    /// only the books not synced are asked for over REST.
    pub fn handle_connected_on(&mut self, line: usize, now: u64) {
        let others = self.others_open(line);
        let Some(l) = self.lines.get_mut(line) else { return };
        l.conn = Conn::Open;
        l.connects += 1;
        l.last_rx = now;
        l.got_data = false;
        l.close = None;
        l.transmit.clear();
        l.requests.clear();
        self.stats.connects += 1;
        if !others {
            self.resubscribing.clear();
            self.rest_inflight = None;
            self.rest_queue.clear();
        }
        if !self.drives {
            return;
        }
        let symbols: Vec<&str> = self.symbols.iter().map(String::as_str).collect();
        let l = &mut self.lines[line];
        for msg in self.engine.adapter().subscribe_messages(&symbols) {
            l.requests.push_back(now);
            l.transmit.push_back(msg);
        }
        l.next_keepalive = match self.protocol.keepalive {
            Some(k) => now.saturating_add(ns(k.every)),
            None => u64::MAX,
        };
        if self.rest_base.is_some() {
            if !others {
                self.rest_queue = self.symbols.iter().cloned().collect();
            } else {
                // The other line carries the synced books: only the others need a snapshot.
                for s in &self.symbols {
                    let synced =
                        self.engine.symbols().find(s.as_bytes()).and_then(|i| self.engine.state(i))
                            == Some(BookState::Synced);
                    let queued = self.rest_queue.iter().any(|q| q.eq_ignore_ascii_case(s))
                        || self.rest_inflight.as_deref().is_some_and(|q| q.eq_ignore_ascii_case(s));
                    if !synced && !queued {
                        self.rest_queue.push_back(s.clone());
                    }
                }
            }
        }
    }

    /// One received WebSocket message: parsed, applied, published into `sink`. A book that
    /// lost sync is resubscribed, queued for a REST snapshot, or costs the connection, as the
    /// venue and the policy allow. Errors are counted and returned for logging.
    pub fn handle_frame(
        &mut self,
        frame: &[u8],
        now: u64,
        sink: &mut impl Sink,
    ) -> Result<(), VenueError> {
        self.handle_frame_on(0, frame, now, sink)
    }

    /// [`Session::handle_frame`] for line `line`. With redundant lines, the arbiter first
    /// decides whether this copy is the one the books take ([`arbiter`]).
    pub fn handle_frame_on(
        &mut self,
        line: usize,
        frame: &[u8],
        now: u64,
        sink: &mut impl Sink,
    ) -> Result<(), VenueError> {
        let Some(l) = self.lines.get_mut(line) else { return Ok(()) };
        l.last_rx = now;
        if let Some(k) = self.protocol.keepalive {
            if frame == k.reply.as_bytes() {
                // The answer to our keep-alive: not market data.
                return Ok(());
            }
        }
        l.messages += 1;
        if !l.got_data {
            // A connection that delivers resets the backoff.
            l.got_data = true;
            l.backoff = self.policy.backoff_min;
        }
        self.stats.messages += 1;
        self.stats.bytes += frame.len() as u64;
        self.line = line;
        if let Some(arbiter) = self.arbiter.as_mut() {
            let mut open = [false; MAX_LINES];
            for (o, l) in open.iter_mut().zip(&self.lines) {
                *o = l.conn == Conn::Open;
            }
            let engine = &self.engine;
            let synced = |key: &[u8]| {
                engine.symbols().find(key).and_then(|s| engine.state(s)) == Some(BookState::Synced)
            };
            let fill_wait = ns(self.policy.fill_wait);
            let n = self.lines.len();
            match arbiter.judge(line, frame, now, &open[..n], fill_wait, synced) {
                Verdict::Apply => {}
                Verdict::Flush => {
                    // A gap given up: the held messages first, the adapter resyncs the book.
                    self.apply_held(now, sink);
                }
                Verdict::Duplicate { advantage } => {
                    if let Some((winner, dt)) = advantage {
                        if let Some(h) =
                            self.lines.get_mut(winner).and_then(|w| w.advantage.as_deref_mut())
                        {
                            h.saturating_record(dt.max(1));
                        }
                    }
                    return Ok(());
                }
                Verdict::Ahead | Verdict::OtherLine => return Ok(()),
                Verdict::Resync => {
                    // A message the lines in front lost: the book resyncs.
                    let idx = arbiter.lost_book().and_then(|k| self.engine.symbols().find(k));
                    if let Some(idx) = idx {
                        if self.drives {
                            let mut tap = Tap { inner: sink, resync: &mut self.resync };
                            self.engine.lose_sync(idx, now, &mut tap);
                            self.after_message(now);
                        } else {
                            self.engine.lose_sync(idx, now, sink);
                        }
                    }
                    if let Some(a) = &self.arbiter {
                        self.stats.unfilled_gaps = a.unfilled();
                    }
                    return Ok(());
                }
            }
        }
        // A message the line in front lost was just put back in its place: this frame and
        // the ones after it are applied once more, and answer what the book waited on.
        let engine = &mut self.engine;
        let repair = self
            .arbiter
            .as_mut()
            .and_then(|a| a.take_repair())
            .and_then(|k| engine.symbols().find(k));
        if let Some(idx) = repair {
            self.engine.put_right(idx);
        }
        if self.arbiter.is_some() {
            let adapter = self.engine.adapter_mut();
            adapter.set_line(line);
            adapter.set_repeating(repair.is_some());
        }
        let r = self.apply_frame(frame, now, sink);
        if self.arbiter.is_some() {
            // Messages another line delivered ahead of the gap this one filled.
            self.apply_held(now, sink);
            if let Some(a) = &self.arbiter {
                self.stats.unfilled_gaps = a.unfilled();
            }
        }
        r
    }

    /// Applies the messages the arbiter gives back ([`Arbiter::next_held`]).
    fn apply_held(&mut self, now: u64, sink: &mut impl Sink) {
        let mut buf = std::mem::take(&mut self.held);
        while let Some(r) = self.arbiter.as_mut().and_then(|a| a.next_held(&mut buf)) {
            let adapter = self.engine.adapter_mut();
            adapter.set_line(r.line);
            adapter.set_repeating(r.again);
            let _ = self.apply_frame(&buf, now, sink);
        }
        self.engine.adapter_mut().set_repeating(false);
        self.held = buf;
    }

    /// One frame into the engine, and what the books that lost sync in it need.
    fn apply_frame(
        &mut self,
        frame: &[u8],
        now: u64,
        sink: &mut impl Sink,
    ) -> Result<(), VenueError> {
        let r = if self.drives {
            let mut tap = Tap { inner: sink, resync: &mut self.resync };
            self.engine.handle_frame(frame, now, &mut tap)
        } else {
            self.engine.handle_frame(frame, now, sink)
        };
        if r.is_err() {
            self.stats.errors += 1;
        }
        if self.drives {
            self.after_message(now);
        }
        r
    }

    /// A control frame (ping, pong) arrived: the feed is alive.
    pub fn handle_activity(&mut self, now: u64) {
        self.handle_activity_on(0, now);
    }

    /// [`Session::handle_activity`] for line `line`.
    pub fn handle_activity_on(&mut self, line: usize, now: u64) {
        if let Some(l) = self.lines.get_mut(line) {
            l.last_rx = now;
        }
    }

    /// The server sent a close frame with `code` (`None`: no code), counted by class.
    pub fn handle_close_frame(&mut self, code: Option<u16>) {
        let class = CloseClass::of(code.unwrap_or(1005));
        self.stats.closes[class.index()] += 1;
    }

    /// The answer to a request from [`Session::poll_request`] (or a recorded REST body):
    /// `200` is applied; `429`/`418` and other failures pause requests (`Retry-After`
    /// honoured) and ask again for the same symbol.
    pub fn handle_http(
        &mut self,
        url: &str,
        response: HttpResponse<'_>,
        now: u64,
        sink: &mut impl Sink,
    ) -> Result<(), VenueError> {
        let symbol = self.rest_inflight.take();
        if response.status == 200 {
            self.stats.rest_ok += 1;
            let r = if self.drives {
                let mut tap = Tap { inner: sink, resync: &mut self.resync };
                self.engine.handle_http(url, response.body, now, &mut tap)
            } else {
                self.engine.handle_http(url, response.body, now, sink)
            };
            if r.is_err() {
                self.stats.errors += 1;
            }
            if self.drives {
                self.after_message(now);
            }
            return r;
        }
        let wait = response.retry_after.unwrap_or(if response.status == 418 { 60 } else { 1 });
        match response.status {
            429 => self.stats.rest_throttled += 1,
            418 => self.stats.rest_banned += 1,
            _ => self.stats.rest_failed += 1,
        }
        self.stats.last_error = Some(format!("REST {url}: status {}", response.status));
        self.rest_pause_until = now.saturating_add(wait.max(1).saturating_mul(1_000_000_000));
        if let Some(s) = symbol {
            self.rest_queue.push_front(s);
        }
        Ok(())
    }

    /// A request from [`Session::poll_request`] failed before an answer (connect, TLS, a
    /// timeout): requests pause for the current backoff and the symbol is asked for again.
    pub fn handle_http_failed(&mut self, url: &str, why: &str, now: u64) {
        self.stats.rest_failed += 1;
        self.stats.last_error = Some(format!("REST {url}: {why}"));
        let backoff = self.lines.first().map_or(self.policy.backoff_min, |l| l.backoff);
        self.rest_pause_until = now.saturating_add(ns(backoff));
        if let Some(s) = self.rest_inflight.take() {
            self.rest_queue.push_front(s);
        }
    }

    /// The connection is gone (closed, reset, stale, given up) or an attempt failed before
    /// it opened. An open connection's books become `Stale` (published) and wait for the next
    /// connection's snapshots; the next attempt waits for the backoff (doubled, capped, with
    /// jitter).
    pub fn handle_disconnected(&mut self, why: &str, now: u64, sink: &mut impl Sink) {
        self.handle_disconnected_on(0, why, now, sink);
    }

    /// [`Session::handle_disconnected`] for line `line`. While another line is open it
    /// carries the books on: nothing goes stale and nothing resyncs; only the last line's
    /// loss makes the books `Stale`.
    pub fn handle_disconnected_on(
        &mut self,
        line: usize,
        why: &str,
        now: u64,
        sink: &mut impl Sink,
    ) {
        if line >= self.lines.len() {
            return;
        }
        let others = self.others_open(line);
        let drives = self.drives;
        let l = &mut self.lines[line];
        let was_open = l.conn == Conn::Open;
        l.close = None;
        l.transmit.clear();
        l.requests.clear();
        if was_open || !drives {
            l.disconnects += u64::from(was_open);
            self.stats.disconnects += u64::from(was_open);
            if others {
                if let Some(a) = self.arbiter.as_mut() {
                    a.line_lost(line);
                }
                // Books resubscribed on this line are asked for again on another.
                let lost: Vec<SymbolIdx> = self
                    .resubscribing
                    .iter()
                    .filter(|(_, _, on)| *on == line)
                    .map(|(s, _, _)| *s)
                    .collect();
                self.resubscribing.retain(|(_, _, on)| *on != line);
                if let Some(other) =
                    (0..self.lines.len()).find(|&i| i != line && self.lines[i].conn == Conn::Open)
                {
                    let base = self.engine.instrument_base();
                    self.resync.extend(lost.iter().map(|s| base.wrapping_add(*s)));
                    self.line = other;
                    if drives {
                        self.after_message(now);
                    }
                }
            } else {
                self.rest_queue.clear();
                self.rest_inflight = None;
                self.resubscribing.clear();
                self.resync.clear();
                // A recorded disconnect is a fact even without a recorded connect (tardis
                // captures keep disconnects only).
                self.engine.disconnected(now, sink);
                if let Some(a) = self.arbiter.as_mut() {
                    a.reset();
                }
            }
        } else {
            l.connect_failures += 1;
            self.stats.connect_failures += 1;
        }
        let l = &mut self.lines[line];
        if !why.is_empty() {
            l.last_error = Some(why.to_owned());
            self.stats.last_error = Some(why.to_owned());
        }
        let delay = l.backoff.mul_f64(l.jitter());
        l.conn = Conn::Idle { next_attempt: now.saturating_add(ns(delay)) };
        l.backoff = (l.backoff * 2).min(self.policy.backoff_max);
    }

    /// Time has passed: a handshake or a resubscribed book past its deadline, or a feed
    /// silent past `stale_after`, gives the connection up ([`Session::poll_close`]); a due
    /// keep-alive is queued. Every line is looked at.
    pub fn handle_timeout(&mut self, now: u64) {
        if !self.drives {
            return;
        }
        self.check_resubscribed();
        for i in 0..self.lines.len() {
            let late = self.resubscribing.iter().any(|(_, by, on)| *on == i && now > *by);
            let stale_after = ns(self.policy.stale_after);
            let l = &mut self.lines[i];
            if l.close.is_some() {
                continue;
            }
            match l.conn {
                Conn::Idle { .. } => {}
                Conn::Connecting { deadline } => {
                    if now > deadline {
                        l.close = Some("timed out connecting".into());
                    }
                }
                Conn::Open => {
                    if late {
                        self.stats.resync_reconnects += 1;
                        l.close =
                            Some("timed out: a resubscribed book did not resync in time".into());
                        continue;
                    }
                    if now.saturating_sub(l.last_rx) > stale_after {
                        self.stats.stale += 1;
                        l.stale += 1;
                        l.close = Some("timed out: feed silent (stale)".into());
                        continue;
                    }
                    if let Some(k) = self.protocol.keepalive {
                        if now >= l.next_keepalive {
                            l.next_keepalive = now.saturating_add(ns(k.every));
                            l.transmit.push_back(k.text.to_owned());
                        }
                    }
                }
            }
        }
    }

    /// Time has passed, for the books: on a venue that sends whole books on a schedule
    /// ([`Protocol::book_quiet_after`], Hyperliquid), a book not sent for that long is marked
    /// `Stale` (published) while the connection stays up; the next one makes it whole. Looks
    /// at most once a second; the shell calls it beside [`Session::handle_timeout`].
    ///
    /// With redundant lines arbitrated by content, it also invalidates (and resyncs) a book
    /// whose checks failed for longer than the fill wait with no message since
    /// ([`Engine::expire_failed_checks`]): the other line's copy never came.
    pub fn expire_quiet_books(&mut self, now: u64, sink: &mut impl Sink) {
        let quiet = self.protocol.book_quiet_after;
        if !self.drives || now < self.next_quiet_check {
            return;
        }
        if quiet.is_none() && self.engine.check_grace() == 0 {
            return;
        }
        self.next_quiet_check = now.saturating_add(QUIET_CHECK_NS);
        if self.engine.check_grace() > 0 {
            let mut tap = Tap { inner: &mut *sink, resync: &mut self.resync };
            if self.engine.expire_failed_checks(now, &mut tap) > 0 {
                // Resynced on an open line.
                if let Some(l) = self.lines.iter().position(|l| l.conn == Conn::Open) {
                    self.line = l;
                }
                self.after_message(now);
            }
        }
        let Some(quiet) = quiet else { return };
        if !self.is_open() {
            return;
        }
        let marked = self.engine.expire_quiet_books(now.saturating_sub(ns(quiet)), now, sink);
        self.stats.quiet_books += marked as u64;
    }

    // ---- outputs ------------------------------------------------------------------------

    /// The next text frame to send (subscriptions, resubscriptions, pings), in order.
    pub fn poll_transmit(&mut self) -> Option<String> {
        self.poll_transmit_on(0)
    }

    /// [`Session::poll_transmit`] for line `line`.
    pub fn poll_transmit_on(&mut self, line: usize) -> Option<String> {
        self.lines.get_mut(line)?.transmit.pop_front()
    }

    /// The next REST GET to make (a book snapshot), when one is due: one at a time, none
    /// while paused after a failure. The answer goes to [`Session::handle_http`] or
    /// [`Session::handle_http_failed`].
    pub fn poll_request(&mut self, now: u64) -> Option<String> {
        let open = self.lines.iter().any(|l| l.conn == Conn::Open && l.close.is_none());
        if !open || self.rest_inflight.is_some() || now < self.rest_pause_until {
            return None;
        }
        let rest = self.protocol.rest_snapshot?;
        let base = self.rest_base.as_deref()?;
        let symbol = self.rest_queue.pop_front()?;
        let url = rest.url(base, &symbol);
        self.rest_inflight = Some(symbol);
        Some(url)
    }

    /// Why the connection should be given up, once: the shell closes it and then calls
    /// [`Session::handle_disconnected`].
    pub fn poll_close(&mut self) -> Option<String> {
        self.poll_close_on(0)
    }

    /// [`Session::poll_close`] for line `line`.
    pub fn poll_close_on(&mut self, line: usize) -> Option<String> {
        self.lines.get_mut(line)?.close.take()
    }

    /// The next time [`Session::handle_timeout`] (or [`Session::poll_connect`],
    /// [`Session::poll_request`]) has something to do, if any, on any line.
    pub fn poll_timeout(&self) -> Option<u64> {
        if !self.drives {
            return None;
        }
        let mut best: Option<u64> = None;
        for (i, l) in self.lines.iter().enumerate() {
            let t = match l.conn {
                Conn::Idle { next_attempt } => next_attempt,
                Conn::Connecting { deadline } => deadline.saturating_add(1),
                Conn::Open => {
                    let mut t =
                        l.last_rx.saturating_add(ns(self.policy.stale_after)).saturating_add(1);
                    t = t.min(l.next_keepalive);
                    if self.protocol.book_quiet_after.is_some() {
                        t = t.min(self.next_quiet_check);
                    }
                    if let Some(by) = self
                        .resubscribing
                        .iter()
                        .filter(|(_, _, on)| *on == i)
                        .map(|(_, by, _)| by.saturating_add(1))
                        .min()
                    {
                        t = t.min(by);
                    }
                    if !self.rest_queue.is_empty() && self.rest_inflight.is_none() {
                        t = t.min(self.rest_pause_until);
                    }
                    t
                }
            };
            best = Some(best.map_or(t, |b| b.min(t)));
        }
        best
    }

    // ---- policy -------------------------------------------------------------------------

    /// Forgets resubscribed books that are synced again.
    fn check_resubscribed(&mut self) {
        if self.resubscribing.is_empty() {
            return;
        }
        let engine = &self.engine;
        self.resubscribing.retain(|(s, _, _)| engine.state(*s) != Some(BookState::Synced));
    }

    /// What the books that lost sync in the last message need (resubscriptions go out on
    /// the line the message came from).
    fn after_message(&mut self, now: u64) {
        self.check_resubscribed();
        let line = self.line;
        if self.resync.is_empty() || !self.is_open_on(line) {
            self.resync.clear();
            return;
        }
        let base = self.engine.instrument_base();
        if self.rest_base.is_some() {
            // Snapshots over REST: queue a new one for each book.
            for id in std::mem::take(&mut self.resync) {
                let idx = id.wrapping_sub(base);
                let Some(info) = self.engine.symbols().get(idx) else { continue };
                let key = &info.key;
                let queued = self.rest_queue.iter().any(|s| s.eq_ignore_ascii_case(key))
                    || self.rest_inflight.as_deref().is_some_and(|s| s.eq_ignore_ascii_case(key));
                if !queued {
                    self.rest_queue.push_back(key.clone());
                }
            }
            return;
        }
        // Snapshots over the WebSocket: resubscribe each book where the venue allows it,
        // else a fresh connection (new snapshots for every book).
        let mut reconnect = !self.policy.resubscribe;
        let mut why = String::from("a book lost sync: reconnecting for fresh snapshots");
        for id in std::mem::take(&mut self.resync) {
            let idx = id.wrapping_sub(base);
            if reconnect || self.resubscribing.iter().any(|(r, _, _)| *r == idx) {
                continue;
            }
            let Some(info) = self.engine.symbols().get(idx) else { continue };
            // Written for the line it goes out on (its own channel ids).
            let key = info.key.clone();
            self.engine.adapter_mut().set_line(line);
            let Some(msgs) = self.engine.adapter().resubscribe_book_messages(&key) else {
                reconnect = true;
                continue;
            };
            let budget =
                self.policy.subscription_budget.or(self.engine.adapter().subscription_budget());
            let l = &mut self.lines[line];
            if let Some((most, window)) = budget {
                let window = ns(window);
                while l.requests.front().is_some_and(|t| now.saturating_sub(*t) >= window) {
                    l.requests.pop_front();
                }
                if l.requests.len() + msgs.len() > most {
                    // Past the venue's limit it would refuse or disconnect: a new connection
                    // starts a new count.
                    why = format!(
                        "a book lost sync and this connection's {most} subscription requests per {:?} are spent: reconnecting",
                        Duration::from_nanos(window)
                    );
                    reconnect = true;
                    continue;
                }
                l.requests.extend(std::iter::repeat_n(now, msgs.len()));
            }
            // No messages: the book's snapshot is already on its way (a subscription not yet
            // answered); it is still held to the same deadline.
            self.stats.resync_resubscribes += u64::from(!msgs.is_empty());
            l.transmit.extend(msgs);
            self.resubscribing.push((
                idx,
                now.saturating_add(ns(self.policy.resubscribe_timeout)),
                line,
            ));
        }
        if reconnect {
            self.stats.resync_reconnects += 1;
            self.lines[line].close = Some(why);
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

#[cfg(test)]
mod tests;

//! The single-threaded loop body: venue messages → books → published events.
//!
//! An [`Engine`] owns one venue [`Adapter`] (one connection's worth of symbols), a
//! [`Ladder`] per symbol and its [`BookState`]. For every received frame it:
//!
//! 1. asks the adapter to parse it ([`Parsed`]: book messages, trades, gaps);
//! 2. marks the books a gap touched `Resyncing` and tells the adapter to wait for a snapshot;
//! 3. applies each book message completely, truncates to the venue's depth, verifies the
//!    venue's checksum, and checks the book is not crossed; any failure marks that book
//!    `Resyncing` (other symbols keep flowing);
//! 4. publishes trades (duplicates removed), derivatives data (funding, mark and index, open
//!    interest, liquidations: [`Parsed::derivs`]) and then, once per symbol per frame, the BBO if it
//!    changed and the book is `Synced`. A book that is not `Synced` publishes no BBO at all,
//!    only the state change, so no consumer ever sees a half-applied, crossed or unverified
//!    book marked valid.
//!
//! Nothing here allocates in steady state: the parse output, the books and the checksum text
//! keep their capacity.

use crate::book::checksum::{Checksummer, LevelMemo};
use crate::book::{Applied, Ladder, Side};
use crate::event::{Bbo, BookState, Event, InstrumentId, Stamps};
use crate::ring::Publisher;
use crate::venue::{
    Adapter, BookAction, Checksum, GapScope, Parsed, SymbolIdx, Symbols, VenueError,
};

/// Where published events go: the ring's [`Publisher`], or a `Vec` in tests.
pub trait Sink {
    /// Takes one event.
    fn publish(&mut self, event: Event);
}

impl Sink for Publisher {
    #[inline]
    fn publish(&mut self, event: Event) {
        // A full ring drops and counts (see `Publisher::publish_at`); the engine never waits.
        let _ = Publisher::publish(self, event);
    }
}

impl Sink for Vec<Event> {
    #[inline]
    fn publish(&mut self, event: Event) {
        self.push(event);
    }
}

/// Counters of one symbol's book.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BookStats {
    /// Book messages applied (snapshots and updates).
    pub book_messages: u64,
    /// Snapshots applied.
    pub snapshots: u64,
    /// Sequence gaps detected.
    pub gaps: u64,
    /// Times the book went from `Synced` to `Resyncing`.
    pub resyncs: u64,
    /// Checksums that matched.
    pub checksum_ok: u64,
    /// Checksums that did not match (the book was then invalidated).
    pub checksum_failed: u64,
    /// Failed checks (a checksum that did not match, a crossed book, a BitMEX row that
    /// contradicted the book) while another line's copy of a message the line in front lost
    /// could still put the book right ([`Engine::set_check_grace`]): not invalidated.
    pub checks_waited: u64,
    /// Messages after which the book was crossed (the book was then invalidated).
    pub crossed_detected: u64,
    /// BBOs published as valid while crossed: always 0 (checked when publishing).
    pub crossed_published: u64,
    /// Deletes of levels the book did not have (a counted no-op).
    pub delete_missing: u64,
    /// Levels with a negative size (rejected, book invalidated).
    pub rejected_levels: u64,
    /// Updates ignored because the book was waiting for a snapshot.
    pub skipped_resyncing: u64,
    /// Messages whose parse failed part-way (book invalidated).
    pub broken: u64,
    /// BBO events published.
    pub bbo_published: u64,
    /// Trades published.
    pub trades: u64,
    /// Trades dropped as duplicates of a recent trade id.
    pub trades_duplicate: u64,
    /// Derivatives records published (funding, mark and index, open interest, liquidations).
    pub derivatives: u64,
    /// Times the book was marked `Stale` because its venue stopped sending it
    /// ([`Engine::expire_quiet_books`]).
    pub went_quiet: u64,
}

/// Counters of errors by kind (see [`VenueError::name`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ErrorCounts {
    /// Malformed JSON.
    pub json: u64,
    /// Missing fields or wrong types.
    pub shape: u64,
    /// Numbers that are not valid prices or sizes.
    pub number: u64,
    /// Unknown message types.
    pub unknown_type: u64,
    /// Messages for unknown symbols.
    pub unknown_symbol: u64,
    /// Error messages from the venue.
    pub venue_error: u64,
    /// Oversized frames.
    pub too_large: u64,
}

impl ErrorCounts {
    fn count(&mut self, e: &VenueError) {
        let c = match e {
            VenueError::Json { .. } => &mut self.json,
            VenueError::Shape(_) => &mut self.shape,
            VenueError::Number { .. } => &mut self.number,
            VenueError::UnknownType => &mut self.unknown_type,
            VenueError::UnknownSymbol => &mut self.unknown_symbol,
            VenueError::VenueReported => &mut self.venue_error,
            VenueError::TooLarge(_) => &mut self.too_large,
        };
        *c += 1;
    }

    /// All errors.
    pub fn total(&self) -> u64 {
        self.json
            + self.shape
            + self.number
            + self.unknown_type
            + self.unknown_symbol
            + self.venue_error
            + self.too_large
    }
}

/// Counters of the whole engine.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EngineStats {
    /// Frames handled (WebSocket messages).
    pub frames: u64,
    /// REST bodies handled.
    pub http: u64,
    /// Bytes of frames and bodies.
    pub bytes: u64,
    /// Control frames (heartbeats, acknowledgements, tickers).
    pub control: u64,
    /// Book messages skipped as already covered by the snapshot.
    pub stale: u64,
    /// Book messages held or dropped while their symbol waits for a snapshot.
    pub waiting: u64,
    /// Errors by kind.
    pub errors: ErrorCounts,
    /// Venue checksums not verified (see [`Engine::with_checksums`]).
    pub checksums_skipped: u64,
    /// Frames that follow another venue's rules ([`Parsed::foreign`]): the venue chosen for
    /// the capture is likely wrong.
    pub foreign_frames: u64,
    /// Books whose learned tick proved too coarse and was refined (the book rescaled exactly,
    /// the instrument announced again).
    pub ticks_refined: u64,
    /// Symbols the adapter met beyond this engine's block of instrument ids
    /// ([`Engine::with_instrument_ids`]): they get no book and publish nothing.
    pub symbols_beyond_ids: u64,
    /// Derivatives entries for instruments this connection does not know (skipped).
    pub derivatives_unknown_symbol: u64,
    /// Frames the venue's scanner did not recognise exactly and simd-json read instead
    /// ([`Parsed::scan_fallback`]; 0 with `--parser simd-json`).
    pub scanner_fallbacks: u64,
}

const RECENT_TRADES: usize = 64;

/// One symbol's book and bookkeeping.
#[derive(Debug)]
struct Book {
    ladder: Ladder,
    state: BookState,
    /// The last BBO published as valid; `None` after the book left `Synced`.
    published: Option<Bbo>,
    /// Touched by the frame being handled.
    dirty: bool,
    /// A book message was applied since the top N was last published.
    depth_touched: bool,
    /// Levels per side of the top N published (0: none).
    depth: usize,
    /// The top N last published: `(price ticks, size lots)`, best first.
    depth_last: [Vec<[i64; 2]>; 2],
    /// The exchange time of the last book message of the frame.
    exch_ts: u64,
    /// When the last book message was applied (local ns).
    last_applied: u64,
    stats: BookStats,
    recent_trades: [u64; RECENT_TRADES],
    recent_at: usize,
    /// This book's checksum levels as last rendered (reused while unchanged).
    checksum_memo: LevelMemo,
    /// Since when its checks fail within the grace (local ns); its BBO and top N are not
    /// published meanwhile.
    failing_since: Option<u64>,
    /// The last check that failed within the grace was the crossed book (else a checksum).
    failing_crossed: bool,
    /// Since when a message that contradicted the book waits to be put right
    /// ([`BookMsg::contradicts`](crate::venue::BookMsg::contradicts),
    /// [`Engine::put_right`]); unlike a failed checksum, a later message that fits does not
    /// clear it (it says nothing of the contradicted levels).
    doubt_since: Option<u64>,
}

impl Book {
    /// Whether this book, whose check just failed, waits to be put right (within `grace`),
    /// rather than being invalidated. A snapshot never waits.
    fn wait_on_check(&mut self, grace: u64, snapshot: bool, local_ts: u64, crossed: bool) -> bool {
        if grace == 0 || snapshot {
            return false;
        }
        let since = *self.failing_since.get_or_insert(local_ts);
        if local_ts.saturating_sub(since) > grace {
            self.failing_since = None;
            return false;
        }
        self.stats.checks_waited += 1;
        self.failing_crossed = crossed;
        true
    }

    fn new(window_ticks: usize) -> Self {
        Book {
            ladder: Ladder::growable(window_ticks),
            state: BookState::Stale,
            published: None,
            dirty: false,
            depth_touched: false,
            depth: 0,
            depth_last: [Vec::new(), Vec::new()],
            exch_ts: 0,
            last_applied: 0,
            stats: BookStats::default(),
            recent_trades: [0; RECENT_TRADES],
            recent_at: 0,
            checksum_memo: LevelMemo::default(),
            failing_since: None,
            doubt_since: None,
            failing_crossed: false,
        }
    }

    fn bbo(&self) -> Bbo {
        let bid = self.ladder.best_bid();
        let ask = self.ladder.best_ask();
        Bbo {
            bid_tick: bid.map_or(0, |l| l.px_tick),
            bid_lots: bid.map_or(0, |l| l.qty_lots),
            ask_tick: ask.map_or(0, |l| l.px_tick),
            ask_lots: ask.map_or(0, |l| l.qty_lots),
        }
    }
}

/// Why a book stopped being trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Invalid {
    Gap,
    Checksum,
    Crossed,
    Broken,
}

/// The engine for one venue connection. See the [module docs](self).
pub struct Engine<A: Adapter> {
    adapter: A,
    parsed: Parsed,
    books: Vec<Book>,
    /// The books marked `dirty` by the frame being handled: only they can have a new BBO, so
    /// a frame costs the same however many books the engine holds.
    touched: Vec<usize>,
    checksummer: Checksummer,
    stats: EngineStats,
    now: fn() -> u64,
    base_id: InstrumentId,
    /// How many ids from `base_id` this engine may use (one per book).
    id_count: usize,
    verify_checksums: bool,
    /// How long a book's checks may fail before it is invalidated (0: not at all).
    check_grace: u64,
    /// The array window of every book this engine makes, in ticks per side.
    window_ticks: usize,
    /// Levels per side of the top N every new book publishes (0: none).
    depth_levels: usize,
    /// Some book publishes its top N (else the per-frame depth pass is skipped).
    depth_on: bool,
    /// The top N being compared with the last published, per side.
    depth_scratch: [Vec<[i64; 2]>; 2],
}

/// The most levels per side a book's published top N can have.
pub const MAX_DEPTH_LEVELS: usize = 50;

impl<A: Adapter + std::fmt::Debug> std::fmt::Debug for Engine<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("adapter", &self.adapter)
            .field("stats", &self.stats)
            .finish()
    }
}

impl<A: Adapter> Engine<A> {
    /// An engine around `adapter`, stamping parse times with the process clock.
    pub fn new(adapter: A) -> Self {
        Engine {
            adapter,
            parsed: Parsed::default(),
            books: Vec::new(),
            touched: Vec::new(),
            checksummer: Checksummer::new(),
            stats: EngineStats::default(),
            now: crate::clock::now_ns,
            base_id: 0,
            id_count: usize::from(InstrumentId::MAX) + 1,
            verify_checksums: true,
            check_grace: 0,
            window_ticks: Ladder::DEFAULT_WINDOW_TICKS,
            depth_levels: 0,
            depth_on: false,
            depth_scratch: [Vec::new(), Vec::new()],
        }
    }

    /// Every book this engine makes publishes its top `levels` levels per side (at most
    /// [`MAX_DEPTH_LEVELS`]) whenever they change: [`EventKind::DepthLevel`] records for the
    /// levels that changed, then a [`EventKind::DepthEnd`] (a consumer rebuilds the top N
    /// with [`crate::consumer::Depth`]). 0 (the default) publishes none.
    ///
    /// [`EventKind::DepthLevel`]: crate::event::EventKind::DepthLevel
    /// [`EventKind::DepthEnd`]: crate::event::EventKind::DepthEnd
    pub fn with_depth(mut self, levels: usize) -> Self {
        self.depth_levels = levels.min(MAX_DEPTH_LEVELS);
        self.depth_on |= levels > 0;
        self
    }

    /// Sets the top N one book publishes (0: none), overriding [`Engine::with_depth`].
    pub fn set_depth(&mut self, symbol: SymbolIdx, levels: usize) {
        if let Some(b) = self.books.get_mut(usize::from(symbol)) {
            self.depth_on |= levels > 0;
            b.depth = levels.min(MAX_DEPTH_LEVELS);
            b.depth_last.iter_mut().for_each(|l| l.reserve(b.depth));
        }
    }

    /// Lets every book this engine makes grow its array window up to `ticks` ticks per side
    /// (see [`Ladder::growable`]: rounded up to a power of two and clamped). A book starts
    /// with a small window and sizes it from each snapshot (four times the span of its widest
    /// side, at most `ticks`); a window is resident from its allocation, 16 bytes per tick for
    /// both sides: 1 MiB for a book that reaches the default (2^16 ticks). A smaller maximum
    /// keeps memory small with many deep books; levels beyond the window are still kept
    /// exactly, in the slower overflow store.
    pub fn with_window_ticks(mut self, ticks: usize) -> Self {
        self.window_ticks = ticks;
        self
    }

    /// Verifies the venues' book checksums (Kraken, OKX, Bitfinex) when `on` (the default).
    /// Off, the checksum text is not rendered (the cost most of a Kraken update's handling):
    /// a corrupted book is then caught only by gaps and crossed books. Skipped checksums are
    /// counted in [`EngineStats::checksums_skipped`].
    pub fn with_checksums(mut self, on: bool) -> Self {
        self.verify_checksums = on;
        self
    }

    /// Lets a book's checks (its checksum, not crossed) fail for up to `ns` (local time)
    /// before the book is invalidated; 0 (the default) invalidates at the first failure. For
    /// redundant lines arbitrated by content ([`crate::session`]): when the line in front
    /// lost a message, the book is wrong until another line's copy of it is applied in its
    /// place and the messages after it again, which puts the book right. Meanwhile its BBO
    /// and top N are not published; a book still failing after `ns` is invalidated as usual.
    /// Failures within the grace are counted in [`BookStats::checks_waited`].
    pub fn set_check_grace(&mut self, ns: u64) {
        self.check_grace = ns;
    }

    /// Uses `now` (epoch ns) to stamp parse times: a fake clock in tests, or `|| 0` for a
    /// byte-for-byte deterministic stream.
    pub fn with_clock(mut self, now: fn() -> u64) -> Self {
        self.now = now;
        self
    }

    /// Numbers this engine's instruments from `base` in published events, so several engines
    /// can share one feed.
    pub fn with_instrument_base(mut self, base: InstrumentId) -> Self {
        self.base_id = base;
        self.id_count = usize::from(InstrumentId::MAX) - usize::from(base) + 1;
        self
    }

    /// Numbers this engine's instruments `ids.start..ids.end`: a book for each symbol while ids
    /// last. A symbol beyond them gets no book, publishes nothing and is counted in
    /// [`EngineStats::symbols_beyond_ids`]: ids never run into another engine's.
    pub fn with_instrument_ids(mut self, ids: std::ops::Range<u32>) -> Self {
        self.base_id = InstrumentId::try_from(ids.start).unwrap_or(InstrumentId::MAX);
        let end = ids.end.min(u32::from(InstrumentId::MAX) + 1);
        self.id_count = end.saturating_sub(u32::from(self.base_id)) as usize;
        self
    }

    /// The first instrument id of this engine's books.
    pub fn instrument_base(&self) -> InstrumentId {
        self.base_id
    }

    /// The adapter.
    pub fn adapter(&self) -> &A {
        &self.adapter
    }

    /// The adapter, mutable (to build subscribe messages or reset it).
    pub fn adapter_mut(&mut self) -> &mut A {
        &mut self.adapter
    }

    /// The symbols seen so far; their indexes are the engine's book indexes.
    pub fn symbols(&self) -> &Symbols {
        self.adapter.symbols()
    }

    /// The book of a symbol.
    pub fn book(&self, symbol: SymbolIdx) -> Option<&Ladder> {
        self.books.get(usize::from(symbol)).map(|b| &b.ladder)
    }

    /// The state of a symbol's book.
    pub fn state(&self, symbol: SymbolIdx) -> Option<BookState> {
        self.books.get(usize::from(symbol)).map(|b| b.state)
    }

    /// The counters of a symbol's book.
    pub fn book_stats(&self, symbol: SymbolIdx) -> Option<&BookStats> {
        self.books.get(usize::from(symbol)).map(|b| &b.stats)
    }

    /// The engine's counters.
    pub fn stats(&self) -> &EngineStats {
        &self.stats
    }

    /// The current best bid and offer of a symbol's book (whatever its state).
    pub fn bbo(&self, symbol: SymbolIdx) -> Option<Bbo> {
        self.books.get(usize::from(symbol)).map(Book::bbo)
    }

    /// The symbols whose books wait for a resync (live: resubscribe or fetch a snapshot).
    pub fn resyncing(&self) -> impl Iterator<Item = SymbolIdx> + '_ {
        self.books
            .iter()
            .enumerate()
            .filter(|(_, b)| b.state == BookState::Resyncing)
            .filter_map(|(i, _)| SymbolIdx::try_from(i).ok())
    }

    /// Handles one received frame. Errors are counted (see [`EngineStats::errors`]) and
    /// returned for logging; the engine stays usable.
    pub fn handle_frame(
        &mut self,
        frame: &[u8],
        local_ts: u64,
        sink: &mut impl Sink,
    ) -> Result<(), VenueError> {
        self.stats.frames += 1;
        self.stats.bytes += frame.len() as u64;
        self.parsed.clear();
        let r = self.adapter.handle_frame(frame, local_ts, &mut self.parsed);
        self.process(r, local_ts, sink)
    }

    /// Handles one REST body (a depth snapshot) fetched from `url`.
    pub fn handle_http(
        &mut self,
        url: &str,
        body: &[u8],
        local_ts: u64,
        sink: &mut impl Sink,
    ) -> Result<(), VenueError> {
        self.stats.http += 1;
        self.stats.bytes += body.len() as u64;
        self.parsed.clear();
        let r = self.adapter.handle_http(url, body, local_ts, &mut self.parsed);
        self.process(r, local_ts, sink)
    }

    /// A gap found outside the adapter (a redundant line delivered a message of the book that
    /// the line in front had lost, [`crate::session::arbiter`]): the book resyncs as after a
    /// gap the adapter finds. Returns `false`, doing nothing, when it was not synced (a resync
    /// is already under way).
    pub fn lose_sync(&mut self, symbol: SymbolIdx, local_ts: u64, sink: &mut impl Sink) -> bool {
        let i = usize::from(symbol);
        if self.books.get(i).map(|b| b.state) != Some(BookState::Synced) {
            return false;
        }
        self.invalidate(i, Invalid::Gap, local_ts, sink);
        true
    }

    /// The connection dropped: every book becomes `Stale` (published), the adapter forgets
    /// its per-connection state, and the books wait for the next connection's snapshots.
    pub fn disconnected(&mut self, local_ts: u64, sink: &mut impl Sink) {
        self.adapter.reset_connection();
        for i in 0..self.books.len() {
            self.set_state(i, BookState::Stale, local_ts, sink);
        }
    }

    /// Marks `Stale` every synced book whose last book message was applied before `before`
    /// (local ns): for a venue that sends whole books on a schedule, such a book has gone
    /// quiet (Hyperliquid's blocks stopped). Its BBO is no longer valid and its top N is
    /// voided; the next snapshot makes it whole again. Returns how many books it marked.
    pub fn expire_quiet_books(
        &mut self,
        before: u64,
        local_ts: u64,
        sink: &mut impl Sink,
    ) -> usize {
        let mut marked = 0;
        for i in 0..self.books.len() {
            let b = &mut self.books[i];
            if b.state != BookState::Synced || b.last_applied >= before {
                continue;
            }
            b.stats.went_quiet += 1;
            self.set_state(i, BookState::Stale, local_ts, sink);
            if self.books[i].depth > 0 {
                self.publish_depth(i, local_ts, sink);
            }
            marked += 1;
        }
        marked
    }

    /// Invalidates every synced book whose checks have failed for longer than the grace
    /// ([`Engine::set_check_grace`]) with no message since to put it right or fail again;
    /// returns how many. Counted as the check that failed last (a checksum, a crossed book).
    pub fn expire_failed_checks(&mut self, local_ts: u64, sink: &mut impl Sink) -> usize {
        let mut n = 0;
        for i in 0..self.books.len() {
            let b = &mut self.books[i];
            if let Some(since) = b.doubt_since {
                if b.state == BookState::Synced && local_ts.saturating_sub(since) > self.check_grace
                {
                    // No line's copy put the contradicted message right: a lost message.
                    self.invalidate(i, Invalid::Gap, local_ts, sink);
                    n += 1;
                    continue;
                }
            }
            let b = &mut self.books[i];
            let Some(since) = b.failing_since else { continue };
            if b.state != BookState::Synced || local_ts.saturating_sub(since) <= self.check_grace {
                continue;
            }
            b.failing_since = None;
            let why = if b.failing_crossed {
                b.stats.crossed_detected += 1;
                Invalid::Crossed
            } else {
                b.stats.checksum_failed += 1;
                Invalid::Checksum
            };
            self.invalidate(i, why, local_ts, sink);
            n += 1;
        }
        n
    }

    /// The arbiter put a message the line in front lost back in its place, and the messages
    /// after it are applied once more: a contradiction `symbol`'s book waited on
    /// ([`BookMsg::contradicts`](crate::venue::BookMsg::contradicts)) is answered, and its
    /// BBO and top N are published again from those messages on.
    pub fn put_right(&mut self, symbol: SymbolIdx) {
        if let Some(b) = self.books.get_mut(usize::from(symbol)) {
            b.doubt_since = None;
        }
    }

    /// Whether `symbol`'s book waits to be put right (a failed check or a contradiction
    /// within the grace, [`Engine::set_check_grace`]): synced, but publishing nothing.
    pub fn waits(&self, symbol: SymbolIdx) -> bool {
        self.books
            .get(usize::from(symbol))
            .is_some_and(|b| b.failing_since.is_some() || b.doubt_since.is_some())
    }

    /// Whether a book's failing checks may wait ([`Engine::set_check_grace`]).
    pub fn check_grace(&self) -> u64 {
        self.check_grace
    }

    /// Book `i`'s learned tick becomes the finer `tick` (rare, off the common path): every
    /// level is re-expressed exactly in it, the last BBO published with it, the checksum text
    /// is rendered afresh, a published top N is voided (it comes back whole), and the
    /// instrument is announced again before anything that uses the new tick.
    #[cold]
    fn refine(&mut self, i: usize, tick: crate::book::Step, local_ts: u64, sink: &mut impl Sink) {
        let Some(info) = self.adapter.symbols().list().get(i) else { return };
        let Some(factor) =
            info.instrument.tick.multiple_of(tick).and_then(|f| i64::try_from(f).ok())
        else {
            return;
        };
        let Ok(idx) = SymbolIdx::try_from(i) else { return };
        self.adapter.symbols_mut().refine_tick(idx, tick);
        let b = &mut self.books[i];
        let mut levels: Vec<(Side, i64, i64)> = Vec::new();
        for side in [Side::Bid, Side::Ask] {
            levels.extend(b.ladder.iter(side).map(|l| (side, l.px_tick, l.qty_lots)));
        }
        b.ladder.clear();
        let span =
            side_span_of(levels.iter().map(|&(side, px, _)| (side, px.saturating_mul(factor))));
        b.ladder.fit_window(span);
        let mut exact = true;
        for (side, px, qty) in levels {
            match px.checked_mul(factor) {
                Some(px) => {
                    b.ladder.set(side, px, qty);
                }
                None => exact = false,
            }
        }
        b.published = b.published.map(|mut bbo| {
            bbo.bid_tick = bbo.bid_tick.saturating_mul(factor);
            bbo.ask_tick = bbo.ask_tick.saturating_mul(factor);
            bbo
        });
        b.checksum_memo = LevelMemo::default();
        let voided = b.depth_last.iter().any(|l| !l.is_empty());
        b.depth_last.iter_mut().for_each(Vec::clear);
        b.depth_touched = true;
        // Trades read after the refinement in this frame were converted with the old tick.
        // (Not those with a step of their own: Bitfinex's count 1e-8, whatever the book's tick.)
        let trades_count_ticks = self.adapter.symbols().list()[i].instrument.trade_tick.is_none();
        let from = self.parsed.refined_trades.min(self.parsed.trades.len());
        let trades = if trades_count_ticks { &mut self.parsed.trades[from..] } else { &mut [] };
        for t in trades.iter_mut().filter(|t| usize::from(t.symbol) == i) {
            t.trade.price_tick = t.trade.price_tick.saturating_mul(factor);
        }
        self.stats.ticks_refined += 1;
        self.publish_definition(i, local_ts, sink);
        if voided {
            let state = self.books[i].state;
            sink.publish(Event::depth_clear(self.stamps(0, local_ts), self.id(i), state));
        }
        if !exact {
            // A price beyond i64 in the finer tick: the book cannot be kept exactly.
            self.invalidate(i, Invalid::Broken, local_ts, sink);
        }
    }

    /// Publishes book `i`'s instrument definition (rare: a new book, or new steps).
    fn publish_definition(&mut self, i: usize, local_ts: u64, sink: &mut impl Sink) {
        let Some(info) = self.adapter.symbols().list().get(i) else { return };
        let stamps = Stamps { exch_ts: 0, local_ts, parsed_ts: (self.now)() };
        let (records, n) = Event::instrument_definition(stamps, self.id(i), &info.instrument);
        for ev in &records[..n] {
            sink.publish(*ev);
        }
    }

    fn stamps(&self, exch_ts: u64, local_ts: u64) -> Stamps {
        Stamps { exch_ts, local_ts, parsed_ts: (self.now)() }
    }

    fn id(&self, i: usize) -> InstrumentId {
        self.base_id.wrapping_add(i as InstrumentId)
    }

    fn set_state(&mut self, i: usize, state: BookState, local_ts: u64, sink: &mut impl Sink) {
        let previous = self.books[i].state;
        if previous == state {
            return;
        }
        self.books[i].state = state;
        self.books[i].failing_since = None;
        self.books[i].doubt_since = None;
        if state != BookState::Synced {
            self.books[i].published = None;
        } else {
            // Again on every sync: a consumer that lost the first definition (a full lossy
            // ring) learns the instrument before the book's next BBO.
            self.publish_definition(i, local_ts, sink);
        }
        let ev = Event::book_state(self.stamps(0, local_ts), self.id(i), state, previous);
        sink.publish(ev);
    }

    fn invalidate(&mut self, i: usize, why: Invalid, local_ts: u64, sink: &mut impl Sink) {
        let b = &mut self.books[i];
        match why {
            Invalid::Gap => b.stats.gaps += 1,
            Invalid::Broken => b.stats.broken += 1,
            // Counted where they are detected.
            Invalid::Checksum | Invalid::Crossed => {}
        }
        if b.state == BookState::Synced {
            b.stats.resyncs += 1;
        }
        b.ladder.clear();
        self.set_state(i, BookState::Resyncing, local_ts, sink);
        if let Ok(s) = SymbolIdx::try_from(i) {
            self.adapter.resync(s);
        }
    }

    fn process(
        &mut self,
        result: Result<(), VenueError>,
        local_ts: u64,
        sink: &mut impl Sink,
    ) -> Result<(), VenueError> {
        let known = self.adapter.symbols().len();
        while self.books.len() < known.min(self.id_count) {
            // Its definition goes out before any event that uses its id.
            let i = self.books.len();
            let mut book = Book::new(self.window_ticks);
            book.depth = self.depth_levels;
            book.depth_last.iter_mut().for_each(|l| l.reserve(book.depth));
            self.books.push(book);
            self.publish_definition(i, local_ts, sink);
        }
        if known > self.books.len() {
            // Rare (a block of ids spent): counted once per symbol as it appears.
            let beyond = (known - self.books.len()) as u64;
            if beyond > self.stats.symbols_beyond_ids {
                self.stats.symbols_beyond_ids = beyond;
            }
        }
        self.stats.scanner_fallbacks += u64::from(self.parsed.scan_fallback);
        if let Err(e) = result {
            self.stats.errors.count(&e);
            if let Some(s) = self.parsed.broken {
                let i = usize::from(s);
                if i < self.books.len() {
                    self.invalidate(i, Invalid::Broken, local_ts, sink);
                }
            }
            return Err(e);
        }
        self.stats.foreign_frames += u64::from(self.parsed.foreign);
        if let Some((s, tick)) = self.parsed.refined {
            if usize::from(s) < self.books.len() {
                self.refine(usize::from(s), tick, local_ts, sink);
            }
        }
        let p = &self.parsed;
        self.stats.stale += u64::from(p.stale);
        self.stats.waiting += u64::from(p.waiting);
        if p.control {
            self.stats.control += 1;
        }
        for g in 0..self.parsed.gaps.len() {
            match self.parsed.gaps[g] {
                GapScope::Symbol(s) => {
                    if usize::from(s) < self.books.len() {
                        self.invalidate(usize::from(s), Invalid::Gap, local_ts, sink);
                    }
                }
                GapScope::Connection => {
                    for i in 0..self.books.len() {
                        self.invalidate(i, Invalid::Gap, local_ts, sink);
                    }
                }
            }
        }
        for m in 0..self.parsed.books.len() {
            self.apply(m, local_ts, sink);
        }
        for t in 0..self.parsed.trades.len() {
            let tm = self.parsed.trades[t];
            let i = usize::from(tm.symbol);
            let Some(b) = self.books.get_mut(i) else { continue };
            let id = tm.trade.trade_id;
            if id != 0 {
                if b.recent_trades.contains(&id) {
                    b.stats.trades_duplicate += 1;
                    continue;
                }
                b.recent_trades[b.recent_at] = id;
                b.recent_at = (b.recent_at + 1) % RECENT_TRADES;
            }
            b.stats.trades += 1;
            let state = b.state;
            let ev = Event::trade(self.stamps(tm.exch_ts, local_ts), self.id(i), state, tm.trade);
            sink.publish(ev);
        }
        self.stats.derivatives_unknown_symbol += u64::from(self.parsed.derivs_unknown);
        for d in 0..self.parsed.derivs.len() {
            let dm = self.parsed.derivs[d];
            let i = usize::from(dm.symbol);
            let Some(b) = self.books.get_mut(i) else { continue };
            b.stats.derivatives += 1;
            let state = b.state;
            let ev =
                Event::derivative(self.stamps(dm.exch_ts, local_ts), self.id(i), state, dm.data);
            sink.publish(ev);
        }
        // In the books' order, as a walk over every book would publish them.
        self.touched.sort_unstable();
        for k in 0..self.touched.len() {
            let i = self.touched[k];
            if !std::mem::take(&mut self.books[i].dirty) {
                continue;
            }
            let b = &self.books[i];
            if b.state != BookState::Synced || b.failing_since.is_some() || b.doubt_since.is_some()
            {
                // A book whose checksum fails within the grace waits to be put right.
                continue;
            }
            let bbo = b.bbo();
            if b.published == Some(bbo) {
                continue;
            }
            let ev = Event::bbo(self.stamps(b.exch_ts, local_ts), self.id(i), b.state, bbo);
            let b = &mut self.books[i];
            if ev.state().is_valid() && bbo.is_crossed() {
                b.stats.crossed_published += 1;
            }
            b.published = Some(bbo);
            b.stats.bbo_published += 1;
            sink.publish(ev);
        }
        self.touched.clear();
        for i in 0..if self.depth_on { self.books.len() } else { 0 } {
            let b = &mut self.books[i];
            let waits = b.failing_since.is_some() || b.doubt_since.is_some();
            if b.depth > 0 && !waits && std::mem::take(&mut b.depth_touched) {
                self.publish_depth(i, local_ts, sink);
            }
        }
        Ok(())
    }

    /// Publishes the changes of book `i`'s top N since it was last published, if any.
    fn publish_depth(&mut self, i: usize, local_ts: u64, sink: &mut impl Sink) {
        let stamps = self.stamps(self.books[i].exch_ts, local_ts);
        let id = self.id(i);
        let b = &mut self.books[i];
        if b.state != BookState::Synced {
            // Void until the book is synced again; then it comes back whole.
            if b.depth_last.iter().any(|l| !l.is_empty()) {
                b.depth_last.iter_mut().for_each(Vec::clear);
                sink.publish(Event::depth_clear(stamps, id, b.state));
            }
            return;
        }
        let n = b.depth;
        let mut changed = false;
        for (k, side) in [Side::Bid, Side::Ask].into_iter().enumerate() {
            let new = &mut self.depth_scratch[k];
            new.clear();
            new.extend(b.ladder.top(side, n).map(|l| [l.px_tick, l.qty_lots]));
            let last = &b.depth_last[k];
            if new == last {
                continue;
            }
            changed = true;
            let wire =
                if side == Side::Bid { crate::event::Side::Buy } else { crate::event::Side::Sell };
            // Both lists are best first: one merge walk finds what changed.
            let better = |a: i64, c: i64| if side == Side::Bid { a > c } else { a < c };
            let (mut x, mut y) = (0, 0);
            while x < new.len() || y < last.len() {
                if y == last.len() || (x < new.len() && better(new[x][0], last[y][0])) {
                    sink.publish(Event::depth_level(stamps, id, wire, new[x][0], new[x][1]));
                    x += 1;
                } else if x == new.len() || better(last[y][0], new[x][0]) {
                    sink.publish(Event::depth_level(stamps, id, wire, last[y][0], 0));
                    y += 1;
                } else {
                    if new[x][1] != last[y][1] {
                        sink.publish(Event::depth_level(stamps, id, wire, new[x][0], new[x][1]));
                    }
                    x += 1;
                    y += 1;
                }
            }
            std::mem::swap(&mut b.depth_last[k], new);
        }
        if changed {
            sink.publish(Event::depth_end(stamps, id, n as u8));
        }
    }

    /// Applies book message `m` of the parsed frame.
    fn apply(&mut self, m: usize, local_ts: u64, sink: &mut impl Sink) {
        let msg = &self.parsed.books[m];
        let i = usize::from(msg.symbol);
        if i >= self.books.len() {
            return;
        }
        let snapshot = msg.action == BookAction::Snapshot;
        let b = &mut self.books[i];
        if !snapshot && b.state != BookState::Synced {
            b.stats.skipped_resyncing += 1;
            return;
        }
        if snapshot {
            b.ladder.clear();
            // The window is sized from the snapshot (the book is empty here): a small book
            // keeps a small resident window, a deep one gets the full window.
            b.ladder.fit_window(side_span(&self.parsed.levels[msg.levels.clone()]));
            b.stats.snapshots += 1;
        }
        b.stats.book_messages += 1;
        b.exch_ts = msg.exch_ts;
        b.last_applied = local_ts;
        if !b.dirty {
            self.touched.push(i);
        }
        b.dirty = true;
        b.depth_touched = true;
        let mut rejected = false;
        let mut set =
            |op: &crate::venue::LevelOp| match b.ladder.set(op.side, op.px_tick, op.qty_lots) {
                Applied::DeleteMissing => b.stats.delete_missing += 1,
                Applied::Rejected => {
                    b.stats.rejected_levels += 1;
                    rejected = true;
                }
                _ => {}
            };
        let levels = &self.parsed.levels[msg.levels.clone()];
        if snapshot {
            // Venues list each side best first. Loading worst first lets every level beyond
            // the ladder's window append to its overflow store instead of inserting at its
            // front (a 27k-level Coinbase snapshot: O(n) instead of O(n^2)). A snapshot starts
            // from an empty book, so the order does not change the result.
            levels.iter().rev().for_each(&mut set);
        } else {
            levels.iter().for_each(&mut set);
        }
        if let Some(depth) = msg.truncate {
            // From the worst end: the cost is the levels removed, not the depth.
            b.ladder.truncate(Side::Bid, depth as usize);
            b.ladder.truncate(Side::Ask, depth as usize);
        }
        if msg.contradicts && !snapshot {
            if self.check_grace == 0 {
                self.invalidate(i, Invalid::Gap, local_ts, sink);
                return;
            }
            // Applied as it says: the arbiter may be about to put a lost message back.
            b.doubt_since.get_or_insert(local_ts);
            b.stats.checks_waited += 1;
        }
        let mut checksum = msg.checksum;
        if !self.verify_checksums && checksum.take().is_some() {
            self.stats.checksums_skipped += 1;
        }
        if rejected {
            self.invalidate(i, Invalid::Broken, local_ts, sink);
            return;
        }
        // A check failed, and the book waits to be put right ([`Engine::set_check_grace`]).
        let mut failed = false;
        if let Some(expected) = checksum {
            let info = &self.adapter.symbols().list()[i];
            let inst = &info.instrument;
            let b = &mut self.books[i];
            let ok = match expected {
                Checksum::Kraken(want) => {
                    self.checksummer.kraken_marked(
                        &mut b.checksum_memo,
                        &mut b.ladder,
                        inst.tick,
                        info.price_decimals,
                        inst.lot,
                        info.qty_decimals,
                    ) == want
                }
                Checksum::Okx(want) => {
                    let (memo, book) = (&mut b.checksum_memo, &mut b.ladder);
                    self.checksummer.interleaved_marked(memo, book, inst.tick, inst.lot, false)
                        == want
                }
                Checksum::Bitfinex(want) => {
                    let (memo, book) = (&mut b.checksum_memo, &mut b.ladder);
                    self.checksummer.interleaved_marked(memo, book, inst.tick, inst.lot, true)
                        == want
                }
            };
            if ok {
                self.books[i].stats.checksum_ok += 1;
            } else if !self.books[i].wait_on_check(self.check_grace, snapshot, local_ts, false) {
                self.books[i].stats.checksum_failed += 1;
                self.invalidate(i, Invalid::Checksum, local_ts, sink);
                return;
            } else {
                failed = true;
            }
        }
        if self.books[i].ladder.is_crossed() {
            if !self.books[i].wait_on_check(self.check_grace, snapshot, local_ts, true) {
                self.books[i].stats.crossed_detected += 1;
                self.invalidate(i, Invalid::Crossed, local_ts, sink);
                return;
            }
            failed = true;
        }
        let b = &mut self.books[i];
        if !failed {
            b.failing_since = None;
        }
        if snapshot {
            // Room outside the array window without allocating: a book kept to a subscribed
            // depth never holds more than that depth plus one message's new levels, so its
            // room is sized once, by the depth, whatever this snapshot holds (a bound reached
            // at the first snapshot, not as later snapshots come in larger); a book without a
            // depth gets room to double.
            let room = match msg.truncate {
                Some(depth) => depth as usize,
                None => 2 * b.ladder.len(Side::Bid).max(b.ladder.len(Side::Ask)),
            };
            b.ladder.reserve(room + 1024);
            self.set_state(i, BookState::Synced, local_ts, sink);
        }
    }
}

/// The widest side's span in ticks (best to worst level) among `levels`: what a snapshot
/// asks of a book's window ([`Ladder::fit_window`]).
fn side_span(levels: &[crate::venue::LevelOp]) -> u64 {
    side_span_of(levels.iter().filter(|l| l.qty_lots > 0).map(|l| (l.side, l.px_tick)))
}

/// [`side_span`] over `(side, price)` pairs.
fn side_span_of(levels: impl Iterator<Item = (Side, i64)>) -> u64 {
    let mut range = [(i64::MAX, i64::MIN); 2];
    for (side, px) in levels {
        let r = &mut range[side as usize];
        r.0 = r.0.min(px);
        r.1 = r.1.max(px);
    }
    range.iter().filter(|r| r.0 <= r.1).map(|r| r.1.abs_diff(r.0)).max().unwrap_or(0)
}

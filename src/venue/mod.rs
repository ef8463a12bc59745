//! Venue adapters: bytes and a receive timestamp in, normalized book and trade messages out.
//!
//! Sans-IO. Each venue module turns one received frame (or one REST body) into a [`Parsed`]:
//! book messages with their levels already in integer ticks and lots, trades, and the
//! integrity signals that the venue's own rules produce (a sequence gap, a stale message). The
//! [`engine`](crate::engine) applies them to the books, verifies checksums, decides resyncs and
//! publishes. Adapters also build their subscribe and unsubscribe messages.
//!
//! Every adapter parses with simd-json over a reused buffer ([`json::Scratch`]) straight into
//! ticks and lots; nothing allocates per message once the buffers have grown, and no `f64` is
//! made (numbers that venues print as JSON numbers are read as their exact text). The hottest frames of
//! Binance, Bitfinex, BitMEX, Bybit, Coinbase Advanced and Exchange, Gemini v2, Hyperliquid,
//! Kraken Futures, Kraken v1 and OKX take a scanner instead ([`scan`], [`Parser::Scan`], the default), which
//! falls back to simd-json, counted, on any frame it does not recognise exactly.
//!
//! Bad input is a typed [`VenueError`], counted by the caller; it never panics.

pub(crate) mod any;
pub mod binance;
pub mod bitfinex;
pub mod bitmex;
pub mod bybit;
pub mod coinbase;
pub mod deribit;
pub mod gemini;
pub mod hyperliquid;
// The tape parser every adapter shares: public for the benchmarks' parse floor only.
#[doc(hidden)]
pub mod json;
pub mod kraken;
pub mod krakenfutures;
pub mod okx;
pub(crate) mod protocol;
pub mod scan;
pub(crate) mod time;

use std::ops::Range;

pub use any::AnyAdapter;
pub use protocol::{Keepalive, Protocol, RestSnapshot};
pub use scan::{Parser, ScanControls};

use crate::book::{Instrument, InstrumentRegistry, NumError, Side, Step, Venue};
use crate::event::{Derivative, Trade};

/// Index of a symbol in an adapter's [`Symbols`] table; the engine keeps its books in the same
/// order.
pub type SymbolIdx = u16;

/// Why a frame could not be used. The engine counts each kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum VenueError {
    /// The frame is not valid JSON (or nests deeper than [`json::MAX_DEPTH`]).
    #[error("malformed JSON near byte {at}")]
    Json {
        /// Byte offset simd-json reported.
        at: usize,
    },
    /// Valid JSON, but a field is missing or has the wrong type.
    #[error("unexpected message shape: {0}")]
    Shape(&'static str),
    /// A number could not be turned into ticks or lots.
    #[error("bad number in {field}: {err}")]
    Number {
        /// Which field.
        field: &'static str,
        /// What was wrong with it.
        err: NumError,
    },
    /// A message type (or channel) this adapter does not know.
    #[error("unknown message type")]
    UnknownType,
    /// A message for a symbol that is not subscribed and cannot be learned here.
    #[error("message for an unknown symbol")]
    UnknownSymbol,
    /// The venue sent an error message (for example a refused subscription).
    #[error("the venue reported an error")]
    VenueReported,
    /// The frame is larger than the adapter accepts.
    #[error("frame of {0} bytes is over the limit")]
    TooLarge(usize),
}

impl VenueError {
    /// A short stable name for counters and metrics.
    pub const fn name(&self) -> &'static str {
        match self {
            VenueError::Json { .. } => "json",
            VenueError::Shape(_) => "shape",
            VenueError::Number { .. } => "number",
            VenueError::UnknownType => "unknown_type",
            VenueError::UnknownSymbol => "unknown_symbol",
            VenueError::VenueReported => "venue_error",
            VenueError::TooLarge(_) => "too_large",
        }
    }
}

/// A number error tagged with its field.
#[inline]
pub(crate) fn num(field: &'static str) -> impl Fn(NumError) -> VenueError {
    move |err| VenueError::Number { field, err }
}

/// What a book message does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BookAction {
    /// Replace the whole book with these levels.
    Snapshot,
    /// Set these levels (new absolute sizes; 0 deletes).
    Update,
}

/// A checksum the venue sent with a book message, checked after it is applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checksum {
    /// Kraken v1/v2: CRC32 of the top 10 asks then bids, unsigned.
    Kraken(u32),
    /// OKX: CRC32 of the top 25 interleaved, signed.
    Okx(i32),
    /// Bitfinex: CRC32 of the top 25 interleaved, signed.
    Bitfinex(i32),
}

/// One level change in ticks and lots.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LevelOp {
    /// Which side.
    pub side: Side,
    /// Price, ticks.
    pub px_tick: i64,
    /// New absolute size, lots (0 deletes the level).
    pub qty_lots: i64,
}

/// One book message for one symbol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BookMsg {
    /// The symbol.
    pub symbol: SymbolIdx,
    /// Snapshot or update.
    pub action: BookAction,
    /// The levels, an index range into [`Parsed::levels`].
    pub levels: Range<usize>,
    /// The checksum to verify after applying, if the venue sent one.
    pub checksum: Option<Checksum>,
    /// Keep only this many levels per side after applying (Kraken's subscribed depth).
    pub truncate: Option<u32>,
    /// The venue's timestamp, epoch ns (0 if none).
    pub exch_ts: u64,
    /// A row of it contradicted the book and was applied as it says (BitMEX with redundant
    /// lines): the book waits for the arbiter to put it right
    /// ([`crate::engine::Engine::put_right`]), or resyncs after the grace.
    pub contradicts: bool,
}

/// One trade for one symbol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TradeMsg {
    /// The symbol.
    pub symbol: SymbolIdx,
    /// Price, size, aggressor side and trade id.
    pub trade: Trade,
    /// The venue's trade time, epoch ns (0 if none).
    pub exch_ts: u64,
}

/// Derivatives data of one symbol (funding, mark and index, open interest, a liquidation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DerivMsg {
    /// The symbol.
    pub symbol: SymbolIdx,
    /// What the venue said.
    pub data: Derivative,
    /// The venue's time of it, epoch ns (0 if none).
    pub exch_ts: u64,
}

/// Which books a sequence gap invalidates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GapScope {
    /// One symbol's sequence broke.
    Symbol(SymbolIdx),
    /// The connection-wide sequence broke: every book on the connection is suspect.
    Connection,
}

/// The output of one frame, reused between frames (clear, never shrink).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Parsed {
    /// Book messages in the order the frame gave them.
    pub books: Vec<BookMsg>,
    /// The levels of all book messages.
    pub levels: Vec<LevelOp>,
    /// Trades, in frame order.
    pub trades: Vec<TradeMsg>,
    /// Derivatives data (funding, mark and index, open interest, liquidations), in frame
    /// order, published after the trades.
    pub derivs: Vec<DerivMsg>,
    /// Derivatives entries skipped because their instrument is not one of this connection's
    /// (an instrument type's whole liquidation stream, or data before the book is known).
    pub derivs_unknown: u32,
    /// Sequence gaps found while reading the frame (before its book messages are applied).
    pub gaps: Vec<GapScope>,
    /// Stale book messages skipped (already covered by the snapshot), counted per frame.
    pub stale: u32,
    /// Book messages dropped because the symbol is waiting for a snapshot.
    pub waiting: u32,
    /// The frame was a heartbeat, acknowledgement or other control message.
    pub control: bool,
    /// When an error is returned: the symbol whose book message was being read, if known.
    /// The engine marks that book as no longer trustworthy.
    pub broken: Option<SymbolIdx>,
    /// A symbol whose learned tick proved too coarse in this frame, and its finer tick: the
    /// levels read so far were re-expressed in it ([`Parsed::book_price`]); the engine
    /// rescales the book and announces the instrument again before applying the frame.
    pub refined: Option<(SymbolIdx, Step)>,
    /// Trades in [`Parsed::trades`] when the refinement happened: the ones before were
    /// rescaled with the book's levels; the ones after are in the old tick (the engine
    /// rescales them).
    pub refined_trades: usize,
    /// The frame follows another venue's rules (a Binance USD-M depth update, with `pu`,
    /// under the spot adapter, or the reverse): the capture's venue is likely wrong.
    pub foreign: bool,
    /// The venue's scanner ([`Parser::Scan`]) did not recognise the frame exactly and
    /// simd-json read it instead.
    pub scan_fallback: bool,
}

impl Parsed {
    /// Empties everything, keeping capacity.
    pub fn clear(&mut self) {
        self.books.clear();
        self.levels.clear();
        self.trades.clear();
        self.derivs.clear();
        self.derivs_unknown = 0;
        self.gaps.clear();
        self.stale = 0;
        self.waiting = 0;
        self.control = false;
        self.broken = None;
        self.refined = None;
        self.refined_trades = 0;
        self.foreign = false;
        self.scan_fallback = false;
    }

    /// A price of the book message begun last, in ticks of `inst` (the book's instrument). A
    /// price finer than a *learned* tick refines it, exactly: the tick becomes the price's
    /// decimal step (or the finest step both are multiples of), every level already read for
    /// that book in this frame is rescaled, and the price is returned in the finer tick
    /// ([`Parsed::refined`]). So is a book tick an adapter keeps apart from the trades' step
    /// ([`Instrument::trade_tick`]: Bitfinex, Hyperliquid), never finer than that step. A
    /// configured or built-in tick is never changed: a price off it is an error, as is a
    /// malformed number.
    #[inline]
    pub fn book_price(&mut self, inst: &Instrument, text: &[u8]) -> Result<i64, NumError> {
        // The book message being read is the last one; only a frame that refined a tick
        // looks at it, so the common path is one check of `refined`.
        let open = || self.books.last().map(|b| b.symbol);
        let tick = match self.refined {
            Some((s, t)) if open() == Some(s) => t,
            _ => inst.tick,
        };
        match tick.units_plain(text) {
            Err(NumError::NotMultiple) if inst.book_tick_refinable() => {
                self.refine(open(), tick, text, inst.trade_tick)
            }
            r => r,
        }
    }

    /// [`Parsed::book_price`] for a price that was a JSON number (Deribit, Kraken Futures): a
    /// serializer may print one with an exponent (`5e-05`), read exactly here; the common,
    /// plain form takes the same path as [`Parsed::book_price`].
    #[inline]
    pub fn book_price_number(&mut self, inst: &Instrument, text: &[u8]) -> Result<i64, NumError> {
        match self.book_price(inst, text) {
            Err(NumError::Invalid(_)) if text.iter().any(|c| matches!(c, b'e' | b'E')) => {
                let open = self.books.last().map(|b| b.symbol);
                let tick = match self.refined {
                    Some((s, t)) if open == Some(s) => t,
                    _ => inst.tick,
                };
                match tick.units(text) {
                    Err(NumError::NotMultiple) if inst.book_tick_refinable() => {
                        self.refine(open, tick, text, inst.trade_tick)
                    }
                    r => r,
                }
            }
            r => r,
        }
    }

    /// See [`Parsed::book_price`]: off the common path.
    #[cold]
    fn refine(
        &mut self,
        sym: Option<SymbolIdx>,
        tick: Step,
        text: &[u8],
        trade_tick: Option<Step>,
    ) -> Result<i64, NumError> {
        let Some(sym) = sym else { return Err(NumError::NotMultiple) };
        let trades_count_ticks = trade_tick.is_none();
        if self.refined.is_some_and(|(s, _)| s != sym) {
            // One refinement per frame; a second book's waits for its next message.
            return Err(NumError::NotMultiple);
        }
        let finer = Step::from_decimals(Step::finest_for(text)?.scale().max(tick.scale()))?;
        let factor = tick.multiple_of(finer).ok_or(NumError::NotMultiple)?;
        // Never finer than the trades' own step: every valid price is a whole number of it
        // (a price off it breaks the venue's rule).
        if trade_tick.is_some_and(|t| finer.multiple_of(t).is_none()) {
            return Err(NumError::NotMultiple);
        }
        if factor <= 1 {
            return Err(NumError::NotMultiple);
        }
        let factor = i64::try_from(factor).map_err(|_| NumError::Overflow)?;
        let open = self.books.len() - 1;
        for (i, b) in self.books.iter().enumerate().filter(|(_, b)| b.symbol == sym) {
            // The book being read is still open: its levels run to the end.
            let end = if i == open { self.levels.len() } else { b.levels.end };
            for l in &mut self.levels[b.levels.start..end] {
                l.px_tick = l.px_tick.checked_mul(factor).ok_or(NumError::Overflow)?;
            }
        }
        // Trades with a step of their own (Bitfinex) are not in ticks: they stay.
        for t in self.trades.iter_mut().filter(|t| trades_count_ticks && t.symbol == sym) {
            t.trade.price_tick =
                t.trade.price_tick.checked_mul(factor).ok_or(NumError::Overflow)?;
        }
        self.refined = Some((sym, finer));
        self.refined_trades = self.trades.len();
        finer.units(text)
    }

    /// Starts a book message; push its levels with [`Parsed::level`], then call
    /// [`Parsed::finish_book`].
    #[inline]
    pub fn begin_book(&mut self, symbol: SymbolIdx, action: BookAction, exch_ts: u64) {
        let at = self.levels.len();
        self.books.push(BookMsg {
            symbol,
            action,
            levels: at..at,
            checksum: None,
            truncate: None,
            exch_ts,
            contradicts: false,
        });
    }

    /// Marks the book message begun last as contradicting its book ([`BookMsg::contradicts`]).
    #[inline]
    pub fn contradicts(&mut self) {
        if let Some(b) = self.books.last_mut() {
            b.contradicts = true;
        }
    }

    /// Adds a level to the book message begun last.
    #[inline]
    pub fn level(&mut self, side: Side, px_tick: i64, qty_lots: i64) {
        self.levels.push(LevelOp { side, px_tick, qty_lots });
    }

    /// Closes the book message begun last, with its checksum and truncation.
    #[inline]
    pub fn finish_book(&mut self, checksum: Option<Checksum>, truncate: Option<u32>) {
        let end = self.levels.len();
        if let Some(b) = self.books.last_mut() {
            b.levels.end = end;
            b.checksum = checksum;
            b.truncate = truncate;
        }
    }

    /// Drops the book message begun last and its levels (a message that turned out stale).
    #[inline]
    pub fn abandon_book(&mut self) {
        if let Some(b) = self.books.pop() {
            self.levels.truncate(b.levels.start);
        }
    }

    /// Drops the book messages from index `mark` on, with their levels (a snapshot whose
    /// buffered events turned out not to bridge: the gap stands, nothing of it is applied).
    pub fn truncate_books(&mut self, mark: usize) {
        if let Some(b) = self.books.get(mark) {
            self.levels.truncate(b.levels.start);
        }
        self.books.truncate(mark);
    }

    /// The levels of a book message.
    #[inline]
    pub fn levels_of(&self, msg: &BookMsg) -> &[LevelOp] {
        &self.levels[msg.levels.clone()]
    }
}

/// One symbol an adapter knows: the venue's own spelling and the instrument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SymbolInfo {
    /// The symbol exactly as the venue writes it in messages.
    pub key: String,
    /// Its tick and lot.
    pub instrument: Instrument,
    /// Fraction digits the venue prints prices with (Kraken checksums need them).
    pub price_decimals: u8,
    /// Fraction digits the venue prints sizes with.
    pub qty_decimals: u8,
    /// The venue's own last best bid/offer (`bookTicker`, `ticker`), for cross-checks.
    pub venue_bbo: Option<crate::event::Bbo>,
}

/// The symbols an adapter has seen, in first-seen order. Lookups are a short linear scan:
/// a connection carries a handful of symbols.
#[derive(Debug, Clone)]
pub struct Symbols {
    venue: Venue,
    registry: InstrumentRegistry,
    list: Vec<SymbolInfo>,
}

impl Symbols {
    /// A table resolving instruments through `registry`.
    pub fn new(venue: Venue, registry: InstrumentRegistry) -> Self {
        Symbols { venue, registry, list: Vec::new() }
    }

    /// The venue.
    pub fn venue(&self) -> Venue {
        self.venue
    }

    /// The symbols, in index order.
    pub fn list(&self) -> &[SymbolInfo] {
        &self.list
    }

    /// Number of symbols.
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// `true` if no symbol is known yet.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// One symbol.
    #[inline]
    pub fn get(&self, idx: SymbolIdx) -> Option<&SymbolInfo> {
        self.list.get(usize::from(idx))
    }

    /// One symbol, mutable.
    #[inline]
    pub fn get_mut(&mut self, idx: SymbolIdx) -> Option<&mut SymbolInfo> {
        self.list.get_mut(usize::from(idx))
    }

    /// The index of `key`, if known. Binance symbols compare case-insensitively.
    #[inline]
    pub fn find(&self, key: &[u8]) -> Option<SymbolIdx> {
        let ci = self.venue.case_insensitive_symbols();
        self.list
            .iter()
            .position(|s| {
                let k = s.key.as_bytes();
                if ci {
                    k.eq_ignore_ascii_case(key)
                } else {
                    k == key
                }
            })
            .and_then(|i| SymbolIdx::try_from(i).ok())
    }

    /// The registry instruments resolve through (reference data that arrives later goes
    /// here; symbols already resolved keep their steps).
    pub fn registry_mut(&mut self) -> &mut InstrumentRegistry {
        &mut self.registry
    }

    /// The index of `key`, adding it if the registry knows its tick and lot (configured or
    /// built in). `None` if the instrument is unknown: learn it with [`Symbols::learn`].
    pub fn resolve(&mut self, key: &[u8]) -> Option<SymbolIdx> {
        if let Some(i) = self.find(key) {
            return Some(i);
        }
        let key = std::str::from_utf8(key).ok()?;
        let instrument = self.registry.lookup(self.venue, key)?;
        self.push(key, instrument)
    }

    /// The index of `key`, adding it with the tick learned from `prices` (finest decimals
    /// used, trailing zeros ignored) and the lot from `sizes` (decimals as printed, trailing
    /// zeros kept: sizes are never an index, so a fine lot costs nothing) unless the registry
    /// already knows it. Also records the printed decimals.
    pub fn learn<'a>(
        &mut self,
        key: &[u8],
        prices: impl Iterator<Item = &'a [u8]>,
        sizes: impl Iterator<Item = &'a [u8]>,
    ) -> Result<SymbolIdx, VenueError> {
        self.learn_with(key, prices, sizes, false)
    }

    /// [`Symbols::learn`] for venues that print every price with the pair's full precision
    /// (Kraken): the tick is `10^-(decimals printed)`, trailing zeros included.
    pub fn learn_printed<'a>(
        &mut self,
        key: &[u8],
        prices: impl Iterator<Item = &'a [u8]>,
        sizes: impl Iterator<Item = &'a [u8]>,
    ) -> Result<SymbolIdx, VenueError> {
        self.learn_with(key, prices, sizes, true)
    }

    fn learn_with<'a>(
        &mut self,
        key: &[u8],
        prices: impl Iterator<Item = &'a [u8]>,
        sizes: impl Iterator<Item = &'a [u8]>,
        printed_tick: bool,
    ) -> Result<SymbolIdx, VenueError> {
        if let Some(i) = self.find(key) {
            // Known: only the printed decimals can grow. A number that would raise them is
            // checked first, so a malformed one changes nothing; the others are not scanned
            // for a step here: the caller reads every one of them into ticks and lots next,
            // which rejects what is malformed (Kraken learns on every snapshot, up to 1,000
            // levels a side).
            let s = &self.list[usize::from(i)];
            let px_decimals = raised_decimals(s.price_decimals, prices, "price")?;
            let qty_decimals = raised_decimals(s.qty_decimals, sizes, "size")?;
            let s = &mut self.list[usize::from(i)];
            s.price_decimals = px_decimals;
            s.qty_decimals = qty_decimals;
            return Ok(i);
        }
        let (mut tick, mut printed_px) = (None::<Step>, 0u8);
        for p in prices {
            let s = Step::finest_for(p).map_err(num("price"))?;
            tick = Some(tick.map_or(s, |t| t.finer(s)));
            printed_px = printed_px.max(printed_decimals(p));
        }
        let mut printed_qty = 0u8;
        for q in sizes {
            Step::finest_for(q).map_err(num("size"))?;
            printed_qty = printed_qty.max(printed_decimals(q));
        }
        let key = std::str::from_utf8(key).map_err(|_| VenueError::Shape("symbol not UTF-8"))?;
        let lot = Step::from_decimals(printed_qty).map_err(num("size"))?;
        let instrument = match self.registry.lookup(self.venue, key) {
            Some(i) => i,
            None => {
                let tick = if printed_tick {
                    Step::from_decimals(printed_px).map_err(num("price"))?
                } else {
                    tick.unwrap_or(Step::ONE)
                };
                self.registry.learn(self.venue, key, tick, lot)
            }
        };
        let i = self.push(key, instrument).ok_or(VenueError::Shape("too many symbols"))?;
        let s = &mut self.list[usize::from(i)];
        s.price_decimals = printed_px;
        s.qty_decimals = printed_qty;
        Ok(i)
    }

    /// Refines `idx`'s learned tick to the finer `tick` (see [`Parsed::book_price`]): the
    /// registry learns it too, so a reconnect keeps it.
    pub fn refine_tick(&mut self, idx: SymbolIdx, tick: Step) {
        let venue = self.venue;
        let Some(s) = self.list.get_mut(usize::from(idx)) else { return };
        s.instrument.tick = tick;
        s.price_decimals = s.price_decimals.max(tick.scale());
        self.registry.learn(venue, &s.key, tick, s.instrument.lot);
    }

    fn push(&mut self, key: &str, instrument: Instrument) -> Option<SymbolIdx> {
        let idx = SymbolIdx::try_from(self.list.len()).ok()?;
        let (price_decimals, qty_decimals) = (instrument.tick.scale(), instrument.lot.scale());
        self.list.push(SymbolInfo {
            key: key.to_owned(),
            instrument,
            price_decimals,
            qty_decimals,
            venue_bbo: None,
        });
        Some(idx)
    }
}

/// The most fraction digits printed among `current` and `numbers`; a number that prints more
/// than the most so far must be well formed (`what` names it in the error).
fn raised_decimals<'a>(
    current: u8,
    numbers: impl Iterator<Item = &'a [u8]>,
    what: &'static str,
) -> Result<u8, VenueError> {
    let mut most = current;
    for n in numbers {
        // The common case in one compare: a point exactly `most` bytes before the end. Then
        // the text prints `most` decimals, or it has a second point and is malformed, which
        // the caller's conversion of every number rejects (see `learn_with`): either way it
        // cannot raise them.
        let at = n.len().wrapping_sub(usize::from(most) + 1);
        if n.get(at) == Some(&b'.') {
            continue;
        }
        let d = printed_decimals(n);
        if d > most {
            Step::finest_for(n).map_err(num(what))?;
            most = d;
        }
    }
    Ok(most)
}

/// Fraction digits as printed, trailing zeros included (`"0.00100000"` → 8, `"25"` → 0).
/// Exponent forms count as 0 here; they are rare and only matter for Kraken, which never
/// sends them.
pub fn printed_decimals(text: &[u8]) -> u8 {
    match text.iter().position(|&c| c == b'.') {
        Some(dot) => {
            let n = text[dot + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
            u8::try_from(n).unwrap_or(u8::MAX)
        }
        None => 0,
    }
}

/// The contract every venue adapter keeps. See the [module docs](self).
pub trait Adapter {
    /// The venue this adapter speaks.
    fn venue(&self) -> Venue;

    /// Reads one received WebSocket message (text or binary payload) into `out`, which the
    /// caller has cleared. On error, `out` may hold a partial result that must be ignored,
    /// except [`Parsed::broken`].
    fn handle_frame(
        &mut self,
        frame: &[u8],
        local_ts: u64,
        out: &mut Parsed,
    ) -> Result<(), VenueError>;

    /// Reads one REST response body (a depth snapshot) fetched from `url` (empty if the
    /// capture did not say which). Venues whose books come over the WebSocket treat REST
    /// bodies (product lists, symbol details) as control messages.
    fn handle_http(
        &mut self,
        url: &str,
        body: &[u8],
        local_ts: u64,
        out: &mut Parsed,
    ) -> Result<(), VenueError> {
        let _ = (url, body, local_ts);
        out.control = true;
        Ok(())
    }

    /// The engine no longer trusts `symbol`'s book (gap, checksum mismatch, crossed): forget
    /// its sequence state and wait for a fresh snapshot.
    fn resync(&mut self, symbol: SymbolIdx);

    /// A new connection starts: drop every per-connection state (sequences, channel ids).
    fn reset_connection(&mut self);

    /// The symbols seen so far.
    fn symbols(&self) -> &Symbols;

    /// The symbols this adapter knows, mutable (the engine refines a learned tick).
    fn symbols_mut(&mut self) -> &mut Symbols;

    /// The subscribe messages to send after connecting, for these symbols as the venue
    /// writes them.
    fn subscribe_messages(&self, symbols: &[&str]) -> Vec<String>;

    /// The unsubscribe messages for these symbols.
    fn unsubscribe_messages(&self, symbols: &[&str]) -> Vec<String>;

    /// The messages that make the venue send a fresh snapshot of `symbol`'s book on the open
    /// connection (unsubscribe, then subscribe, its book channel only), when the venue allows
    /// that; none to send when a snapshot is already on its way (a subscription not yet
    /// answered); `None` when the venue does not allow it (the default): a book that lost
    /// sync then needs a new connection.
    fn resubscribe_book_messages(&self, symbol: &str) -> Option<Vec<String>> {
        let _ = symbol;
        None
    }

    /// The most subscribe/unsubscribe requests the venue takes on one connection within a
    /// window, when it documents such a limit (`None`: none documented). Resubscribing a
    /// book that would go past it reconnects instead (a new connection starts a new count).
    fn subscription_budget(&self) -> Option<(usize, std::time::Duration)> {
        None
    }
}

/// Adds derivatives data for the symbol `key` if this connection knows it (its book or
/// trades): derivatives channels never create instruments. Otherwise counted in
/// [`Parsed::derivs_unknown`]. Returns the symbol's index, if known.
pub(crate) fn push_deriv(
    symbols: &Symbols,
    key: &[u8],
    exch_ts: u64,
    out: &mut Parsed,
    data: impl FnOnce(&Instrument) -> Result<Option<Derivative>, VenueError>,
) -> Result<(), VenueError> {
    let Some(symbol) = symbols.find(key) else {
        out.derivs_unknown += 1;
        return Ok(());
    };
    let inst = &symbols.list()[usize::from(symbol)].instrument;
    if let Some(data) = data(inst)? {
        out.derivs.push(DerivMsg { symbol, data, exch_ts });
    }
    Ok(())
}

/// An exact price in `inst`'s ticks (finer values kept, see [`crate::event::Scaled`]).
pub(crate) fn deriv_price(
    inst: &Instrument,
    text: &[u8],
    field: &'static str,
) -> Result<crate::event::Scaled, VenueError> {
    crate::event::Scaled::parse(inst.tick, text).map_err(num(field))
}

/// An exact size in `inst`'s lots (finer values kept, see [`crate::event::Scaled`]).
pub(crate) fn deriv_size(
    inst: &Instrument,
    text: &[u8],
    field: &'static str,
) -> Result<crate::event::Scaled, VenueError> {
    crate::event::Scaled::parse(inst.lot, text).map_err(num(field))
}

/// An exact funding rate (see [`crate::event::Funding::rate`]).
pub(crate) fn deriv_rate(
    text: &[u8],
    field: &'static str,
) -> Result<crate::event::Scaled, VenueError> {
    crate::event::Scaled::parse(Step::ONE, text).map_err(num(field))
}

/// A symbol's latest derivatives ticker values (Bybit `tickers`, BitMEX `instrument`), where
/// an update row carries only what changed.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct TickerState {
    mark: Option<crate::event::Scaled>,
    index: Option<crate::event::Scaled>,
    rate: Option<crate::event::Scaled>,
    next_funding_ts: u64,
}

/// What one ticker row carried, read whole before anything changes (`None`: not in the row).
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct TickerRow {
    pub(crate) mark: Option<crate::event::Scaled>,
    pub(crate) index: Option<crate::event::Scaled>,
    pub(crate) rate: Option<crate::event::Scaled>,
    pub(crate) next_funding_ts: Option<u64>,
    pub(crate) open_interest: Option<crate::event::Scaled>,
}

impl TickerState {
    /// Merges `row` into the symbol's latest values (a `whole` row replaces them) and
    /// publishes what it changed: mark and index when either came, funding when the rate or
    /// the next funding time came (once a rate is known), open interest when it came.
    pub(crate) fn merge(
        &mut self,
        whole: bool,
        row: TickerRow,
        symbol: SymbolIdx,
        exch_ts: u64,
        out: &mut Parsed,
    ) {
        use crate::event::{Derivative, Funding, MarkIndex};
        if whole {
            *self = TickerState::default();
        }
        self.mark = row.mark.or(self.mark);
        self.index = row.index.or(self.index);
        self.rate = row.rate.or(self.rate);
        self.next_funding_ts = row.next_funding_ts.unwrap_or(self.next_funding_ts);
        let mut push = |data| out.derivs.push(DerivMsg { symbol, data, exch_ts });
        if row.mark.is_some() || row.index.is_some() {
            push(Derivative::MarkIndex(MarkIndex { mark: self.mark, index: self.index }));
        }
        if let (Some(rate), true) = (self.rate, row.rate.is_some() || row.next_funding_ts.is_some())
        {
            push(Derivative::Funding(Funding { rate, next_funding_ts: self.next_funding_ts }));
        }
        if let Some(oi) = row.open_interest {
            push(Derivative::OpenInterest(oi));
        }
    }
}

/// Symbol `i`'s entry of a per-symbol state table, made (default) when first asked for.
pub(crate) fn state_slot<T: Default>(states: &mut Vec<T>, i: SymbolIdx) -> &mut T {
    let i = usize::from(i);
    if states.len() <= i {
        states.resize_with(i + 1, T::default);
    }
    &mut states[i]
}

/// An unsubscribe then a subscribe of one book, each written by `request` from the verb
/// (`"unsubscribe"`, `"subscribe"`): what [`Adapter::resubscribe_book_messages`] sends on
/// venues that answer a subscription with a fresh snapshot.
pub(crate) fn resubscription(request: impl Fn(&str) -> String) -> Option<Vec<String>> {
    Some(vec![request("unsubscribe"), request("subscribe")])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts<'a>(v: &'a [&'static str]) -> impl Iterator<Item = &'static [u8]> + 'a {
        v.iter().map(|t| t.as_bytes())
    }

    /// A known pair's printed decimals only grow, by the most any number prints; the numbers
    /// that print exactly as many (the common case, one compare each) leave them as they are.
    #[test]
    fn known_symbols_printed_decimals_only_grow() {
        let mut s = Symbols::new(Venue::KrakenV1, InstrumentRegistry::default());
        let i = s.learn_printed(b"XBT/USD", texts(&["100.5"]), texts(&["1.50"])).unwrap();
        let decimals = |s: &Symbols| (s.list()[0].price_decimals, s.list()[0].qty_decimals);
        assert_eq!(decimals(&s), (1, 2));
        let same = s.learn_printed(b"XBT/USD", texts(&["99.5", "7.0"]), texts(&["0.25", "10.00"]));
        assert_eq!(same.unwrap(), i);
        assert_eq!(decimals(&s), (1, 2));
        let more = ["99.5", "7.125", "8.0"];
        s.learn_printed(b"XBT/USD", texts(&more), texts(&["0.25", "1.2500", "3"])).unwrap();
        assert_eq!(decimals(&s), (3, 4));
        // Fewer decimals never lower them.
        s.learn_printed(b"XBT/USD", texts(&["99"]), texts(&["1.5"])).unwrap();
        assert_eq!(decimals(&s), (3, 4));
        // A number that would raise them must be well formed, and then changes nothing.
        let bad = s.learn_printed(b"XBT/USD", texts(&["1.0000x"]), texts(&["1.0000"]));
        assert!(matches!(bad, Err(VenueError::Number { field: "price", .. })), "{bad:?}");
        assert_eq!(decimals(&s), (3, 4));
    }
}

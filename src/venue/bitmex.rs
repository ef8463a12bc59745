//! BitMEX (`wss://ws.bitmex.com/realtime`): `orderBookL2` (full-depth books), `trade` and
//! `quote` tables per instrument.
//!
//! Books: every table message is `{"table", "action", "data": [rows]}`. An `orderBookL2`
//! `partial` is the book's snapshot (the rows of every level); then `insert`, `update` and
//! `delete` rows change one level each, keyed by the level's `id` (with `symbol` and `side`).
//! There is no sequence number: the adapter keeps each book's `id` → (side, price) map, and a
//! row that contradicts it (an `update` or `delete` of an id the book does not hold, an
//! `insert` of one it already holds) shows that a message was lost: a gap for that book, which
//! resyncs (its `orderBookL2` subscription is dropped and made again on the open connection:
//! BitMEX answers a subscription with a new `partial`). Rows that arrive before their book's
//! `partial` are dropped, as BitMEX documents.
//!
//! Prices: the current protocol sends `price` on every row; captures from before 2022 (such as
//! cryptofeed's 2021 recording) send it on `partial` and `insert` rows only, so an `update` or
//! `delete` takes the price of its `id` from the map. (BitMEX's old formula
//! `price = (100000000 * instrumentIndex - id) * tickSize` is not used: no public reference data
//! gives the instrument's index, and BitMEX no longer derives ids from prices.) Prices and sizes
//! are JSON numbers, read as their exact wire text; `size` counts contracts, in lots of the
//! instrument's `lotSize` when the venue's reference data is loaded. `orderBookL2` and `trade`
//! messages are read by the venue's scanner (`scan::bitmex`, one walk over the frame in
//! place, rows handed to the handlers as `Row`s), anything it does not recognise exactly by
//! simd-json ([`ScanControls::set_parser`](super::ScanControls::set_parser) picks simd-json
//! for every frame).
//!
//! Trades: `trade` `insert` rows (`side` is the taker's); the `partial` is recent history, not
//! new trades. `quote` rows are the venue's own best bid and offer. Control: the welcome
//! (`info`), `success` answers, `pong` (the answer to the client's text `ping`); `error` is the
//! venue reporting one.
//!
//! Derivatives (subscribed when [`Bitmex::derivatives`] is on): the `instrument` table (a
//! `partial` row with every field, then `update` rows keyed by `symbol` that carry only the
//! fields that changed: the adapter keeps each symbol's latest `markPrice`,
//! `indicativeSettlePrice` (the index the contract would settle at, BitMEX's index price),
//! `fundingRate` and `fundingTimestamp` (the next funding time) and publishes whole records
//! for what a row changed; `openInterest` is in contracts, `null` is "no value", as on a
//! dated future's funding fields) and the `liquidation` table (the venue's active liquidation
//! orders keyed by `orderID`: an `insert` row is a new liquidation order, published with its
//! `side` (the order's: `Sell` closes a long), `price` and `leavesQty`; the `partial` lists
//! orders placed before the subscription and `update`/`delete` rows follow an order already
//! published (its remaining quantity, its end), so they publish nothing). Liquidation rows
//! carry no time: their records have venue time 0.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use simd_json::tape::Value;

use super::json::{self, field_text, Scratch};
use super::protocol::{Keepalive, Protocol, BASE};
use super::scan::bitmex::{BitmexFound, BitmexFrames};
use super::scan::{scan_frame, ScanPath};
use super::time::rfc3339_ns;
use super::{deriv_price, deriv_rate, deriv_size, TickerRow, TickerState};
use super::{num, Adapter, BookAction, GapScope, Parsed, SymbolIdx, Symbols, TradeMsg, VenueError};
use crate::book::{InstrumentRegistry, Side, Step, Venue};
use crate::event::{self, Bbo, Derivative, Liquidation, Trade};

/// BitMEX's transport: `/realtime`; the client's text `ping` (answered `pong`) every 5 s, as
/// BitMEX recommends for noticing a connection that dropped silently. A full-depth
/// `orderBookL2` partial of a busy instrument runs to megabytes.
pub const PROTOCOL: Protocol = Protocol {
    endpoint: "wss://ws.bitmex.com",
    path: "/realtime",
    max_message: 16 << 20,
    keepalive: Some(Keepalive {
        text: "ping",
        every: std::time::Duration::from_secs(5),
        reply: "pong",
    }),
    ..BASE
};

/// The longest price text a level id maps to (longer is a shape error).
const PRICE_TEXT: usize = 30;

/// A level's price as the venue wrote it (read into ticks each time it is used, so a learned
/// tick that is refined later applies to it as to every other price).
#[derive(Debug, Clone, Copy)]
struct PriceText {
    len: u8,
    buf: [u8; PRICE_TEXT],
}

impl PriceText {
    fn new(text: &[u8]) -> Result<PriceText, VenueError> {
        if text.len() > PRICE_TEXT {
            return Err(VenueError::Shape("level price too long"));
        }
        let mut buf = [0u8; PRICE_TEXT];
        buf[..text.len()].copy_from_slice(text);
        Ok(PriceText { len: text.len() as u8, buf })
    }

    fn text(&self) -> &[u8] {
        &self.buf[..usize::from(self.len)]
    }
}

/// The rows of a table message, from either parser: read as many times as a handler needs.
pub(crate) trait RowSource<'i>: Copy {
    /// The rows, in order.
    fn rows(self) -> impl Iterator<Item = Row<'i>>;
}

impl<'i> RowSource<'i> for simd_json::tape::Array<'_, 'i> {
    #[inline]
    fn rows(self) -> impl Iterator<Item = Row<'i>> {
        self.iter().map(Row::of)
    }
}

impl<'i> RowSource<'i> for super::scan::bitmex::Rows<'i> {
    #[inline]
    fn rows(self) -> impl Iterator<Item = Row<'i>> {
        self.iter()
    }
}

/// A hasher for level ids (venue-assigned integers): one multiply, no allocation.
#[derive(Debug, Default, Clone, Copy)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
        }
    }

    fn write_u64(&mut self, n: u64) {
        // Fibonacci hashing: the high bits, which hashbrown uses, depend on every bit of `n`.
        self.0 = (n ^ (n >> 29)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

type IdMap = HashMap<u64, (Side, PriceText), BuildHasherDefault<IdHasher>>;

/// The fields of one `orderBookL2` or `trade` row that the handlers read, as text (a string's
/// bytes, a number's exact text; `None` if absent, `null`, `true` or `false`), from either
/// parser: simd-json's tape of the frame with its numbers quoted ([`Row::of`]), or the
/// scanner's row offsets (`scan::bitmex`). One handler, two parsers, one behaviour.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Row<'i> {
    /// `symbol`.
    pub(crate) symbol: Option<&'i [u8]>,
    /// `id`: the level's id (book rows).
    pub(crate) id: Option<&'i [u8]>,
    /// `side`: `Buy` or `Sell`.
    pub(crate) side: Option<&'i [u8]>,
    /// `size`.
    pub(crate) size: Option<&'i [u8]>,
    /// `price`.
    pub(crate) price: Option<&'i [u8]>,
    /// `timestamp`.
    pub(crate) timestamp: Option<&'i [u8]>,
    /// `trdMatchID` (trade rows).
    pub(crate) trd_match_id: Option<&'i [u8]>,
}

impl<'i> Row<'i> {
    /// The row keys, in [`Row::from_texts`] order.
    pub(crate) const KEYS: [&'static str; 7] =
        ["symbol", "id", "side", "size", "price", "timestamp", "trdMatchID"];

    /// A row from the texts of [`Row::KEYS`], in that order.
    #[inline]
    pub(crate) fn from_texts(t: [Option<&'i [u8]>; 7]) -> Self {
        let [symbol, id, side, size, price, timestamp, trd_match_id] = t;
        Row { symbol, id, side, size, price, timestamp, trd_match_id }
    }

    /// A row of simd-json's tape (numbers quoted), its members walked once; the first member
    /// of a key, as [`Value::get`] finds it.
    #[inline]
    fn of(v: Value<'_, 'i>) -> Self {
        Row::from_texts(json::fields(v, Row::KEYS).map(|f| f.and_then(json::text)))
    }

    /// The level id, from its digits.
    fn level_id(&self) -> Result<u64, VenueError> {
        self.id.and_then(json::parse_u64).ok_or(VenueError::Shape("level id"))
    }
}

#[derive(Debug, Default)]
struct SymState {
    /// The book's `partial` has been applied on this connection.
    synced: bool,
    /// Every level of the book: `id` → (side, price). Cleared, never shrunk.
    levels: IdMap,
    /// With merged lines, the levels deleted since the `partial`: an `update` without a
    /// price (the pre-2022 shape) of a level a message applied out of its place deleted
    /// still finds its price here. Cleared with `levels`.
    gone: IdMap,
}

impl SymState {
    fn clear(&mut self) {
        self.synced = false;
        self.levels.clear();
        self.gone.clear();
    }
}

/// The BitMEX adapter. See the [module docs](self).
#[derive(Debug)]
pub struct Bitmex {
    symbols: Symbols,
    states: Vec<SymState>,
    scratch: Option<Box<Scratch>>,
    /// Also subscribe the `instrument` (funding, mark, index, open interest) and
    /// `liquidation` tables of each symbol.
    pub derivatives: bool,
    /// Each symbol's latest `instrument` values (update rows carry only what changed).
    tickers: Vec<TickerState>,
    /// Frames of several connections arrive merged (redundant lines, arbitrated by
    /// content): a row that contradicts the book is applied as it says and its message is
    /// marked ([`Parsed::contradicts`]) instead of resyncing at once, since the arbiter
    /// may be about to put a message the line in front lost back in its place.
    pub merged: bool,
    /// The messages now coming are applied once more after a lost one was put back in its
    /// place ([`Bitmex::set_repeating`]): contradictions are expected and not marked.
    repeating: bool,
    /// The parser choice and the scanner (`orderBookL2` and `trade` messages).
    scan: ScanPath<BitmexFrames>,
}

/// What one change row did to its book.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RowFit {
    /// It fit the book.
    Fits,
    /// It contradicted the book, and was applied as it says where its price is known
    /// (merged lines only).
    Contradicts,
    /// It contradicted the book: a lost message.
    Gap,
}

/// What a book row does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RowAction {
    Insert,
    Update,
    Delete,
}

impl Bitmex {
    /// A new adapter.
    pub fn new(registry: InstrumentRegistry) -> Self {
        Bitmex {
            symbols: Symbols::new(Venue::Bitmex, registry),
            states: Vec::new(),
            scratch: Some(Box::new(Scratch::new())),
            derivatives: false,
            tickers: Vec::new(),
            merged: false,
            repeating: false,
            scan: ScanPath::new(),
        }
    }

    /// What the scanner read: an `orderBookL2` or `trade` message with its table, action and
    /// rows; `None` (simd-json reads the frame) for any other.
    fn scanned(&mut self, f: &BitmexFound<'_>, out: &mut Parsed) -> Option<Result<(), VenueError>> {
        let (table, action, rows) = (f.table?, f.action?, f.rows?);
        match table {
            b"orderBookL2" | b"orderBookL2_25" => Some(self.book(action, f.filter, rows, out)),
            b"trade" => Some(self.trades(action, rows, out)),
            _ => None,
        }
    }

    /// Whether the messages now coming are applied once more, after a message the line in
    /// front lost was put back in its place (merged lines): their rows may contradict the
    /// book on the way (it already holds what they lead to) without anything being lost.
    pub fn set_repeating(&mut self, on: bool) {
        self.repeating = on;
    }

    fn state(&mut self, i: SymbolIdx) -> &mut SymState {
        super::state_slot(&mut self.states, i)
    }

    fn frame(&mut self, root: Value<'_, '_>, out: &mut Parsed) -> Result<(), VenueError> {
        let Some(table) = field_text(root, "table") else {
            out.control = true;
            if root.get("error").is_some() {
                return Err(VenueError::VenueReported);
            }
            return if root.get("success").is_some() || root.get("info").is_some() {
                Ok(())
            } else {
                Err(VenueError::UnknownType)
            };
        };
        let action = field_text(root, "action").ok_or(VenueError::Shape("action"))?;
        let data = root.get_array("data").ok_or(VenueError::Shape("data"))?;
        match table {
            b"orderBookL2" | b"orderBookL2_25" => {
                let filter = root.get("filter").and_then(|f| field_text(f, "symbol"));
                self.book(action, filter, data, out)
            }
            b"trade" => self.trades(action, data, out),
            b"quote" => {
                out.control = true;
                for q in data.iter() {
                    self.quote(q)?;
                }
                Ok(())
            }
            b"instrument" => {
                out.control = true;
                let whole = match action {
                    b"partial" | b"insert" => true,
                    b"update" => false,
                    // An instrument delisted: nothing to publish.
                    b"delete" => return Ok(()),
                    _ => return Err(VenueError::Shape("instrument action")),
                };
                for r in data.iter() {
                    self.instrument(r, whole, out)?;
                }
                Ok(())
            }
            b"liquidation" => {
                out.control = true;
                let new = match action {
                    b"insert" => true,
                    b"partial" | b"update" | b"delete" => false,
                    _ => return Err(VenueError::Shape("liquidation action")),
                };
                for r in data.iter() {
                    if field_text(r, "orderID").is_none() {
                        return Err(VenueError::Shape("liquidation orderID"));
                    }
                    if new {
                        self.liquidation(r, out)?;
                    }
                }
                Ok(())
            }
            _ => Err(VenueError::UnknownType),
        }
    }

    /// An `orderBookL2` message: `action` applied with its `rows` (`filter`: the `symbol` of
    /// a `partial`'s `filter`).
    fn book<'i>(
        &mut self,
        action: &[u8],
        filter: Option<&[u8]>,
        rows: impl RowSource<'i>,
        out: &mut Parsed,
    ) -> Result<(), VenueError> {
        let row = match action {
            b"partial" => return self.partial(filter, rows, out),
            b"insert" => RowAction::Insert,
            b"update" => RowAction::Update,
            b"delete" => RowAction::Delete,
            _ => return Err(VenueError::Shape("action")),
        };
        self.changes(rows, row, out)
    }

    /// A `trade` message: `insert` rows are new trades.
    fn trades<'i>(
        &mut self,
        action: &[u8],
        rows: impl RowSource<'i>,
        out: &mut Parsed,
    ) -> Result<(), VenueError> {
        match action {
            // Recent trades at subscription: history, not new trades.
            b"partial" => {
                out.control = true;
                Ok(())
            }
            b"insert" => {
                for t in rows.rows() {
                    self.trade(&t, out)?;
                }
                Ok(())
            }
            _ => Err(VenueError::Shape("trade action")),
        }
    }

    /// An `orderBookL2` `partial`: the whole book of the instrument named by its `filter` (or
    /// by its rows, grouped by symbol).
    fn partial<'i>(
        &mut self,
        filter: Option<&[u8]>,
        rows: impl RowSource<'i>,
        out: &mut Parsed,
    ) -> Result<(), VenueError> {
        let mut open: Option<SymbolIdx> = None;
        if let Some(key) = filter {
            let sym = self.partial_symbol(key, rows)?;
            self.begin_partial(sym, out);
            open = Some(sym);
        }
        for r in rows.rows() {
            let key = r.symbol.ok_or(VenueError::Shape("level symbol"))?;
            let sym = match open {
                Some(s)
                    if json::same_key(self.symbols.list()[usize::from(s)].key.as_bytes(), key) =>
                {
                    s
                }
                _ => {
                    if open.is_some() {
                        out.finish_book(None, None);
                    }
                    let s = self.partial_symbol(key, rows)?;
                    self.begin_partial(s, out);
                    open = Some(s);
                    s
                }
            };
            if let Err(e) = self.partial_row(sym, &r, out) {
                out.broken = Some(sym);
                return Err(e);
            }
        }
        if open.is_some() {
            out.finish_book(None, None);
        } else {
            // No filter and no rows: nothing to apply.
            out.control = true;
        }
        Ok(())
    }

    /// The symbol of a partial's book: known, or learned from the partial's prices and sizes.
    fn partial_symbol<'i>(
        &mut self,
        key: &[u8],
        rows: impl RowSource<'i>,
    ) -> Result<SymbolIdx, VenueError> {
        if let Some(s) = self.symbols.resolve(key) {
            return Ok(s);
        }
        let of = |field: fn(&Row<'i>) -> Option<&'i [u8]>| {
            rows.rows().filter(move |r| r.symbol == Some(key)).filter_map(move |r| field(&r))
        };
        self.symbols.learn(key, of(|r| r.price), of(|r| r.size))
    }

    fn begin_partial(&mut self, sym: SymbolIdx, out: &mut Parsed) {
        let st = self.state(sym);
        st.clear();
        st.synced = true;
        out.begin_book(sym, BookAction::Snapshot, 0);
    }

    fn partial_row(
        &mut self,
        sym: SymbolIdx,
        r: &Row<'_>,
        out: &mut Parsed,
    ) -> Result<(), VenueError> {
        let id = r.level_id()?;
        let side = side_of(r)?;
        let px = r.price.ok_or(VenueError::Shape("level price"))?;
        let size = r.size.ok_or(VenueError::Shape("level size"))?;
        let text = PriceText::new(px)?;
        let inst = &self.symbols.list()[usize::from(sym)].instrument;
        let px_tick = out.book_price_number(inst, px).map_err(num("price"))?;
        let qty_lots = inst.lot.units(size).map_err(num("size"))?;
        self.state(sym).levels.insert(id, (side, text));
        out.level(side, px_tick, qty_lots);
        note_time(r, out);
        Ok(())
    }

    /// `insert`, `update` or `delete` rows: each one level of its symbol's book.
    fn changes<'i>(
        &mut self,
        rows: impl RowSource<'i>,
        action: RowAction,
        out: &mut Parsed,
    ) -> Result<(), VenueError> {
        // The symbol of the book message open in `out`, and a symbol whose rows are skipped
        // for the rest of the frame (waiting for its partial, or just found with a gap).
        let mut open: Option<SymbolIdx> = None;
        let mut skip: Option<SymbolIdx> = None;
        for r in rows.rows() {
            let key = r.symbol.ok_or(VenueError::Shape("level symbol"))?;
            let Some(sym) = self.symbols.resolve(key) else {
                // Unknown before its partial (no reference data): nothing to apply it to.
                out.waiting += 1;
                continue;
            };
            if skip == Some(sym) {
                continue;
            }
            if open != Some(sym) {
                if open.is_some() {
                    out.finish_book(None, None);
                    open = None;
                }
                if !self.state(sym).synced {
                    out.waiting += 1;
                    skip = Some(sym);
                    continue;
                }
                out.begin_book(sym, BookAction::Update, 0);
                open = Some(sym);
            }
            match self.change_row(sym, &r, action, out) {
                Ok(RowFit::Fits) => {}
                Ok(RowFit::Contradicts) => {
                    if !self.repeating {
                        out.contradicts();
                    }
                }
                Ok(RowFit::Gap) => {
                    // A lost message: nothing of this book's rows in the frame is applied.
                    out.abandon_book();
                    open = None;
                    skip = Some(sym);
                    self.state(sym).clear();
                    out.gaps.push(GapScope::Symbol(sym));
                }
                Err(e) => {
                    out.broken = Some(sym);
                    return Err(e);
                }
            }
        }
        if open.is_some() {
            out.finish_book(None, None);
        }
        Ok(())
    }

    /// One change row: whether it fit the book.
    ///
    /// A row contradicts the book when it is an `insert` of a level the book holds, or an
    /// `update` or `delete` of one it lacks. On one connection that is a lost message (a
    /// gap). With merged lines it is applied as it says (every row then sets its level to
    /// what the venue holds after it, so applying the messages after a lost one once more
    /// puts the book right) when its price is known, and reported either way.
    fn change_row(
        &mut self,
        sym: SymbolIdx,
        r: &Row<'_>,
        action: RowAction,
        out: &mut Parsed,
    ) -> Result<RowFit, VenueError> {
        let id = r.level_id()?;
        let side = side_of(r)?;
        let carried = r.price;
        let size = match action {
            RowAction::Delete => None,
            _ => Some(r.size.ok_or(VenueError::Shape("level size"))?),
        };
        let merged = self.merged;
        let st = self.state(sym);
        let known = st.levels.get(&id).copied();
        let contradicts = match action {
            RowAction::Insert => known.is_some(),
            RowAction::Update | RowAction::Delete => known.is_none(),
        };
        if contradicts && !merged {
            return Ok(RowFit::Gap);
        }
        let px = match (known, carried) {
            // The current protocol carries the price; older captures need the id's.
            (_, Some(p)) => PriceText::new(p)?,
            (Some((_, p)), None) => p,
            (None, None) if action == RowAction::Insert => {
                return Err(VenueError::Shape("level price"))
            }
            (None, None) => match st.gone.get(&id) {
                Some((_, p)) => *p,
                // No price to apply it at (an `update` of the pre-2022 shape, of a level
                // whose `insert` the line in front lost): left for the repair, which applies
                // it again after that `insert`.
                None => return Ok(RowFit::Contradicts),
            },
        };
        let inst = &self.symbols.list()[usize::from(sym)].instrument;
        let px_tick = out.book_price_number(inst, px.text()).map_err(num("price"))?;
        let qty_lots = match size {
            Some(s) => inst.lot.units(s).map_err(num("size"))?,
            None => 0,
        };
        if let Some((was, old)) = known.filter(|(was, old)| *was != side || old.text() != px.text())
        {
            // The level moved (side or price): it leaves where it was first.
            let old_tick = out.book_price_number(inst, old.text()).map_err(num("price"))?;
            out.level(was, old_tick, 0);
        }
        let st = self.state(sym);
        if action == RowAction::Delete {
            st.levels.remove(&id);
            if merged {
                st.gone.insert(id, (side, px));
            }
        } else {
            st.levels.insert(id, (side, px));
        }
        out.level(side, px_tick, qty_lots);
        note_time(r, out);
        Ok(if contradicts { RowFit::Contradicts } else { RowFit::Fits })
    }

    fn trade(&mut self, t: &Row<'_>, out: &mut Parsed) -> Result<(), VenueError> {
        let key = t.symbol.ok_or(VenueError::Shape("trade symbol"))?;
        let sym = self.symbols.resolve(key).ok_or(VenueError::UnknownSymbol)?;
        let inst = &self.symbols.list()[usize::from(sym)].instrument;
        fn f(v: Option<&[u8]>) -> Result<&[u8], VenueError> {
            v.ok_or(VenueError::Shape("trade field"))
        }
        // `side`: the taker's.
        let aggressor = match f(t.side)? {
            b"Buy" => event::Side::Buy,
            b"Sell" => event::Side::Sell,
            _ => return Err(VenueError::Shape("trade side")),
        };
        out.trades.push(TradeMsg {
            symbol: sym,
            trade: Trade {
                price_tick: inst.tick.units(f(t.price)?).map_err(num("price"))?,
                size_lots: inst.lot.units(f(t.size)?).map_err(num("size"))?,
                aggressor: Some(aggressor),
                trade_id: t.trd_match_id.map_or(0, guid_id),
            },
            exch_ts: rfc3339_ns(f(t.timestamp)?).ok_or(VenueError::Shape("trade timestamp"))?,
        });
        Ok(())
    }

    /// The venue's own best bid and offer (the summary compares it with the book).
    fn quote(&mut self, q: Value<'_, '_>) -> Result<(), VenueError> {
        let key = field_text(q, "symbol").ok_or(VenueError::Shape("quote symbol"))?;
        let Some(sym) = self.symbols.find(key) else { return Ok(()) };
        let info = self.symbols.get_mut(sym).ok_or(VenueError::UnknownSymbol)?;
        let inst = &info.instrument;
        let num_of = |k: &'static str, step: Step| -> Result<i64, VenueError> {
            match field_text(q, k) {
                // No bid or no ask: `null`.
                None | Some(b"null") => Ok(0),
                Some(v) => step.units(v).map_err(num(k)),
            }
        };
        info.venue_bbo = Some(Bbo {
            bid_tick: num_of("bidPrice", inst.tick)?,
            bid_lots: num_of("bidSize", inst.lot)?,
            ask_tick: num_of("askPrice", inst.tick)?,
            ask_lots: num_of("askSize", inst.lot)?,
        });
        Ok(())
    }
}

super::scan::scan_controls!(Bitmex, "`orderBookL2` and `trade`");

impl Bitmex {
    /// An `instrument` row (see the [module docs](self)); `whole`: a `partial` or `insert` row,
    /// which carries every field (values it lacks are forgotten).
    fn instrument(
        &mut self,
        r: Value<'_, '_>,
        whole: bool,
        out: &mut Parsed,
    ) -> Result<(), VenueError> {
        let key = field_text(r, "symbol").ok_or(VenueError::Shape("instrument symbol"))?;
        let Some(sym) = self.symbols.find(key) else {
            out.derivs_unknown += 1;
            return Ok(());
        };
        let exch_ts = match field_text(r, "timestamp") {
            Some(t) => rfc3339_ns(t).ok_or(VenueError::Shape("instrument timestamp"))?,
            None => 0,
        };
        let inst = &self.symbols.list()[usize::from(sym)].instrument;
        // `null`: no value (a dated future has no funding; a field not yet computed).
        let value = |k: &str| field_text(r, k).filter(|v| *v != b"null");
        // Read everything before changing the state: a bad number changes nothing.
        let mark = value("markPrice").map(|v| deriv_price(inst, v, "markPrice")).transpose()?;
        let index = value("indicativeSettlePrice")
            .map(|v| deriv_price(inst, v, "indicativeSettlePrice"))
            .transpose()?;
        let rate = value("fundingRate").map(|v| deriv_rate(v, "fundingRate")).transpose()?;
        let next = value("fundingTimestamp")
            .map(|v| rfc3339_ns(v).ok_or(VenueError::Shape("fundingTimestamp")))
            .transpose()?;
        let oi = value("openInterest").map(|v| deriv_size(inst, v, "openInterest")).transpose()?;
        let row = TickerRow { mark, index, rate, next_funding_ts: next, open_interest: oi };
        super::state_slot(&mut self.tickers, sym).merge(whole, row, sym, exch_ts, out);
        Ok(())
    }

    /// A new liquidation order (an `insert` row of the `liquidation` table).
    fn liquidation(&mut self, r: Value<'_, '_>, out: &mut Parsed) -> Result<(), VenueError> {
        let f = |k: &'static str| field_text(r, k).ok_or(VenueError::Shape("liquidation field"));
        let key = f("symbol")?;
        // The liquidation order's own side.
        let side = match f("side")? {
            b"Buy" => event::Side::Buy,
            b"Sell" => event::Side::Sell,
            _ => return Err(VenueError::Shape("liquidation side")),
        };
        let (px, qty) = (f("price")?, f("leavesQty")?);
        super::push_deriv(&self.symbols, key, 0, out, |inst| {
            let price = deriv_price(inst, px, "price")?;
            let size = deriv_size(inst, qty, "leavesQty")?;
            // A price or quantity below zero is no order.
            if price.units < 0 {
                return Err(num("price")(crate::book::NumError::Negative));
            }
            if size.units < 0 {
                return Err(num("leavesQty")(crate::book::NumError::Negative));
            }
            Ok(Some(Derivative::Liquidation(Liquidation { side, price, size })))
        })
    }
}

/// A row's `side`: `Buy` is a bid, `Sell` an ask.
fn side_of(r: &Row<'_>) -> Result<Side, VenueError> {
    match r.side {
        Some(b"Buy") => Ok(Side::Bid),
        Some(b"Sell") => Ok(Side::Ask),
        _ => Err(VenueError::Shape("level side")),
    }
}

/// The newest row `timestamp` (current protocol; old captures have none) as the book
/// message's venue time.
fn note_time(r: &Row<'_>, out: &mut Parsed) {
    let Some(ts) = r.timestamp.and_then(rfc3339_ns) else { return };
    if let Some(b) = out.books.last_mut() {
        b.exch_ts = b.exch_ts.max(ts);
    }
}

/// A trade id from BitMEX's `trdMatchID` (a GUID): its first 16 hex digits (0 if malformed).
fn guid_id(guid: &[u8]) -> u64 {
    let mut id: u64 = 0;
    let mut n = 0;
    for &c in guid {
        let d = match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            b'A'..=b'F' => c - b'A' + 10,
            b'-' => continue,
            _ => return 0,
        };
        id = (id << 4) | u64::from(d);
        n += 1;
        if n == 16 {
            break;
        }
    }
    id
}

impl Adapter for Bitmex {
    fn venue(&self) -> Venue {
        Venue::Bitmex
    }

    fn handle_frame(&mut self, frame: &[u8], _: u64, out: &mut Parsed) -> Result<(), VenueError> {
        if frame == b"pong" {
            out.control = true;
            return Ok(());
        }
        if let Some(r) = scan_frame(self, |a| &mut a.scan, frame, out, Self::scanned) {
            return r;
        }
        let mut scratch = self.scratch.take().unwrap_or_default();
        let r = scratch.parse(frame, true, |root| self.frame(root, out));
        self.scratch = Some(scratch);
        r
    }

    fn resync(&mut self, symbol: SymbolIdx) {
        self.state(symbol).clear();
    }

    fn reset_connection(&mut self) {
        for st in &mut self.states {
            st.clear();
        }
        // A new connection's `instrument` subscription starts with a partial.
        self.tickers.iter_mut().for_each(|t| *t = TickerState::default());
    }

    fn symbols(&self) -> &Symbols {
        &self.symbols
    }

    fn symbols_mut(&mut self) -> &mut Symbols {
        &mut self.symbols
    }

    /// The books, trades and quotes of `symbols` (and their `instrument` and `liquidation`
    /// tables when [`Bitmex::derivatives`] is on), one request.
    fn subscribe_messages(&self, symbols: &[&str]) -> Vec<String> {
        vec![request("subscribe", &topics(symbols, true, self.derivatives))]
    }

    fn unsubscribe_messages(&self, symbols: &[&str]) -> Vec<String> {
        vec![request("unsubscribe", &topics(symbols, true, self.derivatives))]
    }

    /// BitMEX answers an `orderBookL2` subscription with a new `partial`: the book's topic is
    /// unsubscribed and subscribed again (its trades and quotes keep flowing).
    fn resubscribe_book_messages(&self, symbol: &str) -> Option<Vec<String>> {
        let book = topics(&[symbol], false, false);
        super::resubscription(|op| request(op, &book))
    }
}

/// The topics of `symbols`: their books, with `all` their trades and quotes, with
/// `derivatives` their `instrument` and `liquidation` tables.
fn topics(symbols: &[&str], all: bool, derivatives: bool) -> Vec<String> {
    let mut out = Vec::new();
    for s in symbols {
        out.push(format!("orderBookL2:{s}"));
        if all {
            out.push(format!("trade:{s}"));
            out.push(format!("quote:{s}"));
        }
        if derivatives {
            out.push(format!("instrument:{s}"));
            out.push(format!("liquidation:{s}"));
        }
    }
    out
}

fn request(op: &str, topics: &[String]) -> String {
    let list: Vec<String> = topics.iter().map(|t| format!("\"{t}\"")).collect();
    format!("{{\"op\":\"{op}\",\"args\":[{}]}}", list.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Funding, Scaled};

    fn bitmex() -> Bitmex {
        Bitmex::new(InstrumentRegistry::with_builtins())
    }

    fn ok(a: &mut Bitmex, frame: &[u8]) -> Parsed {
        let mut out = Parsed::default();
        let r = a.handle_frame(frame, 0, &mut out);
        assert_eq!(r, Ok(()), "{}", String::from_utf8_lossy(frame));
        out
    }

    /// The 2021 shape: a partial with prices, then rows without them.
    const PARTIAL: &[u8] = br#"{"table":"orderBookL2","action":"partial","keys":["symbol","id","side"],"types":{},"filter":{"symbol":"BCHUSD"},"data":[{"symbol":"BCHUSD","id":40199991250,"side":"Sell","size":300,"price":437.5},{"symbol":"BCHUSD","id":40199991255,"side":"Buy","size":2104,"price":437.25},{"symbol":"BCHUSD","id":40199991260,"side":"Buy","size":10,"price":437}]}"#;

    fn levels(out: &Parsed) -> Vec<(Side, i64, i64)> {
        out.levels.iter().map(|l| (l.side, l.px_tick, l.qty_lots)).collect()
    }

    #[test]
    fn a_partial_then_rows_keyed_by_id_take_their_price_from_the_map() {
        let mut a = bitmex();
        let out = ok(&mut a, PARTIAL);
        assert_eq!(out.books.len(), 1);
        assert_eq!(out.books[0].action, BookAction::Snapshot);
        let tick = a.symbols().list()[0].instrument.tick;
        let t = |p: &str| tick.units(p.as_bytes()).unwrap();
        assert_eq!(
            levels(&out),
            vec![
                (Side::Ask, t("437.5"), 300),
                (Side::Bid, t("437.25"), 2104),
                (Side::Bid, t("437"), 10)
            ]
        );
        // An update without a price: the id's.
        let out = ok(&mut a, br#"{"table":"orderBookL2","action":"update","data":[{"symbol":"BCHUSD","id":40199991255,"side":"Buy","size":2431}]}"#);
        assert_eq!(
            (out.books[0].action, levels(&out)),
            (BookAction::Update, vec![(Side::Bid, t("437.25"), 2431)])
        );
        // A delete without a price, then an insert with one.
        let out = ok(&mut a, br#"{"table":"orderBookL2","action":"delete","data":[{"symbol":"BCHUSD","id":40199991260,"side":"Buy"}]}"#);
        assert_eq!(levels(&out), vec![(Side::Bid, t("437"), 0)]);
        let out = ok(&mut a, br#"{"table":"orderBookL2","action":"insert","data":[{"symbol":"BCHUSD","id":40199991245,"side":"Buy","size":7,"price":437.75}]}"#);
        assert_eq!(levels(&out), vec![(Side::Bid, t("437.75"), 7)]);
        // The current protocol: every row carries its price and a timestamp.
        let out = ok(&mut a, br#"{"table":"orderBookL2","action":"update","data":[{"symbol":"BCHUSD","id":40199991245,"side":"Buy","size":8,"price":437.75,"timestamp":"2021-07-22T22:36:10.014Z"}]}"#);
        assert_eq!(levels(&out), vec![(Side::Bid, t("437.75"), 8)]);
        assert_eq!(out.books[0].exch_ts, 1_626_993_370_014_000_000);
    }

    #[test]
    fn rows_that_contradict_the_book_are_a_gap_for_that_book_alone() {
        let mut a = bitmex();
        ok(&mut a, PARTIAL);
        ok(&mut a, &renamed(PARTIAL, "XBTUSD"));
        // An update of an id the book never had (its insert was lost).
        let out = ok(&mut a, br#"{"table":"orderBookL2","action":"update","data":[{"symbol":"BCHUSD","id":1,"side":"Buy","size":5},{"symbol":"BCHUSD","id":40199991255,"side":"Buy","size":5},{"symbol":"XBTUSD","id":40199991255,"side":"Buy","size":6}]}"#);
        assert_eq!(out.gaps, vec![GapScope::Symbol(0)]);
        // Nothing of the broken book is applied; the other book's row is.
        assert_eq!(out.books.len(), 1);
        assert_eq!((out.books[0].symbol, out.levels_of(&out.books[0])[0].qty_lots), (1, 6));
        // The broken book waits for its next partial.
        let out = ok(&mut a, br#"{"table":"orderBookL2","action":"delete","data":[{"symbol":"BCHUSD","id":40199991255,"side":"Buy"}]}"#);
        assert_eq!((out.waiting, out.books.len()), (1, 0));
        ok(&mut a, PARTIAL);
        // An insert of an id the book holds (its delete was lost); a delete of an unknown id.
        for frame in [
            &br#"{"table":"orderBookL2","action":"insert","data":[{"symbol":"BCHUSD","id":40199991250,"side":"Sell","size":1,"price":437.5}]}"#[..],
            br#"{"table":"orderBookL2","action":"delete","data":[{"symbol":"XBTUSD","id":77,"side":"Sell"}]}"#,
        ] {
            assert_eq!(ok(&mut a, frame).gaps.len(), 1, "{}", String::from_utf8_lossy(frame));
        }
    }

    /// `frame` with BCHUSD renamed `to`.
    fn renamed(frame: &[u8], to: &str) -> Vec<u8> {
        String::from_utf8_lossy(frame).replace("BCHUSD", to).into_bytes()
    }

    #[test]
    fn rows_before_the_partial_wait_and_a_level_may_move() {
        let mut a = bitmex();
        let out = ok(&mut a, br#"{"table":"orderBookL2","action":"update","data":[{"symbol":"BCHUSD","id":40199991255,"side":"Buy","size":1}]}"#);
        assert_eq!((out.waiting, out.books.len()), (1, 0));
        ok(&mut a, PARTIAL);
        let out = ok(&mut a, br#"{"table":"orderBookL2","action":"update","data":[{"symbol":"BCHUSD","id":40199991255,"side":"Sell","size":4}]}"#);
        let tick = a.symbols().list()[0].instrument.tick;
        let t = |p: &str| tick.units(p.as_bytes()).unwrap();
        assert_eq!(levels(&out), vec![(Side::Bid, t("437.25"), 0), (Side::Ask, t("437.25"), 4)]);
        // A row that carries a price other than its id's: the level leaves its old price.
        let out = ok(&mut a, br#"{"table":"orderBookL2","action":"update","data":[{"symbol":"BCHUSD","id":40199991255,"side":"Sell","size":5,"price":437.3}]}"#);
        assert_eq!(levels(&out), vec![(Side::Ask, t("437.25"), 0), (Side::Ask, t("437.3"), 5)]);
        // The map follows: a delete without a price removes the new one.
        let out = ok(&mut a, br#"{"table":"orderBookL2","action":"delete","data":[{"symbol":"BCHUSD","id":40199991255,"side":"Sell"}]}"#);
        assert_eq!(levels(&out), vec![(Side::Ask, t("437.3"), 0)]);
    }

    #[test]
    fn trades_quotes_and_control() {
        let mut a = bitmex();
        ok(&mut a, PARTIAL);
        let out = ok(&mut a, br#"{"table":"trade","action":"insert","data":[{"timestamp":"2021-07-22T22:36:10.014Z","symbol":"BCHUSD","side":"Sell","size":52,"price":437.25,"tickDirection":"PlusTick","trdMatchID":"39744121-c20e-44ba-8cc8-a6b8cdf72885","grossValue":899444}]}"#);
        let t = out.trades[0];
        assert_eq!(t.trade.aggressor, Some(event::Side::Sell));
        assert_eq!(t.trade.size_lots, 52);
        assert_eq!(t.trade.trade_id, 0x3974_4121_c20e_44ba);
        assert_eq!(t.exch_ts, 1_626_993_370_014_000_000);
        let out = ok(&mut a, br#"{"table":"quote","action":"insert","data":[{"timestamp":"2021-07-22T22:36:09.712Z","symbol":"BCHUSD","bidSize":750,"bidPrice":437.25,"askPrice":437.5,"askSize":175}]}"#);
        assert!(out.control);
        let bbo = a.symbols().list()[0].venue_bbo.unwrap();
        assert_eq!((bbo.bid_lots, bbo.ask_lots), (750, 175));
        for frame in [
            &br#"{"info":"Welcome to the BitMEX Realtime API.","version":"2021-07-14T01:26:29.000Z","timestamp":"2021-07-22T22:36:07.865Z","docs":"https://www.bitmex.com/app/wsAPI","limit":{"remaining":39}}"#[..],
            br#"{"success":true,"subscribe":"orderBookL2:BCHUSD","request":{"op":"subscribe","args":["orderBookL2:BCHUSD"]}}"#,
            br#"{"table":"trade","action":"partial","keys":[],"data":[{"timestamp":"2021-07-22T22:24:15.328Z","symbol":"BCHUSD","side":"Sell","size":15,"price":437}]}"#,
            b"pong",
        ] {
            assert!(ok(&mut a, frame).control, "{}", String::from_utf8_lossy(frame));
        }
        let mut err = |f: &[u8]| {
            let mut out = Parsed::default();
            a.handle_frame(f, 0, &mut out).map_err(|e| (e.name(), out.broken))
        };
        assert_eq!(
            err(br#"{"status":400,"error":"Unknown table: orderBookL9","request":{}}"#),
            Err(("venue_error", None))
        );
        assert_eq!(
            err(br#"{"table":"funding","action":"partial","data":[]}"#),
            Err(("unknown_type", None))
        );
        assert_eq!(err(br#"{"table":"orderBookL2","action":"update","data":[{"symbol":"BCHUSD","id":40199991255,"side":"Up","size":1}]}"#), Err(("shape", Some(0))));
        assert_eq!(err(br#"{"table":"orderBookL2","action":"update","data":[{"symbol":"BCHUSD","id":40199991255,"side":"Buy","size":1.5}]}"#), Err(("number", Some(0))));
        assert_eq!(err(br#"{"table":"orderBookL2","action":"partial","data":[{"symbol":"BCHUSD","id":1,"side":"Buy","size":1,"price":1111111111111111111111111111111111.5}]}"#), Err(("shape", Some(0))));
        assert_eq!(err(b"{\"table\":"), Err(("json", None)));
    }

    /// XBTUSD's derivatives fields as the venue's own `instrument` row gave them in the
    /// answer recorded beside the 2021 capture (`fixtures/bitmex/cryptofeed_BITMEX.0`, the
    /// row shape the `instrument` table's partial carries), then update rows that carry only
    /// what changed, as BitMEX documents for its tables.
    const INSTRUMENT: &[u8] = br#"{"table":"instrument","action":"partial","keys":["symbol"],"types":{},"filter":{"symbol":"XBTUSD"},"data":[{"symbol":"XBTUSD","rootSymbol":"XBT","state":"Open","typ":"FFWCSX","lotSize":100,"tickSize":0.5,"fundingBaseSymbol":".XBTBON8H","fundingQuoteSymbol":".USDBON8H","fundingPremiumSymbol":".XBTUSDPI8H","fundingTimestamp":"2021-07-23T04:00:00.000Z","fundingInterval":"2000-01-01T08:00:00.000Z","fundingRate":0.0001,"indicativeFundingRate":0.0001,"lastPrice":32175,"openInterest":574264600,"openValue":1784268825430,"fairMethod":"FundingRate","fairBasisRate":0.1095,"fairBasis":2.17,"fairPrice":32184.89,"markMethod":"FairPrice","markPrice":32184.89,"indicativeTaxRate":0,"indicativeSettlePrice":32182.72,"settledPrice":null,"timestamp":"2021-07-22T22:36:05.000Z"}]}"#;

    fn xbtusd() -> Bitmex {
        let mut registry = InstrumentRegistry::with_builtins();
        registry.configure(Venue::Bitmex, "XBTUSD", Step::parse("0.5").unwrap(), Step::ONE);
        let mut a = Bitmex::new(registry);
        ok(&mut a, PARTIAL);
        ok(&mut a, br#"{"table":"orderBookL2","action":"partial","filter":{"symbol":"XBTUSD"},"data":[{"symbol":"XBTUSD","id":8796321100,"side":"Sell","size":1200,"price":32180.5},{"symbol":"XBTUSD","id":8796321150,"side":"Buy","size":5300,"price":32180}]}"#);
        a
    }

    #[test]
    fn instrument_rows_give_funding_mark_index_and_open_interest() {
        let mut a = xbtusd();
        let (tick, lot) = (Step::parse("0.5").unwrap(), Step::ONE);
        let text = |v: Option<Scaled>, step| v.and_then(|v| v.format(step));
        let out = ok(&mut a, INSTRUMENT);
        assert!(out.control);
        assert!(out.derivs.iter().all(|d| (d.symbol, d.exch_ts) == (1, 1_626_993_365_000_000_000)));
        assert_eq!(out.derivs.len(), 3, "{:?}", out.derivs);
        let Derivative::MarkIndex(mi) = out.derivs[0].data else { panic!("{:?}", out.derivs) };
        // Finer than the 0.5 tick, kept exactly.
        assert_eq!(
            (text(mi.mark, tick), text(mi.index, tick)),
            (Some("32184.89".into()), Some("32182.72".into()))
        );
        let Derivative::Funding(f) = out.derivs[1].data else { panic!("{:?}", out.derivs) };
        assert_eq!(
            (text(Some(f.rate), Step::ONE), f.next_funding_ts),
            (Some("0.0001".into()), 1_627_012_800_000_000_000)
        );
        let Derivative::OpenInterest(oi) = out.derivs[2].data else { panic!("{:?}", out.derivs) };
        assert_eq!(text(Some(oi), lot), Some("574264600".into()));
        // An update with only the mark: a whole mark/index record, the index carried over.
        let out = ok(&mut a, br#"{"table":"instrument","action":"update","data":[{"symbol":"XBTUSD","fairPrice":32190.12,"markPrice":32190.12,"timestamp":"2021-07-22T22:36:10.000Z"}]}"#);
        assert_eq!(out.derivs.len(), 1);
        assert_eq!(out.derivs[0].exch_ts, 1_626_993_370_000_000_000);
        let Derivative::MarkIndex(mi) = out.derivs[0].data else { panic!("{:?}", out.derivs) };
        assert_eq!(
            (text(mi.mark, tick), text(mi.index, tick)),
            (Some("32190.12".into()), Some("32182.72".into()))
        );
        // The next funding time alone keeps the rate; open interest alone is one record.
        let out = ok(&mut a, br#"{"table":"instrument","action":"update","data":[{"symbol":"XBTUSD","fundingTimestamp":"2021-07-23T12:00:00.000Z","timestamp":"2021-07-23T04:00:01.000Z"}]}"#);
        assert_eq!(
            out.derivs.iter().map(|d| d.data).collect::<Vec<_>>(),
            [Derivative::Funding(Funding {
                rate: Scaled { units: 1, scale: 4 },
                next_funding_ts: 1_627_041_600_000_000_000
            })]
        );
        let out = ok(&mut a, br#"{"table":"instrument","action":"update","data":[{"symbol":"XBTUSD","openInterest":574264700,"openValue":1784268825431,"timestamp":"2021-07-22T22:36:15.000Z"}]}"#);
        assert_eq!(out.derivs.len(), 1);
        assert!(matches!(out.derivs[0].data, Derivative::OpenInterest(_)));
        // Nothing the records carry: no record.
        let out = ok(&mut a, br#"{"table":"instrument","action":"update","data":[{"symbol":"XBTUSD","lastPrice":32176,"timestamp":"2021-07-22T22:36:16.000Z"}]}"#);
        assert!(out.control && out.derivs.is_empty());
        // A dated future: `null` funding, no funding record.
        let out = ok(&mut a, br#"{"table":"instrument","action":"partial","data":[{"symbol":"BCHUSD","fundingRate":null,"fundingTimestamp":null,"markPrice":437.3,"indicativeSettlePrice":437.1,"openInterest":null,"timestamp":"2021-07-22T22:36:05.000Z"}]}"#);
        assert_eq!(out.derivs.len(), 1);
        assert!(matches!(out.derivs[0].data, Derivative::MarkIndex(_)));
        // Another instrument's row: counted, not published.
        let out = ok(&mut a, br#"{"table":"instrument","action":"update","data":[{"symbol":"ETHUSD","markPrice":2000.05}]}"#);
        assert_eq!((out.derivs.len(), out.derivs_unknown), (0, 1));
        // A bad number is an error and changes nothing.
        let mut bad = Parsed::default();
        let r = a.handle_frame(br#"{"table":"instrument","action":"update","data":[{"symbol":"XBTUSD","markPrice":"abc","fundingRate":0.5}]}"#, 0, &mut bad);
        assert_eq!(r.map_err(|e| e.name()), Err("number"));
        let mut bad = Parsed::default();
        let r = a.handle_frame(br#"{"table":"instrument","action":"update","data":[{"symbol":"XBTUSD","fundingTimestamp":"tomorrow"}]}"#, 0, &mut bad);
        assert_eq!(r.map_err(|e| e.name()), Err("shape"));
        let out = ok(&mut a, br#"{"table":"instrument","action":"update","data":[{"symbol":"XBTUSD","fundingTimestamp":"2021-07-23T12:00:00.000Z"}]}"#);
        let Derivative::Funding(f) = out.derivs[0].data else { panic!("{:?}", out.derivs) };
        assert_eq!(f.rate, Scaled { units: 1, scale: 4 });
    }

    #[test]
    fn liquidation_inserts_are_records_and_the_rest_follows_them() {
        let mut a = bitmex();
        ok(&mut a, &renamed(PARTIAL, "TRXZ19"));
        let tick = a.symbols().list()[0].instrument.tick;
        let lot = a.symbols().list()[0].instrument.lot;
        // The insert as BitMEX sends it (a real message, published with the venue's banner
        // by the bitmex-liquidation project): an exponent price on a tiny tick.
        let out = ok(&mut a, br#"{"table":"liquidation","action":"insert","data":[{"orderID":"8b4a95db-815a-f93a-c9a2-ffbbabeddbac","symbol":"TRXZ19","side":"Buy","price":2.17e-06,"leavesQty":5000}]}"#);
        assert!(out.control);
        let Derivative::Liquidation(l) = out.derivs[0].data else { panic!("{:?}", out.derivs) };
        assert_eq!(l.side, event::Side::Buy);
        assert_eq!(
            (l.price.format(tick), l.size.format(lot)),
            (Some("0.00000217".into()), Some("5000".into()))
        );
        assert_eq!(out.derivs[0].exch_ts, 0);
        // The partial (orders placed before the subscription), an update of the remaining
        // quantity and the delete publish nothing.
        for frame in [
            &br#"{"table":"liquidation","action":"partial","keys":["orderID"],"types":{},"filter":{"symbol":"TRXZ19"},"data":[{"orderID":"00000000-815a-f93a-c9a2-ffbbabeddbac","symbol":"TRXZ19","side":"Sell","price":2.2e-06,"leavesQty":100}]}"#[..],
            br#"{"table":"liquidation","action":"update","data":[{"orderID":"8b4a95db-815a-f93a-c9a2-ffbbabeddbac","symbol":"TRXZ19","leavesQty":2000}]}"#,
            br#"{"table":"liquidation","action":"delete","data":[{"orderID":"8b4a95db-815a-f93a-c9a2-ffbbabeddbac","symbol":"TRXZ19"}]}"#,
        ] {
            let out = ok(&mut a, frame);
            assert!(out.control && out.derivs.is_empty(), "{}", String::from_utf8_lossy(frame));
        }
        // Another instrument's liquidation: counted.
        let out = ok(&mut a, br#"{"table":"liquidation","action":"insert","data":[{"orderID":"1","symbol":"EOSZ19","side":"Sell","price":0.0004007,"leavesQty":600}]}"#);
        assert_eq!((out.derivs.len(), out.derivs_unknown), (0, 1));
        let mut err = |f: &[u8]| {
            let mut out = Parsed::default();
            a.handle_frame(f, 0, &mut out).map_err(|e| e.name())
        };
        assert_eq!(err(br#"{"table":"liquidation","action":"insert","data":[{"orderID":"1","symbol":"TRXZ19","side":"Long","price":1,"leavesQty":1}]}"#), Err("shape"));
        assert_eq!(err(br#"{"table":"liquidation","action":"insert","data":[{"orderID":"1","symbol":"TRXZ19","side":"Buy","price":1,"leavesQty":-1}]}"#), Err("number"));
        assert_eq!(
            err(br#"{"table":"liquidation","action":"update","data":[{"symbol":"TRXZ19"}]}"#),
            Err("shape")
        );
        assert_eq!(err(br#"{"table":"liquidation","action":"upsert","data":[]}"#), Err("shape"));
    }

    #[test]
    fn derivatives_tables_are_subscribed_only_when_asked_for() {
        let mut a = Bitmex::new(InstrumentRegistry::new());
        assert!(!a.subscribe_messages(&["XBTUSD"])[0].contains("instrument"));
        a.derivatives = true;
        assert_eq!(
            a.subscribe_messages(&["XBTUSD"]),
            [
                r#"{"op":"subscribe","args":["orderBookL2:XBTUSD","trade:XBTUSD","quote:XBTUSD","instrument:XBTUSD","liquidation:XBTUSD"]}"#
            ]
        );
        // A book's resubscription leaves the other tables alone.
        assert_eq!(
            a.resubscribe_book_messages("XBTUSD").unwrap()[1],
            r#"{"op":"subscribe","args":["orderBookL2:XBTUSD"]}"#
        );
    }

    #[test]
    fn requests() {
        let a = Bitmex::new(InstrumentRegistry::new());
        let m = a.subscribe_messages(&["XBTUSD"]);
        assert_eq!(
            m,
            [r#"{"op":"subscribe","args":["orderBookL2:XBTUSD","trade:XBTUSD","quote:XBTUSD"]}"#]
        );
        assert_eq!(
            a.resubscribe_book_messages("XBTUSD").unwrap(),
            [
                r#"{"op":"unsubscribe","args":["orderBookL2:XBTUSD"]}"#,
                r#"{"op":"subscribe","args":["orderBookL2:XBTUSD"]}"#
            ]
        );
        assert_eq!(guid_id(b"8f8fe9db-eb13-26a5-dea2-a398d89e04a8"), 0x8f8f_e9db_eb13_26a5);
        assert_eq!(guid_id(b"not a guid"), 0);
    }
}

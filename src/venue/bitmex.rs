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
//! instrument's `lotSize` when the venue's reference data is loaded.
//!
//! Trades: `trade` `insert` rows (`side` is the taker's); the `partial` is recent history, not
//! new trades. `quote` rows are the venue's own best bid and offer. Control: the welcome
//! (`info`), `success` answers, `pong` (the answer to the client's text `ping`); `error` is the
//! venue reporting one.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use simd_json::tape::Value;

use super::json::{field_text, Scratch};
use super::protocol::{Keepalive, Protocol, BASE};
use super::time::rfc3339_ns;
use super::{num, Adapter, BookAction, GapScope, Parsed, SymbolIdx, Symbols, TradeMsg, VenueError};
use crate::book::{InstrumentRegistry, Side, Step, Venue};
use crate::event::{self, Bbo, Trade};

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

#[derive(Debug, Default)]
struct SymState {
    /// The book's `partial` has been applied on this connection.
    synced: bool,
    /// Every level of the book: `id` → (side, price). Cleared, never shrunk.
    levels: IdMap,
}

/// The BitMEX adapter. See the [module docs](self).
#[derive(Debug)]
pub struct Bitmex {
    symbols: Symbols,
    states: Vec<SymState>,
    scratch: Option<Box<Scratch>>,
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
        }
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
                let row = match action {
                    b"partial" => return self.partial(root, out),
                    b"insert" => RowAction::Insert,
                    b"update" => RowAction::Update,
                    b"delete" => RowAction::Delete,
                    _ => return Err(VenueError::Shape("action")),
                };
                self.changes(data, row, out)
            }
            b"trade" => match action {
                // Recent trades at subscription: history, not new trades.
                b"partial" => {
                    out.control = true;
                    Ok(())
                }
                b"insert" => {
                    for t in data.iter() {
                        self.trade(t, out)?;
                    }
                    Ok(())
                }
                _ => Err(VenueError::Shape("trade action")),
            },
            b"quote" => {
                out.control = true;
                for q in data.iter() {
                    self.quote(q)?;
                }
                Ok(())
            }
            _ => Err(VenueError::UnknownType),
        }
    }

    /// An `orderBookL2` `partial`: the whole book of the instrument named by its `filter` (or
    /// by its rows, grouped by symbol).
    fn partial(&mut self, root: Value<'_, '_>, out: &mut Parsed) -> Result<(), VenueError> {
        let data = root.get_array("data").ok_or(VenueError::Shape("data"))?;
        let filter = root.get("filter").and_then(|f| field_text(f, "symbol"));
        let mut open: Option<SymbolIdx> = None;
        if let Some(key) = filter {
            let sym = self.partial_symbol(key, root)?;
            self.begin_partial(sym, out);
            open = Some(sym);
        }
        for r in data.iter() {
            let key = field_text(r, "symbol").ok_or(VenueError::Shape("level symbol"))?;
            let sym = match open {
                Some(s) if self.symbols.list()[usize::from(s)].key.as_bytes() == key => s,
                _ => {
                    if open.is_some() {
                        out.finish_book(None, None);
                    }
                    let s = self.partial_symbol(key, root)?;
                    self.begin_partial(s, out);
                    open = Some(s);
                    s
                }
            };
            if let Err(e) = self.partial_row(sym, r, out) {
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
    fn partial_symbol(&mut self, key: &[u8], root: Value<'_, '_>) -> Result<SymbolIdx, VenueError> {
        if let Some(s) = self.symbols.resolve(key) {
            return Ok(s);
        }
        let rows = root.get_array("data");
        let of = move |field: &'static str| {
            rows.into_iter().flat_map(move |a| {
                a.iter()
                    .filter(move |r| field_text(*r, "symbol") == Some(key))
                    .filter_map(move |r| field_text(r, field))
            })
        };
        self.symbols.learn(key, of("price"), of("size"))
    }

    fn begin_partial(&mut self, sym: SymbolIdx, out: &mut Parsed) {
        let st = self.state(sym);
        st.synced = true;
        st.levels.clear();
        out.begin_book(sym, BookAction::Snapshot, 0);
    }

    fn partial_row(
        &mut self,
        sym: SymbolIdx,
        r: Value<'_, '_>,
        out: &mut Parsed,
    ) -> Result<(), VenueError> {
        let id = super::json::field_uint(r, "id").ok_or(VenueError::Shape("level id"))?;
        let side = side_of(r)?;
        let px = field_text(r, "price").ok_or(VenueError::Shape("level price"))?;
        let size = field_text(r, "size").ok_or(VenueError::Shape("level size"))?;
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
    fn changes(
        &mut self,
        data: simd_json::tape::Array<'_, '_>,
        action: RowAction,
        out: &mut Parsed,
    ) -> Result<(), VenueError> {
        // The symbol of the book message open in `out`, and a symbol whose rows are skipped
        // for the rest of the frame (waiting for its partial, or just found with a gap).
        let mut open: Option<SymbolIdx> = None;
        let mut skip: Option<SymbolIdx> = None;
        for r in data.iter() {
            let key = field_text(r, "symbol").ok_or(VenueError::Shape("level symbol"))?;
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
            match self.change_row(sym, r, action, out) {
                Ok(true) => {}
                Ok(false) => {
                    // A lost message: nothing of this book's rows in the frame is applied.
                    out.abandon_book();
                    open = None;
                    skip = Some(sym);
                    let st = self.state(sym);
                    st.synced = false;
                    st.levels.clear();
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

    /// One change row; `Ok(false)` when it contradicts the book (a gap).
    fn change_row(
        &mut self,
        sym: SymbolIdx,
        r: Value<'_, '_>,
        action: RowAction,
        out: &mut Parsed,
    ) -> Result<bool, VenueError> {
        let id = super::json::field_uint(r, "id").ok_or(VenueError::Shape("level id"))?;
        let side = side_of(r)?;
        let carried = field_text(r, "price");
        let size = match action {
            RowAction::Delete => None,
            _ => Some(field_text(r, "size").ok_or(VenueError::Shape("level size"))?),
        };
        let known = self.state(sym).levels.get(&id).copied();
        let px = match (action, known, carried) {
            (RowAction::Insert, Some(_), _) => return Ok(false),
            (RowAction::Insert, None, Some(p)) => PriceText::new(p)?,
            (RowAction::Insert, None, None) => return Err(VenueError::Shape("level price")),
            (_, None, _) => return Ok(false),
            // The current protocol carries the price; older captures need the id's.
            (_, Some(_), Some(p)) => PriceText::new(p)?,
            (_, Some((_, p)), None) => p,
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
        let levels = &mut self.state(sym).levels;
        if action == RowAction::Delete {
            levels.remove(&id);
        } else {
            levels.insert(id, (side, px));
        }
        out.level(side, px_tick, qty_lots);
        note_time(r, out);
        Ok(true)
    }

    fn trade(&mut self, t: Value<'_, '_>, out: &mut Parsed) -> Result<(), VenueError> {
        let key = field_text(t, "symbol").ok_or(VenueError::Shape("trade symbol"))?;
        let sym = self.symbols.resolve(key).ok_or(VenueError::UnknownSymbol)?;
        let inst = &self.symbols.list()[usize::from(sym)].instrument;
        let f = |k: &'static str| field_text(t, k).ok_or(VenueError::Shape("trade field"));
        // `side`: the taker's.
        let aggressor = match f("side")? {
            b"Buy" => event::Side::Buy,
            b"Sell" => event::Side::Sell,
            _ => return Err(VenueError::Shape("trade side")),
        };
        out.trades.push(TradeMsg {
            symbol: sym,
            trade: Trade {
                price_tick: inst.tick.units(f("price")?).map_err(num("price"))?,
                size_lots: inst.lot.units(f("size")?).map_err(num("size"))?,
                aggressor: Some(aggressor),
                trade_id: field_text(t, "trdMatchID").map_or(0, guid_id),
            },
            exch_ts: rfc3339_ns(f("timestamp")?).ok_or(VenueError::Shape("trade timestamp"))?,
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

/// A row's `side`: `Buy` is a bid, `Sell` an ask.
fn side_of(r: Value<'_, '_>) -> Result<Side, VenueError> {
    match field_text(r, "side") {
        Some(b"Buy") => Ok(Side::Bid),
        Some(b"Sell") => Ok(Side::Ask),
        _ => Err(VenueError::Shape("level side")),
    }
}

/// The newest row `timestamp` (current protocol; old captures have none) as the book
/// message's venue time.
fn note_time(r: Value<'_, '_>, out: &mut Parsed) {
    let Some(ts) = field_text(r, "timestamp").and_then(rfc3339_ns) else { return };
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
        let mut scratch = self.scratch.take().unwrap_or_default();
        let r = scratch.parse(frame, true, |root| self.frame(root, out));
        self.scratch = Some(scratch);
        r
    }

    fn resync(&mut self, symbol: SymbolIdx) {
        let st = self.state(symbol);
        st.synced = false;
        st.levels.clear();
    }

    fn reset_connection(&mut self) {
        for st in &mut self.states {
            st.synced = false;
            st.levels.clear();
        }
    }

    fn symbols(&self) -> &Symbols {
        &self.symbols
    }

    fn symbols_mut(&mut self) -> &mut Symbols {
        &mut self.symbols
    }

    /// The books, trades and quotes of `symbols`, one request.
    fn subscribe_messages(&self, symbols: &[&str]) -> Vec<String> {
        vec![request("subscribe", &topics(symbols, true))]
    }

    fn unsubscribe_messages(&self, symbols: &[&str]) -> Vec<String> {
        vec![request("unsubscribe", &topics(symbols, true))]
    }

    /// BitMEX answers an `orderBookL2` subscription with a new `partial`: the book's topic is
    /// unsubscribed and subscribed again (its trades and quotes keep flowing).
    fn resubscribe_book_messages(&self, symbol: &str) -> Option<Vec<String>> {
        let book = topics(&[symbol], false);
        super::resubscription(|op| request(op, &book))
    }
}

fn topics(symbols: &[&str], all: bool) -> Vec<String> {
    let mut out = Vec::new();
    for s in symbols {
        out.push(format!("orderBookL2:{s}"));
        if all {
            out.push(format!("trade:{s}"));
            out.push(format!("quote:{s}"));
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

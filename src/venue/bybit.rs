//! Bybit v5 public streams (`/v5/public/spot`, `/linear`, `/inverse`): order books
//! (`orderbook.{depth}.{symbol}`) and trades (`publicTrade.{symbol}`).
//!
//! Books: a `snapshot` replaces the book whenever it comes (Bybit sends one after a
//! subscription, and again when its service restarts: then `u` starts over at 1); a `delta`
//! carries absolute sizes (`"0"` deletes) and its update id `u` follows the previous message's
//! by one, otherwise it is a gap and the book resyncs (resubscribed on the open connection:
//! Bybit answers a subscription with a snapshot). A book of depth N holds the best N levels
//! a side: it is trimmed to N after each message. `seq` (the cross-depth sequence) and `cts`
//! (the matching engine's time) are not needed to apply a book; `ts` is the exchange time.
//!
//! Derivatives (linear and inverse, opt-in: [`Bybit::derivatives`]): `tickers.{symbol}` (a
//! snapshot, then deltas that carry only the fields that changed: the adapter keeps each
//! symbol's latest `markPrice`, `indexPrice`, `fundingRate`, `nextFundingTime` and
//! `openInterest` and publishes whole records for what a message changed) and
//! `allLiquidation.{symbol}` (`S` is the liquidated *position's* side: `Buy`, a long, was
//! closed by a sell order, which is what the record carries).
//!
//! Control: the subscription answer and the answer to the client's `{"op":"ping"}` both carry
//! `op`; `success: false` is the venue reporting an error.
//!
//! Parsing: book and trade pushes (nearly all of the traffic) are read by the Bybit scanner
//! ([`super::scan::bybit`], with [`Parser::Scan`], the default) through the same handlers as
//! the simd-json path (a book's `data` fields in one table, `BookData`; each trade's in
//! another, `TradeEntry`); every other frame, and any book or trade push the scanner does not
//! read exactly, goes to simd-json (counted in [`Parsed::scan_fallback`]).
//!
//! [`Parser::Scan`]: super::scan::Parser::Scan

use simd_json::prelude::ValueAsScalar;
use simd_json::tape::Value;

use super::json::{field_text, field_uint, Scratch};
use super::protocol::{Keepalive, Protocol, BASE};
use super::scan::bybit::{BybitFrames, Push, ScanFrame};
use super::scan::{scan_frame, FieldValue, ScanPath};
use super::time::ms_to_ns;
use super::{deriv_price, deriv_rate, deriv_size, TickerRow, TickerState};
use super::{num, Adapter, BookAction, GapScope, Parsed, SymbolIdx, Symbols, TradeMsg, VenueError};
use crate::book::{InstrumentRegistry, Side, Venue};
use crate::event::{self, Derivative, Liquidation, Trade};

/// Bybit closes a connection that has not pinged in 20 s: the client sends `{"op":"ping"}`.
const KEEPALIVE: Keepalive = Keepalive {
    text: r#"{"op":"ping"}"#,
    every: std::time::Duration::from_secs(20),
    // The answer is JSON naming the connection: recognised by the adapter as control.
    reply: "",
};

/// Bybit v5 spot.
pub const SPOT_PROTOCOL: Protocol = Protocol {
    endpoint: "wss://stream.bybit.com",
    path: "/v5/public/spot",
    keepalive: Some(KEEPALIVE),
    ..BASE
};

/// Bybit v5 USDT and USDC perpetuals and futures.
pub const LINEAR_PROTOCOL: Protocol = Protocol {
    endpoint: "wss://stream.bybit.com",
    path: "/v5/public/linear",
    keepalive: Some(KEEPALIVE),
    ..BASE
};

/// Bybit v5 inverse perpetuals and futures.
pub const INVERSE_PROTOCOL: Protocol = Protocol {
    endpoint: "wss://stream.bybit.com",
    path: "/v5/public/inverse",
    keepalive: Some(KEEPALIVE),
    ..BASE
};

/// The book depth subscribed by default (available on spot, linear and inverse).
pub const DEFAULT_DEPTH: u32 = 200;

#[derive(Debug, Default, Clone, Copy)]
struct SymState {
    synced: bool,
    /// The update id `u` of the last message applied.
    u: u64,
}

/// The Bybit v5 adapter. See the [module docs](self).
#[derive(Debug)]
pub struct Bybit {
    venue: Venue,
    symbols: Symbols,
    states: Vec<SymState>,
    scratch: Option<Box<Scratch>>,
    /// The book depth [`Adapter::subscribe_messages`] asks for.
    pub depth: u32,
    /// Also subscribe `tickers` and `allLiquidation` (linear and inverse only).
    pub derivatives: bool,
    /// Each symbol's latest ticker values (deltas carry only what changed).
    tickers: Vec<TickerState>,
    /// Which parser reads frames ([`Parser::Scan`] by default), and the scanner's state.
    ///
    /// [`Parser::Scan`]: super::scan::Parser::Scan
    scan: ScanPath<BybitFrames>,
}

/// The fields of a book push's `data` that the book handler reads, found in a single pass
/// over its keys (as with `get`, the first occurrence of a key wins).
#[derive(Debug, Clone, Copy)]
pub(crate) struct BookData<V> {
    /// `s`: the symbol.
    pub(crate) s: Option<V>,
    /// `b`: bid levels.
    pub(crate) b: Option<V>,
    /// `a`: ask levels.
    pub(crate) a: Option<V>,
    /// `u`: the update id.
    pub(crate) u: Option<V>,
}

impl<V> Default for BookData<V> {
    fn default() -> Self {
        BookData { s: None, b: None, a: None, u: None }
    }
}

impl<V> BookData<V> {
    /// The field `key` fills, if the handler reads it.
    #[inline(always)]
    pub(crate) fn slot(&mut self, key: &[u8]) -> Option<&mut Option<V>> {
        Some(match key {
            b"s" => &mut self.s,
            b"b" => &mut self.b,
            b"a" => &mut self.a,
            b"u" => &mut self.u,
            _ => return None,
        })
    }
}

/// The fields of one trade that the trade handler reads, found in a single pass over its keys
/// (the first occurrence of a key wins).
#[derive(Debug, Clone, Copy)]
pub(crate) struct TradeEntry<V> {
    /// `T`: the trade time, ms.
    pub(crate) t: Option<V>,
    /// `s`: the symbol.
    pub(crate) s: Option<V>,
    /// `S`: the taker's side.
    pub(crate) side: Option<V>,
    /// `v`: the size.
    pub(crate) v: Option<V>,
    /// `p`: the price.
    pub(crate) p: Option<V>,
    /// `i`: the trade id.
    pub(crate) i: Option<V>,
}

impl<V> Default for TradeEntry<V> {
    fn default() -> Self {
        TradeEntry { t: None, s: None, side: None, v: None, p: None, i: None }
    }
}

impl<V> TradeEntry<V> {
    /// The field `key` fills, if the handler reads it.
    #[inline(always)]
    pub(crate) fn slot(&mut self, key: &[u8]) -> Option<&mut Option<V>> {
        Some(match key {
            b"T" => &mut self.t,
            b"s" => &mut self.s,
            b"S" => &mut self.side,
            b"v" => &mut self.v,
            b"p" => &mut self.p,
            b"i" => &mut self.i,
            _ => return None,
        })
    }
}

/// Fills a table's slots from simd-json's tape: every key of `v` that `slot` names, first
/// occurrence kept (nothing if `v` is not an object).
#[inline]
fn read_fields<'t, 'i, T: Default>(
    v: Value<'t, 'i>,
    mut slot: impl for<'e> FnMut(&'e mut T, &[u8]) -> Option<&'e mut Option<Value<'t, 'i>>>,
) -> T {
    let mut e = T::default();
    let Some(obj) = v.as_object() else { return e };
    for (k, v) in obj.iter() {
        if let Some(slot) = slot(&mut e, k.as_bytes()) {
            if slot.is_none() {
                *slot = Some(v);
            }
        }
    }
    e
}

/// A book side's levels `[[price, size], …]` (absent or not an array: none).
#[inline]
fn levels<'i, V: FieldValue<'i>>(
    v: Option<V>,
    side: Side,
    inst: &crate::book::Instrument,
    out: &mut Parsed,
) -> Result<(), VenueError> {
    let Some(v) = v.filter(|v| v.is_array()) else { return Ok(()) };
    v.each_level(|px, sz| {
        let px_tick = out.book_price(inst, px).map_err(num("price"))?;
        let qty_lots = inst.qty_lots(sz).map_err(num("size"))?;
        out.level(side, px_tick, qty_lots);
        Ok(())
    })
}

/// The depth of an `orderbook` topic from its text after `orderbook.` (`{depth}.{symbol}`).
#[inline]
fn book_depth(rest: &[u8]) -> Result<u32, VenueError> {
    rest.iter()
        .position(|&c| c == b'.')
        .and_then(|dot| super::json::parse_u64(&rest[..dot]))
        .and_then(|d| u32::try_from(d).ok())
        .filter(|&d| d > 0)
        .ok_or(VenueError::Shape("orderbook topic depth"))
}

/// Whether a book push's `type` is a snapshot (`snapshot`) or not (`delta`).
#[inline]
fn book_kind(kind: Option<&[u8]>) -> Result<bool, VenueError> {
    match kind {
        Some(b"snapshot") => Ok(true),
        Some(b"delta") => Ok(false),
        _ => Err(VenueError::Shape("type")),
    }
}

impl Bybit {
    /// An adapter for `venue` (one of the Bybit venues) subscribing to books of `depth`.
    pub fn new(venue: Venue, registry: InstrumentRegistry, depth: u32) -> Self {
        Bybit {
            venue,
            symbols: Symbols::new(venue, registry),
            states: Vec::new(),
            scratch: Some(Box::new(Scratch::new())),
            depth,
            derivatives: false,
            tickers: Vec::new(),
            scan: ScanPath::new(),
        }
    }

    /// Handles a frame the scanner read, with the same handlers, in the same order of checks,
    /// as the simd-json path; `None` for the frames the scanner leaves to simd-json (the frame
    /// is then parsed again there, nothing having been written to `out`): see
    /// [`ScanFrame::push`].
    #[inline]
    fn scanned(&mut self, f: &ScanFrame<'_>, out: &mut Parsed) -> Option<Result<(), VenueError>> {
        let push = f.push()?;
        let exch_ts = f.ts().and_then(FieldValue::uint).map_or(0, ms_to_ns);
        Some(match push {
            Push::Book { rest, kind, data } => book_depth(rest).and_then(|depth| {
                let snapshot = book_kind(kind.and_then(FieldValue::text))?;
                self.book(data, snapshot, depth, exch_ts, out)
            }),
            Push::Trades(trades) => trades.iter().try_for_each(|t| self.trade(t, out)),
        })
    }

    fn state(&mut self, i: SymbolIdx) -> &mut SymState {
        super::state_slot(&mut self.states, i)
    }

    fn frame(&mut self, root: Value<'_, '_>, out: &mut Parsed) -> Result<(), VenueError> {
        if let Some(op) = field_text(root, "op") {
            out.control = true;
            if root.get("success").and_then(|s| s.as_bool()) == Some(false) {
                return Err(VenueError::VenueReported);
            }
            return match op {
                b"subscribe" | b"unsubscribe" | b"ping" | b"pong" => Ok(()),
                _ => Err(VenueError::UnknownType),
            };
        }
        let topic = field_text(root, "topic").ok_or(VenueError::UnknownType)?;
        let exch_ts = field_uint(root, "ts").map_or(0, ms_to_ns);
        if let Some(rest) = topic.strip_prefix(b"orderbook.") {
            let depth = book_depth(rest)?;
            let snapshot = book_kind(field_text(root, "type"))?;
            let data = root.get("data").ok_or(VenueError::Shape("data"))?;
            let data = read_fields(data, BookData::slot);
            return self.book(&data, snapshot, depth, exch_ts, out);
        }
        if topic.starts_with(b"publicTrade.") {
            let data = root.get_array("data").ok_or(VenueError::Shape("data"))?;
            for t in data.iter() {
                self.trade(&read_fields(t, TradeEntry::slot), out)?;
            }
            return Ok(());
        }
        if topic.starts_with(b"tickers.") {
            out.control = true;
            let snapshot = match field_text(root, "type") {
                Some(b"snapshot") => true,
                Some(b"delta") => false,
                _ => return Err(VenueError::Shape("type")),
            };
            let data = root.get("data").ok_or(VenueError::Shape("data"))?;
            return self.ticker(data, snapshot, exch_ts, out);
        }
        if topic.starts_with(b"allLiquidation.") {
            out.control = true;
            let data = root.get_array("data").ok_or(VenueError::Shape("data"))?;
            for l in data.iter() {
                self.liquidation(l, out)?;
            }
            return Ok(());
        }
        Err(VenueError::UnknownType)
    }

    /// A book push's `data`, from either parser.
    #[inline]
    fn book<'i, V: FieldValue<'i>>(
        &mut self,
        d: &BookData<V>,
        snapshot: bool,
        depth: u32,
        exch_ts: u64,
        out: &mut Parsed,
    ) -> Result<(), VenueError> {
        let key = d.s.and_then(V::text).ok_or(VenueError::Shape("data.s"))?;
        let u = d.u.and_then(V::uint).ok_or(VenueError::Shape("data.u"))?;
        // A delta with `u == 1` follows a service restart: Bybit documents it as a snapshot.
        let snapshot = snapshot || u == 1;
        let sym = match self.symbols.resolve(key) {
            Some(s) => s,
            None if snapshot => {
                let texts =
                    |v: Option<V>, size: bool| v.into_iter().flat_map(move |v| v.level_texts(size));
                let px = texts(d.a, false).chain(texts(d.b, false));
                let qty = texts(d.a, true).chain(texts(d.b, true));
                self.symbols.learn(key, px, qty)?
            }
            None => return Err(VenueError::UnknownSymbol),
        };
        let st = self.state(sym);
        if snapshot {
            *st = SymState { synced: true, u };
        } else {
            if !st.synced {
                out.waiting += 1;
                return Ok(());
            }
            if u <= st.u {
                // Already applied (a repeat of the last update): nothing to do.
                out.stale += 1;
                return Ok(());
            }
            if u != st.u + 1 {
                *st = SymState::default();
                out.gaps.push(GapScope::Symbol(sym));
                return Ok(());
            }
            st.u = u;
        }
        let action = if snapshot { BookAction::Snapshot } else { BookAction::Update };
        out.begin_book(sym, action, exch_ts);
        let inst = &self.symbols.list()[usize::from(sym)].instrument;
        let r = levels(d.b, Side::Bid, inst, out).and_then(|()| levels(d.a, Side::Ask, inst, out));
        if let Err(e) = r {
            out.broken = Some(sym);
            return Err(e);
        }
        out.finish_book(None, Some(depth));
        Ok(())
    }

    /// One trade, from either parser.
    #[inline]
    fn trade<'i, V: FieldValue<'i>>(
        &mut self,
        t: &TradeEntry<V>,
        out: &mut Parsed,
    ) -> Result<(), VenueError> {
        let key = t.s.and_then(V::text).ok_or(VenueError::Shape("trade s"))?;
        let sym = self.symbols.resolve(key).ok_or(VenueError::UnknownSymbol)?;
        let inst = &self.symbols.list()[usize::from(sym)].instrument;
        let f = |v: Option<V>| v.and_then(V::text).ok_or(VenueError::Shape("trade field"));
        // `S`: the taker's side.
        let aggressor = match f(t.side)? {
            b"Buy" => event::Side::Buy,
            b"Sell" => event::Side::Sell,
            _ => return Err(VenueError::Shape("trade side")),
        };
        out.trades.push(TradeMsg {
            symbol: sym,
            trade: Trade {
                price_tick: inst.price_ticks(f(t.p)?).map_err(num("p"))?,
                size_lots: inst.qty_lots(f(t.v)?).map_err(num("v"))?,
                aggressor: Some(aggressor),
                // Spot trade ids are numbers; derivatives' are UUIDs (0 here).
                trade_id: t.i.and_then(V::text).and_then(super::json::parse_u64).unwrap_or(0),
            },
            exch_ts: t.t.and_then(V::uint).ok_or(VenueError::Shape("trade T")).map(ms_to_ns)?,
        });
        Ok(())
    }
}

super::scan::scan_controls!(Bybit, "order-book (`orderbook`) and trade (`publicTrade`)");

impl Bybit {
    /// A `tickers` snapshot or delta (see the [module docs](self)). Empty texts are "no value".
    fn ticker(
        &mut self,
        d: Value<'_, '_>,
        snapshot: bool,
        exch_ts: u64,
        out: &mut Parsed,
    ) -> Result<(), VenueError> {
        let key = field_text(d, "symbol").ok_or(VenueError::Shape("data.symbol"))?;
        let Some(sym) = self.symbols.find(key) else {
            out.derivs_unknown += 1;
            return Ok(());
        };
        let inst = &self.symbols.list()[usize::from(sym)].instrument;
        let value = |k: &str| field_text(d, k).filter(|v| !v.is_empty());
        let (mark, index) = (value("markPrice"), value("indexPrice"));
        let (rate, next) = (value("fundingRate"), value("nextFundingTime"));
        let oi = value("openInterest");
        // Read everything before changing the state: a bad number changes nothing.
        let mark = mark.map(|v| deriv_price(inst, v, "markPrice")).transpose()?;
        let index = index.map(|v| deriv_price(inst, v, "indexPrice")).transpose()?;
        let rate_v = rate.map(|v| deriv_rate(v, "fundingRate")).transpose()?;
        let next_v = next
            .map(|v| super::json::parse_u64(v).map(ms_to_ns).ok_or(VenueError::Shape("time")))
            .transpose()?;
        let oi = oi.map(|v| deriv_size(inst, v, "openInterest")).transpose()?;
        let row =
            TickerRow { mark, index, rate: rate_v, next_funding_ts: next_v, open_interest: oi };
        super::state_slot(&mut self.tickers, sym).merge(snapshot, row, sym, exch_ts, out);
        Ok(())
    }

    /// One `allLiquidation` entry: `T` time, `s` symbol, `S` the position's side, `v` size,
    /// `p` bankruptcy price.
    fn liquidation(&mut self, l: Value<'_, '_>, out: &mut Parsed) -> Result<(), VenueError> {
        let f = |k: &'static str| field_text(l, k).ok_or(VenueError::Shape("liquidation field"));
        let key = f("s")?;
        // A long position (`Buy`) is closed by a sell order.
        let side = match f("S")? {
            b"Buy" => event::Side::Sell,
            b"Sell" => event::Side::Buy,
            _ => return Err(VenueError::Shape("liquidation side")),
        };
        let exch_ts = field_uint(l, "T").map_or(0, ms_to_ns);
        let (px, sz) = (f("p")?, f("v")?);
        super::push_deriv(&self.symbols, key, exch_ts, out, |inst| {
            Ok(Some(Derivative::Liquidation(Liquidation {
                side,
                price: deriv_price(inst, px, "p")?,
                size: deriv_size(inst, sz, "v")?,
            })))
        })
    }
}

impl Adapter for Bybit {
    fn venue(&self) -> Venue {
        self.venue
    }

    fn handle_frame(&mut self, frame: &[u8], _: u64, out: &mut Parsed) -> Result<(), VenueError> {
        if let Some(r) = scan_frame(self, |a| &mut a.scan, frame, out, Self::scanned) {
            return r;
        }
        let mut scratch = self.scratch.take().unwrap_or_default();
        let r = scratch.parse(frame, false, |root| self.frame(root, out));
        self.scratch = Some(scratch);
        r
    }

    fn resync(&mut self, symbol: SymbolIdx) {
        *self.state(symbol) = SymState::default();
    }

    fn reset_connection(&mut self) {
        self.states.iter_mut().for_each(|s| *s = SymState::default());
        // A new connection's ticker subscription starts with a snapshot.
        self.tickers.iter_mut().for_each(|t| *t = TickerState::default());
    }

    fn symbols(&self) -> &Symbols {
        &self.symbols
    }

    fn symbols_mut(&mut self) -> &mut Symbols {
        &mut self.symbols
    }

    /// One request per ten topics (spot takes at most ten arguments a request).
    fn subscribe_messages(&self, symbols: &[&str]) -> Vec<String> {
        requests("subscribe", self.depth, symbols, self.wants_derivatives())
    }

    fn unsubscribe_messages(&self, symbols: &[&str]) -> Vec<String> {
        requests("unsubscribe", self.depth, symbols, self.wants_derivatives())
    }

    /// Bybit answers a subscription with a fresh `snapshot`: the book's topic is unsubscribed
    /// and subscribed again (its trades keep flowing).
    fn resubscribe_book_messages(&self, symbol: &str) -> Option<Vec<String>> {
        let depth = self.depth;
        super::resubscription(|op| {
            format!("{{\"op\":\"{op}\",\"args\":[\"orderbook.{depth}.{symbol}\"]}}")
        })
    }
}

impl Bybit {
    /// Derivatives topics are subscribed: asked for, on a derivatives venue.
    fn wants_derivatives(&self) -> bool {
        self.derivatives && self.venue != Venue::BybitSpot
    }
}

/// The requests for `symbols`' books and trades (and tickers and liquidations), ten topics a
/// request.
fn requests(op: &str, depth: u32, symbols: &[&str], derivatives: bool) -> Vec<String> {
    let mut topics = Vec::new();
    for s in symbols {
        topics.push(format!("\"orderbook.{depth}.{s}\""));
        topics.push(format!("\"publicTrade.{s}\""));
        if derivatives {
            topics.push(format!("\"tickers.{s}\""));
            topics.push(format!("\"allLiquidation.{s}\""));
        }
    }
    topics.chunks(10).map(|c| format!("{{\"op\":\"{op}\",\"args\":[{}]}}", c.join(","))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Funding, Scaled};

    /// Bybit's documented linear `tickers` snapshot (BTCUSDT), a delta carrying only changed
    /// fields (written after the documented shape), and the documented `allLiquidation`
    /// push with its symbol moved to the one this connection knows.
    #[test]
    fn tickers_merge_deltas_and_liquidations() {
        let mut a = bybit();
        let (r, _) = run(&mut a, br#"{"topic":"orderbook.50.BTCUSDT","type":"snapshot","ts":1673272861600,"data":{"s":"BTCUSDT","b":[["17215.50","84.489"]],"a":[["17216.00","83.020"]],"u":1,"seq":1},"cts":1673272861590}"#);
        assert_eq!(r, Ok(()));
        let inst = a.symbols().get(0).unwrap().instrument.clone();
        let (r, out) = run(&mut a, br#"{"topic":"tickers.BTCUSDT","type":"snapshot","data":{"symbol":"BTCUSDT","tickDirection":"PlusTick","price24hPcnt":"0.017103","lastPrice":"17216.00","prevPrice24h":"16926.50","highPrice24h":"17281.50","lowPrice24h":"16915.00","prevPrice1h":"17238.00","markPrice":"17217.33","indexPrice":"17227.36","openInterest":"68744.761","openInterestValue":"1183601235.91","turnover24h":"1570383121.943499","volume24h":"91705.276","nextFundingTime":"1673280000000","fundingRate":"-0.000212","bid1Price":"17215.50","bid1Size":"84.489","ask1Price":"17216.00","ask1Size":"83.020"},"cs":24987956059,"ts":1673272861686}"#);
        assert_eq!(r, Ok(()));
        assert!(out.control && out.derivs.iter().all(|d| d.exch_ts == 1_673_272_861_686_000_000));
        let text = |v: Option<Scaled>, step| v.and_then(|v| v.format(step));
        let Derivative::MarkIndex(mi) = out.derivs[0].data else { panic!("{:?}", out.derivs) };
        assert_eq!(
            (text(mi.mark, inst.tick), text(mi.index, inst.tick)),
            (Some("17217.33".into()), Some("17227.36".into()))
        );
        let Derivative::Funding(f) = out.derivs[1].data else { panic!("{:?}", out.derivs) };
        assert_eq!(
            (text(Some(f.rate), crate::book::Step::ONE), f.next_funding_ts),
            (Some("-0.000212".into()), 1_673_280_000_000_000_000)
        );
        let Derivative::OpenInterest(oi) = out.derivs[2].data else { panic!("{:?}", out.derivs) };
        assert_eq!(text(Some(oi), inst.lot), Some("68744.761".into()));
        // A delta with only the mark price: a whole mark/index record (index carried over),
        // no funding or open interest record.
        let (r, out) = run(&mut a, br#"{"topic":"tickers.BTCUSDT","type":"delta","data":{"symbol":"BTCUSDT","markPrice":"17218.01","price24hPcnt":"0.017200"},"cs":24987956060,"ts":1673272862686}"#);
        assert_eq!((r, out.derivs.len()), (Ok(()), 1));
        let Derivative::MarkIndex(mi) = out.derivs[0].data else { panic!("{:?}", out.derivs) };
        assert_eq!(
            (text(mi.mark, inst.tick), text(mi.index, inst.tick)),
            (Some("17218.01".into()), Some("17227.36".into()))
        );
        // A delta with only the next funding time keeps the rate.
        let (_, out) = run(&mut a, br#"{"topic":"tickers.BTCUSDT","type":"delta","data":{"symbol":"BTCUSDT","nextFundingTime":"1673308800000"},"cs":1,"ts":1}"#);
        let Derivative::Funding(f) = out.derivs[0].data else { panic!("{:?}", out.derivs) };
        assert_eq!(
            (f.rate, f.next_funding_ts),
            (Scaled { units: -212, scale: 6 }, 1_673_308_800_000_000_000)
        );
        // A bad number is an error and changes nothing.
        let (r, _) = run(&mut a, br#"{"topic":"tickers.BTCUSDT","type":"delta","data":{"symbol":"BTCUSDT","markPrice":"1.2.3","fundingRate":"0.5"},"cs":1,"ts":1}"#);
        assert_eq!(r.map_err(|e| e.name()), Err("number"));
        let (_, out) = run(&mut a, br#"{"topic":"tickers.BTCUSDT","type":"delta","data":{"symbol":"BTCUSDT","nextFundingTime":"1673308800000"},"cs":1,"ts":1}"#);
        assert_eq!(
            out.derivs[0].data,
            Derivative::Funding(Funding {
                rate: Scaled { units: -212, scale: 6 },
                next_funding_ts: 1_673_308_800_000_000_000
            })
        );

        let (r, out) = run(&mut a, br#"{"topic":"allLiquidation.BTCUSDT","type":"snapshot","ts":1739502303204,"data":[{"T":1739502302929,"s":"BTCUSDT","S":"Sell","v":"0.02","p":"17300.04"}]}"#);
        assert_eq!(r, Ok(()));
        let Derivative::Liquidation(l) = out.derivs[0].data else { panic!("{:?}", out.derivs) };
        // A short position (`Sell`) was closed by a buy order.
        assert_eq!(l.side, event::Side::Buy);
        assert_eq!(
            (text(Some(l.price), inst.tick), text(Some(l.size), inst.lot)),
            (Some("17300.04".into()), Some("0.02".into()))
        );
        assert_eq!(out.derivs[0].exch_ts, 1_739_502_302_929_000_000);
        let (r, out) = run(&mut a, br#"{"topic":"allLiquidation.ROSEUSDT","type":"snapshot","ts":1739502303204,"data":[{"T":1739502302929,"s":"ROSEUSDT","S":"Sell","v":"20000","p":"0.04499"}]}"#);
        assert_eq!((r, out.derivs.len(), out.derivs_unknown), (Ok(()), 0, 1));
        let (r, _) = run(&mut a, br#"{"topic":"allLiquidation.BTCUSDT","type":"snapshot","ts":1,"data":[{"T":1,"s":"BTCUSDT","S":"Long","v":"1","p":"1"}]}"#);
        assert_eq!(r.map_err(|e| e.name()), Err("shape"));

        assert!(!a.subscribe_messages(&["BTCUSDT"])[0].contains("tickers"));
        a.derivatives = true;
        assert_eq!(
            a.subscribe_messages(&["BTCUSDT"]),
            vec![r#"{"op":"subscribe","args":["orderbook.50.BTCUSDT","publicTrade.BTCUSDT","tickers.BTCUSDT","allLiquidation.BTCUSDT"]}"#.to_owned()]
        );
        let mut spot = Bybit::new(Venue::BybitSpot, InstrumentRegistry::with_builtins(), 50);
        spot.derivatives = true;
        assert!(!spot.subscribe_messages(&["BTCUSDT"])[0].contains("tickers"));
    }

    fn bybit() -> Bybit {
        Bybit::new(Venue::BybitLinear, InstrumentRegistry::with_builtins(), 50)
    }

    fn run(a: &mut Bybit, frame: &[u8]) -> (Result<(), VenueError>, Parsed) {
        let mut out = Parsed::default();
        let r = a.handle_frame(frame, 0, &mut out);
        (r, out)
    }

    fn ok(a: &mut Bybit, frame: &[u8]) -> Parsed {
        let (r, out) = run(a, frame);
        assert_eq!(r, Ok(()), "{}", String::from_utf8_lossy(frame));
        out
    }

    fn msg(kind: &str, u: u64, bids: &str) -> String {
        format!(
            r#"{{"topic":"orderbook.50.BTCUSDT","type":"{kind}","ts":1672304484978,"data":{{"s":"BTCUSDT","b":[{bids}],"a":[["16493.55","0.1"]],"u":{u},"seq":7961638724}},"cts":1672304484976}}"#
        )
    }

    #[test]
    fn snapshot_then_deltas_chained_on_u() {
        let mut a = bybit();
        let out = ok(
            &mut a,
            msg("snapshot", 100, r#"["16493.50","0.006"],["16493.00","0.100"]"#).as_bytes(),
        );
        let b = &out.books[0];
        assert_eq!((b.action, b.truncate, b.checksum), (BookAction::Snapshot, Some(50), None));
        assert_eq!(b.exch_ts, 1_672_304_484_978_000_000);
        assert_eq!(out.levels_of(b).len(), 3);
        let out = ok(&mut a, msg("delta", 101, r#"["16493.00","0"]"#).as_bytes());
        let b = &out.books[0];
        assert_eq!(b.action, BookAction::Update);
        assert_eq!(out.levels_of(b)[0].qty_lots, 0);
        // A repeat is stale, not a gap.
        let out = ok(&mut a, msg("delta", 101, r#"["16493.00","0"]"#).as_bytes());
        assert_eq!((out.books.len(), out.stale, out.gaps.len()), (0, 1, 0));
        // A skipped id is a gap; the book waits for a snapshot.
        let out = ok(&mut a, msg("delta", 103, r#"["16492.00","1"]"#).as_bytes());
        assert_eq!(out.gaps, vec![GapScope::Symbol(0)]);
        let out = ok(&mut a, msg("delta", 104, r#"["16492.00","1"]"#).as_bytes());
        assert_eq!((out.books.len(), out.waiting), (0, 1));
        // A service restart: `u` starts over at 1, as a snapshot.
        let out = ok(&mut a, msg("delta", 1, r#"["16490.00","1"]"#).as_bytes());
        assert_eq!(out.books[0].action, BookAction::Snapshot);
        let out = ok(&mut a, msg("delta", 2, r#"["16490.00","2"]"#).as_bytes());
        assert_eq!((out.books.len(), out.gaps.len()), (1, 0));
        // Any snapshot replaces the book.
        let out = ok(&mut a, msg("snapshot", 500, r#"["16480.00","1"]"#).as_bytes());
        assert_eq!(out.books[0].action, BookAction::Snapshot);
        a.resync(0);
        assert_eq!(ok(&mut a, msg("delta", 501, "").as_bytes()).waiting, 1);
    }

    #[test]
    fn trades_and_control() {
        let mut a = bybit();
        ok(&mut a, msg("snapshot", 100, r#"["16493.50","0.006"]"#).as_bytes());
        let out = ok(
            &mut a,
            br#"{"topic":"publicTrade.BTCUSDT","type":"snapshot","ts":1672304486868,"data":[{"T":1672304486865,"s":"BTCUSDT","S":"Buy","v":"0.001","p":"16578.50","L":"PlusTick","i":"20f43950-d8dd-5b31-9112-a178eb6023af","BT":false}]}"#,
        );
        assert_eq!(out.trades.len(), 1);
        let t = out.trades[0];
        assert_eq!(t.trade.aggressor, Some(event::Side::Buy));
        assert_eq!(t.exch_ts, 1_672_304_486_865_000_000);
        for frame in [
            &br#"{"success":true,"ret_msg":"","conn_id":"cejreaspqfh3sjdnldmg-p","op":"subscribe"}"#[..],
            br#"{"success":true,"ret_msg":"pong","conn_id":"0970e817-426e-429a-a679-ff7f55e0b16a","op":"ping"}"#,
            br#"{"req_id":"100001","op":"pong","args":["1675418560633"],"conn_id":"cfcb4ocsvfriu23r3er0-1b"}"#,
        ] {
            assert!(ok(&mut a, frame).control, "{}", String::from_utf8_lossy(frame));
        }
        let (r, _) = run(&mut a, br#"{"success":false,"ret_msg":"error:handler not found","conn_id":"x","op":"subscribe"}"#);
        assert_eq!(r, Err(VenueError::VenueReported));
    }

    #[test]
    fn bad_input_is_an_error() {
        let cases: &[(&[u8], &str)] = &[
            (b"{\"topic\":", "json"),
            (b"{\"topic\":\"kline.1.BTCUSDT\",\"data\":[]}", "unknown_type"),
            (b"{\"topic\":\"orderbook.x.BTCUSDT\",\"type\":\"snapshot\",\"data\":{}}", "shape"),
            (b"{\"topic\":\"orderbook.50.BTCUSDT\",\"type\":\"partial\",\"data\":{}}", "shape"),
            (b"{\"topic\":\"orderbook.50.BTCUSDT\",\"type\":\"snapshot\",\"data\":{\"s\":\"BTCUSDT\"}}", "shape"),
            (br#"{"topic":"orderbook.50.BTCUSDT","type":"snapshot","data":{"s":"BTCUSDT","b":[["1e3","1"]],"a":[],"u":5}}"#, "number"),
            (br#"{"topic":"orderbook.50.NOPE","type":"delta","data":{"s":"NOPE","b":[],"a":[],"u":5}}"#, "unknown_symbol"),
            (br#"{"topic":"publicTrade.BTCUSDT","data":[{"T":1,"s":"BTCUSDT","S":"Both","v":"1","p":"1"}]}"#, "shape"),
            (b"{\"op\":\"auth\"}", "unknown_type"),
        ];
        for (frame, kind) in cases {
            let mut a = bybit();
            ok(&mut a, msg("snapshot", 100, r#"["16493.50","0.006"]"#).as_bytes());
            let (r, _) = run(&mut a, frame);
            assert_eq!(r.map_err(|e| e.name()), Err(*kind), "{}", String::from_utf8_lossy(frame));
        }
        let mut a = bybit();
        ok(&mut a, msg("snapshot", 100, r#"["16493.50","0.006"]"#).as_bytes());
        let (r, out) = run(&mut a, msg("delta", 101, r#"["16493.50","x"]"#).as_bytes());
        assert_eq!((r.map_err(|e| e.name()), out.broken), (Err("number"), Some(0)));
    }

    #[test]
    fn requests_take_ten_topics_each() {
        let a = bybit();
        assert_eq!(
            a.subscribe_messages(&["BTCUSDT"]),
            [r#"{"op":"subscribe","args":["orderbook.50.BTCUSDT","publicTrade.BTCUSDT"]}"#]
        );
        let many: Vec<String> = (0..6).map(|i| format!("S{i}USDT")).collect();
        let refs: Vec<&str> = many.iter().map(String::as_str).collect();
        assert_eq!(a.subscribe_messages(&refs).len(), 2);
        assert_eq!(
            a.resubscribe_book_messages("BTCUSDT").unwrap(),
            [
                r#"{"op":"unsubscribe","args":["orderbook.50.BTCUSDT"]}"#,
                r#"{"op":"subscribe","args":["orderbook.50.BTCUSDT"]}"#
            ]
        );
    }
}

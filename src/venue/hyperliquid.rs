//! Hyperliquid (`wss://api.hyperliquid.xyz/ws`): `l2Book` and `trades` subscriptions per coin.
//!
//! Books: every `l2Book` message is the whole book the venue publishes (up to 20 levels a
//! side, `levels: [bids, asks]` of `{px, sz, n}`), so each one is applied as a snapshot: there
//! is no sequence to break, and a book that lost sync is whole again with the next message.
//! Prices carry at most five significant figures (an integer price is always valid) and at most
//! `MAX_DECIMALS - szDecimals` decimals (the venue's `POST /info` `meta`, see
//! [`refdata`](crate::refdata)), so the tick depends on the price. With the venue's reference
//! data, its tick (the finest the decimal rule allows) becomes the trades' step
//! ([`Instrument::trade_tick`]) and the book's tick starts at 1, refined exactly as the book's
//! prices show more decimals ([`Parsed::book_price`]: the first snapshot, then a price crossing a
//! power of ten downwards), as Bitfinex does; the ladder then counts the book's own steps (1 for
//! BTC at 105,055) instead of the finest ones. Without reference data the tick is learned from
//! the first snapshot and refined the same way.
//!
//! Control: `subscriptionResponse` and `pong` (the answer to the client's `{"method":"ping"}`,
//! which the venue needs within 60 s of silence).
//!
//! With [`Parser::Scan`] (the default), `l2Book` and `trades` messages are read by the
//! venue's scanner (`scan::hyperliquid`, one walk over the frame in place, no tape); anything
//! else, or anything it does not read exactly, by simd-json. Both parsers feed the same
//! handlers.
//!
//! [`Parser::Scan`]: super::scan::Parser::Scan

use simd_json::tape::Value;

use super::json::{field_text, fields, text, uint, Scratch};
use super::protocol::{Keepalive, Protocol, BASE};
use super::scan::hyperliquid::{HyperliquidFound, HyperliquidFrames};
use super::scan::{scan_frame, ScanPath};
use super::time::ms_to_ns;
use super::{num, Adapter, BookAction, Parsed, SymbolIdx, Symbols, TradeMsg, VenueError};
use crate::book::{Instrument, InstrumentRegistry, Side, StepSource, Venue};
use crate::event::{self, Trade};

/// Hyperliquid's transport: one endpoint; the client pings every 30 s; a book with no `l2Book`
/// for 5 s (about ten blocks: the bundled capture's gaps are 14–847 ms, median 554) is stale.
pub const PROTOCOL: Protocol = Protocol {
    endpoint: "wss://api.hyperliquid.xyz",
    path: "/ws",
    keepalive: Some(Keepalive {
        text: r#"{"method":"ping"}"#,
        every: std::time::Duration::from_secs(30),
        reply: r#"{"channel":"pong"}"#,
    }),
    book_quiet_after: Some(std::time::Duration::from_secs(5)),
    ..BASE
};

/// One side's levels (`{px, sz, n}` objects), from either parser: simd-json's tape or the
/// scanner's offsets (`scan::hyperliquid`). One handler, two parsers, one behaviour.
pub(crate) trait LevelSource<'i>: Copy {
    /// Calls `f` with each level's `px` and `sz` text, in order; `Shape` errors for a side
    /// that is not an array or a level without them as strings.
    fn each(
        self,
        f: impl FnMut(&'i [u8], &'i [u8]) -> Result<(), VenueError>,
    ) -> Result<(), VenueError>;
    /// The `px` (`size == false`) or `sz` text of every level that has one as a string: what
    /// a new coin's tick and lot are learned from.
    fn texts(self, size: bool) -> impl Iterator<Item = &'i [u8]>;
}

impl<'i> LevelSource<'i> for Value<'_, 'i> {
    #[inline]
    fn each(
        self,
        mut f: impl FnMut(&'i [u8], &'i [u8]) -> Result<(), VenueError>,
    ) -> Result<(), VenueError> {
        let Some(arr) = self.as_array() else { return Err(VenueError::Shape("a side's levels")) };
        for l in arr.iter() {
            let [px, sz] = fields(l, ["px", "sz"]);
            let px = px.and_then(text).ok_or(VenueError::Shape("level px"))?;
            let sz = sz.and_then(text).ok_or(VenueError::Shape("level sz"))?;
            f(px, sz)?;
        }
        Ok(())
    }

    fn texts(self, size: bool) -> impl Iterator<Item = &'i [u8]> {
        let k = if size { "sz" } else { "px" };
        self.as_array()
            .into_iter()
            .flat_map(move |a| a.iter().filter_map(move |l| field_text(l, k)))
    }
}

impl<'i> LevelSource<'i> for super::scan::hyperliquid::Levels<'i> {
    #[inline]
    fn each(
        self,
        mut f: impl FnMut(&'i [u8], &'i [u8]) -> Result<(), VenueError>,
    ) -> Result<(), VenueError> {
        self.iter().try_for_each(|(px, sz)| f(px, sz))
    }

    fn texts(self, size: bool) -> impl Iterator<Item = &'i [u8]> {
        self.iter().map(move |(px, sz)| if size { sz } else { px })
    }
}

/// The fields of one trade that the handler reads, from either parser: simd-json's tape
/// ([`TradeRow::of`]) or the scanner's offsets (`scan::hyperliquid`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct TradeRow<'i> {
    /// `coin` (a string).
    pub(crate) coin: Option<&'i [u8]>,
    /// `side` (a string): `B` or `A`.
    pub(crate) side: Option<&'i [u8]>,
    /// `px` (a string).
    pub(crate) px: Option<&'i [u8]>,
    /// `sz` (a string).
    pub(crate) sz: Option<&'i [u8]>,
    /// `tid` as [`uint`] reads it.
    pub(crate) tid: Option<u64>,
    /// `time` (ms) as [`uint`] reads it.
    pub(crate) time: Option<u64>,
}

impl<'i> TradeRow<'i> {
    /// The trade object `t` on simd-json's tape (one pass over its members; each key's first
    /// member, as `get` finds it).
    fn of(t: Value<'_, 'i>) -> Self {
        let [coin, side, px, sz, tid, time] =
            fields(t, ["coin", "side", "px", "sz", "tid", "time"]);
        TradeRow {
            coin: coin.and_then(text),
            side: side.and_then(text),
            px: px.and_then(text),
            sz: sz.and_then(text),
            tid: tid.and_then(uint),
            time: time.and_then(uint),
        }
    }
}

/// The Hyperliquid adapter. See the [module docs](self).
#[derive(Debug)]
pub struct Hyperliquid {
    symbols: Symbols,
    scratch: Option<Box<Scratch>>,
    /// The parser choice and the scanner (`l2Book` and `trades` messages).
    scan: ScanPath<HyperliquidFrames>,
}

impl Hyperliquid {
    /// A new adapter.
    pub fn new(registry: InstrumentRegistry) -> Self {
        Hyperliquid {
            symbols: Symbols::new(Venue::Hyperliquid, registry),
            scratch: Some(Box::new(Scratch::new())),
            scan: ScanPath::new(),
        }
    }

    /// What the scanner read: an `l2Book` message's book or a `trades` message's trades;
    /// `None` (simd-json reads the frame) for any other.
    fn scanned(
        &mut self,
        f: &HyperliquidFound<'_>,
        out: &mut Parsed,
    ) -> Option<Result<(), VenueError>> {
        if let Some(b) = f.book {
            return Some(self.book(b.coin, b.time, b.bids, b.asks, out));
        }
        Some(f.trades?.iter().try_for_each(|t| self.trade(t, out)))
    }

    fn frame(&mut self, root: Value<'_, '_>, out: &mut Parsed) -> Result<(), VenueError> {
        let channel = field_text(root, "channel").ok_or(VenueError::UnknownType)?;
        match channel {
            b"l2Book" => {
                let d = root.get("data").ok_or(VenueError::Shape("data"))?;
                let key = field_text(d, "coin").ok_or(VenueError::Shape("coin"))?;
                let levels = d.get_array("levels").ok_or(VenueError::Shape("levels"))?;
                let (Some(bids), Some(asks)) = (levels.get(0), levels.get(1)) else {
                    return Err(VenueError::Shape("levels: [bids, asks]"));
                };
                let time = d.get("time").and_then(uint);
                self.book(key, time, bids, asks, out)
            }
            b"trades" => {
                let list = root.get_array("data").ok_or(VenueError::Shape("data"))?;
                list.iter().try_for_each(|t| self.trade(TradeRow::of(t), out))
            }
            b"subscriptionResponse" | b"pong" => {
                out.control = true;
                Ok(())
            }
            b"error" => {
                out.control = true;
                Err(VenueError::VenueReported)
            }
            _ => Err(VenueError::UnknownType),
        }
    }

    /// An `l2Book` message: coin `key`, `time` (ms), and its two sides.
    fn book<'i, S: LevelSource<'i>>(
        &mut self,
        key: &[u8],
        time: Option<u64>,
        bids: S,
        asks: S,
        out: &mut Parsed,
    ) -> Result<(), VenueError> {
        let sym = match self.resolve(key) {
            Some(s) => s,
            None => {
                let px = bids.texts(false).chain(asks.texts(false));
                let sz = bids.texts(true).chain(asks.texts(true));
                self.symbols.learn(key, px, sz)?
            }
        };
        let exch_ts = time.map_or(0, ms_to_ns);
        out.begin_book(sym, BookAction::Snapshot, exch_ts);
        let inst = &self.symbols.list()[usize::from(sym)].instrument;
        let r = side(bids, Side::Bid, inst, out).and_then(|()| side(asks, Side::Ask, inst, out));
        if let Err(e) = r {
            out.broken = Some(sym);
            return Err(e);
        }
        out.finish_book(None, None);
        Ok(())
    }

    /// The index of `key` if known or in the registry; a symbol new to the adapter whose tick
    /// is the venue's reference data gets the split described in the [module docs](self).
    fn resolve(&mut self, key: &[u8]) -> Option<SymbolIdx> {
        let known = self.symbols.len();
        let sym = self.symbols.resolve(key)?;
        if self.symbols.len() > known {
            self.follow_book(sym);
        }
        Some(sym)
    }

    /// The venue's tick (a power of ten: the finest its decimal rule allows) becomes the trades'
    /// step, and the book's tick starts at 1, to be refined by the book's prices. A configured,
    /// built-in or learned tick is left alone.
    fn follow_book(&mut self, sym: SymbolIdx) {
        let Some(info) = self.symbols.get_mut(sym) else { return };
        let inst = &mut info.instrument;
        if inst.source == StepSource::Venue && inst.tick.scale() != 0 && inst.split_trade_step() {
            info.price_decimals = 0;
        }
    }

    fn trade<'i>(&mut self, t: TradeRow<'i>, out: &mut Parsed) -> Result<(), VenueError> {
        let key = t.coin.ok_or(VenueError::Shape("trade coin"))?;
        let sym = self.resolve(key).ok_or(VenueError::UnknownSymbol)?;
        let inst = &self.symbols.list()[usize::from(sym)].instrument;
        let f = |v: Option<&'i [u8]>| v.ok_or(VenueError::Shape("trade field"));
        // `side`: the taker's, `B` (bought) or `A` (sold).
        let aggressor = match f(t.side)? {
            b"B" => event::Side::Buy,
            b"A" => event::Side::Sell,
            _ => return Err(VenueError::Shape("trade side")),
        };
        out.trades.push(TradeMsg {
            symbol: sym,
            trade: Trade {
                price_tick: inst.trade_step().units_plain(f(t.px)?).map_err(num("px"))?,
                size_lots: inst.qty_lots(f(t.sz)?).map_err(num("sz"))?,
                aggressor: Some(aggressor),
                trade_id: t.tid.unwrap_or(0),
            },
            exch_ts: t.time.map_or(0, ms_to_ns),
        });
        Ok(())
    }
}

super::scan::scan_controls!(Hyperliquid, "`l2Book` and `trades`");

/// One side's levels `{px, sz, n}`.
fn side<'i>(
    levels: impl LevelSource<'i>,
    side: Side,
    inst: &Instrument,
    out: &mut Parsed,
) -> Result<(), VenueError> {
    levels.each(|px, sz| {
        let px_tick = out.book_price(inst, px).map_err(num("px"))?;
        let qty_lots = inst.qty_lots(sz).map_err(num("sz"))?;
        out.level(side, px_tick, qty_lots);
        Ok(())
    })
}

impl Adapter for Hyperliquid {
    fn venue(&self) -> Venue {
        Venue::Hyperliquid
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

    /// Nothing to forget: the next `l2Book` message is a whole book.
    fn resync(&mut self, _symbol: SymbolIdx) {}

    fn reset_connection(&mut self) {}

    fn symbols(&self) -> &Symbols {
        &self.symbols
    }

    fn symbols_mut(&mut self) -> &mut Symbols {
        &mut self.symbols
    }

    fn subscribe_messages(&self, symbols: &[&str]) -> Vec<String> {
        requests("subscribe", symbols)
    }

    fn unsubscribe_messages(&self, symbols: &[&str]) -> Vec<String> {
        requests("unsubscribe", symbols)
    }

    /// Every `l2Book` message is a whole book: the next one resyncs, nothing to send.
    fn resubscribe_book_messages(&self, _symbol: &str) -> Option<Vec<String>> {
        Some(Vec::new())
    }
}

fn requests(method: &str, symbols: &[&str]) -> Vec<String> {
    symbols
        .iter()
        .flat_map(|s| {
            ["l2Book", "trades"].map(|kind| {
                format!(
                    "{{\"method\":\"{method}\",\"subscription\":{{\"type\":\"{kind}\",\"coin\":\"{s}\"}}}}"
                )
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::book::Step;

    fn ok(a: &mut Hyperliquid, frame: &[u8]) -> Parsed {
        let mut out = Parsed::default();
        let r = a.handle_frame(frame, 0, &mut out);
        assert_eq!(r, Ok(()), "{}", String::from_utf8_lossy(frame));
        out
    }

    const BOOK: &[u8] = br#"{"channel":"l2Book","data":{"coin":"BTC","time":1737918843760,"levels":[[{"px":"105055.0","sz":"3.03622","n":5},{"px":"105054.0","sz":"0.1428","n":1}],[{"px":"105056.0","sz":"6.34472","n":13}]]}}"#;

    #[test]
    fn every_book_message_is_a_snapshot() {
        let mut a = Hyperliquid::new(InstrumentRegistry::with_builtins());
        for _ in 0..2 {
            let out = ok(&mut a, BOOK);
            let b = &out.books[0];
            assert_eq!((b.action, b.exch_ts), (BookAction::Snapshot, 1_737_918_843_760_000_000));
            assert_eq!(out.levels_of(b).len(), 3);
        }
        // A finer price later refines the learned tick (1 → 0.5).
        let finer = String::from_utf8_lossy(BOOK).replace("105054.0", "105054.5");
        let out = ok(&mut a, finer.as_bytes());
        assert!(out.refined.is_some());
        let out = ok(
            &mut a,
            br#"{"channel":"trades","data":[{"coin":"BTC","side":"A","px":"105055.0","sz":"0.0002","time":1737918844000,"hash":"0x0","tid":42}]}"#,
        );
        let t = out.trades[0];
        assert_eq!((t.trade.aggressor, t.trade.trade_id), (Some(event::Side::Sell), 42));
        for frame in [
            &br#"{"channel":"subscriptionResponse","data":{"method":"subscribe","subscription":{"type":"l2Book","coin":"BTC"}}}"#[..],
            br#"{"channel":"pong"}"#,
        ] {
            assert!(ok(&mut a, frame).control);
        }
        assert_eq!(a.resubscribe_book_messages("BTC"), Some(Vec::new()));
    }

    /// A HIP-3 perpetual (`xyz:XYZ100`) is a coin like any other: its dex's `meta` gives its
    /// steps (szDecimals 4: tick 0.01, lot 0.0001), its book and trades resolve by the whole
    /// name, and the main dex's coin of the same base stays a book of its own.
    #[test]
    fn a_hip3_coin_resolves_by_its_whole_name() {
        let mut registry = InstrumentRegistry::new();
        let (tick, lot) = (Step::parse("0.01").unwrap(), Step::parse("0.0001").unwrap());
        assert!(registry.reference(Venue::Hyperliquid, "xyz:XYZ100", tick, lot));
        let mut a = Hyperliquid::new(registry);
        let book = br#"{"channel":"l2Book","data":{"coin":"xyz:XYZ100","time":1,"levels":[[{"px":"25012.5","sz":"0.1234","n":2}],[{"px":"25013","sz":"1.5","n":1}]]}}"#;
        let out = ok(&mut a, book);
        let inst = &a.symbols().list()[0].instrument;
        assert_eq!((inst.source, inst.trade_tick, inst.lot), (StepSource::Venue, Some(tick), lot));
        let l = out.levels_of(&out.books[0]);
        assert_eq!(l[0].qty_lots, 1_234);
        let trade = br#"{"channel":"trades","data":[{"coin":"xyz:XYZ100","side":"B","px":"25012.57","sz":"0.0002","time":1,"hash":"0x0","tid":9}]}"#;
        let t = ok(&mut a, trade).trades[0];
        assert_eq!((t.symbol, t.trade.price_tick, t.trade.size_lots), (0, 2_501_257, 2));
        // `XYZ100` alone is another coin, not this one.
        let other = String::from_utf8_lossy(book).replace("xyz:XYZ100", "XYZ100");
        ok(&mut a, other.as_bytes());
        assert_eq!(a.symbols().len(), 2);
        assert_eq!(a.symbols().list()[1].instrument.source, StepSource::Learned);
    }

    #[test]
    fn with_reference_data_trades_count_the_venue_tick_and_the_book_follows_its_prices() {
        // What `POST /info` `meta` gives BTC (szDecimals 5): tick 0.1, lot 0.00001.
        let mut registry = InstrumentRegistry::new();
        let (tick, lot) = (Step::parse("0.1").unwrap(), Step::parse("0.00001").unwrap());
        assert!(registry.reference(Venue::Hyperliquid, "BTC", tick, lot));
        let mut a = Hyperliquid::new(registry);
        let out = ok(&mut a, BOOK);
        assert!(out.refined.is_none());
        let inst = &a.symbols().list()[0].instrument;
        assert_eq!((inst.source, inst.trade_tick, inst.lot), (StepSource::Venue, Some(tick), lot));
        // Five significant figures at 105,055: the book counts whole dollars.
        assert_eq!(inst.tick, Step::ONE);
        let l = out.levels_of(&out.books[0]);
        assert_eq!((l[0].px_tick, l[0].qty_lots), (105_055, 303_622));
        // A trade counts the venue's tick.
        let trade = br#"{"channel":"trades","data":[{"coin":"BTC","side":"B","px":"105055.0","sz":"0.0002","time":1,"hash":"0x0","tid":7}]}"#;
        let t = ok(&mut a, trade).trades[0].trade;
        assert_eq!((t.price_tick, t.size_lots), (1_050_550, 20));
        // Below 100,000 the book shows tenths: refined exactly to the venue's tick.
        let below = String::from_utf8_lossy(BOOK).replace("105054.0", "99999.5");
        let out = ok(&mut a, below.as_bytes());
        assert_eq!(out.refined, Some((0, tick)));
        a.symbols_mut().refine_tick(0, tick);
        // Finer than the venue's rule allows (two decimals with szDecimals 5): refused.
        let off = String::from_utf8_lossy(BOOK).replace("105054.0", "99999.55");
        let mut out = Parsed::default();
        let r = a.handle_frame(off.as_bytes(), 0, &mut out);
        assert_eq!(r.map_err(|e| e.name()), Err("number"));
        // A configured tick is the user's: no split.
        let mut registry = InstrumentRegistry::new();
        registry.configure(Venue::Hyperliquid, "BTC", tick, lot);
        let mut a = Hyperliquid::new(registry);
        ok(&mut a, BOOK);
        let inst = &a.symbols().list()[0].instrument;
        assert_eq!((inst.tick, inst.trade_tick), (tick, None));
    }

    #[test]
    fn bad_input_is_an_error() {
        for (frame, kind) in [
            (&b"{\"channel\":"[..], "json"),
            (b"{\"channel\":\"candle\",\"data\":{}}", "unknown_type"),
            (b"{\"channel\":\"l2Book\",\"data\":{\"coin\":\"BTC\",\"levels\":[[]]}}", "shape"),
            (br#"{"channel":"l2Book","data":{"coin":"BTC","levels":[[{"px":"x","sz":"1"}],[]]}}"#, "number"),
            (br#"{"channel":"trades","data":[{"coin":"ETH","side":"B","px":"1","sz":"1"}]}"#, "unknown_symbol"),
            (br#"{"channel":"error","data":"Invalid subscription"}"#, "venue_error"),
        ] {
            let mut a = Hyperliquid::new(InstrumentRegistry::with_builtins());
            let mut out = Parsed::default();
            let r = a.handle_frame(frame, 0, &mut out);
            assert_eq!(r.map_err(|e| e.name()), Err(kind), "{}", String::from_utf8_lossy(frame));
        }
    }

    #[test]
    fn requests() {
        let a = Hyperliquid::new(InstrumentRegistry::new());
        assert_eq!(
            a.subscribe_messages(&["BTC"]),
            [
                r#"{"method":"subscribe","subscription":{"type":"l2Book","coin":"BTC"}}"#,
                r#"{"method":"subscribe","subscription":{"type":"trades","coin":"BTC"}}"#
            ]
        );
    }
}

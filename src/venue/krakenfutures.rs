//! Kraken Futures (`wss://futures.kraken.com/ws/v1`): `book` (a `book_snapshot`, then one
//! level per `book` message) and `trade` feeds per product.
//!
//! Books: each product numbers its book messages (`seq`); a `book` message whose `seq` is not
//! the previous one's plus one is a gap and the book resyncs (its `book` feed unsubscribed and
//! subscribed again on the open connection: Kraken Futures answers with a `book_snapshot`).
//! A `qty` of 0 removes the level. Prices and sizes are JSON numbers, read as their exact wire
//! text. `trade_snapshot` (recent trades at subscription) is history, not a new trade.
//!
//! Derivatives (`ticker`, subscribed when [`KrakenFutures::derivatives`] is on; every message
//! carries every field): `markPrice` and `index`, `openInterest` (contracts, the book's unit),
//! and on perpetuals `relative_funding_rate` (the rate as a fraction of the position, the
//! other venues' unit; the absolute `funding_rate` is not carried) with
//! `next_funding_rate_time`. The venue leaves a zero funding rate out: a perpetual's ticker
//! without one reads as rate 0.
//!
//! Control: `info`, `subscribed`/`unsubscribed`, `heartbeat` (subscribed with the books: the
//! venue closes a connection silent for a minute), `ticker_lite`; `error`/`alert` are the
//! venue reporting one.
//!
//! Parsing: the `book` messages (nearly all of the traffic, one level each) are read by a flat
//! object scanner ([`super::scan::flat`], with [`Parser::Scan`], the default) through the same
//! handler as the simd-json path. The feeds it drops unread (`trade_snapshot`, the trade
//! history sent on subscribing, thousands of bytes each; `ticker_lite`; heartbeats) are read
//! whole by the same scanner to check that they are valid JSON ([`flat::ignored_feed`]),
//! instead of having their numbers quoted and a tape built to be thrown away. Every other
//! frame, and any of those the scanner does not read exactly, goes to simd-json with its
//! numbers quoted (counted in [`Parsed::scan_fallback`]).

use simd_json::tape::Value;

use super::json::{field_text, text, Scratch};
use super::protocol::{Protocol, BASE};
use super::scan::flat::{self, Flat};
use super::scan::Parser;
use super::scan::{Kernel, ScanControls};
use super::time::ms_to_ns;
use super::{deriv_price, deriv_rate, deriv_size};
use super::{num, Adapter, BookAction, GapScope, Parsed, SymbolIdx, Symbols, TradeMsg, VenueError};
use crate::book::{Instrument, InstrumentRegistry, Side, Step, Venue};
use crate::event::{self, Derivative, Funding, MarkIndex, Trade};

/// Kraken Futures' transport: the `heartbeat` feed keeps the connection alive.
pub const PROTOCOL: Protocol =
    Protocol { endpoint: "wss://futures.kraken.com", path: "/ws/v1", ..BASE };

#[derive(Debug, Default, Clone, Copy)]
struct SymState {
    synced: bool,
    /// The `seq` of the last book message applied.
    seq: u64,
}

/// The Kraken Futures adapter. See the [module docs](self).
#[derive(Debug)]
pub struct KrakenFutures {
    symbols: Symbols,
    states: Vec<SymState>,
    scratch: Option<Box<Scratch>>,
    /// Which parser reads frames ([`Parser::Scan`] by default).
    parser: Parser,
    /// The kernel the `book` scanner finds strings with.
    kernel: Kernel,
    /// Subscribe the `ticker` feed (mark, index, funding, open interest) with the books.
    pub derivatives: bool,
}

impl KrakenFutures {
    /// A new adapter.
    pub fn new(registry: InstrumentRegistry) -> Self {
        KrakenFutures {
            symbols: Symbols::new(Venue::KrakenFutures, registry),
            states: Vec::new(),
            scratch: Some(Box::new(Scratch::new())),
            parser: Parser::Scan,
            kernel: Kernel::detect(),
            derivatives: false,
        }
    }

    fn state(&mut self, i: SymbolIdx) -> &mut SymState {
        super::state_slot(&mut self.states, i)
    }

    fn frame(&mut self, root: Value<'_, '_>, out: &mut Parsed) -> Result<(), VenueError> {
        if let Some(ev) = field_text(root, "event") {
            out.control = true;
            return match ev {
                b"info" | b"subscribed" | b"unsubscribed" | b"pong" => Ok(()),
                b"error" | b"alert" => Err(VenueError::VenueReported),
                _ => Err(VenueError::UnknownType),
            };
        }
        match field_text(root, "feed").ok_or(VenueError::UnknownType)? {
            b"book_snapshot" => self.snapshot(root, out),
            b"book" => self.delta(root, out),
            b"trade" => self.trade(root, out),
            b"ticker" => {
                out.control = true;
                self.ticker(root, out)
            }
            feed if ignored(feed) => {
                out.control = true;
                Ok(())
            }
            _ => Err(VenueError::UnknownType),
        }
    }

    fn snapshot(&mut self, d: Value<'_, '_>, out: &mut Parsed) -> Result<(), VenueError> {
        let key = field_text(d, "product_id").ok_or(VenueError::Shape("product_id"))?;
        let seq = super::json::field_uint(d, "seq").ok_or(VenueError::Shape("seq"))?;
        let sym = match self.symbols.resolve(key) {
            Some(s) => s,
            None => {
                let px = level_text(d, "asks", "price").chain(level_text(d, "bids", "price"));
                let qty = level_text(d, "asks", "qty").chain(level_text(d, "bids", "qty"));
                self.symbols.learn(key, px, qty)?
            }
        };
        *self.state(sym) = SymState { synced: true, seq };
        let exch_ts = super::json::field_uint(d, "timestamp").map_or(0, ms_to_ns);
        out.begin_book(sym, BookAction::Snapshot, exch_ts);
        let inst = &self.symbols.list()[usize::from(sym)].instrument;
        let r = levels(d, "bids", Side::Bid, inst, out)
            .and_then(|()| levels(d, "asks", Side::Ask, inst, out));
        if let Err(e) = r {
            out.broken = Some(sym);
            return Err(e);
        }
        out.finish_book(None, None);
        Ok(())
    }

    /// A `book` message, from either parser (`d`: its fields).
    #[inline]
    fn delta<'i>(&mut self, d: impl Fields<'i>, out: &mut Parsed) -> Result<(), VenueError> {
        let key = d.text("product_id").ok_or(VenueError::Shape("product_id"))?;
        let seq = d.uint("seq").ok_or(VenueError::Shape("seq"))?;
        let sym = self.symbols.resolve(key).ok_or(VenueError::UnknownSymbol)?;
        let st = self.state(sym);
        if !st.synced {
            out.waiting += 1;
            return Ok(());
        }
        if seq <= st.seq {
            out.stale += 1;
            return Ok(());
        }
        if seq != st.seq + 1 {
            *st = SymState::default();
            out.gaps.push(GapScope::Symbol(sym));
            return Ok(());
        }
        st.seq = seq;
        let side = match d.text("side") {
            Some(b"buy") => Side::Bid,
            Some(b"sell") => Side::Ask,
            _ => return Err(VenueError::Shape("side")),
        };
        let exch_ts = d.uint("timestamp").map_or(0, ms_to_ns);
        out.begin_book(sym, BookAction::Update, exch_ts);
        let inst = &self.symbols.list()[usize::from(sym)].instrument;
        let r = level_of(d.text("price"), d.text("qty"), side, inst, out);
        if let Err(e) = r {
            out.broken = Some(sym);
            return Err(e);
        }
        out.finish_book(None, None);
        Ok(())
    }

    fn trade(&mut self, t: Value<'_, '_>, out: &mut Parsed) -> Result<(), VenueError> {
        let key = field_text(t, "product_id").ok_or(VenueError::Shape("trade product_id"))?;
        let sym = self.symbols.resolve(key).ok_or(VenueError::UnknownSymbol)?;
        let inst = &self.symbols.list()[usize::from(sym)].instrument;
        let f = |k: &'static str| field_text(t, k).ok_or(VenueError::Shape("trade field"));
        // `side`: the taker's.
        let aggressor = match f("side")? {
            b"buy" => event::Side::Buy,
            b"sell" => event::Side::Sell,
            _ => return Err(VenueError::Shape("trade side")),
        };
        out.trades.push(TradeMsg {
            symbol: sym,
            trade: Trade {
                price_tick: inst.tick.units(f("price")?).map_err(num("price"))?,
                size_lots: inst.lot.units(f("qty")?).map_err(num("qty"))?,
                aggressor: Some(aggressor),
                trade_id: super::json::field_uint(t, "seq").unwrap_or(0),
            },
            exch_ts: super::json::field_uint(t, "time").map_or(0, ms_to_ns),
        });
        Ok(())
    }
}

impl ScanControls for KrakenFutures {
    fn set_parser(&mut self, parser: Parser) {
        self.parser = parser;
    }

    fn parser(&self) -> Parser {
        self.parser
    }

    fn set_scan_kernel(&mut self, kernel: Kernel) {
        self.kernel = kernel;
    }
}

fn level_text<'t, 'i: 't>(
    v: Value<'t, 'i>,
    key: &str,
    field: &'static str,
) -> impl Iterator<Item = &'i [u8]> + use<'t, 'i> {
    v.get_array(key)
        .into_iter()
        .flat_map(move |a| a.iter().filter_map(move |l| text(l.get(field)?)))
}

/// A message's fields as the handlers read them, from simd-json's tape (numbers quoted) or
/// from the flat scanner: the same text either way.
trait Fields<'i>: Copy {
    /// The text of a string or number field.
    fn text(self, key: &'static str) -> Option<&'i [u8]>;
    /// An unsigned integer field (a number or a string of digits).
    fn uint(self, key: &'static str) -> Option<u64>;
}

impl<'i> Fields<'i> for Value<'_, 'i> {
    #[inline]
    fn text(self, key: &'static str) -> Option<&'i [u8]> {
        field_text(self, key)
    }

    #[inline]
    fn uint(self, key: &'static str) -> Option<u64> {
        super::json::field_uint(self, key)
    }
}

impl<'i> Fields<'i> for &Flat<'i> {
    #[inline]
    fn text(self, key: &'static str) -> Option<&'i [u8]> {
        self.get(key.as_bytes())
    }

    /// As [`super::json::uint`] reads a quoted number: the digits of its text.
    #[inline]
    fn uint(self, key: &'static str) -> Option<u64> {
        super::json::parse_u64(self.get(key.as_bytes())?)
    }
}

/// One level `{price, qty}` (`qty` 0 removes it).
fn level(
    l: Value<'_, '_>,
    side: Side,
    inst: &Instrument,
    out: &mut Parsed,
) -> Result<(), VenueError> {
    level_of(field_text(l, "price"), field_text(l, "qty"), side, inst, out)
}

/// A level from its `price` and `qty` text.
#[inline]
fn level_of(
    px: Option<&[u8]>,
    qty: Option<&[u8]>,
    side: Side,
    inst: &Instrument,
    out: &mut Parsed,
) -> Result<(), VenueError> {
    let px = px.ok_or(VenueError::Shape("level price"))?;
    let qty = qty.ok_or(VenueError::Shape("level qty"))?;
    let px_tick = out.book_price_number(inst, px).map_err(num("price"))?;
    let qty_lots = inst.lot.units(qty).map_err(num("qty"))?;
    out.level(side, px_tick, qty_lots);
    Ok(())
}

fn levels(
    v: Value<'_, '_>,
    key: &str,
    side: Side,
    inst: &Instrument,
    out: &mut Parsed,
) -> Result<(), VenueError> {
    let Some(arr) = v.get_array(key) else { return Ok(()) };
    for l in arr.iter() {
        level(l, side, inst, out)?;
    }
    Ok(())
}

impl KrakenFutures {
    /// A `ticker` message's derivatives data (see the [module docs](self)).
    fn ticker(&mut self, d: Value<'_, '_>, out: &mut Parsed) -> Result<(), VenueError> {
        let key = field_text(d, "product_id").ok_or(VenueError::Shape("product_id"))?;
        let time_ms = super::json::field_uint(d, "time");
        let exch_ts = time_ms.map_or(0, ms_to_ns);
        let mark = field_text(d, "markPrice");
        let index = field_text(d, "index");
        super::push_deriv(&self.symbols, key, exch_ts, out, |inst| {
            let mark = mark.map(|v| deriv_price(inst, v, "markPrice")).transpose()?;
            let index = index.map(|v| deriv_price(inst, v, "index")).transpose()?;
            Ok((mark.is_some() || index.is_some())
                .then_some(Derivative::MarkIndex(MarkIndex { mark, index })))
        })?;
        if let Some(oi) = field_text(d, "openInterest") {
            super::push_deriv(&self.symbols, key, exch_ts, out, |inst| {
                deriv_size(inst, oi, "openInterest").map(|v| Some(Derivative::OpenInterest(v)))
            })?;
        }
        let perpetual = field_text(d, "tag") == Some(b"perpetual");
        let rate = field_text(d, "relative_funding_rate");
        if perpetual || rate.is_some() {
            let rate = match rate {
                Some(r) => deriv_rate(r, "relative_funding_rate")?,
                None => event::Scaled::default(),
            };
            let next_funding_ts = match field_text(d, "next_funding_rate_time") {
                None => 0,
                Some(t) => {
                    let ms = Step::ONE.units(t).map_err(num("next_funding_rate_time"))?;
                    let ms =
                        u64::try_from(ms).map_err(|_| VenueError::Shape("next funding time"))?;
                    // The examples give an epoch time; the field's description calls it the
                    // time until the next funding: a small value is read as that.
                    let ms = if ms < 1_000_000_000_000 { ms + time_ms.unwrap_or(0) } else { ms };
                    ms_to_ns(ms)
                }
            };
            super::push_deriv(&self.symbols, key, exch_ts, out, |_| {
                Ok(Some(Derivative::Funding(Funding { rate, next_funding_ts })))
            })?;
        }
        Ok(())
    }
}

/// The feeds the adapter reads nothing from (a control message each): trade history sent on
/// subscribing, heartbeats, and `ticker_lite`.
fn ignored(feed: &[u8]) -> bool {
    matches!(feed, b"trade_snapshot" | b"heartbeat" | b"ticker_lite")
}

impl Adapter for KrakenFutures {
    fn venue(&self) -> Venue {
        Venue::KrakenFutures
    }

    fn handle_frame(&mut self, frame: &[u8], _: u64, out: &mut Parsed) -> Result<(), VenueError> {
        if self.parser == Parser::Scan {
            // A `book` message the scanner reads exactly, or a feed the adapter ignores in a
            // frame read whole (`ticker_lite` is flat, `trade_snapshot` nests); anything else
            // to simd-json.
            let mut f = Flat::new(frame);
            if flat::scan_into(&mut f, self.kernel).is_some() {
                if f.get(b"event").is_none() {
                    match f.get(b"feed") {
                        Some(b"book") => return self.delta(&f, out),
                        Some(feed) if ignored(feed) => {
                            out.control = true;
                            return Ok(());
                        }
                        _ => {}
                    }
                }
            } else if flat::ignored_feed(frame, self.kernel, ignored).is_some() {
                out.control = true;
                return Ok(());
            }
            out.scan_fallback = true;
        }
        let mut scratch = self.scratch.take().unwrap_or_default();
        let r = scratch.parse(frame, true, |root| self.frame(root, out));
        self.scratch = Some(scratch);
        r
    }

    fn resync(&mut self, symbol: SymbolIdx) {
        *self.state(symbol) = SymState::default();
    }

    fn reset_connection(&mut self) {
        self.states.iter_mut().for_each(|s| *s = SymState::default());
    }

    fn symbols(&self) -> &Symbols {
        &self.symbols
    }

    fn symbols_mut(&mut self) -> &mut Symbols {
        &mut self.symbols
    }

    fn subscribe_messages(&self, symbols: &[&str]) -> Vec<String> {
        let mut m: Vec<String> =
            self.feeds().iter().map(|f| request("subscribe", f, symbols)).collect();
        m.push(r#"{"event":"subscribe","feed":"heartbeat"}"#.to_owned());
        m
    }

    fn unsubscribe_messages(&self, symbols: &[&str]) -> Vec<String> {
        self.feeds().iter().map(|f| request("unsubscribe", f, symbols)).collect()
    }

    /// Kraken Futures answers a `book` subscription with a `book_snapshot`.
    fn resubscribe_book_messages(&self, symbol: &str) -> Option<Vec<String>> {
        super::resubscription(|op| request(op, "book", &[symbol]))
    }
}

impl KrakenFutures {
    /// The per-product feeds subscribed.
    fn feeds(&self) -> &'static [&'static str] {
        if self.derivatives {
            &["book", "trade", "ticker"]
        } else {
            &["book", "trade"]
        }
    }
}

fn request(op: &str, feed: &str, symbols: &[&str]) -> String {
    let ids: Vec<String> = symbols.iter().map(|s| format!("\"{s}\"")).collect();
    format!("{{\"event\":\"{op}\",\"feed\":\"{feed}\",\"product_ids\":[{}]}}", ids.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(a: &mut KrakenFutures, frame: &[u8]) -> Parsed {
        let mut out = Parsed::default();
        let r = a.handle_frame(frame, 0, &mut out);
        assert_eq!(r, Ok(()), "{}", String::from_utf8_lossy(frame));
        out
    }

    const SNAPSHOT: &[u8] = br#"{"feed":"book_snapshot","product_id":"PI_LTCUSD","timestamp":1626994925378,"seq":100,"tickSize":null,"bids":[{"price":119.21,"qty":24508.0}],"asks":[{"price":119.46,"qty":21884.0}]}"#;

    fn delta(seq: u64, qty: &str) -> String {
        format!(
            r#"{{"feed":"book","product_id":"PI_LTCUSD","side":"buy","seq":{seq},"price":119.2,"qty":{qty},"timestamp":1626994927751}}"#
        )
    }

    #[test]
    fn snapshot_then_one_level_per_message_chained_on_seq() {
        let mut a = KrakenFutures::new(InstrumentRegistry::with_builtins());
        let out = ok(&mut a, SNAPSHOT);
        assert_eq!(
            (out.books[0].action, out.levels_of(&out.books[0]).len()),
            (BookAction::Snapshot, 2)
        );
        // The learned lot is 0.1 (the snapshot prints `24508.0`): 5.0 is 50 lots.
        let out = ok(&mut a, delta(101, "5.0").as_bytes());
        let b = &out.books[0];
        assert_eq!(
            (b.action, out.levels_of(b)[0].side, out.levels_of(b)[0].qty_lots),
            (BookAction::Update, Side::Bid, 50)
        );
        assert_eq!(ok(&mut a, delta(101, "5.0").as_bytes()).stale, 1);
        assert_eq!(ok(&mut a, delta(103, "0.0").as_bytes()).gaps, vec![GapScope::Symbol(0)]);
        assert_eq!(ok(&mut a, delta(104, "0.0").as_bytes()).waiting, 1);
        ok(&mut a, SNAPSHOT);
        assert_eq!(ok(&mut a, delta(101, "0.0").as_bytes()).books.len(), 1);
    }

    /// The `ticker` example of Kraken's Futures WebSocket documentation (PI_XBTUSD, a
    /// perpetual), behind a snapshot that makes the product known with its 0.5 tick.
    #[test]
    fn ticker_derivatives_from_the_documented_example() {
        let mut registry = InstrumentRegistry::with_builtins();
        registry.configure(
            Venue::KrakenFutures,
            "PI_XBTUSD",
            Step::parse("0.5").unwrap(),
            Step::ONE,
        );
        let mut a = KrakenFutures::new(registry);
        ok(&mut a, br#"{"feed":"book_snapshot","product_id":"PI_XBTUSD","timestamp":1612270825000,"seq":1,"bids":[{"price":34832.5,"qty":42864.0}],"asks":[{"price":34847.5,"qty":2300.0}]}"#);
        const TICKER: &[u8] = br#"{"time":1612270825253,"feed":"ticker","product_id":"PI_XBTUSD","bid":34832.5,"ask":34847.5,"bid_size":42864,"ask_size":2300,"volume":262306237,"dtm":0,"leverage":"50x","index":34803.45,"premium":0.1,"last":34852,"change":2.995484449728469,"funding_rate":3.80517503805E-9,"funding_rate_prediction":4.2330058838E-9,"suspended":false,"tag":"perpetual","pair":"XBT:USD","openInterest":28276000,"markPrice":34844.25,"maturityTime":0,"relative_funding_rate":0.000132541666666,"relative_funding_rate_prediction":0.000147729166667,"next_funding_rate_time":1612281600000}"#;
        let out = ok(&mut a, TICKER);
        assert!(out.control);
        let tick = Step::parse("0.5").unwrap();
        let got: Vec<_> = out.derivs.iter().map(|d| (d.symbol, d.exch_ts, d.data)).collect();
        assert_eq!(got.len(), 3);
        assert!(got.iter().all(|g| (g.0, g.1) == (0, 1_612_270_825_253_000_000)));
        let Derivative::MarkIndex(MarkIndex { mark: Some(m), index: Some(i) }) = got[0].2 else {
            panic!("{:?}", got[0])
        };
        assert_eq!(
            (m.format(tick).unwrap(), i.format(tick).unwrap()),
            ("34844.25".into(), "34803.45".into())
        );
        assert_eq!(
            got[1].2,
            Derivative::OpenInterest(event::Scaled { units: 28_276_000, scale: 0 })
        );
        let Derivative::Funding(f) = got[2].2 else { panic!("{:?}", got[2]) };
        assert_eq!(f.rate.format(Step::ONE).unwrap(), "0.000132541666666");
        assert_eq!(f.next_funding_ts, 1_612_281_600_000_000_000);
        // A future (no funding) gives mark, index and open interest only.
        let month = br#"{"time":1612270825253,"feed":"ticker","product_id":"PI_XBTUSD","tag":"month","index":34803.45,"markPrice":34844.5,"openInterest":5}"#;
        assert!(ok(&mut a, month).derivs.iter().all(|d| !matches!(d.data, Derivative::Funding(_))));
        let mut out = Parsed::default();
        let bad = br#"{"time":1,"feed":"ticker","product_id":"PI_XBTUSD","tag":"perpetual","markPrice":"abc"}"#;
        assert_eq!(a.handle_frame(bad, 0, &mut out).map_err(|e| e.name()), Err("number"));
        // Subscribed only when asked for.
        assert!(!a.subscribe_messages(&["PI_XBTUSD"]).iter().any(|m| m.contains("\"ticker\"")));
        a.derivatives = true;
        let m = a.subscribe_messages(&["PI_XBTUSD"]);
        assert!(m.contains(
            &r#"{"event":"subscribe","feed":"ticker","product_ids":["PI_XBTUSD"]}"#.to_owned()
        ));
    }

    #[test]
    fn trades_and_control() {
        let mut a = KrakenFutures::new(InstrumentRegistry::with_builtins());
        ok(&mut a, SNAPSHOT);
        let out = ok(&mut a, br#"{"feed":"trade","product_id":"PI_LTCUSD","uid":"x","side":"sell","type":"fill","seq":7,"time":1626994928000,"qty":50.0,"price":119.3}"#);
        assert_eq!(out.trades[0].trade.aggressor, Some(event::Side::Sell));
        for frame in [
            &br#"{"event":"info","version":1}"#[..],
            br#"{"event":"subscribed","feed":"book","product_ids":["PI_LTCUSD"]}"#,
            br#"{"feed":"heartbeat","time":1626994928000}"#,
            br#"{"feed":"trade_snapshot","product_id":"PI_LTCUSD","trades":[]}"#,
            br#"{"feed":"ticker_lite","product_id":"PI_LTCUSD","bid":119.2,"ask":119.4}"#,
        ] {
            assert!(ok(&mut a, frame).control);
        }
        let mut out = Parsed::default();
        assert_eq!(
            a.handle_frame(br#"{"event":"error","message":"Invalid product id"}"#, 0, &mut out),
            Err(VenueError::VenueReported)
        );
        assert_eq!(a.handle_frame(br#"{"feed":"book","product_id":"PI_LTCUSD","side":"up","seq":101,"price":1,"qty":1}"#, 0, &mut out).map_err(|e| e.name()), Err("shape"));
        assert_eq!(
            a.handle_frame(br#"{"feed":"candles"}"#, 0, &mut out).map_err(|e| e.name()),
            Err("unknown_type")
        );
    }

    #[test]
    fn requests() {
        let a = KrakenFutures::new(InstrumentRegistry::new());
        let m = a.subscribe_messages(&["PI_XBTUSD"]);
        assert_eq!(m[0], r#"{"event":"subscribe","feed":"book","product_ids":["PI_XBTUSD"]}"#);
        assert_eq!(m.len(), 3);
        assert_eq!(a.resubscribe_book_messages("PI_XBTUSD").unwrap()[1], m[0]);
    }
}

//! Deribit v2 (JSON-RPC over WebSocket, `/ws/api/v2`): order books
//! (`book.{instrument}.{interval}`: `100ms` public, `raw` where authorised), trades
//! (`trades.{instrument}.{interval}`) and tickers, for options, futures and perpetuals.
//!
//! Books: the first notification after a subscription is a `snapshot` (levels
//! `["new", price, amount]`), then `change` notifications whose levels are `new`, `change`
//! (absolute amounts) or `delete`; each change's `prev_change_id` must equal the previous
//! notification's `change_id`, otherwise it is a gap and the book resyncs (its channel is
//! unsubscribed and subscribed again on the open connection: Deribit answers with a snapshot).
//! Prices and amounts are JSON numbers: they are read as their exact wire text.
//!
//! Tickers (`ticker.{instrument}.{interval}`, subscribed with every book) give the venue's own
//! best bid and offer (a cross-check) and the derivatives data: mark and index prices, open
//! interest (USD on perpetuals and inverse futures, the base coin on options and linear
//! futures: the unit of the book's amounts) and, on perpetuals, `funding_8h`.
//!
//! Control: JSON-RPC answers (`result`: the subscription; `error`: the venue reporting one) and
//! `heartbeat` notifications. The client calls `public/set_heartbeat` when subscribing and
//! `public/test` on a timer, which also answers the venue's `test_request`.

use simd_json::tape::Value;

use super::json::{field_text, text, Scratch};
use super::protocol::{Keepalive, Protocol, BASE};
use super::time::ms_to_ns;
use super::{deriv_price, deriv_rate, deriv_size};
use super::{num, Adapter, BookAction, GapScope, Parsed, SymbolIdx, Symbols, TradeMsg, VenueError};
use crate::book::{Instrument, InstrumentRegistry, Side, Venue};
use crate::event::{self, Bbo, Derivative, Funding, MarkIndex, Trade};

/// Deribit's transport: JSON-RPC under `/ws/api/v2`; the client's `public/test` every 10 s
/// keeps the connection (and the heartbeat asked for at subscription) alive.
pub const PROTOCOL: Protocol = Protocol {
    endpoint: "wss://www.deribit.com",
    path: "/ws/api/v2",
    keepalive: Some(Keepalive {
        text: r#"{"jsonrpc":"2.0","id":9002,"method":"public/test","params":{}}"#,
        every: std::time::Duration::from_secs(10),
        // The answer is a JSON-RPC result: recognised by the adapter as control.
        reply: "",
    }),
    ..BASE
};

/// The book interval subscribed by default (`raw` needs an authorised connection).
pub const DEFAULT_INTERVAL: &str = "100ms";

#[derive(Debug, Default, Clone, Copy)]
struct SymState {
    synced: bool,
    /// The `change_id` of the last notification applied.
    change_id: u64,
}

/// The Deribit adapter. See the [module docs](self).
#[derive(Debug)]
pub struct Deribit {
    symbols: Symbols,
    states: Vec<SymState>,
    scratch: Option<Box<Scratch>>,
    /// The interval [`Adapter::subscribe_messages`] asks for (`100ms`, `raw`, `agg2`).
    pub interval: &'static str,
}

impl Deribit {
    /// An adapter subscribing at [`DEFAULT_INTERVAL`].
    pub fn new(registry: InstrumentRegistry) -> Self {
        Deribit {
            symbols: Symbols::new(Venue::Deribit, registry),
            states: Vec::new(),
            scratch: Some(Box::new(Scratch::new())),
            interval: DEFAULT_INTERVAL,
        }
    }

    fn state(&mut self, i: SymbolIdx) -> &mut SymState {
        super::state_slot(&mut self.states, i)
    }

    fn frame(&mut self, root: Value<'_, '_>, out: &mut Parsed) -> Result<(), VenueError> {
        match field_text(root, "method") {
            Some(b"subscription") => {}
            Some(b"heartbeat") => {
                out.control = true;
                return Ok(());
            }
            Some(_) => return Err(VenueError::UnknownType),
            None => {
                out.control = true;
                if root.get("error").is_some() {
                    return Err(VenueError::VenueReported);
                }
                return if root.get("result").is_some() {
                    Ok(())
                } else {
                    Err(VenueError::UnknownType)
                };
            }
        }
        let params = root.get("params").ok_or(VenueError::Shape("params"))?;
        let channel = field_text(params, "channel").ok_or(VenueError::Shape("params.channel"))?;
        let data = params.get("data").ok_or(VenueError::Shape("params.data"))?;
        if channel.starts_with(b"book.") {
            self.book(data, out)
        } else if channel.starts_with(b"trades.") {
            let list = params.get_array("data").ok_or(VenueError::Shape("trades data"))?;
            for t in list.iter() {
                self.trade(t, out)?;
            }
            Ok(())
        } else if channel.starts_with(b"ticker.") {
            out.control = true;
            self.ticker(data)?;
            self.derivatives(data, out)
        } else {
            Err(VenueError::UnknownType)
        }
    }

    fn book(&mut self, d: Value<'_, '_>, out: &mut Parsed) -> Result<(), VenueError> {
        let key = field_text(d, "instrument_name").ok_or(VenueError::Shape("instrument_name"))?;
        let change_id =
            super::json::field_uint(d, "change_id").ok_or(VenueError::Shape("change_id"))?;
        let snapshot = match field_text(d, "type") {
            Some(b"snapshot") => true,
            Some(b"change") => false,
            _ => return Err(VenueError::Shape("type")),
        };
        let sym = match self.symbols.resolve(key) {
            Some(s) => s,
            None if snapshot => {
                let px = super::json::level_texts(d, "asks", 1)
                    .chain(super::json::level_texts(d, "bids", 1));
                let qty = super::json::level_texts(d, "asks", 2)
                    .chain(super::json::level_texts(d, "bids", 2));
                self.symbols.learn(key, px, qty)?
            }
            None => return Err(VenueError::UnknownSymbol),
        };
        let st = self.state(sym);
        if snapshot {
            *st = SymState { synced: true, change_id };
        } else {
            if !st.synced {
                out.waiting += 1;
                return Ok(());
            }
            let prev = super::json::field_uint(d, "prev_change_id")
                .ok_or(VenueError::Shape("prev_change_id"))?;
            if change_id <= st.change_id {
                out.stale += 1;
                return Ok(());
            }
            if prev != st.change_id {
                *st = SymState::default();
                out.gaps.push(GapScope::Symbol(sym));
                return Ok(());
            }
            st.change_id = change_id;
        }
        let exch_ts = super::json::field_uint(d, "timestamp").map_or(0, ms_to_ns);
        let action = if snapshot { BookAction::Snapshot } else { BookAction::Update };
        out.begin_book(sym, action, exch_ts);
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

    fn trade(&mut self, t: Value<'_, '_>, out: &mut Parsed) -> Result<(), VenueError> {
        let key = field_text(t, "instrument_name").ok_or(VenueError::Shape("trade instrument"))?;
        let sym = self.symbols.resolve(key).ok_or(VenueError::UnknownSymbol)?;
        let inst = &self.symbols.list()[usize::from(sym)].instrument;
        let f = |k: &'static str| field_text(t, k).ok_or(VenueError::Shape("trade field"));
        // `direction`: the taker's side.
        let aggressor = match f("direction")? {
            b"buy" => event::Side::Buy,
            b"sell" => event::Side::Sell,
            _ => return Err(VenueError::Shape("trade direction")),
        };
        out.trades.push(TradeMsg {
            symbol: sym,
            trade: Trade {
                price_tick: inst.tick.units(f("price")?).map_err(num("price"))?,
                size_lots: inst.lot.units(f("amount")?).map_err(num("amount"))?,
                aggressor: Some(aggressor),
                trade_id: super::json::field_uint(t, "trade_seq").unwrap_or(0),
            },
            exch_ts: super::json::field_uint(t, "timestamp")
                .ok_or(VenueError::Shape("trade timestamp"))
                .map(ms_to_ns)?,
        });
        Ok(())
    }

    /// The venue's own best bid and offer (the summary compares it with the book).
    fn ticker(&mut self, d: Value<'_, '_>) -> Result<(), VenueError> {
        let key = field_text(d, "instrument_name").ok_or(VenueError::Shape("ticker instrument"))?;
        let Some(sym) = self.symbols.find(key) else { return Ok(()) };
        let info = self.symbols.get_mut(sym).ok_or(VenueError::UnknownSymbol)?;
        let inst = &info.instrument;
        let num_of = |k: &'static str, step: crate::book::Step| -> Result<i64, VenueError> {
            match field_text(d, k) {
                // No bid or no ask: `null` (or 0).
                None | Some(b"null") => Ok(0),
                Some(v) => step.units(v).map_err(num(k)),
            }
        };
        info.venue_bbo = Some(Bbo {
            bid_tick: num_of("best_bid_price", inst.tick)?,
            bid_lots: num_of("best_bid_amount", inst.lot)?,
            ask_tick: num_of("best_ask_price", inst.tick)?,
            ask_lots: num_of("best_ask_amount", inst.lot)?,
        });
        Ok(())
    }
}

impl Deribit {
    /// The ticker's derivatives data: mark and index prices, open interest and, on
    /// perpetuals, the funding rate. Deribit's funding is continuous (no next funding time);
    /// the rate carried is `funding_8h`, the funding over eight hours, comparable with the
    /// eight-hour rates of other venues (`current_funding` is not carried).
    fn derivatives(&mut self, d: Value<'_, '_>, out: &mut Parsed) -> Result<(), VenueError> {
        let key = field_text(d, "instrument_name").ok_or(VenueError::Shape("ticker instrument"))?;
        let exch_ts = super::json::field_uint(d, "timestamp").map_or(0, ms_to_ns);
        // `null` (or absent) is "no value".
        let value = |k: &str| field_text(d, k).filter(|v| *v != b"null");
        super::push_deriv(&self.symbols, key, exch_ts, out, |inst| {
            let mark =
                value("mark_price").map(|v| deriv_price(inst, v, "mark_price")).transpose()?;
            let index =
                value("index_price").map(|v| deriv_price(inst, v, "index_price")).transpose()?;
            Ok((mark.is_some() || index.is_some())
                .then_some(Derivative::MarkIndex(MarkIndex { mark, index })))
        })?;
        if let Some(oi) = value("open_interest") {
            super::push_deriv(&self.symbols, key, exch_ts, out, |inst| {
                deriv_size(inst, oi, "open_interest").map(|v| Some(Derivative::OpenInterest(v)))
            })?;
        }
        if let Some(rate) = value("funding_8h") {
            super::push_deriv(&self.symbols, key, exch_ts, out, |_| {
                let rate = deriv_rate(rate, "funding_8h")?;
                Ok(Some(Derivative::Funding(Funding { rate, next_funding_ts: 0 })))
            })?;
        }
        Ok(())
    }
}

/// Levels `[action, price, amount]` of `v[key]`: `new` and `change` set the amount, `delete`
/// removes the level.
fn levels(
    v: Value<'_, '_>,
    key: &str,
    side: Side,
    inst: &Instrument,
    out: &mut Parsed,
) -> Result<(), VenueError> {
    let Some(arr) = v.get_array(key) else { return Ok(()) };
    for l in arr.iter() {
        let action = l.get_idx(0).and_then(text).ok_or(VenueError::Shape("level action"))?;
        let px = l.get_idx(1).and_then(text).ok_or(VenueError::Shape("level price"))?;
        let px_tick = out.book_price_number(inst, px).map_err(num("price"))?;
        let qty_lots = match action {
            b"delete" => 0,
            b"new" | b"change" => {
                let sz = l.get_idx(2).and_then(text).ok_or(VenueError::Shape("level amount"))?;
                inst.lot.units(sz).map_err(num("amount"))?
            }
            _ => return Err(VenueError::Shape("level action")),
        };
        out.level(side, px_tick, qty_lots);
    }
    Ok(())
}

impl Adapter for Deribit {
    fn venue(&self) -> Venue {
        Venue::Deribit
    }

    fn handle_frame(&mut self, frame: &[u8], _: u64, out: &mut Parsed) -> Result<(), VenueError> {
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

    /// A heartbeat every 30 s, then the books, trades and tickers of `symbols`.
    fn subscribe_messages(&self, symbols: &[&str]) -> Vec<String> {
        vec![
            r#"{"jsonrpc":"2.0","id":9000,"method":"public/set_heartbeat","params":{"interval":30}}"#
                .to_owned(),
            request("subscribe", 9001, &channels(self.interval, symbols, true)),
        ]
    }

    fn unsubscribe_messages(&self, symbols: &[&str]) -> Vec<String> {
        vec![request("unsubscribe", 9001, &channels(self.interval, symbols, true))]
    }

    /// Deribit answers a subscription with a fresh `snapshot`: the book's channel is
    /// unsubscribed and subscribed again (its trades and ticker keep flowing).
    fn resubscribe_book_messages(&self, symbol: &str) -> Option<Vec<String>> {
        let book = channels(self.interval, &[symbol], false);
        super::resubscription(|op| request(op, 9003, &book))
    }
}

fn channels(interval: &str, symbols: &[&str], all: bool) -> Vec<String> {
    let mut out = Vec::new();
    for s in symbols {
        out.push(format!("book.{s}.{interval}"));
        if all {
            out.push(format!("trades.{s}.{interval}"));
            out.push(format!("ticker.{s}.{interval}"));
        }
    }
    out
}

fn request(op: &str, id: u32, channels: &[String]) -> String {
    let list: Vec<String> = channels.iter().map(|c| format!("\"{c}\"")).collect();
    format!(
        "{{\"jsonrpc\":\"2.0\",\"id\":{id},\"method\":\"public/{op}\",\"params\":{{\"channels\":[{}]}}}}",
        list.join(",")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deribit() -> Deribit {
        Deribit::new(InstrumentRegistry::with_builtins())
    }

    fn ok(a: &mut Deribit, frame: &[u8]) -> Parsed {
        let mut out = Parsed::default();
        let r = a.handle_frame(frame, 0, &mut out);
        assert_eq!(r, Ok(()), "{}", String::from_utf8_lossy(frame));
        out
    }

    fn book(kind: &str, prev: u64, id: u64, asks: &str) -> String {
        let prev =
            if kind == "change" { format!(",\"prev_change_id\":{prev}") } else { String::new() };
        format!(
            r#"{{"jsonrpc":"2.0","method":"subscription","params":{{"channel":"book.BTC-24SEP21-8000-P.raw","data":{{"type":"{kind}","timestamp":1626993724318{prev},"instrument_name":"BTC-24SEP21-8000-P","change_id":{id},"bids":[["new",0.0005,1.5]],"asks":[{asks}]}}}}}}"#
        )
    }

    #[test]
    fn snapshot_then_changes_chained_on_change_id() {
        let mut a = deribit();
        let out = ok(&mut a, book("snapshot", 0, 100, r#"["new",0.001,2.6]"#).as_bytes());
        let b = &out.books[0];
        assert_eq!(b.action, BookAction::Snapshot);
        assert_eq!(b.exch_ts, 1_626_993_724_318_000_000);
        assert_eq!(out.levels_of(b).len(), 2);
        let out = ok(&mut a, book("change", 100, 104, r#"["delete",0.001,0.0]"#).as_bytes());
        let b = &out.books[0];
        assert_eq!((b.action, out.levels_of(b)[1].qty_lots), (BookAction::Update, 0));
        let out = ok(&mut a, book("change", 104, 105, r#"["change",0.0015,3.0]"#).as_bytes());
        assert_eq!(out.levels_of(&out.books[0])[1].qty_lots, 30);
        // A price printed with an exponent is read exactly (5 ticks of the learned 0.0001).
        let out = ok(&mut a, book("change", 105, 106, r#"["new",5e-04,1.0]"#).as_bytes());
        assert_eq!(out.levels_of(&out.books[0])[1].px_tick, 5);
        // A repeat is stale; a broken chain is a gap and the book waits.
        assert_eq!(ok(&mut a, book("change", 104, 105, "").as_bytes()).stale, 1);
        let out = ok(&mut a, book("change", 107, 108, "").as_bytes());
        assert_eq!(out.gaps, vec![GapScope::Symbol(0)]);
        assert_eq!(ok(&mut a, book("change", 108, 109, "").as_bytes()).waiting, 1);
        let out = ok(&mut a, book("snapshot", 0, 200, "").as_bytes());
        assert_eq!(out.books[0].action, BookAction::Snapshot);
        assert_eq!(ok(&mut a, book("change", 200, 201, "").as_bytes()).books.len(), 1);
    }

    #[test]
    fn trades_tickers_and_control() {
        let mut a = deribit();
        ok(&mut a, book("snapshot", 0, 100, r#"["new",0.001,2.6]"#).as_bytes());
        let out = ok(
            &mut a,
            br#"{"jsonrpc":"2.0","method":"subscription","params":{"channel":"trades.BTC-24SEP21-8000-P.raw","data":[{"trade_seq":1966,"trade_id":"ETH-2696097","timestamp":1626993725001,"tick_direction":0,"price":0.001,"mark_price":0.0009,"iv":88.0,"instrument_name":"BTC-24SEP21-8000-P","index_price":32000.0,"direction":"sell","amount":0.5}]}}"#,
        );
        let t = out.trades[0];
        assert_eq!(
            (t.trade.aggressor, t.trade.trade_id, t.trade.size_lots),
            (Some(event::Side::Sell), 1966, 5)
        );
        let out = ok(
            &mut a,
            br#"{"jsonrpc":"2.0","method":"subscription","params":{"channel":"ticker.BTC-24SEP21-8000-P.raw","data":{"timestamp":1,"instrument_name":"BTC-24SEP21-8000-P","best_bid_price":0.0005,"best_bid_amount":1.5,"best_ask_price":0.001,"best_ask_amount":2.6}}}"#,
        );
        assert!(out.control);
        let info = a.symbols().get(0).unwrap();
        assert_eq!(info.venue_bbo.map(|b| (b.bid_tick, b.ask_tick)), Some((5, 10)));
        for frame in [
            &br#"{"jsonrpc":"2.0","id":0,"result":["book.BTC-24SEP21-8000-P.raw"],"usIn":1,"usOut":2,"usDiff":1,"testnet":false}"#[..],
            br#"{"jsonrpc":"2.0","method":"heartbeat","params":{"type":"test_request"}}"#,
            br#"{"jsonrpc":"2.0","id":9002,"result":{"version":"1.2.26"},"usIn":1,"usOut":2,"usDiff":1,"testnet":false}"#,
        ] {
            assert!(ok(&mut a, frame).control);
        }
        let mut out = Parsed::default();
        let r = a.handle_frame(
            br#"{"jsonrpc":"2.0","id":1,"error":{"message":"Invalid params","code":-32602}}"#,
            0,
            &mut out,
        );
        assert_eq!(r, Err(VenueError::VenueReported));
    }

    /// The documented `ticker` example (docs.deribit.com, `incremental_ticker` snapshot of
    /// BTC-PERPETUAL, the same fields as `ticker.{instrument}.{interval}`), behind a snapshot
    /// that makes the instrument known with the venue's 0.5 tick and 10 USD lot.
    #[test]
    fn ticker_derivatives_of_a_perpetual() {
        let mut registry = InstrumentRegistry::with_builtins();
        let step = |t: &str| crate::book::Step::parse(t).unwrap();
        registry.configure(Venue::Deribit, "BTC-PERPETUAL", step("0.5"), step("10"));
        let mut a = Deribit::new(registry);
        ok(&mut a, br#"{"jsonrpc":"2.0","method":"subscription","params":{"channel":"book.BTC-PERPETUAL.100ms","data":{"type":"snapshot","timestamp":1623060194300,"instrument_name":"BTC-PERPETUAL","change_id":1,"bids":[["new",36442.5,5000.0]],"asks":[["new",36443.0,100.0]]}}}"#);
        let out = ok(&mut a, br#"{"jsonrpc":"2.0","method":"subscription","params":{"channel":"ticker.BTC-PERPETUAL.100ms","data":{"best_ask_amount":100,"best_ask_price":36443,"best_bid_amount":5000,"best_bid_price":36442.5,"current_funding":0,"estimated_delivery_price":36441.64,"funding_8h":0.0000211,"index_price":36441.64,"instrument_name":"BTC-PERPETUAL","last_price":36457.5,"mark_price":36446.51,"max_price":36991.72,"min_price":35898.37,"open_interest":502097590,"settlement_price":36169.49,"state":"open","stats":{"high":36824.5,"low":35213.5,"price_change":0.7229,"volume":7871.02139035,"volume_usd":284061480},"timestamp":1623060194301}}}"#);
        let tick = step("0.5");
        let ts = 1_623_060_194_301_000_000;
        assert!(out.derivs.iter().all(|d| d.symbol == 0 && d.exch_ts == ts));
        let [mi, oi, f] = [0, 1, 2].map(|i| out.derivs[i].data);
        let Derivative::MarkIndex(MarkIndex { mark: Some(mark), index: Some(index) }) = mi else {
            panic!("{mi:?}")
        };
        assert_eq!(mark.format(tick).as_deref(), Some("36446.51"));
        assert_eq!(index.format(tick).as_deref(), Some("36441.64"));
        // 36446.51 is between ticks of 0.5: kept exactly, two places below the tick.
        assert_eq!(mark.scale, 2);
        // Open interest in USD, in lots of 10 USD.
        assert_eq!(oi, Derivative::OpenInterest(event::Scaled { units: 50_209_759, scale: 0 }));
        let Derivative::Funding(f) = f else { panic!("{f:?}") };
        assert_eq!(
            (f.rate.format(crate::book::Step::ONE).as_deref(), f.next_funding_ts),
            (Some("0.0000211"), 0)
        );
        // A ticker of an instrument this connection does not have is skipped and counted.
        let out = ok(&mut a, br#"{"jsonrpc":"2.0","method":"subscription","params":{"channel":"ticker.ETH-PERPETUAL.100ms","data":{"instrument_name":"ETH-PERPETUAL","mark_price":2000.1,"index_price":2000,"open_interest":1,"funding_8h":0.0001,"timestamp":1}}}"#);
        assert_eq!((out.derivs.len(), out.derivs_unknown), (0, 3));
        // A malformed number is an error, not a panic.
        let mut out = Parsed::default();
        let r = a.handle_frame(br#"{"jsonrpc":"2.0","method":"subscription","params":{"channel":"ticker.BTC-PERPETUAL.100ms","data":{"instrument_name":"BTC-PERPETUAL","mark_price":"x1","timestamp":1}}}"#, 0, &mut out);
        assert_eq!(r.map_err(|e| e.name()), Err("number"));
    }

    #[test]
    fn bad_input_is_an_error() {
        let cases: &[(&[u8], &str)] = &[
            (b"{\"jsonrpc\":", "json"),
            (b"{\"jsonrpc\":\"2.0\",\"method\":\"mystery\"}", "unknown_type"),
            (b"{\"jsonrpc\":\"2.0\",\"method\":\"subscription\",\"params\":{\"channel\":\"book.X.raw\"}}", "shape"),
            (b"{\"jsonrpc\":\"2.0\",\"method\":\"subscription\",\"params\":{\"channel\":\"chart.X\",\"data\":{}}}", "unknown_type"),
            (br#"{"jsonrpc":"2.0","method":"subscription","params":{"channel":"book.X.raw","data":{"type":"snapshot","instrument_name":"X","change_id":1,"bids":[["move",1.0,1.0]],"asks":[]}}}"#, "shape"),
            (br#"{"jsonrpc":"2.0","method":"subscription","params":{"channel":"book.X.raw","data":{"type":"snapshot","instrument_name":"X","change_id":1,"bids":[["new","abc",1.0]],"asks":[]}}}"#, "number"),
            (br#"{"jsonrpc":"2.0","method":"subscription","params":{"channel":"book.X.raw","data":{"type":"change","instrument_name":"NOPE","change_id":2,"prev_change_id":1,"bids":[],"asks":[]}}}"#, "unknown_symbol"),
        ];
        for (frame, kind) in cases {
            let mut a = deribit();
            let mut out = Parsed::default();
            let r = a.handle_frame(frame, 0, &mut out);
            assert_eq!(r.map_err(|e| e.name()), Err(*kind), "{}", String::from_utf8_lossy(frame));
        }
    }

    #[test]
    fn requests() {
        let a = deribit();
        let m = a.subscribe_messages(&["BTC-PERPETUAL"]);
        assert_eq!(m.len(), 2);
        assert!(m[0].contains("public/set_heartbeat"));
        assert_eq!(
            m[1],
            r#"{"jsonrpc":"2.0","id":9001,"method":"public/subscribe","params":{"channels":["book.BTC-PERPETUAL.100ms","trades.BTC-PERPETUAL.100ms","ticker.BTC-PERPETUAL.100ms"]}}"#
        );
        assert_eq!(
            a.resubscribe_book_messages("BTC-PERPETUAL").unwrap()[0],
            r#"{"jsonrpc":"2.0","id":9003,"method":"public/unsubscribe","params":{"channels":["book.BTC-PERPETUAL.100ms"]}}"#
        );
    }
}

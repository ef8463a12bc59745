//! Kraken WebSocket v2 (`book`, `trade`) and v1 (`book-N`, `trade`) as the captures have it.
//!
//! Neither version numbers its book messages: the CRC32 checksum of the top 10 levels is the
//! integrity check (v2 sends it on snapshots and updates, v1 on updates). Every message's
//! levels are applied in array order, each side is then truncated to the subscribed depth
//! (Kraken never deletes levels that fall out of scope), and the engine verifies the checksum.
//! A mismatch marks the book `Resyncing`; the live path resubscribes.
//!
//! Kraken prints every price and size with the pair's full precision (`0.00100000`): the
//! decimals printed in the snapshot are kept per symbol and the checksum text is rendered with
//! them. v2 prices are JSON numbers, read as their exact text (no `f64`).

use simd_json::prelude::ValueAsScalar;
use simd_json::tape::Value;

use super::json::{field_text, parse_u64, text, Scratch};
use super::time::{decimal_seconds_ns, rfc3339_ns};
use super::{num, Adapter, BookAction, Checksum, Parsed, SymbolIdx, Symbols, TradeMsg, VenueError};
use crate::book::{Instrument, InstrumentRegistry, Side, Venue};
use crate::event::{self, Trade};

/// The default v2 book depth (when no subscribe acknowledgement was seen).
pub const V2_DEFAULT_DEPTH: u32 = 10;

/// Per-symbol state shared by both versions.
#[derive(Debug, Default, Clone, Copy)]
struct SymState {
    /// A snapshot has been applied since the last resync.
    synced: bool,
    /// Subscribed depth (v2: from the acknowledgement).
    depth: Option<u32>,
}

fn state(states: &mut Vec<SymState>, i: SymbolIdx) -> &mut SymState {
    let i = usize::from(i);
    if states.len() <= i {
        states.resize_with(i + 1, SymState::default);
    }
    &mut states[i]
}

/// Kraken WebSocket v1 (`wss://ws.kraken.com`), as in the captures.
#[derive(Debug)]
pub struct KrakenV1 {
    symbols: Symbols,
    states: Vec<SymState>,
    scratch: Option<Scratch>,
}

impl KrakenV1 {
    /// A v1 adapter resolving instruments through `registry` (or learning them).
    pub fn new(registry: InstrumentRegistry) -> Self {
        KrakenV1 {
            symbols: Symbols::new(Venue::KrakenV1, registry),
            states: Vec::new(),
            scratch: Some(Scratch::new()),
        }
    }

    fn frame(&mut self, root: Value<'_, '_>, out: &mut Parsed) -> Result<(), VenueError> {
        if let Some(ev) = field_text(root, "event") {
            out.control = true;
            return match ev {
                b"heartbeat" | b"systemStatus" | b"pong" => Ok(()),
                b"subscriptionStatus" => match field_text(root, "status") {
                    Some(b"error") => Err(VenueError::VenueReported),
                    _ => Ok(()),
                },
                b"error" => Err(VenueError::VenueReported),
                _ => Err(VenueError::UnknownType),
            };
        }
        let arr = root.as_array().ok_or(VenueError::UnknownType)?;
        let n = arr.len();
        if n < 4 {
            return Err(VenueError::Shape("channel message shorter than 4 elements"));
        }
        let channel = arr.get(n - 2).and_then(text).ok_or(VenueError::Shape("channel name"))?;
        let pair = arr.get(n - 1).and_then(text).ok_or(VenueError::Shape("pair"))?;
        if let Some(depth) = channel.strip_prefix(b"book-") {
            let depth = parse_u64(depth)
                .and_then(|d| u32::try_from(d).ok())
                .ok_or(VenueError::Shape("book depth"))?;
            self.book(&arr, n, pair, depth, out)
        } else if channel == b"trade" {
            self.trades(arr.get(1).ok_or(VenueError::Shape("trade payload"))?, pair, out)
        } else {
            // ticker, spread, ohlc-N: not book data.
            out.control = true;
            Ok(())
        }
    }

    fn book(
        &mut self,
        arr: &simd_json::tape::Array<'_, '_>,
        n: usize,
        pair: &[u8],
        depth: u32,
        out: &mut Parsed,
    ) -> Result<(), VenueError> {
        let first = arr.get(1).ok_or(VenueError::Shape("book payload"))?;
        if first.get("as").is_some() || first.get("bs").is_some() {
            let px = levels_text(first, "as", 0).chain(levels_text(first, "bs", 0));
            let qty = levels_text(first, "as", 1).chain(levels_text(first, "bs", 1));
            let sym = self.symbols.learn_printed(pair, px, qty)?;
            state(&mut self.states, sym).synced = true;
            out.begin_book(sym, BookAction::Snapshot, 0);
            let inst = &self.symbols.list()[usize::from(sym)].instrument;
            let mut ts = 0;
            let r = v1_levels(first, "as", Side::Ask, inst, out, &mut ts)
                .and_then(|()| v1_levels(first, "bs", Side::Bid, inst, out, &mut ts));
            if let Err(e) = r {
                out.broken = Some(sym);
                return Err(e);
            }
            if let Some(b) = out.books.last_mut() {
                b.exch_ts = ts;
            }
            out.finish_book(None, Some(depth));
            return Ok(());
        }
        let sym = self
            .symbols
            .find(pair)
            .or_else(|| self.symbols.resolve(pair))
            .ok_or(VenueError::UnknownSymbol)?;
        if !state(&mut self.states, sym).synced {
            out.waiting += 1;
            return Ok(());
        }
        out.begin_book(sym, BookAction::Update, 0);
        let inst = &self.symbols.list()[usize::from(sym)].instrument;
        let mut checksum = None;
        let mut ts = 0;
        for i in 1..n - 2 {
            let Some(part) = arr.get(i) else { break };
            let r = v1_levels(part, "a", Side::Ask, inst, out, &mut ts)
                .and_then(|()| v1_levels(part, "b", Side::Bid, inst, out, &mut ts));
            if let Err(e) = r {
                out.broken = Some(sym);
                return Err(e);
            }
            if let Some(c) = field_text(part, "c") {
                let c = parse_u64(c).and_then(|c| u32::try_from(c).ok());
                let Some(c) = c else {
                    out.broken = Some(sym);
                    return Err(VenueError::Shape("checksum is not a u32"));
                };
                checksum = Some(Checksum::Kraken(c));
            }
        }
        if let Some(b) = out.books.last_mut() {
            b.exch_ts = ts;
        }
        out.finish_book(checksum, Some(depth));
        Ok(())
    }

    fn trades(
        &mut self,
        list: Value<'_, '_>,
        pair: &[u8],
        out: &mut Parsed,
    ) -> Result<(), VenueError> {
        let sym = match self.symbols.find(pair).or_else(|| self.symbols.resolve(pair)) {
            Some(s) => s,
            None => {
                // A trade-only subscription: learn the pair from the printed precision.
                let arr = list.as_array().ok_or(VenueError::Shape("trades"))?;
                let px = arr.iter().filter_map(|t| text(t.get_idx(0)?));
                let qty = arr.iter().filter_map(|t| text(t.get_idx(1)?));
                self.symbols.learn_printed(pair, px, qty)?
            }
        };
        let inst = &self.symbols.list()[usize::from(sym)].instrument;
        let arr = list.as_array().ok_or(VenueError::Shape("trades"))?;
        for t in arr.iter() {
            let f = |i: usize| t.get_idx(i).and_then(text).ok_or(VenueError::Shape("trade field"));
            let aggressor = match f(3)? {
                b"b" => event::Side::Buy,
                b"s" => event::Side::Sell,
                _ => return Err(VenueError::Shape("trade side")),
            };
            out.trades.push(TradeMsg {
                symbol: sym,
                trade: Trade {
                    price_tick: inst.price_ticks(f(0)?).map_err(num("price"))?,
                    size_lots: inst.qty_lots(f(1)?).map_err(num("size"))?,
                    aggressor: Some(aggressor),
                    trade_id: 0,
                },
                exch_ts: decimal_seconds_ns(f(2)?).unwrap_or(0),
            });
        }
        Ok(())
    }
}

/// The text of element `idx` of every level of `v[key]`.
fn levels_text<'t, 'i: 't>(
    v: Value<'t, 'i>,
    key: &str,
    idx: usize,
) -> impl Iterator<Item = &'i [u8]> + use<'t, 'i> {
    v.get_array(key)
        .into_iter()
        .flat_map(move |a| a.iter().filter_map(move |l| text(l.get_idx(idx)?)))
}

/// v1 levels `[price, volume, timestamp(, "r")]` of `v[key]`, if present.
fn v1_levels(
    v: Value<'_, '_>,
    key: &str,
    side: Side,
    inst: &Instrument,
    out: &mut Parsed,
    ts: &mut u64,
) -> Result<(), VenueError> {
    let Some(arr) = v.get_array(key) else { return Ok(()) };
    for l in arr.iter() {
        let px = l.get_idx(0).and_then(text).ok_or(VenueError::Shape("level price"))?;
        let qty = l.get_idx(1).and_then(text).ok_or(VenueError::Shape("level volume"))?;
        if let Some(t) = l.get_idx(2).and_then(text).and_then(decimal_seconds_ns) {
            *ts = (*ts).max(t);
        }
        out.level(
            side,
            inst.price_ticks(px).map_err(num("price"))?,
            inst.qty_lots(qty).map_err(num("volume"))?,
        );
    }
    Ok(())
}

impl Adapter for KrakenV1 {
    fn venue(&self) -> Venue {
        Venue::KrakenV1
    }

    fn handle_frame(&mut self, frame: &[u8], _: u64, out: &mut Parsed) -> Result<(), VenueError> {
        let mut scratch = self.scratch.take().unwrap_or_default();
        let r = scratch.parse(frame, false, |root| self.frame(root, out));
        self.scratch = Some(scratch);
        r
    }

    fn resync(&mut self, symbol: SymbolIdx) {
        state(&mut self.states, symbol).synced = false;
    }

    fn reset_connection(&mut self) {
        self.states.iter_mut().for_each(|s| s.synced = false);
    }

    fn symbols(&self) -> &Symbols {
        &self.symbols
    }

    fn subscribe_messages(&self, symbols: &[&str]) -> Vec<String> {
        v1_request("subscribe", symbols)
    }

    fn unsubscribe_messages(&self, symbols: &[&str]) -> Vec<String> {
        v1_request("unsubscribe", symbols)
    }
}

fn quoted_list(symbols: &[&str]) -> String {
    symbols.iter().map(|s| format!("\"{s}\"")).collect::<Vec<_>>().join(",")
}

fn v1_request(event: &str, symbols: &[&str]) -> Vec<String> {
    let pairs = quoted_list(symbols);
    vec![
        format!(
            "{{\"event\":\"{event}\",\"pair\":[{pairs}],\"subscription\":{{\"name\":\"book\",\"depth\":1000}}}}"
        ),
        format!("{{\"event\":\"{event}\",\"pair\":[{pairs}],\"subscription\":{{\"name\":\"trade\"}}}}"),
    ]
}

/// Kraken WebSocket v2 (`wss://ws.kraken.com/v2`).
#[derive(Debug)]
pub struct KrakenV2 {
    symbols: Symbols,
    states: Vec<SymState>,
    scratch: Option<Scratch>,
    /// Depth asked for in [`Adapter::subscribe_messages`].
    pub depth: u32,
    /// Depths acknowledged before the symbol's first snapshot, by symbol text.
    acked: Vec<(Vec<u8>, u32)>,
}

impl KrakenV2 {
    /// A v2 adapter subscribing books at `depth` (10, 25, 100, 500 or 1000).
    pub fn new(registry: InstrumentRegistry, depth: u32) -> Self {
        KrakenV2 {
            symbols: Symbols::new(Venue::Kraken, registry),
            states: Vec::new(),
            scratch: Some(Scratch::new()),
            depth,
            acked: Vec::new(),
        }
    }

    fn frame(&mut self, root: Value<'_, '_>, out: &mut Parsed) -> Result<(), VenueError> {
        if let Some(method) = field_text(root, "method") {
            out.control = true;
            if root.get("success").and_then(|s| s.as_bool()) == Some(false) {
                return Err(VenueError::VenueReported);
            }
            if method == b"subscribe" {
                if let Some(res) = root.get("result") {
                    let is_book = field_text(res, "channel") == Some(b"book");
                    if let (true, Some(sym), Some(d)) = (
                        is_book,
                        field_text(res, "symbol"),
                        res.get("depth").and_then(super::json::uint),
                    ) {
                        let d = u32::try_from(d).map_err(|_| VenueError::Shape("depth"))?;
                        match self.symbols.find(sym) {
                            Some(i) => state(&mut self.states, i).depth = Some(d),
                            None => self.acked.push((sym.to_vec(), d)),
                        }
                    }
                }
            }
            return Ok(());
        }
        let channel = field_text(root, "channel").ok_or(VenueError::UnknownType)?;
        match channel {
            b"book" => {
                let snapshot = match field_text(root, "type") {
                    Some(b"snapshot") => true,
                    Some(b"update") => false,
                    _ => return Err(VenueError::Shape("book type")),
                };
                let data = root.get_array("data").ok_or(VenueError::Shape("book data"))?;
                for d in data.iter() {
                    self.book(d, snapshot, out)?;
                }
                Ok(())
            }
            b"trade" => {
                if field_text(root, "type") == Some(b"snapshot") {
                    // Recent history from before the subscription: not re-published.
                    out.control = true;
                    return Ok(());
                }
                let data = root.get_array("data").ok_or(VenueError::Shape("trade data"))?;
                for t in data.iter() {
                    self.trade(t, out)?;
                }
                Ok(())
            }
            b"heartbeat" | b"status" | b"instrument" | b"ticker" | b"ohlc" | b"pong" => {
                out.control = true;
                Ok(())
            }
            _ => Err(VenueError::UnknownType),
        }
    }

    fn book(
        &mut self,
        d: Value<'_, '_>,
        snapshot: bool,
        out: &mut Parsed,
    ) -> Result<(), VenueError> {
        let key = field_text(d, "symbol").ok_or(VenueError::Shape("book symbol"))?;
        let sym = if snapshot {
            let px = v2_text(d, "asks", "price").chain(v2_text(d, "bids", "price"));
            let qty = v2_text(d, "asks", "qty").chain(v2_text(d, "bids", "qty"));
            let sym = self.symbols.learn_printed(key, px, qty)?;
            let acked = self.acked.iter().position(|(k, _)| k == key);
            let st = state(&mut self.states, sym);
            if let Some(a) = acked {
                st.depth = Some(self.acked.swap_remove(a).1);
            }
            st.synced = true;
            sym
        } else {
            let sym = self
                .symbols
                .find(key)
                .or_else(|| self.symbols.resolve(key))
                .ok_or(VenueError::UnknownSymbol)?;
            if !state(&mut self.states, sym).synced {
                out.waiting += 1;
                return Ok(());
            }
            sym
        };
        let depth = state(&mut self.states, sym).depth.unwrap_or(V2_DEFAULT_DEPTH);
        let exch_ts = field_text(d, "timestamp").and_then(rfc3339_ns).unwrap_or(0);
        let action = if snapshot { BookAction::Snapshot } else { BookAction::Update };
        out.begin_book(sym, action, exch_ts);
        let inst = &self.symbols.list()[usize::from(sym)].instrument;
        let r = v2_levels(d, "asks", Side::Ask, inst, out)
            .and_then(|()| v2_levels(d, "bids", Side::Bid, inst, out));
        if let Err(e) = r {
            out.broken = Some(sym);
            return Err(e);
        }
        let checksum = match d.get("checksum") {
            None => None,
            Some(c) => match super::json::uint(c).and_then(|c| u32::try_from(c).ok()) {
                Some(c) => Some(Checksum::Kraken(c)),
                None => {
                    out.broken = Some(sym);
                    return Err(VenueError::Shape("checksum is not a u32"));
                }
            },
        };
        out.finish_book(checksum, Some(depth));
        Ok(())
    }

    fn trade(&mut self, t: Value<'_, '_>, out: &mut Parsed) -> Result<(), VenueError> {
        let key = field_text(t, "symbol").ok_or(VenueError::Shape("trade symbol"))?;
        let px = field_text(t, "price").ok_or(VenueError::Shape("trade price"))?;
        let qty = field_text(t, "qty").ok_or(VenueError::Shape("trade qty"))?;
        let sym = match self.symbols.find(key).or_else(|| self.symbols.resolve(key)) {
            Some(s) => s,
            None => self.symbols.learn_printed(key, std::iter::once(px), std::iter::once(qty))?,
        };
        let inst = &self.symbols.list()[usize::from(sym)].instrument;
        let aggressor = match field_text(t, "side") {
            Some(b"buy") => event::Side::Buy,
            Some(b"sell") => event::Side::Sell,
            _ => return Err(VenueError::Shape("trade side")),
        };
        out.trades.push(TradeMsg {
            symbol: sym,
            trade: Trade {
                price_tick: inst.price_ticks(px).map_err(num("price"))?,
                size_lots: inst.qty_lots(qty).map_err(num("qty"))?,
                aggressor: Some(aggressor),
                trade_id: t.get("trade_id").and_then(super::json::uint).unwrap_or(0),
            },
            exch_ts: field_text(t, "timestamp").and_then(rfc3339_ns).unwrap_or(0),
        });
        Ok(())
    }
}

fn v2_text<'t, 'i: 't>(
    v: Value<'t, 'i>,
    key: &str,
    field: &'static str,
) -> impl Iterator<Item = &'i [u8]> + use<'t, 'i> {
    v.get_array(key)
        .into_iter()
        .flat_map(move |a| a.iter().filter_map(move |l| field_text(l, field)))
}

fn v2_levels(
    v: Value<'_, '_>,
    key: &str,
    side: Side,
    inst: &Instrument,
    out: &mut Parsed,
) -> Result<(), VenueError> {
    let Some(arr) = v.get_array(key) else { return Ok(()) };
    for l in arr.iter() {
        let px = field_text(l, "price").ok_or(VenueError::Shape("level price"))?;
        let qty = field_text(l, "qty").ok_or(VenueError::Shape("level qty"))?;
        out.level(
            side,
            inst.price_ticks(px).map_err(num("price"))?,
            inst.qty_lots(qty).map_err(num("qty"))?,
        );
    }
    Ok(())
}

impl Adapter for KrakenV2 {
    fn venue(&self) -> Venue {
        Venue::Kraken
    }

    fn handle_frame(&mut self, frame: &[u8], _: u64, out: &mut Parsed) -> Result<(), VenueError> {
        let mut scratch = self.scratch.take().unwrap_or_default();
        // Prices and sizes are JSON numbers: read them as their exact text.
        let r = scratch.parse(frame, true, |root| self.frame(root, out));
        self.scratch = Some(scratch);
        r
    }

    fn resync(&mut self, symbol: SymbolIdx) {
        state(&mut self.states, symbol).synced = false;
    }

    fn reset_connection(&mut self) {
        self.states.iter_mut().for_each(|s| *s = SymState::default());
        self.acked.clear();
    }

    fn symbols(&self) -> &Symbols {
        &self.symbols
    }

    fn subscribe_messages(&self, symbols: &[&str]) -> Vec<String> {
        let list = quoted_list(symbols);
        vec![
            format!(
                "{{\"method\":\"subscribe\",\"params\":{{\"channel\":\"book\",\"symbol\":[{list}],\"depth\":{},\"snapshot\":true}},\"req_id\":1}}",
                self.depth
            ),
            format!("{{\"method\":\"subscribe\",\"params\":{{\"channel\":\"trade\",\"symbol\":[{list}]}},\"req_id\":2}}"),
        ]
    }

    fn unsubscribe_messages(&self, symbols: &[&str]) -> Vec<String> {
        let list = quoted_list(symbols);
        vec![
            format!(
                "{{\"method\":\"unsubscribe\",\"params\":{{\"channel\":\"book\",\"symbol\":[{list}],\"depth\":{}}},\"req_id\":3}}",
                self.depth
            ),
            format!("{{\"method\":\"unsubscribe\",\"params\":{{\"channel\":\"trade\",\"symbol\":[{list}]}},\"req_id\":4}}"),
        ]
    }
}

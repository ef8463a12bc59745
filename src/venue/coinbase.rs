//! Coinbase Advanced Trade (`wss://advanced-trade-ws.coinbase.com`) and Coinbase Exchange
//! (`wss://ws-feed.exchange.coinbase.com`).
//!
//! **Advanced Trade.** Every message carries a connection-wide `sequence_num`, shared by all
//! channels; it must rise by exactly 1. A gap means a message was lost on the connection, so
//! every book on it resyncs (`GapScope::Connection`): live, each product's `level2` is
//! subscribed again for a fresh snapshot, on the same connection. A number at or below the
//! last one is a replayed message and is skipped as stale. Books arrive as `l2_data` events of type `snapshot` then `update`, sides `bid`/`offer`,
//! `new_quantity` absolute (`"0"` deletes).
//!
//! **Exchange.** `level2`/`level2_batch` give a `snapshot` then `l2update`s with no sequence
//! number: a lost update cannot be detected on this channel, only a crossed book is caught.
//! A book that lost sync is resubscribed alone on the open connection
//! ([`Adapter::resubscribe_book_messages`]: the venue answers with a fresh `snapshot`); a new
//! connection starts every book from its snapshot again.
//!
//! **Trades.** On both, a trade's `side` is the *maker's* side: a trade printed `SELL` at the
//! best ask was a taker buying. (Checked on the Advanced Trade capture: trades at the ask say
//! `SELL`.) The aggressor is therefore the opposite side.
//!
//! **Parsing (Exchange).** `l2update`, `snapshot`, `match` and `last_match` messages (nearly
//! all of the traffic) are read by the Coinbase Exchange scanner ([`super::scan::coinbase`], with
//! [`Parser::Scan`], the default) through the same handlers as the simd-json path (the fields
//! they read in one table, `ExFields`); every other frame, and any of those the scanner does
//! not read exactly, goes to simd-json (counted in [`Parsed::scan_fallback`]). Advanced Trade
//! has no scanner: simd-json reads every frame.
//!
//! [`Parser::Scan`]: super::scan::Parser::Scan

use simd_json::tape::Value;

use super::json::{field_text, field_uint, fields, parse_u64, text, Scratch};
use super::protocol::{Protocol, BASE};
use super::scan::advanced::{AdvancedFound, AdvancedFrames};
use super::scan::coinbase::{ExValue, ExchangeFrames, ScanValue};
use super::scan::{scan_frame, ScanPath};
use super::time::rfc3339_ns;
use super::{num, Adapter, BookAction, GapScope, Parsed, SymbolIdx, Symbols, TradeMsg, VenueError};
use crate::book::{Instrument, InstrumentRegistry, Side, Venue};
use crate::event::{self, Bbo, Trade};

/// Coinbase Advanced Trade's transport: full-depth snapshots (BTC-USD is 45k levels in one
/// multi-megabyte frame).
pub const ADVANCED_PROTOCOL: Protocol =
    Protocol { endpoint: "wss://advanced-trade-ws.coinbase.com", max_message: 64 << 20, ..BASE };

/// Coinbase Exchange's transport.
pub const EXCHANGE_PROTOCOL: Protocol =
    Protocol { endpoint: "wss://ws-feed.exchange.coinbase.com", max_message: 16 << 20, ..BASE };

/// The aggressor from a maker side (`buy`/`sell`, any case).
fn taker_from_maker(side: &[u8]) -> Result<event::Side, VenueError> {
    if side.eq_ignore_ascii_case(b"sell") {
        Ok(event::Side::Buy)
    } else if side.eq_ignore_ascii_case(b"buy") {
        Ok(event::Side::Sell)
    } else {
        Err(VenueError::Shape("trade side"))
    }
}

fn mark(synced: &mut Vec<bool>, i: SymbolIdx, v: bool) {
    let i = usize::from(i);
    if synced.len() <= i {
        synced.resize(i + 1, false);
    }
    synced[i] = v;
}

fn is_synced(synced: &[bool], i: SymbolIdx) -> bool {
    synced.get(usize::from(i)).copied().unwrap_or(false)
}

/// Resolves a product, learning it from a snapshot's prices and sizes if it is not configured
/// (`texts` gives them, and is called only then).
fn product<'i, P, Q>(
    symbols: &mut Symbols,
    key: &[u8],
    texts: impl FnOnce() -> Result<(P, Q), VenueError>,
) -> Result<SymbolIdx, VenueError>
where
    P: Iterator<Item = &'i [u8]>,
    Q: Iterator<Item = &'i [u8]>,
{
    match symbols.find(key).or_else(|| symbols.resolve(key)) {
        Some(s) => Ok(s),
        None => {
            let (prices, sizes) = texts()?;
            symbols.learn(key, prices, sizes)
        }
    }
}

fn trade_msg(
    inst: &Instrument,
    sym: SymbolIdx,
    px: &[u8],
    size: &[u8],
    maker_side: &[u8],
    id: u64,
    time: Option<&[u8]>,
) -> Result<TradeMsg, VenueError> {
    Ok(TradeMsg {
        symbol: sym,
        trade: Trade {
            price_tick: inst.price_ticks(px).map_err(num("price"))?,
            size_lots: inst.qty_lots(size).map_err(num("size"))?,
            aggressor: Some(taker_from_maker(maker_side)?),
            trade_id: id,
        },
        exch_ts: time.and_then(rfc3339_ns).unwrap_or(0),
    })
}

/// Coinbase Advanced Trade. See the [module docs](self).
#[derive(Debug)]
pub struct CoinbaseAdvanced {
    symbols: Symbols,
    synced: Vec<bool>,
    last_seq: Option<u64>,
    /// Frames of several connections arrive merged (redundant lines): each connection's
    /// `sequence_num` is checked by the session's arbiter, not here.
    pub(crate) merged: bool,
    scratch: Option<Box<Scratch>>,
    /// The parser choice and the scanner (`l2_data` messages).
    scan: ScanPath<AdvancedFrames>,
}

/// One `l2_data` event's updates, from either parser: simd-json's tape (the `updates` array)
/// or the scanner's offsets (`scan::advanced`). One handler, two parsers, one behaviour.
pub(crate) trait UpdateSource<'i>: Copy {
    /// Calls `f` with each update's `side`, `price_level` and `new_quantity` text, in order
    /// (`None` where absent or not a string).
    fn each(
        self,
        f: impl FnMut([Option<&'i [u8]>; 3]) -> Result<(), VenueError>,
    ) -> Result<(), VenueError>;
    /// The text of element `i` (1: `price_level`, 2: `new_quantity`) of every update that has
    /// it as a string: what a new product's tick and lot are learned from.
    fn texts(self, i: usize) -> impl Iterator<Item = &'i [u8]>;
}

/// The keys of an update's [`UpdateSource::each`] texts, in order.
const UPDATE_KEYS: [&str; 3] = ["side", "price_level", "new_quantity"];

impl<'i> UpdateSource<'i> for Value<'_, 'i> {
    #[inline]
    fn each(
        self,
        mut f: impl FnMut([Option<&'i [u8]>; 3]) -> Result<(), VenueError>,
    ) -> Result<(), VenueError> {
        let Some(arr) = self.as_array() else { return Ok(()) };
        arr.iter().try_for_each(|u| f(fields(u, UPDATE_KEYS).map(|v| v.and_then(text))))
    }

    fn texts(self, i: usize) -> impl Iterator<Item = &'i [u8]> {
        let key = UPDATE_KEYS[i];
        self.as_array()
            .into_iter()
            .flat_map(move |a| a.iter().filter_map(move |u| field_text(u, key)))
    }
}

impl<'i> UpdateSource<'i> for super::scan::advanced::Updates<'i> {
    #[inline]
    fn each(
        self,
        f: impl FnMut([Option<&'i [u8]>; 3]) -> Result<(), VenueError>,
    ) -> Result<(), VenueError> {
        self.iter().try_for_each(f)
    }

    fn texts(self, i: usize) -> impl Iterator<Item = &'i [u8]> {
        self.iter().filter_map(move |u| u[i])
    }
}

/// One `l2_data` event as its handler reads it, from either parser.
#[derive(Debug, Clone, Copy)]
struct AdvEvent<'i, U> {
    /// `type`: `snapshot` or `update`.
    kind: Option<&'i [u8]>,
    /// `product_id`.
    product: Option<&'i [u8]>,
    /// `updates` (if an array).
    updates: Option<U>,
}

impl<'t, 'i> AdvEvent<'i, Value<'t, 'i>> {
    /// The event object `e` on simd-json's tape (one pass over its members).
    fn of(e: Value<'t, 'i>) -> Self {
        let [kind, product, updates] = fields(e, ["type", "product_id", "updates"]);
        AdvEvent {
            kind: kind.and_then(text),
            product: product.and_then(text),
            updates: updates.filter(|u| u.as_array().is_some()),
        }
    }
}

impl CoinbaseAdvanced {
    /// An adapter resolving products through `registry`.
    pub fn new(registry: InstrumentRegistry) -> Self {
        CoinbaseAdvanced {
            symbols: Symbols::new(Venue::Coinbase, registry),
            synced: Vec::new(),
            last_seq: None,
            merged: false,
            scratch: Some(Box::new(Scratch::new())),
            scan: ScanPath::new(),
        }
    }

    /// What the scanner read: an `l2_data` message.
    fn scanned(
        &mut self,
        f: &AdvancedFound<'_>,
        out: &mut Parsed,
    ) -> Option<Result<(), VenueError>> {
        f.channel?;
        Some((|| {
            if !self.sequence(f.seq, out)? {
                return Ok(());
            }
            let ts = f.timestamp.and_then(rfc3339_ns).unwrap_or(0);
            let events = f.events.ok_or(VenueError::Shape("events"))?;
            events.iter().take(f.events_len).try_for_each(|e| {
                let e = AdvEvent { kind: e.kind, product: e.product, updates: e.updates };
                self.l2(e, ts, out)
            })
        })())
    }

    /// The connection's `sequence_num`: `Ok(false)` for a message already applied (counted
    /// stale, skipped); a gap marks every book out of sync.
    fn sequence(&mut self, seq: Option<u64>, out: &mut Parsed) -> Result<bool, VenueError> {
        let seq = seq.ok_or(VenueError::Shape("sequence_num"))?;
        match self.last_seq {
            _ if self.merged => {}
            Some(last) if seq <= last => {
                out.stale += 1;
                return Ok(false);
            }
            Some(last) if seq != last + 1 => {
                out.gaps.push(GapScope::Connection);
                self.synced.iter_mut().for_each(|s| *s = false);
            }
            _ => {}
        }
        self.last_seq = Some(seq);
        Ok(true)
    }

    fn frame(&mut self, root: Value<'_, '_>, out: &mut Parsed) -> Result<(), VenueError> {
        if field_text(root, "type") == Some(b"error") {
            return Err(VenueError::VenueReported);
        }
        let channel = field_text(root, "channel").ok_or(VenueError::UnknownType)?;
        if !self.sequence(field_uint(root, "sequence_num"), out)? {
            return Ok(());
        }
        let ts = field_text(root, "timestamp").and_then(rfc3339_ns).unwrap_or(0);
        let events = root.get_array("events").ok_or(VenueError::Shape("events"))?;
        match channel {
            b"l2_data" => events.iter().try_for_each(|e| self.l2(AdvEvent::of(e), ts, out)),
            b"market_trades" => {
                for e in events.iter() {
                    // The snapshot is recent history, printed before we subscribed: not
                    // re-published as trades (as for every venue).
                    if field_text(e, "type") == Some(b"snapshot") {
                        out.control = true;
                        continue;
                    }
                    let Some(trades) = e.get_array("trades") else { continue };
                    for t in trades.iter() {
                        self.trade(t, out)?;
                    }
                }
                Ok(())
            }
            b"ticker" | b"ticker_batch" => {
                out.control = true;
                for e in events.iter() {
                    let Some(tickers) = e.get_array("tickers") else { continue };
                    for t in tickers.iter() {
                        self.ticker(t)?;
                    }
                }
                Ok(())
            }
            b"heartbeats" | b"subscriptions" | b"candles" | b"status" | b"user" => {
                out.control = true;
                Ok(())
            }
            _ => Err(VenueError::UnknownType),
        }
    }

    /// One `l2_data` event, from either parser.
    fn l2<'i, U: UpdateSource<'i>>(
        &mut self,
        e: AdvEvent<'i, U>,
        ts: u64,
        out: &mut Parsed,
    ) -> Result<(), VenueError> {
        let key = e.product.ok_or(VenueError::Shape("product_id"))?;
        let updates = e.updates.ok_or(VenueError::Shape("updates"))?;
        let (sym, action) = match e.kind {
            Some(b"snapshot") => {
                let sym =
                    product(&mut self.symbols, key, || Ok((updates.texts(1), updates.texts(2))))?;
                mark(&mut self.synced, sym, true);
                (sym, BookAction::Snapshot)
            }
            Some(b"update") => {
                let sym = self.symbols.resolve(key).ok_or(VenueError::UnknownSymbol)?;
                if !is_synced(&self.synced, sym) {
                    out.waiting += 1;
                    return Ok(());
                }
                (sym, BookAction::Update)
            }
            _ => return Err(VenueError::Shape("l2_data event type")),
        };
        out.begin_book(sym, action, ts);
        let inst = &self.symbols.list()[usize::from(sym)].instrument;
        let r = updates.each(|[side, px, qty]| {
            let side = match side {
                Some(b"bid") => Side::Bid,
                Some(b"offer") | Some(b"ask") => Side::Ask,
                _ => return Err(VenueError::Shape("update side")),
            };
            let px = px.ok_or(VenueError::Shape("price_level"))?;
            let qty = qty.ok_or(VenueError::Shape("new_quantity"))?;
            let px_tick = out.book_price(inst, px).map_err(num("price_level"))?;
            let qty_lots = inst.qty_lots(qty).map_err(num("new_quantity"))?;
            out.level(side, px_tick, qty_lots);
            Ok(())
        });
        if let Err(err) = r {
            out.broken = Some(sym);
            return Err(err);
        }
        out.finish_book(None, None);
        Ok(())
    }

    fn trade(&mut self, t: Value<'_, '_>, out: &mut Parsed) -> Result<(), VenueError> {
        let key = field_text(t, "product_id").ok_or(VenueError::Shape("product_id"))?;
        let sym = self.symbols.resolve(key).ok_or(VenueError::UnknownSymbol)?;
        let f = |k: &'static str| field_text(t, k).ok_or(VenueError::Shape("trade field"));
        let id = parse_u64(f("trade_id")?).unwrap_or(0);
        let inst = &self.symbols.list()[usize::from(sym)].instrument;
        let m =
            trade_msg(inst, sym, f("price")?, f("size")?, f("side")?, id, field_text(t, "time"))?;
        out.trades.push(m);
        Ok(())
    }

    fn ticker(&mut self, t: Value<'_, '_>) -> Result<(), VenueError> {
        let key = field_text(t, "product_id").ok_or(VenueError::Shape("product_id"))?;
        let Some(sym) = self.symbols.resolve(key) else {
            return Ok(());
        };
        let info = self.symbols.get_mut(sym).ok_or(VenueError::UnknownSymbol)?;
        info.venue_bbo =
            Some(ticker_bbo(t, &info.instrument, "best_bid_quantity", "best_ask_quantity")?);
        Ok(())
    }
}

super::scan::scan_controls!(CoinbaseAdvanced, "`l2_data`");

/// The BBO of a ticker message; sizes are 0 when the ticker has none.
fn ticker_bbo(
    t: Value<'_, '_>,
    inst: &Instrument,
    bid_q: &str,
    ask_q: &str,
) -> Result<Bbo, VenueError> {
    let f = |k: &'static str| field_text(t, k).ok_or(VenueError::Shape("ticker field"));
    let lots =
        |k: &str| field_text(t, k).map_or(Ok(0), |q| inst.qty_lots(q).map_err(num("ticker size")));
    Ok(Bbo {
        bid_tick: inst.price_ticks(f("best_bid")?).map_err(num("best_bid"))?,
        bid_lots: lots(bid_q)?,
        ask_tick: inst.price_ticks(f("best_ask")?).map_err(num("best_ask"))?,
        ask_lots: lots(ask_q)?,
    })
}

impl Adapter for CoinbaseAdvanced {
    fn venue(&self) -> Venue {
        Venue::Coinbase
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
        mark(&mut self.synced, symbol, false);
    }

    fn reset_connection(&mut self) {
        self.synced.iter_mut().for_each(|s| *s = false);
        self.last_seq = None;
    }

    fn symbols(&self) -> &Symbols {
        &self.symbols
    }

    fn symbols_mut(&mut self) -> &mut Symbols {
        &mut self.symbols
    }

    fn subscribe_messages(&self, symbols: &[&str]) -> Vec<String> {
        advanced_request("subscribe", symbols)
    }

    fn unsubscribe_messages(&self, symbols: &[&str]) -> Vec<String> {
        advanced_request("unsubscribe", symbols)
    }

    /// Coinbase sends a fresh `level2` snapshot on subscription: the product's `level2` is
    /// unsubscribed and subscribed again (its trades and ticker keep flowing; the
    /// connection's `sequence_num` runs on across it).
    fn resubscribe_book_messages(&self, symbol: &str) -> Option<Vec<String>> {
        super::resubscription(|kind| {
            format!("{{\"type\":\"{kind}\",\"product_ids\":[\"{symbol}\"],\"channel\":\"level2\"}}")
        })
    }
}

fn quoted(symbols: &[&str]) -> String {
    symbols.iter().map(|s| format!("\"{s}\"")).collect::<Vec<_>>().join(",")
}

fn advanced_request(kind: &str, symbols: &[&str]) -> Vec<String> {
    let ids = quoted(symbols);
    ["level2", "market_trades", "ticker", "heartbeats"]
        .iter()
        .map(|ch| format!("{{\"type\":\"{kind}\",\"product_ids\":[{ids}],\"channel\":\"{ch}\"}}"))
        .collect()
}

/// Coinbase Exchange. See the [module docs](self).
#[derive(Debug)]
pub struct CoinbaseExchange {
    symbols: Symbols,
    synced: Vec<bool>,
    scratch: Option<Box<Scratch>>,
    /// The book channel to subscribe (`level2_batch` is public; `level2` needs authentication).
    pub channel: &'static str,
    /// Which parser reads frames ([`Parser::Scan`] by default), and the scanner's state.
    ///
    /// [`Parser::Scan`]: super::scan::Parser::Scan
    scan: ScanPath<ExchangeFrames>,
}

/// The fields of a Coinbase Exchange message that the `snapshot`, `l2update` and `match`
/// handlers read, found in a single pass over its keys (as with `get`, the first occurrence of
/// a key wins).
/// Values keep their JSON type; each handler reads the ones its type has.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ExFields<V> {
    /// `type`.
    pub(crate) kind: Option<V>,
    /// `product_id`.
    pub(crate) product_id: Option<V>,
    /// `changes`: an update's `[side, price, size]` rows.
    pub(crate) changes: Option<V>,
    /// `time`: the exchange time (RFC 3339).
    pub(crate) time: Option<V>,
    /// `price`: a trade's price.
    pub(crate) price: Option<V>,
    /// `size`: a trade's size.
    pub(crate) size: Option<V>,
    /// `side`: a trade's maker side.
    pub(crate) side: Option<V>,
    /// `trade_id`: a trade's id.
    pub(crate) trade_id: Option<V>,
    /// `bids`: a snapshot's `[price, size]` rows.
    pub(crate) bids: Option<V>,
    /// `asks`: a snapshot's `[price, size]` rows.
    pub(crate) asks: Option<V>,
}

impl<V> Default for ExFields<V> {
    fn default() -> Self {
        ExFields {
            kind: None,
            product_id: None,
            changes: None,
            time: None,
            price: None,
            size: None,
            side: None,
            trade_id: None,
            bids: None,
            asks: None,
        }
    }
}

impl<V> ExFields<V> {
    /// The field `key` fills, if a handler reads it.
    #[inline(always)]
    pub(crate) fn slot(&mut self, key: &[u8]) -> Option<&mut Option<V>> {
        Some(match key {
            b"type" => &mut self.kind,
            b"product_id" => &mut self.product_id,
            b"changes" => &mut self.changes,
            b"time" => &mut self.time,
            b"price" => &mut self.price,
            b"size" => &mut self.size,
            b"side" => &mut self.side,
            b"trade_id" => &mut self.trade_id,
            b"bids" => &mut self.bids,
            b"asks" => &mut self.asks,
            _ => return None,
        })
    }
}

impl<'t, 'i> ExFields<Value<'t, 'i>> {
    /// Reads the fields of `v` from simd-json's tape (all absent if `v` is not an object).
    #[inline]
    fn read(v: Value<'t, 'i>) -> Self {
        super::json::read_table(v, Self::slot)
    }
}

impl CoinbaseExchange {
    /// An adapter subscribing to the public `level2_batch` channel.
    pub fn new(registry: InstrumentRegistry) -> Self {
        CoinbaseExchange {
            symbols: Symbols::new(Venue::CoinbaseExchange, registry),
            synced: Vec::new(),
            scratch: Some(Box::new(Scratch::new())),
            channel: "level2_batch",
            scan: ScanPath::new(),
        }
    }

    /// Handles a frame the scanner read, with the same handlers the simd-json path calls for
    /// its `type`; `None` for the frames the scanner leaves to simd-json (any other `type`, or
    /// none: the frame is then parsed again there, nothing having been written to `out`).
    #[inline]
    fn scanned(
        &mut self,
        f: &ExFields<ScanValue<'_>>,
        out: &mut Parsed,
    ) -> Option<Result<(), VenueError>> {
        Some(match f.kind?.text()? {
            b"l2update" => self.update(f, out),
            b"snapshot" => self.snapshot(f, out),
            b"match" => self.matched(f, out),
            b"last_match" => {
                out.control = true;
                Ok(())
            }
            _ => return None,
        })
    }

    fn frame(&mut self, root: Value<'_, '_>, out: &mut Parsed) -> Result<(), VenueError> {
        let kind = field_text(root, "type").ok_or(VenueError::UnknownType)?;
        match kind {
            b"snapshot" => self.snapshot(&ExFields::read(root), out),
            b"l2update" => self.update(&ExFields::read(root), out),
            // `last_match` repeats the last trade before the subscription: history.
            b"last_match" => {
                out.control = true;
                Ok(())
            }
            b"match" => self.matched(&ExFields::read(root), out),
            b"ticker" => {
                out.control = true;
                let key = field_text(root, "product_id").ok_or(VenueError::Shape("product_id"))?;
                if let Some(sym) = self.symbols.resolve(key) {
                    if let Some(info) = self.symbols.get_mut(sym) {
                        if root.get("best_bid").is_some() {
                            let bbo = ticker_bbo(
                                root,
                                &info.instrument,
                                "best_bid_size",
                                "best_ask_size",
                            )?;
                            info.venue_bbo = Some(bbo);
                        }
                    }
                }
                Ok(())
            }
            b"heartbeat" | b"subscriptions" | b"status" => {
                out.control = true;
                Ok(())
            }
            b"error" => Err(VenueError::VenueReported),
            _ => Err(VenueError::UnknownType),
        }
    }

    /// A `snapshot`, from either parser: the book's every level, `[price, size]` rows (a row's
    /// further elements are not read).
    fn snapshot<'i, V: ExValue<'i>>(
        &mut self,
        m: &ExFields<V>,
        out: &mut Parsed,
    ) -> Result<(), VenueError> {
        let key = m.product_id.and_then(V::text).ok_or(VenueError::Shape("product_id"))?;
        let bids = m.bids.filter(|v| v.is_array()).ok_or(VenueError::Shape("bids"))?;
        let asks = m.asks.filter(|v| v.is_array()).ok_or(VenueError::Shape("asks"))?;
        let sym = product(&mut self.symbols, key, || {
            let (mut px, mut qty) = (Vec::new(), Vec::new());
            for rows in [bids, asks] {
                rows.each_change(|[p, q, _]| {
                    px.extend(p);
                    qty.extend(q);
                    Ok(())
                })?;
            }
            Ok((px.into_iter(), qty.into_iter()))
        })?;
        mark(&mut self.synced, sym, true);
        out.begin_book(sym, BookAction::Snapshot, 0);
        let inst = &self.symbols.list()[usize::from(sym)].instrument;
        for (side, rows) in [(Side::Bid, bids), (Side::Ask, asks)] {
            let r = rows.each_change(|[px, q, _]| {
                exchange_level(out, inst, side, px, q, ["level price", "level size"])
            });
            if let Err(e) = r {
                out.broken = Some(sym);
                return Err(e);
            }
        }
        out.finish_book(None, None);
        Ok(())
    }

    /// A `match`, from either parser.
    #[inline]
    fn matched<'i, V: ExValue<'i>>(
        &mut self,
        m: &ExFields<V>,
        out: &mut Parsed,
    ) -> Result<(), VenueError> {
        let key = m.product_id.and_then(V::text).ok_or(VenueError::Shape("product_id"))?;
        let sym = self.symbols.resolve(key).ok_or(VenueError::UnknownSymbol)?;
        let f = |v: Option<V>| v.and_then(V::text).ok_or(VenueError::Shape("match field"));
        let id = m.trade_id.and_then(V::uint).ok_or(VenueError::Shape("trade_id"))?;
        let inst = &self.symbols.list()[usize::from(sym)].instrument;
        let t = trade_msg(
            inst,
            sym,
            f(m.price)?,
            f(m.size)?,
            f(m.side)?,
            id,
            m.time.and_then(V::text),
        )?;
        out.trades.push(t);
        Ok(())
    }

    /// An `l2update`, from either parser (98% of this venue's frames).
    #[inline]
    fn update<'i, V: ExValue<'i>>(
        &mut self,
        m: &ExFields<V>,
        out: &mut Parsed,
    ) -> Result<(), VenueError> {
        let key = m.product_id.and_then(V::text).ok_or(VenueError::Shape("product_id"))?;
        let sym = self.symbols.resolve(key).ok_or(VenueError::UnknownSymbol)?;
        if !is_synced(&self.synced, sym) {
            out.waiting += 1;
            return Ok(());
        }
        let changes = m.changes.filter(|c| c.is_array()).ok_or(VenueError::Shape("changes"))?;
        let ts = m.time.and_then(V::text).and_then(rfc3339_ns).unwrap_or(0);
        out.begin_book(sym, BookAction::Update, ts);
        let inst = &self.symbols.list()[usize::from(sym)].instrument;
        let r = changes.each_change(|[side, px, q]| {
            let side = match side {
                Some(b"buy") => Side::Bid,
                Some(b"sell") => Side::Ask,
                _ => return Err(VenueError::Shape("change side")),
            };
            exchange_level(out, inst, side, px, q, ["change price", "change size"])
        });
        if let Err(e) = r {
            out.broken = Some(sym);
            return Err(e);
        }
        out.finish_book(None, None);
        Ok(())
    }
}

super::scan::scan_controls!(CoinbaseExchange, "`snapshot`, `l2update`, `match` and `last_match`");

/// Adds one level of a Coinbase Exchange book message (a snapshot's row, an update's change)
/// to `out`; `what` names the price and the size in a shape error.
#[inline]
fn exchange_level(
    out: &mut Parsed,
    inst: &Instrument,
    side: Side,
    px: Option<&[u8]>,
    q: Option<&[u8]>,
    what: [&'static str; 2],
) -> Result<(), VenueError> {
    let px = px.ok_or(VenueError::Shape(what[0]))?;
    let q = q.ok_or(VenueError::Shape(what[1]))?;
    let px_tick = out.book_price(inst, px).map_err(num("price"))?;
    let qty_lots = inst.qty_lots(q).map_err(num("size"))?;
    out.level(side, px_tick, qty_lots);
    Ok(())
}

impl Adapter for CoinbaseExchange {
    fn venue(&self) -> Venue {
        Venue::CoinbaseExchange
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
        mark(&mut self.synced, symbol, false);
    }

    fn reset_connection(&mut self) {
        self.synced.iter_mut().for_each(|s| *s = false);
    }

    fn symbols(&self) -> &Symbols {
        &self.symbols
    }

    fn symbols_mut(&mut self) -> &mut Symbols {
        &mut self.symbols
    }

    fn subscribe_messages(&self, symbols: &[&str]) -> Vec<String> {
        vec![format!(
            "{{\"type\":\"subscribe\",\"product_ids\":[{}],\"channels\":[\"{}\",\"matches\",\"ticker\",\"heartbeat\"]}}",
            quoted(symbols),
            self.channel
        )]
    }

    fn unsubscribe_messages(&self, symbols: &[&str]) -> Vec<String> {
        vec![format!(
            "{{\"type\":\"unsubscribe\",\"product_ids\":[{}],\"channels\":[\"{}\",\"matches\",\"ticker\",\"heartbeat\"]}}",
            quoted(symbols),
            self.channel
        )]
    }

    /// Coinbase Exchange sends a fresh `snapshot` on subscription: the product's book channel
    /// is unsubscribed and subscribed again (its matches, ticker and heartbeat keep flowing).
    fn resubscribe_book_messages(&self, symbol: &str) -> Option<Vec<String>> {
        super::resubscription(|kind| {
            format!(
                "{{\"type\":\"{kind}\",\"product_ids\":[\"{symbol}\"],\"channels\":[\"{}\"]}}",
                self.channel
            )
        })
    }
}

//! Kraken WebSocket v2 (`book`, `trade`) and v1 (`book-N`, `trade`) as the captures have it.
//!
//! Neither version numbers its book messages: the CRC32 checksum of the top 10 levels is the
//! integrity check (v2 sends it on snapshots and updates, v1 on updates). Every message's
//! levels are applied in array order, each side is then truncated to the subscribed depth
//! (Kraken never deletes levels that fall out of scope), and the engine verifies the checksum.
//! A mismatch marks the book `Resyncing`; the live path resubscribes that pair's book alone
//! ([`Adapter::resubscribe_book_messages`]: unsubscribe, then subscribe, and the venue sends a
//! fresh snapshot).
//!
//! Kraken prints every price and size with the pair's full precision (`0.00100000`): the
//! decimals printed in the snapshot are kept per symbol and the checksum text is rendered with
//! them. v2 prices are JSON numbers, read as their exact text (no `f64`).
//!
//! The depth: v1 names it in the channel (`book-1000`); v2 in the subscription
//! acknowledgement (`result.depth`), else the depth this adapter asked for (raised if a
//! snapshot shows more levels). Tickers (`ticker`, v1 `spread`) fill
//! [`SymbolInfo::venue_bbo`](super::SymbolInfo::venue_bbo). Trade sides are the taker's;
//! v1 trades carry no id (0).
//!
//! Parsing (v1): book and trade messages (nearly all of the traffic) are read by the Kraken v1
//! scanner ([`super::scan::kraken`], with [`Parser::Scan`], the default) through the same
//! handlers as the simd-json path (each payload object's fields in one table, `V1Part`; rows
//! read by position through one trait); every other frame, and any book or trade message the
//! scanner does not read exactly, goes to simd-json (counted in [`Parsed::scan_fallback`]).
//!
//! [`Parser::Scan`]: super::scan::Parser::Scan

use simd_json::prelude::ValueAsScalar;
use simd_json::tape::Value;

use super::json::{field_text, parse_u64, text, Scratch};
use super::protocol::{Protocol, BASE};
use super::scan::kraken::{KrakenV1Frames, ScanFrame, V1Value};
use super::scan::{scan_frame, ScanPath};
use super::time::{decimal_seconds_ns, rfc3339_ns};
use super::{num, Adapter, BookAction, Checksum, Parsed, SymbolIdx, Symbols, TradeMsg, VenueError};
use crate::book::{Instrument, InstrumentRegistry, Side, Venue};
use crate::event::{self, Bbo, Trade};

/// Kraken v2's transport.
pub const V2_PROTOCOL: Protocol = Protocol { endpoint: "wss://ws.kraken.com", path: "/v2", ..BASE };

/// Kraken v1's transport.
pub const V1_PROTOCOL: Protocol = Protocol { endpoint: "wss://ws.kraken.com", ..BASE };

/// Kraken's default v2 book depth (what [`AnyAdapter`](super::AnyAdapter) subscribes).
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

/// The fields of one v1 book payload object that the book handler reads, found in a single
/// pass over its keys (as with `get`, the first occurrence of a key wins). Values keep their
/// JSON type; the handler reads the ones it needs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct V1Part<V> {
    /// `a`: an update's ask levels.
    pub(crate) asks: Option<V>,
    /// `b`: an update's bid levels.
    pub(crate) bids: Option<V>,
    /// `as`: a snapshot's ask levels.
    pub(crate) snapshot_asks: Option<V>,
    /// `bs`: a snapshot's bid levels.
    pub(crate) snapshot_bids: Option<V>,
    /// `c`: an update's checksum (a string of digits).
    pub(crate) checksum: Option<V>,
}

impl<V> Default for V1Part<V> {
    fn default() -> Self {
        V1Part { asks: None, bids: None, snapshot_asks: None, snapshot_bids: None, checksum: None }
    }
}

impl<V> V1Part<V> {
    /// The field `key` fills, if the handler reads it.
    #[inline(always)]
    pub(crate) fn slot(&mut self, key: &[u8]) -> Option<&mut Option<V>> {
        Some(match key {
            b"a" => &mut self.asks,
            b"b" => &mut self.bids,
            b"as" => &mut self.snapshot_asks,
            b"bs" => &mut self.snapshot_bids,
            b"c" => &mut self.checksum,
            _ => return None,
        })
    }
}

impl<'t, 'i> V1Part<Value<'t, 'i>> {
    /// Reads the fields of `v` from simd-json's tape (all absent if `v` is not an object).
    #[inline]
    fn read(v: Value<'t, 'i>) -> Self {
        super::json::read_table(v, Self::slot)
    }
}

/// What a v1 channel message's channel name (the element before the pair) makes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum V1Channel {
    /// `book-N`: a book of depth N.
    Book(u32),
    /// `trade`.
    Trade,
    /// `ticker`.
    Ticker,
    /// `spread`.
    Spread,
    /// `ohlc-*`: candles.
    Ohlc,
}

impl V1Channel {
    /// The channel `name` is; `Shape` for a `book-` channel without a depth, `UnknownType`
    /// for any other name.
    fn of(name: &[u8]) -> Result<Self, VenueError> {
        if let Some(depth) = name.strip_prefix(b"book-") {
            let depth = parse_u64(depth)
                .and_then(|d| u32::try_from(d).ok())
                .ok_or(VenueError::Shape("book depth"))?;
            Ok(V1Channel::Book(depth))
        } else if name == b"trade" {
            Ok(V1Channel::Trade)
        } else if name == b"ticker" {
            Ok(V1Channel::Ticker)
        } else if name == b"spread" {
            Ok(V1Channel::Spread)
        } else if name.starts_with(b"ohlc") {
            Ok(V1Channel::Ohlc)
        } else {
            Err(VenueError::UnknownType)
        }
    }
}

/// Kraken WebSocket v1 (`wss://ws.kraken.com`), as in the captures.
#[derive(Debug)]
pub struct KrakenV1 {
    symbols: Symbols,
    states: Vec<SymState>,
    scratch: Option<Box<Scratch>>,
    /// Which parser reads frames ([`Parser::Scan`] by default), and the scanner's state.
    ///
    /// [`Parser::Scan`]: super::scan::Parser::Scan
    scan: ScanPath<KrakenV1Frames>,
}

impl KrakenV1 {
    /// A v1 adapter resolving instruments through `registry` (or learning them).
    pub fn new(registry: InstrumentRegistry) -> Self {
        KrakenV1 {
            symbols: Symbols::new(Venue::KrakenV1, registry),
            states: Vec::new(),
            scratch: Some(Box::new(Scratch::new())),
            scan: ScanPath::new(),
        }
    }

    /// Handles a frame the scanner read, with the same handlers the simd-json path calls for
    /// its channel; `None` for the frames the scanner leaves to simd-json (fewer than four
    /// elements, a channel or pair that is not a string, a channel other than a book or
    /// `trade`, a bad book depth): the frame is then parsed again there, nothing having been
    /// written to `out`.
    #[inline]
    fn scanned(&mut self, f: &ScanFrame<'_>, out: &mut Parsed) -> Option<Result<(), VenueError>> {
        let (channel, pair) = f.channel_pair()?;
        Some(match V1Channel::of(channel).ok()? {
            V1Channel::Book(depth) => self.book(f.parts(), pair, depth, out),
            V1Channel::Trade => self.trades(f.payload(), pair, out),
            V1Channel::Ticker | V1Channel::Spread | V1Channel::Ohlc => return None,
        })
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
        match V1Channel::of(channel)? {
            V1Channel::Book(depth) => {
                // The payload objects: every element between the channel id and the name.
                let parts = arr.iter().skip(1).take(n - 3).map(V1Part::read);
                self.book(parts, pair, depth, out)
            }
            V1Channel::Trade => {
                self.trades(arr.get(1).ok_or(VenueError::Shape("trade payload"))?, pair, out)
            }
            V1Channel::Ticker | V1Channel::Spread => {
                out.control = true;
                let payload = arr.get(1).ok_or(VenueError::Shape("ticker payload"))?;
                let bbo =
                    if channel == b"ticker" { v1_ticker(payload) } else { v1_spread(payload) };
                store_bbo(&mut self.symbols, pair, bbo)
            }
            V1Channel::Ohlc => {
                // Candles: not book data.
                out.control = true;
                Ok(())
            }
        }
    }

    /// A book message from either parser: `parts` are its payload objects in order (a
    /// snapshot is the first one's `as`/`bs`; an update applies every part's `a`, then `b`,
    /// and takes the last `c`).
    #[inline]
    fn book<'i, V: V1Value<'i>>(
        &mut self,
        mut parts: impl Iterator<Item = V1Part<V>>,
        pair: &[u8],
        depth: u32,
        out: &mut Parsed,
    ) -> Result<(), VenueError> {
        let first = parts.next().ok_or(VenueError::Shape("book payload"))?;
        if first.snapshot_asks.is_some() || first.snapshot_bids.is_some() {
            let texts =
                |v: Option<V>, idx: usize| v.into_iter().flat_map(move |v| v.row_texts(idx));
            let px = texts(first.snapshot_asks, 0).chain(texts(first.snapshot_bids, 0));
            let qty = texts(first.snapshot_asks, 1).chain(texts(first.snapshot_bids, 1));
            let sym = self.symbols.learn_printed(pair, px, qty)?;
            state(&mut self.states, sym).synced = true;
            out.begin_book(sym, BookAction::Snapshot, 0);
            let inst = &self.symbols.list()[usize::from(sym)].instrument;
            let mut ts = 0;
            let r = v1_levels(first.snapshot_asks, Side::Ask, inst, out, &mut ts)
                .and_then(|()| v1_levels(first.snapshot_bids, Side::Bid, inst, out, &mut ts));
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
        let sym = self.symbols.resolve(pair).ok_or(VenueError::UnknownSymbol)?;
        if !state(&mut self.states, sym).synced {
            out.waiting += 1;
            return Ok(());
        }
        out.begin_book(sym, BookAction::Update, 0);
        let inst = &self.symbols.list()[usize::from(sym)].instrument;
        let mut checksum = None;
        let mut ts = 0;
        for part in std::iter::once(first).chain(parts) {
            let r = v1_levels(part.asks, Side::Ask, inst, out, &mut ts)
                .and_then(|()| v1_levels(part.bids, Side::Bid, inst, out, &mut ts));
            if let Err(e) = r {
                out.broken = Some(sym);
                return Err(e);
            }
            if let Some(c) = part.checksum.and_then(V::text) {
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

    /// A trade message's list from either parser: rows `[price, volume, time, side, …]`.
    #[inline]
    fn trades<'i, V: V1Value<'i>>(
        &mut self,
        list: V,
        pair: &[u8],
        out: &mut Parsed,
    ) -> Result<(), VenueError> {
        let sym = match self.symbols.resolve(pair) {
            Some(s) => s,
            None => {
                // A trade-only subscription: learn the pair from the printed precision.
                if !list.is_array() {
                    return Err(VenueError::Shape("trades"));
                }
                self.symbols.learn_printed(pair, list.row_texts(0), list.row_texts(1))?
            }
        };
        let inst = &self.symbols.list()[usize::from(sym)].instrument;
        if !list.is_array() {
            return Err(VenueError::Shape("trades"));
        }
        list.each_row::<4>(|[px, qty, time, side]| {
            let f = |t: Option<&'i [u8]>| t.ok_or(VenueError::Shape("trade field"));
            let aggressor = match f(side)? {
                b"b" => event::Side::Buy,
                b"s" => event::Side::Sell,
                _ => return Err(VenueError::Shape("trade side")),
            };
            out.trades.push(TradeMsg {
                symbol: sym,
                trade: Trade {
                    price_tick: inst.price_ticks(f(px)?).map_err(num("price"))?,
                    size_lots: inst.qty_lots(f(qty)?).map_err(num("size"))?,
                    aggressor: Some(aggressor),
                    trade_id: 0,
                },
                exch_ts: decimal_seconds_ns(f(time)?).unwrap_or(0),
            });
            Ok(())
        })
    }
}

super::scan::scan_controls!(KrakenV1, "order-book and trade");

/// v1 levels `[price, volume, timestamp(, "r")]` of `v`, if it is an array; the latest level
/// time goes into `ts`.
#[inline]
fn v1_levels<'i, V: V1Value<'i>>(
    v: Option<V>,
    side: Side,
    inst: &Instrument,
    out: &mut Parsed,
    ts: &mut u64,
) -> Result<(), VenueError> {
    let Some(v) = v.filter(|v| v.is_array()) else { return Ok(()) };
    v.each_row::<3>(|[px, qty, time]| {
        let px = px.ok_or(VenueError::Shape("level price"))?;
        let qty = qty.ok_or(VenueError::Shape("level volume"))?;
        if let Some(t) = time.and_then(decimal_seconds_ns) {
            *ts = (*ts).max(t);
        }
        out.level(
            side,
            inst.price_ticks(px).map_err(num("price"))?,
            inst.qty_lots(qty).map_err(num("volume"))?,
        );
        Ok(())
    })
}

/// Best bid and offer as text: `(bid price, bid size, ask price, ask size)`.
type BboText<'i> = (&'i [u8], &'i [u8], &'i [u8], &'i [u8]);

/// v1 `ticker`: `{"a":[price, wholeLotVolume, lotVolume], "b":[…], …}`.
fn v1_ticker<'i>(v: Value<'_, 'i>) -> Result<BboText<'i>, VenueError> {
    let f = |key: &str, i: usize| {
        v.get(key)
            .and_then(|a| a.get_idx(i))
            .and_then(text)
            .ok_or(VenueError::Shape("ticker field"))
    };
    Ok((f("b", 0)?, f("b", 2)?, f("a", 0)?, f("a", 2)?))
}

/// v1 `spread`: `[bid, ask, timestamp, bidVolume, askVolume]`.
fn v1_spread<'i>(v: Value<'_, 'i>) -> Result<BboText<'i>, VenueError> {
    let f = |i: usize| v.get_idx(i).and_then(text).ok_or(VenueError::Shape("spread field"));
    Ok((f(0)?, f(3)?, f(1)?, f(4)?))
}

/// Stores the venue's own BBO for a symbol that has a book or a known instrument. Tickers
/// of unknown pairs are ignored: a ticker's numbers are not a reliable source of the pair's
/// printed precision, which the checksums depend on.
fn store_bbo(
    symbols: &mut Symbols,
    pair: &[u8],
    bbo: Result<BboText<'_>, VenueError>,
) -> Result<(), VenueError> {
    let (bid_px, bid_qty, ask_px, ask_qty) = bbo?;
    let Some(sym) = symbols.find(pair).or_else(|| symbols.resolve(pair)) else {
        return Ok(());
    };
    let info = symbols.get_mut(sym).ok_or(VenueError::UnknownSymbol)?;
    let inst = &info.instrument;
    info.venue_bbo = Some(Bbo {
        bid_tick: inst.price_ticks(bid_px).map_err(num("bid"))?,
        bid_lots: inst.qty_lots(bid_qty).map_err(num("bid size"))?,
        ask_tick: inst.price_ticks(ask_px).map_err(num("ask"))?,
        ask_lots: inst.qty_lots(ask_qty).map_err(num("ask size"))?,
    });
    Ok(())
}

impl Adapter for KrakenV1 {
    fn venue(&self) -> Venue {
        Venue::KrakenV1
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
        state(&mut self.states, symbol).synced = false;
    }

    fn reset_connection(&mut self) {
        self.states.iter_mut().for_each(|s| s.synced = false);
    }

    fn symbols(&self) -> &Symbols {
        &self.symbols
    }

    fn symbols_mut(&mut self) -> &mut Symbols {
        &mut self.symbols
    }

    fn subscribe_messages(&self, symbols: &[&str]) -> Vec<String> {
        v1_request("subscribe", symbols)
    }

    fn unsubscribe_messages(&self, symbols: &[&str]) -> Vec<String> {
        v1_request("unsubscribe", symbols)
    }

    /// Kraken sends a fresh snapshot on subscription: the pair's book is unsubscribed and
    /// subscribed again (its trades and spread keep flowing).
    fn resubscribe_book_messages(&self, symbol: &str) -> Option<Vec<String>> {
        super::resubscription(|event| {
            format!(
                "{{\"event\":\"{event}\",\"pair\":[\"{symbol}\"],\"subscription\":{{\"name\":\"book\",\"depth\":1000}}}}"
            )
        })
    }
}

fn quoted_list(symbols: &[&str]) -> String {
    symbols.iter().map(|s| format!("\"{s}\"")).collect::<Vec<_>>().join(",")
}

/// Book (depth 1000, as in the captures), trades, and `spread` (the venue's BBO with sizes,
/// on every change) for cross-checks.
fn v1_request(event: &str, symbols: &[&str]) -> Vec<String> {
    let pairs = quoted_list(symbols);
    vec![
        format!(
            "{{\"event\":\"{event}\",\"pair\":[{pairs}],\"subscription\":{{\"name\":\"book\",\"depth\":1000}}}}"
        ),
        format!("{{\"event\":\"{event}\",\"pair\":[{pairs}],\"subscription\":{{\"name\":\"trade\"}}}}"),
        format!("{{\"event\":\"{event}\",\"pair\":[{pairs}],\"subscription\":{{\"name\":\"spread\"}}}}"),
    ]
}

/// Kraken WebSocket v2 (`wss://ws.kraken.com/v2`).
#[derive(Debug)]
pub struct KrakenV2 {
    symbols: Symbols,
    states: Vec<SymState>,
    scratch: Option<Box<Scratch>>,
    /// Depth asked for in [`Adapter::subscribe_messages`]; also the truncation depth of a
    /// book whose subscription acknowledgement (`result.depth`) was not seen.
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
            scratch: Some(Box::new(Scratch::new())),
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
            b"ticker" => {
                out.control = true;
                let data = root.get_array("data").ok_or(VenueError::Shape("ticker data"))?;
                for t in data.iter() {
                    let key = field_text(t, "symbol").ok_or(VenueError::Shape("ticker symbol"))?;
                    let f = |k: &str| field_text(t, k).ok_or(VenueError::Shape("ticker field"));
                    let bbo = (|| Ok((f("bid")?, f("bid_qty")?, f("ask")?, f("ask_qty")?)))();
                    store_bbo(&mut self.symbols, key, bbo)?;
                }
                Ok(())
            }
            b"heartbeat" | b"status" | b"instrument" | b"ohlc" | b"pong" => {
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
            if st.depth.is_none() {
                // No acknowledgement seen (a capture that starts later): the depth asked for,
                // or more if the snapshot itself shows more levels than that.
                let shown = side_len(d, "asks").max(side_len(d, "bids"));
                st.depth = Some(implied_depth(self.depth, shown));
            }
            st.synced = true;
            sym
        } else {
            let sym = self.symbols.resolve(key).ok_or(VenueError::UnknownSymbol)?;
            if !state(&mut self.states, sym).synced {
                out.waiting += 1;
                return Ok(());
            }
            sym
        };
        let depth = state(&mut self.states, sym).depth.unwrap_or(self.depth);
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
        // Not learned from a trade: v2 trades do not promise the pair's full printed
        // precision (the book does), and an instrument learned too coarse would reject the
        // book for good. The book snapshot (or the configuration) teaches it first.
        let sym = self.symbols.resolve(key).ok_or(VenueError::UnknownSymbol)?;
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

/// The depths Kraken v2 accepts.
pub const V2_DEPTHS: [u32; 5] = [10, 25, 100, 500, 1000];

/// Number of levels in `v[key]`.
fn side_len(v: Value<'_, '_>, key: &str) -> u32 {
    v.get_array(key).map_or(0, |a| u32::try_from(a.len()).unwrap_or(u32::MAX))
}

/// The subscribed depth when no acknowledgement said: `asked`, unless a snapshot showed
/// `shown` levels on one side, more than that (then the smallest valid depth holding them).
fn implied_depth(asked: u32, shown: u32) -> u32 {
    if shown <= asked {
        return asked;
    }
    V2_DEPTHS.into_iter().find(|&d| d >= shown).unwrap_or(shown)
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

    fn symbols_mut(&mut self) -> &mut Symbols {
        &mut self.symbols
    }

    fn subscribe_messages(&self, symbols: &[&str]) -> Vec<String> {
        let list = quoted_list(symbols);
        vec![
            format!(
                "{{\"method\":\"subscribe\",\"params\":{{\"channel\":\"book\",\"symbol\":[{list}],\"depth\":{},\"snapshot\":true}},\"req_id\":1}}",
                self.depth
            ),
            format!("{{\"method\":\"subscribe\",\"params\":{{\"channel\":\"trade\",\"symbol\":[{list}]}},\"req_id\":2}}"),
            // The venue's BBO, published on every best bid/offer change, for cross-checks.
            format!("{{\"method\":\"subscribe\",\"params\":{{\"channel\":\"ticker\",\"symbol\":[{list}],\"event_trigger\":\"bbo\"}},\"req_id\":3}}"),
        ]
    }

    fn unsubscribe_messages(&self, symbols: &[&str]) -> Vec<String> {
        let list = quoted_list(symbols);
        vec![
            format!(
                "{{\"method\":\"unsubscribe\",\"params\":{{\"channel\":\"book\",\"symbol\":[{list}],\"depth\":{}}},\"req_id\":4}}",
                self.depth
            ),
            format!("{{\"method\":\"unsubscribe\",\"params\":{{\"channel\":\"trade\",\"symbol\":[{list}]}},\"req_id\":5}}"),
            format!("{{\"method\":\"unsubscribe\",\"params\":{{\"channel\":\"ticker\",\"symbol\":[{list}]}},\"req_id\":6}}"),
        ]
    }

    /// Kraken's documented answer to a checksum mismatch: unsubscribe the symbol's book and
    /// subscribe it again with `snapshot: true` (its trades and ticker keep flowing).
    fn resubscribe_book_messages(&self, symbol: &str) -> Option<Vec<String>> {
        let depth = self.depth;
        Some(vec![
            format!(
                "{{\"method\":\"unsubscribe\",\"params\":{{\"channel\":\"book\",\"symbol\":[\"{symbol}\"],\"depth\":{depth}}},\"req_id\":7}}"
            ),
            format!(
                "{{\"method\":\"subscribe\",\"params\":{{\"channel\":\"book\",\"symbol\":[\"{symbol}\"],\"depth\":{depth},\"snapshot\":true}},\"req_id\":8}}"
            ),
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::venue::LevelOp;

    const V2_SNAPSHOT: &[u8] = br#"{"channel":"book","type":"snapshot","data":[{"symbol":"BTC/USD","bids":[{"price":45283.5,"qty":0.10000000},{"price":45283.4,"qty":1.54582015},{"price":45282.1,"qty":0.10000000},{"price":45281.0,"qty":0.10000000},{"price":45280.3,"qty":1.54592586},{"price":45279.0,"qty":0.07990000},{"price":45277.6,"qty":0.03310103},{"price":45277.5,"qty":0.30000000},{"price":45277.3,"qty":1.54602737},{"price":45276.6,"qty":0.15445238}],"asks":[{"price":45285.2,"qty":0.00100000},{"price":45286.4,"qty":1.54571953},{"price":45286.6,"qty":1.54571109},{"price":45289.6,"qty":1.54560911},{"price":45290.2,"qty":0.15890660},{"price":45291.8,"qty":1.54553491},{"price":45294.7,"qty":0.04454749},{"price":45296.1,"qty":0.35380000},{"price":45297.5,"qty":0.09945542},{"price":45299.5,"qty":0.18772827}],"checksum":3310070434,"timestamp":"2023-10-06T17:35:55.440295Z"}]}"#;

    fn v2() -> KrakenV2 {
        KrakenV2::new(InstrumentRegistry::new(), V2_DEFAULT_DEPTH)
    }

    fn v1() -> KrakenV1 {
        KrakenV1::new(InstrumentRegistry::new())
    }

    fn run(a: &mut impl Adapter, frame: &[u8]) -> (Result<(), VenueError>, Parsed) {
        let mut out = Parsed::default();
        let r = a.handle_frame(frame, 0, &mut out);
        (r, out)
    }

    fn ok(a: &mut impl Adapter, frame: &[u8]) -> Parsed {
        let (r, out) = run(a, frame);
        assert_eq!(r, Ok(()), "{}", String::from_utf8_lossy(frame));
        out
    }

    #[test]
    fn v2_documented_snapshot() {
        let mut a = v2();
        let out = ok(&mut a, V2_SNAPSHOT);
        assert_eq!(out.books.len(), 1);
        let b = &out.books[0];
        assert_eq!(b.action, BookAction::Snapshot);
        assert_eq!(b.checksum, Some(Checksum::Kraken(3_310_070_434)));
        assert_eq!(b.truncate, Some(10));
        assert_eq!(b.exch_ts, 1_696_613_755_440_295_000);
        let levels = out.levels_of(b);
        assert_eq!(levels.len(), 20);
        // Learned from the text: tick 0.1, printed decimals 1 and 8.
        let info = a.symbols().get(b.symbol).unwrap();
        assert_eq!((info.price_decimals, info.qty_decimals), (1, 8));
        assert_eq!(info.instrument.tick.scale(), 1);
        assert_eq!(levels[0], LevelOp { side: Side::Ask, px_tick: 452_852, qty_lots: 100_000 });
        assert_eq!(levels[10].side, Side::Bid);
        assert_eq!(levels[13].px_tick, 452_810, "45281.0");
    }

    #[test]
    fn v2_updates_wait_for_a_snapshot_then_apply() {
        let mut a = v2();
        let upd = br#"{"channel":"book","type":"update","data":[{"symbol":"BTC/USD","bids":[{"price":45283.5,"qty":0}],"asks":[],"checksum":12,"timestamp":"2023-10-06T17:35:56.000000Z"}]}"#;
        // No book yet and the instrument is not known: nothing to apply it to.
        assert_eq!(run(&mut a, upd).0, Err(VenueError::UnknownSymbol));
        ok(&mut a, V2_SNAPSHOT);
        let out = ok(&mut a, upd);
        let b = &out.books[0];
        assert_eq!((b.action, b.checksum), (BookAction::Update, Some(Checksum::Kraken(12))));
        assert_eq!(out.levels_of(b), &[LevelOp { side: Side::Bid, px_tick: 452_835, qty_lots: 0 }]);
        // After a resync, updates wait; the book is resubscribed on the same connection and
        // the venue's answers (acknowledgements, then a fresh snapshot) sync it again.
        let s = b.symbol;
        a.resync(s);
        let out = ok(&mut a, upd);
        assert_eq!((out.books.len(), out.waiting), (0, 1));
        let msgs = a.resubscribe_book_messages("BTC/USD").unwrap();
        assert_eq!(
            msgs,
            [
                r#"{"method":"unsubscribe","params":{"channel":"book","symbol":["BTC/USD"],"depth":10},"req_id":7}"#,
                r#"{"method":"subscribe","params":{"channel":"book","symbol":["BTC/USD"],"depth":10,"snapshot":true},"req_id":8}"#,
            ]
        );
        let unsub_ack = br#"{"method":"unsubscribe","result":{"channel":"book","depth":10,"symbol":"BTC/USD"},"success":true,"time_in":"2023-10-06T17:35:57.000000Z","time_out":"2023-10-06T17:35:57.000100Z"}"#;
        let sub_ack = br#"{"method":"subscribe","result":{"channel":"book","depth":10,"snapshot":true,"symbol":"BTC/USD"},"success":true,"time_in":"2023-10-06T17:35:57.000000Z","time_out":"2023-10-06T17:35:57.000100Z"}"#;
        assert!(ok(&mut a, unsub_ack).control && ok(&mut a, sub_ack).control);
        assert_eq!(ok(&mut a, upd).waiting, 1, "still waiting for the snapshot");
        assert_eq!(ok(&mut a, V2_SNAPSHOT).books[0].action, BookAction::Snapshot);
        assert_eq!(ok(&mut a, upd).books.len(), 1, "synced again");
    }

    #[test]
    fn v2_depth_comes_from_the_acknowledgement() {
        let mut a = v2();
        let ack = r#"{"method":"subscribe","result":{"channel":"book","depth":25,"snapshot":true,"symbol":"BTC/USD"},"success":true,"time_in":"2023-10-06T17:35:55.000000Z","time_out":"2023-10-06T17:35:55.000100Z"}"#;
        assert!(ok(&mut a, ack.as_bytes()).control);
        assert_eq!(ok(&mut a, V2_SNAPSHOT).books[0].truncate, Some(25));
        // A new connection forgets it; the resubscription's ack comes again.
        a.reset_connection();
        assert_eq!(ok(&mut a, V2_SNAPSHOT).books[0].truncate, Some(10));
        ok(&mut a, ack.replace("\"depth\":25", "\"depth\":100").as_bytes());
        assert_eq!(ok(&mut a, V2_SNAPSHOT).books[0].truncate, Some(100));
    }

    #[test]
    fn v2_depth_without_acknowledgement() {
        // The depth asked for...
        let mut a = KrakenV2::new(InstrumentRegistry::new(), 25);
        assert_eq!(ok(&mut a, V2_SNAPSHOT).books[0].truncate, Some(25));
        // ...unless the snapshot shows more levels than that.
        let mut bids = String::new();
        for i in 0..30 {
            if i > 0 {
                bids.push(',');
            }
            bids.push_str(&format!(r#"{{"price":{}.5,"qty":1.00000000}}"#, 1000 - i));
        }
        let snap = format!(
            r#"{{"channel":"book","type":"snapshot","data":[{{"symbol":"ETH/USD","bids":[{bids}],"asks":[],"checksum":1}}]}}"#
        );
        let mut a = v2();
        assert_eq!(ok(&mut a, snap.as_bytes()).books[0].truncate, Some(100));
        assert_eq!(implied_depth(10, 10), 10);
        assert_eq!(implied_depth(10, 11), 25);
        assert_eq!(implied_depth(10, 1500), 1500);
    }

    #[test]
    fn v2_trades_tickers_and_control() {
        let mut a = v2();
        ok(&mut a, V2_SNAPSHOT);
        let out = ok(
            &mut a,
            br#"{"channel":"trade","type":"update","data":[{"symbol":"BTC/USD","side":"buy","price":45285.2,"qty":0.00100000,"ord_type":"market","trade_id":4665906,"timestamp":"2023-10-06T17:35:56.000001Z"},{"symbol":"BTC/USD","side":"sell","price":45283.5,"qty":0.1,"ord_type":"limit","trade_id":4665907,"timestamp":"2023-10-06T17:35:56.000002Z"}]}"#,
        );
        let t: Vec<_> = out.trades.iter().map(|t| (t.trade, t.exch_ts)).collect();
        assert_eq!(
            t,
            vec![
                (
                    Trade {
                        price_tick: 452_852,
                        size_lots: 100_000,
                        aggressor: Some(event::Side::Buy),
                        trade_id: 4_665_906
                    },
                    1_696_613_756_000_001_000
                ),
                (
                    Trade {
                        price_tick: 452_835,
                        size_lots: 10_000_000,
                        aggressor: Some(event::Side::Sell),
                        trade_id: 4_665_907
                    },
                    1_696_613_756_000_002_000
                ),
            ]
        );
        // The trade snapshot is history: not re-published.
        let out = ok(
            &mut a,
            br#"{"channel":"trade","type":"snapshot","data":[{"symbol":"BTC/USD","side":"buy","price":45285.2,"qty":0.001,"ord_type":"market","trade_id":1,"timestamp":"2023-10-06T17:35:56.000001Z"}]}"#,
        );
        assert!(out.trades.is_empty() && out.control);
        let out = ok(
            &mut a,
            br#"{"channel":"ticker","type":"update","data":[{"symbol":"BTC/USD","bid":45283.5,"bid_qty":0.10000000,"ask":45285.2,"ask_qty":0.00100000,"last":45285.2,"volume":1.5,"vwap":45000.1,"low":44000.0,"high":46000.0,"change":10.0,"change_pct":0.02}]}"#,
        );
        assert!(out.control);
        let bbo = a.symbols().list()[0].venue_bbo.unwrap();
        assert_eq!(
            bbo,
            Bbo { bid_tick: 452_835, bid_lots: 10_000_000, ask_tick: 452_852, ask_lots: 100_000 }
        );
        for frame in [
            &br#"{"channel":"heartbeat"}"#[..],
            br#"{"channel":"status","type":"update","data":[{"api_version":"v2","connection_id":1,"system":"online","version":"2.0.0"}]}"#,
            br#"{"method":"pong","req_id":7,"time_in":"2023-10-06T17:35:55.000000Z","time_out":"2023-10-06T17:35:55.000100Z"}"#,
            br#"{"method":"unsubscribe","result":{"channel":"book","depth":10,"symbol":"BTC/USD"},"success":true}"#,
        ] {
            assert!(ok(&mut a, frame).control);
        }
    }

    #[test]
    fn v2_trade_side_must_be_buy_or_sell() {
        let mut a = v2();
        ok(&mut a, V2_SNAPSHOT);
        let (r, _) = run(
            &mut a,
            br#"{"channel":"trade","type":"update","data":[{"symbol":"BTC/USD","side":"up","price":1.0,"qty":1.0}]}"#,
        );
        assert_eq!(r, Err(VenueError::Shape("trade side")));
    }

    #[test]
    fn v2_bad_input() {
        let cases: &[(&[u8], &str)] = &[
            (br#"{"channel":"book","type":"snapshot","data":[{"symbol":"BTC/USD","bids":[{"price":1.0,"#, "json"),
            (br#"{"error":"Currency pair not supported","method":"subscribe","success":false,"time_in":"x","time_out":"y"}"#, "venue_error"),
            (br#"{"channel":"mystery","data":[]}"#, "unknown_type"),
            (br#"{"no":"channel"}"#, "unknown_type"),
            (br#"{"channel":"book","type":"delta","data":[]}"#, "shape"),
            (br#"{"channel":"book","type":"snapshot","data":{}}"#, "shape"),
            (br#"{"channel":"book","type":"snapshot","data":[{"symbol":"BTC/USD","bids":[{"price":4.5e4,"qty":1}],"asks":[]}]}"#, "number"),
            (br#"{"channel":"book","type":"snapshot","data":[{"symbol":"BTC/USD","bids":[{"price":45283.5,"qty":-1.0}],"asks":[]}]}"#, "number"),
            (br#"{"channel":"book","type":"snapshot","data":[{"symbol":"BTC/USD","bids":[{"price":123456789012345678901234567890,"qty":1}],"asks":[]}]}"#, "number"),
            (br#"{"channel":"book","type":"snapshot","data":[{"symbol":"BTC/USD","bids":[{"price":NaN,"qty":1}],"asks":[]}]}"#, "json"),
            (br#"{"channel":"book","type":"snapshot","data":[{"symbol":"BTC/USD","bids":[{"px":1.0,"qty":1}],"asks":[]}]}"#, "shape"),
            (br#"{"channel":"book","type":"snapshot","data":[{"symbol":"BTC/USD","bids":[],"asks":[],"checksum":-1}]}"#, "shape"),
            (br#"{"channel":"book","type":"snapshot","data":[{"symbol":"BTC/USD","bids":[],"asks":[],"checksum":4294967296}]}"#, "shape"),
            (br#"{"channel":"book","type":"snapshot","data":[{"bids":[],"asks":[]}]}"#, "shape"),
            (br#"{"channel":"trade","type":"update","data":[{"symbol":"BTC/USD","side":"buy","price":1.0,"qty":1.0}]}"#, "unknown_symbol"),
            (br#"{"channel":"ticker","type":"update","data":[{"symbol":"BTC/USD","bid":1.0}]}"#, "shape"),
        ];
        for (frame, kind) in cases {
            let mut a = v2();
            let (r, _) = run(&mut a, frame);
            assert_eq!(r.map_err(|e| e.name()), Err(*kind), "{}", String::from_utf8_lossy(frame));
        }
        let mut deep = vec![b'['; 5000];
        deep.extend(vec![b']'; 5000]);
        assert_eq!(run(&mut v2(), &deep).0.map_err(|e| e.name()), Err("json"));
    }

    #[test]
    fn v1_documented_shapes() {
        let mut a = v1();
        let out = ok(
            &mut a,
            br#"[1360,{"as":[["0.000022900","13355.87450757","1618678123.481570"],["0.000023000","100.00000000","1618678120.000001"]],"bs":[["0.000022890","31.75709827","1618678097.847309"]]},"book-1000","ADA/XBT"]"#,
        );
        let b = &out.books[0];
        assert_eq!((b.action, b.checksum, b.truncate), (BookAction::Snapshot, None, Some(1000)));
        assert_eq!(b.exch_ts, 1_618_678_123_481_570_000, "the latest level time");
        let info = a.symbols().get(b.symbol).unwrap();
        assert_eq!((info.price_decimals, info.qty_decimals), (9, 8));
        assert_eq!(out.levels_of(b).len(), 3);
        assert_eq!(out.levels_of(b)[0].px_tick, 22_900);
        // Two payload objects, `a` then `b`, checksum in the last; a republished level ("r").
        let out = ok(
            &mut a,
            br#"[1360,{"a":[["0.000022900","0.00000000","1618678145.920470"],["0.000022950","5.00000000","1618678145.920471","r"]]},{"b":[["0.000022890","1.00000000","1618678145.920708"]],"c":"4105471083"},"book-1000","ADA/XBT"]"#,
        );
        let b = &out.books[0];
        assert_eq!(
            (b.action, b.checksum),
            (BookAction::Update, Some(Checksum::Kraken(4_105_471_083)))
        );
        let got: Vec<_> =
            out.levels_of(b).iter().map(|l| (l.side, l.px_tick, l.qty_lots)).collect();
        assert_eq!(
            got,
            vec![
                (Side::Ask, 22_900, 0),
                (Side::Ask, 22_950, 500_000_000),
                (Side::Bid, 22_890, 100_000_000)
            ]
        );
        // Levels in array order, even when a later one repeats a price.
        let out = ok(
            &mut a,
            br#"[1360,{"b":[["0.000022890","2.00000000","1618678146.000002"],["0.000022890","0.00000000","1618678146.000001"]],"c":"1"},"book-1000","ADA/XBT"]"#,
        );
        let q: Vec<_> = out.levels.iter().map(|l| l.qty_lots).collect();
        assert_eq!(q, vec![200_000_000, 0]);
        // A book-10 channel truncates to 10.
        let out = ok(&mut a, br#"[7,{"as":[],"bs":[["1.0","1.0","1.0"]]},"book-10","XMR/USD"]"#);
        assert_eq!(out.books[0].truncate, Some(10));
    }

    #[test]
    fn v1_trades_tickers_and_control() {
        let mut a = v1();
        let out = ok(
            &mut a,
            br#"[993,[["354.11000000","0.89594024","1618678142.557535","s","l",""],["354.12000000","1.00000000","1618678142.557600","b","m",""]],"trade","XMR/USD"]"#,
        );
        let t: Vec<_> = out.trades.iter().map(|t| (t.trade, t.exch_ts)).collect();
        assert_eq!(
            t,
            vec![
                (
                    Trade {
                        price_tick: 35_411_000_000,
                        size_lots: 89_594_024,
                        aggressor: Some(event::Side::Sell),
                        trade_id: 0
                    },
                    1_618_678_142_557_535_000
                ),
                (
                    Trade {
                        price_tick: 35_412_000_000,
                        size_lots: 100_000_000,
                        aggressor: Some(event::Side::Buy),
                        trade_id: 0
                    },
                    1_618_678_142_557_600_000
                ),
            ]
        );
        let s = a.symbols().find(b"XMR/USD").unwrap();
        let out = ok(
            &mut a,
            br#"[996,{"a":["355.24000000",27,"27.19106411"],"b":["354.32000000",6,"6.87748868"],"c":["355.23000000","1.20454360"],"v":["1.0","2.0"],"p":["1.0","2.0"],"t":[1,2],"l":["1.0","2.0"],"h":["1.0","2.0"],"o":["1.0","2.0"]},"ticker","XMR/USD"]"#,
        );
        assert!(out.control);
        let bbo = a.symbols().get(s).unwrap().venue_bbo.unwrap();
        assert_eq!((bbo.bid_tick, bbo.bid_lots), (35_432_000_000, 687_748_868));
        assert_eq!((bbo.ask_tick, bbo.ask_lots), (35_524_000_000, 2_719_106_411));
        ok(
            &mut a,
            br#"[997,["354.30000000","355.20000000","1618678142.557535","1.00000000","2.00000000"],"spread","XMR/USD"]"#,
        );
        let bbo = a.symbols().get(s).unwrap().venue_bbo.unwrap();
        assert_eq!((bbo.bid_tick, bbo.ask_lots), (35_430_000_000, 200_000_000));
        // A ticker of a pair nothing else named is ignored.
        ok(&mut a, br#"[998,["1.0","2.0","1.0","1.0","1.0"],"spread","NEW/EUR"]"#);
        assert!(a.symbols().find(b"NEW/EUR").is_none());
        for frame in [
            &br#"{"event":"heartbeat"}"#[..],
            br#"{"connectionID":18239578009413566319,"event":"systemStatus","status":"online","version":"1.8.3"}"#,
            br#"{"channelID":1664,"channelName":"book-1000","event":"subscriptionStatus","pair":"WAVES/EUR","status":"subscribed","subscription":{"depth":1000,"name":"book"}}"#,
            br#"{"event":"pong","reqid":1}"#,
            br#"[42,[["1.0","2.0","3.0","4.0","5.0","6.0","7.0","8.0",9]],"ohlc-5","XMR/USD"]"#,
        ] {
            assert!(ok(&mut a, frame).control, "{}", String::from_utf8_lossy(frame));
        }
    }

    #[test]
    fn v1_updates_wait_for_the_snapshot() {
        let mut a = KrakenV1::new(InstrumentRegistry::with_builtins());
        let out = ok(&mut a, br#"[992,{"b":[["354.15000000","5.00000000","1618678133.365913"]],"c":"2583817756"},"book-1000","XMR/USD"]"#);
        assert_eq!((out.books.len(), out.waiting), (0, 1));
    }

    #[test]
    fn v1_bad_input() {
        let cases: &[(&[u8], &str)] = &[
            (b"[1,{\"as\":[[\"1.0\",\"1\",\"1\"]],\"bs\":[]},\"book-10\"", "json"),
            (b"[1,{\"as\":[[\"1.0\",\"-1\",\"1\"]],\"bs\":[]},\"book-10\",\"X/Y\"]", "number"),
            (b"[1,{\"as\":[[\"1e3\",\"1\",\"1\"]],\"bs\":[]},\"book-10\",\"X/Y\"]", "number"),
            (b"[1,{\"as\":[[\"NaN\",\"1\",\"1\"]],\"bs\":[]},\"book-10\",\"X/Y\"]", "number"),
            (b"[1,{\"as\":[[\"123456789012345678901234567890\",\"1\",\"1\"]],\"bs\":[]},\"book-10\",\"X/Y\"]", "number"),
            (b"[1,{\"as\":[[1.5,\"1\",\"1\"]],\"bs\":[]},\"book-10\",\"X/Y\"]", "shape"),
            (b"[1,{\"as\":[[\"1.5\"]],\"bs\":[]},\"book-10\",\"X/Y\"]", "shape"),
            (b"[1,{\"as\":[],\"bs\":[]},\"book-x\",\"X/Y\"]", "shape"),
            (b"[1,{\"as\":[],\"bs\":[]},\"book-99999999999\",\"X/Y\"]", "shape"),
            (b"[1,{\"a\":[[\"1.0\",\"1\",\"1\"]]},\"book-10\",\"NOPE/X\"]", "unknown_symbol"),
            (b"[1,[[\"1.0\",\"1.0\",\"1.0\",\"x\",\"l\",\"\"]],\"trade\",\"X/Y\"]", "shape"),
            (b"[1,{},\"mystery\",\"X/Y\"]", "unknown_type"),
            (b"{\"event\":\"mystery\"}", "unknown_type"),
            (b"{\"event\":\"error\",\"errorMessage\":\"x\"}", "venue_error"),
            (b"{\"event\":\"subscriptionStatus\",\"status\":\"error\",\"errorMessage\":\"x\"}", "venue_error"),
            (b"[1,2]", "shape"),
            (b"[1,2,3,4]", "shape"),
            (b"42", "unknown_type"),
        ];
        for (frame, kind) in cases {
            let mut a = v1();
            let (r, _) = run(&mut a, frame);
            assert_eq!(r.map_err(|e| e.name()), Err(*kind), "{}", String::from_utf8_lossy(frame));
        }
        // A bad level in an update marks the book broken.
        let mut a = v1();
        ok(&mut a, b"[1,{\"as\":[[\"1.0\",\"1.0\",\"1\"]],\"bs\":[]},\"book-10\",\"X/Y\"]");
        let (r, out) =
            run(&mut a, b"[1,{\"a\":[[\"1.0\",\"x\",\"1\"]],\"c\":\"1\"},\"book-10\",\"X/Y\"]");
        assert_eq!((r.map_err(|e| e.name()), out.broken), (Err("number"), Some(0)));
        let (r, out) = run(&mut a, b"[1,{\"a\":[],\"c\":\"-5\"},\"book-10\",\"X/Y\"]");
        assert_eq!((r.map_err(|e| e.name()), out.broken), (Err("shape"), Some(0)));
    }

    #[test]
    fn subscribe_messages_are_as_documented() {
        let a = KrakenV2::new(InstrumentRegistry::new(), 25);
        assert_eq!(
            a.subscribe_messages(&["BTC/USD", "ETH/USD"]),
            vec![
                r#"{"method":"subscribe","params":{"channel":"book","symbol":["BTC/USD","ETH/USD"],"depth":25,"snapshot":true},"req_id":1}"#,
                r#"{"method":"subscribe","params":{"channel":"trade","symbol":["BTC/USD","ETH/USD"]},"req_id":2}"#,
                r#"{"method":"subscribe","params":{"channel":"ticker","symbol":["BTC/USD","ETH/USD"],"event_trigger":"bbo"},"req_id":3}"#,
            ]
        );
        let v1 = KrakenV1::new(InstrumentRegistry::new());
        assert_eq!(
            v1.subscribe_messages(&["XBT/USD"]),
            vec![
                r#"{"event":"subscribe","pair":["XBT/USD"],"subscription":{"name":"book","depth":1000}}"#,
                r#"{"event":"subscribe","pair":["XBT/USD"],"subscription":{"name":"trade"}}"#,
                r#"{"event":"subscribe","pair":["XBT/USD"],"subscription":{"name":"spread"}}"#,
            ]
        );
        assert!(v1.unsubscribe_messages(&["XBT/USD"])[0].starts_with(r#"{"event":"unsubscribe""#));
    }
}

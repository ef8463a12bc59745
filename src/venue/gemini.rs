//! Gemini market data v2 (`wss://api.gemini.com/v2/marketdata`, channel `l2`) and v1
//! (`wss://api.gemini.com/v1/marketdata/SYMBOL`, one symbol per connection).
//!
//! **v2** numbers nothing: gaps cannot be detected, only a crossed book is caught; that
//! symbol is then subscribed again on the open connection
//! ([`Adapter::resubscribe_book_messages`]), and a subscription (or a reconnect) starts again
//! from a full book. The first `l2_updates` of a
//! symbol is the full book and is the one that carries `trades` and `auction_events` (recent
//! history, not re-published as trades); later ones carry only `changes`
//! (`[side, price, new_quantity]`, absolute, `"0"` deletes). Key order varies (2026 frames are
//! alphabetical), which the parser does not care about.
//!
//! **v1** numbers every message (`socket_sequence`, zero-based, heartbeats included); a gap
//! means a lost message and the connection's book resyncs. The first `update` (events with
//! `reason: "initial"`) is the full book; `remaining` is the absolute level size. The
//! documented examples print numbers as JSON numbers, the live feed as strings: both are read
//! as exact text.
//!
//! With [`Parser::Scan`] (the default), v2's `l2_updates` and `trade` messages are read by the
//! venue's scanner (`scan::gemini`, one walk over the frame in place, no tape); anything else,
//! or anything it does not read exactly, by simd-json. Both parsers feed the same handlers.
//!
//! [`Parser::Scan`]: super::scan::Parser::Scan

use simd_json::tape::Value;

use super::json::{field_text, field_uint, Scratch};
use super::protocol::{Protocol, BASE};
use super::scan::coinbase::{ExValue, ScanValue};
use super::scan::gemini::GeminiFrames;
use super::scan::{scan_frame, ScanPath};
use super::time::ms_to_ns;
use super::{num, Adapter, BookAction, GapScope, Parsed, SymbolIdx, Symbols, TradeMsg, VenueError};
use crate::book::{InstrumentRegistry, Side, Venue};
use crate::event::{self, Trade};

/// Gemini v2's transport.
pub const V2_PROTOCOL: Protocol = Protocol {
    endpoint: "wss://api.gemini.com",
    path: "/v2/marketdata",
    max_message: 16 << 20,
    ..BASE
};

/// Gemini v1's transport: one symbol per connection, named in the URL.
pub const V1_PROTOCOL: Protocol = Protocol {
    path: "/v1/marketdata/{symbol}?heartbeat=true",
    symbols_per_connection: Some(1),
    ..V2_PROTOCOL
};

fn side_of(s: Option<&[u8]>) -> Result<Side, VenueError> {
    match s {
        Some(b"buy") | Some(b"bid") => Ok(Side::Bid),
        Some(b"sell") | Some(b"ask") => Ok(Side::Ask),
        _ => Err(VenueError::Shape("side")),
    }
}

/// The fields of a Gemini v2 message that the `l2_updates` and `trade` handlers read, found in
/// a single pass over its keys (as with `get`, the first occurrence of a key wins), from
/// either parser: simd-json's tape ([`GemFields::read`]) or the scanner (`scan::gemini`).
/// Values keep their JSON type; each handler reads the ones its type has.
#[derive(Debug, Clone, Copy)]
pub(crate) struct GemFields<V> {
    /// `type`.
    pub(crate) kind: Option<V>,
    /// `symbol`.
    pub(crate) symbol: Option<V>,
    /// `changes`: `[side, price, new_quantity]` rows.
    pub(crate) changes: Option<V>,
    /// `trades`: only whether it is there (the first `l2_updates` of a subscription).
    pub(crate) trades: Option<V>,
    /// `event_id`: a trade's id.
    pub(crate) event_id: Option<V>,
    /// `timestamp`: a trade's time (ms).
    pub(crate) timestamp: Option<V>,
    /// `price`: a trade's price.
    pub(crate) price: Option<V>,
    /// `quantity`: a trade's size.
    pub(crate) quantity: Option<V>,
    /// `side`: a trade's taker side.
    pub(crate) side: Option<V>,
}

impl<V> Default for GemFields<V> {
    fn default() -> Self {
        GemFields {
            kind: None,
            symbol: None,
            changes: None,
            trades: None,
            event_id: None,
            timestamp: None,
            price: None,
            quantity: None,
            side: None,
        }
    }
}

impl<V> GemFields<V> {
    /// The field `key` fills, if a handler reads it.
    #[inline(always)]
    pub(crate) fn slot(&mut self, key: &[u8]) -> Option<&mut Option<V>> {
        Some(match key {
            b"type" => &mut self.kind,
            b"symbol" => &mut self.symbol,
            b"changes" => &mut self.changes,
            b"trades" => &mut self.trades,
            b"event_id" => &mut self.event_id,
            b"timestamp" => &mut self.timestamp,
            b"price" => &mut self.price,
            b"quantity" => &mut self.quantity,
            b"side" => &mut self.side,
            _ => return None,
        })
    }
}

impl<'t, 'i> GemFields<Value<'t, 'i>> {
    /// Reads the fields of `v` from simd-json's tape (all absent if `v` is not an object).
    #[inline]
    fn read(v: Value<'t, 'i>) -> Self {
        super::json::read_table(v, Self::slot)
    }
}

/// Gemini market data v2. See the [module docs](self).
#[derive(Debug)]
pub struct GeminiV2 {
    symbols: Symbols,
    synced: Vec<bool>,
    scratch: Option<Box<Scratch>>,
    /// The parser choice and the scanner (`l2_updates` and `trade` messages).
    scan: ScanPath<GeminiFrames>,
}

impl GeminiV2 {
    /// An adapter resolving symbols through `registry`.
    pub fn new(registry: InstrumentRegistry) -> Self {
        GeminiV2 {
            symbols: Symbols::new(Venue::Gemini, registry),
            synced: Vec::new(),
            scratch: Some(Box::new(Scratch::new())),
            scan: ScanPath::new(),
        }
    }

    /// What the scanner read: an `l2_updates` or `trade` message; `None` (simd-json reads
    /// the frame) for any other type.
    fn scanned(
        &mut self,
        f: &GemFields<ScanValue<'_>>,
        out: &mut Parsed,
    ) -> Option<Result<(), VenueError>> {
        match f.kind?.text()? {
            b"l2_updates" => Some(self.l2(f, out)),
            b"trade" => Some(self.trade(f, out)),
            _ => None,
        }
    }

    fn frame(&mut self, root: Value<'_, '_>, out: &mut Parsed) -> Result<(), VenueError> {
        match field_text(root, "type") {
            Some(b"l2_updates") => self.l2(&GemFields::read(root), out),
            Some(b"trade") => self.trade(&GemFields::read(root), out),
            Some(b"heartbeat") | Some(b"subscribe") | Some(b"subscription_ack") => {
                out.control = true;
                Ok(())
            }
            Some(b"error") => Err(VenueError::VenueReported),
            Some(b"candles_1m_updates") | Some(b"candles_5m_updates") | Some(b"auction_result") => {
                out.control = true;
                Ok(())
            }
            _ => {
                if root.get("result").is_some() && field_text(root, "result") == Some(b"error") {
                    return Err(VenueError::VenueReported);
                }
                Err(VenueError::UnknownType)
            }
        }
    }

    /// A `trade` message, from either parser.
    fn trade<'i, V: ExValue<'i>>(
        &mut self,
        m: &GemFields<V>,
        out: &mut Parsed,
    ) -> Result<(), VenueError> {
        let key = m.symbol.and_then(V::text).ok_or(VenueError::Shape("symbol"))?;
        let sym = self.symbols.resolve(key).ok_or(VenueError::UnknownSymbol)?;
        let inst = &self.symbols.list()[usize::from(sym)].instrument;
        let f = |v: Option<V>| v.and_then(V::text).ok_or(VenueError::Shape("trade field"));
        let aggressor = match f(m.side)? {
            b"buy" => event::Side::Buy,
            b"sell" => event::Side::Sell,
            _ => return Err(VenueError::Shape("trade side")),
        };
        out.trades.push(TradeMsg {
            symbol: sym,
            trade: Trade {
                price_tick: inst.price_ticks(f(m.price)?).map_err(num("price"))?,
                size_lots: inst.qty_lots(f(m.quantity)?).map_err(num("quantity"))?,
                aggressor: Some(aggressor),
                trade_id: m.event_id.and_then(V::uint).unwrap_or(0),
            },
            exch_ts: m.timestamp.and_then(V::uint).map_or(0, ms_to_ns),
        });
        Ok(())
    }

    /// An `l2_updates` message, from either parser.
    fn l2<'i, V: ExValue<'i>>(
        &mut self,
        m: &GemFields<V>,
        out: &mut Parsed,
    ) -> Result<(), VenueError> {
        let key = m.symbol.and_then(V::text).ok_or(VenueError::Shape("symbol"))?;
        let changes = m.changes.filter(|c| c.is_array()).ok_or(VenueError::Shape("changes"))?;
        // Only the first message of a subscription carries the trade history.
        let full = m.trades.is_some();
        let sym = if full {
            let sym = match self.symbols.resolve(key) {
                Some(s) => s,
                None => {
                    let (mut px, mut qty) = (Vec::new(), Vec::new());
                    changes.each_change(|[_, p, q]| {
                        px.extend(p);
                        qty.extend(q);
                        Ok(())
                    })?;
                    self.symbols.learn(key, px.into_iter(), qty.into_iter())?
                }
            };
            let i = usize::from(sym);
            if self.synced.len() <= i {
                self.synced.resize(i + 1, false);
            }
            self.synced[i] = true;
            sym
        } else {
            let sym = self.symbols.resolve(key).ok_or(VenueError::UnknownSymbol)?;
            if !self.synced.get(usize::from(sym)).copied().unwrap_or(false) {
                out.waiting += 1;
                return Ok(());
            }
            sym
        };
        let action = if full { BookAction::Snapshot } else { BookAction::Update };
        out.begin_book(sym, action, 0);
        let inst = &self.symbols.list()[usize::from(sym)].instrument;
        let r = changes.each_change(|[side, px, q]| {
            let side = side_of(side)?;
            let px = px.ok_or(VenueError::Shape("price"))?;
            let q = q.ok_or(VenueError::Shape("quantity"))?;
            let px_tick = out.book_price(inst, px).map_err(num("price"))?;
            let qty_lots = inst.qty_lots(q).map_err(num("quantity"))?;
            out.level(side, px_tick, qty_lots);
            Ok(())
        });
        if let Err(e) = r {
            out.broken = Some(sym);
            return Err(e);
        }
        out.finish_book(None, None);
        Ok(())
    }
}

super::scan::scan_controls!(GeminiV2, "`l2_updates` and `trade`");

impl Adapter for GeminiV2 {
    fn venue(&self) -> Venue {
        Venue::Gemini
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
        if let Some(s) = self.synced.get_mut(usize::from(symbol)) {
            *s = false;
        }
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
        vec![v2_request("subscribe", symbols)]
    }

    fn unsubscribe_messages(&self, symbols: &[&str]) -> Vec<String> {
        vec![v2_request("unsubscribe", symbols)]
    }

    /// Gemini starts a subscription with the full book: the symbol's `l2` subscription is
    /// dropped and made again. `l2` carries the symbol's trades too, so trades printed between
    /// the two requests are not received (a reconnect would lose them as well, for every
    /// symbol).
    fn resubscribe_book_messages(&self, symbol: &str) -> Option<Vec<String>> {
        super::resubscription(|kind| v2_request(kind, &[symbol]))
    }
}

fn v2_request(kind: &str, symbols: &[&str]) -> String {
    let list = symbols.iter().map(|s| format!("\"{s}\"")).collect::<Vec<_>>().join(",");
    format!("{{\"type\":\"{kind}\",\"subscriptions\":[{{\"name\":\"l2\",\"symbols\":[{list}]}}]}}")
}

/// Gemini market data v1, one symbol per connection. See the [module docs](self).
#[derive(Debug)]
pub struct GeminiV1 {
    symbols: Symbols,
    symbol: SymbolIdx,
    synced: bool,
    next_seq: Option<u64>,
    scratch: Option<Box<Scratch>>,
    /// Frames of several connections arrive merged: `socket_sequence` is checked per line by
    /// the arbiter ([`super::AnyAdapter::set_merged_lines`]), not here.
    pub(crate) merged: bool,
}

impl GeminiV1 {
    /// An adapter for the connection of `symbol` (as the URL names it, e.g. `BTCUSD`). Its
    /// instrument must be configured or built in: v1 messages do not name the symbol, so
    /// nothing can be learned per message.
    pub fn new(registry: InstrumentRegistry, symbol: &str) -> Result<Self, VenueError> {
        let mut symbols = Symbols::new(Venue::GeminiV1, registry);
        let sym = symbols.resolve(symbol.as_bytes()).ok_or(VenueError::UnknownSymbol)?;
        Ok(GeminiV1 {
            symbols,
            symbol: sym,
            synced: false,
            next_seq: None,
            scratch: Some(Box::new(Scratch::new())),
            merged: false,
        })
    }

    /// The WebSocket path for this symbol.
    pub fn path(&self) -> String {
        let key = self.symbols.get(self.symbol).map_or("", |s| s.key.as_str());
        format!("/v1/marketdata/{}?heartbeat=true", key.to_ascii_lowercase())
    }

    fn frame(&mut self, root: Value<'_, '_>, out: &mut Parsed) -> Result<(), VenueError> {
        let kind = field_text(root, "type").ok_or(VenueError::UnknownType)?;
        if let Some(seq) = root.get("socket_sequence").filter(|_| !self.merged) {
            let seq = super::json::uint(seq).ok_or(VenueError::Shape("socket_sequence"))?;
            match self.next_seq {
                Some(want) if seq < want => {
                    out.stale += 1;
                    return Ok(());
                }
                Some(want) if seq != want => {
                    out.gaps.push(GapScope::Connection);
                    self.synced = false;
                }
                _ => {}
            }
            self.next_seq = Some(seq + 1);
        }
        match kind {
            b"heartbeat" => {
                out.control = true;
                Ok(())
            }
            b"update" => self.update(root, out),
            _ => Err(VenueError::UnknownType),
        }
    }

    fn update(&mut self, root: Value<'_, '_>, out: &mut Parsed) -> Result<(), VenueError> {
        let events = root.get_array("events").ok_or(VenueError::Shape("events"))?;
        let initial = events.iter().any(|e| field_text(e, "reason") == Some(b"initial"));
        let sym = self.symbol;
        let exch_ts = field_uint(root, "timestampms").map_or(0, ms_to_ns);
        let book = initial || self.synced;
        if initial {
            self.synced = true;
        }
        let has_changes = events.iter().any(|e| field_text(e, "type") == Some(b"change"));
        if has_changes && !book {
            out.waiting += 1;
        }
        if has_changes && book {
            let action = if initial { BookAction::Snapshot } else { BookAction::Update };
            out.begin_book(sym, action, exch_ts);
        }
        let inst = &self.symbols.list()[usize::from(sym)].instrument;
        for e in events.iter() {
            let r = (|| {
                let f = |k: &'static str| field_text(e, k).ok_or(VenueError::Shape("event field"));
                match field_text(e, "type") {
                    Some(b"change") if book => {
                        let side = side_of(field_text(e, "side"))?;
                        let px_tick = out.book_price(inst, f("price")?).map_err(num("price"))?;
                        let qty_lots = inst.qty_lots(f("remaining")?).map_err(num("remaining"))?;
                        out.level(side, px_tick, qty_lots);
                    }
                    Some(b"change") => {}
                    Some(b"trade") => {
                        let aggressor = match f("makerSide")? {
                            b"bid" => event::Side::Sell,
                            b"ask" => event::Side::Buy,
                            _ => return Err(VenueError::Shape("makerSide")),
                        };
                        out.trades.push(TradeMsg {
                            symbol: sym,
                            trade: Trade {
                                price_tick: inst.price_ticks(f("price")?).map_err(num("price"))?,
                                size_lots: inst.qty_lots(f("amount")?).map_err(num("amount"))?,
                                aggressor: Some(aggressor),
                                trade_id: field_uint(e, "tid").unwrap_or(0),
                            },
                            exch_ts,
                        });
                    }
                    Some(
                        b"auction_open"
                        | b"auction_indicative"
                        | b"auction_result"
                        | b"block_trade",
                    ) => {}
                    _ => return Err(VenueError::Shape("event type")),
                }
                Ok(())
            })();
            if let Err(err) = r {
                out.broken = Some(sym);
                return Err(err);
            }
        }
        if has_changes && book {
            out.finish_book(None, None);
        }
        Ok(())
    }
}

impl Adapter for GeminiV1 {
    fn venue(&self) -> Venue {
        Venue::GeminiV1
    }

    fn handle_frame(&mut self, frame: &[u8], _: u64, out: &mut Parsed) -> Result<(), VenueError> {
        let mut scratch = self.scratch.take().unwrap_or_default();
        // The documented examples print prices as JSON numbers: read them as exact text.
        let r = scratch.parse(frame, true, |root| self.frame(root, out));
        self.scratch = Some(scratch);
        r
    }

    fn resync(&mut self, _symbol: SymbolIdx) {
        self.synced = false;
    }

    fn reset_connection(&mut self) {
        self.synced = false;
        self.next_seq = None;
    }

    fn symbols(&self) -> &Symbols {
        &self.symbols
    }

    fn symbols_mut(&mut self) -> &mut Symbols {
        &mut self.symbols
    }

    /// v1 subscribes by URL: there is nothing to send.
    fn subscribe_messages(&self, _symbols: &[&str]) -> Vec<String> {
        Vec::new()
    }

    /// v1 unsubscribes by closing the connection.
    fn unsubscribe_messages(&self, _symbols: &[&str]) -> Vec<String> {
        Vec::new()
    }
}

//! OKX v5 public channels: order books (`books`, `books5`, `bbo-tbt`, `books-l2-tbt`,
//! `books50-l2-tbt`), `trades`/`trades-all` and `tickers`; for swaps and futures (opt-in,
//! [`Okx::derivatives`]) `funding-rate`, `mark-price`, `open-interest` and
//! `liquidation-orders` (one stream per instrument type: entries for other instruments are
//! counted and skipped).
//!
//! Books: a `snapshot` then `update`s with absolute sizes (`"0"` deletes). When the messages
//! carry `seqId`/`prevSeqId` (the current API), each update's `prevSeqId` must equal the
//! previous message's `seqId`, otherwise it is a gap and the book resyncs. The documented
//! exceptions are honoured: the keep-alive update with `seqId == prevSeqId` and no levels, and
//! the reset after maintenance where one message has `seqId < prevSeqId` (its `prevSeqId`
//! still chains; numbering continues from its `seqId`). Captures older than those fields
//! carry no sequence: only the checksum guards them.
//!
//! The checksum (CRC32 of the 25 best levels interleaved, signed) is verified by the engine
//! whenever OKX sends a non-zero one. `books5` and `bbo-tbt` send a full book every time and
//! are applied as snapshots.
//!
//! Parsing: book and trade pushes (nearly all of the traffic) are read by the OKX scanner
//! ([`super::scan::okx`], with [`Parser::Scan`], the default) through the same handlers as
//! the simd-json path (each `data` entry's fields in one table, `Entry`); every other frame,
//! and any book or trade push the scanner does not read exactly, goes to simd-json (counted in
//! [`Parsed::scan_fallback`]).
//!
//! [`Parser::Scan`]: super::scan::Parser::Scan

use simd_json::tape::Value;

use super::json::{field_text, Scratch};
use super::protocol::{Keepalive, Protocol, BASE};
use super::scan::okx::{OkxFrames, Push, ScanFrame};
use super::scan::{scan_frame, FieldValue, ScanPath};
use super::time::ms_to_ns;
use super::{deriv_price, deriv_rate, deriv_size};
use super::{
    num, Adapter, BookAction, Checksum, GapScope, Parsed, SymbolIdx, Symbols, TradeMsg, VenueError,
};
use crate::book::{InstrumentRegistry, Side, Venue};
use crate::event::{self, Bbo, Derivative, Funding, Liquidation, MarkIndex, Trade};

/// OKX v5's transport: OKX closes a connection idle for 30 s unless the client sends `ping`.
pub const PROTOCOL: Protocol = Protocol {
    endpoint: "wss://ws.okx.com:8443",
    path: "/ws/v5/public",
    keepalive: Some(Keepalive {
        text: "ping",
        every: std::time::Duration::from_secs(20),
        reply: "pong",
    }),
    ..BASE
};

#[derive(Debug, Default, Clone, Copy)]
struct SymState {
    synced: bool,
    /// The `seqId` of the last message applied, when the venue sends them.
    seq: Option<i64>,
}

/// The OKX adapter. See the [module docs](self).
#[derive(Debug)]
pub struct Okx {
    symbols: Symbols,
    states: Vec<SymState>,
    scratch: Option<Box<Scratch>>,
    /// The book channel [`Adapter::subscribe_messages`] asks for.
    pub channel: &'static str,
    /// Also subscribe the derivatives channels of swaps and futures: `mark-price` and
    /// `open-interest` (and `funding-rate` on swaps) per instrument, `liquidation-orders` per
    /// instrument type.
    pub derivatives: bool,
    /// Which parser reads frames ([`Parser::Scan`] by default), and the scanner's state.
    ///
    /// [`Parser::Scan`]: super::scan::Parser::Scan
    scan: ScanPath<OkxFrames>,
}

/// The fields of one `data` entry that the book, trade and ticker handlers read, found in a
/// single pass over its keys (as with `get`, the first occurrence of a key wins). Values keep
/// their JSON type; each handler reads the ones its channel has.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Entry<V> {
    /// `asks`: a book's ask levels.
    pub(crate) asks: Option<V>,
    /// `bids`: a book's bid levels.
    pub(crate) bids: Option<V>,
    /// `ts`: the exchange time, ms (a string).
    pub(crate) ts: Option<V>,
    /// `checksum`: a book's CRC32, signed.
    pub(crate) checksum: Option<V>,
    /// `seqId`: a book message's sequence id.
    pub(crate) seq_id: Option<V>,
    /// `prevSeqId`: the previous book message's `seqId`.
    pub(crate) prev_seq_id: Option<V>,
    /// `side`: a trade's taker side.
    pub(crate) side: Option<V>,
    /// `px`: a trade's price.
    pub(crate) px: Option<V>,
    /// `sz`: a trade's size.
    pub(crate) sz: Option<V>,
    /// `tradeId`: a trade's id.
    pub(crate) trade_id: Option<V>,
    /// `bidPx`: a ticker's best bid price (`""`: no bid).
    pub(crate) bid_px: Option<V>,
    /// `bidSz`: a ticker's best bid size.
    pub(crate) bid_sz: Option<V>,
    /// `askPx`: a ticker's best ask price (`""`: no ask).
    pub(crate) ask_px: Option<V>,
    /// `askSz`: a ticker's best ask size.
    pub(crate) ask_sz: Option<V>,
}

impl<V> Default for Entry<V> {
    fn default() -> Self {
        Entry {
            asks: None,
            bids: None,
            ts: None,
            checksum: None,
            seq_id: None,
            prev_seq_id: None,
            side: None,
            px: None,
            sz: None,
            trade_id: None,
            bid_px: None,
            bid_sz: None,
            ask_px: None,
            ask_sz: None,
        }
    }
}

impl<V> Entry<V> {
    /// The field `key` fills, if a handler reads it.
    #[inline(always)]
    pub(crate) fn slot(&mut self, key: &[u8]) -> Option<&mut Option<V>> {
        Some(match key {
            b"asks" => &mut self.asks,
            b"bids" => &mut self.bids,
            b"ts" => &mut self.ts,
            b"checksum" => &mut self.checksum,
            b"seqId" => &mut self.seq_id,
            b"prevSeqId" => &mut self.prev_seq_id,
            b"side" => &mut self.side,
            b"px" => &mut self.px,
            b"sz" => &mut self.sz,
            b"tradeId" => &mut self.trade_id,
            b"bidPx" => &mut self.bid_px,
            b"bidSz" => &mut self.bid_sz,
            b"askPx" => &mut self.ask_px,
            b"askSz" => &mut self.ask_sz,
            _ => return None,
        })
    }
}

impl<'t, 'i> Entry<Value<'t, 'i>> {
    /// Reads the fields of `v` from simd-json's tape (all absent if `v` is not an object).
    #[inline]
    fn read(v: Value<'t, 'i>) -> Self {
        super::json::read_table(v, Self::slot)
    }
}

/// The text of a field of `d` (a trade's), `Shape(what)` if absent or not a string.
#[inline]
fn text_of<'i, V: FieldValue<'i>>(
    v: Option<V>,
    what: &'static str,
) -> Result<&'i [u8], VenueError> {
    v.and_then(V::text).ok_or(VenueError::Shape(what))
}

/// A book side's levels `[[price, size, …], …]` (absent or not an array: none).
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

impl Okx {
    /// An adapter subscribing to `books` (400 levels, 100 ms).
    pub fn new(registry: InstrumentRegistry) -> Self {
        Self::with_channel(registry, "books")
    }

    /// An adapter subscribing to another book channel (`books-l2-tbt` needs a login).
    pub fn with_channel(registry: InstrumentRegistry, channel: &'static str) -> Self {
        Okx {
            symbols: Symbols::new(Venue::Okx, registry),
            states: Vec::new(),
            scratch: Some(Box::new(Scratch::new())),
            channel,
            derivatives: false,
            scan: ScanPath::new(),
        }
    }

    /// Handles a frame the scanner read, with the same handlers the simd-json path calls for
    /// its channel; `None` for the frames the scanner leaves to simd-json (the frame is then
    /// parsed again there, nothing having been written to `out`): see [`ScanFrame::push`].
    #[inline]
    fn scanned(&mut self, f: &ScanFrame<'_>, out: &mut Parsed) -> Option<Result<(), VenueError>> {
        let (push, inst_id) = f.push()?;
        Some(match push {
            Push::Book { snapshot } => {
                f.entries().iter().try_for_each(|d| self.book(inst_id, d, snapshot, out))
            }
            Push::Trades => f.entries().iter().try_for_each(|t| self.trade(inst_id, t, out)),
            Push::Tickers => {
                out.control = true;
                f.entries().iter().try_for_each(|t| self.ticker(inst_id, t))
            }
        })
    }

    fn state(&mut self, i: SymbolIdx) -> &mut SymState {
        super::state_slot(&mut self.states, i)
    }

    fn frame(&mut self, root: Value<'_, '_>, out: &mut Parsed) -> Result<(), VenueError> {
        if let Some(ev) = field_text(root, "event") {
            out.control = true;
            return match ev {
                // `notice`: a service upgrade will close the connection soon.
                b"subscribe" | b"unsubscribe" | b"login" | b"channel-conn-count" | b"notice" => {
                    Ok(())
                }
                b"error" | b"channel-conn-count-error" => Err(VenueError::VenueReported),
                _ => Err(VenueError::UnknownType),
            };
        }
        let arg = root.get("arg").ok_or(VenueError::UnknownType)?;
        let channel = field_text(arg, "channel").ok_or(VenueError::Shape("arg.channel"))?;
        let data = root.get_array("data").ok_or(VenueError::Shape("data"))?;
        if channel == b"liquidation-orders" {
            // Subscribed by instrument type: each entry names its instrument.
            out.control = true;
            for d in data.iter() {
                self.liquidations(d, out)?;
            }
            return Ok(());
        }
        let inst_id = field_text(arg, "instId").ok_or(VenueError::Shape("arg.instId"))?;
        match channel {
            b"books" | b"books-l2-tbt" | b"books50-l2-tbt" | b"books5" | b"bbo-tbt" => {
                let snapshot = match field_text(root, "action") {
                    Some(b"snapshot") | None => true,
                    Some(b"update") => false,
                    Some(_) => return Err(VenueError::Shape("action")),
                };
                for d in data.iter() {
                    self.book(inst_id, &Entry::read(d), snapshot, out)?;
                }
                Ok(())
            }
            b"trades" | b"trades-all" => {
                for t in data.iter() {
                    self.trade(inst_id, &Entry::read(t), out)?;
                }
                Ok(())
            }
            b"tickers" => {
                out.control = true;
                for t in data.iter() {
                    self.ticker(inst_id, &Entry::read(t))?;
                }
                Ok(())
            }
            b"funding-rate" | b"mark-price" | b"open-interest" => {
                out.control = true;
                for d in data.iter() {
                    self.derivative(channel, inst_id, d, out)?;
                }
                Ok(())
            }
            _ => Err(VenueError::UnknownType),
        }
    }

    /// One book entry, from either parser.
    #[inline]
    fn book<'i, V: FieldValue<'i>>(
        &mut self,
        inst_id: &[u8],
        d: &Entry<V>,
        snapshot: bool,
        out: &mut Parsed,
    ) -> Result<(), VenueError> {
        let seq = d.seq_id.and_then(V::int);
        let prev = d.prev_seq_id.and_then(V::int);
        let sym = if snapshot {
            match self.symbols.resolve(inst_id) {
                Some(s) => s,
                None => {
                    let texts = |v: Option<V>, size: bool| {
                        v.into_iter().flat_map(move |v| v.level_texts(size))
                    };
                    let px = texts(d.asks, false).chain(texts(d.bids, false));
                    let qty = texts(d.asks, true).chain(texts(d.bids, true));
                    self.symbols.learn(inst_id, px, qty)?
                }
            }
        } else {
            self.symbols.resolve(inst_id).ok_or(VenueError::UnknownSymbol)?
        };
        let st = self.state(sym);
        if snapshot {
            *st = SymState { synced: true, seq };
        } else {
            if !st.synced {
                out.waiting += 1;
                return Ok(());
            }
            if let (Some(last), Some(prev)) = (st.seq, prev) {
                if prev != last {
                    *st = SymState::default();
                    out.gaps.push(GapScope::Symbol(sym));
                    return Ok(());
                }
            }
            // A reset (seq < prev) is accepted: numbering continues from `seq`. A message
            // without ids leaves nothing to chain the next one to.
            st.seq = seq;
        }
        let exch_ts = d.ts.and_then(V::text).and_then(super::json::parse_u64).map_or(0, ms_to_ns);
        let action = if snapshot { BookAction::Snapshot } else { BookAction::Update };
        out.begin_book(sym, action, exch_ts);
        let inst = &self.symbols.list()[usize::from(sym)].instrument;
        let r = levels(d.bids, Side::Bid, inst, out)
            .and_then(|()| levels(d.asks, Side::Ask, inst, out));
        if let Err(e) = r {
            out.broken = Some(sym);
            return Err(e);
        }
        let checksum = match d.checksum {
            None => None,
            Some(c) => match c.int().and_then(|c| i32::try_from(c).ok()) {
                Some(0) => None,
                Some(c) => Some(Checksum::Okx(c)),
                None => {
                    out.broken = Some(sym);
                    return Err(VenueError::Shape("checksum is not an i32"));
                }
            },
        };
        out.finish_book(checksum, None);
        Ok(())
    }

    /// One trade entry, from either parser.
    #[inline]
    fn trade<'i, V: FieldValue<'i>>(
        &mut self,
        inst_id: &[u8],
        t: &Entry<V>,
        out: &mut Parsed,
    ) -> Result<(), VenueError> {
        let sym = self.symbols.resolve(inst_id).ok_or(VenueError::UnknownSymbol)?;
        let inst = &self.symbols.list()[usize::from(sym)].instrument;
        let f = |v: Option<V>| text_of(v, "trade field");
        let aggressor = match f(t.side)? {
            b"buy" => event::Side::Buy,
            b"sell" => event::Side::Sell,
            _ => return Err(VenueError::Shape("trade side")),
        };
        out.trades.push(TradeMsg {
            symbol: sym,
            trade: Trade {
                price_tick: inst.price_ticks(f(t.px)?).map_err(num("px"))?,
                size_lots: inst.qty_lots(f(t.sz)?).map_err(num("sz"))?,
                aggressor: Some(aggressor),
                trade_id: super::json::parse_u64(f(t.trade_id)?).unwrap_or(0),
            },
            exch_ts: super::json::parse_u64(f(t.ts)?).map_or(0, ms_to_ns),
        });
        Ok(())
    }

    /// One ticker entry, from either parser: the venue's own best bid and ask, kept for
    /// cross-checks.
    #[inline]
    fn ticker<'i, V: FieldValue<'i>>(
        &mut self,
        inst_id: &[u8],
        t: &Entry<V>,
    ) -> Result<(), VenueError> {
        let Some(sym) = self.symbols.resolve(inst_id) else {
            return Ok(());
        };
        let info = self.symbols.get_mut(sym).ok_or(VenueError::UnknownSymbol)?;
        let inst = &info.instrument;
        let f = |v: Option<V>| text_of(v, "ticker field");
        // An empty side is sent as `""` (no bid or no ask): 0 ticks, 0 lots.
        let px = |v: Option<V>, k: &'static str| match f(v)? {
            b"" => Ok(0),
            v => inst.price_ticks(v).map_err(num(k)),
        };
        let sz = |v: Option<V>, k: &'static str| match f(v)? {
            b"" => Ok(0),
            v => inst.qty_lots(v).map_err(num(k)),
        };
        let bbo = Bbo {
            bid_tick: px(t.bid_px, "bidPx")?,
            bid_lots: sz(t.bid_sz, "bidSz")?,
            ask_tick: px(t.ask_px, "askPx")?,
            ask_lots: sz(t.ask_sz, "askSz")?,
        };
        info.venue_bbo = Some(bbo);
        Ok(())
    }
}

super::scan::scan_controls!(Okx, "order-book and trade");

impl Okx {
    /// One entry of `funding-rate` (`fundingRate`, settled at `fundingTime`), `mark-price`
    /// (`markPx`) or `open-interest` (`oi`, in contracts: the book's unit).
    fn derivative(
        &mut self,
        channel: &[u8],
        inst_id: &[u8],
        d: Value<'_, '_>,
        out: &mut Parsed,
    ) -> Result<(), VenueError> {
        let f = |k: &'static str| field_text(d, k).ok_or(VenueError::Shape("derivatives field"));
        let ms = |k: &'static str| -> Result<u64, VenueError> {
            super::json::parse_u64(f(k)?).map(ms_to_ns).ok_or(VenueError::Shape("time"))
        };
        let exch_ts = ms("ts")?;
        super::push_deriv(&self.symbols, inst_id, exch_ts, out, |inst| {
            Ok(Some(match channel {
                b"funding-rate" => Derivative::Funding(Funding {
                    rate: deriv_rate(f("fundingRate")?, "fundingRate")?,
                    // When the current rate is charged (`nextFundingTime`: the period after).
                    next_funding_ts: ms("fundingTime")?,
                }),
                b"mark-price" => Derivative::MarkIndex(MarkIndex {
                    mark: Some(deriv_price(inst, f("markPx")?, "markPx")?),
                    index: None,
                }),
                _ => Derivative::OpenInterest(deriv_size(inst, f("oi")?, "oi")?),
            }))
        })
    }

    /// One entry of `liquidation-orders`: the instrument and its `details` (`side` of the
    /// liquidation order, bankruptcy price `bkPx`, size `sz` in contracts, `ts`).
    fn liquidations(&mut self, d: Value<'_, '_>, out: &mut Parsed) -> Result<(), VenueError> {
        let inst_id = field_text(d, "instId").ok_or(VenueError::Shape("instId"))?;
        let details = d.get_array("details").ok_or(VenueError::Shape("details"))?;
        for l in details.iter() {
            let f =
                |k: &'static str| field_text(l, k).ok_or(VenueError::Shape("liquidation field"));
            let side = match f("side")? {
                b"buy" => event::Side::Buy,
                b"sell" => event::Side::Sell,
                _ => return Err(VenueError::Shape("liquidation side")),
            };
            let exch_ts =
                super::json::parse_u64(f("ts")?).map(ms_to_ns).ok_or(VenueError::Shape("ts"))?;
            let (px, sz) = (f("bkPx")?, f("sz")?);
            super::push_deriv(&self.symbols, inst_id, exch_ts, out, |inst| {
                Ok(Some(Derivative::Liquidation(Liquidation {
                    side,
                    price: deriv_price(inst, px, "bkPx")?,
                    size: deriv_size(inst, sz, "sz")?,
                })))
            })?;
        }
        Ok(())
    }
}

impl Adapter for Okx {
    fn venue(&self) -> Venue {
        Venue::Okx
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
        let r = scratch.parse(frame, false, |root| self.frame(root, out));
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
        vec![request("subscribe", self.channel, symbols, self.derivatives)]
    }

    fn unsubscribe_messages(&self, symbols: &[&str]) -> Vec<String> {
        vec![request("unsubscribe", self.channel, symbols, self.derivatives)]
    }

    /// OKX answers a subscription with a fresh `snapshot` of the book: one instrument's book
    /// channel is unsubscribed and subscribed again (its trades and tickers keep flowing).
    fn resubscribe_book_messages(&self, symbol: &str) -> Option<Vec<String>> {
        super::resubscription(|op| {
            format!(
                "{{\"op\":\"{op}\",\"args\":[{{\"channel\":\"{}\",\"instId\":\"{symbol}\"}}]}}",
                self.channel
            )
        })
    }

    /// OKX takes 480 subscribe, unsubscribe and login requests per connection per hour.
    fn subscription_budget(&self) -> Option<(usize, std::time::Duration)> {
        Some((480, std::time::Duration::from_secs(3600)))
    }
}

/// The instrument type of an OKX instrument id: `SWAP` (`BTC-USDT-SWAP`), `FUTURES`
/// (`BTC-USD-220527`), `OPTION` (`BTC-USD-220527-30000-C`) or `SPOT` (`BTC-USDT`).
fn inst_type(inst_id: &str) -> &'static str {
    let parts = inst_id.split('-').count();
    if inst_id.ends_with("-SWAP") {
        "SWAP"
    } else if parts == 3 {
        "FUTURES"
    } else if parts >= 5 {
        "OPTION"
    } else {
        "SPOT"
    }
}

fn request(op: &str, book: &str, symbols: &[&str], derivatives: bool) -> String {
    let mut args = Vec::new();
    let mut types: Vec<&str> = Vec::new();
    for s in symbols {
        for ch in [book, "trades", "tickers"] {
            args.push(format!("{{\"channel\":\"{ch}\",\"instId\":\"{s}\"}}"));
        }
        let kind = inst_type(s);
        if !derivatives || !matches!(kind, "SWAP" | "FUTURES") {
            continue;
        }
        let funding: &[&str] = if kind == "SWAP" { &["funding-rate"] } else { &[] };
        for ch in ["mark-price", "open-interest"].iter().chain(funding) {
            args.push(format!("{{\"channel\":\"{ch}\",\"instId\":\"{s}\"}}"));
        }
        if !types.contains(&kind) {
            types.push(kind);
        }
    }
    for t in types {
        args.push(format!("{{\"channel\":\"liquidation-orders\",\"instType\":\"{t}\"}}"));
    }
    format!("{{\"op\":\"{op}\",\"args\":[{}]}}", args.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::venue::LevelOp;

    const SNAPSHOT: &[u8] = br#"{"arg":{"channel":"books","instId":"BTC-USD-220527"},"action":"snapshot","data":[{"asks":[["30238.8","2","0","1"],["30240.1","10","0","2"]],"bids":[["30233.6","3","0","1"]],"ts":"1652459225393","checksum":1054815633}]}"#;
    const UPDATE: &[u8] = br#"{"arg":{"channel":"books","instId":"BTC-USD-220527"},"action":"update","data":[{"asks":[["30249.4","0","0","0"],["30261","4","0","1"]],"bids":[["30182.6","452","0","1"]],"ts":"1652459225464","checksum":-914047754}]}"#;

    fn okx() -> Okx {
        Okx::new(InstrumentRegistry::with_builtins())
    }

    fn run(a: &mut Okx, frame: &[u8]) -> (Result<(), VenueError>, Parsed) {
        let mut out = Parsed::default();
        let r = a.handle_frame(frame, 0, &mut out);
        (r, out)
    }

    fn ok(a: &mut Okx, frame: &[u8]) -> Parsed {
        let (r, out) = run(a, frame);
        assert_eq!(r, Ok(()), "{}", String::from_utf8_lossy(frame));
        out
    }

    /// A `books` message with sequence ids and one bid.
    fn seq_msg(action: &str, prev: i64, seq: i64, bids: &str) -> String {
        format!(
            r#"{{"arg":{{"channel":"books","instId":"BTC-USDT"}},"action":"{action}","data":[{{"asks":[["30001","1","0","1"]],"bids":[{bids}],"ts":"1597026383085","checksum":-855196043,"prevSeqId":{prev},"seqId":{seq}}}]}}"#
        )
    }

    #[test]
    fn captured_snapshot_and_update_shapes() {
        let mut a = okx();
        let out = ok(&mut a, SNAPSHOT);
        let b = &out.books[0];
        assert_eq!(b.action, BookAction::Snapshot);
        assert_eq!((b.checksum, b.truncate), (Some(Checksum::Okx(1_054_815_633)), None));
        assert_eq!(b.exch_ts, 1_652_459_225_393_000_000);
        assert_eq!(out.levels_of(b).len(), 3);
        assert_eq!(out.levels_of(b)[0], LevelOp { side: Side::Bid, px_tick: 302_336, qty_lots: 3 });
        let out = ok(&mut a, UPDATE);
        let b = &out.books[0];
        assert_eq!((b.action, b.checksum), (BookAction::Update, Some(Checksum::Okx(-914_047_754))));
        let got: Vec<_> =
            out.levels_of(b).iter().map(|l| (l.side, l.px_tick, l.qty_lots)).collect();
        assert_eq!(
            got,
            vec![(Side::Bid, 301_826, 452), (Side::Ask, 302_494, 0), (Side::Ask, 302_610, 4)]
        );
        assert!(out.gaps.is_empty());
    }

    #[test]
    fn checksum_zero_means_not_sent() {
        let mut a = okx();
        let f = String::from_utf8_lossy(SNAPSHOT).replace("1054815633", "0");
        assert_eq!(ok(&mut a, f.as_bytes()).books[0].checksum, None);
        let f = String::from_utf8_lossy(SNAPSHOT).replace(",\"checksum\":1054815633", "");
        assert_eq!(ok(&mut a, f.as_bytes()).books[0].checksum, None);
    }

    #[test]
    fn updates_before_the_snapshot_wait() {
        let mut a = okx();
        let out = ok(&mut a, UPDATE);
        assert_eq!((out.books.len(), out.waiting), (0, 1));
    }

    #[test]
    fn sequence_ids_chain() {
        let mut a = okx();
        ok(&mut a, seq_msg("snapshot", -1, 100, r#"["30000","1","0","1"]"#).as_bytes());
        // Normal chaining.
        let out = ok(&mut a, seq_msg("update", 100, 104, r#"["29999","1","0","1"]"#).as_bytes());
        assert_eq!((out.books.len(), out.gaps.len()), (1, 0));
        // The keep-alive: nothing changed for a minute, seqId == prevSeqId, no levels.
        let keep = br#"{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"update","data":[{"asks":[],"bids":[],"ts":"1597026443085","checksum":-855196043,"prevSeqId":104,"seqId":104}]}"#;
        let out = ok(&mut a, keep);
        assert_eq!((out.books.len(), out.gaps.len(), out.levels.len()), (1, 0, 0));
        // The documented reset: seqId below prevSeqId once, then chaining from it.
        let out = ok(&mut a, seq_msg("update", 104, 3, r#"["29998","1","0","1"]"#).as_bytes());
        assert_eq!((out.books.len(), out.gaps.len()), (1, 0));
        let out = ok(&mut a, seq_msg("update", 3, 5, r#"["29997","1","0","1"]"#).as_bytes());
        assert_eq!((out.books.len(), out.gaps.len()), (1, 0));
        // A gap: prevSeqId is not the last seqId. Nothing is applied; the symbol waits.
        let out = ok(&mut a, seq_msg("update", 6, 8, r#"["29996","1","0","1"]"#).as_bytes());
        assert_eq!(out.books.len(), 0);
        assert_eq!(out.gaps, vec![GapScope::Symbol(0)]);
        let out = ok(&mut a, seq_msg("update", 8, 9, r#"["29995","1","0","1"]"#).as_bytes());
        assert_eq!((out.books.len(), out.waiting, out.gaps.len()), (0, 1, 0));
        // The next snapshot starts a new chain.
        ok(&mut a, seq_msg("snapshot", -1, 50, r#"["30000","1","0","1"]"#).as_bytes());
        let out = ok(&mut a, seq_msg("update", 50, 51, r#"["29999","1","0","1"]"#).as_bytes());
        assert_eq!((out.books.len(), out.gaps.len()), (1, 0));
        // A repeated (stale) update is a break in the chain as well.
        let out = ok(&mut a, seq_msg("update", 50, 51, r#"["29999","1","0","1"]"#).as_bytes());
        assert_eq!(out.gaps.len(), 1);
        // A message without ids (an older API) leaves nothing to chain to: no gap.
        let no_ids = String::from_utf8_lossy(UPDATE).replace("BTC-USD-220527", "BTC-USDT");
        let no_ids = no_ids.replace("[\"30182.6\",\"452\",\"0\",\"1\"]", "");
        assert_eq!(ok(&mut a, no_ids.as_bytes()).waiting, 1, "still broken from above");
        ok(&mut a, seq_msg("snapshot", -1, 70, r#"["30000","1","0","1"]"#).as_bytes());
        assert_eq!(ok(&mut a, no_ids.as_bytes()).gaps.len(), 0);
        let out = ok(&mut a, seq_msg("update", 90, 91, r#"["29999","1","0","1"]"#).as_bytes());
        assert_eq!((out.books.len(), out.gaps.len()), (1, 0));
        // A resync forgets the chain until the next snapshot.
        ok(&mut a, seq_msg("snapshot", -1, 60, r#"["30000","1","0","1"]"#).as_bytes());
        a.resync(0);
        let out = ok(&mut a, seq_msg("update", 60, 61, r#"["29999","1","0","1"]"#).as_bytes());
        assert_eq!((out.books.len(), out.waiting), (0, 1));
    }

    #[test]
    fn a_resubscription_names_the_book_channel_only() {
        let m = okx().resubscribe_book_messages("BTC-USDT").unwrap();
        assert_eq!(
            m,
            [
                r#"{"op":"unsubscribe","args":[{"channel":"books","instId":"BTC-USDT"}]}"#,
                r#"{"op":"subscribe","args":[{"channel":"books","instId":"BTC-USDT"}]}"#,
            ]
        );
        // A snapshot after a resync brings the book back.
        let mut a = okx();
        assert!(run(&mut a, SNAPSHOT).0.is_ok());
        let sym = a.symbols().find(b"BTC-USD-220527").unwrap();
        a.resync(sym);
        let (r, out) = run(&mut a, UPDATE);
        assert!(r.is_ok() && out.books.is_empty() && out.waiting == 1, "waits after a resync");
        let (r, out) = run(&mut a, SNAPSHOT);
        assert!(r.is_ok() && out.books.len() == 1, "the new snapshot applies");
    }

    #[test]
    fn full_book_channels_are_snapshots() {
        let mut a = okx();
        for frame in [
            &br#"{"arg":{"channel":"books5","instId":"BTC-USDT"},"data":[{"asks":[["30001","1","0","1"]],"bids":[["30000","2","0","1"]],"instId":"BTC-USDT","ts":"1597026383085","seqId":123}]}"#[..],
            br#"{"arg":{"channel":"bbo-tbt","instId":"BTC-USDT"},"data":[{"asks":[["30001","1","0","1"]],"bids":[["30000","2","0","1"]],"ts":"1597026383085","seqId":124}]}"#,
        ] {
            let out = ok(&mut a, frame);
            assert_eq!(out.books.len(), 1);
            assert_eq!((out.books[0].action, out.books[0].checksum), (BookAction::Snapshot, None));
        }
    }

    /// OKX's documented pushes of `funding-rate`, `mark-price`, `open-interest` and
    /// `liquidation-orders` (docs-v5, "Public data" WebSocket channels), with the instrument
    /// ids and numbers of the examples moved to one swap that a book snapshot made known
    /// (tick 0.1 and lot 1, learned from it).
    #[test]
    fn derivatives_channels() {
        let mut a = okx();
        ok(&mut a, br#"{"arg":{"channel":"books","instId":"BTC-USD-SWAP"},"action":"snapshot","data":[{"asks":[["30238.8","2","0","1"]],"bids":[["30233.6","3","0","1"]],"ts":"1700724675000","checksum":0}]}"#);
        let inst = a.symbols().get(0).unwrap().instrument.clone();
        let out = ok(&mut a, br#"{"arg":{"channel":"funding-rate","instId":"BTC-USD-SWAP"},"data":[{"formulaType":"noRate","fundingRate":"0.0001875391284828","fundingTime":"1700726400000","impactValue":"","instId":"BTC-USD-SWAP","instType":"SWAP","interestRate":"","maxFundingRate":"0.00375","method":"current_period","minFundingRate":"-0.00375","nextFundingRate":"","nextFundingTime":"1700755200000","premium":"0.0001233824646391","settFundingRate":"0.0001699799259033","settState":"settled","ts":"1700724675402"}]}"#);
        assert!(out.control);
        let Derivative::Funding(f) = out.derivs[0].data else { panic!("{:?}", out.derivs) };
        assert_eq!(f.rate.format(crate::book::Step::ONE).unwrap(), "0.0001875391284828");
        assert_eq!(f.next_funding_ts, 1_700_726_400_000_000_000);
        assert_eq!(out.derivs[0].exch_ts, 1_700_724_675_402_000_000);
        let out = ok(&mut a, br#"{"arg":{"channel":"mark-price","instId":"BTC-USD-SWAP"},"data":[{"instType":"SWAP","instId":"BTC-USD-SWAP","markPx":"30236.15","ts":"1597026383085"}]}"#);
        let Derivative::MarkIndex(MarkIndex { mark: Some(m), index: None }) = out.derivs[0].data
        else {
            panic!("{:?}", out.derivs)
        };
        assert_eq!((m.format(inst.tick).unwrap(), m.scale), ("30236.15".into(), 1));
        let out = ok(&mut a, br#"{"arg":{"channel":"open-interest","instId":"BTC-USD-SWAP"},"data":[{"instType":"SWAP","instId":"BTC-USD-SWAP","oi":"5000","oiCcy":"555.55","oiUsd":"50000","ts":"1597026383085"}]}"#);
        assert_eq!(
            out.derivs[0].data,
            Derivative::OpenInterest(event::Scaled { units: 5000, scale: 0 })
        );
        // The instrument type's liquidation stream: the known swap's entry is kept, the other
        // instrument's (the documented IOST-USDT-SWAP one) is counted and skipped.
        let out = ok(&mut a, br#"{"arg":{"channel":"liquidation-orders","instType":"SWAP"},"data":[{"details":[{"bkLoss":"0","bkPx":"0.007831","ccy":"","posSide":"short","side":"buy","sz":"13","ts":"1692266434010"}],"instFamily":"IOST-USDT","instId":"IOST-USDT-SWAP","instType":"SWAP","uly":"IOST-USDT"},{"details":[{"bkLoss":"0","bkPx":"30301.37","ccy":"","posSide":"long","side":"sell","sz":"13","ts":"1692266434011"}],"instFamily":"BTC-USD","instId":"BTC-USD-SWAP","instType":"SWAP","uly":"BTC-USD"}]}"#);
        assert_eq!((out.derivs.len(), out.derivs_unknown), (1, 1));
        let Derivative::Liquidation(l) = out.derivs[0].data else { panic!("{:?}", out.derivs) };
        assert_eq!(
            (l.side, l.price.format(inst.tick).unwrap(), l.size.units),
            (event::Side::Sell, "30301.37".into(), 13)
        );
        assert_eq!(out.derivs[0].exch_ts, 1_692_266_434_011_000_000);
        for bad in [
            &br#"{"arg":{"channel":"funding-rate","instId":"BTC-USD-SWAP"},"data":[{"fundingRate":"0.0001","ts":"1"}]}"#[..],
            br#"{"arg":{"channel":"mark-price","instId":"BTC-USD-SWAP"},"data":[{"markPx":"12,5","ts":"1"}]}"#,
            br#"{"arg":{"channel":"liquidation-orders","instType":"SWAP"},"data":[{"instId":"BTC-USD-SWAP","details":[{"side":"up","bkPx":"1","sz":"1","ts":"1"}]}]}"#,
            br#"{"arg":{"channel":"liquidation-orders","instType":"SWAP"},"data":[{"details":[]}]}"#,
        ] {
            let mut out = Parsed::default();
            assert!(a.handle_frame(bad, 0, &mut out).is_err(), "{}", String::from_utf8_lossy(bad));
        }
        // Subscribed only when asked for, by instrument type.
        assert!(!a.subscribe_messages(&["BTC-USD-SWAP"])[0].contains("mark-price"));
        a.derivatives = true;
        assert_eq!(
            a.subscribe_messages(&["BTC-USD-SWAP", "BTC-USD-220527", "BTC-USDT"])[0],
            concat!(
                r#"{"op":"subscribe","args":[{"channel":"books","instId":"BTC-USD-SWAP"},{"channel":"trades","instId":"BTC-USD-SWAP"},{"channel":"tickers","instId":"BTC-USD-SWAP"},"#,
                r#"{"channel":"mark-price","instId":"BTC-USD-SWAP"},{"channel":"open-interest","instId":"BTC-USD-SWAP"},{"channel":"funding-rate","instId":"BTC-USD-SWAP"},"#,
                r#"{"channel":"books","instId":"BTC-USD-220527"},{"channel":"trades","instId":"BTC-USD-220527"},{"channel":"tickers","instId":"BTC-USD-220527"},"#,
                r#"{"channel":"mark-price","instId":"BTC-USD-220527"},{"channel":"open-interest","instId":"BTC-USD-220527"},"#,
                r#"{"channel":"books","instId":"BTC-USDT"},{"channel":"trades","instId":"BTC-USDT"},{"channel":"tickers","instId":"BTC-USDT"},"#,
                r#"{"channel":"liquidation-orders","instType":"SWAP"},{"channel":"liquidation-orders","instType":"FUTURES"}]}"#
            )
        );
    }

    #[test]
    fn trades_tickers_and_control() {
        let mut a = okx();
        let out = ok(
            &mut a,
            br#"{"arg":{"channel":"trades","instId":"BTC-USD-220527"},"data":[{"instId":"BTC-USD-220527","tradeId":"7849","px":"30218.8","sz":"1","side":"buy","ts":"1652459199958"},{"instId":"BTC-USD-220527","tradeId":"7850","px":"30218.7","sz":"3","side":"sell","ts":"1652459199959","count":"2"}]}"#,
        );
        let t: Vec<_> = out.trades.iter().map(|t| (t.trade, t.exch_ts)).collect();
        assert_eq!(
            t,
            vec![
                (
                    Trade {
                        price_tick: 302_188,
                        size_lots: 1,
                        aggressor: Some(event::Side::Buy),
                        trade_id: 7849
                    },
                    1_652_459_199_958_000_000
                ),
                (
                    Trade {
                        price_tick: 302_187,
                        size_lots: 3,
                        aggressor: Some(event::Side::Sell),
                        trade_id: 7850
                    },
                    1_652_459_199_959_000_000
                ),
            ]
        );
        let out = ok(
            &mut a,
            br#"{"arg":{"channel":"trades-all","instId":"BTC-USD-220527"},"data":[{"instId":"BTC-USD-220527","tradeId":"7851","px":"30218.7","sz":"1","side":"sell","ts":"1652459199960"}]}"#,
        );
        assert_eq!(out.trades.len(), 1);
        let out = ok(
            &mut a,
            br#"{"arg":{"channel":"tickers","instId":"BTC-USD-220527"},"data":[{"instType":"FUTURES","instId":"BTC-USD-220527","last":"30218.8","lastSz":"1","askPx":"30220.1","askSz":"3","bidPx":"30210.4","bidSz":"4","ts":"1652459223003"}]}"#,
        );
        assert!(out.control);
        let s = a.symbols().find(b"BTC-USD-220527").unwrap();
        assert_eq!(
            a.symbols().get(s).unwrap().venue_bbo,
            Some(Bbo { bid_tick: 302_104, bid_lots: 4, ask_tick: 302_201, ask_lots: 3 })
        );
        ok(
            &mut a,
            br#"{"arg":{"channel":"tickers","instId":"BTC-USD-220527"},"data":[{"instId":"BTC-USD-220527","askPx":"30220.1","askSz":"3","bidPx":"","bidSz":"","ts":"1"}]}"#,
        );
        assert_eq!(a.symbols().get(s).unwrap().venue_bbo.map(|b| b.bid_lots), Some(0));
        for frame in [
            &b"pong"[..],
            br#"{"event":"subscribe","arg":{"channel":"books","instId":"BTC-USDT"},"connId":"a4d3ae55"}"#,
            br#"{"event":"unsubscribe","arg":{"channel":"books","instId":"BTC-USDT"},"connId":"a4d3ae55"}"#,
            br#"{"event":"notice","code":"64008","msg":"The connection will soon be closed for a service upgrade.","connId":"a4d3ae55"}"#,
            br#"{"event":"channel-conn-count","channel":"books","connCount":"2","connId":"a4d3ae55"}"#,
        ] {
            assert!(ok(&mut a, frame).control, "{}", String::from_utf8_lossy(frame));
        }
    }

    #[test]
    fn bad_input() {
        let cases: &[(&[u8], &str)] = &[
            (b"{\"arg\":{\"channel\":\"books\"", "json"),
            (b"ping", "json"),
            (b"{\"event\":\"error\",\"code\":\"60012\",\"msg\":\"Invalid request\",\"connId\":\"a\"}", "venue_error"),
            (b"{\"event\":\"channel-conn-count-error\",\"channel\":\"books\",\"connCount\":\"30\"}", "venue_error"),
            (b"{\"event\":\"mystery\"}", "unknown_type"),
            (b"{\"arg\":{\"channel\":\"mystery\",\"instId\":\"BTC-USDT\"},\"data\":[]}", "unknown_type"),
            (b"{\"data\":[]}", "unknown_type"),
            (b"{\"arg\":{\"instId\":\"BTC-USDT\"},\"data\":[]}", "shape"),
            (b"{\"arg\":{\"channel\":\"books\",\"instId\":\"BTC-USDT\"}}", "shape"),
            (br#"{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"partial","data":[]}"#, "shape"),
            (br#"{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"snapshot","data":[{"asks":[["1e5","1","0","1"]],"bids":[],"ts":"1"}]}"#, "number"),
            (br#"{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"snapshot","data":[{"asks":[["30000","-1","0","1"]],"bids":[],"ts":"1"}]}"#, "number"),
            (br#"{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"snapshot","data":[{"asks":[["NaN","1","0","1"]],"bids":[],"ts":"1"}]}"#, "number"),
            (br#"{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"snapshot","data":[{"asks":[["123456789012345678901234567890","1","0","1"]],"bids":[],"ts":"1"}]}"#, "number"),
            (br#"{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"snapshot","data":[{"asks":[["30000.05","1","0","1"]],"bids":[],"ts":"1"}]}"#, "number"),
            (br#"{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"snapshot","data":[{"asks":[[30000,"1","0","1"]],"bids":[],"ts":"1"}]}"#, "shape"),
            (br#"{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"snapshot","data":[{"asks":[["30000"]],"bids":[],"ts":"1"}]}"#, "shape"),
            (br#"{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"snapshot","data":[{"asks":[],"bids":[],"ts":"1","checksum":99999999999}]}"#, "shape"),
            (br#"{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"snapshot","data":[{"asks":[],"bids":[],"ts":"1","checksum":"x"}]}"#, "shape"),
            (br#"{"arg":{"channel":"books","instId":"NOPE"},"action":"update","data":[{"asks":[],"bids":[]}]}"#, "unknown_symbol"),
            (br#"{"arg":{"channel":"trades","instId":"BTC-USDT"},"data":[{"tradeId":"1","px":"1","sz":"1","side":"both","ts":"1"}]}"#, "shape"),
            (br#"{"arg":{"channel":"trades","instId":"BTC-USDT"},"data":[{"tradeId":"1","px":"1","sz":"1","side":"buy"}]}"#, "shape"),
            (br#"{"arg":{"channel":"tickers","instId":"BTC-USDT"},"data":[{"bidPx":"1"}]}"#, "shape"),
        ];
        for (frame, kind) in cases {
            let mut a = okx();
            let (r, _) = run(&mut a, frame);
            assert_eq!(r.map_err(|e| e.name()), Err(*kind), "{}", String::from_utf8_lossy(frame));
        }
        let mut deep = b"{\"a\":".to_vec();
        deep.extend(vec![b'['; 5000]);
        assert_eq!(run(&mut okx(), &deep).0.map_err(|e| e.name()), Err("json"));
        // A bad level in an update marks the book broken.
        let mut a = okx();
        ok(&mut a, SNAPSHOT);
        let bad = String::from_utf8_lossy(UPDATE).replace("\"452\"", "\"4x2\"");
        let (r, out) = run(&mut a, bad.as_bytes());
        assert_eq!((r.map_err(|e| e.name()), out.broken), (Err("number"), Some(0)));
    }

    #[test]
    fn subscribe_args_as_documented() {
        let a = Okx::new(InstrumentRegistry::new());
        assert_eq!(
            a.subscribe_messages(&["BTC-USDT"]),
            vec![
                r#"{"op":"subscribe","args":[{"channel":"books","instId":"BTC-USDT"},{"channel":"trades","instId":"BTC-USDT"},{"channel":"tickers","instId":"BTC-USDT"}]}"#
            ]
        );
        let a = Okx::with_channel(InstrumentRegistry::new(), "books5");
        assert!(a.unsubscribe_messages(&["ETH-USDT"])[0].starts_with(
            r#"{"op":"unsubscribe","args":[{"channel":"books5","instId":"ETH-USDT"}"#
        ));
    }
}

//! OKX v5 public channels: order books (`books`, `books5`, `bbo-tbt`, `books-l2-tbt`,
//! `books50-l2-tbt`), `trades`/`trades-all` and `tickers`.
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

use simd_json::tape::Value;

use super::json::{field_text, int, text, Scratch};
use super::time::ms_to_ns;
use super::{
    num, Adapter, BookAction, Checksum, GapScope, Parsed, SymbolIdx, Symbols, TradeMsg, VenueError,
};
use crate::book::{Instrument, InstrumentRegistry, Side, Venue};
use crate::event::{self, Bbo, Trade};

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
    scratch: Option<Scratch>,
    /// The book channel [`Adapter::subscribe_messages`] asks for.
    pub channel: &'static str,
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
            scratch: Some(Scratch::new()),
            channel,
        }
    }

    fn state(&mut self, i: SymbolIdx) -> &mut SymState {
        let i = usize::from(i);
        if self.states.len() <= i {
            self.states.resize_with(i + 1, SymState::default);
        }
        &mut self.states[i]
    }

    fn frame(&mut self, root: Value<'_, '_>, out: &mut Parsed) -> Result<(), VenueError> {
        if let Some(ev) = field_text(root, "event") {
            out.control = true;
            return match ev {
                b"subscribe" | b"unsubscribe" | b"login" | b"channel-conn-count" => Ok(()),
                b"error" => Err(VenueError::VenueReported),
                _ => Err(VenueError::UnknownType),
            };
        }
        let arg = root.get("arg").ok_or(VenueError::UnknownType)?;
        let channel = field_text(arg, "channel").ok_or(VenueError::Shape("arg.channel"))?;
        let inst_id = field_text(arg, "instId").ok_or(VenueError::Shape("arg.instId"))?;
        let data = root.get_array("data").ok_or(VenueError::Shape("data"))?;
        match channel {
            b"books" | b"books-l2-tbt" | b"books50-l2-tbt" | b"books5" | b"bbo-tbt" => {
                let snapshot = match field_text(root, "action") {
                    Some(b"snapshot") | None => true,
                    Some(b"update") => false,
                    Some(_) => return Err(VenueError::Shape("action")),
                };
                for d in data.iter() {
                    self.book(inst_id, d, snapshot, out)?;
                }
                Ok(())
            }
            b"trades" | b"trades-all" => {
                for t in data.iter() {
                    self.trade(inst_id, t, out)?;
                }
                Ok(())
            }
            b"tickers" => {
                out.control = true;
                for t in data.iter() {
                    self.ticker(inst_id, t)?;
                }
                Ok(())
            }
            _ => Err(VenueError::UnknownType),
        }
    }

    fn book(
        &mut self,
        inst_id: &[u8],
        d: Value<'_, '_>,
        snapshot: bool,
        out: &mut Parsed,
    ) -> Result<(), VenueError> {
        let seq = d.get("seqId").and_then(int);
        let prev = d.get("prevSeqId").and_then(int);
        let sym = if snapshot {
            match self.symbols.find(inst_id).or_else(|| self.symbols.resolve(inst_id)) {
                Some(s) => s,
                None => {
                    let px = level_text(d, "asks", 0).chain(level_text(d, "bids", 0));
                    let qty = level_text(d, "asks", 1).chain(level_text(d, "bids", 1));
                    self.symbols.learn(inst_id, px, qty)?
                }
            }
        } else {
            self.symbols
                .find(inst_id)
                .or_else(|| self.symbols.resolve(inst_id))
                .ok_or(VenueError::UnknownSymbol)?
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
            // A reset (seq < prev) is accepted: numbering continues from `seq`.
            if seq.is_some() {
                st.seq = seq;
            }
        }
        let exch_ts = field_text(d, "ts").and_then(super::json::parse_u64).map_or(0, ms_to_ns);
        let action = if snapshot { BookAction::Snapshot } else { BookAction::Update };
        out.begin_book(sym, action, exch_ts);
        let inst = &self.symbols.list()[usize::from(sym)].instrument;
        let r = levels(d, "bids", Side::Bid, inst, out)
            .and_then(|()| levels(d, "asks", Side::Ask, inst, out));
        if let Err(e) = r {
            out.broken = Some(sym);
            return Err(e);
        }
        let checksum = match d.get("checksum") {
            None => None,
            Some(c) => match int(c).and_then(|c| i32::try_from(c).ok()) {
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

    fn trade(
        &mut self,
        inst_id: &[u8],
        t: Value<'_, '_>,
        out: &mut Parsed,
    ) -> Result<(), VenueError> {
        let sym = self
            .symbols
            .find(inst_id)
            .or_else(|| self.symbols.resolve(inst_id))
            .ok_or(VenueError::UnknownSymbol)?;
        let inst = &self.symbols.list()[usize::from(sym)].instrument;
        let f = |k: &'static str| field_text(t, k).ok_or(VenueError::Shape("trade field"));
        let aggressor = match f("side")? {
            b"buy" => event::Side::Buy,
            b"sell" => event::Side::Sell,
            _ => return Err(VenueError::Shape("trade side")),
        };
        out.trades.push(TradeMsg {
            symbol: sym,
            trade: Trade {
                price_tick: inst.price_ticks(f("px")?).map_err(num("px"))?,
                size_lots: inst.qty_lots(f("sz")?).map_err(num("sz"))?,
                aggressor: Some(aggressor),
                trade_id: super::json::parse_u64(f("tradeId")?).unwrap_or(0),
            },
            exch_ts: super::json::parse_u64(f("ts")?).map_or(0, ms_to_ns),
        });
        Ok(())
    }

    fn ticker(&mut self, inst_id: &[u8], t: Value<'_, '_>) -> Result<(), VenueError> {
        let Some(sym) = self.symbols.find(inst_id).or_else(|| self.symbols.resolve(inst_id)) else {
            return Ok(());
        };
        let info = self.symbols.get_mut(sym).ok_or(VenueError::UnknownSymbol)?;
        let inst = &info.instrument;
        let f = |k: &'static str| field_text(t, k).ok_or(VenueError::Shape("ticker field"));
        info.venue_bbo = Some(Bbo {
            bid_tick: inst.price_ticks(f("bidPx")?).map_err(num("bidPx"))?,
            bid_lots: inst.qty_lots(f("bidSz")?).map_err(num("bidSz"))?,
            ask_tick: inst.price_ticks(f("askPx")?).map_err(num("askPx"))?,
            ask_lots: inst.qty_lots(f("askSz")?).map_err(num("askSz"))?,
        });
        Ok(())
    }
}

fn level_text<'t, 'i: 't>(
    v: Value<'t, 'i>,
    key: &str,
    idx: usize,
) -> impl Iterator<Item = &'i [u8]> + use<'t, 'i> {
    v.get_array(key)
        .into_iter()
        .flat_map(move |a| a.iter().filter_map(move |l| text(l.get_idx(idx)?)))
}

/// Levels `[price, size, "0", orders]` of `v[key]` (absent = none).
fn levels(
    v: Value<'_, '_>,
    key: &str,
    side: Side,
    inst: &Instrument,
    out: &mut Parsed,
) -> Result<(), VenueError> {
    let Some(arr) = v.get_array(key) else { return Ok(()) };
    for l in arr.iter() {
        let px = l.get_idx(0).and_then(text).ok_or(VenueError::Shape("level price"))?;
        let sz = l.get_idx(1).and_then(text).ok_or(VenueError::Shape("level size"))?;
        out.level(
            side,
            inst.price_ticks(px).map_err(num("price"))?,
            inst.qty_lots(sz).map_err(num("size"))?,
        );
    }
    Ok(())
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

    fn subscribe_messages(&self, symbols: &[&str]) -> Vec<String> {
        vec![request("subscribe", self.channel, symbols)]
    }

    fn unsubscribe_messages(&self, symbols: &[&str]) -> Vec<String> {
        vec![request("unsubscribe", self.channel, symbols)]
    }
}

fn request(op: &str, book: &str, symbols: &[&str]) -> String {
    let mut args = Vec::new();
    for s in symbols {
        for ch in [book, "trades"] {
            args.push(format!("{{\"channel\":\"{ch}\",\"instId\":\"{s}\"}}"));
        }
    }
    format!("{{\"op\":\"{op}\",\"args\":[{}]}}", args.join(","))
}

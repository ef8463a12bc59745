//! Binance spot and USD-M futures: combined streams, diff depth bridged to a REST snapshot.
//!
//! Spot (`U`/`u` ids): after the snapshot `lastUpdateId`, an event with `u <= id` is stale; an
//! event with `U > id + 1` is a gap; otherwise it is applied and `id := u`. The first applied
//! event therefore satisfies `U <= lastUpdateId + 1 <= u`, as the captures show.
//!
//! USD-M futures (`U`/`u`/`pu`): events with `u < lastUpdateId` are stale; the first applied
//! event must have `U <= lastUpdateId <= u`; afterwards each event's `pu` must equal the
//! previous event's `u`.
//!
//! Depth events that arrive before the snapshot are kept (as raw frames, since the
//! instrument's tick may only be learned from the snapshot) and replayed through the same
//! rules when it arrives. A snapshot older than the first kept event is a gap: fetch another.

use simd_json::prelude::ValueAsScalar;
use simd_json::tape::Value;

use super::json::{field_text, field_uint, text, Scratch};
use super::time::ms_to_ns;
use super::{num, Adapter, BookAction, GapScope, Parsed, SymbolIdx, Symbols, TradeMsg, VenueError};
use crate::book::{InstrumentRegistry, Side, Venue};
use crate::event::{self, Bbo, Trade};

/// Depth frames kept per symbol while waiting for a snapshot; older ones are dropped (the
/// snapshot will then be too new to bridge, which is detected as a gap).
pub const MAX_PENDING_FRAMES: usize = 4096;

/// Where a symbol's book stands.
#[derive(Debug, Default)]
struct SymState {
    /// `Some(u)` once a snapshot is loaded: the id the book is at.
    book_id: Option<u64>,
    /// At least one event applied after the snapshot (futures: `pu` chaining is on).
    bridged: bool,
    /// Raw depth frames received while waiting for a snapshot.
    pending: FrameQueue,
    /// The first `U` among the pending frames, or its `pu` when lower (futures): the oldest
    /// snapshot id that can bridge them (for the stale-snapshot check).
    first_pending: Option<u64>,
}

/// Depth frames of a symbol whose instrument is not known yet: (symbol text, raw frames, the
/// first `U` among them).
type Unresolved = (Vec<u8>, FrameQueue, Option<u64>);

/// Raw frames in arrival order, kept in one byte buffer that is reused from one wait for a
/// snapshot to the next: once warmed up, buffering a frame allocates nothing.
#[derive(Debug, Default)]
struct FrameQueue {
    /// The frames' bytes, back to back; `bytes[..start]` belongs to dropped frames.
    bytes: Vec<u8>,
    /// End offset (in `bytes`) of every frame; `ends[..head]` are dropped frames.
    ends: Vec<usize>,
    /// Index in `ends` of the oldest frame kept.
    head: usize,
}

impl FrameQueue {
    /// Frames kept.
    fn len(&self) -> usize {
        self.ends.len() - self.head
    }

    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends a copy of `frame`.
    fn push(&mut self, frame: &[u8]) {
        self.bytes.extend_from_slice(frame);
        self.ends.push(self.bytes.len());
    }

    /// Drops the oldest frame; the space is reclaimed once the dropped part is half the
    /// buffer (amortised O(1) per frame).
    fn pop_front(&mut self) {
        if self.is_empty() {
            return;
        }
        self.head += 1;
        if self.head * 2 >= self.ends.len() {
            let cut = self.ends[self.head - 1];
            self.bytes.drain(..cut);
            self.ends.drain(..self.head);
            for e in &mut self.ends {
                *e -= cut;
            }
            self.head = 0;
        }
    }

    /// The `i`-th frame kept (0 is the oldest).
    fn get(&self, i: usize) -> &[u8] {
        let i = self.head + i;
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.bytes[start..self.ends[i]]
    }

    /// Forgets every frame, keeping the memory.
    fn clear(&mut self) {
        self.bytes.clear();
        self.ends.clear();
        self.head = 0;
    }
}

/// The Binance adapter. See the [module docs](self).
#[derive(Debug)]
pub struct Binance {
    venue: Venue,
    symbols: Symbols,
    states: Vec<SymState>,
    /// Pending depth frames of symbols whose instrument is not known yet, by symbol text.
    unresolved: Vec<Unresolved>,
    /// The parse scratch; taken out while a frame is parsed so handlers can borrow `self`.
    scratch: Option<Scratch>,
    /// Frames dropped from a full pending buffer.
    pub pending_dropped: u64,
    /// The snapshot's symbol text (reused).
    key_buf: Vec<u8>,
}

/// What one depth event said, before sequencing.
struct Depth {
    first: u64,
    last: u64,
    prev: Option<u64>,
}

impl Binance {
    /// A spot adapter.
    pub fn spot(registry: InstrumentRegistry) -> Self {
        Self::new(Venue::Binance, registry)
    }

    /// A USD-M futures adapter.
    pub fn futures(registry: InstrumentRegistry) -> Self {
        Self::new(Venue::BinanceFutures, registry)
    }

    fn new(venue: Venue, registry: InstrumentRegistry) -> Self {
        Binance {
            venue,
            symbols: Symbols::new(venue, registry),
            states: Vec::new(),
            unresolved: Vec::new(),
            scratch: Some(Scratch::new()),
            pending_dropped: 0,
            key_buf: Vec::new(),
        }
    }

    fn is_futures(&self) -> bool {
        self.venue == Venue::BinanceFutures
    }

    /// The REST depth snapshot URL for `symbol` on `base` (`https://api.binance.com` or
    /// `https://fapi.binance.com`, or a simulator's).
    pub fn snapshot_url(&self, base: &str, symbol: &str, limit: u32) -> String {
        let path = if self.is_futures() { "/fapi/v1/depth" } else { "/api/v3/depth" };
        format!("{base}{path}?symbol={}&limit={limit}", symbol.to_ascii_uppercase())
    }

    /// The default REST base of this venue.
    pub fn default_rest_base(&self) -> &'static str {
        if self.is_futures() {
            "https://fapi.binance.com"
        } else {
            "https://api.binance.com"
        }
    }

    fn state(&mut self, i: SymbolIdx) -> &mut SymState {
        let i = usize::from(i);
        if self.states.len() <= i {
            self.states.resize_with(i + 1, SymState::default);
        }
        &mut self.states[i]
    }

    /// Applies the sequencing rule to one depth event and, if it is to be applied, pushes
    /// its levels. `levels` parses the levels into `out`.
    fn sequence(
        futures: bool,
        st: &mut SymState,
        sym: SymbolIdx,
        d: &Depth,
        out: &mut Parsed,
    ) -> Sequenced {
        let Some(id) = st.book_id else { return Sequenced::Wait };
        if futures {
            if d.last < id {
                return Sequenced::Stale;
            }
            // The first event after the snapshot covers its id (`U <= id <= u`, the documented
            // rule) or starts right after it (`pu == id`: a snapshot taken exactly at the end
            // of an event, which a client that dropped that event cannot bridge otherwise).
            let ok = if st.bridged {
                d.prev == Some(id)
            } else {
                (d.first <= id && id <= d.last) || d.prev == Some(id)
            };
            if !ok {
                Self::gap(st, sym, out);
                return Sequenced::Gap;
            }
        } else {
            if d.last <= id {
                return Sequenced::Stale;
            }
            if d.first > id + 1 {
                Self::gap(st, sym, out);
                return Sequenced::Gap;
            }
        }
        st.book_id = Some(d.last);
        st.bridged = true;
        Sequenced::Apply
    }

    fn gap(st: &mut SymState, sym: SymbolIdx, out: &mut Parsed) {
        st.book_id = None;
        st.bridged = false;
        st.pending.clear();
        st.first_pending = None;
        out.gaps.push(GapScope::Symbol(sym));
    }

    /// Handles one depth event payload (`data` of a combined-stream frame). `raw` is the
    /// whole frame, kept if the symbol waits for a snapshot.
    fn depth(&mut self, raw: &[u8], d: Value<'_, '_>, out: &mut Parsed) -> Result<(), VenueError> {
        let sym_text = field_text(d, "s").ok_or(VenueError::Shape("depthUpdate without s"))?;
        let depth = Depth {
            first: field_uint(d, "U").ok_or(VenueError::Shape("depthUpdate without U"))?,
            last: field_uint(d, "u").ok_or(VenueError::Shape("depthUpdate without u"))?,
            prev: field_uint(d, "pu"),
        };
        if depth.first > depth.last {
            return Err(VenueError::Shape("depthUpdate with U > u"));
        }
        let Some(sym) = self.symbols.find(sym_text).or_else(|| self.symbols.resolve(sym_text))
        else {
            // Unknown instrument: keep the frame until a snapshot teaches its tick.
            let found = self.unresolved.iter().position(|(k, ..)| k == sym_text);
            let slot = match found {
                Some(i) => i,
                None => {
                    self.unresolved.push((sym_text.to_vec(), FrameQueue::default(), None));
                    self.unresolved.len() - 1
                }
            };
            let (_, frames, first) = &mut self.unresolved[slot];
            if frames.len() >= MAX_PENDING_FRAMES {
                frames.pop_front();
                self.pending_dropped += 1;
                *first = None;
            }
            first.get_or_insert(depth.prev.map_or(depth.first, |p| p.min(depth.first)));
            frames.push(raw);
            out.waiting += 1;
            return Ok(());
        };
        let futures = self.is_futures();
        self.state(sym);
        let st = &mut self.states[usize::from(sym)];
        let exch_ts = ms_to_ns(field_uint(d, "T").or_else(|| field_uint(d, "E")).unwrap_or(0));
        match Self::sequence(futures, st, sym, &depth, out) {
            Sequenced::Wait => {
                if st.pending.len() >= MAX_PENDING_FRAMES {
                    st.pending.pop_front();
                    st.first_pending = None;
                    self.pending_dropped += 1;
                }
                // The oldest snapshot id that can bridge this event (futures: its `pu`).
                st.first_pending
                    .get_or_insert(depth.prev.map_or(depth.first, |p| p.min(depth.first)));
                st.pending.push(raw);
                out.waiting += 1;
            }
            Sequenced::Stale => out.stale += 1,
            Sequenced::Gap => {}
            Sequenced::Apply => {
                out.begin_book(sym, BookAction::Update, exch_ts);
                let inst = &self.symbols.list()[usize::from(sym)].instrument;
                let res = levels(d, "b", Side::Bid, inst, out)
                    .and_then(|()| levels(d, "a", Side::Ask, inst, out));
                if let Err(e) = res {
                    out.broken = Some(sym);
                    return Err(e);
                }
                out.finish_book(None, None);
            }
        }
        Ok(())
    }

    /// A REST depth snapshot body for the symbol named by `url` (or the only symbol known).
    fn snapshot(&mut self, url: &str, body: &[u8], out: &mut Parsed) -> Result<(), VenueError> {
        let named = query_symbol(url);
        let futures = self.is_futures();
        let mark = out.books.len();
        let mut scratch = self.scratch.take().unwrap_or_default();
        let Binance { symbols, states, unresolved, key_buf, .. } = self;
        let parsed = scratch.parse(body, false, |v| {
            let lid = field_uint(v, "lastUpdateId")
                .ok_or(VenueError::Shape("depth snapshot without lastUpdateId"))?;
            key_buf.clear();
            match named {
                Some(n) => key_buf.extend_from_slice(n.as_bytes()),
                None if symbols.len() == 1 => {
                    key_buf.extend_from_slice(symbols.list()[0].key.as_bytes())
                }
                None if symbols.is_empty() && unresolved.len() == 1 => {
                    key_buf.extend_from_slice(&unresolved[0].0)
                }
                None => return Err(VenueError::Shape("snapshot without a symbol")),
            };
            let key = &key_buf[..];
            let bids = v.get_array("bids").ok_or(VenueError::Shape("snapshot without bids"))?;
            let asks = v.get_array("asks").ok_or(VenueError::Shape("snapshot without asks"))?;
            let sym = match symbols.find(key).or_else(|| symbols.resolve(key)) {
                Some(s) => s,
                None => {
                    let px = bids.iter().chain(asks.iter()).filter_map(|l| text(l.get_idx(0)?));
                    let qty = bids.iter().chain(asks.iter()).filter_map(|l| text(l.get_idx(1)?));
                    symbols.learn(key, px, qty)?
                }
            };
            let i = usize::from(sym);
            if states.len() <= i {
                states.resize_with(i + 1, SymState::default);
            }
            let st = &mut states[i];
            let mut pending = std::mem::take(&mut st.pending);
            let mut first_pending = st.first_pending.take();
            let found = unresolved.iter().position(|(k, ..)| k.eq_ignore_ascii_case(key));
            if let Some(u) = found {
                let (_, frames, first) = unresolved.swap_remove(u);
                for f in 0..frames.len() {
                    pending.push(frames.get(f));
                }
                first_pending = first_pending.or(first);
            }
            // A snapshot older than the first kept event cannot be bridged.
            if let Some(first) = first_pending {
                let too_old = if futures { lid < first } else { lid + 1 < first };
                if too_old {
                    st.book_id = None;
                    st.bridged = false;
                    out.gaps.push(GapScope::Symbol(sym));
                    pending.clear();
                    st.pending = pending;
                    return Ok((sym, None, FrameQueue::default()));
                }
            }
            out.begin_book(sym, BookAction::Snapshot, 0);
            let inst = &symbols.list()[i].instrument;
            let res = levels(v, "bids", Side::Bid, inst, out)
                .and_then(|()| levels(v, "asks", Side::Ask, inst, out));
            if let Err(e) = res {
                out.broken = Some(sym);
                return Err(e);
            }
            out.finish_book(None, None);
            st.book_id = Some(lid);
            st.bridged = false;
            Ok((sym, Some(lid), pending))
        });
        self.scratch = Some(scratch);
        let (sym, lid, mut pending) = parsed?;
        if lid.is_none() {
            return Ok(());
        }
        let gaps = out.gaps.len();
        for f in 0..pending.len() {
            // Kept frames already parsed once; an error here is counted like any other.
            self.handle_frame_inner(pending.get(f), out)?;
        }
        if out.gaps[gaps..].contains(&GapScope::Symbol(sym)) {
            // A kept event does not follow on: the snapshot cannot stand either. Gaps are
            // applied before a frame's book messages, so drop the snapshot's (the book stays
            // out of sync and waits for the next one).
            out.truncate_books(mark);
        }
        // Give the memory back for the next wait (nothing can have been queued meanwhile:
        // the book is synced or a gap just cleared the queue).
        let st = self.state(sym);
        if st.pending.is_empty() {
            pending.clear();
            st.pending = pending;
        }
        Ok(())
    }

    fn handle_frame_inner(&mut self, frame: &[u8], out: &mut Parsed) -> Result<(), VenueError> {
        let mut scratch = self.scratch.take().unwrap_or_default();
        let r = scratch.parse(frame, false, |root| {
            let data = root.get("data").unwrap_or(root);
            if data.get("lastUpdateId").is_some() && data.get("e").is_none() {
                return Ok(Kind::Snapshot);
            }
            match data.get("e").and_then(text) {
                Some(b"depthUpdate") => self.depth(frame, data, out).map(|()| Kind::Done),
                Some(b"trade") | Some(b"aggTrade") => self.trade(data, out).map(|()| Kind::Done),
                Some(b"bookTicker") => self.book_ticker(data, out).map(|()| Kind::Done),
                // Streams a user may subscribe to that carry no book or trade data.
                Some(
                    b"kline" | b"24hrTicker" | b"24hrMiniTicker" | b"markPriceUpdate"
                    | b"forceOrder" | b"continuous_kline" | b"compositeIndex",
                ) => {
                    out.control = true;
                    Ok(Kind::Done)
                }
                Some(_) => Err(VenueError::UnknownType),
                None if data.get("b").is_some() && data.get("A").is_some() => {
                    self.book_ticker(data, out).map(|()| Kind::Done)
                }
                None if root.get("id").is_some() && root.get("result").is_some() => {
                    out.control = true;
                    Ok(Kind::Done)
                }
                None if root.get("code").is_some() && root.get("msg").is_some() => {
                    Err(VenueError::VenueReported)
                }
                None => Err(VenueError::UnknownType),
            }
        });
        self.scratch = Some(scratch);
        match r? {
            Kind::Snapshot => self.snapshot("", frame, out),
            Kind::Done => Ok(()),
        }
    }

    fn trade(&mut self, d: Value<'_, '_>, out: &mut Parsed) -> Result<(), VenueError> {
        if let Some(x) = field_text(d, "X") {
            // Futures: only MARKET prints are trades (not insurance-fund or ADL fills).
            if x != b"MARKET" {
                out.control = true;
                return Ok(());
            }
        }
        let sym_text = field_text(d, "s").ok_or(VenueError::Shape("trade without s"))?;
        let sym = self
            .symbols
            .find(sym_text)
            .or_else(|| self.symbols.resolve(sym_text))
            .ok_or(VenueError::UnknownSymbol)?;
        let inst = &self.symbols.list()[usize::from(sym)].instrument;
        let px = field_text(d, "p").ok_or(VenueError::Shape("trade without p"))?;
        let qty = field_text(d, "q").ok_or(VenueError::Shape("trade without q"))?;
        let id = field_uint(d, "t")
            .or_else(|| field_uint(d, "a"))
            .ok_or(VenueError::Shape("trade without id"))?;
        let buyer_maker =
            d.get("m").and_then(|m| m.as_bool()).ok_or(VenueError::Shape("trade without m"))?;
        out.trades.push(TradeMsg {
            symbol: sym,
            trade: Trade {
                price_tick: inst.price_ticks(px).map_err(num("price"))?,
                size_lots: inst.qty_lots(qty).map_err(num("size"))?,
                // The buyer was the maker: the taker sold.
                aggressor: Some(if buyer_maker { event::Side::Sell } else { event::Side::Buy }),
                trade_id: id,
            },
            exch_ts: ms_to_ns(field_uint(d, "T").or_else(|| field_uint(d, "E")).unwrap_or(0)),
        });
        Ok(())
    }

    fn book_ticker(&mut self, d: Value<'_, '_>, out: &mut Parsed) -> Result<(), VenueError> {
        out.control = true;
        let sym_text = field_text(d, "s").ok_or(VenueError::Shape("bookTicker without s"))?;
        let Some(sym) = self.symbols.find(sym_text).or_else(|| self.symbols.resolve(sym_text))
        else {
            return Ok(()); // nothing to cross-check against yet
        };
        let info = self.symbols.get_mut(sym).ok_or(VenueError::UnknownSymbol)?;
        let inst = &info.instrument;
        let f = |k: &'static str| field_text(d, k).ok_or(VenueError::Shape("bookTicker field"));
        let bbo = Bbo {
            bid_tick: inst.price_ticks(f("b")?).map_err(num("bid price"))?,
            bid_lots: inst.qty_lots(f("B")?).map_err(num("bid size"))?,
            ask_tick: inst.price_ticks(f("a")?).map_err(num("ask price"))?,
            ask_lots: inst.qty_lots(f("A")?).map_err(num("ask size"))?,
        };
        info.venue_bbo = Some(bbo);
        Ok(())
    }
}

enum Kind {
    Snapshot,
    Done,
}

enum Sequenced {
    Wait,
    Stale,
    Gap,
    Apply,
}

/// Pushes the `[price, size]` string pairs of `v[key]` as levels of `side`.
fn levels(
    v: Value<'_, '_>,
    key: &str,
    side: Side,
    inst: &crate::book::Instrument,
    out: &mut Parsed,
) -> Result<(), VenueError> {
    let Some(arr) = v.get_array(key) else {
        return Err(VenueError::Shape("levels missing"));
    };
    for lv in arr.iter() {
        let px = lv.get_idx(0).and_then(text).ok_or(VenueError::Shape("level price"))?;
        let qty = lv.get_idx(1).and_then(text).ok_or(VenueError::Shape("level size"))?;
        let px_tick = inst.price_ticks(px).map_err(num("price"))?;
        let qty_lots = inst.qty_lots(qty).map_err(num("size"))?;
        out.level(side, px_tick, qty_lots);
    }
    Ok(())
}

/// The `symbol=` value of a URL's query, if any.
fn query_symbol(url: &str) -> Option<&str> {
    let q = url.split_once('?')?.1;
    q.split('&').find_map(|kv| kv.strip_prefix("symbol="))
}

impl Adapter for Binance {
    fn venue(&self) -> Venue {
        self.venue
    }

    fn handle_frame(
        &mut self,
        frame: &[u8],
        _local_ts: u64,
        out: &mut Parsed,
    ) -> Result<(), VenueError> {
        self.handle_frame_inner(frame, out)
    }

    fn handle_http(
        &mut self,
        url: &str,
        body: &[u8],
        _local_ts: u64,
        out: &mut Parsed,
    ) -> Result<(), VenueError> {
        self.snapshot(url, body, out)
    }

    fn resync(&mut self, symbol: SymbolIdx) {
        let st = self.state(symbol);
        st.book_id = None;
        st.bridged = false;
        st.pending.clear();
        st.first_pending = None;
    }

    fn reset_connection(&mut self) {
        for st in &mut self.states {
            // Keep the pending buffer's memory for the next connection.
            st.book_id = None;
            st.bridged = false;
            st.pending.clear();
            st.first_pending = None;
        }
        self.unresolved.clear();
    }

    fn symbols(&self) -> &Symbols {
        &self.symbols
    }

    fn subscribe_messages(&self, symbols: &[&str]) -> Vec<String> {
        vec![stream_request("SUBSCRIBE", symbols, 1)]
    }

    fn unsubscribe_messages(&self, symbols: &[&str]) -> Vec<String> {
        vec![stream_request("UNSUBSCRIBE", symbols, 2)]
    }
}

fn stream_request(method: &str, symbols: &[&str], id: u32) -> String {
    let mut params = Vec::new();
    for s in symbols {
        let s = s.to_ascii_lowercase();
        for stream in ["depth@100ms", "trade", "bookTicker"] {
            params.push(format!("\"{s}@{stream}\""));
        }
    }
    format!("{{\"method\":\"{method}\",\"params\":[{}],\"id\":{id}}}", params.join(","))
}

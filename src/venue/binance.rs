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
//! Futures derivatives (opt-in, [`Binance::derivatives`]): `markPriceUpdate` (mark, index,
//! funding rate, next funding time) and `forceOrder` (liquidation orders).
//!
//! Depth events that arrive before the snapshot are kept (as raw frames, since the
//! instrument's tick may only be learned from the snapshot) and replayed through the same
//! rules when it arrives. A snapshot older than the first kept event is a gap: fetch another.

use simd_json::tape::Value;

use super::json::{field_uint, text, uint, Scratch};
use super::protocol::{Protocol, RestSnapshot, BASE};
use super::scan::binance::BinanceFrames;
use super::scan::{scan_frame, FieldValue, ScanPath};
use super::time::ms_to_ns;
use super::{deriv_price, deriv_rate, deriv_size};
use super::{num, Adapter, BookAction, GapScope, Parsed, SymbolIdx, Symbols, TradeMsg, VenueError};
use crate::book::{InstrumentRegistry, Side, Venue};
use crate::event::{self, Bbo, Derivative, Funding, Liquidation, MarkIndex, Trade};

/// Binance spot's REST depth snapshot (5,000 levels at most).
const SPOT_REST: RestSnapshot = RestSnapshot {
    default_base: "https://api.binance.com",
    path: "/api/v3/depth",
    limit: 5000,
    upper_case: true,
};

/// Binance spot's transport: combined streams under `/stream`, books bridged from the REST
/// depth snapshot (venues.md).
pub const SPOT_PROTOCOL: Protocol = Protocol {
    endpoint: "wss://stream.binance.com:9443",
    path: "/stream",
    rest_snapshot: Some(SPOT_REST),
    books_span_connections: true,
    ..BASE
};

/// Binance USD-M futures' transport: as spot, with the `fapi` depth endpoint (1,000 levels).
pub const FUTURES_PROTOCOL: Protocol = Protocol {
    endpoint: "wss://fstream.binance.com",
    rest_snapshot: Some(RestSnapshot {
        default_base: "https://fapi.binance.com",
        path: "/fapi/v1/depth",
        limit: 1000,
        upper_case: true,
    }),
    ..SPOT_PROTOCOL
};

/// Binance COIN-M futures' transport: as USD-M, with the `dapi` depth endpoint (1,000 levels);
/// sizes count contracts (USD 100 each for BTC, USD 10 for the others).
pub const COINM_PROTOCOL: Protocol = Protocol {
    endpoint: "wss://dstream.binance.com",
    rest_snapshot: Some(RestSnapshot {
        default_base: "https://dapi.binance.com",
        path: "/dapi/v1/depth",
        limit: 1000,
        upper_case: true,
    }),
    ..SPOT_PROTOCOL
};

/// Depth frames kept per symbol while waiting for a snapshot; older ones are dropped (the
/// snapshot will then be too new to bridge, which is detected as a gap).
pub const MAX_PENDING_FRAMES: usize = 4096;

/// Events of streams a user may subscribe to that carry no book or trade data: read (by
/// either parser) and counted as control frames.
const IGNORED_EVENTS: [&[u8]; 5] =
    [b"kline", b"24hrTicker", b"24hrMiniTicker", b"continuous_kline", b"compositeIndex"];

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
    /// The oldest snapshot id that can bridge each frame (same indices as `ends`).
    ids: Vec<u64>,
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

    /// Appends a copy of `frame`, which a snapshot at `bridging_id` or later can bridge.
    fn push(&mut self, frame: &[u8], bridging_id: u64) {
        self.bytes.extend_from_slice(frame);
        self.ends.push(self.bytes.len());
        self.ids.push(bridging_id);
    }

    /// The bridging id of the oldest frame kept: after a full queue dropped its oldest, the
    /// frame now first (not the newest one).
    fn oldest_id(&self) -> Option<u64> {
        self.ids.get(self.head).copied()
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
            self.ids.drain(..self.head);
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
        self.ids.clear();
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
    /// The parse scratch; taken out while a frame is parsed so handlers can borrow `self`
    /// (boxed: taking it moves a pointer, not the scratch's 168 bytes, twice per frame).
    scratch: Option<Box<Scratch>>,
    /// Frames dropped from a full pending buffer.
    pub pending_dropped: u64,
    /// The snapshot's symbol text (reused).
    key_buf: Vec<u8>,
    /// Futures: subscribe each symbol's `markPrice@1s` (mark, index, funding) and
    /// `forceOrder` (liquidations) streams with its book.
    pub derivatives: bool,
    /// Which parser reads frames ([`Parser::Scan`] by default), and the scanner's state.
    scan: ScanPath<BinanceFrames>,
}

/// What one depth event said, before sequencing.
struct Depth {
    first: u64,
    last: u64,
    prev: Option<u64>,
}

impl Depth {
    /// The oldest snapshot id that can bridge this event: its `U`, or its `pu` when lower
    /// (futures: a snapshot at exactly the previous event's end).
    fn oldest_bridging_id(&self) -> u64 {
        self.prev.map_or(self.first, |p| p.min(self.first))
    }
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

    /// A COIN-M futures adapter (the USD-M rules: `U`/`u`/`pu`).
    pub fn coinm(registry: InstrumentRegistry) -> Self {
        Self::new(Venue::BinanceCoinM, registry)
    }

    fn new(venue: Venue, registry: InstrumentRegistry) -> Self {
        Binance {
            venue,
            symbols: Symbols::new(venue, registry),
            states: Vec::new(),
            unresolved: Vec::new(),
            scratch: Some(Box::new(Scratch::new())),
            pending_dropped: 0,
            key_buf: Vec::new(),
            derivatives: false,
            scan: ScanPath::new(),
        }
    }

    fn is_futures(&self) -> bool {
        matches!(self.venue, Venue::BinanceFutures | Venue::BinanceCoinM)
    }

    /// This venue's transport facts ([`SPOT_PROTOCOL`], [`FUTURES_PROTOCOL`] or
    /// [`COINM_PROTOCOL`]).
    pub fn protocol(&self) -> &'static Protocol {
        match self.venue {
            Venue::BinanceFutures => &FUTURES_PROTOCOL,
            Venue::BinanceCoinM => &COINM_PROTOCOL,
            _ => &SPOT_PROTOCOL,
        }
    }

    /// The REST depth snapshot URL for `symbol` on `base` (`https://api.binance.com` or
    /// `https://fapi.binance.com`, or a simulator's).
    pub fn snapshot_url(&self, base: &str, symbol: &str, limit: u32) -> String {
        let rest = self.protocol().rest_snapshot.unwrap_or(SPOT_REST);
        RestSnapshot { limit, ..rest }.url(base, symbol)
    }

    /// The default REST base of this venue.
    pub fn default_rest_base(&self) -> &'static str {
        self.protocol().rest_snapshot.unwrap_or(SPOT_REST).default_base
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
    fn depth<'i, V: FieldValue<'i>>(
        &mut self,
        raw: &[u8],
        d: &Fields<V>,
        out: &mut Parsed,
    ) -> Result<(), VenueError> {
        let sym_text = d.s.and_then(V::text).ok_or(VenueError::Shape("depthUpdate without s"))?;
        let depth = Depth {
            first: d
                .first_id
                .and_then(V::uint)
                .ok_or(VenueError::Shape("depthUpdate without U"))?,
            last: d.last_id.and_then(V::uint).ok_or(VenueError::Shape("depthUpdate without u"))?,
            prev: d.prev_id.and_then(V::uint),
        };
        if depth.first > depth.last {
            return Err(VenueError::Shape("depthUpdate with U > u"));
        }
        // USD-M depth updates carry `pu`, spot ones do not: a frame of the other market is
        // sequenced by the wrong rule (counted, so a wrong `--venue` is said, not a silent gap).
        if depth.prev.is_some() != self.is_futures() {
            out.foreign = true;
        }
        let Some(sym) = self.symbols.resolve(sym_text) else {
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
            }
            frames.push(raw, depth.oldest_bridging_id());
            *first = frames.oldest_id();
            out.waiting += 1;
            return Ok(());
        };
        let futures = self.is_futures();
        self.state(sym);
        let st = &mut self.states[usize::from(sym)];
        let exch_ts = d.exch_ts();
        match Self::sequence(futures, st, sym, &depth, out) {
            Sequenced::Wait => {
                if st.pending.len() >= MAX_PENDING_FRAMES {
                    st.pending.pop_front();
                    self.pending_dropped += 1;
                }
                st.pending.push(raw, depth.oldest_bridging_id());
                st.first_pending = st.pending.oldest_id();
                out.waiting += 1;
            }
            Sequenced::Stale => out.stale += 1,
            Sequenced::Gap => {}
            Sequenced::Apply => {
                out.begin_book(sym, BookAction::Update, exch_ts);
                let inst = &self.symbols.list()[usize::from(sym)].instrument;
                let res = levels(d.b, Side::Bid, inst, out)
                    .and_then(|()| levels(d.a, Side::Ask, inst, out));
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
            let (bids_v, asks_v) = (v.get("bids"), v.get("asks"));
            let bids = bids_v
                .and_then(|b| b.as_array())
                .ok_or(VenueError::Shape("snapshot without bids"))?;
            let asks = asks_v
                .and_then(|a| a.as_array())
                .ok_or(VenueError::Shape("snapshot without asks"))?;
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
                    pending.push(frames.get(f), frames.ids[frames.head + f]);
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
            let res = levels(bids_v, Side::Bid, inst, out)
                .and_then(|()| levels(asks_v, Side::Ask, inst, out));
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
        if let Some(r) =
            scan_frame(self, |a| &mut a.scan, frame, out, |a, d, out| a.scanned(frame, d, out))
        {
            return r;
        }
        self.handle_frame_tape(frame, out)
    }

    /// Handles a frame the scanner read, with the same handler the simd-json path calls for
    /// its event; `None` for the events the scanner leaves to simd-json (the frame is then
    /// parsed again there, nothing having been written to `out`).
    #[inline]
    fn scanned<'i, V: FieldValue<'i>>(
        &mut self,
        frame: &[u8],
        d: &Fields<V>,
        out: &mut Parsed,
    ) -> Option<Result<(), VenueError>> {
        Some(match d.e.and_then(V::text) {
            Some(b"depthUpdate") => self.depth(frame, d, out),
            Some(b"trade" | b"aggTrade") => self.trade(d, out),
            Some(b"bookTicker") => self.book_ticker(d, out),
            Some(e) if IGNORED_EVENTS.contains(&e) => {
                out.control = true;
                Ok(())
            }
            // Spot bookTicker events carry no `e`.
            None if d.b.is_some() && d.big_a.is_some() => self.book_ticker(d, out),
            _ => return None,
        })
    }

    fn handle_frame_tape(&mut self, frame: &[u8], out: &mut Parsed) -> Result<(), VenueError> {
        let mut scratch = self.scratch.take().unwrap_or_default();
        let r = scratch.parse(frame, false, |root| {
            // A combined-stream frame is `{"stream":…,"data":{event}}`; anything else is read
            // as the event itself. One pass over each object's keys.
            let outer = Fields::read(root);
            let d = match outer.data {
                Some(data) => Fields::read(data),
                None => outer,
            };
            if d.last_update_id.is_some() && d.e.is_none() {
                return Ok(Kind::Snapshot);
            }
            match d.e.and_then(text) {
                Some(b"depthUpdate") => self.depth(frame, &d, out).map(|()| Kind::Done),
                Some(b"trade") | Some(b"aggTrade") => self.trade(&d, out).map(|()| Kind::Done),
                Some(b"bookTicker") => self.book_ticker(&d, out).map(|()| Kind::Done),
                Some(b"markPriceUpdate") => self.mark_price(&d, out).map(|()| Kind::Done),
                Some(b"forceOrder") => self.force_order(&d, out).map(|()| Kind::Done),
                Some(e) if IGNORED_EVENTS.contains(&e) => {
                    out.control = true;
                    Ok(Kind::Done)
                }
                Some(_) => Err(VenueError::UnknownType),
                // Spot bookTicker events carry no `e`.
                None if d.b.is_some() && d.big_a.is_some() => {
                    self.book_ticker(&d, out).map(|()| Kind::Done)
                }
                None if outer.id.is_some() && outer.result.is_some() => {
                    out.control = true;
                    Ok(Kind::Done)
                }
                None if outer.code.is_some() && outer.msg.is_some() => {
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

    fn trade<'i, V: FieldValue<'i>>(
        &mut self,
        d: &Fields<V>,
        out: &mut Parsed,
    ) -> Result<(), VenueError> {
        if let Some(x) = d.x.and_then(V::text) {
            // Futures: only MARKET prints are trades (not insurance-fund or ADL fills).
            if x != b"MARKET" {
                out.control = true;
                return Ok(());
            }
        }
        let sym_text = d.s.and_then(V::text).ok_or(VenueError::Shape("trade without s"))?;
        let sym = self.symbols.resolve(sym_text).ok_or(VenueError::UnknownSymbol)?;
        let inst = &self.symbols.list()[usize::from(sym)].instrument;
        let px = d.p.and_then(V::text).ok_or(VenueError::Shape("trade without p"))?;
        let qty = d.q.and_then(V::text).ok_or(VenueError::Shape("trade without q"))?;
        let id =
            d.t.and_then(V::uint)
                .or_else(|| d.a.and_then(V::uint))
                .ok_or(VenueError::Shape("trade without id"))?;
        let buyer_maker = d.m.and_then(V::boolean).ok_or(VenueError::Shape("trade without m"))?;
        out.trades.push(TradeMsg {
            symbol: sym,
            trade: Trade {
                price_tick: inst.price_ticks(px).map_err(num("price"))?,
                size_lots: inst.qty_lots(qty).map_err(num("size"))?,
                // The buyer was the maker: the taker sold.
                aggressor: Some(if buyer_maker { event::Side::Sell } else { event::Side::Buy }),
                trade_id: id,
            },
            exch_ts: d.exch_ts(),
        });
        Ok(())
    }

    fn book_ticker<'i, V: FieldValue<'i>>(
        &mut self,
        d: &Fields<V>,
        out: &mut Parsed,
    ) -> Result<(), VenueError> {
        out.control = true;
        let sym_text = d.s.and_then(V::text).ok_or(VenueError::Shape("bookTicker without s"))?;
        let Some(sym) = self.symbols.resolve(sym_text) else {
            return Ok(()); // nothing to cross-check against yet
        };
        let info = self.symbols.get_mut(sym).ok_or(VenueError::UnknownSymbol)?;
        let inst = &info.instrument;
        fn f<'i, V: FieldValue<'i>>(v: Option<V>) -> Result<&'i [u8], VenueError> {
            v.and_then(V::text).ok_or(VenueError::Shape("bookTicker field"))
        }
        let bbo = Bbo {
            bid_tick: inst.price_ticks(f(d.b)?).map_err(num("bid price"))?,
            bid_lots: inst.qty_lots(f(d.big_b)?).map_err(num("bid size"))?,
            ask_tick: inst.price_ticks(f(d.a)?).map_err(num("ask price"))?,
            ask_lots: inst.qty_lots(f(d.big_a)?).map_err(num("ask size"))?,
        };
        info.venue_bbo = Some(bbo);
        Ok(())
    }
}

super::scan::scan_controls!(Binance, "`depthUpdate`, `trade`, `aggTrade` and `bookTicker`");

impl Binance {
    /// A futures `markPriceUpdate`: mark (`p`) and index (`i`) prices, and the funding rate
    /// (`r`) with the next funding time (`T`) where the contract has funding (a COIN-M
    /// delivery contract sends `r` empty and `T` 0: no funding record).
    fn mark_price(&mut self, d: &TapeFields<'_, '_>, out: &mut Parsed) -> Result<(), VenueError> {
        out.control = true;
        let key = d.s.and_then(text).ok_or(VenueError::Shape("markPriceUpdate without s"))?;
        // `T` is the next funding time here, not the event's: the event time is `E`.
        let exch_ts = d.big_e.and_then(uint).map_or(0, ms_to_ns);
        let (mark, index) = (d.p.and_then(text), d.i.and_then(text));
        super::push_deriv(&self.symbols, key, exch_ts, out, |inst| {
            let mark = mark.map(|v| deriv_price(inst, v, "mark price")).transpose()?;
            let index = index.map(|v| deriv_price(inst, v, "index price")).transpose()?;
            Ok((mark.is_some() || index.is_some())
                .then_some(Derivative::MarkIndex(MarkIndex { mark, index })))
        })?;
        let Some(rate) = d.r.and_then(text).filter(|r| !r.is_empty()) else { return Ok(()) };
        let rate = deriv_rate(rate, "funding rate")?;
        let next_funding_ts = d.big_t.and_then(uint).map_or(0, ms_to_ns);
        super::push_deriv(&self.symbols, key, exch_ts, out, |_| {
            Ok(Some(Derivative::Funding(Funding { rate, next_funding_ts })))
        })
    }

    /// A futures `forceOrder`: the liquidation order `o` (side `S`; average price `ap` and
    /// filled quantity `z` once it filled, else its price `p` and quantity `q`).
    fn force_order(&mut self, d: &TapeFields<'_, '_>, out: &mut Parsed) -> Result<(), VenueError> {
        out.control = true;
        let o = Fields::read(d.o.ok_or(VenueError::Shape("forceOrder without o"))?);
        let key = o.s.and_then(text).ok_or(VenueError::Shape("forceOrder without s"))?;
        let side = match o.big_s.and_then(text) {
            Some(b"BUY") => event::Side::Buy,
            Some(b"SELL") => event::Side::Sell,
            _ => return Err(VenueError::Shape("forceOrder side")),
        };
        fn nonzero<'i>(v: Option<Value<'_, 'i>>) -> Option<&'i [u8]> {
            v.and_then(text).filter(|t| t.iter().any(|c| matches!(c, b'1'..=b'9')))
        }
        let px = nonzero(o.ap)
            .or_else(|| o.p.and_then(text))
            .ok_or(VenueError::Shape("forceOrder without p"))?;
        let qty = nonzero(o.z)
            .or_else(|| o.q.and_then(text))
            .ok_or(VenueError::Shape("forceOrder without q"))?;
        let exch_ts = match o.exch_ts() {
            0 => d.exch_ts(),
            t => t,
        };
        super::push_deriv(&self.symbols, key, exch_ts, out, |inst| {
            Ok(Some(Derivative::Liquidation(Liquidation {
                side,
                price: deriv_price(inst, px, "liquidation price")?,
                size: deriv_size(inst, qty, "liquidation quantity")?,
            })))
        })
    }
}

/// The fields of one Binance object that any handler reads, found in a single pass over its
/// keys instead of one `get(key)` scan per field. As with `get`, the first occurrence of a key
/// wins. Values keep their JSON type; each handler reads the ones its event has (`a` is the
/// asks of a depth event, the ask price of a bookTicker and the id of an aggTrade).
#[derive(Clone, Copy)]
pub(crate) struct Fields<V> {
    /// `e`: the event type.
    pub(crate) e: Option<V>,
    /// `s`: the symbol.
    pub(crate) s: Option<V>,
    /// `U`: a depth event's first update id.
    pub(crate) first_id: Option<V>,
    /// `u`: a depth event's last update id.
    pub(crate) last_id: Option<V>,
    /// `pu`: a futures depth event's previous last update id.
    pub(crate) prev_id: Option<V>,
    /// `T`: the transaction (trade or match) time, ms.
    pub(crate) big_t: Option<V>,
    /// `E`: the event time, ms.
    pub(crate) big_e: Option<V>,
    /// `b`: bid levels, or the best bid price.
    pub(crate) b: Option<V>,
    /// `B`: the best bid size.
    pub(crate) big_b: Option<V>,
    /// `a`: ask levels, the best ask price, or an aggTrade id.
    pub(crate) a: Option<V>,
    /// `A`: the best ask size.
    pub(crate) big_a: Option<V>,
    /// `p`: a trade's price.
    pub(crate) p: Option<V>,
    /// `q`: a trade's size.
    pub(crate) q: Option<V>,
    /// `t`: a trade's id.
    pub(crate) t: Option<V>,
    /// `m`: the buyer was the maker.
    pub(crate) m: Option<V>,
    /// `X`: a futures trade's kind (`MARKET`, …).
    pub(crate) x: Option<V>,
    /// `lastUpdateId`: a depth snapshot's id.
    pub(crate) last_update_id: Option<V>,
    /// `data`: a combined-stream frame's event.
    pub(crate) data: Option<V>,
    /// `id`: a request's id (control answers).
    pub(crate) id: Option<V>,
    /// `result`: a request's result (control answers).
    pub(crate) result: Option<V>,
    /// `code`: an error answer's code.
    pub(crate) code: Option<V>,
    /// `msg`: an error answer's text.
    pub(crate) msg: Option<V>,
    /// `i`: a mark price update's index price.
    pub(crate) i: Option<V>,
    /// `r`: a mark price update's funding rate.
    pub(crate) r: Option<V>,
    /// `o`: a forceOrder's order.
    pub(crate) o: Option<V>,
    /// `S`: a forceOrder's side.
    pub(crate) big_s: Option<V>,
    /// `ap`: a forceOrder's average price.
    pub(crate) ap: Option<V>,
    /// `z`: a forceOrder's filled quantity.
    pub(crate) z: Option<V>,
}

impl<V> Default for Fields<V> {
    fn default() -> Self {
        Fields {
            e: None,
            s: None,
            first_id: None,
            last_id: None,
            prev_id: None,
            big_t: None,
            big_e: None,
            b: None,
            big_b: None,
            a: None,
            big_a: None,
            p: None,
            q: None,
            t: None,
            m: None,
            x: None,
            last_update_id: None,
            data: None,
            id: None,
            result: None,
            code: None,
            msg: None,
            i: None,
            r: None,
            o: None,
            big_s: None,
            ap: None,
            z: None,
        }
    }
}

/// The fields as simd-json's tape gives them.
type TapeFields<'t, 'i> = Fields<Value<'t, 'i>>;

impl<'t, 'i> TapeFields<'t, 'i> {
    /// Reads the fields of `v` (all absent if `v` is not an object).
    #[inline]
    fn read(v: Value<'t, 'i>) -> Self {
        let mut f = Fields::default();
        let Some(obj) = v.as_object() else { return f };
        for (k, v) in obj.iter() {
            let Some((slot, _)) = f.slot(k.as_bytes()) else { continue };
            if slot.is_none() {
                *slot = Some(v);
            }
        }
        f
    }
}

impl<V> Fields<V> {
    /// The field `key` fills, if the adapter reads it, and whether the scanner reads it too
    /// (`false`: a key it leaves to simd-json: `lastUpdateId`, `id`, `result`, `code`, `msg`,
    /// the derivatives fields, and `data` inside an event).
    #[inline(always)]
    pub(crate) fn slot(&mut self, key: &[u8]) -> Option<(&mut Option<V>, bool)> {
        let scanned = match key {
            b"e" => &mut self.e,
            b"s" => &mut self.s,
            b"U" => &mut self.first_id,
            b"u" => &mut self.last_id,
            b"pu" => &mut self.prev_id,
            b"T" => &mut self.big_t,
            b"E" => &mut self.big_e,
            b"b" => &mut self.b,
            b"B" => &mut self.big_b,
            b"a" => &mut self.a,
            b"A" => &mut self.big_a,
            b"p" => &mut self.p,
            b"q" => &mut self.q,
            b"t" => &mut self.t,
            b"m" => &mut self.m,
            b"X" => &mut self.x,
            _ => {
                let other = match key {
                    b"lastUpdateId" => &mut self.last_update_id,
                    b"data" => &mut self.data,
                    b"id" => &mut self.id,
                    b"result" => &mut self.result,
                    b"code" => &mut self.code,
                    b"msg" => &mut self.msg,
                    b"i" => &mut self.i,
                    b"r" => &mut self.r,
                    b"o" => &mut self.o,
                    b"S" => &mut self.big_s,
                    b"ap" => &mut self.ap,
                    b"z" => &mut self.z,
                    _ => return None,
                };
                return Some((other, false));
            }
        };
        Some((scanned, true))
    }

    /// The exchange time in ns: `T` if it is an integer, else `E`, else 0.
    #[inline]
    fn exch_ts<'i>(&self) -> u64
    where
        V: FieldValue<'i>,
    {
        let t = self.big_t.and_then(V::uint).or_else(|| self.big_e.and_then(V::uint));
        ms_to_ns(t.unwrap_or(0))
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

/// Pushes the `[price, size]` string pairs of the array `levels` as levels of `side`.
#[inline]
fn levels<'i, V: FieldValue<'i>>(
    levels: Option<V>,
    side: Side,
    inst: &crate::book::Instrument,
    out: &mut Parsed,
) -> Result<(), VenueError> {
    let Some(levels) = levels else {
        return Err(VenueError::Shape("levels missing"));
    };
    levels.each_level(|px, qty| {
        let px_tick = out.book_price(inst, px).map_err(num("price"))?;
        let qty_lots = inst.qty_lots(qty).map_err(num("size"))?;
        out.level(side, px_tick, qty_lots);
        Ok(())
    })
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

    fn symbols_mut(&mut self) -> &mut Symbols {
        &mut self.symbols
    }

    fn subscribe_messages(&self, symbols: &[&str]) -> Vec<String> {
        vec![stream_request("SUBSCRIBE", symbols, 1, self.streams())]
    }

    fn unsubscribe_messages(&self, symbols: &[&str]) -> Vec<String> {
        vec![stream_request("UNSUBSCRIBE", symbols, 2, self.streams())]
    }
}

impl Binance {
    /// The streams subscribed per symbol.
    fn streams(&self) -> &'static [&'static str] {
        if self.derivatives && self.is_futures() {
            &["depth@100ms", "trade", "bookTicker", "markPrice@1s", "forceOrder"]
        } else {
            &["depth@100ms", "trade", "bookTicker"]
        }
    }
}

fn stream_request(method: &str, symbols: &[&str], id: u32, streams: &[&str]) -> String {
    let mut params = Vec::new();
    for s in symbols {
        let s = s.to_ascii_lowercase();
        for stream in streams {
            params.push(format!("\"{s}@{stream}\""));
        }
    }
    format!("{{\"method\":\"{method}\",\"params\":[{}],\"id\":{id}}}", params.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spot() -> Binance {
        Binance::spot(InstrumentRegistry::with_builtins())
    }

    fn handle(b: &mut Binance, frame: &str) -> (Result<(), VenueError>, Parsed) {
        let mut out = Parsed::default();
        let r = b.handle_frame(frame.as_bytes(), 0, &mut out);
        (r, out)
    }

    /// The `markPrice` and `forceOrder` examples of Binance's USD-M documentation (Mark
    /// Price Stream, Liquidation Order Streams) and the COIN-M mark price example of a
    /// delivery contract (no funding), after a snapshot that makes each symbol known.
    #[test]
    fn mark_price_and_force_order_from_the_documented_examples() {
        let mut b = Binance::futures(InstrumentRegistry::with_builtins());
        let snap = r#"{"lastUpdateId":1027024,"E":1589436922972,"T":1589436922959,"bids":[["11794.10","10"]],"asks":[["11794.20","10"]]}"#;
        let mut out = Parsed::default();
        b.handle_http(
            "https://fapi.binance.com/fapi/v1/depth?symbol=BTCUSDT&limit=1000",
            snap.as_bytes(),
            0,
            &mut out,
        )
        .unwrap();
        let tick = b.symbols().get(0).unwrap().instrument.tick;
        let (r, out) = handle(
            &mut b,
            r#"{"stream":"btcusdt@markPrice@1s","data":{"e":"markPriceUpdate","E":1562305380000,"s":"BTCUSDT","p":"11794.15000000","i":"11784.62659091","P":"11784.25641265","r":"0.00038167","T":1562306400000}}"#,
        );
        assert_eq!(r, Ok(()));
        assert!(out.control);
        assert!(out.derivs.iter().all(|d| d.exch_ts == 1_562_305_380_000_000_000 && d.symbol == 0));
        let Derivative::MarkIndex(MarkIndex { mark: Some(m), index: Some(i) }) = out.derivs[0].data
        else {
            panic!("{:?}", out.derivs)
        };
        assert_eq!(
            (m.format(tick).unwrap(), i.format(tick).unwrap()),
            ("11794.15".into(), "11784.62659091".into())
        );
        let Derivative::Funding(f) = out.derivs[1].data else { panic!("{:?}", out.derivs) };
        assert_eq!(f.rate.format(crate::book::Step::ONE).unwrap(), "0.00038167");
        assert_eq!(f.next_funding_ts, 1_562_306_400_000_000_000);

        let (r, out) = handle(
            &mut b,
            r#"{"e":"forceOrder","E":1568014460893,"o":{"s":"BTCUSDT","S":"SELL","o":"LIMIT","f":"IOC","q":"0.014","p":"9910","ap":"9910","X":"FILLED","l":"0.014","z":"0.014","T":1568014460893}}"#,
        );
        assert_eq!(r, Ok(()));
        let Derivative::Liquidation(l) = out.derivs[0].data else { panic!("{:?}", out.derivs) };
        let lot = b.symbols().get(0).unwrap().instrument.lot;
        assert_eq!(l.side, event::Side::Sell);
        assert_eq!(
            (l.price.format(tick).unwrap(), l.size.format(lot).unwrap()),
            ("9910".into(), "0.014".into())
        );
        assert_eq!(out.derivs[0].exch_ts, 1_568_014_460_893_000_000);
        // Another symbol's liquidation: not this connection's, counted and skipped.
        let (r, out) = handle(
            &mut b,
            r#"{"e":"forceOrder","E":1,"o":{"s":"ETHUSDT","S":"BUY","q":"1","p":"2000","ap":"0","z":"0","T":1}}"#,
        );
        assert_eq!((r, out.derivs.len(), out.derivs_unknown), (Ok(()), 0, 1));
        for bad in [
            r#"{"e":"forceOrder","E":1,"o":{"s":"BTCUSDT","S":"SIDEWAYS","q":"1","p":"1"}}"#,
            r#"{"e":"forceOrder","E":1}"#,
            r#"{"e":"markPriceUpdate","E":1,"s":"BTCUSDT","p":"x","r":""}"#,
            r#"{"e":"markPriceUpdate","E":1,"s":"BTCUSDT","p":"1","r":"0.1.2"}"#,
        ] {
            assert!(handle(&mut b, bad).0.is_err(), "{bad}");
        }

        let mut cm = Binance::coinm(InstrumentRegistry::with_builtins());
        let mut out = Parsed::default();
        cm.handle_http("https://dapi.binance.com/dapi/v1/depth?symbol=BTCUSD_201225&limit=1000", br#"{"lastUpdateId":1,"E":1,"T":1,"bids":[["10934.6","10"]],"asks":[["10934.7","10"]]}"#, 0, &mut out).unwrap();
        let (r, out) = handle(
            &mut cm,
            r#"{"e":"markPriceUpdate","E":1596095725000,"s":"BTCUSD_201225","p":"10934.62615417","P":"10962.17178236","i":"10933.62615417","r":"","T":0}"#,
        );
        assert_eq!(r, Ok(()));
        assert_eq!(out.derivs.len(), 1, "a delivery contract has no funding: {:?}", out.derivs);

        // The streams are subscribed on futures when asked for, never on spot.
        assert!(!b.subscribe_messages(&["BTCUSDT"])[0].contains("markPrice"));
        b.derivatives = true;
        assert_eq!(
            b.subscribe_messages(&["BTCUSDT"])[0],
            r#"{"method":"SUBSCRIBE","params":["btcusdt@depth@100ms","btcusdt@trade","btcusdt@bookTicker","btcusdt@markPrice@1s","btcusdt@forceOrder"],"id":1}"#
        );
        let mut s = spot();
        s.derivatives = true;
        assert!(!s.subscribe_messages(&["BTCUSDT"])[0].contains("forceOrder"));
    }

    #[test]
    fn fields_are_read_in_one_pass_first_key_wins() {
        let mut s = Scratch::new();
        let frame = br#"{"s":"BTCUSDT","p":"1.5","p":"2.5","x":[1,{"p":"3"}],"t":7,"pu":null}"#;
        let got = s
            .parse(frame, false, |v| {
                let f = Fields::read(v);
                Ok((
                    f.s.and_then(text).map(<[u8]>::to_vec),
                    f.p.and_then(text).map(<[u8]>::to_vec),
                    f.t.and_then(uint),
                    f.prev_id.is_some() && f.prev_id.and_then(uint).is_none(),
                    f.e.is_none() && f.data.is_none(),
                ))
            })
            .unwrap();
        assert_eq!(got.0.as_deref(), Some(&b"BTCUSDT"[..]));
        assert_eq!(got.1.as_deref(), Some(&b"1.5"[..]), "the first p, as Value::get gives");
        assert_eq!(got.2, Some(7));
        assert!(got.3 && got.4);
        // Not an object: nothing is read.
        let none = s.parse(b"[1,2]", false, |v| Ok(Fields::read(v).s.is_none())).unwrap();
        assert!(none);
    }

    #[test]
    fn frames_are_classified_as_before() {
        let mut b = spot();
        // Spot bookTicker: no `e`, recognised by `b` and `A`.
        let (r, out) = handle(
            &mut b,
            r#"{"stream":"btcusdt@bookTicker","data":{"u":1,"s":"BTCUSDT","b":"61837.63000000","B":"3.78826000","a":"61837.64000000","A":"1.54698000"}}"#,
        );
        assert_eq!(r, Ok(()));
        assert!(out.control);
        let info = b.symbols().get(0).unwrap();
        let bbo = info.venue_bbo.unwrap();
        assert_eq!((bbo.bid_tick, bbo.ask_tick), (6_183_763, 6_183_764));
        assert_eq!((bbo.bid_lots, bbo.ask_lots), (378_826_000, 154_698_000));
        // A trade, not combined.
        let (r, out) = handle(
            &mut b,
            r#"{"e":"trade","E":1723161255343,"s":"BTCUSDT","t":3735683259,"p":"61837.63000000","q":"0.02000000","T":1723161255342,"m":true,"M":true}"#,
        );
        assert_eq!(r, Ok(()));
        let t = out.trades[0];
        assert_eq!(
            (t.trade.price_tick, t.trade.size_lots, t.trade.trade_id),
            (6_183_763, 2_000_000, 3_735_683_259)
        );
        assert_eq!(t.exch_ts, 1_723_161_255_342_000_000);
        // Control answers, venue errors, unknown events.
        assert_eq!(handle(&mut b, r#"{"result":null,"id":1}"#).0, Ok(()));
        assert_eq!(
            handle(&mut b, r#"{"code":-1121,"msg":"Invalid symbol."}"#).0,
            Err(VenueError::VenueReported)
        );
        assert_eq!(
            handle(&mut b, r#"{"stream":"x","data":{"e":"nope"}}"#).0,
            Err(VenueError::UnknownType)
        );
        assert_eq!(handle(&mut b, r#"{"stream":"x","data":[1]}"#).0, Err(VenueError::UnknownType));
        assert_eq!(handle(&mut b, r#"[]"#).0, Err(VenueError::UnknownType));
        // A depth event waits for its snapshot.
        let (r, out) = handle(
            &mut b,
            r#"{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":5,"u":6,"b":[["1.00","2.0"]],"a":[]}}"#,
        );
        assert_eq!((r, out.waiting), (Ok(()), 1));
    }

    #[test]
    fn malformed_fields_are_errors_not_panics() {
        let mut b = spot();
        let bad = [
            r#"{"data":{"e":"depthUpdate","s":"BTCUSDT","U":"x","u":6,"b":[],"a":[]}}"#,
            r#"{"data":{"e":"depthUpdate","s":"BTCUSDT","U":7,"u":6,"b":[],"a":[]}}"#,
            r#"{"data":{"e":"depthUpdate","U":5,"u":6,"b":[],"a":[]}}"#,
            r#"{"data":{"e":"trade","s":"BTCUSDT","t":1,"p":"1e5","q":"1","m":true}}"#,
            r#"{"data":{"e":"trade","s":"BTCUSDT","t":1,"p":"-1.00","q":"1","m":true}}"#,
            r#"{"data":{"e":"trade","s":"BTCUSDT","t":1,"p":"1.001","q":"1","m":true}}"#,
            r#"{"data":{"e":"trade","s":"BTCUSDT","t":1,"p":"1.00","q":"1","m":"yes"}}"#,
            r#"{"data":{"e":"trade","s":"BTCUSDT","p":"1.00","q":"1","m":true}}"#,
            r#"{"data":{"s":"BTCUSDT","b":"1.00","B":"x","a":"1.01","A":"1"}}"#,
            r#"{"data":{"s":"BTCUSDT","b":"1.00","B":1,"a":"1.01","A":"1"}}"#,
        ];
        for f in bad {
            assert!(handle(&mut b, f).0.is_err(), "{f}");
        }
    }
}

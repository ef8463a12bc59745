//! The event record the feed publishes: one fixed-size, `repr(C)`, plain-old-data record of
//! exactly one cache line (64 bytes), no heap, no pointers.
//!
//! Every record carries:
//!
//! - the per-ring sequence number (`seq`, a `u32` that wraps; see [`Event::seq`]),
//! - the instrument id (an index into the feed's instrument table),
//! - the exchange timestamp `exch_ts` and the local receive timestamp `local_ts`, both epoch
//!   nanoseconds (`0` = the venue sent none),
//! - the stage stamps for latency: parsed and published, kept as nanosecond offsets from
//!   `local_ts` (the receive stamp),
//! - the book state ([`BookState`]): `Synced` is the only valid state, and a BBO whose book is
//!   crossed or locked is never marked `Synced` ([`Event::bbo`] downgrades it to `Stale`).
//!
//! The layout (bytes): `exch_ts` 0..8, `local_ts` 8..16, `seq` 16..20, `parsed_dns` 20..24,
//! `published_dns` 24..28, `instrument` 28..30, `kind` 30, `state` 31, payload 32..64 (four
//! 64-bit words whose meaning depends on the kind). Raw fields are private: build records with
//! the constructors and read them with the accessors or the typed view [`Event::kind`].
//!
//! ```
//! use ladderfeed::event::{Bbo, BookState, Event, EventKind, Stamps};
//!
//! let stamps = Stamps { exch_ts: 1_700_000_000_000_000_000, local_ts: 1_700_000_000_000_250_000, parsed_ts: 1_700_000_000_000_250_400 };
//! let bbo = Bbo { bid_tick: 6_500_000, bid_lots: 12, ask_tick: 6_500_001, ask_lots: 3 };
//! let ev = Event::bbo(stamps, 7, BookState::Synced, bbo);
//! assert_eq!(std::mem::size_of::<Event>(), 64);
//! match ev.kind() {
//!     EventKind::Bbo(b) => {
//!         assert_eq!(b.spread_ticks(), 1);
//!         assert!(ev.state().is_valid());
//!     }
//!     other => panic!("unexpected {other:?}"),
//! }
//! // A crossed book is never passed off as valid.
//! let crossed = Bbo { bid_tick: 6_500_002, bid_lots: 1, ask_tick: 6_500_001, ask_lots: 1 };
//! assert_eq!(Event::bbo(stamps, 7, BookState::Synced, crossed).state(), BookState::Stale);
//! ```

use bytemuck::{Pod, Zeroable};

/// An instrument's index in the feed's instrument table.
pub type InstrumentId = u16;

/// The state of an instrument's book when an event was published.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum BookState {
    /// The book is complete and consistent with the venue's sequence: its BBO can be trusted.
    Synced = 1,
    /// A gap or checksum failure was detected; a snapshot is being fetched.
    Resyncing = 2,
    /// No trustworthy data (the feed went quiet, disconnected, or the book was crossed).
    Stale = 3,
}

impl BookState {
    /// Decodes the stored byte. Anything unknown reads as `Stale`: never valid.
    #[inline]
    pub const fn from_u8(byte: u8) -> Self {
        match byte {
            1 => BookState::Synced,
            2 => BookState::Resyncing,
            _ => BookState::Stale,
        }
    }

    /// `true` only for `Synced`: the only state whose prices may be acted on.
    #[inline]
    pub const fn is_valid(self) -> bool {
        matches!(self, BookState::Synced)
    }
}

/// The side of a trade's aggressor (the taker).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Side {
    /// The taker bought (lifted the offer).
    Buy = 1,
    /// The taker sold (hit the bid).
    Sell = 2,
}

/// The timestamps known when a record is built, all epoch nanoseconds on the feed's
/// [`Clock`](crate::clock::Clock) except `exch_ts`, which is the venue's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stamps {
    /// The venue's timestamp (`0` if the venue sent none).
    pub exch_ts: u64,
    /// When the message was received (read from the socket or the capture).
    pub local_ts: u64,
    /// When parsing finished and the event was ready to publish.
    pub parsed_ts: u64,
}

/// Best bid and offer. An empty side has zero lots (its tick is then meaningless).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Bbo {
    /// Best bid price, ticks.
    pub bid_tick: i64,
    /// Size at the best bid, lots.
    pub bid_lots: i64,
    /// Best ask price, ticks.
    pub ask_tick: i64,
    /// Size at the best ask, lots.
    pub ask_lots: i64,
}

impl Bbo {
    /// Ask minus bid, ticks.
    #[inline]
    pub const fn spread_ticks(&self) -> i64 {
        self.ask_tick.wrapping_sub(self.bid_tick)
    }

    /// `true` when both sides are present and the bid is at or above the ask.
    #[inline]
    pub const fn is_crossed(&self) -> bool {
        self.bid_lots > 0 && self.ask_lots > 0 && self.bid_tick >= self.ask_tick
    }
}

/// One trade.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Trade {
    /// Trade price, ticks.
    pub price_tick: i64,
    /// Trade size, lots.
    pub size_lots: i64,
    /// The aggressor's side, if the venue says.
    pub aggressor: Option<Side>,
    /// The venue's trade id (`0` if none).
    pub trade_id: u64,
}

/// An exact value finer than its step: `units` steps of `step / 10^scale`, where the step is
/// the instrument's tick (prices), its lot (sizes) or `1` (rates). `scale` is 0 when the value
/// is a whole number of steps, so a mark price on the tick grid is plain ticks; an index
/// price between two ticks keeps every digit the venue sent (no rounding, no `f64`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Scaled {
    /// The value in units of `step / 10^scale` (may be negative: funding rates).
    pub units: i64,
    /// Extra decimal places below the step (0 to 18).
    pub scale: u8,
}

impl Scaled {
    /// Reads decimal text exactly in units of `step` (see [`Step::units_exact_scaled`]).
    ///
    /// [`Step::units_exact_scaled`]: crate::book::Step::units_exact_scaled
    pub fn parse(step: crate::book::Step, text: &[u8]) -> Result<Scaled, crate::book::NumError> {
        step.units_exact_scaled(text).map(|(units, scale)| Scaled { units, scale })
    }

    /// The exact decimal text of the value measured in `step` (trailing zeros removed);
    /// `None` if the scale is out of range (a foreign record).
    pub fn format(&self, step: crate::book::Step) -> Option<String> {
        step.subdivided(self.scale).ok().map(|s| s.format(self.units))
    }
}

/// A perpetual's funding: the rate of the current period and when it is next charged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Funding {
    /// The funding rate as a fraction of the position's value (`0.0001` = 0.01%), exactly as
    /// the venue printed it ([`Scaled`] with step `1`).
    pub rate: Scaled,
    /// When the rate is next charged, epoch ns (`0`: the venue does not say, or funding is
    /// continuous, as on Deribit).
    pub next_funding_ts: u64,
}

/// A derivative's mark and index prices, each when the message carried it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MarkIndex {
    /// The mark price, in the instrument's ticks (finer values kept exactly, see [`Scaled`]).
    pub mark: Option<Scaled>,
    /// The index (spot reference) price, in the instrument's ticks, as for `mark`.
    pub index: Option<Scaled>,
}

/// A forced (liquidation) order the venue published.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Liquidation {
    /// The side of the liquidation order: `Sell` closes a long position, `Buy` a short one.
    pub side: Side,
    /// Its price (average fill price where the venue gives one, else the order or bankruptcy
    /// price), in the instrument's ticks, finer values kept exactly.
    pub price: Scaled,
    /// Its size, in the instrument's lots, finer values kept exactly.
    pub size: Scaled,
}

/// Derivatives data of one message, before it becomes a record ([`Event::derivative`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Derivative {
    /// Funding rate and next funding time.
    Funding(Funding),
    /// Mark and index prices.
    MarkIndex(MarkIndex),
    /// Open interest, in the instrument's lots (finer values kept exactly).
    OpenInterest(Scaled),
    /// A liquidation.
    Liquidation(Liquidation),
}

/// The typed view of an [`Event`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// Best bid and offer changed.
    Bbo(Bbo),
    /// A trade printed.
    Trade(Trade),
    /// The book's state changed from `previous` to [`Event::state`].
    BookState {
        /// The state before the change.
        previous: BookState,
    },
    /// The first record of an instrument's definition (published before the first event that
    /// uses its id, and again if its tick or lot changes). Assemble it with the text records
    /// that follow into an [`Instrument`](crate::book::Instrument) with
    /// [`consumer::Instruments`](crate::consumer::Instruments).
    InstrumentHead(InstrumentHead),
    /// More of an instrument definition's symbol text.
    InstrumentText {
        /// Which part, from 1.
        part: u8,
        /// Up to [`INSTRUMENT_TEXT_BYTES`] bytes of the symbol (zero-padded).
        bytes: [u8; INSTRUMENT_TEXT_BYTES],
    },
    /// One level of a book's top N changed (opt-in per book,
    /// [`Engine::with_depth`](crate::engine::Engine::with_depth)): the level at `price_tick`
    /// now holds `size_lots` (`0`: it left the top N). A [`EventKind::DepthEnd`] follows the
    /// changes of one message.
    DepthLevel {
        /// The side (`Buy`: bids, `Sell`: asks).
        side: Side,
        /// Price, ticks.
        price_tick: i64,
        /// Size, lots (`0`: no longer in the top N).
        size_lots: i64,
    },
    /// The top N changed by the [`EventKind::DepthLevel`] records just before: the book's top
    /// N is complete again (rebuild it with [`consumer::Depth`](crate::consumer::Depth)).
    DepthEnd {
        /// Levels per side the book publishes.
        levels: u8,
    },
    /// The book's top N is void (it is no longer synced): forget it; it comes back whole, as
    /// changes from empty, once the book is synced again.
    DepthClear,
    /// A perpetual's funding rate and next funding time changed (or were repeated).
    Funding(Funding),
    /// A derivative's mark and/or index price.
    MarkIndex(MarkIndex),
    /// A derivative's open interest, in the instrument's lots (see [`Scaled`]).
    OpenInterest(Scaled),
    /// A liquidation order.
    Liquidation(Liquidation),
    /// A zeroed or foreign record (kind byte unknown).
    Unknown(u8),
}

/// Symbol bytes carried by an [`EventKind::InstrumentHead`] record.
pub const INSTRUMENT_HEAD_BYTES: usize = 8;
/// Symbol bytes carried by each [`EventKind::InstrumentText`] record.
pub const INSTRUMENT_TEXT_BYTES: usize = 31;
/// Text records an instrument definition may use after its head.
pub const INSTRUMENT_TEXT_PARTS: usize = 3;
/// The longest symbol an instrument definition carries (101 bytes).
pub const MAX_SYMBOL_BYTES: usize =
    INSTRUMENT_HEAD_BYTES + INSTRUMENT_TEXT_PARTS * INSTRUMENT_TEXT_BYTES;

/// The head of an instrument definition: steps, venue, where the steps came from, and the
/// symbol's length and first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InstrumentHead {
    /// The tick as `mantissa × 10^-scale`.
    pub tick_mantissa: u64,
    /// The tick's decimal scale.
    pub tick_scale: u8,
    /// The lot as `mantissa × 10^-scale`.
    pub lot_mantissa: u64,
    /// The lot's decimal scale.
    pub lot_scale: u8,
    /// The venue's code ([`Venue::code`](crate::book::Venue::code)).
    pub venue: u8,
    /// Where the steps came from: 1 configured, 2 built in, 3 learned, 4 the venue's reference data.
    pub source: u8,
    /// The symbol's length in bytes.
    pub symbol_len: u8,
    /// The unit of trade prices: 0 when trades count ticks (every venue but Bitfinex), else
    /// `k + 1` when they count `10^-k`
    /// ([`Instrument::trade_tick`](crate::book::Instrument::trade_tick)).
    pub trade_scale: u8,
    /// The symbol's first bytes (zero-padded).
    pub symbol: [u8; INSTRUMENT_HEAD_BYTES],
}

const KIND_BBO: u8 = 1;
const KIND_TRADE: u8 = 2;
const KIND_STATE: u8 = 3;
const KIND_INSTRUMENT: u8 = 4;
const KIND_INSTRUMENT_TEXT: u8 = 5;
const KIND_DEPTH_LEVEL: u8 = 6;
const KIND_DEPTH_END: u8 = 7;
const KIND_DEPTH_CLEAR: u8 = 8;
const KIND_FUNDING: u8 = 9;
const KIND_MARK_INDEX: u8 = 10;
const KIND_OPEN_INTEREST: u8 = 11;
const KIND_LIQUIDATION: u8 = 12;

/// Presence bits of a [`MarkIndex`] record (payload word 2, bits 16 and 17).
const HAS_MARK: u64 = 1 << 16;
const HAS_INDEX: u64 = 1 << 17;

/// The fixed-size record carried by the ring. See the [module docs](self).
#[repr(C, align(64))]
#[derive(Clone, Copy, PartialEq, Eq, Pod, Zeroable)]
pub struct Event {
    exch_ts: u64,
    local_ts: u64,
    seq: u32,
    parsed_dns: u32,
    published_dns: u32,
    instrument: InstrumentId,
    kind: u8,
    state: u8,
    payload: [u64; 4],
}

const _: () = assert!(core::mem::size_of::<Event>() == 64);

/// `ts - base` in nanoseconds, saturated into a `u32` (≈ 4.29 s).
#[inline]
fn offset_ns(base: u64, ts: u64) -> u32 {
    u32::try_from(ts.saturating_sub(base)).unwrap_or(u32::MAX)
}

impl Event {
    #[inline]
    fn header(stamps: Stamps, instrument: InstrumentId, kind: u8, state: BookState) -> Self {
        Event {
            exch_ts: stamps.exch_ts,
            local_ts: stamps.local_ts,
            seq: 0,
            parsed_dns: offset_ns(stamps.local_ts, stamps.parsed_ts),
            published_dns: 0,
            instrument,
            kind,
            state: state as u8,
            payload: [0; 4],
        }
    }

    /// A BBO record. If `state` is `Synced` but the book is crossed or locked
    /// ([`Bbo::is_crossed`]), the record is marked `Stale` instead.
    #[inline]
    pub fn bbo(stamps: Stamps, instrument: InstrumentId, state: BookState, bbo: Bbo) -> Self {
        let state = if bbo.is_crossed() { BookState::Stale } else { state };
        let mut ev = Self::header(stamps, instrument, KIND_BBO, state);
        ev.payload =
            [bbo.bid_tick as u64, bbo.bid_lots as u64, bbo.ask_tick as u64, bbo.ask_lots as u64];
        ev
    }

    /// A trade record; `state` is the state of the instrument's book at the time.
    #[inline]
    pub fn trade(stamps: Stamps, instrument: InstrumentId, state: BookState, trade: Trade) -> Self {
        let mut ev = Self::header(stamps, instrument, KIND_TRADE, state);
        let side = trade.aggressor.map_or(0, |s| s as u8);
        ev.payload = [trade.price_tick as u64, trade.size_lots as u64, trade.trade_id, side.into()];
        ev
    }

    /// A book state change from `previous` to `state`.
    #[inline]
    pub fn book_state(
        stamps: Stamps,
        instrument: InstrumentId,
        state: BookState,
        previous: BookState,
    ) -> Self {
        let mut ev = Self::header(stamps, instrument, KIND_STATE, state);
        ev.payload[0] = previous as u64;
        ev
    }

    /// The records that define `instrument`'s id: a head and as many text records as its
    /// symbol needs (at most [`INSTRUMENT_TEXT_PARTS`]; a symbol longer than
    /// [`MAX_SYMBOL_BYTES`] is cut there). No allocation: the records come in a fixed array,
    /// of which the first `n` (the second value) are used.
    pub fn instrument_definition(
        stamps: Stamps,
        id: InstrumentId,
        instrument: &crate::book::Instrument,
    ) -> ([Event; 1 + INSTRUMENT_TEXT_PARTS], usize) {
        let text = instrument.symbol.as_bytes();
        let text = &text[..text.len().min(MAX_SYMBOL_BYTES)];
        let mut head = Self::header(stamps, id, KIND_INSTRUMENT, BookState::Stale);
        let mut first = [0u8; INSTRUMENT_HEAD_BYTES];
        let n = text.len().min(INSTRUMENT_HEAD_BYTES);
        first[..n].copy_from_slice(&text[..n]);
        // Only a power of ten travels (mantissa 1): any other trade step is not sent.
        let trade_scale = match instrument.trade_tick {
            Some(t) if t.mantissa() == 1 => t.scale() + 1,
            _ => 0,
        };
        let source = match instrument.source {
            crate::book::StepSource::Configured => 1u64,
            crate::book::StepSource::Builtin => 2,
            crate::book::StepSource::Learned => 3,
            crate::book::StepSource::Venue => 4,
        };
        head.payload = [
            instrument.tick.mantissa(),
            instrument.lot.mantissa(),
            u64::from(instrument.tick.scale())
                | u64::from(instrument.lot.scale()) << 8
                | u64::from(instrument.venue.code()) << 16
                | source << 24
                | (text.len() as u64) << 32
                | u64::from(trade_scale) << 40,
            u64::from_le_bytes(first),
        ];
        let mut out = [head; 1 + INSTRUMENT_TEXT_PARTS];
        let mut used = 1;
        for (i, chunk) in text[n..].chunks(INSTRUMENT_TEXT_BYTES).enumerate() {
            let mut ev = Self::header(stamps, id, KIND_INSTRUMENT_TEXT, BookState::Stale);
            let mut bytes = [0u8; 32];
            bytes[0] = (i + 1) as u8;
            bytes[1..1 + chunk.len()].copy_from_slice(chunk);
            for (w, b) in ev.payload.iter_mut().zip(bytes.chunks_exact(8)) {
                *w = u64::from_le_bytes(b.try_into().unwrap_or([0; 8]));
            }
            out[used] = ev;
            used += 1;
        }
        (out, used)
    }

    /// One level of a book's top N (see [`EventKind::DepthLevel`]); `side` is `Buy` for bids.
    #[inline]
    pub fn depth_level(
        stamps: Stamps,
        instrument: InstrumentId,
        side: Side,
        price_tick: i64,
        size_lots: i64,
    ) -> Self {
        let mut ev = Self::header(stamps, instrument, KIND_DEPTH_LEVEL, BookState::Synced);
        ev.payload = [price_tick as u64, size_lots as u64, side as u64, 0];
        ev
    }

    /// The end of one message's top-N changes (see [`EventKind::DepthEnd`]).
    #[inline]
    pub fn depth_end(stamps: Stamps, instrument: InstrumentId, levels: u8) -> Self {
        let mut ev = Self::header(stamps, instrument, KIND_DEPTH_END, BookState::Synced);
        ev.payload[0] = u64::from(levels);
        ev
    }

    /// A book's top N is void (see [`EventKind::DepthClear`]).
    #[inline]
    pub fn depth_clear(stamps: Stamps, instrument: InstrumentId, state: BookState) -> Self {
        Self::header(stamps, instrument, KIND_DEPTH_CLEAR, state)
    }

    /// A derivatives record (funding, mark and index, open interest or a liquidation);
    /// `state` is the state of the instrument's book at the time. Layout of the payload:
    ///
    /// - funding: rate units, next funding time (ns), rate scale;
    /// - mark/index: mark units, index units, mark scale | index scale << 8 | presence bits
    ///   (mark 1 << 16, index 1 << 17);
    /// - open interest: units, scale;
    /// - liquidation: price units, size units, price scale | size scale << 8 | side << 16.
    #[inline]
    pub fn derivative(
        stamps: Stamps,
        instrument: InstrumentId,
        state: BookState,
        data: Derivative,
    ) -> Self {
        let (kind, payload) = match data {
            Derivative::Funding(f) => {
                (KIND_FUNDING, [f.rate.units as u64, f.next_funding_ts, u64::from(f.rate.scale), 0])
            }
            Derivative::MarkIndex(m) => {
                let (mark, index) = (m.mark.unwrap_or_default(), m.index.unwrap_or_default());
                let mut bits = u64::from(mark.scale) | u64::from(index.scale) << 8;
                if m.mark.is_some() {
                    bits |= HAS_MARK;
                }
                if m.index.is_some() {
                    bits |= HAS_INDEX;
                }
                (KIND_MARK_INDEX, [mark.units as u64, index.units as u64, bits, 0])
            }
            Derivative::OpenInterest(oi) => {
                (KIND_OPEN_INTEREST, [oi.units as u64, u64::from(oi.scale), 0, 0])
            }
            Derivative::Liquidation(l) => (
                KIND_LIQUIDATION,
                [
                    l.price.units as u64,
                    l.size.units as u64,
                    u64::from(l.price.scale) | u64::from(l.size.scale) << 8 | (l.side as u64) << 16,
                    0,
                ],
            ),
        };
        let mut ev = Self::header(stamps, instrument, kind, state);
        ev.payload = payload;
        ev
    }

    /// `true` for derivatives records (funding, mark and index, open interest, liquidations).
    #[inline]
    pub fn is_derivative(&self) -> bool {
        matches!(self.kind, KIND_FUNDING | KIND_MARK_INDEX | KIND_OPEN_INTEREST | KIND_LIQUIDATION)
    }

    /// `true` for the records of a book's top N (levels, ends, clears).
    #[inline]
    pub fn is_depth(&self) -> bool {
        matches!(self.kind, KIND_DEPTH_LEVEL | KIND_DEPTH_END | KIND_DEPTH_CLEAR)
    }

    /// `true` for the records of an instrument definition.
    #[inline]
    pub fn is_instrument_definition(&self) -> bool {
        matches!(self.kind, KIND_INSTRUMENT | KIND_INSTRUMENT_TEXT)
    }

    /// The typed view of the record.
    #[inline]
    pub fn kind(&self) -> EventKind {
        let p = self.payload;
        match self.kind {
            KIND_BBO => EventKind::Bbo(Bbo {
                bid_tick: p[0] as i64,
                bid_lots: p[1] as i64,
                ask_tick: p[2] as i64,
                ask_lots: p[3] as i64,
            }),
            KIND_TRADE => EventKind::Trade(Trade {
                price_tick: p[0] as i64,
                size_lots: p[1] as i64,
                trade_id: p[2],
                aggressor: match p[3] {
                    1 => Some(Side::Buy),
                    2 => Some(Side::Sell),
                    _ => None,
                },
            }),
            KIND_STATE => EventKind::BookState { previous: BookState::from_u8(p[0] as u8) },
            KIND_INSTRUMENT => EventKind::InstrumentHead(InstrumentHead {
                tick_mantissa: p[0],
                lot_mantissa: p[1],
                tick_scale: p[2] as u8,
                lot_scale: (p[2] >> 8) as u8,
                venue: (p[2] >> 16) as u8,
                source: (p[2] >> 24) as u8,
                symbol_len: (p[2] >> 32) as u8,
                trade_scale: (p[2] >> 40) as u8,
                symbol: p[3].to_le_bytes(),
            }),
            KIND_DEPTH_LEVEL => EventKind::DepthLevel {
                side: if p[2] == Side::Sell as u64 { Side::Sell } else { Side::Buy },
                price_tick: p[0] as i64,
                size_lots: p[1] as i64,
            },
            KIND_DEPTH_END => EventKind::DepthEnd { levels: p[0] as u8 },
            KIND_DEPTH_CLEAR => EventKind::DepthClear,
            KIND_FUNDING => EventKind::Funding(Funding {
                rate: Scaled { units: p[0] as i64, scale: p[2] as u8 },
                next_funding_ts: p[1],
            }),
            KIND_MARK_INDEX => EventKind::MarkIndex(MarkIndex {
                mark: (p[2] & HAS_MARK != 0)
                    .then_some(Scaled { units: p[0] as i64, scale: p[2] as u8 }),
                index: (p[2] & HAS_INDEX != 0)
                    .then_some(Scaled { units: p[1] as i64, scale: (p[2] >> 8) as u8 }),
            }),
            KIND_OPEN_INTEREST => {
                EventKind::OpenInterest(Scaled { units: p[0] as i64, scale: p[1] as u8 })
            }
            KIND_LIQUIDATION => EventKind::Liquidation(Liquidation {
                side: if (p[2] >> 16) as u8 == Side::Sell as u8 { Side::Sell } else { Side::Buy },
                price: Scaled { units: p[0] as i64, scale: p[2] as u8 },
                size: Scaled { units: p[1] as i64, scale: (p[2] >> 8) as u8 },
            }),
            KIND_INSTRUMENT_TEXT => {
                let mut all = [0u8; 32];
                for (b, w) in all.chunks_exact_mut(8).zip(p) {
                    b.copy_from_slice(&w.to_le_bytes());
                }
                let mut bytes = [0u8; INSTRUMENT_TEXT_BYTES];
                bytes.copy_from_slice(&all[1..]);
                EventKind::InstrumentText { part: all[0], bytes }
            }
            other => EventKind::Unknown(other),
        }
    }

    /// The BBO, if this is a BBO record.
    #[inline]
    pub fn as_bbo(&self) -> Option<Bbo> {
        match self.kind() {
            EventKind::Bbo(bbo) => Some(bbo),
            _ => None,
        }
    }

    /// The trade, if this is a trade record.
    #[inline]
    pub fn as_trade(&self) -> Option<Trade> {
        match self.kind() {
            EventKind::Trade(trade) => Some(trade),
            _ => None,
        }
    }

    /// `true` for BBO records.
    #[inline]
    pub fn is_bbo(&self) -> bool {
        self.kind == KIND_BBO
    }

    /// The book state when the event was published.
    #[inline]
    pub fn state(&self) -> BookState {
        BookState::from_u8(self.state)
    }

    /// The instrument's id.
    #[inline]
    pub fn instrument(&self) -> InstrumentId {
        self.instrument
    }

    /// The per-ring sequence number, assigned on publish: consecutive publishes get
    /// consecutive numbers, including records dropped because the ring was full, so a gap
    /// says how many were lost. It wraps at 2³²; [`Consumer`](crate::consumer::Consumer)
    /// extends it to 64 bits.
    #[inline]
    pub fn seq(&self) -> u32 {
        self.seq
    }

    /// The venue's timestamp, epoch ns (`0` if none).
    #[inline]
    pub fn exch_ts(&self) -> u64 {
        self.exch_ts
    }

    /// The local receive timestamp, epoch ns.
    #[inline]
    pub fn local_ts(&self) -> u64 {
        self.local_ts
    }

    /// When parsing finished, epoch ns (saturates 4.29 s after `local_ts`).
    #[inline]
    pub fn parsed_ts(&self) -> u64 {
        self.local_ts + u64::from(self.parsed_dns)
    }

    /// When the record was pushed onto the ring, epoch ns (`local_ts` until published).
    #[inline]
    pub fn published_ts(&self) -> u64 {
        self.local_ts + u64::from(self.published_dns)
    }

    /// Overwrites the book state (the publisher's last-value slots use this).
    #[inline]
    pub(crate) fn set_state(&mut self, state: BookState) {
        self.state = state as u8;
    }

    /// Replaces the receive time, keeping the stage offsets (the fan-out's last values carry
    /// the row time).
    #[inline]
    pub(crate) fn set_local_ts(&mut self, local_ts: u64) {
        self.local_ts = local_ts;
    }

    /// Sets the sequence number and the publish stamp: the publisher's job.
    #[inline]
    pub(crate) fn stamp_published(&mut self, seq: u32, published_ts: u64) {
        self.seq = seq;
        self.published_dns = offset_ns(self.local_ts, published_ts);
    }
}

impl core::fmt::Debug for Event {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Event")
            .field("seq", &self.seq)
            .field("instrument", &self.instrument)
            .field("state", &self.state())
            .field("exch_ts", &self.exch_ts)
            .field("local_ts", &self.local_ts)
            .field("parsed_ts", &self.parsed_ts())
            .field("published_ts", &self.published_ts())
            .field("kind", &self.kind())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STAMPS: Stamps = Stamps { exch_ts: 10, local_ts: 1_000, parsed_ts: 1_250 };

    #[test]
    fn layout_is_one_cache_line() {
        assert_eq!(core::mem::size_of::<Event>(), 64);
        assert_eq!(core::mem::align_of::<Event>(), 64);
        assert_eq!(Event::zeroed().kind(), EventKind::Unknown(0));
        assert!(!Event::zeroed().state().is_valid());
    }

    #[test]
    fn round_trips() {
        let bbo = Bbo { bid_tick: -5, bid_lots: 1 << 40, ask_tick: i64::MAX, ask_lots: 2 };
        let mut ev = Event::bbo(STAMPS, 3, BookState::Resyncing, bbo);
        ev.stamp_published(42, 1_400);
        assert_eq!(ev.kind(), EventKind::Bbo(bbo));
        assert_eq!((ev.seq(), ev.instrument(), ev.state()), (42, 3, BookState::Resyncing));
        assert_eq!((ev.exch_ts(), ev.local_ts()), (10, 1_000));
        assert_eq!((ev.parsed_ts(), ev.published_ts()), (1_250, 1_400));

        let trade =
            Trade { price_tick: 99, size_lots: 7, aggressor: Some(Side::Sell), trade_id: u64::MAX };
        let ev = Event::trade(STAMPS, 1, BookState::Synced, trade);
        assert_eq!(ev.as_trade(), Some(trade));
        assert_eq!(ev.as_bbo(), None);

        let ev = Event::book_state(STAMPS, 1, BookState::Resyncing, BookState::Synced);
        assert_eq!(ev.kind(), EventKind::BookState { previous: BookState::Synced });
        let bytes: [u8; 64] = bytemuck::cast(ev);
        assert_eq!(bytemuck::cast::<_, Event>(bytes), ev);
    }

    #[test]
    fn derivatives_round_trip_without_touching_the_old_kinds() {
        let datas = [
            Derivative::Funding(Funding {
                rate: Scaled { units: -212, scale: 6 },
                next_funding_ts: 1_673_280_000_000_000_000,
            }),
            Derivative::MarkIndex(MarkIndex {
                mark: Some(Scaled { units: 1_721_733, scale: 1 }),
                index: Some(Scaled { units: i64::MIN, scale: 18 }),
            }),
            Derivative::MarkIndex(MarkIndex { mark: None, index: Some(Scaled::default()) }),
            Derivative::MarkIndex(MarkIndex::default()),
            Derivative::OpenInterest(Scaled { units: 68_744_761, scale: 0 }),
            Derivative::Liquidation(Liquidation {
                side: Side::Sell,
                price: Scaled { units: 9_910, scale: 0 },
                size: Scaled { units: 14, scale: 2 },
            }),
            Derivative::Liquidation(Liquidation {
                side: Side::Buy,
                price: Scaled { units: 1, scale: 0 },
                size: Scaled { units: i64::MAX, scale: 3 },
            }),
        ];
        let mut kinds = Vec::new();
        for d in datas {
            let ev = Event::derivative(STAMPS, 9, BookState::Resyncing, d);
            assert!(ev.is_derivative() && !ev.is_depth() && !ev.is_bbo());
            assert_eq!(ev.state(), BookState::Resyncing);
            let back = match ev.kind() {
                EventKind::Funding(f) => Derivative::Funding(f),
                EventKind::MarkIndex(m) => Derivative::MarkIndex(m),
                EventKind::OpenInterest(o) => Derivative::OpenInterest(o),
                EventKind::Liquidation(l) => Derivative::Liquidation(l),
                other => panic!("not a derivatives kind: {other:?}"),
            };
            assert_eq!(back, d);
            let bytes: [u8; 64] = bytemuck::cast(ev);
            assert_eq!(bytemuck::cast::<_, Event>(bytes), ev);
            kinds.push(bytes[30]);
        }
        // New wire values only: the existing kinds keep theirs.
        assert_eq!(kinds, [9, 10, 10, 10, 11, 12, 12]);
        let bbo: [u8; 64] =
            bytemuck::cast(Event::bbo(STAMPS, 0, BookState::Synced, Bbo::default()));
        let trade = Trade { price_tick: 1, size_lots: 1, aggressor: None, trade_id: 0 };
        let trade: [u8; 64] = bytemuck::cast(Event::trade(STAMPS, 0, BookState::Synced, trade));
        let depth: [u8; 64] = bytemuck::cast(Event::depth_clear(STAMPS, 0, BookState::Stale));
        assert_eq!((bbo[30], trade[30], depth[30]), (1, 2, 8));
    }

    #[test]
    fn crossed_or_locked_is_never_valid() {
        for (bid, ask) in [(101, 100), (100, 100)] {
            let bbo = Bbo { bid_tick: bid, bid_lots: 1, ask_tick: ask, ask_lots: 1 };
            assert_eq!(Event::bbo(STAMPS, 0, BookState::Synced, bbo).state(), BookState::Stale);
        }
        let one_sided = Bbo { bid_tick: 101, bid_lots: 1, ask_tick: 0, ask_lots: 0 };
        assert!(Event::bbo(STAMPS, 0, BookState::Synced, one_sided).state().is_valid());
    }

    #[test]
    fn stage_offsets_saturate() {
        let stamps = Stamps { exch_ts: 0, local_ts: 5, parsed_ts: 1 };
        assert_eq!(Event::bbo(stamps, 0, BookState::Stale, Bbo::default()).parsed_ts(), 5);
        let stamps = Stamps { exch_ts: 0, local_ts: 5, parsed_ts: u64::MAX };
        let ev = Event::bbo(stamps, 0, BookState::Stale, Bbo::default());
        assert_eq!(ev.parsed_ts(), 5 + u64::from(u32::MAX));
    }
}

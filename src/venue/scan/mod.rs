//! Venue-specialised scanners below the simd-json floor: read a venue's hottest frames in one
//! walk, without a tape, and fall back to simd-json on anything not recognised exactly.
//!
//! A scanner accepts a strict subset of JSON: objects, the level arrays `[["px","qty"],…]`,
//! strings of bytes 0x20 to 0x7F without escapes, unsigned integers of at most 19 digits without
//! a sign, fraction or exponent, `true`, `false`, `null` and JSON whitespace between tokens.
//! It hands its handler the same values simd-json would (strings are the same bytes between
//! the quotes, since there are no escapes to undo), through `FieldValue`, the interface the
//! venue handlers read both parsers' values with: one handler, two parsers, one behaviour.
//! Anything else (an escape, a non-ASCII byte, a float, a key it has no slot for, a duplicate
//! key, a nested object where it expects none, trailing bytes) makes it answer `None`, and the
//! adapter parses that frame with simd-json and counts a fallback ([`super::Parsed::scan_fallback`]).
//! Kraken Futures' flat scanner (`scan::flat`) reads numbers that way too, and its walk over
//! the feeds that adapter ignores (`flat::ignored_feed`) reads nested objects and arrays of
//! any of these values, keeping nothing but the frame's `feed`.
//! The Bitfinex scanner (`scan::bitfinex`) also reads numbers of any form in JSON's grammar, as
//! their exact text: its venue prints prices as JSON numbers, which its simd-json path reads
//! as text too (quoted while copying the frame).
//! So does the BitMEX scanner (`scan::bitmex`), whose rows are flat objects in an array; it
//! reads the members it does not keep (nested ones too, as `flat::ignored_feed` does) whole.
//! The Hyperliquid scanner (`scan::hyperliquid`) reads level and trade objects the same way,
//! but only unsigned integers among numbers (`flat::skip_plain`): its venue's simd-json path
//! reads numbers as numbers, and simd-json refuses some that JSON's grammar allows. So do the
//! Gemini v2 (`scan::gemini`) and Coinbase Advanced (`scan::advanced`) scanners.
//!
//! Strings are found with SIMD ([`Kernel`]: AVX2, SSE4.2 or a portable loop, chosen at run
//! time; the only `unsafe` of the scanners lives in that one file): the cursor classifies the
//! frame 64 bytes at a time, once, and finds each string's end in the block's bitmask. Level
//! arrays are kept as byte offsets into the frame (`LevelSpan`) in a buffer reused between
//! frames: no allocation once it has the room a venue's frames need (it starts with room for
//! 4,096 levels and grows, once per size, for a deeper frame; see [`MAX_SPANS`]), and decimal
//! text goes straight to ticks and lots through the same functions the simd-json path uses.

// Public for the benchmarks' scan floor only.
#[doc(hidden)]
pub mod advanced;
// Public for the benchmarks' scan floor only.
#[doc(hidden)]
pub mod binance;
// Public for the benchmarks' scan floor only.
#[doc(hidden)]
pub mod bitfinex;
// Public for the benchmarks' scan floor only.
#[doc(hidden)]
pub mod bitmex;
// Public for the benchmarks' scan floor only.
#[doc(hidden)]
pub mod bybit;
pub mod coinbase;
// Public for the differential tests and the fuzz target.
#[doc(hidden)]
pub mod flat;
// Public for the benchmarks' scan floor only.
#[doc(hidden)]
pub mod gemini;
// Public for the benchmarks' scan floor only.
#[doc(hidden)]
pub mod hyperliquid;
// Public for the benchmarks' scan floor only.
#[doc(hidden)]
pub mod kraken;
// Public for the benchmarks' scan floor only.
#[doc(hidden)]
pub mod okx;
#[allow(unsafe_code)]
mod simd;

use simd::BLOCK;
pub use simd::{Kernel, KernelKind};

use std::cell::Cell;
use std::marker::PhantomData;

use simd_json::prelude::ValueAsScalar;
use simd_json::tape::Value;

use super::json;
use super::VenueError;
use crate::book::num::{non_digits, ZEROS};

/// Which parser reads a venue's frames.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum, serde::Deserialize))]
#[cfg_attr(feature = "cli", serde(rename_all = "kebab-case"))]
pub enum Parser {
    /// The venue's specialised scanner where it has one (Binance depth, trades and
    /// bookTicker; Bitfinex v2 book updates, trades, heartbeats and checksums; BitMEX
    /// `orderBookL2` and `trade` messages; Bybit v5 order books and trades; Coinbase Advanced
    /// `l2_data`; Coinbase Exchange `l2update`, `snapshot`, `match` and `last_match`; Gemini v2
    /// `l2_updates` and `trade`; Hyperliquid `l2Book` and `trades`;
    /// Kraken Futures' one-level `book` messages and the feeds it ignores; Kraken v1 books and
    /// trades; OKX books and trades),
    /// simd-json for every frame it does not recognise.
    #[default]
    Scan,
    /// simd-json's tape for every frame: the reference path.
    SimdJson,
}

impl Parser {
    /// The name the CLI and the TOML configuration use (`scan`, `simd-json`).
    pub const fn name(self) -> &'static str {
        match self {
            Parser::Scan => "scan",
            Parser::SimdJson => "simd-json",
        }
    }
}

/// A value as a venue handler reads it, from either parser. The conversions are those of
/// [`json::text`], [`json::uint`] and simd-json's `as_bool`: a handler written against this
/// trait behaves the same whichever parser produced the value.
pub(crate) trait FieldValue<'i>: Copy {
    /// The text of a string (`None` for any other type).
    fn text(self) -> Option<&'i [u8]>;
    /// An unsigned integer, from a JSON integer or a string of digits.
    fn uint(self) -> Option<u64>;
    /// A signed integer, from a JSON integer or a string of digits with an optional `-`
    /// ([`json::int`]).
    fn int(self) -> Option<i64>;
    /// Whether the value is an array (a level array: anything else has no levels).
    fn is_array(self) -> bool;
    /// The price (`size == false`) or size text of every level of an array whose level has
    /// one as a string, in order (none if the value is not an array): what a snapshot's tick
    /// and lot are learned from ([`json::level_texts`]).
    fn level_texts(self, size: bool) -> impl Iterator<Item = &'i [u8]>;
    /// A JSON boolean.
    fn boolean(self) -> Option<bool>;
    /// Calls `f` with the price and size text of every `[price, size]` level of an array;
    /// `Shape` errors as the venues word them when the value is not one.
    fn each_level(
        self,
        f: impl FnMut(&'i [u8], &'i [u8]) -> Result<(), VenueError>,
    ) -> Result<(), VenueError>;
}

impl<'i> FieldValue<'i> for Value<'_, 'i> {
    #[inline]
    fn text(self) -> Option<&'i [u8]> {
        json::text(self)
    }

    #[inline]
    fn uint(self) -> Option<u64> {
        json::uint(self)
    }

    #[inline]
    fn int(self) -> Option<i64> {
        json::int(self)
    }

    #[inline]
    fn is_array(self) -> bool {
        self.as_array().is_some()
    }

    #[inline]
    fn level_texts(self, size: bool) -> impl Iterator<Item = &'i [u8]> {
        let idx = usize::from(size);
        self.as_array()
            .into_iter()
            .flat_map(move |a| a.iter().filter_map(move |l| json::text(l.get_idx(idx)?)))
    }

    #[inline]
    fn boolean(self) -> Option<bool> {
        self.as_bool()
    }

    #[inline]
    fn each_level(
        self,
        mut f: impl FnMut(&'i [u8], &'i [u8]) -> Result<(), VenueError>,
    ) -> Result<(), VenueError> {
        let Some(arr) = self.as_array() else {
            return Err(VenueError::Shape("levels missing"));
        };
        for lv in arr.iter() {
            let px = lv.get_idx(0).and_then(json::text).ok_or(VenueError::Shape("level price"))?;
            let qty = lv.get_idx(1).and_then(json::text).ok_or(VenueError::Shape("level size"))?;
            f(px, qty)?;
        }
        Ok(())
    }
}

/// Level offsets a new scanner has room for: enough for every update and for most snapshots
/// (an OKX `books` snapshot has 800, a Kraken one 2,000). A frame with more levels makes the
/// adapter's scanner grow its buffer and read the frame again ([`scan_frame`]), up to
/// [`MAX_SPANS`]: a venue's large snapshots (a Coinbase Exchange `level2` book runs to tens
/// of thousands of levels) cost one allocation per size, once, not a simd-json parse each.
#[cfg(not(any(miri, fuzzing)))]
const SPANS: usize = 4096;
/// [`SPANS`] under Miri and the fuzzers: the same code on a buffer small enough for Miri's
/// borrow tracking to fill past its end in minutes (4,096 levels did not finish in 40), and
/// for fuzzed frames to reach its growth and its limit.
#[cfg(any(miri, fuzzing))]
const SPANS: usize = 256;

/// The most level offsets a scanner's buffer grows to (16 bytes each: 4 MiB, per adapter):
/// a frame with more levels is left to simd-json, after a walk to the end of that room. A
/// level array takes one offset per level of two to four strings (Binance, OKX, Bybit), two
/// per row of two to six (Coinbase Exchange, Kraken; the first four strings kept).
#[cfg(not(any(miri, fuzzing)))]
pub const MAX_SPANS: usize = 1 << 18;
/// [`MAX_SPANS`] under Miri and the fuzzers (see `SPANS`).
#[cfg(any(miri, fuzzing))]
pub const MAX_SPANS: usize = 1024;

/// The reused state of a venue scanner: the kernel it runs and the level offsets of the last
/// frame, in a buffer reused from frame to frame (grown by `scan_frame` for a deeper frame,
/// never shrunk). `V` names the venue's frame reading (a marker type in the
/// venue's module, e.g. `okx::OkxFrames`); each venue implements its walk on
/// `ScannerState<V>` and names the result (`OkxScanner`).
#[derive(Debug)]
pub struct ScannerState<V> {
    kernel: Kernel,
    spans: Vec<Cell<LevelSpan>>,
    /// Whether the last walk refused its frame because `spans` was full.
    ran_out: Cell<bool>,
    venue: PhantomData<fn() -> V>,
}

impl<V> Default for ScannerState<V> {
    fn default() -> Self {
        Self::new()
    }
}

impl<V> ScannerState<V> {
    /// A scanner with the fastest kernel this CPU has.
    pub fn new() -> Self {
        Self::with_kernel(Kernel::detect())
    }

    /// A scanner that runs `kernel` (tests force each one).
    pub fn with_kernel(kernel: Kernel) -> Self {
        ScannerState {
            kernel,
            spans: vec![Cell::default(); SPANS],
            ran_out: Cell::new(false),
            venue: PhantomData,
        }
    }

    /// After a walk refused a frame of `frame_len` bytes for want of room for its levels,
    /// grows the level buffer and answers `true`: the frame is worth reading again. The new
    /// size is the room such a frame can need (an offset stands for at least 4 of its bytes:
    /// `["",""]` and a comma hold two), rounded up to a power of two, at least double, at most
    /// [`MAX_SPANS`]; so one growth is enough for any frame but one past the limit. `false`
    /// when the walk refused the frame for any other reason, or the buffer is at its largest.
    #[cold]
    fn grow(&mut self, frame_len: usize) -> bool {
        if !self.ran_out.get() || self.spans.len() >= MAX_SPANS {
            return false;
        }
        let room = (frame_len / 4 + 1).next_power_of_two();
        let len = room.max(self.spans.len() * 2).min(MAX_SPANS);
        self.spans = vec![Cell::default(); len];
        true
    }

    /// The number of level offsets the buffer holds now.
    #[cfg(test)]
    pub(crate) fn span_capacity(&self) -> usize {
        self.spans.len()
    }

    /// The kernel this scanner runs.
    pub fn kernel(&self) -> Kernel {
        self.kernel
    }

    /// The start of a walk over `frame`: a cursor past any leading whitespace and the empty
    /// level buffer; `None` for a frame too long for the offsets (4 GiB).
    #[inline(always)]
    fn start<'a>(&'a self, frame: &'a [u8]) -> Option<(Cursor<'a>, Spans<'a>)> {
        self.ran_out.set(false);
        let c = Cursor::open(frame, self.kernel)?;
        Some((c, Spans { cells: &self.spans, len: 0, ran_out: &self.ran_out }))
    }
}

/// Whether `state`'s walk reads `frame` and `check` accepts what it found; a frame with more
/// levels than the buffer holds is read again once it has grown, as [`scan_frame`] does for
/// the adapters (the scan floor of the benchmarks for venues whose frames run deep).
fn reads_growing<V: Frames>(
    state: &mut ScannerState<V>,
    frame: &[u8],
    check: impl for<'a> Fn(&V::Found<'a>) -> bool,
) -> bool {
    loop {
        {
            let mut found = V::Found::default();
            if V::walk(state, frame, &mut found).is_some() {
                return check(&found);
            }
        }
        if !state.grow(frame.len()) {
            return false;
        }
    }
}

/// What the scanners' unit tests share.
#[cfg(test)]
pub(crate) mod testing {
    use super::{FieldValue, Kernel, KernelKind, ScanValue, ScannerState};

    /// A scanner on every dispatch path this CPU has.
    pub(crate) fn scanners<V>() -> Vec<ScannerState<V>> {
        KernelKind::ALL
            .into_iter()
            .filter_map(Kernel::forced)
            .map(ScannerState::with_kernel)
            .collect()
    }

    /// A level array's `(price, size)` texts.
    pub(crate) fn levels(v: Option<ScanValue<'_>>) -> Vec<(String, String)> {
        let mut out = Vec::new();
        v.unwrap()
            .each_level(|p, q| {
                out.push((
                    String::from_utf8(p.to_vec()).unwrap(),
                    String::from_utf8(q.to_vec()).unwrap(),
                ));
                Ok(())
            })
            .unwrap();
        out
    }
}

/// A venue's frame reading on a [`ScannerState`]: what one walk over a frame fills. Each
/// venue's marker type (`okx::OkxFrames`) implements it with its walk.
pub(crate) trait Frames: Sized {
    /// What the walk finds in one frame, borrowing the frame and the state's level buffer.
    type Found<'a>: Default
    where
        Self: 'a;

    /// Fills `found`, which must be empty (its `Default`), from `frame`; `None` if the frame
    /// is not one the scanner recognises exactly.
    fn walk<'a>(
        state: &'a mut ScannerState<Self>,
        frame: &'a [u8],
        found: &mut Self::Found<'a>,
    ) -> Option<()>;
}

/// The scanning shell every adapter with a scanner embeds: which parser reads its frames and
/// the scanner's reused state (taken out while a frame is scanned, so that the adapter's
/// handlers can borrow the adapter).
#[derive(Debug)]
pub(crate) struct ScanPath<V> {
    parser: Parser,
    scanner: Option<Box<ScannerState<V>>>,
}

impl<V> ScanPath<V> {
    /// The default path: [`Parser::Scan`] with the fastest kernel this CPU has.
    pub(crate) fn new() -> Self {
        ScanPath { parser: Parser::Scan, scanner: Some(Box::new(ScannerState::new())) }
    }

    /// Reads frames with `parser` from now on.
    pub(crate) fn set_parser(&mut self, parser: Parser) {
        self.parser = parser;
    }

    /// The parser frames are read with.
    pub(crate) fn parser(&self) -> Parser {
        self.parser
    }

    /// Scans with `kernel` instead of the detected one (tests force each dispatch path).
    pub(crate) fn set_kernel(&mut self, kernel: Kernel) {
        self.scanner = Some(Box::new(ScannerState::with_kernel(kernel)));
    }
}

/// The parser controls of an adapter with a venue scanner: which parser reads its frames,
/// and which of the scanner's dispatch paths runs. Every scanning adapter implements it
/// (Binance, Bitfinex, BitMEX, Bybit, Coinbase Advanced and Exchange, Gemini v2,
/// Hyperliquid, Kraken Futures, Kraken v1, OKX) and [`AnyAdapter`](super::AnyAdapter); the
/// tests and fuzz targets that run the scanner against simd-json on the same bytes set both
/// through it.
pub trait ScanControls {
    /// Reads frames with `parser` from now on ([`Parser::Scan`] by default: the scanner
    /// reads the messages it was written for, simd-json the rest and whatever the scanner
    /// does not read exactly).
    fn set_parser(&mut self, parser: Parser);

    /// The parser frames are read with.
    fn parser(&self) -> Parser;

    /// Scans with `kernel` instead of the detected one (tests force each dispatch path).
    fn set_scan_kernel(&mut self, kernel: Kernel);
}

/// Implements [`ScanControls`] for an adapter whose [`ScanPath`] is its field `scan`.
/// `$reads` names the messages its scanner reads (the rest, and whatever the scanner does
/// not read exactly, goes to simd-json), for the impl's docs.
macro_rules! scan_controls {
    ($adapter:ty, $reads:literal) => {
        /// The scanner reads
        #[doc = $reads]
        /// messages; simd-json reads the rest.
        impl $crate::venue::scan::ScanControls for $adapter {
            fn set_parser(&mut self, parser: $crate::venue::scan::Parser) {
                self.scan.set_parser(parser);
            }

            fn parser(&self) -> $crate::venue::scan::Parser {
                self.scan.parser()
            }

            fn set_scan_kernel(&mut self, kernel: $crate::venue::scan::Kernel) {
                self.scan.set_kernel(kernel);
            }
        }
    };
}
pub(crate) use scan_controls;

/// Reads `frame` with the scanner on `adapter`'s path (`path` finds it) when the adapter
/// scans. `read` handles what the walk found with the venue's handlers, or answers `None` to
/// leave the frame to simd-json, having written nothing to `out`. The answer is `read`'s;
/// `None` means the caller parses the frame with simd-json, and `out.scan_fallback` is then
/// set if the scanner was tried.
#[inline]
pub(crate) fn scan_frame<A, V: Frames, R>(
    adapter: &mut A,
    path: fn(&mut A) -> &mut ScanPath<V>,
    frame: &[u8],
    out: &mut super::Parsed,
    read: impl for<'a> FnOnce(&mut A, &V::Found<'a>, &mut super::Parsed) -> Option<R>,
) -> Option<R> {
    let p = path(adapter);
    if p.parser != Parser::Scan {
        return None;
    }
    let mut scanner = p.scanner.take().unwrap_or_default();
    let r = loop {
        let mut found = V::Found::default();
        if V::walk(&mut scanner, frame, &mut found).is_some() {
            break read(adapter, &found, out);
        }
        drop(found);
        // More levels than the buffer holds: read again with room for them.
        if !scanner.grow(frame.len()) {
            break None;
        }
    };
    path(adapter).scanner = Some(scanner);
    out.scan_fallback |= r.is_none();
    r
}

/// Byte offsets of one level's price and size text in the frame (`start..end`, quotes
/// excluded).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct LevelSpan {
    px: (u32, u32),
    qty: (u32, u32),
}

/// A value the scanner read.
#[derive(Debug, Clone, Copy)]
pub(crate) enum ScanValue<'a> {
    /// A string's bytes between its quotes (no escapes: the scanner refuses them).
    Str(&'a [u8]),
    /// An unsigned integer.
    UInt(u64),
    /// A negative integer (only the scanners that accept a sign make one: OKX's).
    Int(i64),
    /// `true` or `false`.
    Bool(bool),
    /// `null`.
    Null,
    /// A level array: its levels' offsets into `frame`.
    Levels {
        /// The frame the offsets point into.
        frame: &'a [u8],
        /// The levels in order (cells: written during the walk through the same shared
        /// borrow that hands them out).
        spans: &'a [Cell<LevelSpan>],
    },
}

impl<'a> FieldValue<'a> for ScanValue<'a> {
    #[inline]
    fn text(self) -> Option<&'a [u8]> {
        match self {
            ScanValue::Str(s) => Some(s),
            _ => None,
        }
    }

    #[inline]
    fn uint(self) -> Option<u64> {
        match self {
            ScanValue::UInt(u) => Some(u),
            ScanValue::Str(s) => json::parse_u64(s),
            _ => None,
        }
    }

    /// As [`json::int`] reads simd-json's integers (a `u64` above `i64::MAX` is none) and
    /// strings.
    #[inline]
    fn int(self) -> Option<i64> {
        match self {
            ScanValue::UInt(u) => i64::try_from(u).ok(),
            ScanValue::Int(i) => Some(i),
            ScanValue::Str(s) => json::parse_i64(s),
            _ => None,
        }
    }

    #[inline]
    fn is_array(self) -> bool {
        matches!(self, ScanValue::Levels { .. })
    }

    #[inline]
    fn level_texts(self, size: bool) -> impl Iterator<Item = &'a [u8]> {
        let (frame, spans): (&[u8], &[Cell<LevelSpan>]) = match self {
            ScanValue::Levels { frame, spans } => (frame, spans),
            _ => (&[], &[]),
        };
        spans.iter().map(move |l| {
            let l = l.get();
            let (s, e) = if size { l.qty } else { l.px };
            frame.get(s as usize..e as usize).unwrap_or_default()
        })
    }

    #[inline]
    fn boolean(self) -> Option<bool> {
        match self {
            ScanValue::Bool(b) => Some(b),
            _ => None,
        }
    }

    #[inline]
    fn each_level(
        self,
        mut f: impl FnMut(&'a [u8], &'a [u8]) -> Result<(), VenueError>,
    ) -> Result<(), VenueError> {
        let ScanValue::Levels { frame, spans } = self else {
            return Err(VenueError::Shape("levels missing"));
        };
        let text = |(s, e): (u32, u32)| frame.get(s as usize..e as usize).unwrap_or_default();
        for l in spans {
            let l = l.get();
            f(text(l.px), text(l.qty))?;
        }
        Ok(())
    }
}

/// A position in a frame and the strict-JSON token readers; every reader answers `None` on
/// anything outside the accepted subset (the caller then falls back).
struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
    kernel: Kernel,
    /// The start of the block `stops` classifies (`usize::MAX`: none yet).
    block: usize,
    /// The stop bytes of the block at `block` ([`Kernel::stop_mask`]).
    stops: u64,
}

impl<'a> Cursor<'a> {
    fn new(buf: &'a [u8], kernel: Kernel) -> Self {
        Cursor { buf, pos: 0, kernel, block: usize::MAX, stops: 0 }
    }

    /// The start of a walk over `frame`: a cursor past any leading whitespace; `None` for a
    /// frame too long for the scanners' u32 offsets (4 GiB).
    #[inline(always)]
    fn open(frame: &'a [u8], kernel: Kernel) -> Option<Self> {
        u32::try_from(frame.len()).ok()?;
        let mut c = Cursor::new(frame, kernel);
        c.ws();
        Some(c)
    }

    /// Skips JSON whitespace.
    #[inline(always)]
    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.buf.get(self.pos) {
            self.pos += 1;
        }
    }

    #[inline(always)]
    fn peek(&self) -> Option<u8> {
        self.buf.get(self.pos).copied()
    }

    /// The next byte, consumed.
    #[inline(always)]
    fn next(&mut self) -> Option<u8> {
        let b = self.peek()?;
        self.pos += 1;
        Some(b)
    }

    /// Consumes `b` if it is next.
    #[inline(always)]
    fn eat(&mut self, b: u8) -> bool {
        let hit = self.peek() == Some(b);
        self.pos += usize::from(hit);
        hit
    }

    #[inline(always)]
    fn expect(&mut self, b: u8) -> Option<()> {
        self.eat(b).then_some(())
    }

    /// The index of the first stop byte (`"`, `\`, control, non-ASCII) at or after `at`,
    /// `buf.len()` if none: each 64-byte block is classified once and kept.
    #[inline(always)]
    fn string_stop(&mut self, mut at: usize) -> usize {
        loop {
            let base = at - at % BLOCK;
            if base != self.block {
                self.stops = self.kernel.stop_mask(self.buf, base);
                self.block = base;
            }
            // `at - base < 64`; bytes past the end are stops, so this ends by the end.
            let m = self.stops >> (at - base);
            if m != 0 {
                return at + m.trailing_zeros() as usize;
            }
            at = base + BLOCK;
        }
    }

    /// A string's offsets (quotes excluded), the cursor after its closing quote.
    #[inline(always)]
    fn string_span(&mut self) -> Option<(u32, u32)> {
        self.expect(b'"')?;
        let start = self.pos;
        let end = self.string_stop(start);
        if self.buf.get(end) != Some(&b'"') {
            return None;
        }
        self.pos = end + 1;
        Some((u32::try_from(start).ok()?, u32::try_from(end).ok()?))
    }

    /// An array of two to `max` strings, `["a","b",…]` (a level `["px","qty"]`, OKX's
    /// `["px","sz","0","1"]`, a Kraken or Coinbase Exchange row): the first `K` strings'
    /// offsets in `out` (the rest read and not kept), the cursor after its `]`. The common
    /// form, with nothing between the tokens, is read with a compare per string and the
    /// string's end from the block's bitmask; any other form from the array's start, a token
    /// at a time (the general path accepts a superset of the common one and writes every slot
    /// the first attempt wrote).
    #[inline(always)]
    fn strings<const K: usize>(&mut self, max: usize, out: &mut [(u32, u32); K]) -> Option<()> {
        match self.compact_strings(max, out) {
            Some(()) => Some(()),
            None => self.general_strings(max, out),
        }
    }

    /// [`Cursor::strings`] in the common form; `None`, the cursor where it was, for any other.
    #[inline(always)]
    fn compact_strings<const K: usize>(
        &mut self,
        max: usize,
        out: &mut [(u32, u32); K],
    ) -> Option<()> {
        let at = |c: &Self, i: usize, want: &[u8]| c.buf.get(i..i + want.len()) == Some(want);
        if !at(self, self.pos, b"[\"") {
            return None;
        }
        let mut start = self.pos + 2;
        let mut width = 0;
        loop {
            let end = self.string_stop(start);
            if let Some(slot) = out.get_mut(width) {
                // Offsets fit a u32: `ScannerState::start` refused longer frames.
                *slot = (u32::try_from(start).ok()?, u32::try_from(end).ok()?);
            }
            width += 1;
            if at(self, end, b"\"]") {
                if width < 2 {
                    return None;
                }
                self.pos = end + 2;
                return Some(());
            }
            if width >= max || !at(self, end, b"\",\"") {
                return None;
            }
            start = end + 3;
        }
    }

    /// [`Cursor::strings`] in any form the subset allows: whitespace between tokens.
    #[inline(always)]
    fn general_strings<const K: usize>(
        &mut self,
        max: usize,
        out: &mut [(u32, u32); K],
    ) -> Option<()> {
        self.expect(b'[')?;
        self.ws();
        let mut width = 0;
        loop {
            let s = self.string_span()?;
            if let Some(slot) = out.get_mut(width) {
                *slot = s;
            }
            width += 1;
            if width > max {
                return None;
            }
            self.ws();
            match self.next()? {
                b',' => self.ws(),
                b']' => break,
                _ => return None,
            }
        }
        (width >= 2).then_some(())
    }

    /// A string's bytes.
    #[inline(always)]
    fn string(&mut self) -> Option<&'a [u8]> {
        let (s, e) = self.string_span()?;
        self.buf.get(s as usize..e as usize)
    }

    /// An unsigned integer: `0` or up to 19 digits without a leading zero. A digit, `.`,
    /// `e` or `E` right after is left for the caller to refuse.
    #[inline(always)]
    fn uint(&mut self) -> Option<u64> {
        let start = self.pos;
        let mut acc: u64 = 0;
        // Eight digits a step while all eight are digits (at most 16 digits this way).
        while self.pos - start <= 19 - 8 {
            let Some(&w) = self.buf.get(self.pos..).and_then(<[u8]>::first_chunk::<8>) else {
                break;
            };
            let w = u64::from_le_bytes(w);
            if !all_digits(w) {
                break;
            }
            acc = acc * 100_000_000 + eight_digits(w);
            self.pos += 8;
        }
        while let Some(&c) = self.buf.get(self.pos) {
            let d = c.wrapping_sub(b'0');
            if d > 9 || self.pos - start == 19 {
                break;
            }
            // 19 digits never overflow a u64.
            acc = acc * 10 + u64::from(d);
            self.pos += 1;
        }
        let len = self.pos - start;
        let leading_zero = len > 1 && self.buf[start] == b'0';
        let more = matches!(self.peek(), Some(b'0'..=b'9' | b'.' | b'e' | b'E'));
        (len > 0 && !leading_zero && !more).then_some(acc)
    }

    /// A negative integer: `-` and the digits [`Cursor::uint`] reads, of magnitude 1 to
    /// `i64::MAX` (`-0` is refused: simd-json does not read it as an integer).
    #[inline(always)]
    fn negative(&mut self) -> Option<i64> {
        self.expect(b'-')?;
        let m = i64::try_from(self.uint()?).ok()?;
        (m != 0).then_some(-m)
    }

    /// `word` (`true`, `false`, `null`), which must be next.
    #[inline(always)]
    fn literal(&mut self, word: &[u8]) -> Option<()> {
        let end = self.pos.checked_add(word.len())?;
        if self.buf.get(self.pos..end)? != word {
            return None;
        }
        self.pos = end;
        Some(())
    }

    /// A number in JSON's grammar (`-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`): its
    /// exact text, the cursor after it. What follows is the caller's to check (a walk wants a
    /// delimiter or whitespace, so `1.2.3`, `01` and `1x` are refused there).
    #[inline(always)]
    fn number(&mut self) -> Option<&'a [u8]> {
        let buf = self.buf;
        let start = self.pos;
        let mut i = start;
        if buf.get(i) == Some(&b'-') {
            i += 1;
        }
        i = match buf.get(i)? {
            b'0' => i + 1,
            b'1'..=b'9' => digits(buf, i + 1),
            _ => return None,
        };
        if buf.get(i) == Some(&b'.') {
            let end = digits(buf, i + 1);
            if end == i + 1 {
                return None;
            }
            i = end;
        }
        if let Some(b'e' | b'E') = buf.get(i) {
            i += 1;
            if let Some(b'+' | b'-') = buf.get(i) {
                i += 1;
            }
            let end = digits(buf, i);
            if end == i {
                return None;
            }
            i = end;
        }
        self.pos = i;
        buf.get(start..i)
    }

    /// At the end of the frame (after trailing whitespace).
    fn at_end(&mut self) -> bool {
        self.ws();
        self.pos == self.buf.len()
    }
}

/// The index after the run of ASCII digits starting at `i`.
///
/// Eight bytes at a time while eight remain (a price or an id is mostly one word), then one
/// at a time.
#[inline(always)]
fn digits(buf: &[u8], mut i: usize) -> usize {
    while let Some(w) = buf.get(i..i.saturating_add(8)) {
        let w = u64::from_le_bytes(w.try_into().unwrap_or_default());
        let others = non_digits(w ^ ZEROS);
        if others != 0 {
            return i + (others.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while buf.get(i).is_some_and(u8::is_ascii_digit) {
        i += 1;
    }
    i
}

/// Whether all eight bytes of `w` are ASCII digits.
#[inline(always)]
pub(crate) fn all_digits(w: u64) -> bool {
    const HIGH: u64 = 0xf0f0_f0f0_f0f0_f0f0;
    const THREES: u64 = 0x3030_3030_3030_3030;
    // High nibble 3, and still 3 after adding 6 (rules out `:` to `?`; no carry crosses a
    // byte whose high nibble is 3).
    w & HIGH == THREES && w.wrapping_add(0x0606_0606_0606_0606) & HIGH == THREES
}

/// The value of eight ASCII digits, the first in the lowest byte of `w` (little-endian load).
#[inline(always)]
pub(crate) fn eight_digits(w: u64) -> u64 {
    // Bytes to digit values; then pairs (10 * d0 + d1 in every even byte); then the four
    // pairs combined by two multiplications whose useful sums land in bits 32..64.
    let v = w - 0x3030_3030_3030_3030;
    let v = v * 10 + (v >> 8);
    const PAIRS: u64 = 0x0000_00ff_0000_00ff;
    let hi = (v & PAIRS).wrapping_mul(100 + (1_000_000 << 32));
    let lo = ((v >> 16) & PAIRS).wrapping_mul(1 + (10_000 << 32));
    hi.wrapping_add(lo) >> 32
}

/// The level buffer of one walk: cells written through a shared borrow, so the slices handed
/// out in [`ScanValue::Levels`] and the writes of later arrays live side by side. Its size is
/// fixed for the walk: a frame with more levels is refused, noted in `ran_out` (the scanner
/// then grows, see [`scan_frame`]).
struct Spans<'a> {
    cells: &'a [Cell<LevelSpan>],
    len: usize,
    ran_out: &'a Cell<bool>,
}

impl<'a> Spans<'a> {
    #[inline(always)]
    fn push(&mut self, span: LevelSpan) -> Option<()> {
        let Some(cell) = self.cells.get(self.len) else {
            self.ran_out.set(true);
            return None;
        };
        cell.set(span);
        self.len += 1;
        Some(())
    }

    /// The cells pushed since `start`.
    #[inline(always)]
    fn since(&self, start: usize) -> &'a [Cell<LevelSpan>] {
        self.cells.get(start..self.len).unwrap_or_default()
    }
}

/// Reads a scalar or a level array at `c`, level offsets appended to `spans`: the Binance
/// subset (unsigned integers, levels of exactly two strings).
#[inline(always)]
fn value<'a>(c: &mut Cursor<'a>, spans: &mut Spans<'a>) -> Option<ScanValue<'a>> {
    value_of::<2, false>(c, spans)
}

/// Reads a scalar or a level array at `c`, level offsets appended to `spans`: levels of two
/// to `WIDTH` strings (the first two are the price and size), negative integers too if
/// `SIGNED`.
#[inline(always)]
fn value_of<'a, const WIDTH: usize, const SIGNED: bool>(
    c: &mut Cursor<'a>,
    spans: &mut Spans<'a>,
) -> Option<ScanValue<'a>> {
    Some(match c.peek()? {
        b'"' => ScanValue::Str(c.string()?),
        b'0'..=b'9' => ScanValue::UInt(c.uint()?),
        b'-' if SIGNED => ScanValue::Int(c.negative()?),
        b't' => {
            c.literal(b"true")?;
            ScanValue::Bool(true)
        }
        b'f' => {
            c.literal(b"false")?;
            ScanValue::Bool(false)
        }
        b'n' => {
            c.literal(b"null")?;
            ScanValue::Null
        }
        b'[' => {
            let start = spans.len;
            levels::<WIDTH>(c, spans)?;
            ScanValue::Levels { frame: c.buf, spans: spans.since(start) }
        }
        _ => return None,
    })
}

/// `[]` or `[["px","qty"],…]`, each level's offsets appended to `spans`; a level may carry
/// more strings after its size, up to `WIDTH` in all (OKX's `["px","sz","0","1"]`), which are
/// read and not kept.
#[inline(always)]
fn levels<const WIDTH: usize>(c: &mut Cursor<'_>, spans: &mut Spans<'_>) -> Option<()> {
    c.expect(b'[')?;
    c.ws();
    if c.eat(b']') {
        return Some(());
    }
    loop {
        let mut level = [(0, 0); 2];
        c.strings(WIDTH, &mut level)?;
        let [px, qty] = level;
        spans.push(LevelSpan { px, qty })?;
        c.ws();
        match c.next()? {
            b',' => c.ws(),
            b']' => return Some(()),
            _ => return None,
        }
    }
}

/// Walks an object's members at `c` (which must be at its `{`), calling `member` with each key
/// and the cursor at its value; `member` reads the value or refuses.
#[inline]
fn object<'a>(
    c: &mut Cursor<'a>,
    mut member: impl FnMut(&mut Cursor<'a>, &'a [u8]) -> Option<()>,
) -> Option<()> {
    c.expect(b'{')?;
    c.ws();
    if c.eat(b'}') {
        return Some(());
    }
    loop {
        let key = c.string()?;
        c.ws();
        c.expect(b':')?;
        c.ws();
        member(c, key)?;
        c.ws();
        match c.next()? {
            b',' => c.ws(),
            b'}' => return Some(()),
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digit_runs_read_a_word_at_a_time_end_where_a_byte_at_a_time_ends() {
        let naive = |buf: &[u8], mut i: usize| {
            while buf.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
            i
        };
        // Every byte value after runs of every length up to 20, at every start, and a frame
        // that ends inside the run.
        for b in 0..=255u8 {
            for run in 0..20 {
                let mut buf = vec![b'7'; run];
                buf.push(b);
                buf.extend_from_slice(b"12345678");
                for start in 0..buf.len() {
                    assert_eq!(digits(&buf, start), naive(&buf, start), "{buf:?} from {start}");
                }
                assert_eq!(digits(&buf[..run], 0), run);
            }
        }
        assert_eq!(digits(b"", 0), 0);
        assert_eq!(digits(b"1", 5), 5);
    }

    #[test]
    fn eight_digits_at_a_time_reads_as_one_at_a_time() {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..10_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let text = format!("{:08}", x % 100_000_000);
            let w = u64::from_le_bytes(text.as_bytes().try_into().unwrap());
            assert!(all_digits(w), "{text}");
            assert_eq!(eight_digits(w), x % 100_000_000, "{text}");
        }
        for b in 0..=255u8 {
            let mut t = *b"12345678";
            for i in 0..8 {
                t[i] = b;
                assert_eq!(all_digits(u64::from_le_bytes(t)), b.is_ascii_digit(), "{b:#x} at {i}");
                t[i] = b'1' + i as u8;
            }
        }
    }

    #[test]
    fn integers_of_every_length_and_what_follows() {
        let k = Kernel::forced(KernelKind::Portable).unwrap();
        for len in 1..=21usize {
            let digits: String = (0..len).map(|i| char::from(b'1' + (i % 9) as u8)).collect();
            for tail in ["", ",", "}", ".5", "e3", "x"] {
                let text = format!("{digits}{tail}");
                let mut c = Cursor::new(text.as_bytes(), k);
                let want = (len <= 19 && !matches!(tail, ".5" | "e3"))
                    .then(|| digits.parse::<u64>().unwrap());
                assert_eq!(c.uint(), want, "{text}");
            }
        }
        for (text, want) in [("0", Some(0)), ("0,", Some(0)), ("01", None), ("00000000", None)] {
            let mut c = Cursor::new(text.as_bytes(), k);
            assert_eq!(c.uint(), want, "{text}");
        }
    }
}

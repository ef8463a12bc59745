//! Venue-specialised scanners below the simd-json floor: read a venue's hottest frames in one
//! walk, without a tape, and fall back to simd-json on anything not recognised exactly.
//!
//! A scanner accepts a strict subset of JSON: objects, the level arrays `[["px","qty"],…]`,
//! strings of printable ASCII without escapes, unsigned integers of at most 19 digits without
//! a sign, fraction or exponent, `true`, `false`, `null` and JSON whitespace between tokens.
//! It hands its handler the same values simd-json would (strings are the same bytes between
//! the quotes, since there are no escapes to undo), through `FieldValue`, the interface the
//! venue handlers read both parsers' values with: one handler, two parsers, one behaviour.
//! Anything else (an escape, a non-ASCII byte, a float, a key it has no slot for, a duplicate
//! key, a nested object where it expects none, trailing bytes) makes it answer `None`, and the
//! adapter parses that frame with simd-json and counts a fallback ([`super::Parsed::scan_fallback`]).
//!
//! Strings are found with SIMD ([`Kernel`]: AVX2, SSE4.2 or a portable loop, chosen at run
//! time; the only `unsafe` of the scanners lives in that one file). Level arrays are kept as
//! byte offsets into the frame (`LevelSpan`) in a buffer reused between frames: no
//! allocation once it has grown, and decimal text goes straight to ticks and lots through
//! the same functions the simd-json path uses.

// Public for the benchmarks' scan floor only.
#[doc(hidden)]
pub mod binance;
// Public for the differential tests and the fuzz target.
#[doc(hidden)]
pub mod flat;
#[allow(unsafe_code)]
mod simd;

pub use simd::{Kernel, KernelKind};

use simd_json::prelude::ValueAsScalar;
use simd_json::tape::Value;

use super::json;
use super::VenueError;

/// Which parser reads a venue's frames.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum, serde::Deserialize))]
#[cfg_attr(feature = "cli", serde(rename_all = "kebab-case"))]
pub enum Parser {
    /// The venue's specialised scanner where it has one (Binance depth, trades and
    /// bookTicker; Kraken Futures' one-level `book` messages), simd-json for every frame it
    /// does not recognise.
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

/// Byte offsets of one level's price and size text in the frame (`start..end`, quotes
/// excluded).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
    /// `true` or `false`.
    Bool(bool),
    /// `null`.
    Null,
    /// A level array: its levels' offsets into `frame`.
    Levels {
        /// The frame the offsets point into.
        frame: &'a [u8],
        /// The levels in order.
        spans: &'a [LevelSpan],
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
            f(text(l.px), text(l.qty))?;
        }
        Ok(())
    }
}

/// A value before level arrays are resolved to slices (the span buffer is still growing).
#[derive(Debug, Clone, Copy)]
enum Raw<'a> {
    Str(&'a [u8]),
    UInt(u64),
    Bool(bool),
    Null,
    /// A range of the span buffer.
    Levels(u32, u32),
}

impl<'a> Raw<'a> {
    /// The value, with level ranges resolved against `spans`.
    #[inline]
    fn resolve(self, frame: &'a [u8], spans: &'a [LevelSpan]) -> ScanValue<'a> {
        match self {
            Raw::Str(s) => ScanValue::Str(s),
            Raw::UInt(u) => ScanValue::UInt(u),
            Raw::Bool(b) => ScanValue::Bool(b),
            Raw::Null => ScanValue::Null,
            Raw::Levels(s, e) => ScanValue::Levels {
                frame,
                spans: spans.get(s as usize..e as usize).unwrap_or_default(),
            },
        }
    }
}

/// A position in a frame and the strict-JSON token readers; every reader answers `None` on
/// anything outside the accepted subset (the caller then falls back).
struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
    kernel: Kernel,
}

impl<'a> Cursor<'a> {
    fn new(buf: &'a [u8], kernel: Kernel) -> Self {
        Cursor { buf, pos: 0, kernel }
    }

    /// Skips JSON whitespace.
    #[inline]
    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.buf.get(self.pos) {
            self.pos += 1;
        }
    }

    #[inline]
    fn peek(&self) -> Option<u8> {
        self.buf.get(self.pos).copied()
    }

    /// The next byte, consumed.
    #[inline]
    fn next(&mut self) -> Option<u8> {
        let b = self.peek()?;
        self.pos += 1;
        Some(b)
    }

    /// Consumes `b` if it is next.
    #[inline]
    fn eat(&mut self, b: u8) -> bool {
        let hit = self.peek() == Some(b);
        self.pos += usize::from(hit);
        hit
    }

    #[inline]
    fn expect(&mut self, b: u8) -> Option<()> {
        self.eat(b).then_some(())
    }

    /// A string's offsets (quotes excluded), the cursor after its closing quote.
    #[inline]
    fn string_span(&mut self) -> Option<(u32, u32)> {
        self.expect(b'"')?;
        let start = self.pos;
        let end = self.kernel.string_stop(self.buf, start);
        if self.buf.get(end) != Some(&b'"') {
            return None;
        }
        self.pos = end + 1;
        Some((u32::try_from(start).ok()?, u32::try_from(end).ok()?))
    }

    /// A string's bytes.
    #[inline]
    fn string(&mut self) -> Option<&'a [u8]> {
        let (s, e) = self.string_span()?;
        self.buf.get(s as usize..e as usize)
    }

    /// An unsigned integer: `0` or up to 19 digits without a leading zero. A digit, `.`,
    /// `e` or `E` right after is left for the caller to refuse.
    #[inline]
    fn uint(&mut self) -> Option<u64> {
        let start = self.pos;
        let mut acc: u64 = 0;
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

    /// `word` (`true`, `false`, `null`), which must be next.
    #[inline]
    fn literal(&mut self, word: &[u8]) -> Option<()> {
        let end = self.pos.checked_add(word.len())?;
        if self.buf.get(self.pos..end)? != word {
            return None;
        }
        self.pos = end;
        Some(())
    }

    /// At the end of the frame (after trailing whitespace).
    fn at_end(&mut self) -> bool {
        self.ws();
        self.pos == self.buf.len()
    }
}

/// Reads a scalar or a level array at `c`, level offsets appended to `spans`.
#[inline]
fn value<'a>(c: &mut Cursor<'a>, spans: &mut Vec<LevelSpan>) -> Option<Raw<'a>> {
    Some(match c.peek()? {
        b'"' => Raw::Str(c.string()?),
        b'0'..=b'9' => Raw::UInt(c.uint()?),
        b't' => {
            c.literal(b"true")?;
            Raw::Bool(true)
        }
        b'f' => {
            c.literal(b"false")?;
            Raw::Bool(false)
        }
        b'n' => {
            c.literal(b"null")?;
            Raw::Null
        }
        b'[' => {
            let start = u32::try_from(spans.len()).ok()?;
            levels(c, spans)?;
            Raw::Levels(start, u32::try_from(spans.len()).ok()?)
        }
        _ => return None,
    })
}

/// `[]` or `[["px","qty"],…]`, each level's offsets appended to `spans`.
#[inline]
fn levels(c: &mut Cursor<'_>, spans: &mut Vec<LevelSpan>) -> Option<()> {
    c.expect(b'[')?;
    c.ws();
    if c.eat(b']') {
        return Some(());
    }
    loop {
        c.expect(b'[')?;
        c.ws();
        let px = c.string_span()?;
        c.ws();
        c.expect(b',')?;
        c.ws();
        let qty = c.string_span()?;
        c.ws();
        c.expect(b']')?;
        spans.push(LevelSpan { px, qty });
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

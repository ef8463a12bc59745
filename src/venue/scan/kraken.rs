//! The Kraken v1 scanner: book frames (snapshots `as`/`bs`, updates `a`/`b` with the checksum
//! `c`) and trades, all of the shape `[channelID, payload, …, "channel", "pair"]`:
//!
//! - `[1360,{"as":[["0.000022900","13355.87450757","1618678123.481570"],…],"bs":[…]},"book-1000","ADA/XBT"]`
//! - `[1920,{"a":[["0.042990","364630.28272081","1618678145.920470"]]},{"b":[…],"c":"4105471083"},"book-1000","SC/EUR"]`
//! - `[993,[["354.11000000","0.89594024","1618678142.557535","s","l",""]],"trade","XMR/USD"]`
//!
//! It reads the channel id (an unsigned integer), then up to [`MAX_ELEMENTS`] elements: an
//! object's `a`, `b`, `as`, `bs` and `c` go into the adapter's own table (`kraken::V1Part`);
//! any other object key is read (its value must be in the subset) and ignored; a string or a
//! row array is kept as a value. Rows are arrays of two to six strings (a level
//! `["px","volume","time"]` with an optional `"r"`, a trade's six fields); two cells of the
//! shared level buffer hold a row's first four strings. Key order inside an object is free.
//! The last two elements must be strings (channel and pair). Anything else makes it refuse the
//! frame (the adapter then reads it with simd-json, counted): an object at the top (control
//! frames), a channel id that is not an unsigned integer, a key of the table seen twice, a
//! nested object, an array that is not rows, a row of one string or of more than six, a number
//! with a sign, fraction or exponent, and anything outside the scanners' JSON subset (see
//! [`super`]). The scanner reads any channel's frame of this shape; the adapter takes book and
//! trade channels from it and leaves the rest to simd-json.

use std::cell::Cell;

use simd_json::tape::Value;

use super::{json, object, Cursor, LevelSpan, ScannerState, Spans};
use crate::venue::kraken::V1Part;
use crate::venue::VenueError;

/// The elements after the channel id a frame may have: payload objects (Kraken sends one or
/// two), channel name and pair. A frame with more is left to simd-json.
pub const MAX_ELEMENTS: usize = 5;

/// The most strings a row may have (a trade: price, volume, time, side, type, misc).
const ROW_WIDTH: usize = 6;

/// The offsets of an absent string in a row's cells: a string's text never starts at offset
/// 0 (its opening quote comes first), so `(0, 0)` is never a string's.
pub(super) const ABSENT: (u32, u32) = (0, 0);

/// A Kraken v1 value as a handler reads it, from either parser: a string, or an array of rows
/// (levels or trades) read by position. A handler written against this trait behaves the same
/// whichever parser produced the value.
pub(crate) trait V1Value<'i>: Copy {
    /// The text of a string (`None` for any other type).
    fn text(self) -> Option<&'i [u8]>;
    /// Whether the value is an array.
    fn is_array(self) -> bool;
    /// The text of element `idx` (0 to 3) of every row of an array whose row has one as a
    /// string, in order (none if the value is not an array): what a pair's printed precision
    /// is learned from.
    fn row_texts(self, idx: usize) -> impl Iterator<Item = &'i [u8]>;
    /// Calls `f` with the text of the first `N` elements (`N` at most 4) of every row of an
    /// array, in order: `None` where the element is absent or not a string, or the row is not
    /// an array. Nothing if the value is not an array.
    fn each_row<const N: usize>(
        self,
        f: impl FnMut([Option<&'i [u8]>; N]) -> Result<(), VenueError>,
    ) -> Result<(), VenueError>;
}

impl<'i> V1Value<'i> for Value<'_, 'i> {
    #[inline]
    fn text(self) -> Option<&'i [u8]> {
        json::text(self)
    }

    #[inline]
    fn is_array(self) -> bool {
        self.as_array().is_some()
    }

    #[inline]
    fn row_texts(self, idx: usize) -> impl Iterator<Item = &'i [u8]> {
        self.as_array()
            .into_iter()
            .flat_map(move |a| a.iter().filter_map(move |l| json::text(l.get_idx(idx)?)))
    }

    #[inline]
    fn each_row<const N: usize>(
        self,
        mut f: impl FnMut([Option<&'i [u8]>; N]) -> Result<(), VenueError>,
    ) -> Result<(), VenueError> {
        let Some(arr) = self.as_array() else { return Ok(()) };
        for row in arr.iter() {
            f(std::array::from_fn(|i| row.get_idx(i).and_then(json::text)))?;
        }
        Ok(())
    }
}

/// A value the Kraken scanner read.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) enum ScanValue<'a> {
    /// A string's bytes between its quotes (no escapes: the scanner refuses them).
    Str(&'a [u8]),
    /// An array of rows: two cells a row, `px`/`qty` of the first holding elements 0 and 1,
    /// of the second elements 2 and 3 ([`ABSENT`] where the row is shorter).
    Rows {
        /// The frame the offsets point into.
        frame: &'a [u8],
        /// The rows' cells in order (written during the walk through the same shared borrow
        /// that hands them out).
        cells: &'a [Cell<LevelSpan>],
    },
    /// A value no handler reads as text or rows: an unsigned integer, `true`, `false`,
    /// `null`, or an object where a value is expected.
    #[default]
    Other,
}

/// The text at `span` in `frame`, `None` if absent.
#[inline(always)]
pub(super) fn span_text(frame: &[u8], span: (u32, u32)) -> Option<&[u8]> {
    if span == ABSENT {
        return None;
    }
    frame.get(span.0 as usize..span.1 as usize)
}

/// The four element offsets of the row whose cells are `pair`.
#[inline(always)]
pub(super) fn row_spans(pair: &[Cell<LevelSpan>]) -> [(u32, u32); 4] {
    let (a, b) = match pair {
        [a, b] => (a.get(), b.get()),
        _ => (LevelSpan::default(), LevelSpan::default()),
    };
    [a.px, a.qty, b.px, b.qty]
}

impl<'a> V1Value<'a> for ScanValue<'a> {
    #[inline]
    fn text(self) -> Option<&'a [u8]> {
        match self {
            ScanValue::Str(s) => Some(s),
            _ => None,
        }
    }

    #[inline]
    fn is_array(self) -> bool {
        matches!(self, ScanValue::Rows { .. })
    }

    #[inline]
    fn row_texts(self, idx: usize) -> impl Iterator<Item = &'a [u8]> {
        let (frame, cells): (&[u8], &[Cell<LevelSpan>]) = match self {
            ScanValue::Rows { frame, cells } => (frame, cells),
            _ => (&[], &[]),
        };
        cells.chunks_exact(2).filter_map(move |pair| {
            let span = row_spans(pair).get(idx).copied().unwrap_or(ABSENT);
            span_text(frame, span)
        })
    }

    #[inline]
    fn each_row<const N: usize>(
        self,
        mut f: impl FnMut([Option<&'a [u8]>; N]) -> Result<(), VenueError>,
    ) -> Result<(), VenueError> {
        let ScanValue::Rows { frame, cells } = self else { return Ok(()) };
        for pair in cells.chunks_exact(2) {
            let spans = row_spans(pair);
            f(std::array::from_fn(|i| span_text(frame, spans.get(i).copied().unwrap_or(ABSENT))))?;
        }
        Ok(())
    }
}

/// One element of a frame after the channel id.
#[derive(Debug, Clone, Copy)]
enum Element<'a> {
    /// An object: the fields of it the handlers read.
    Part(V1Part<ScanValue<'a>>),
    /// Anything else.
    Value(ScanValue<'a>),
}

impl Default for Element<'_> {
    fn default() -> Self {
        Element::Value(ScanValue::Other)
    }
}

/// What the scanner read of one frame (empty: `Default`).
#[derive(Debug, Default)]
pub(crate) struct ScanFrame<'a> {
    /// The elements after the channel id, `len` of them.
    elements: [Element<'a>; MAX_ELEMENTS],
    len: usize,
}

impl<'a> ScanFrame<'a> {
    /// The channel name and pair (the last two elements), if the frame has at least four
    /// elements and both are strings: what the adapter requires of a channel message.
    #[inline]
    pub(crate) fn channel_pair(&self) -> Option<(&'a [u8], &'a [u8])> {
        match self.elements.get(..self.len)? {
            [_, .., Element::Value(ScanValue::Str(channel)), Element::Value(ScanValue::Str(pair))] => {
                Some((channel, pair))
            }
            _ => None,
        }
    }

    /// The payload elements (all but the channel id, channel name and pair) as the book
    /// handler reads them: an object's fields, or none for anything else (as simd-json's
    /// `get` finds no key in a value that is not an object).
    #[inline]
    pub(crate) fn parts(&self) -> impl Iterator<Item = V1Part<ScanValue<'a>>> + '_ {
        let end = self.len.saturating_sub(2);
        self.elements.get(..end).unwrap_or_default().iter().map(|e| match e {
            Element::Part(p) => *p,
            Element::Value(_) => V1Part::default(),
        })
    }

    /// The first element after the channel id as a value (a trade list): an object reads as
    /// [`ScanValue::Other`].
    #[inline]
    pub(crate) fn payload(&self) -> ScanValue<'a> {
        match self.elements.first() {
            Some(Element::Value(v)) => *v,
            _ => ScanValue::Other,
        }
    }
}

/// The Kraken v1 frame reading of a [`ScannerState`] (a marker: the type has no values).
#[derive(Debug)]
pub enum KrakenV1Frames {}

impl super::Frames for KrakenV1Frames {
    type Found<'a> = ScanFrame<'a>;

    #[inline]
    fn walk<'a>(
        state: &'a mut ScannerState<Self>,
        frame: &'a [u8],
        found: &mut Self::Found<'a>,
    ) -> Option<()> {
        state.scan_into(frame, found)
    }
}

/// The Kraken v1 scanner: its kernel and the row offsets of the last frame.
pub type KrakenV1Scanner = ScannerState<KrakenV1Frames>;

impl ScannerState<KrakenV1Frames> {
    /// Whether the scanner reads `frame` and it is a book or trade message (the scan floor of
    /// the benchmarks: the walk without a handler).
    pub fn recognises(&mut self, frame: &[u8]) -> bool {
        let mut f = ScanFrame::default();
        self.scan_into(frame, &mut f).is_some()
            && f.channel_pair()
                .is_some_and(|(channel, _)| channel == b"trade" || channel.starts_with(b"book-"))
    }

    /// Whether the scanner reads `frame` at all, whatever its channel.
    #[cfg(test)]
    fn reads(&mut self, frame: &[u8]) -> bool {
        self.scan_into(frame, &mut ScanFrame::default()).is_some()
    }

    /// Fills `f`, which must be empty (`ScanFrame::default()`), with the frame's elements;
    /// `None` if the frame is not one the scanner recognises exactly (`f` then holds whatever
    /// was read before the refusal). It does not check the frame's length or that the channel
    /// and pair are strings: the caller does ([`ScanFrame::channel_pair`]).
    #[inline]
    pub(crate) fn scan_into<'a>(
        &'a mut self,
        frame: &'a [u8],
        f: &mut ScanFrame<'a>,
    ) -> Option<()> {
        let (mut c, mut spans) = self.start(frame)?;
        c.expect(b'[')?;
        c.ws();
        // The channel id: not read by the adapter, but it must be in the subset.
        c.uint()?;
        c.ws();
        loop {
            match c.next()? {
                b',' => c.ws(),
                b']' => break,
                _ => return None,
            }
            let e = f.elements.get_mut(f.len)?;
            f.len += 1;
            if c.peek() == Some(b'{') {
                *e = Element::Part(V1Part::default());
                let Element::Part(part) = e else { return None };
                object(&mut c, |c, k| match part.slot(k) {
                    Some(slot) => {
                        // A duplicate key: simd-json's reading keeps the first; refuse instead.
                        if slot.is_some() {
                            return None;
                        }
                        *slot = Some(value(c, &mut spans)?);
                        Some(())
                    }
                    None => value(c, &mut spans).map(drop),
                })?;
            } else {
                *e = Element::Value(value(&mut c, &mut spans)?);
            }
            c.ws();
        }
        c.at_end().then_some(())
    }
}

/// Reads a value at `c`: a string, rows (their cells appended to `spans`), an unsigned
/// integer, `true`, `false` or `null`; `None` for anything else.
#[inline(always)]
fn value<'a>(c: &mut Cursor<'a>, spans: &mut Spans<'a>) -> Option<ScanValue<'a>> {
    Some(match c.peek()? {
        b'"' => ScanValue::Str(c.string()?),
        b'[' => {
            let start = spans.len;
            rows(c, spans)?;
            ScanValue::Rows { frame: c.buf, cells: spans.since(start) }
        }
        b'0'..=b'9' => {
            c.uint()?;
            ScanValue::Other
        }
        b't' => {
            c.literal(b"true")?;
            ScanValue::Other
        }
        b'f' => {
            c.literal(b"false")?;
            ScanValue::Other
        }
        b'n' => {
            c.literal(b"null")?;
            ScanValue::Other
        }
        _ => return None,
    })
}

/// `[]` or `[["s","s",…],…]`: rows of two to [`ROW_WIDTH`] strings, two cells a row appended
/// to `spans` (the first four strings' offsets; the rest are read and not kept).
#[inline(always)]
pub(super) fn rows(c: &mut Cursor<'_>, spans: &mut Spans<'_>) -> Option<()> {
    c.expect(b'[')?;
    c.ws();
    if c.eat(b']') {
        return Some(());
    }
    loop {
        let mut row = [ABSENT; 4];
        c.strings(ROW_WIDTH, &mut row)?;
        spans.push(LevelSpan { px: row[0], qty: row[1] })?;
        spans.push(LevelSpan { px: row[2], qty: row[3] })?;
        c.ws();
        match c.next()? {
            b',' => c.ws(),
            b']' => return Some(()),
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::venue::scan::testing::scanners;

    fn rows_of<const N: usize>(v: Option<ScanValue<'_>>) -> Vec<[Option<String>; N]> {
        let mut out = Vec::new();
        v.unwrap()
            .each_row::<N>(|r| {
                out.push(r.map(|t| t.map(|t| String::from_utf8(t.to_vec()).unwrap())));
                Ok(())
            })
            .unwrap();
        out
    }

    fn s(t: &str) -> Option<String> {
        Some(t.to_owned())
    }

    #[test]
    fn every_kernel_reads_an_update_of_two_parts() {
        // A frame of the bundled capture, with a republished level added.
        let frame = br#"[1920,{"a":[["0.042990","364630.28272081","1618678145.920470"],["0.043000","1.00000000","1618678145.920471","r"]]},{"b":[["0.042990","0.00000000","1618678145.920708"]],"c":"4105471083"},"book-1000","SC/EUR"]"#;
        for mut sc in scanners::<KrakenV1Frames>() {
            let name = sc.kernel().kind().name();
            let mut f = ScanFrame::default();
            sc.scan_into(frame, &mut f).unwrap_or_else(|| panic!("{name}"));
            assert_eq!(f.channel_pair(), Some((&b"book-1000"[..], &b"SC/EUR"[..])), "{name}");
            let parts: Vec<_> = f.parts().collect();
            assert_eq!(parts.len(), 2);
            assert_eq!(
                rows_of::<4>(parts[0].asks),
                [
                    [s("0.042990"), s("364630.28272081"), s("1618678145.920470"), None],
                    [s("0.043000"), s("1.00000000"), s("1618678145.920471"), s("r")],
                ],
                "{name}"
            );
            assert!(parts[0].bids.is_none() && parts[0].checksum.is_none());
            assert_eq!(
                rows_of::<3>(parts[1].bids),
                [[s("0.042990"), s("0.00000000"), s("1618678145.920708")]]
            );
            assert_eq!(parts[1].checksum.and_then(V1Value::text), Some(&b"4105471083"[..]));
            let px: Vec<&[u8]> = parts[0].asks.unwrap().row_texts(0).collect();
            assert_eq!(px, [&b"0.042990"[..], b"0.043000"]);
            let flag: Vec<&[u8]> = parts[0].asks.unwrap().row_texts(3).collect();
            assert_eq!(flag, [&b"r"[..]]);
        }
    }

    #[test]
    fn snapshots_trades_whitespace_and_key_order() {
        let snap = b" [ 7 , {\"bs\" : [ [\"1.0\" ,\"2.0\",\"3.0\"] ] ,\n\"x\":null, \"as\":[]} ,\"book-10\",\t\"XMR/USD\"]\r\n";
        let trade = br#"[993,[["354.11000000","0.89594024","1618678142.557535","s","l",""]],"trade","XMR/USD"]"#;
        for mut sc in scanners::<KrakenV1Frames>() {
            let mut f = ScanFrame::default();
            sc.scan_into(snap, &mut f).unwrap();
            let parts: Vec<_> = f.parts().collect();
            assert_eq!(parts.len(), 1);
            assert_eq!(rows_of::<3>(parts[0].snapshot_bids), [[s("1.0"), s("2.0"), s("3.0")]]);
            assert!(rows_of::<2>(parts[0].snapshot_asks).is_empty());
            assert!(sc.recognises(snap));
            let mut f = ScanFrame::default();
            sc.scan_into(trade, &mut f).unwrap();
            assert_eq!(
                rows_of::<4>(Some(f.payload())),
                [[s("354.11000000"), s("0.89594024"), s("1618678142.557535"), s("s")]]
            );
            assert_eq!(f.parts().count(), 1);
            assert!(f.parts().all(|p| p.asks.is_none() && p.snapshot_bids.is_none()));
            assert!(sc.recognises(trade));
        }
    }

    #[test]
    fn anything_not_recognised_exactly_is_refused() {
        let refused: [&[u8]; 20] = [
            b"",
            b"{\"event\":\"heartbeat\"}",
            b"[]",
            b"[-1,{},\"book-10\",\"X/Y\"]",
            b"[\"1\",{},\"book-10\",\"X/Y\"]",
            b"[1.5,{},\"book-10\",\"X/Y\"]",
            b"[1,{\"a\":[],\"a\":[]},\"book-10\",\"X/Y\"]",
            b"[1,{\"c\":\"1\",\"c\":\"2\"},\"book-10\",\"X/Y\"]",
            b"[1,{\"a\":[[\"1\"]]},\"book-10\",\"X/Y\"]",
            b"[1,{\"a\":[[\"1\",\"2\",\"3\",\"4\",\"5\",\"6\",\"7\"]]},\"book-10\",\"X/Y\"]",
            b"[1,{\"a\":[[\"1\",2]]},\"book-10\",\"X/Y\"]",
            b"[1,{\"a\":[\"1\",\"2\"]},\"book-10\",\"X/Y\"]",
            b"[1,{\"x\":{\"y\":1}},\"book-10\",\"X/Y\"]",
            b"[1,{\"c\":-1},\"book-10\",\"X/Y\"]",
            b"[1,{\"a\":[[\"1\\u0030\",\"2\"]]},\"book-10\",\"X/Y\"]",
            b"[1,{},{},{},{},\"book-10\",\"X/Y\"]",
            b"[1,{},\"book-10\",\"X/Y\"] x",
            b"[1,{},\"book-10\",\"X/Y\"",
            b"[1,[\"1.0\",\"2.0\",\"3\",\"4\",\"5\"],\"spread\",\"X/Y\"]",
            "[1,{},\"book-10\",\"X/\u{e9}\"]".as_bytes(),
        ];
        for mut sc in scanners::<KrakenV1Frames>() {
            for f in refused {
                assert!(
                    !sc.reads(f),
                    "{}: {}",
                    sc.kernel().kind().name(),
                    String::from_utf8_lossy(f)
                );
            }
            // Read, but not a book or trade message the adapter takes from the scanner.
            for other in [
                &b"[1,{},\"book-10\"]"[..],
                b"[1,{},2,\"X/Y\"]",
                b"[1,[],\"ohlc-5\",\"X/Y\"]",
                b"[1]",
            ] {
                assert!(sc.reads(other) && !sc.recognises(other));
            }
            assert!(sc.reads(b"[1,{},{},{},\"book-10\",\"X/Y\"]"));
        }
    }
}

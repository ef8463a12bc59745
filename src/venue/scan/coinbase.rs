//! The Coinbase Exchange scanner: `l2update`, `snapshot`, `match` and `last_match` messages,
//! flat objects (98% of this venue's frames are `l2update`s; its snapshots are most of the rest
//! of its bytes):
//!
//! - `{"type":"l2update","product_id":"SKL-BTC","changes":[["sell","0.00001306","660.5"]],"time":"2021-04-17T16:43:37.075687Z"}`
//! - `{"type":"snapshot","product_id":"BTC-USD","bids":[["56000.01","0.5"]],"asks":[["56000.02","1.2"]]}`
//! - `{"type":"match","trade_id":881613,"maker_order_id":"27fff20b-…","taker_order_id":"1da6ce16-…","side":"sell","size":"0.04","price":"14.7775","product_id":"BAND-GBP","sequence":333938798,"time":"2021-04-17T16:43:30.244075Z"}`
//!
//! It reads the top-level object's members in any order: the keys the adapter's handlers read
//! (`type`, `product_id`, `changes`, `bids`, `asks`, `time`, `price`, `size`, `side`,
//! `trade_id`) go into the
//! adapter's own table (`coinbase::ExFields`), so the handlers run unchanged on its output; any
//! other key is read (its value must be in the subset) and ignored. A value is a string, an
//! unsigned integer, `true`, `false`, `null`, or an array of rows of two to six strings (a
//! change `["buy","px","size"]`; two cells of the shared level buffer hold a row's first four
//! strings). Anything else makes it refuse the frame (the adapter then reads it with
//! simd-json, counted): a frame that is not an object, a key of the table seen twice, a nested
//! object, an array that is not rows, a row of one string or of more than six, a number with a
//! sign, fraction or exponent, and anything outside the scanners' JSON subset (see [`super`]).
//! The scanner reads any frame of this shape; the adapter takes `l2update`, `snapshot`, `match`
//! and `last_match` from it and leaves every other `type` (tickers, heartbeats,
//! subscriptions) to simd-json. A snapshot with more levels than the scanner's level buffer
//! holds is refused where the buffer ends; the adapter's scanner then grows the buffer and
//! reads it again ([`super::MAX_SPANS`]: only a snapshot past that limit goes to simd-json).

use std::cell::Cell;

use simd_json::tape::Value;

use super::kraken::{row_spans, rows, span_text};
use super::{json, object, Cursor, LevelSpan, ScannerState, Spans};
use crate::venue::coinbase::ExFields;
use crate::venue::VenueError;

/// A Coinbase Exchange value as a handler reads it, from either parser: a string, an unsigned
/// integer, or an array of rows (`changes`) read by position. A handler written against this
/// trait behaves the same whichever parser produced the value.
pub(crate) trait ExValue<'i>: Copy {
    /// The text of a string (`None` for any other type).
    fn text(self) -> Option<&'i [u8]>;
    /// An unsigned integer, from a JSON integer or a string of digits ([`json::uint`]).
    fn uint(self) -> Option<u64>;
    /// Whether the value is an array.
    fn is_array(self) -> bool;
    /// Calls `f` with the text of the first three elements of every row of an array, in
    /// order: `None` where the element is absent or not a string, or the row is not an array.
    /// Nothing if the value is not an array.
    fn each_change(
        self,
        f: impl FnMut([Option<&'i [u8]>; 3]) -> Result<(), VenueError>,
    ) -> Result<(), VenueError>;
}

impl<'i> ExValue<'i> for Value<'_, 'i> {
    #[inline]
    fn text(self) -> Option<&'i [u8]> {
        json::text(self)
    }

    #[inline]
    fn uint(self) -> Option<u64> {
        json::uint(self)
    }

    #[inline]
    fn is_array(self) -> bool {
        self.as_array().is_some()
    }

    #[inline]
    fn each_change(
        self,
        mut f: impl FnMut([Option<&'i [u8]>; 3]) -> Result<(), VenueError>,
    ) -> Result<(), VenueError> {
        let Some(arr) = self.as_array() else { return Ok(()) };
        for row in arr.iter() {
            f(std::array::from_fn(|i| row.get_idx(i).and_then(json::text)))?;
        }
        Ok(())
    }
}

/// A value the Coinbase Exchange scanner read.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) enum ScanValue<'a> {
    /// A string's bytes between its quotes (no escapes: the scanner refuses them).
    Str(&'a [u8]),
    /// An unsigned integer.
    UInt(u64),
    /// An array of rows: two cells a row, `px`/`qty` of the first holding elements 0 and 1,
    /// of the second elements 2 and 3 (absent where the row is shorter).
    Rows {
        /// The frame the offsets point into.
        frame: &'a [u8],
        /// The rows' cells in order (written during the walk through the same shared borrow
        /// that hands them out).
        cells: &'a [Cell<LevelSpan>],
    },
    /// `true`, `false` or `null`: no handler reads them as text, integer or rows.
    #[default]
    Other,
}

impl<'a> ExValue<'a> for ScanValue<'a> {
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
    fn is_array(self) -> bool {
        matches!(self, ScanValue::Rows { .. })
    }

    #[inline]
    fn each_change(
        self,
        mut f: impl FnMut([Option<&'a [u8]>; 3]) -> Result<(), VenueError>,
    ) -> Result<(), VenueError> {
        let ScanValue::Rows { frame, cells } = self else { return Ok(()) };
        for pair in cells.chunks_exact(2) {
            let [a, b, c, _] = row_spans(pair);
            f([span_text(frame, a), span_text(frame, b), span_text(frame, c)])?;
        }
        Ok(())
    }
}

/// The Coinbase Exchange frame reading of a [`ScannerState`] (a marker: the type has no
/// values).
#[derive(Debug)]
pub enum ExchangeFrames {}

impl super::Frames for ExchangeFrames {
    type Found<'a> = ExFields<ScanValue<'a>>;

    #[inline]
    fn walk<'a>(
        state: &'a mut ScannerState<Self>,
        frame: &'a [u8],
        found: &mut Self::Found<'a>,
    ) -> Option<()> {
        state.scan_into(frame, found)
    }
}

/// The Coinbase Exchange scanner: its kernel and the row offsets of the last frame.
pub type CoinbaseExchangeScanner = ScannerState<ExchangeFrames>;

impl ScannerState<ExchangeFrames> {
    /// Whether the scanner reads `frame` and it is an `l2update`, `snapshot`, `match` or
    /// `last_match` message (the scan floor of the benchmarks: the walk without a handler).
    pub fn recognises(&mut self, frame: &[u8]) -> bool {
        let mut f = ExFields::default();
        self.scan_into(frame, &mut f).is_some()
            && matches!(
                f.kind.and_then(ExValue::text),
                Some(b"l2update" | b"snapshot" | b"match" | b"last_match")
            )
    }

    /// Whether the scanner reads `frame` at all, whatever its type.
    #[cfg(test)]
    fn reads(&mut self, frame: &[u8]) -> bool {
        self.scan_into(frame, &mut ExFields::default()).is_some()
    }

    /// Fills `f`, which must be empty (`ExFields::default()`), with the frame's fields the
    /// handlers read; `None` if the frame is not one the scanner recognises exactly (`f` then
    /// holds whatever was read before the refusal). It does not check the `type`: the caller
    /// does.
    #[inline]
    pub(crate) fn scan_into<'a>(
        &'a mut self,
        frame: &'a [u8],
        f: &mut ExFields<ScanValue<'a>>,
    ) -> Option<()> {
        let (mut c, mut spans) = self.start(frame)?;
        if c.peek() != Some(b'{') {
            return None;
        }
        object(&mut c, |c, k| match f.slot(k) {
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
        c.at_end().then_some(())
    }
}

/// Reads a value at `c`: a string, rows (their cells appended to `spans`), an unsigned
/// integer, `true`, `false` or `null`; `None` for anything else.
#[inline(always)]
pub(super) fn value<'a>(c: &mut Cursor<'a>, spans: &mut Spans<'a>) -> Option<ScanValue<'a>> {
    Some(match c.peek()? {
        b'"' => ScanValue::Str(c.string()?),
        b'[' => {
            let start = spans.len;
            rows(c, spans)?;
            ScanValue::Rows { frame: c.buf, cells: spans.since(start) }
        }
        b'0'..=b'9' => ScanValue::UInt(c.uint()?),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::venue::scan::testing::scanners;

    fn changes(v: Option<ScanValue<'_>>) -> Vec<[Option<String>; 3]> {
        let mut out = Vec::new();
        v.unwrap()
            .each_change(|r| {
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
    fn every_kernel_reads_an_update_and_a_match() {
        let update = br#"{"type":"l2update","product_id":"SKL-BTC","changes":[["sell","0.00001306","660.5"],["buy","0.00001300","0"]],"time":"2021-04-17T16:43:37.075687Z"}"#;
        let trade = br#" {"type":"match","trade_id":881613,"maker_order_id":"27fff20b-af29-4f45-8744-56dd1ef57dc0","side":"sell","size":"0.04","price":"14.7775","product_id":"BAND-GBP","sequence":333938798,"time":"2021-04-17T16:43:30.244075Z", "x" : [ ] , "y":true,"z":null}
"#;
        for mut sc in scanners::<ExchangeFrames>() {
            let name = sc.kernel().kind().name();
            let mut f = ExFields::default();
            sc.scan_into(update, &mut f).unwrap_or_else(|| panic!("{name}"));
            assert_eq!(f.kind.and_then(ExValue::text), Some(&b"l2update"[..]));
            assert_eq!(f.product_id.and_then(ExValue::text), Some(&b"SKL-BTC"[..]));
            assert_eq!(
                changes(f.changes),
                [[s("sell"), s("0.00001306"), s("660.5")], [s("buy"), s("0.00001300"), s("0")]],
                "{name}"
            );
            assert!(f.price.is_none() && f.trade_id.is_none());
            assert!(sc.recognises(update));
            let mut f = ExFields::default();
            sc.scan_into(trade, &mut f).unwrap_or_else(|| panic!("{name}"));
            assert_eq!(f.trade_id.and_then(ExValue::uint), Some(881613));
            assert_eq!(f.price.and_then(ExValue::text), Some(&b"14.7775"[..]));
            assert_eq!(f.side.and_then(ExValue::text), Some(&b"sell"[..]));
            assert!(f.changes.is_none());
            assert!(sc.recognises(trade));
        }
    }

    #[test]
    fn anything_not_recognised_exactly_is_refused() {
        let refused: [&[u8]; 14] = [
            b"",
            b"[]",
            b"{\"type\":\"l2update\",\"type\":\"l2update\"}",
            b"{\"type\":\"match\",\"trade_id\":-1}",
            b"{\"type\":\"match\",\"trade_id\":1.5}",
            b"{\"type\":\"match\",\"trade_id\":01}",
            b"{\"type\":\"l2update\",\"changes\":[[\"buy\"]]}",
            b"{\"type\":\"l2update\",\"changes\":[[\"buy\",\"1\",2]]}",
            b"{\"type\":\"l2update\",\"changes\":[\"buy\",\"1\",\"2\"]}",
            b"{\"type\":\"l2update\",\"x\":{\"y\":1}}",
            b"{\"type\":\"l2\\u0075pdate\"}",
            b"{\"type\":\"l2update\"} x",
            b"{\"type\":\"l2update\"",
            "{\"type\":\"l2update\",\"product_id\":\"\u{e9}\"}".as_bytes(),
        ];
        for mut sc in scanners::<ExchangeFrames>() {
            for f in refused {
                assert!(
                    !sc.reads(f),
                    "{}: {}",
                    sc.kernel().kind().name(),
                    String::from_utf8_lossy(f)
                );
            }
            assert!(sc.recognises(b"{\"type\":\"snapshot\",\"bids\":[[\"1\",\"2\"]],\"asks\":[]}"));
            // Read, but not a message the adapter takes from the scanner.
            for other in [
                &b"{\"type\":\"heartbeat\",\"sequence\":1}"[..],
                b"{\"type\":\"ticker\",\"best_bid\":\"1\"}",
                b"{}",
                b"{\"type\":1}",
            ] {
                assert!(sc.reads(other) && !sc.recognises(other));
            }
        }
    }
}

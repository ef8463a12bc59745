//! The Bitfinex v2 scanner: the channel messages of books, trades, heartbeats and checksums,
//! all of the shape `[CHAN_ID, payload, …]` with prices and amounts printed as JSON numbers:
//!
//! - `[81568,[6433.9,0,1]]`, and with `SEQ_ALL`'s sequence number `[146465,[0.46673,1,2231.0474696],19]`
//! - `[146481,"te",[658733916,1617643611128,0.7574881,230890],394]` (and `"tu"`)
//! - `[146465,"hb",20]`, `[146465,"cs",-1180392281,21]`
//!
//! It reads the frame's top-level array: one to [`MAX_ELEMENTS`] elements, each a scalar or
//! a flat array of one to [`ROW`] scalars. A scalar is a number in JSON's grammar
//! (`-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`), handed on as its exact text, or a
//! string in the scanners' subset (see [`super`]), handed on as its bytes: exactly what the
//! simd-json path's tape holds for them, since that path quotes every number while copying
//! the frame ([`super::super::json::Scratch::parse`]) and then reads numbers as strings too.
//! The first four elements go into the adapter's own table (`bitfinex::Head`), the only
//! elements its handler reads; any further ones (a flag's trailing timestamp) are read and
//! not kept. The adapter's one handler then decides everything (sequence numbers, channel,
//! errors) from that table, whichever parser filled it.
//!
//! It refuses the frame (the adapter then reads it with simd-json, counted) on anything else:
//! an object (events), an empty array, an array inside a row (snapshots and bulk updates), a
//! row wider than [`ROW`] (tickers), more than [`MAX_ELEMENTS`] elements, `true`, `false`,
//! `null`, a number outside JSON's grammar or glued to anything but `,`, `]` or whitespace
//! (`1.2.3`, `01`, `1e`), a string with an escape, a control or a non-ASCII byte, and
//! trailing bytes.

use simd_json::tape::Value;

use super::{json, Cursor, ScannerState};
use crate::venue::bitfinex::{Head, HEAD};
use crate::venue::VenueError;

/// The most elements a frame's top-level array may have: the payload's three (`"te"`, the
/// trade, or a level alone), the sequence number, and room for one more field a flag may
/// append. A frame with more is left to simd-json.
pub const MAX_ELEMENTS: usize = 6;

/// The most scalars an array inside the frame may have: a trade's four (`[ID, MTS, AMOUNT,
/// PRICE]`); a level has three. A ticker's ten are left to simd-json.
pub const ROW: usize = 4;

/// A value of a Bitfinex frame as the adapter's handler reads it, from either parser: the
/// conversions of [`json::text`], [`json::uint`] and [`json::int`] on the simd-json path's
/// quoted tape, and access to an array's elements by position. A handler written against
/// this trait behaves the same whichever parser produced the value.
pub(crate) trait BitfinexValue<'i>: Copy {
    /// The text of a string, or of a number (exact, as printed).
    fn text(self) -> Option<&'i [u8]>;
    /// An unsigned integer, from a number's or a string's decimal digits.
    fn uint(self) -> Option<u64>;
    /// A signed integer, from a number's or a string's decimal digits with an optional `-`.
    fn int(self) -> Option<i64>;
    /// The number of elements of an array (`None` for any other value).
    fn items(self) -> Option<usize>;
    /// Element `i` of an array (`None` if absent or the value is not an array).
    fn item(self, i: usize) -> Option<Self>;
    /// Calls `f` with every element of an array, in order, until it fails (nothing for any
    /// other value).
    fn each(self, f: impl FnMut(Self) -> Result<(), VenueError>) -> Result<(), VenueError>;
}

impl<'i> BitfinexValue<'i> for Value<'_, 'i> {
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
    fn items(self) -> Option<usize> {
        self.as_array().map(|a| a.len())
    }

    #[inline]
    fn item(self, i: usize) -> Option<Self> {
        self.get_idx(i)
    }

    #[inline]
    fn each(self, f: impl FnMut(Self) -> Result<(), VenueError>) -> Result<(), VenueError> {
        let Some(arr) = self.as_array() else { return Ok(()) };
        arr.iter().try_for_each(f)
    }
}

/// The first [`HEAD`] elements of a frame's top-level array from simd-json's tape: the
/// adapter's table, as the scanner fills it from its own reading.
#[inline]
pub(crate) fn head_of<'t, 'i>(arr: simd_json::tape::Array<'t, 'i>) -> Head<Value<'t, 'i>> {
    let mut head: Head<Value<'t, 'i>> = [None; HEAD];
    for (slot, v) in head.iter_mut().zip(arr.iter()) {
        *slot = Some(v);
    }
    head
}

/// A value the Bitfinex scanner read.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Item<'a> {
    /// A number's exact text, or a string's bytes between its quotes (no escapes: the scanner
    /// refuses them).
    Text(&'a [u8]),
    /// A flat array: its first `len` scalars' texts.
    Row {
        /// The scalars' texts (`len` of them are the row's).
        items: [&'a [u8]; ROW],
        /// How many scalars the row has (1 to [`ROW`]).
        len: usize,
    },
}

impl<'a> BitfinexValue<'a> for Item<'a> {
    #[inline]
    fn text(self) -> Option<&'a [u8]> {
        match self {
            Item::Text(t) => Some(t),
            Item::Row { .. } => None,
        }
    }

    /// As [`json::uint`] reads a string (the quoted tape holds numbers as strings).
    #[inline]
    fn uint(self) -> Option<u64> {
        json::parse_u64(self.text()?)
    }

    /// As [`json::int`] reads a string.
    #[inline]
    fn int(self) -> Option<i64> {
        json::parse_i64(self.text()?)
    }

    #[inline]
    fn items(self) -> Option<usize> {
        match self {
            Item::Row { len, .. } => Some(len),
            Item::Text(_) => None,
        }
    }

    #[inline]
    fn item(self, i: usize) -> Option<Self> {
        match self {
            Item::Row { items, len } => items.get(..len)?.get(i).copied().map(Item::Text),
            Item::Text(_) => None,
        }
    }

    #[inline]
    fn each(self, mut f: impl FnMut(Self) -> Result<(), VenueError>) -> Result<(), VenueError> {
        let Item::Row { items, len } = self else { return Ok(()) };
        items.get(..len).unwrap_or_default().iter().try_for_each(|&t| f(Item::Text(t)))
    }
}

/// What the scanner read of one frame (empty: `Default`): the adapter's table.
#[derive(Debug, Default)]
pub(crate) struct ScanFrame<'a> {
    /// The first [`HEAD`] elements of the top-level array.
    pub(crate) head: Head<Item<'a>>,
}

/// The Bitfinex v2 frame reading of a [`ScannerState`] (a marker: the type has no values).
#[derive(Debug)]
pub enum BitfinexFrames {}

impl super::Frames for BitfinexFrames {
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

/// The Bitfinex v2 scanner: its kernel (the level buffer of [`ScannerState`] is not used: a
/// row's texts are kept in the frame's table).
pub type BitfinexScanner = ScannerState<BitfinexFrames>;

impl ScannerState<BitfinexFrames> {
    /// Whether the scanner reads `frame` (the scan floor of the benchmarks: the walk without
    /// a handler). Every frame it reads is handled from its reading: the adapter's handler
    /// takes any channel's message of this shape.
    pub fn recognises(&mut self, frame: &[u8]) -> bool {
        self.scan_into(frame, &mut ScanFrame::default()).is_some()
    }

    /// Fills `f`, which must be empty (`ScanFrame::default()`), with the frame's first
    /// elements; `None` if the frame is not one the scanner recognises exactly (`f` then holds
    /// whatever was read before the refusal).
    #[inline]
    pub(crate) fn scan_into<'a>(
        &'a mut self,
        frame: &'a [u8],
        f: &mut ScanFrame<'a>,
    ) -> Option<()> {
        let (mut c, _) = self.start(frame)?;
        c.expect(b'[')?;
        c.ws();
        let mut n = 0;
        // Where elements past the table's go (read, not kept).
        let mut spare = None;
        loop {
            if n == MAX_ELEMENTS {
                return None;
            }
            // Each element is read into its slot in place: a row built on the stack and then
            // copied into the table stalled on the copy (its texts still in the store buffer).
            let slot = match f.head.get_mut(n) {
                Some(slot) => slot,
                None => &mut spare,
            };
            if c.peek()? == b'[' {
                row(&mut c, slot)?;
            } else {
                *slot = Some(Item::Text(scalar(&mut c)?));
            }
            n += 1;
            c.ws();
            match c.next()? {
                b',' => c.ws(),
                b']' => break,
                _ => return None,
            }
        }
        c.at_end().then_some(())
    }
}

/// A scalar at `c`: a string's bytes or a number's text.
#[inline(always)]
fn scalar<'a>(c: &mut Cursor<'a>) -> Option<&'a [u8]> {
    match c.peek()? {
        b'"' => c.string(),
        b'-' | b'0'..=b'9' => c.number(),
        _ => None,
    }
}

/// `[s, …]` at `c`: one to [`ROW`] scalars, read into `slot`.
#[inline(always)]
fn row<'a>(c: &mut Cursor<'a>, slot: &mut Option<Item<'a>>) -> Option<()> {
    c.expect(b'[')?;
    c.ws();
    let Item::Row { items, len } = slot.insert(Item::Row { items: [&[]; ROW], len: 0 }) else {
        return None;
    };
    loop {
        let s = scalar(c)?;
        *items.get_mut(*len)? = s;
        *len += 1;
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

    /// The texts the scanner read: each element's text, or its row's texts in brackets.
    fn read(sc: &mut BitfinexScanner, frame: &str) -> Option<Vec<String>> {
        let mut f = ScanFrame::default();
        sc.scan_into(frame.as_bytes(), &mut f)?;
        let s = |t: &[u8]| String::from_utf8(t.to_vec()).unwrap();
        Some(
            f.head
                .iter()
                .flatten()
                .map(|v| match *v {
                    Item::Text(t) => s(t),
                    Item::Row { items, len } => {
                        format!(
                            "[{}]",
                            items[..len].iter().map(|&t| s(t)).collect::<Vec<_>>().join(" ")
                        )
                    }
                })
                .collect(),
        )
    }

    #[test]
    fn every_kernel_reads_the_hot_shapes() {
        for mut sc in scanners::<BitfinexFrames>() {
            let name = sc.kernel().kind().name();
            let cases: [(&str, &[&str]); 10] = [
                ("[81568,[6433.9,0,1]]", &["81568", "[6433.9 0 1]"]),
                (
                    "[146465,[0.46673,1,2231.0474696],19]",
                    &["146465", "[0.46673 1 2231.0474696]", "19"],
                ),
                (
                    r#"[146481,"te",[658733916,1617643611128,0.7574881,230890],394]"#,
                    &["146481", "te", "[658733916 1617643611128 0.7574881 230890]", "394"],
                ),
                (
                    r#"[5262,"tu",[310629396,1542046651286,2.8e-7,6443]]"#,
                    &["5262", "tu", "[310629396 1542046651286 2.8e-7 6443]"],
                ),
                (r#"[17,"hb"]"#, &["17", "hb"]),
                (r#"[17,"hb",20]"#, &["17", "hb", "20"]),
                (r#"[17,"cs",-1180392281,21]"#, &["17", "cs", "-1180392281", "21"]),
                (" \r\n[ 17 ,\t[ -0 , 1E+2 ,-0.5e-3 ] , 3 ]\n", &["17", "[-0 1E+2 -0.5e-3]", "3"]),
                // Elements past the fourth are read and not kept.
                ("[17,[1,1,1],3,4,5,6]", &["17", "[1 1 1]", "3", "4"]),
                ("[\"17\",[\"1\"]]", &["17", "[1]"]),
            ];
            for (frame, want) in cases {
                let got = read(&mut sc, frame).unwrap_or_else(|| panic!("{name}: {frame}"));
                assert_eq!(got, want, "{name}: {frame}");
                assert!(sc.recognises(frame.as_bytes()));
            }
        }
    }

    #[test]
    fn anything_not_recognised_exactly_is_refused() {
        for mut sc in scanners::<BitfinexFrames>() {
            for frame in [
                "",
                "[]",
                "[17,[]]",
                r#"{"event":"info","version":2}"#,
                "[17,[[6443,5,5.26],[6442.9,2,1.17]],1]",
                "[17,[0.98,47.9,0.999,439.4,0,0,0.999,0.1,0.999,0.999],1]",
                "[17,[1,1,1,1,1]]",
                "[17,[1,1,1],3,4,5,6,7]",
                "[17,true]",
                "[17,null]",
                "[17,[1,false,1]]",
                "[17,{}]",
                "[17,[01,1,1]]",
                "[17,[1.,1,1]]",
                "[17,[.5,1,1]]",
                "[17,[1.2.3,1,1]]",
                "[17,[1e,1,1]]",
                "[17,[1e+,1,1]]",
                "[17,[-,1,1]]",
                "[17,[+1,1,1]]",
                "[17,[1-2,1,1]]",
                "[17,[1x,1,1]]",
                "[17,[1,1,1],]",
                "[17,[1,1,1]] x",
                "[17,[1,1,1]]]",
                "[17,[1,1,1]",
                "[17 [1,1,1]]",
                r#"[17,"h\"b"]"#,
                r#"[17,"\u0068b"]"#,
                "[17,\"h\u{e9}\"]",
                "[17,\"h\tb\"]",
                r#"[17,"hb""#,
                "[17,\"hb\"x]",
            ] {
                assert!(read(&mut sc, frame).is_none(), "{}: {frame}", sc.kernel().kind().name());
            }
        }
    }

    #[test]
    fn item_reads_as_the_quoted_tape_does() {
        let row = Item::Row { items: [&b"6443.1"[..], b"5", b"-0.1", b""], len: 3 };
        assert_eq!(row.items(), Some(3));
        assert_eq!(row.item(2).and_then(BitfinexValue::text), Some(&b"-0.1"[..]));
        assert!(row.item(3).is_none() && row.text().is_none() && row.uint().is_none());
        assert_eq!(Item::Text(b"18446744073709551615").uint(), Some(u64::MAX));
        assert_eq!(Item::Text(b"-2147483648").int(), Some(-2_147_483_648));
        assert_eq!(Item::Text(b"-0").int(), Some(0));
        assert_eq!(Item::Text(b"-0").uint(), None);
        assert_eq!(Item::Text(b"1.5").uint(), None);
        assert!(Item::Text(b"1").item(0).is_none() && Item::Text(b"1").items().is_none());
        let mut n = 0;
        row.each(|_| {
            n += 1;
            Ok(())
        })
        .unwrap();
        assert_eq!(n, 3);
    }
}

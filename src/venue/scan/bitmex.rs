//! The BitMEX scanner: `orderBookL2` (and `orderBookL2_25`) and `trade` table messages, whose
//! rows are flat objects with prices and sizes as JSON numbers:
//!
//! - `{"table":"orderBookL2","action":"update","data":[{"symbol":"XBTUSD","id":8796323950,"side":"Sell","size":45200}]}`
//! - `{"table":"orderBookL2","action":"partial","keys":["symbol","id","side"],"types":{…},"foreignKeys":{…},"attributes":{…},"filter":{"symbol":"XBTUSD"},"data":[{"symbol":"XBTUSD","id":8796323950,"side":"Sell","size":45200,"price":36760.5},…]}`
//! - `{"table":"trade","action":"insert","data":[{"timestamp":"2021-07-22T22:36:08.296Z","symbol":"XBTUSD","side":"Buy","size":100,"price":32303.5,"tickDirection":"ZeroPlusTick","trdMatchID":"…","grossValue":309565,"homeNotional":0.00309565,"foreignNotional":100}]}`
//!
//! A `partial` of a busy book runs to hundreds of kilobytes, and every number in it would
//! otherwise be quoted while the frame is copied (the simd-json path reads numbers as their
//! exact text) and then put on a tape. The scanner reads the frame once, in place:
//!
//! - the top-level object's `table` and `action` (strings), `data` (an array of row objects)
//!   and `filter` (an object; its `symbol`, a string); any other member (`keys`, `types`,
//!   `foreignKeys`, `attributes`) is read whole, nested to [`super::flat::MAX_DEPTH`], and not kept;
//! - in each row, the text of `symbol`, `id`, `side`, `size`, `price`, `timestamp` and
//!   `trdMatchID` (a string's bytes, or a number's exact text in JSON's grammar, which is what
//!   the quoted tape holds for it; `null`, `true` and `false` are no text, as on the tape); any
//!   other member is read whole and not kept.
//!
//! It refuses (the adapter then reads the frame with simd-json, counted) a frame that is not
//! an object, a `table` other than those above (so `quote`, `instrument` and `liquidation`
//! messages, the welcome and the answers go to simd-json), a key it keeps seen twice in the
//! frame or in a row, a kept value of another type (a `table` that is not a string, a row
//! `price` that is an array), a row that is not an object, and anything outside the scanners'
//! JSON subset (see [`super`]). Rows are kept as offsets in the shared level buffer, four
//! cells a row; a partial with more rows than the buffer holds makes the adapter's scanner grow
//! it and read the frame again ([`super::MAX_SPANS`]).

use std::cell::Cell;

use super::flat::skip;
use super::kraken::{span_text, ABSENT};
use super::{object, Cursor, LevelSpan, ScannerState, Spans};
use crate::venue::bitmex::Row;

/// Cells of the level buffer a row takes: two offsets each, [`Row::KEYS`] in order, the last
/// offset unused.
const CELLS: usize = 4;

/// The rows of a table message the scanner read: offsets into the frame.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rows<'a> {
    frame: &'a [u8],
    cells: &'a [Cell<LevelSpan>],
}

impl<'a> Rows<'a> {
    /// The rows, in order.
    #[inline]
    pub(crate) fn iter(self) -> impl Iterator<Item = Row<'a>> + Clone {
        self.cells.chunks_exact(CELLS).map(move |c| {
            let [a, b, d, e] = [0, 1, 2, 3].map(|i| c.get(i).map(Cell::get).unwrap_or_default());
            let spans = [a.px, a.qty, b.px, b.qty, d.px, d.qty, e.px];
            Row::from_texts(spans.map(|s| span_text(self.frame, s)))
        })
    }

    /// Number of rows.
    #[cfg(test)]
    pub(crate) fn len(self) -> usize {
        self.cells.len() / CELLS
    }
}

/// What the scanner read of a BitMEX frame: the members the adapter reads.
#[derive(Debug, Default)]
pub(crate) struct BitmexFound<'a> {
    /// `table`.
    pub(crate) table: Option<&'a [u8]>,
    /// `action`.
    pub(crate) action: Option<&'a [u8]>,
    /// The `symbol` of `filter`.
    pub(crate) filter: Option<&'a [u8]>,
    /// `data`'s rows.
    pub(crate) rows: Option<Rows<'a>>,
}

/// The BitMEX frame reading of a [`ScannerState`] (a marker: the type has no values).
#[derive(Debug)]
pub enum BitmexFrames {}

impl super::Frames for BitmexFrames {
    type Found<'a> = BitmexFound<'a>;

    #[inline]
    fn walk<'a>(
        state: &'a mut ScannerState<Self>,
        frame: &'a [u8],
        found: &mut Self::Found<'a>,
    ) -> Option<()> {
        state.scan_into(frame, found)
    }
}

/// The BitMEX scanner: its kernel and the row offsets of the last frame.
pub type BitmexScanner = ScannerState<BitmexFrames>;

impl ScannerState<BitmexFrames> {
    /// Whether the scanner reads `frame` (an `orderBookL2`, `orderBookL2_25` or `trade`
    /// message; the scan floor of the benchmarks: the walk without a handler). A frame with
    /// more rows than the buffer holds is read again with room for them, as the adapter does
    /// (a busy book's `partial` has thousands of rows).
    pub fn recognises(&mut self, frame: &[u8]) -> bool {
        super::reads_growing(self, frame, |f| f.table.is_some())
    }

    /// Fills `f`, which must be empty, with the frame's members the adapter reads; `None` if
    /// the frame is not one the scanner recognises exactly.
    #[inline]
    pub(crate) fn scan_into<'a>(
        &'a mut self,
        frame: &'a [u8],
        f: &mut BitmexFound<'a>,
    ) -> Option<()> {
        let (mut c, mut spans) = self.start(frame)?;
        if c.peek() != Some(b'{') {
            return None;
        }
        let mut filtered = false;
        object(&mut c, |c, k| match k {
            b"table" => {
                let t = c.string()?;
                if f.table.is_some() || !matches!(t, b"orderBookL2" | b"orderBookL2_25" | b"trade")
                {
                    return None;
                }
                f.table = Some(t);
                Some(())
            }
            b"action" => {
                let a = c.string()?;
                f.action.replace(a).is_none().then_some(())
            }
            b"data" => {
                let start = spans.len;
                rows(c, &mut spans)?;
                let r = Rows { frame: c.buf, cells: spans.since(start) };
                f.rows.replace(r).is_none().then_some(())
            }
            b"filter" => {
                if std::mem::replace(&mut filtered, true) {
                    return None;
                }
                object(c, |c, k| match k {
                    b"symbol" => f.filter.replace(c.string()?).is_none().then_some(()),
                    _ => skip(c, 2),
                })
            }
            _ => skip(c, 1),
        })?;
        (c.at_end() && f.table.is_some()).then_some(())
    }
}

/// `[]` or `[{row},…]`: each row's kept texts appended to `spans`, [`CELLS`] cells a row.
#[inline]
fn rows(c: &mut Cursor<'_>, spans: &mut Spans<'_>) -> Option<()> {
    c.expect(b'[')?;
    c.ws();
    if c.eat(b']') {
        return Some(());
    }
    loop {
        let mut texts = [ABSENT; 2 * CELLS];
        row(c, &mut texts)?;
        for pair in texts.chunks_exact(2) {
            spans.push(LevelSpan { px: pair[0], qty: pair[1] })?;
        }
        c.ws();
        match c.next()? {
            b',' => c.ws(),
            b']' => return Some(()),
            _ => return None,
        }
    }
}

/// One row object at `c`: the offsets of its kept members' texts in `texts`, at their
/// [`slot`]s; every other member read whole and not kept.
///
/// Rows mostly list their keys in [`Row::KEYS`]' order, so a member is first tried as the key
/// after the last one kept, in its common form `"key":` ([`key_at`]: one masked compare). Any
/// other member is read from its start, a token at a time.
#[inline(always)]
fn row(c: &mut Cursor<'_>, texts: &mut [(u32, u32); 2 * CELLS]) -> Option<()> {
    c.expect(b'{')?;
    c.ws();
    if c.eat(b'}') {
        return Some(());
    }
    let (mut seen, mut next) = (0u8, 0usize);
    loop {
        let slot = match key_at(c, next) {
            Some(s) => Some(s),
            None => {
                let key = c.string()?;
                c.ws();
                c.expect(b':')?;
                slot(key)
            }
        };
        c.ws();
        match slot {
            Some(s) => {
                if seen & (1 << s) != 0 {
                    return None;
                }
                seen |= 1 << s;
                texts[s] = scalar(c)?;
                next = s + 1;
            }
            None => skip(c, 3)?,
        }
        c.ws();
        match c.next()? {
            b',' => c.ws(),
            b'}' => return Some(()),
            _ => return None,
        }
    }
}

/// Each row key in its common form, `"key":`, as the first bytes of a little-endian `u128`:
/// the bytes, their mask, their count.
const KEY_FORMS: [(u128, u128, usize); 7] = {
    let mut forms = [(0, 0, 0); 7];
    let mut k = 0;
    while k < Row::KEYS.len() {
        let key = Row::KEYS[k].as_bytes();
        let n = key.len() + 3;
        let mut word =
            b'"' as u128 | (b'"' as u128) << (8 * (n - 2)) | (b':' as u128) << (8 * (n - 1));
        let mut i = 0;
        while i < key.len() {
            word |= (key[i] as u128) << (8 * (i + 1));
            i += 1;
        }
        forms[k] = (word, u128::MAX >> (8 * (16 - n)), n);
        k += 1;
    }
    forms
};

/// Whether key `slot` of [`Row::KEYS`] in its common form (`"key":`) is next at `c`: if so,
/// the cursor moves past it. `None` (the cursor unmoved) for anything else, or fewer than 16
/// bytes left.
#[inline(always)]
fn key_at(c: &mut Cursor<'_>, slot: usize) -> Option<usize> {
    let &(word, mask, n) = KEY_FORMS.get(slot)?;
    let bytes = c.buf.get(c.pos..c.pos.checked_add(16)?)?;
    let at = u128::from_le_bytes(bytes.try_into().ok()?);
    if at & mask != word {
        return None;
    }
    c.pos += n;
    Some(slot)
}

/// The place of a row key among [`Row::KEYS`] (matched on its length and bytes, not searched
/// for).
#[inline(always)]
fn slot(key: &[u8]) -> Option<usize> {
    Some(match key {
        b"symbol" => 0,
        b"id" => 1,
        b"side" => 2,
        b"size" => 3,
        b"price" => 4,
        b"timestamp" => 5,
        b"trdMatchID" => 6,
        _ => return None,
    })
}

/// A row's scalar at `c`: a string's offsets, a number's, or [`ABSENT`] for `true`, `false`
/// and `null`; `None` for anything else.
#[inline(always)]
fn scalar(c: &mut Cursor<'_>) -> Option<(u32, u32)> {
    match c.peek()? {
        b'"' => c.string_span(),
        b'-' | b'0'..=b'9' => {
            let start = u32::try_from(c.pos).ok()?;
            c.number()?;
            Some((start, u32::try_from(c.pos).ok()?))
        }
        b't' => c.literal(b"true").map(|()| ABSENT),
        b'f' => c.literal(b"false").map(|()| ABSENT),
        b'n' => c.literal(b"null").map(|()| ABSENT),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::venue::scan::testing::scanners;
    use crate::venue::scan::Kernel;

    fn texts(rows: Option<Rows<'_>>) -> Vec<[Option<String>; 7]> {
        let text = |t: Option<&[u8]>| t.map(|t| String::from_utf8(t.to_vec()).unwrap());
        rows.unwrap()
            .iter()
            .map(|r| {
                [r.symbol, r.id, r.side, r.size, r.price, r.timestamp, r.trd_match_id].map(text)
            })
            .collect()
    }

    fn s(t: &str) -> Option<String> {
        Some(t.to_owned())
    }

    #[test]
    fn a_key_has_its_place_among_the_row_keys() {
        for (i, k) in Row::KEYS.iter().enumerate() {
            assert_eq!(slot(k.as_bytes()), Some(i), "{k}");
            // Its common form, and near misses of it, with 16 bytes to read.
            let form = format!("\"{k}\":1234567890123456");
            let mut c = Cursor::new(form.as_bytes(), Kernel::detect());
            assert_eq!(key_at(&mut c, i), Some(i), "{k}");
            assert_eq!(&form.as_bytes()[c.pos..c.pos + 4], b"1234");
            let pad = "1234567890123456";
            for other in [
                format!("\"{k}x\":{pad}"),
                format!("\"{k}\" :{pad}"),
                format!("\"{k}\\\":{pad}"),
                format!("x\"{k}\":{pad}"),
                format!("\"{}\":{pad}", &k[1..]),
                format!("\"{k}\":1"),
            ] {
                let mut c = Cursor::new(other.as_bytes(), Kernel::detect());
                assert_eq!(key_at(&mut c, i), None, "{other}");
                assert_eq!(c.pos, 0);
            }
            let mut c = Cursor::new(form.as_bytes(), Kernel::detect());
            assert_eq!(key_at(&mut c, (i + 1) % Row::KEYS.len()), None, "{k}");
        }
        let mut c = Cursor::new(b"\"symbol\":\"XBTUSD\"}", Kernel::detect());
        assert_eq!(key_at(&mut c, 7), None);
        for k in ["", "Symbol", "symbol ", "ids", "trdMatchId", "tickDirection"] {
            assert_eq!(slot(k.as_bytes()), None, "{k}");
        }
    }

    #[test]
    fn every_kernel_reads_a_partial_an_update_and_trades() {
        let partial = br#"{"table":"orderBookL2","action":"partial","keys":["symbol","id","side"],"types":{"symbol":"symbol","id":"long","side":"symbol","size":"long","price":"float"},"foreignKeys":{"symbol":"instrument","side":"side"},"attributes":{"symbol":"parted","id":"sorted"},"filter":{"symbol":"XBTUSD"},"data":[{"symbol":"XBTUSD","id":8700000100,"side":"Sell","size":1000,"price":999999},{"symbol":"XBTUSD","id":8796323950,"side":"Buy","size":45200,"price":36760.5,"timestamp":null}]}"#;
        let update = br#" {"data":[{"symbol":"XBTUSD","id":8796323950,"side":"Buy","size":-0.5e+3}] , "action" : "update","table":"orderBookL2_25"}
"#;
        let trade = br#"{"table":"trade","action":"insert","data":[{"timestamp":"2021-07-22T22:36:08.296Z","symbol":"XBTUSD","side":"Buy","size":100,"price":32303.5,"tickDirection":"ZeroPlusTick","trdMatchID":"2d4a0c86-a0ac-c1e4-2bbd-d2e6b9c6c9b3","grossValue":309565,"homeNotional":0.00309565,"foreignNotional":100,"x":[{"y":[true,false]}]}]}"#;
        for mut sc in scanners::<BitmexFrames>() {
            let name = sc.kernel().kind().name();
            let mut f = BitmexFound::default();
            sc.scan_into(partial, &mut f).unwrap_or_else(|| panic!("{name}"));
            assert_eq!((f.table, f.action), (Some(&b"orderBookL2"[..]), Some(&b"partial"[..])));
            assert_eq!(f.filter, Some(&b"XBTUSD"[..]));
            assert_eq!(f.rows.map(Rows::len), Some(2));
            assert_eq!(
                texts(f.rows),
                [
                    [s("XBTUSD"), s("8700000100"), s("Sell"), s("1000"), s("999999"), None, None],
                    [s("XBTUSD"), s("8796323950"), s("Buy"), s("45200"), s("36760.5"), None, None]
                ],
                "{name}"
            );
            let mut f = BitmexFound::default();
            sc.scan_into(update, &mut f).unwrap_or_else(|| panic!("{name}"));
            assert_eq!(f.action, Some(&b"update"[..]));
            assert_eq!(f.filter, None);
            assert_eq!(
                texts(f.rows),
                [[s("XBTUSD"), s("8796323950"), s("Buy"), s("-0.5e+3"), None, None, None]]
            );
            let mut f = BitmexFound::default();
            sc.scan_into(trade, &mut f).unwrap_or_else(|| panic!("{name}"));
            assert_eq!(
                texts(f.rows),
                [[
                    s("XBTUSD"),
                    None,
                    s("Buy"),
                    s("100"),
                    s("32303.5"),
                    s("2021-07-22T22:36:08.296Z"),
                    s("2d4a0c86-a0ac-c1e4-2bbd-d2e6b9c6c9b3")
                ]]
            );
            assert!(sc.recognises(trade));
        }
    }

    #[test]
    fn a_partial_deeper_than_the_buffer_is_read_once_it_has_grown() {
        let mut sc = BitmexScanner::new();
        let rows = sc.span_capacity() / CELLS + 1;
        let data: Vec<String> = (0..rows)
            .map(|i| {
                format!(
                    r#"{{"symbol":"XBTUSD","id":{},"side":"Buy","size":1,"price":{i}}}"#,
                    8_700_000_000u64 + i as u64
                )
            })
            .collect();
        let frame =
            format!(r#"{{"table":"orderBookL2","action":"partial","data":[{}]}}"#, data.join(","));
        let before = sc.span_capacity();
        assert!(sc.recognises(frame.as_bytes()));
        assert!(sc.span_capacity() > before);
        let mut f = BitmexFound::default();
        sc.scan_into(frame.as_bytes(), &mut f).unwrap();
        assert_eq!(f.rows.map(Rows::len), Some(rows));
    }

    #[test]
    fn anything_not_recognised_exactly_is_refused() {
        let refused: [&[u8]; 18] = [
            b"",
            b"pong",
            b"[]",
            b"{}",
            br#"{"table":"quote","action":"insert","data":[]}"#,
            br#"{"info":"Welcome to the BitMEX Realtime API."}"#,
            br#"{"table":"trade","table":"trade","action":"insert","data":[]}"#,
            br#"{"table":"trade","action":"insert","action":"insert","data":[]}"#,
            br#"{"table":"trade","action":"insert","data":[],"data":[]}"#,
            br#"{"table":"orderBookL2","action":"partial","filter":{},"filter":{},"data":[]}"#,
            br#"{"table":"orderBookL2","action":"partial","filter":{"symbol":1},"data":[]}"#,
            br#"{"table":"orderBookL2","action":"update","data":[{"id":1,"id":2}]}"#,
            br#"{"table":"orderBookL2","action":"update","data":[{"id":null,"id":2}]}"#,
            br#"{"table":"orderBookL2","action":"update","data":[{"price":[1]}]}"#,
            br#"{"table":"orderBookL2","action":"update","data":[{"size":01}]}"#,
            br#"{"table":"orderBookL2","action":"update","data":[["XBTUSD"]]}"#,
            br#"{"table":"orderBookL2","action":"update","data":[{"side":"B\u0075y"}]}"#,
            br#"{"table":"orderBookL2","action":"update","data":[]} x"#,
        ];
        for mut sc in scanners::<BitmexFrames>() {
            for f in refused {
                let name = sc.kernel().kind().name();
                assert!(!sc.recognises(f), "{name}: {}", String::from_utf8_lossy(f));
            }
            let deep = format!(
                r#"{{"table":"trade","action":"insert","x":{}1{},"data":[]}}"#,
                "[".repeat(16),
                "]".repeat(16)
            );
            assert!(!sc.recognises(deep.as_bytes()));
            assert!(sc.recognises(deep.replacen('[', "", 1).replacen(']', "", 1).as_bytes()));
        }
    }
}

//! A scanner for flat JSON objects whose values are strings or numbers: Kraken Futures' one-level
//! `book` messages (`{"feed":"book","product_id":"PI_ETHUSD","side":"buy","seq":1,
//! "price":2003.05,"qty":600.0,"timestamp":1626994927751}`).
//!
//! Those venues print prices as JSON numbers, so their simd-json path first copies the frame
//! quoting every number ([`super::super::json::Scratch::parse`]) and then builds a tape: for a
//! 150-byte message that is most of its handling. This scanner reads the same object in one
//! walk and hands back each value's exact text, the text the quoted tape holds for it.
//!
//! It accepts a strict subset of JSON and answers `None` (the frame then goes to simd-json)
//! on anything else: the top level must be one object; keys and string values of bytes 0x20 to
//! 0x7F without escapes (their bytes are then exactly the string simd-json makes; found with
//! the scanners' SIMD [`Kernel`]); numbers in JSON's own grammar
//! (`-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`, which the quoting pass copies
//! unchanged); JSON whitespace between tokens; no nested value, `true`, `false` or `null`;
//! no duplicate key; at most [`MAX_FIELDS`] fields.

use super::{object, Cursor, Kernel};
use crate::venue::json::same_key;

/// The most fields an object may have (a Kraken Futures `book` message has 7).
pub const MAX_FIELDS: usize = 12;

/// The fields of a flat object, in order: key and value offsets into the frame (quotes
/// excluded). Filled in place by [`scan_into`] (a message is read without copying its table).
#[derive(Debug, Clone, Copy)]
pub struct Flat<'i> {
    frame: &'i [u8],
    len: usize,
    keys: [(u32, u32); MAX_FIELDS],
    values: [(u32, u32); MAX_FIELDS],
}

impl<'i> Flat<'i> {
    /// An empty table for a frame's fields ([`scan_into`] fills it).
    pub fn new(frame: &'i [u8]) -> Self {
        Flat { frame, len: 0, keys: [(0, 0); MAX_FIELDS], values: [(0, 0); MAX_FIELDS] }
    }

    #[inline(always)]
    fn text(&self, (s, e): (u32, u32)) -> &'i [u8] {
        self.frame.get(s as usize..e as usize).unwrap_or_default()
    }

    /// The text of field `key` (a string's bytes, a number's text), if present.
    #[inline]
    pub fn get(&self, key: &[u8]) -> Option<&'i [u8]> {
        let keys = self.keys.get(..self.len)?;
        let i = keys.iter().position(|&k| same_key(self.text(k), key))?;
        Some(self.text(*self.values.get(i)?))
    }

    /// Field `i`'s key and value text, in the frame's order.
    pub fn field(&self, i: usize) -> Option<(&'i [u8], &'i [u8])> {
        (i < self.len).then(|| (self.text(self.keys[i]), self.text(self.values[i])))
    }

    /// Number of fields.
    pub fn len(&self) -> usize {
        self.len
    }

    /// `true` for `{}`.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// Reads `frame` as a flat object (see the [module docs](self)) with the fastest kernel this
/// CPU has; `None` when it is not one this scanner accepts.
pub fn scan(frame: &[u8]) -> Option<Flat<'_>> {
    let mut flat = Flat::new(frame);
    scan_into(&mut flat, Kernel::detect())?;
    Some(flat)
}

/// [`scan`] of the frame `flat` was made for ([`Flat::new`]), into `flat` (emptied first),
/// with `kernel`; `None` when the frame is not one this scanner accepts (`flat` then holds
/// what was read before).
#[inline]
pub fn scan_into(flat: &mut Flat<'_>, kernel: Kernel) -> Option<()> {
    let frame = flat.frame;
    flat.len = 0;
    let mut c = Cursor::open(frame, kernel)?;
    c.expect(b'{')?;
    c.ws();
    if !c.eat(b'}') {
        loop {
            let key = c.string_span()?;
            let n = flat.len;
            let seen = flat.keys.get(..n)?.iter().any(|&k| same_key(flat.text(k), flat.text(key)));
            if n == MAX_FIELDS || seen {
                return None;
            }
            c.ws();
            c.expect(b':')?;
            c.ws();
            // Value: a string or a number.
            let value = match c.peek()? {
                b'"' => c.string_span()?,
                b'-' | b'0'..=b'9' => {
                    let start = c.pos;
                    c.number()?;
                    (u32::try_from(start).ok()?, u32::try_from(c.pos).ok()?)
                }
                _ => return None,
            };
            flat.keys[n] = key;
            flat.values[n] = value;
            flat.len = n + 1;
            // A number runs up to whitespace, `,` or `}`: anything else glued to it (`1.2.3`,
            // `01`, `1x`) is refused here.
            c.ws();
            match c.next()? {
                b',' => c.ws(),
                b'}' => break,
                _ => return None,
            }
        }
    }
    c.at_end().then_some(())
}

/// The deepest nesting [`ignored_feed`] reads (a Kraken Futures `trade_snapshot` has 3
/// levels); a deeper frame is left to simd-json.
pub const MAX_DEPTH: usize = 16;

/// Reads `frame` whole, as an object whose values may nest (objects, arrays, strings and
/// numbers as [`scan`] reads them, `true`, `false`, `null`, at most [`MAX_DEPTH`] deep), and
/// answers its top-level `feed` when `ignored` says the adapter ignores that feed: for the
/// messages a venue's handler drops unread (Kraken Futures' `trade_snapshot`, thousands of
/// bytes of trade history), a check that the frame is valid JSON, instead of quoting its
/// numbers and building a tape to throw away. `None` (the frame then goes to simd-json) for
/// anything else: no `feed`, or more than one, a `feed` that is not a string or that
/// `ignored` refuses (the walk stops there), any `event` member, and anything outside the
/// subset. A frame it reads is valid JSON, and so is the copy the simd-json path parses (its
/// numbers, each followed by a delimiter, are quoted whole into strings).
pub fn ignored_feed(
    frame: &[u8],
    kernel: Kernel,
    ignored: impl Fn(&[u8]) -> bool,
) -> Option<&[u8]> {
    let mut c = Cursor::open(frame, kernel)?;
    let mut feed = None;
    object(&mut c, |c, key| {
        match key {
            b"event" => return None,
            b"feed" => {
                let text = c.string()?;
                if feed.is_some() || !ignored(text) {
                    return None;
                }
                feed = Some(text);
            }
            _ => skip(c, 1)?,
        }
        Some(())
    })?;
    if !c.at_end() {
        return None;
    }
    feed
}

/// Reads the value at `c`, `depth` levels deep, and keeps nothing of it.
pub(super) fn skip(c: &mut Cursor<'_>, depth: usize) -> Option<()> {
    skip_with::<true>(c, depth)
}

/// [`skip`] for a venue whose simd-json path reads numbers as numbers, not as quoted text
/// (Hyperliquid): a number must be an unsigned integer of [`Cursor::uint`]'s form, which
/// simd-json reads too; any other (a fraction, an exponent, a sign, 20 digits) is refused,
/// since simd-json refuses some numbers JSON's grammar allows (`1e400`).
pub(super) fn skip_plain(c: &mut Cursor<'_>, depth: usize) -> Option<()> {
    skip_with::<false>(c, depth)
}

/// [`skip`] with any number of JSON's grammar (`ANY_NUMBER`) or [`skip_plain`]'s.
fn skip_with<const ANY_NUMBER: bool>(c: &mut Cursor<'_>, depth: usize) -> Option<()> {
    match c.peek()? {
        b'"' => c.string_span().map(drop),
        b'-' | b'0'..=b'9' if ANY_NUMBER => c.number().map(drop),
        b'0'..=b'9' => c.uint().map(drop),
        b't' => c.literal(b"true"),
        b'f' => c.literal(b"false"),
        b'n' => c.literal(b"null"),
        b'{' if depth < MAX_DEPTH => object(c, |c, _| skip_with::<ANY_NUMBER>(c, depth + 1)),
        b'[' if depth < MAX_DEPTH => {
            c.expect(b'[')?;
            c.ws();
            if c.eat(b']') {
                return Some(());
            }
            loop {
                skip_with::<ANY_NUMBER>(c, depth + 1)?;
                c.ws();
                match c.next()? {
                    b',' => c.ws(),
                    b']' => return Some(()),
                    _ => return None,
                }
            }
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(frame: &str) -> Option<Vec<(String, String)>> {
        let f = scan(frame.as_bytes())?;
        Some(
            (0..f.len())
                .map(|i| {
                    let (k, v) = f.field(i).unwrap();
                    (String::from_utf8(k.to_vec()).unwrap(), String::from_utf8(v.to_vec()).unwrap())
                })
                .collect(),
        )
    }

    #[test]
    fn reads_a_kraken_futures_book_message() {
        let f = r#"{"feed":"book","product_id":"PI_ETHUSD","side":"buy","seq":17,"price":2003.05,"qty":600.0,"timestamp":1626994927751}"#;
        let got = scan(f.as_bytes()).unwrap();
        assert_eq!(got.get(b"feed"), Some(&b"book"[..]));
        assert_eq!(got.get(b"price"), Some(&b"2003.05"[..]));
        assert_eq!(got.get(b"qty"), Some(&b"600.0"[..]));
        assert_eq!(got.get(b"seq"), Some(&b"17"[..]));
        assert_eq!(got.get(b"event"), None);
        assert_eq!(got.len(), 7);
        assert_eq!(
            fields(" \n{ \"a\" : -1.5e-3 ,\"b\":\"x y\"\t}\r\n"),
            Some(vec![("a".into(), "-1.5e-3".into()), ("b".into(), "x y".into())])
        );
        assert_eq!(fields("{}"), Some(vec![]));
        assert_eq!(fields(r#"{"a":0}"#), Some(vec![("a".into(), "0".into())]));
        // DEL is a plain string byte for JSON and simd-json alike.
        assert_eq!(fields("{\"a\":\"x\u{7f}y\"}"), Some(vec![("a".into(), "x\u{7f}y".into())]));
    }

    #[test]
    fn refuses_what_it_does_not_read_exactly() {
        for bad in [
            r#"{"a":1,"a":2}"#,
            r#"{"a":"\"x"}"#,
            r#"{"a":"é"}"#,
            r#"{"a":true}"#,
            r#"{"a":null}"#,
            r#"{"a":{"b":1}}"#,
            r#"{"a":[1]}"#,
            r#"{"a":01}"#,
            r#"{"a":1.}"#,
            r#"{"a":.5}"#,
            r#"{"a":1.2.3}"#,
            r#"{"a":1e}"#,
            r#"{"a":-}"#,
            r#"{"a":+1}"#,
            r#"{"a":1x}"#,
            r#"{"a":1,}"#,
            r#"{"a":1} x"#,
            r#"{"a":1}}"#,
            r#"{"a" 1}"#,
            r#"{a:1}"#,
            r#"[1]"#,
            r#"{"a":1"#,
            r#"{"a":"x"#,
            "",
            "{\"a\":\"\t\"}",
        ] {
            assert!(scan(bad.as_bytes()).is_none(), "{bad}");
        }
        let many: Vec<String> = (0..=MAX_FIELDS).map(|i| format!("\"k{i}\":{i}")).collect();
        assert!(scan(format!("{{{}}}", many.join(",")).as_bytes()).is_none());
    }

    #[test]
    fn reads_ignored_feeds_whole_and_refuses_the_rest() {
        let ignored = |f: &[u8]| f == b"trade_snapshot";
        let feed = |frame: &str| {
            let mut got = Vec::new();
            for kind in crate::venue::scan::KernelKind::ALL {
                if let Some(k) = Kernel::forced(kind) {
                    got.push(ignored_feed(frame.as_bytes(), k, ignored).map(<[u8]>::to_vec));
                }
            }
            assert!(got.windows(2).all(|w| w[0] == w[1]), "kernels disagree on {frame}");
            got.pop().flatten()
        };
        let history = r#"{"feed":"trade_snapshot","product_id":"PI_XBTUSD","trades":[{"feed":"trade","uid":"a-1","side":"sell","seq":1,"time":1626994922880,"qty":-1.5e3,"price":31867.0,"flag":true,"x":null,"y":[]}, {}]}"#;
        assert_eq!(feed(history), Some(b"trade_snapshot".to_vec()));
        assert_eq!(
            feed(" {\"trades\" : [ [ ] , { } ] ,\n\"feed\":\"trade_snapshot\" } "),
            Some(b"trade_snapshot".to_vec())
        );
        let deep = |n: usize| {
            format!("{{\"feed\":\"trade_snapshot\",\"t\":{}1{}}}", "[".repeat(n), "]".repeat(n))
        };
        assert!(feed(&deep(MAX_DEPTH - 1)).is_some());
        for bad in [
            r#"{"feed":"book_snapshot","bids":[]}"#.to_owned(),
            r#"{"feed":"trade_snapshot","event":"alert"}"#.into(),
            r#"{"feed":"trade_snapshot","feed":"trade_snapshot"}"#.into(),
            r#"{"feed":7,"trades":[]}"#.into(),
            r#"{"trades":[]}"#.into(),
            r#"{"feed":"trade_snapshot","t":[01]}"#.into(),
            r#"{"feed":"trade_snapshot","t":[1.]}"#.into(),
            r#"{"feed":"trade_snapshot","t":[1.2.3]}"#.into(),
            r#"{"feed":"trade_snapshot","t":[1,]}"#.into(),
            r#"{"feed":"trade_snapshot","t":{"a":1,}}"#.into(),
            r#"{"feed":"trade_snapshot","t":{"a"}}"#.into(),
            r#"{"feed":"trade_snapshot","t":["\u0041"]}"#.into(),
            r#"{"feed":"trade_snapshot","t":[nul]}"#.into(),
            r#"{"feed":"trade_snapshot","t":[1]"#.into(),
            r#"{"feed":"trade_snapshot"} x"#.into(),
            r#"["feed","trade_snapshot"]"#.into(),
            deep(MAX_DEPTH),
        ] {
            assert_eq!(feed(&bad), None, "{bad}");
        }
    }
}

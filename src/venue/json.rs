//! simd-json over a reused, padded buffer: zero-copy, no allocation per message in steady state.
//!
//! [`Scratch`] owns the parse buffer, simd-json's [`Buffers`] and the [`Tape`]; all three keep
//! their capacity between messages, so after the largest message has been seen once, parsing
//! allocates nothing. Each frame is copied once into the padded buffer (simd-json parses in
//! place and the frame belongs to the caller).
//!
//! **Numbers as text.** simd-json turns JSON numbers into `f64`, which loses the exact text
//! (`0.00100000`) that ticks, lots and checksums need. For venues that print prices as JSON
//! numbers (Kraken v2, Bitfinex, Gemini v1's documented examples), [`Scratch::parse`] can
//! quote every bare number while copying the frame (`[6443.1,5,-0.1]` is parsed as
//! `["6443.1","5","-0.1"]`), so the tape hands back the exact wire text as a string and no
//! `f64` is ever made. The copy is made anyway, so this costs one byte scan of the frame.

use simd_json::prelude::{ValueAsScalar, ValueIntoString};
use simd_json::tape::Value;
use simd_json::{Buffers, Tape};

use super::VenueError;

/// Deepest nesting accepted; every venue message here is shallower than 8.
pub const MAX_DEPTH: usize = 32;

/// The reused parse state. See the [module docs](self).
pub struct Scratch {
    buf: Vec<u8>,
    buffers: Buffers,
    tape: Tape<'static>,
}

impl std::fmt::Debug for Scratch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scratch").field("capacity", &self.buf.capacity()).finish()
    }
}

impl Default for Scratch {
    fn default() -> Self {
        Self::new()
    }
}

impl Scratch {
    /// An empty scratch; it grows to the largest frame seen and stays there.
    pub fn new() -> Self {
        Scratch {
            buf: Vec::new(),
            buffers: Buffers::with_max_depth(4096, MAX_DEPTH),
            tape: Tape(Vec::new()),
        }
    }

    /// Parses `frame` and calls `f` with the document's root value.
    ///
    /// With `quote_numbers`, bare JSON numbers reach `f` as strings holding their exact text.
    pub fn parse<R>(
        &mut self,
        frame: &[u8],
        quote_numbers: bool,
        f: impl FnOnce(Value<'_, '_>) -> Result<R, VenueError>,
    ) -> Result<R, VenueError> {
        self.buf.clear();
        if quote_numbers {
            quote_numbers_into(frame, &mut self.buf);
        } else {
            self.buf.extend_from_slice(frame);
        }
        let len = self.buf.len();
        self.buf.resize(len + simd_json::INPUT_PADDING, b' ');
        let mut tape = std::mem::replace(&mut self.tape, Tape(Vec::new())).reset();
        let parsed = simd_json::fill_tape_padded(&mut self.buf, len, &mut self.buffers, &mut tape);
        let result = match parsed {
            Ok(()) => f(tape.as_value()),
            Err(e) => Err(VenueError::Json { at: e.index() }),
        };
        self.tape = tape.reset();
        result
    }
}

/// Byte classes for [`quote_numbers_into`]: may continue a number, may start one, opens or
/// closes a string.
const NUM: u8 = 1;
const NUM_START: u8 = 2;
const QUOTE: u8 = 4;

/// [`NUM`], [`NUM_START`] and [`QUOTE`] of every byte.
const CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = b'0';
    while b <= b'9' {
        t[b as usize] = NUM | NUM_START;
        b += 1;
    }
    t[b'-' as usize] = NUM | NUM_START;
    t[b'.' as usize] = NUM;
    t[b'e' as usize] = NUM;
    t[b'E' as usize] = NUM;
    t[b'+' as usize] = NUM;
    t[b'"' as usize] = QUOTE;
    t
};

/// Copies `src` into `out`, wrapping every number outside a string in double quotes.
///
/// A number is a run of `0-9 . e E + -` that starts with a digit or `-`. Each byte is
/// classified by a table lookup and written into room sized for the worst case, cut back at
/// the end: no capacity check per byte and no `memcpy` call per number (Bitfinex frames are
/// mostly short numbers). A number's next byte cannot start another, so numbers are at least
/// one byte apart and `src` grows by at most `len + 1` quotes. On 100,000 real Bitfinex
/// frames (25 bytes on average) this takes 39 ns a frame where pushing byte by byte and
/// copying each number with `extend_from_slice` took 53–59 ns.
fn quote_numbers_into(src: &[u8], out: &mut Vec<u8>) {
    let base = out.len();
    out.resize(base + 2 * src.len() + 2, 0);
    let dst = &mut out[base..];
    let (mut i, mut j) = (0, 0);
    let n = src.len();
    while i < n {
        let b = src[i];
        let class = CLASS[usize::from(b)];
        if class & NUM_START != 0 {
            dst[j] = b'"';
            dst[j + 1] = b;
            j += 2;
            i += 1;
            while i < n && CLASS[usize::from(src[i])] & NUM != 0 {
                dst[j] = src[i];
                j += 1;
                i += 1;
            }
            dst[j] = b'"';
            j += 1;
        } else if class & QUOTE != 0 {
            // A string: copied as it is up to its closing quote, escapes honoured.
            dst[j] = b;
            j += 1;
            i += 1;
            while i < n {
                let c = src[i];
                dst[j] = c;
                j += 1;
                i += 1;
                if c == b'\\' {
                    if let Some(&e) = src.get(i) {
                        dst[j] = e;
                        j += 1;
                        i += 1;
                    }
                } else if c == b'"' {
                    break;
                }
            }
        } else {
            dst[j] = b;
            j += 1;
            i += 1;
        }
    }
    out.truncate(base + j);
}

/// The text of a value that is a string, or (for integers) `None`: use [`uint`] for those.
#[inline]
pub fn text<'i>(v: Value<'_, 'i>) -> Option<&'i [u8]> {
    v.into_string().map(str::as_bytes)
}

/// An unsigned integer given either as a JSON integer or as a string of decimal digits
/// (quoted numbers, or venues such as OKX that send ids as strings).
#[inline]
pub fn uint(v: Value<'_, '_>) -> Option<u64> {
    if let Some(u) = v.as_u64() {
        return Some(u);
    }
    parse_u64(v.into_string()?.as_bytes())
}

/// A signed integer given as a JSON integer or a string of decimal digits.
#[inline]
pub fn int(v: Value<'_, '_>) -> Option<i64> {
    if let Some(i) = v.as_i64() {
        return Some(i);
    }
    parse_i64(v.into_string()?.as_bytes())
}

/// The `idx`-th element's text of every level of the array `v[key]` (`[[price, size], …]`;
/// absent = none): what a snapshot's tick and lot are learned from.
pub fn level_texts<'t, 'i: 't>(
    v: Value<'t, 'i>,
    key: &str,
    idx: usize,
) -> impl Iterator<Item = &'i [u8]> + use<'t, 'i> {
    v.get_array(key)
        .into_iter()
        .flat_map(move |a| a.iter().filter_map(move |l| text(l.get_idx(idx)?)))
}

/// Decimal digits with an optional leading `-` to `i64`; `None` on anything else or on
/// overflow.
#[inline]
pub fn parse_i64(s: &[u8]) -> Option<i64> {
    match s.split_first() {
        Some((b'-', rest)) => parse_u64(rest).and_then(|u| 0i64.checked_sub_unsigned(u)),
        _ => parse_u64(s).and_then(|u| i64::try_from(u).ok()),
    }
}

/// Decimal digits to `u64`; `None` on anything else or on overflow.
#[inline]
pub fn parse_u64(s: &[u8]) -> Option<u64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    let mut acc: u64 = 0;
    for &c in s {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        acc = acc.checked_mul(10)?.checked_add(u64::from(d))?;
    }
    Some(acc)
}

/// Field `key` of an object as text.
#[inline]
pub fn field_text<'i>(v: Value<'_, 'i>, key: &str) -> Option<&'i [u8]> {
    v.get(key).and_then(text)
}

/// Fields `keys` of an object in one pass over its members, as [`Value::get`] finds each (the
/// first member of that key, for a key asked twice too; `None` if absent or `v` is not an
/// object). For an object whose
/// several fields a handler reads, one walk instead of one per key.
#[inline]
pub fn fields<'t, 'i, const N: usize>(
    v: Value<'t, 'i>,
    keys: [&str; N],
) -> [Option<Value<'t, 'i>>; N] {
    let mut found = [None; N];
    let Some(obj) = v.as_object() else { return found };
    for (k, val) in obj.iter() {
        let k = k.as_bytes();
        for (slot, key) in found.iter_mut().zip(keys) {
            if slot.is_none() && same_key(k, key.as_bytes()) {
                *slot = Some(val);
            }
        }
    }
    found
}

/// A handler's field table filled from the object `v` on simd-json's tape, in one pass over its
/// members: `slot(table, key)` is the field `key` fills, if a handler reads it; as with
/// [`Value::get`], a key's first member wins. All absent if `v` is not an object. (The venues'
/// scanners fill the same tables through the same `slot`.)
#[inline]
pub(crate) fn read_table<'t, 'i, T: Default>(
    v: Value<'t, 'i>,
    slot: for<'a> fn(&'a mut T, &[u8]) -> Option<&'a mut Option<Value<'t, 'i>>>,
) -> T {
    let mut table = T::default();
    let Some(obj) = v.as_object() else { return table };
    for (k, v) in obj.iter() {
        if let Some(field) = slot(&mut table, k.as_bytes()) {
            if field.is_none() {
                *field = Some(v);
            }
        }
    }
    table
}

/// Whether two object keys are the same text: lengths first, then the bytes inline (keys are
/// short: a `memcmp` call for each candidate cost more than the compare).
#[inline(always)]
pub(crate) fn same_key(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y)
}

/// Field `key` of an object as an unsigned integer (number or digit string).
#[inline]
pub fn field_uint(v: Value<'_, '_>, key: &str) -> Option<u64> {
    v.get(key).and_then(uint)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_keeps_strings_and_quotes_numbers() {
        let mut out = Vec::new();
        quote_numbers_into(br#"[1,{"a":"x\"1,2","b":-0.00100000,"c":1e-8},true,null]"#, &mut out);
        assert_eq!(
            std::str::from_utf8(&out).unwrap(),
            r#"["1",{"a":"x\"1,2","b":"-0.00100000","c":"1e-8"},true,null]"#
        );
        // Numbers at the very end, escapes before a closing quote, an unterminated string.
        for (src, want) in [
            (&b"-12.5"[..], &br#""-12.5""#[..]),
            (br#"[0,"\\",1]"#, br#"["0","\\","1"]"#),
            (br#"["a\"b",2e+3]"#, br#"["a\"b","2e+3"]"#),
            (br#"[1,"open 2"#, br#"["1","open 2"#),
            (b"", b""),
        ] {
            out.clear();
            quote_numbers_into(src, &mut out);
            assert_eq!(out, want, "{}", String::from_utf8_lossy(src));
        }
    }

    /// The quoting rule written plainly: strings copied with their escapes, every run of
    /// number bytes that starts with a digit or `-` wrapped in quotes.
    fn quote_numbers_plain(src: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut i = 0;
        while i < src.len() {
            let b = src[i];
            if b == b'"' {
                let start = i;
                i += 1;
                while i < src.len() {
                    match src[i] {
                        b'\\' => i += 2,
                        b'"' => {
                            i += 1;
                            break;
                        }
                        _ => i += 1,
                    }
                }
                out.extend_from_slice(&src[start..i.min(src.len())]);
            } else if b == b'-' || b.is_ascii_digit() {
                let start = i;
                i += 1;
                while i < src.len()
                    && matches!(src[i], b'0'..=b'9' | b'.' | b'e' | b'E' | b'+' | b'-')
                {
                    i += 1;
                }
                out.push(b'"');
                out.extend_from_slice(&src[start..i]);
                out.push(b'"');
            } else {
                out.push(b);
                i += 1;
            }
        }
        out
    }

    proptest::proptest! {
        /// Any bytes (drawn mostly from JSON's number, string and structure characters) are
        /// quoted as the plain rule says.
        #[test]
        fn quoting_equals_the_plain_rule(
            src in proptest::collection::vec(
                proptest::sample::select(b"0123456789-+.eE\"\\,[]{}:truefalsn x".to_vec()),
                0..80,
            ),
            prefix in proptest::collection::vec(proptest::num::u8::ANY, 0..3),
        ) {
            let mut out = prefix.clone();
            quote_numbers_into(&src, &mut out);
            let mut want = prefix;
            want.extend(quote_numbers_plain(&src));
            proptest::prop_assert_eq!(out, want);
        }
    }

    #[test]
    fn fields_finds_what_get_finds() {
        let mut s = Scratch::new();
        let keys = ["side", "price_level", "new_quantity", "absent", "sidE", "side"];
        for frame in [
            &br#"{"side":"bid","event_time":"t","price_level":"1.5","new_quantity":"2"}"#[..],
            br#"{"new_quantity":"2","price_level":"1.5","side":"bid","side":"offer"}"#,
            br#"{"price_level":"1","price_level":"2","sidE":3,"s":"x","":""}"#,
            br#"{}"#,
            br#"["side","bid"]"#,
            br#""side""#,
        ] {
            let (got, want) = s
                .parse(frame, true, |v| {
                    let text = |x: Option<Value<'_, '_>>| x.map(|x| text(x).map(<[u8]>::to_vec));
                    Ok((fields(v, keys).map(text), keys.map(|k| text(v.get(k)))))
                })
                .unwrap();
            assert_eq!(got, want, "{}", String::from_utf8_lossy(frame));
        }
    }

    #[test]
    fn parse_reuses_and_gives_exact_text() {
        let mut s = Scratch::new();
        let got = s
            .parse(br#"{"price":45285.2,"qty":0.00100000}"#, true, |v| {
                Ok((
                    field_text(v, "price").map(<[u8]>::to_vec),
                    field_text(v, "qty").map(<[u8]>::to_vec),
                ))
            })
            .unwrap();
        assert_eq!(got.0.as_deref(), Some(&b"45285.2"[..]));
        assert_eq!(got.1.as_deref(), Some(&b"0.00100000"[..]));
        let n =
            s.parse(br#"{"n":18446744073709551615}"#, false, |v| Ok(field_uint(v, "n"))).unwrap();
        assert_eq!(n, Some(u64::MAX));
        assert!(matches!(s.parse(b"{\"a\":", false, |_| Ok(())), Err(VenueError::Json { .. })));
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let mut deep = vec![b'['; 10_000];
        deep.extend(vec![b']'; 10_000]);
        let mut s = Scratch::new();
        assert!(s.parse(&deep, false, |_| Ok(())).is_err());
        assert!(s.parse(&deep, true, |_| Ok(())).is_err());
    }

    #[test]
    fn integers_from_text() {
        assert_eq!(parse_u64(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_u64(b"18446744073709551616"), None);
        assert_eq!(parse_u64(b""), None);
        assert_eq!(parse_u64(b"12a"), None);
    }
}

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
//! on anything else: the top level must be one object; keys and string values printable ASCII
//! without escapes (their bytes are then exactly the string simd-json makes); numbers in
//! JSON's own grammar (`-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`, which the quoting
//! pass copies unchanged); JSON whitespace between tokens; no nested value, `true`, `false`
//! or `null`; no duplicate key; at most [`MAX_FIELDS`] fields.

/// The most fields an object may have (a Kraken Futures `book` message has 7).
pub const MAX_FIELDS: usize = 12;

/// The fields of a flat object, in order: key and value text (quotes excluded).
#[derive(Debug, Clone, Copy)]
pub struct Flat<'i> {
    len: usize,
    keys: [&'i [u8]; MAX_FIELDS],
    values: [&'i [u8]; MAX_FIELDS],
}

impl<'i> Flat<'i> {
    /// The text of field `key` (a string's bytes, a number's text), if present.
    #[inline]
    pub fn get(&self, key: &[u8]) -> Option<&'i [u8]> {
        let n = self.len;
        self.keys[..n].iter().position(|k| *k == key).map(|i| self.values[i])
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

#[inline]
fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

/// Reads `frame` as a flat object (see the [module docs](self)); `None` when it is not one
/// this scanner accepts.
pub fn scan(frame: &[u8]) -> Option<Flat<'_>> {
    let n = frame.len();
    let mut i = 0;
    let skip_ws = |mut i: usize| {
        while i < n && is_ws(frame[i]) {
            i += 1;
        }
        i
    };
    i = skip_ws(i);
    if frame.get(i) != Some(&b'{') {
        return None;
    }
    i = skip_ws(i + 1);
    let mut flat = Flat { len: 0, keys: [&[]; MAX_FIELDS], values: [&[]; MAX_FIELDS] };
    if frame.get(i) == Some(&b'}') {
        i += 1;
    } else {
        loop {
            // Key.
            let (key, next) = string(frame, i)?;
            if flat.len == MAX_FIELDS || flat.keys[..flat.len].contains(&key) {
                return None;
            }
            i = skip_ws(next);
            if frame.get(i) != Some(&b':') {
                return None;
            }
            i = skip_ws(i + 1);
            // Value: a string or a number.
            let (value, next) = match frame.get(i)? {
                b'"' => string(frame, i)?,
                b'-' | b'0'..=b'9' => number(frame, i)?,
                _ => return None,
            };
            flat.keys[flat.len] = key;
            flat.values[flat.len] = value;
            flat.len += 1;
            i = skip_ws(next);
            match frame.get(i)? {
                b',' => i = skip_ws(i + 1),
                b'}' => {
                    i += 1;
                    break;
                }
                _ => return None,
            }
        }
    }
    (skip_ws(i) == n).then_some(flat)
}

/// The string opening at `frame[i]` (a `"`): its bytes and the index after its closing quote.
/// Printable ASCII without escapes only.
#[inline]
fn string(frame: &[u8], i: usize) -> Option<(&[u8], usize)> {
    if frame.get(i) != Some(&b'"') {
        return None;
    }
    let start = i + 1;
    let rest = frame.get(start..)?;
    let len = rest.iter().position(|&b| b == b'"')?;
    let s = &rest[..len];
    if s.iter().any(|&b| !(0x20..=0x7e).contains(&b) || b == b'\\') {
        return None;
    }
    Some((s, start + len + 1))
}

/// The number starting at `frame[i]`, in JSON's grammar: its text and the index after it.
#[inline]
fn number(frame: &[u8], i: usize) -> Option<(&[u8], usize)> {
    let n = frame.len();
    let digit = |j: usize| j < n && frame[j].is_ascii_digit();
    let digits = |mut j: usize| {
        let start = j;
        while digit(j) {
            j += 1;
        }
        (j > start).then_some(j)
    };
    let mut j = i;
    if frame.get(j) == Some(&b'-') {
        j += 1;
    }
    j = match frame.get(j)? {
        b'0' => j + 1,
        b'1'..=b'9' => digits(j)?,
        _ => return None,
    };
    if frame.get(j) == Some(&b'.') {
        j = digits(j + 1)?;
    }
    if matches!(frame.get(j), Some(b'e' | b'E')) {
        j += 1;
        if matches!(frame.get(j), Some(b'+' | b'-')) {
            j += 1;
        }
        j = digits(j)?;
    }
    // A number runs up to a delimiter; anything else glued to it (`1.2.3`, `01`, `1x`) is
    // left to simd-json.
    match frame.get(j) {
        None => Some((&frame[i..j], j)),
        Some(&b) if is_ws(b) || b == b',' || b == b'}' => Some((&frame[i..j], j)),
        Some(_) => None,
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
                    (
                        String::from_utf8(f.keys[i].to_vec()).unwrap(),
                        String::from_utf8(f.values[i].to_vec()).unwrap(),
                    )
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
}

//! Byte scanners over venue frames, shared by every venue's protocol: find a key, read the
//! number after it, split a JSON array's top-level elements, find level arrays and their
//! number tokens. They know no venue.

use std::ops::Range;

/// Finds `needle` in `hay`.
pub fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || hay.len() < needle.len() {
        return None;
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Whether `hay` holds `needle`.
pub(crate) fn has(hay: &[u8], needle: &[u8]) -> bool {
    find(hay, needle).is_some()
}

/// `frame` with the number at `digits` replaced by `value`.
pub fn with_number(frame: &[u8], digits: Range<usize>, value: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(frame.len() + 4);
    out.extend_from_slice(&frame[..digits.start]);
    out.extend_from_slice(value.to_string().as_bytes());
    out.extend_from_slice(&frame[digits.end..]);
    out
}

/// The number after `"key":` (quoted or not), as text.
pub(crate) fn number_after<'a>(frame: &'a [u8], key: &[u8]) -> Option<&'a str> {
    let at = find(frame, key)? + key.len();
    let rest = &frame[at..];
    let rest = rest.strip_prefix(b"\"").unwrap_or(rest);
    let end = rest.iter().position(|c| !(c.is_ascii_digit() || *c == b'-')).unwrap_or(rest.len());
    (end > 0).then(|| std::str::from_utf8(&rest[..end]).ok()).flatten()
}

/// `name=value` for each `(name, key)` whose number `frame` holds, joined with spaces
/// (`None` when it holds none): a frame's sequence identity for the reference log.
pub(crate) fn pick(frame: &[u8], keys: &[(&str, &[u8])]) -> Option<String> {
    let parts: Vec<String> = keys
        .iter()
        .filter_map(|(name, key)| number_after(frame, key).map(|n| format!("{name}={n}")))
        .collect();
    (!parts.is_empty()).then(|| parts.join(" "))
}

/// The digits at `digits` of `frame` as a number (digits only).
pub(crate) fn digits_value(frame: &[u8], digits: Range<usize>) -> Option<(Range<usize>, u64)> {
    let text = std::str::from_utf8(&frame[digits.clone()]).ok()?;
    let value = text.parse().ok().filter(|_| text.bytes().all(|c| c.is_ascii_digit()))?;
    Some((digits, value))
}

/// The byte ranges of a JSON array frame's top-level elements (strings, nested arrays and
/// objects skipped over), or `None` when the frame is not a complete array.
pub(crate) fn top_level(frame: &[u8]) -> Option<Vec<Range<usize>>> {
    if frame.first() != Some(&b'[') {
        return None;
    }
    let mut out = Vec::new();
    let (mut depth, mut in_str, mut escaped, mut start) = (0usize, false, false, 1);
    for (i, &c) in frame.iter().enumerate() {
        if in_str {
            match c {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_str = false,
                _ => {}
            }
            continue;
        }
        match c {
            b'"' => in_str = true,
            b'[' | b'{' => depth += 1,
            b']' | b'}' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    out.push(start..i);
                    return Some(out);
                }
            }
            b',' if depth == 1 => {
                out.push(start..i);
                start = i + 1;
            }
            _ => {}
        }
    }
    None
}

/// A number token in a frame: its byte range (without quotes).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Num {
    /// The first digit (or sign).
    pub start: usize,
    /// One past the last character.
    pub end: usize,
}

/// The number tokens of the innermost array starting at `open` (a `[`), or `None` when the
/// array holds another array or an object.
pub(crate) fn innermost(frame: &[u8], open: usize) -> Option<(Vec<Num>, usize)> {
    let mut nums = Vec::new();
    let mut i = open + 1;
    while i < frame.len() {
        match frame[i] {
            b']' => return Some((nums, i)),
            b'[' | b'{' => return None,
            b'"' => {
                let s = i + 1;
                let e = s + frame[s..].iter().position(|&c| c == b'"')?;
                let t = &frame[s..e];
                if !t.is_empty() && t.iter().all(|c| c.is_ascii_digit() || *c == b'.' || *c == b'-')
                {
                    nums.push(Num { start: s, end: e });
                }
                i = e + 1;
            }
            c if c.is_ascii_digit() || c == b'-' => {
                let s = i;
                while i < frame.len()
                    && (frame[i].is_ascii_digit()
                        || matches!(frame[i], b'.' | b'-' | b'e' | b'E' | b'+'))
                {
                    i += 1;
                }
                nums.push(Num { start: s, end: i });
                continue;
            }
            _ => i += 1,
        }
    }
    None
}

/// Every level-like array of a frame (an innermost array with at least two numbers).
pub(crate) fn levels(frame: &[u8]) -> Vec<(Vec<Num>, usize, usize)> {
    let mut out = Vec::new();
    for (at, &c) in frame.iter().enumerate() {
        if c == b'[' {
            if let Some((nums, close)) = innermost(frame, at) {
                if nums.len() >= 2 {
                    out.push((nums, at, close));
                }
            }
        }
    }
    out
}

/// The price token of the first level array after `key` (a level whose size is zero is
/// skipped: a delete stays a delete, it would not cross).
pub(crate) fn first_level_after(frame: &[u8], key: &[u8]) -> Option<Num> {
    let at = find(frame, key)? + key.len();
    let open = at + frame[at..].iter().position(|&c| c == b'[')?;
    let (nums, _) = innermost(frame, open)?;
    if nums.len() >= 2 && frame[nums[1].start..nums[1].end].iter().all(|c| *c == b'0' || *c == b'.')
    {
        let next = open + 1 + frame[open + 1..].iter().position(|&c| c == b']')?;
        let rest = &frame[next..];
        let comma = rest.iter().position(|&c| c == b'[')?;
        let open2 = next + comma;
        let (nums2, _) = innermost(frame, open2)?;
        return Some(*nums2.first()?);
    }
    nums.first().copied()
}

/// The first price token of the innermost array that starts at `marker` (`["buy"`, …).
pub(crate) fn first_in_array_at(frame: &[u8], marker: &[u8]) -> Option<Num> {
    let at = find(frame, marker)?;
    innermost(frame, at)?.0.first().copied()
}

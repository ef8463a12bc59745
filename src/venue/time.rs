//! Exchange timestamps in the forms venues print them, to epoch nanoseconds, in integers.

/// Milliseconds since the epoch to nanoseconds (saturating).
#[inline]
pub(crate) fn ms_to_ns(ms: u64) -> u64 {
    ms.saturating_mul(1_000_000)
}

/// Decimal seconds since the epoch (`"1618678123.481570"`, Kraken v1, cryptofeed logs) to ns.
/// Digits past the ninth decimal are ignored.
pub(crate) fn decimal_seconds_ns(text: &[u8]) -> Option<u64> {
    ten_dot_six(text).or_else(|| any_decimal_seconds_ns(text))
}

/// Kraken's shape, `1618678123.481570` (ten digits, a point, six digits), read eight digits
/// at a time; `None` for any other text (which [`any_decimal_seconds_ns`] then reads).
#[inline]
fn ten_dot_six(text: &[u8]) -> Option<u64> {
    use super::scan::{all_digits, eight_digits};
    let t: &[u8; 17] = text.try_into().ok()?;
    let digit = |c: u8| c.is_ascii_digit().then(|| u64::from(c - b'0'));
    let (d9, d10) = (digit(t[8])?, digit(t[9])?);
    if t[10] != b'.' {
        return None;
    }
    let word = |i: usize| u64::from_le_bytes(t[i..i + 8].try_into().unwrap_or_default());
    // Digits 1-8; then the six fraction digits as `00dddddd` (the word ending with the text,
    // its two lowest bytes, digit 10 and the point, made zeros).
    let (high, frac) = (word(0), (word(9) & !0xffff) | 0x3030);
    if !all_digits(high) || !all_digits(frac) {
        return None;
    }
    let secs = eight_digits(high) * 100 + d9 * 10 + d10;
    // Ten digits of seconds: under 10^19 nanoseconds, no overflow.
    Some(secs * 1_000_000_000 + eight_digits(frac) * 1_000)
}

/// [`decimal_seconds_ns`] for any number of digits.
fn any_decimal_seconds_ns(text: &[u8]) -> Option<u64> {
    let (int, frac) = match text.iter().position(|&c| c == b'.') {
        Some(dot) => (&text[..dot], &text[dot + 1..]),
        None => (text, &b""[..]),
    };
    let secs = super::json::parse_u64(int)?;
    let mut ns: u64 = 0;
    for i in 0..9 {
        let d = match frac.get(i) {
            Some(&c) if c.is_ascii_digit() => u64::from(c - b'0'),
            Some(_) => return None,
            None => 0,
        };
        ns = ns * 10 + d;
    }
    if frac.iter().any(|c| !c.is_ascii_digit()) {
        return None;
    }
    secs.checked_mul(1_000_000_000)?.checked_add(ns)
}

/// Days from 1970-01-01 to the civil date (proleptic Gregorian), Howard Hinnant's algorithm.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn digits(s: &[u8]) -> Option<u32> {
    let mut acc = 0u32;
    for &c in s {
        if !c.is_ascii_digit() {
            return None;
        }
        acc = acc * 10 + u32::from(c - b'0');
    }
    Some(acc)
}

/// An RFC 3339 UTC time as venues print it (`2026-08-09T21:05:48.483587501Z`, a space instead
/// of `T` accepted, fraction of 0–9+ digits) to epoch nanoseconds. `None` if malformed or
/// before 1970.
#[inline]
pub(crate) fn rfc3339_ns(text: &[u8]) -> Option<u64> {
    rfc3339_z(text).or_else(|| any_rfc3339_ns(text))
}

/// [`rfc3339_ns`] for the shapes venues send on the hot path, `YYYY-MM-DDTHH:MM:SSZ` with no
/// fraction or one of 1 to 9 digits, read a word at a time; `None` for any other text (which
/// [`any_rfc3339_ns`] then reads, to the same result).
#[inline]
fn rfc3339_z(t: &[u8]) -> Option<u64> {
    use super::scan::{all_digits, eight_digits};
    const ZEROS: u64 = 0x3030_3030_3030_3030;
    let n = t.len();
    if n < 20 || t[n - 1] != b'Z' {
        return None;
    }
    let word = |i: usize| u64::from_le_bytes(t[i..i + 8].try_into().unwrap_or_default());
    // `YYYY-MM-` and `DDTHH:MM`, their separators checked and then made zeros.
    let (date, time) = (word(0), word(8));
    const DATE_SEPS: u64 = 0xff00_00ff_0000_0000; // bytes 4 and 7
    const TIME_SEPS: u64 = 0x0000_ff00_00ff_0000; // bytes 2 and 5
    let seps_ok = date & DATE_SEPS == 0x2d00_002d_0000_0000 // `-` and `-`
        && matches!(t[10], b'T' | b' ')
        && t[13] == b':'
        && t[16] == b':';
    let (date, time) =
        ((date & !DATE_SEPS) | (ZEROS & DATE_SEPS), (time & !TIME_SEPS) | (ZEROS & TIME_SEPS));
    if !seps_ok || !all_digits(date) || !all_digits(time) {
        return None;
    }
    let digit = |c: u8| c.is_ascii_digit().then(|| u32::from(c - b'0'));
    let sec = digit(t[17])? * 10 + digit(t[18])?;
    // Bytes to digit values; `two(w, i)` is the two-digit number at bytes `i` and `i + 1`.
    let (d, h) = (date - ZEROS, time - ZEROS);
    let byte = |w: u64, i: u32| (w >> (8 * i)) as u32 & 0xff;
    let two = |w: u64, i: u32| byte(w, i) * 10 + byte(w, i + 1);
    let year = two(d, 0) * 100 + two(d, 2);
    let (month, day) = (two(d, 5), two(h, 0));
    let (hour, min) = (two(h, 3), two(h, 6));
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || min > 59 || sec > 60 {
        return None;
    }
    let frac_ns = match n - 20 {
        0 => 0,
        // `.` and 1 to 9 digits before the `Z`: the eight bytes before the `Z`, with those
        // that are not fraction digits (the point, seconds) made zeros, hold its last eight.
        f @ 2..=10 if t[19] == b'.' => {
            let k = f - 1;
            let keep = u64::MAX << (8 * 8usize.saturating_sub(k));
            let w = (word(n - 9) & keep) | (ZEROS & !keep);
            if !all_digits(w) {
                return None;
            }
            let frac = if k == 9 { u64::from(digit(t[20])?) * 100_000_000 } else { 0 };
            (frac + eight_digits(w)) * POW10_NS[9 - k]
        }
        _ => return None,
    };
    let days = days_from_civil(i64::from(year), month, day);
    let secs = days * 86_400 + i64::from(hour * 3600 + min * 60 + sec);
    let secs = u64::try_from(secs).ok()?;
    secs.checked_mul(1_000_000_000)?.checked_add(frac_ns)
}

/// `10^i` for the nine places of a nanosecond fraction.
const POW10_NS: [u64; 10] =
    [1, 10, 100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000, 100_000_000, 1_000_000_000];

/// [`rfc3339_ns`] for every shape it accepts, a byte at a time.
fn any_rfc3339_ns(text: &[u8]) -> Option<u64> {
    if text.len() < 20 {
        return None;
    }
    let year = digits(&text[0..4])?;
    let sep_ok = text[4] == b'-'
        && text[7] == b'-'
        && (text[10] == b'T' || text[10] == b' ')
        && text[13] == b':'
        && text[16] == b':';
    if !sep_ok {
        return None;
    }
    let (month, day) = (digits(&text[5..7])?, digits(&text[8..10])?);
    let (hour, min, sec) = (digits(&text[11..13])?, digits(&text[14..16])?, digits(&text[17..19])?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || min > 59 || sec > 60 {
        return None;
    }
    let mut rest = &text[19..];
    let mut frac_ns = 0u64;
    if let Some((b'.', tail)) = rest.split_first() {
        let n = tail.iter().take_while(|c| c.is_ascii_digit()).count();
        if n == 0 {
            return None;
        }
        for i in 0..9 {
            frac_ns =
                frac_ns * 10 + tail.get(i).filter(|_| i < n).map_or(0, |&c| u64::from(c - b'0'));
        }
        rest = &tail[n..];
    }
    if rest != b"Z" && rest != b"+00:00" {
        return None;
    }
    let days = days_from_civil(i64::from(year), month, day);
    let secs = days * 86_400 + i64::from(hour * 3600 + min * 60 + sec);
    let secs = u64::try_from(secs).ok()?;
    secs.checked_mul(1_000_000_000)?.checked_add(frac_ns)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339() {
        assert_eq!(rfc3339_ns(b"1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(rfc3339_ns(b"2026-08-09T21:05:48.483587501Z"), Some(1_786_309_548_483_587_501));
        assert_eq!(rfc3339_ns(b"2021-04-17T16:43:37.075687Z"), Some(1_618_677_817_075_687_000));
        assert_eq!(rfc3339_ns(b"2021-04-17T16:43:37.075687"), None);
        assert_eq!(rfc3339_ns(b"2021-13-17T16:43:37Z"), None);
        assert_eq!(rfc3339_ns(b"garbage"), None);
    }

    #[test]
    fn ten_digits_a_point_and_six_read_as_any_decimal_seconds() {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let alphabet = b"0123456789.x/: 9";
        for _ in 0..if cfg!(miri) { 2_000 } else { 200_000 } {
            let mut t = *b"1618678123.481570";
            for _ in 0..(x % 4) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                t[(x % 17) as usize] = alphabet[((x >> 8) % alphabet.len() as u64) as usize];
            }
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let text = String::from_utf8_lossy(&t);
            assert_eq!(decimal_seconds_ns(&t), any_decimal_seconds_ns(&t), "{text}");
            if ten_dot_six(&t).is_none() {
                assert!(
                    t[10] != b'.'
                        || t.iter().enumerate().any(|(i, c)| i != 10 && !c.is_ascii_digit()),
                    "{text}"
                );
            }
        }
        assert_eq!(ten_dot_six(b"9999999999.999999"), Some(9_999_999_999_999_999_000));
        assert_eq!(ten_dot_six(b"0000000000.000000"), Some(0));
    }

    #[test]
    fn venue_shaped_times_read_as_any_rfc3339() {
        let bases: [&[u8]; 7] = [
            b"2021-04-17T16:43:37.075687Z",
            b"2026-08-09T21:05:48.483587501Z",
            b"2024-02-29T23:59:60.123Z",
            b"1970-01-01T00:00:00Z",
            b"2026-12-06 09:30:00.5Z",
            b"2026-12-06T09:30:00.12345678Z",
            b"2026-12-06T09:30:00.1234567891+00:00",
        ];
        let alphabet = b"0123456789-:T .Z+x09";
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for round in 0..if cfg!(miri) { 2_000 } else { 300_000 } {
            let mut t = bases[round % bases.len()].to_vec();
            for _ in 0..next() % 4 {
                let r = next();
                let at = (r % t.len() as u64) as usize;
                let c = alphabet[((r >> 16) % alphabet.len() as u64) as usize];
                match (r >> 32) % 8 {
                    0 => {
                        t.remove(at);
                    }
                    1 => t.insert(at, c),
                    _ => t[at] = c,
                }
            }
            let text = String::from_utf8_lossy(&t);
            assert_eq!(rfc3339_ns(&t), any_rfc3339_ns(&t), "{text}");
            // The fast reader takes every time the venues send: up to nine digits, then `Z`.
            if t.len() <= 30 && t.ends_with(b"Z") && any_rfc3339_ns(&t).is_some() {
                assert!(rfc3339_z(&t).is_some(), "{text}");
            }
        }
        for base in bases {
            let text = String::from_utf8_lossy(base);
            assert!(any_rfc3339_ns(base).is_some(), "{text}");
            assert_eq!(rfc3339_z(base).is_some(), base.ends_with(b"Z"), "{text}");
        }
    }

    #[test]
    fn decimal_seconds() {
        assert_eq!(decimal_seconds_ns(b"1618678123.481570"), Some(1_618_678_123_481_570_000));
        assert_eq!(decimal_seconds_ns(b"1618678123"), Some(1_618_678_123_000_000_000));
        assert_eq!(decimal_seconds_ns(b"1.5x"), None);
    }
}

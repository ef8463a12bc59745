//! Exact decimal text ⇄ integer ticks and lots.
//!
//! Venues send prices and sizes as decimal strings (`"61685.99000000"`) or as JSON numbers
//! (`0.5`, `1e-8`). A [`Step`] (a tick size or a lot size, held exactly as
//! `mantissa × 10^-scale`) turns that text straight into an integer count of steps, with no
//! `f64` in between, and renders a count back into the exact decimal text.
//!
//! ```
//! use ladderfeed::book::Step;
//!
//! let tick = Step::parse("0.01").unwrap();
//! assert_eq!(tick.units(b"61685.99000000"), Ok(6_168_599));
//! assert_eq!(tick.format(6_168_599), "61685.99");
//! let lot = Step::parse("0.00000001").unwrap();
//! assert_eq!(lot.units(b"1e-8"), Ok(1));
//! assert!(lot.units(b"0.000000001").is_err()); // not a whole number of lots
//! ```

use std::fmt;

/// The largest number of decimal places a [`Step`] may have.
pub const MAX_SCALE: u8 = 18;

/// Why a piece of text is not a valid number of steps. Every variant is a clean rejection:
/// the parser never panics, whatever the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NumError {
    /// The text is empty.
    #[error("empty number")]
    Empty,
    /// A character that does not belong in a decimal number, at this byte offset.
    #[error("unexpected character at byte {0}")]
    Invalid(usize),
    /// The text has no digits (for example `"."` or `"-"`).
    #[error("number has no digits")]
    NoDigits,
    /// A negative value where only non-negative ones are allowed.
    #[error("negative value not allowed")]
    Negative,
    /// The value is not a whole number of steps (ticks or lots).
    #[error("value is not a whole number of steps")]
    NotMultiple,
    /// The value, counted in steps, does not fit in an `i64`.
    #[error("value overflows i64 steps")]
    Overflow,
    /// The step itself is zero, negative or has more than [`MAX_SCALE`] decimal places.
    #[error("invalid step size")]
    BadStep,
}

/// Powers of ten that fit in a `u64` (10^0 ..= 10^19).
pub(crate) const POW10: [u64; 20] = {
    let mut t = [1u64; 20];
    let mut i = 1;
    while i < 20 {
        t[i] = t[i - 1] * 10;
        i += 1;
    }
    t
};

/// A decimal number split into an integer mantissa and a power of ten:
/// `value = (-1)^negative × mantissa × 10^exp10`. Trailing zeros are not stripped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Decimal {
    negative: bool,
    mantissa: u128,
    exp10: i32,
}

/// At most this many significant digits are accumulated; more than that is an overflow for any
/// step (an `i64` holds 19 digits, a step scale adds at most 18 more).
const MAX_DIGITS: u32 = 38;

/// Scans `text` as a JSON-style decimal number: optional sign, digits, optional fraction,
/// optional exponent. A leading `+` and a bare leading `.` are accepted (some venues send them);
/// anything else is rejected.
#[inline]
fn scan(text: &[u8]) -> Result<Decimal, NumError> {
    if text.is_empty() {
        return Err(NumError::Empty);
    }
    let mut i = 0;
    let mut negative = false;
    match text[0] {
        b'-' => {
            negative = true;
            i = 1;
        }
        b'+' => i = 1,
        _ => {}
    }
    let mut mantissa: u128 = 0;
    let mut digits = 0u32; // significant digits accumulated (leading zeros skipped)
    let mut exp10: i32 = 0;
    let mut seen_digit = false;
    // Integer part.
    while i < text.len() {
        let c = text[i];
        if c.is_ascii_digit() {
            seen_digit = true;
            if mantissa != 0 || c != b'0' {
                if digits >= MAX_DIGITS {
                    return Err(NumError::Overflow);
                }
                mantissa = mantissa * 10 + u128::from(c - b'0');
                digits += 1;
            }
            i += 1;
        } else {
            break;
        }
    }
    // Fraction.
    if i < text.len() && text[i] == b'.' {
        i += 1;
        while i < text.len() {
            let c = text[i];
            if c.is_ascii_digit() {
                seen_digit = true;
                if mantissa != 0 || c != b'0' {
                    if digits >= MAX_DIGITS {
                        // Further non-zero precision cannot be a whole number of any step we
                        // accept; further zeros only lengthen the text. Either way: too long.
                        return Err(NumError::Overflow);
                    }
                    mantissa = mantissa * 10 + u128::from(c - b'0');
                    digits += 1;
                }
                exp10 -= 1;
                i += 1;
            } else {
                break;
            }
        }
    }
    if !seen_digit {
        return if i < text.len() { Err(NumError::Invalid(i)) } else { Err(NumError::NoDigits) };
    }
    // Exponent.
    if i < text.len() && (text[i] == b'e' || text[i] == b'E') {
        i += 1;
        let mut exp_negative = false;
        if i < text.len() && (text[i] == b'-' || text[i] == b'+') {
            exp_negative = text[i] == b'-';
            i += 1;
        }
        let start = i;
        let mut e: i32 = 0;
        while i < text.len() && text[i].is_ascii_digit() {
            // Saturate: anything beyond a few hundred is an overflow or a zero anyway.
            e = (e * 10 + i32::from(text[i] - b'0')).min(10_000);
            i += 1;
        }
        if i == start {
            return Err(NumError::Invalid(i.min(text.len() - 1)));
        }
        exp10 += if exp_negative { -e } else { e };
    }
    if i != text.len() {
        return Err(NumError::Invalid(i));
    }
    Ok(Decimal { negative, mantissa, exp10 })
}

/// The fast path of [`scan`] for the common case: plain `[-+]digits[.digits]` text whose
/// significant digits fit a `u64`. Zeros are deferred, not multiplied in, until a non-zero digit
/// follows, so trailing zeros (`"61685.99000000"`) cost nothing and the mantissa never ends in
/// a zero. Returns `None` (take the general path) on an exponent, an overflow or any other byte;
/// the general path then decides between a value and an error.
#[inline(always)]
fn scan_fast(text: &[u8]) -> Option<(bool, u64, i32)> {
    let (negative, digits) = match text.first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let mut mantissa: u64 = 0;
    let mut pending: u32 = 0; // zeros seen since the last non-zero digit
    let mut frac_digits: i32 = 0;
    let mut in_fraction = false;
    let mut any_digit = false;
    for &c in digits {
        let d = c.wrapping_sub(b'0');
        if d < 10 {
            any_digit = true;
            frac_digits += i32::from(in_fraction);
            if d == 0 {
                pending += u32::from(mantissa != 0);
            } else {
                let p = *POW10.get(pending as usize + 1)?;
                mantissa = mantissa.checked_mul(p)?.checked_add(u64::from(d))?;
                pending = 0;
            }
        } else if c == b'.' && !in_fraction {
            in_fraction = true;
        } else {
            return None;
        }
    }
    if !any_digit {
        return None;
    }
    // value = mantissa × 10^pending × 10^-frac_digits
    Some((negative, mantissa, i32::try_from(pending).ok()? - frac_digits))
}

/// The most integer digits [`plain_pow10_units`] accumulates (`10^18 - 1` fits a `u64` with
/// room to spare); longer texts take the general path.
const PLAIN_MAX_INT_DIGITS: usize = 18;

/// Eight ASCII `'0'` bytes, as a little-endian word.
pub(crate) const ZEROS: u64 = u64::from_le_bytes([b'0'; 8]);
/// The high bit of each byte.
const HIGH_BITS: u64 = 0x8080_8080_8080_8080;

/// The fastest path of [`Step::units_plain`], for a step of `10^-scale` and the text venues
/// actually send: unsigned `digits[.digits]`, at most [`PLAIN_MAX_INT_DIGITS`] integer digits,
/// any fraction digits past `scale` all zeros (`"61685.99000000"` in ticks of `0.01`).
///
/// The value in steps is `int × 10^scale + (the first scale fraction digits, padded)`. Texts of
/// eight bytes or more are read eight bytes per load (the integer part, the counted fraction
/// digits and the trailing zeros each from one word, see [`eight_digits`]); shorter ones a
/// digit at a time. Returns `None` for anything else (a sign, an exponent, a stray byte, a
/// fraction of a step, an overflow, no digits at all): the general path then gives the value
/// or the exact error, so this function only answers when it is certainly right.
#[inline(always)]
fn plain_pow10_units(text: &[u8], scale: u8) -> Option<i64> {
    let n = text.len();
    if n < 8 {
        return short_pow10_units(text, scale);
    }
    let scale = usize::from(scale);
    // Integer part: `int` and its digit count `i`; `text[i]` (if any) must be the point.
    let (int, i) = if n >= 8 {
        let x = word_ending_at(text, 8)? ^ ZEROS;
        let k = (non_digits(x).trailing_zeros() / 8) as usize;
        if k == 8 {
            digits_slow(text, 0)?
        } else {
            // The first `k` digits, moved to the top bytes: the bytes shifted in are zeros.
            (eight_digits(x.checked_shl(8 * (8 - k) as u32).unwrap_or(0)), k)
        }
    } else {
        digits_slow(text, 0)?
    };
    let Some(&point) = text.get(i) else {
        // No fraction.
        if i == 0 {
            return None; // empty text
        }
        return i64::try_from(int.checked_mul(POW10[scale])?).ok();
    };
    if point != b'.' {
        return None;
    }
    // Fraction: `head` holds the digits that count, `tail` must be all zeros.
    let head_start = i + 1;
    let h = (n - head_start).min(scale);
    let head_end = head_start + h;
    if i == 0 && head_end == n && h == 0 {
        return None; // "." has no digits
    }
    let frac = if h == 0 {
        0
    } else if h <= 8 && head_end >= 8 {
        // The eight bytes ending at the head's end; only its top `h` bytes are the head.
        let x = word_ending_at(text, head_end)? ^ ZEROS;
        let keep = u64::MAX << (8 * (8 - h));
        if non_digits(x) & keep != 0 {
            return None;
        }
        eight_digits(x & keep)
    } else if h <= 8 && head_start + 8 <= n {
        // A head ending before byte 8 (`"1.54698000"` in 1e-5 steps: one integer digit):
        // the eight bytes from the head's start, its `h` bytes moved to the top (the zeros
        // shifted in read as leading zero digits).
        let x = (word_ending_at(text, head_start + 8)? ^ ZEROS) << (8 * (8 - h));
        if non_digits(x) != 0 {
            return None;
        }
        eight_digits(x)
    } else {
        let (frac, end) = digits_slow(text, head_start)?;
        if end < head_end {
            return None; // a non-digit inside the head
        }
        // `digits_slow` may have read past the head into the tail: keep the head's digits.
        frac / POW10[end - head_end]
    };
    let t = n - head_end;
    let tail_ok = if t == 0 {
        true
    } else if t <= 8 {
        // `n >= 8` here whenever `t <= 8` matters: a shorter text is checked byte by byte.
        match word_ending_at(text, n) {
            Some(w) => (w ^ ZEROS) & (u64::MAX << (8 * (8 - t))) == 0,
            None => text[head_end..].iter().all(|&c| c == b'0'),
        }
    } else {
        text[head_end..].iter().all(|&c| c == b'0')
    };
    if !tail_ok {
        return None;
    }
    // `frac < 10^h`, so `frac × 10^(scale - h) < 10^scale ≤ 10^18`: no overflow.
    let units = int.checked_mul(POW10[scale])?.checked_add(frac * POW10[scale - h])?;
    i64::try_from(units).ok()
}

/// [`plain_pow10_units`] for a text of fewer than eight bytes (`"302.75"`, `"0.6157"`,
/// `"14300"`): the text in one word (two overlapping loads), its point found and squeezed out
/// with masks, the digits read by [`eight_digits`]. Answers for digits with at most one `.`
/// and at least one digit; `None` for anything else, as the long path does.
#[inline(always)]
fn short_pow10_units(text: &[u8], scale: u8) -> Option<i64> {
    let n = text.len();
    // The bytes of `0..k` in a word whose byte 0 is the text's first.
    let low = |k: usize| (1u64 << (8 * k)) - 1;
    let w = match n {
        4..=7 => {
            let a = u32::from_le_bytes(*text.first_chunk::<4>()?);
            let b = u32::from_le_bytes(*text.last_chunk::<4>()?);
            // The loads overlap on equal bytes, so OR joins them.
            u64::from(a) | u64::from(b) << (8 * (n - 4))
        }
        2 | 3 => {
            let a = u16::from_le_bytes(*text.first_chunk::<2>()?);
            let b = u16::from_le_bytes(*text.last_chunk::<2>()?);
            u64::from(a) | u64::from(b) << (8 * (n - 2))
        }
        1 => u64::from(text[0]),
        _ => return None,
    };
    // Digits become 0..=9; the bytes past the text stay 0 (read as leading zeros below).
    let x = (w ^ ZEROS) & low(n);
    let odd = non_digits(x);
    let (digits, m, fraction) = if odd == 0 {
        (x, n, 0)
    } else {
        // Exactly one byte that is not a digit, and it is the point: squeeze it out.
        let d = (odd.trailing_zeros() / 8) as usize;
        if odd & (odd - 1) != 0 || text[d] != b'.' || n < 2 {
            return None;
        }
        ((x & low(d)) | ((x >> 8) & !low(d)), n - 1, n - 1 - d)
    };
    // The `m` digits moved to the top bytes (`m` ≥ 1): what `eight_digits` reads.
    let v = eight_digits(digits << (8 * (8 - m)));
    let scale = usize::from(scale);
    let units = if fraction <= scale {
        v.checked_mul(*POW10.get(scale - fraction)?)?
    } else {
        // More fraction digits than the step has: the extra ones must be zeros.
        let p = POW10[fraction - scale];
        if v % p != 0 {
            return None;
        }
        v / p
    };
    i64::try_from(units).ok()
}

/// Decimal digits from `text[start..]` up to the first non-digit: their value and the index
/// where they stop. `None` past [`PLAIN_MAX_INT_DIGITS`] digits.
#[inline(always)]
fn digits_slow(text: &[u8], start: usize) -> Option<(u64, usize)> {
    let mut v: u64 = 0;
    let mut i = start;
    while let Some(&c) = text.get(i) {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            break;
        }
        if i - start == PLAIN_MAX_INT_DIGITS {
            return None;
        }
        v = v * 10 + u64::from(d);
        i += 1;
    }
    Some((v, i))
}

/// The eight bytes `text[end - 8..end]` as a little-endian word (`None` if `end < 8`).
#[inline(always)]
fn word_ending_at(text: &[u8], end: usize) -> Option<u64> {
    let bytes: [u8; 8] = text.get(end.checked_sub(8)?..end)?.try_into().ok()?;
    Some(u64::from_le_bytes(bytes))
}

/// For a word already XORed with [`ZEROS`] (digits are then the byte values 0..=9): the high
/// bit of every byte that was not an ASCII digit. Byte-wise, with no carry between bytes:
/// `(b & 0x7f) + 0x76` reaches `0x80` exactly when `b & 0x7f >= 10`, and `b` itself has its
/// high bit set when `b >= 0x80`.
#[inline(always)]
pub(crate) fn non_digits(x: u64) -> u64 {
    ((x & !HIGH_BITS).wrapping_add(0x7676_7676_7676_7676) | x) & HIGH_BITS
}

/// The value of eight digits held as byte values 0..=9, the first (most significant) digit in
/// the lowest byte, as in a little-endian load of the text XORed with [`ZEROS`].
///
/// Neighbouring lanes are merged three times: bytes into 2-digit values in 16-bit lanes, those
/// into 4-digit values in 32-bit lanes, those into the 8-digit value. In each step the high lane
/// is the less significant one (`lo × 10^k + hi`), no product leaves its lane (99 × 100 < 2^16,
/// 9999 × 10000 < 2^32), and the mask drops what spilled into the odd lanes.
#[inline(always)]
fn eight_digits(x: u64) -> u64 {
    let x = x.wrapping_mul(10).wrapping_add(x >> 8) & 0x00ff_00ff_00ff_00ff;
    let x = x.wrapping_mul(100).wrapping_add(x >> 16) & 0x0000_ffff_0000_ffff;
    x.wrapping_mul(10_000).wrapping_add(x >> 32) & 0xffff_ffff
}

/// A tick size or a lot size, held exactly as `mantissa × 10^-scale`
/// (`0.01` is `1 × 10^-2`, `0.5` is `5 × 10^-1`, `25` is `25 × 10^0`).
///
/// A count of steps is an `i64`: a price in ticks, a size in lots.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Step {
    mantissa: u64,
    scale: u8,
}

impl fmt::Debug for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Step({self})")
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.format(1))
    }
}

impl Step {
    /// The step `1`.
    pub const ONE: Step = Step { mantissa: 1, scale: 0 };

    /// A step of `mantissa × 10^-scale`. Fails when the mantissa is zero or the scale is above
    /// [`MAX_SCALE`]. Trailing zeros in the mantissa are removed (`10 × 10^-3` is `1 × 10^-2`).
    pub const fn new(mantissa: u64, scale: u8) -> Result<Step, NumError> {
        if mantissa == 0 || scale > MAX_SCALE {
            return Err(NumError::BadStep);
        }
        let (mut m, mut s) = (mantissa, scale);
        while s > 0 && m % 10 == 0 {
            m /= 10;
            s -= 1;
        }
        Ok(Step { mantissa: m, scale: s })
    }

    /// One unit in the last of `decimals` places: `10^-decimals` (`decimals = 2` gives `0.01`).
    pub const fn from_decimals(decimals: u8) -> Result<Step, NumError> {
        Step::new(1, decimals)
    }

    /// Parses a step from its decimal text (`"0.01"`, `"1e-8"`, `"0.5"`, `"25"`). Must be
    /// positive, with at most [`MAX_SCALE`] decimal places.
    pub fn parse(text: &str) -> Result<Step, NumError> {
        let d = scan(text.as_bytes())?;
        if d.negative || d.mantissa == 0 {
            return Err(NumError::BadStep);
        }
        let (mut m, mut e) = (d.mantissa, d.exp10);
        while e < 0 && m % 10 == 0 {
            m /= 10;
            e += 1;
        }
        while e > 0 {
            m = m.checked_mul(10).ok_or(NumError::BadStep)?;
            e -= 1;
        }
        let scale = u8::try_from(-e).map_err(|_| NumError::BadStep)?;
        let m = u64::try_from(m).map_err(|_| NumError::BadStep)?;
        Step::new(m, scale)
    }

    /// The integer mantissa: the step is `mantissa() × 10^-scale()`.
    pub const fn mantissa(&self) -> u64 {
        self.mantissa
    }

    /// The number of decimal places of the step.
    pub const fn scale(&self) -> u8 {
        self.scale
    }

    /// Converts non-negative decimal text into a whole number of steps. Rejects negative
    /// values, values that are not a whole number of steps and values beyond `i64`.
    #[inline]
    pub fn units(&self, text: &[u8]) -> Result<i64, NumError> {
        if let Some((negative, mantissa, exp10)) = scan_fast(text) {
            if negative && mantissa != 0 {
                return Err(NumError::Negative);
            }
            return self.units_fast(mantissa, exp10);
        }
        let d = scan(text)?;
        if d.negative && d.mantissa != 0 {
            return Err(NumError::Negative);
        }
        self.units_exact(d.mantissa, d.exp10)
    }

    /// [`Step::units`] for venues that never print an exponent: `1e5` is rejected as
    /// [`NumError::Invalid`] at the `e`, so malformed input cannot pass as a number.
    #[inline]
    pub fn units_plain(&self, text: &[u8]) -> Result<i64, NumError> {
        if self.mantissa == 1 {
            if let Some(units) = plain_pow10_units(text, self.scale) {
                return Ok(units);
            }
        }
        if let Some((negative, mantissa, exp10)) = scan_fast(text) {
            if negative && mantissa != 0 {
                return Err(NumError::Negative);
            }
            return self.units_fast(mantissa, exp10);
        }
        if let Some(at) = text.iter().position(|&c| c == b'e' || c == b'E') {
            return Err(NumError::Invalid(at));
        }
        self.units(text)
    }

    /// Converts decimal text that may be negative (Bitfinex amounts, Gemini v1 deltas) into a
    /// whole number of steps.
    #[inline]
    pub fn units_signed(&self, text: &[u8]) -> Result<i64, NumError> {
        if let Some((negative, mantissa, exp10)) = scan_fast(text) {
            let n = self.units_fast(mantissa, exp10)?;
            return Ok(if negative { -n } else { n });
        }
        let d = scan(text)?;
        let n = self.units_exact(d.mantissa, d.exp10)?;
        Ok(if d.negative { -n } else { n })
    }

    /// [`Step::units_exact`] for a mantissa from [`scan_fast`], which never ends in a zero digit:
    /// a negative shift therefore always leaves a fraction of a step.
    #[inline(always)]
    fn units_fast(&self, mantissa: u64, exp10: i32) -> Result<i64, NumError> {
        if self.mantissa != 1 {
            // Steps such as 0.5 or 25 divide after scaling: the product may need 128 bits.
            return self.units_exact(u128::from(mantissa), exp10);
        }
        if mantissa == 0 {
            return Ok(0);
        }
        let shift = exp10 + i32::from(self.scale);
        if shift < 0 {
            return Err(NumError::NotMultiple);
        }
        let p = *POW10.get(shift as usize).ok_or(NumError::Overflow)?;
        let scaled = mantissa.checked_mul(p).ok_or(NumError::Overflow)?;
        i64::try_from(scaled).map_err(|_| NumError::Overflow)
    }

    /// `mantissa × 10^exp10 / (self.mantissa × 10^-self.scale)`, exactly, or an error.
    #[inline]
    fn units_exact(&self, mantissa: u128, exp10: i32) -> Result<i64, NumError> {
        if mantissa == 0 {
            return Ok(0);
        }
        // value / step = mantissa × 10^(exp10 + scale) / step_mantissa
        let shift = exp10 + i32::from(self.scale);
        let scaled: u128 = if shift >= 0 {
            if shift > 38 {
                return Err(NumError::Overflow);
            }
            let mut v = mantissa;
            for _ in 0..shift {
                v = v.checked_mul(10).ok_or(NumError::Overflow)?;
            }
            v
        } else {
            let div = u32::try_from(-shift).map_err(|_| NumError::NotMultiple)?;
            if div > 38 {
                return Err(NumError::NotMultiple);
            }
            let p = 10u128.pow(div);
            if mantissa % p != 0 {
                return Err(NumError::NotMultiple);
            }
            mantissa / p
        };
        let m = u128::from(self.mantissa);
        if m != 1 && scaled % m != 0 {
            return Err(NumError::NotMultiple);
        }
        i64::try_from(scaled / m).map_err(|_| NumError::Overflow)
    }

    /// Writes `units` steps as exact decimal text without trailing zeros
    /// (`6168599` ticks of `0.01` is `61685.99`; `0` is `0`).
    pub fn write(&self, units: i64, out: &mut impl fmt::Write) -> fmt::Result {
        let negative = units < 0;
        let value: u128 = u128::from(units.unsigned_abs()) * u128::from(self.mantissa);
        let scale = u32::from(self.scale);
        let p = u128::from(POW10[scale as usize]);
        let (int, mut frac) = (value / p, value % p);
        if negative && value != 0 {
            out.write_char('-')?;
        }
        write!(out, "{int}")?;
        if frac != 0 {
            let mut width = scale;
            while frac % 10 == 0 {
                frac /= 10;
                width -= 1;
            }
            write!(out, ".{frac:0width$}", width = width as usize)?;
        }
        Ok(())
    }

    /// `units` steps as exact decimal text without trailing zeros. See [`Step::write`].
    pub fn format(&self, units: i64) -> String {
        let mut s = String::new();
        // Writing into a String cannot fail.
        let _ = self.write(units, &mut s);
        s
    }

    /// This step divided by `10^extra` (`0.5` with `extra = 2` is `0.005`): the unit of a
    /// value finer than the step, such as a mark or index price between two ticks.
    pub fn subdivided(&self, extra: u8) -> Result<Step, NumError> {
        let scale = self.scale.checked_add(extra).ok_or(NumError::BadStep)?;
        Step::new(self.mantissa, scale)
    }

    /// Decimal text that may be negative and need not be a whole number of steps, exactly, as
    /// `(units, extra)`: the value is `units` steps of [`Step::subdivided`]`(extra)`, with the
    /// smallest `extra` that makes it whole (`0` when the text is a whole number of steps).
    /// An index price `"27295.42086957"` on a `0.1` tick is `(2729542086957, 7)`:
    /// 2729542086957 × 0.1 × 10^-7.
    /// Fails only on malformed text or a value beyond `i64` at the finest scale.
    pub fn units_exact_scaled(&self, text: &[u8]) -> Result<(i64, u8), NumError> {
        let mut extra = 0u8;
        loop {
            let step = self.subdivided(extra)?;
            match step.units_signed(text) {
                Err(NumError::NotMultiple) if step.scale < MAX_SCALE => extra += 1,
                Err(NumError::BadStep) | Err(NumError::NotMultiple) => {
                    return Err(NumError::NotMultiple)
                }
                Err(e) => return Err(e),
                Ok(units) => return Ok((units, extra)),
            }
        }
    }

    /// The finest step that makes `text` a whole number: `10^-(decimal places)` of the text,
    /// ignoring trailing zeros (`"61685.99000000"` gives `0.01`, `"25"` gives `1`). Used to learn
    /// the tick and lot of an instrument nobody configured from the numbers in its snapshot.
    pub fn finest_for(text: &[u8]) -> Result<Step, NumError> {
        let d = scan(text)?;
        if d.mantissa == 0 {
            return Step::from_decimals(0);
        }
        let (mut m, mut e) = (d.mantissa, d.exp10);
        while e < 0 && m % 10 == 0 {
            m /= 10;
            e += 1;
        }
        let decimals = u8::try_from((-e).max(0)).map_err(|_| NumError::BadStep)?;
        Step::from_decimals(decimals)
    }

    /// How many `finer` steps make one of these, when `finer` is a power of ten at least as
    /// fine (`0.0005` in `0.0001` steps: 5); `None` otherwise or on overflow.
    pub fn multiple_of(self, finer: Step) -> Option<u64> {
        if finer.mantissa != 1 || finer.scale < self.scale {
            return None;
        }
        10u64.checked_pow(u32::from(finer.scale - self.scale))?.checked_mul(self.mantissa)
    }

    /// The finer of two steps that are both powers of ten (used while learning a step).
    /// For general steps, returns the one with more decimal places.
    pub fn finer(self, other: Step) -> Step {
        if other.scale > self.scale {
            other
        } else {
            self
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(s: &str) -> Step {
        Step::parse(s).unwrap()
    }

    #[test]
    fn exact_scaled_units() {
        let cases: &[(&str, &str, (i64, u8), &str)] = &[
            ("0.1", "27295.42086957", (2_729_542_086_957, 7), "27295.42086957"),
            ("0.1", "11794.1", (117_941, 0), "11794.1"),
            ("0.5", "65432.25", (1_308_645, 1), "65432.25"),
            ("1", "-0.000212", (-212, 6), "-0.000212"),
            ("1", "0.000132541666666", (132_541_666_666, 15), "0.000132541666666"),
            ("1", "3.805E-9", (3_805, 12), "0.000000003805"),
            ("0.0005", "2006.72", (4_013_440, 0), "2006.72"),
        ];
        for &(st, text, want, back) in cases {
            let s = step(st);
            let got = s.units_exact_scaled(text.as_bytes());
            assert_eq!(got, Ok(want), "{text} in {st}");
            assert_eq!(s.subdivided(want.1).unwrap().format(want.0), back);
        }
        assert!(step("0.1").units_exact_scaled(b"abc").is_err());
        assert!(step("1").units_exact_scaled(b"").is_err());
        // Finer than 10^-18 of a unit cannot be held exactly: an error, not a rounding.
        assert_eq!(step("1").units_exact_scaled(b"1e-19"), Err(NumError::NotMultiple));
        assert_eq!(step("1").units_exact_scaled(b"3.80517503805E-9"), Err(NumError::NotMultiple));
    }

    #[test]
    fn accepts() {
        let cases: &[(&str, &str, i64)] = &[
            ("0.01", "61685.99000000", 6_168_599),
            ("0.01", "61686", 6_168_600),
            ("0.01", "0.00000000", 0),
            ("0.01", "0", 0),
            ("0.01", "-0", 0),
            ("0.01", "-0.00", 0),
            ("0.01", ".5", 50),
            ("0.01", "+1.5", 150),
            ("0.00000001", "1e-8", 1),
            ("0.00000001", "1E-8", 1),
            ("0.00000001", "2.5e-7", 25),
            ("0.00000001", "0.00100000", 100_000),
            ("0.1", "1e3", 10_000),
            ("0.1", "1e+3", 10_000),
            ("0.5", "61685.5", 123_371),
            ("0.5", "3", 6),
            ("25", "1000", 40),
            ("1", "9223372036854775807", i64::MAX),
            ("0.01", "92233720368547758.07", i64::MAX),
            ("0.00000001", "0.000000010000000000000000000", 1),
            ("0.01", "000123.45", 12_345),
        ];
        for &(st, text, want) in cases {
            assert_eq!(step(st).units(text.as_bytes()), Ok(want), "{text} in steps of {st}");
        }
    }

    #[test]
    fn rejects() {
        let cases: &[(&str, &str, NumError)] = &[
            ("0.01", "", NumError::Empty),
            ("0.01", "-", NumError::NoDigits),
            ("0.01", ".", NumError::NoDigits),
            ("0.01", "1.2.3", NumError::Invalid(3)),
            ("0.01", "12a", NumError::Invalid(2)),
            ("0.01", " 1", NumError::Invalid(0)),
            ("0.01", "1 ", NumError::Invalid(1)),
            ("0.01", "\"1\"", NumError::Invalid(0)),
            ("0.01", "NaN", NumError::Invalid(0)),
            ("0.01", "inf", NumError::Invalid(0)),
            ("0.01", "1e", NumError::Invalid(1)),
            ("0.01", "1e-", NumError::Invalid(2)),
            ("0.01", "--1", NumError::Invalid(1)),
            ("0.01", "0x10", NumError::Invalid(1)),
            ("0.01", "-1.5", NumError::Negative),
            ("0.01", "1.005", NumError::NotMultiple),
            ("0.00000001", "1e-9", NumError::NotMultiple),
            ("0.5", "1.25", NumError::NotMultiple),
            ("25", "30", NumError::NotMultiple),
            ("1", "9223372036854775808", NumError::Overflow),
            ("0.01", "92233720368547758.08", NumError::Overflow),
            ("0.01", "123456789012345678901234567890", NumError::Overflow),
            ("0.01", "1e400", NumError::Overflow),
            ("0.01", "1e-400", NumError::NotMultiple),
            ("0.01", "1e99999999999", NumError::Overflow),
        ];
        for &(st, text, want) in cases {
            assert_eq!(step(st).units(text.as_bytes()), Err(want), "{text:?} in steps of {st}");
        }
    }

    #[test]
    fn signed() {
        let lot = step("0.0001");
        assert_eq!(lot.units_signed(b"-1.5"), Ok(-15_000));
        assert_eq!(lot.units_signed(b"2"), Ok(20_000));
        assert_eq!(lot.units_signed(b"-1e-4"), Ok(-1));
    }

    #[test]
    fn steps() {
        assert_eq!(step("0.01"), Step::new(1, 2).unwrap());
        assert_eq!(step("0.010"), Step::new(1, 2).unwrap());
        assert_eq!(step("1e-8"), Step::new(1, 8).unwrap());
        assert_eq!(step("0.5"), Step::new(5, 1).unwrap());
        assert_eq!(step("25"), Step::new(25, 0).unwrap());
        assert_eq!(step("2.5e1"), Step::new(25, 0).unwrap());
        assert_eq!(Step::new(10, 3).unwrap(), Step::new(1, 2).unwrap());
        for bad in ["0", "-0.01", "1e-19", "abc", ""] {
            assert!(Step::parse(bad).is_err(), "{bad}");
        }
        assert!(Step::new(0, 2).is_err());
        assert!(Step::new(1, 19).is_err());
    }

    #[test]
    fn formats_exactly() {
        let tick = step("0.01");
        assert_eq!(tick.format(6_168_599), "61685.99");
        assert_eq!(tick.format(6_168_600), "61686");
        assert_eq!(tick.format(6_168_590), "61685.9");
        assert_eq!(tick.format(0), "0");
        assert_eq!(tick.format(1), "0.01");
        assert_eq!(tick.format(-1), "-0.01");
        assert_eq!(step("0.5").format(3), "1.5");
        assert_eq!(step("25").format(4), "100");
        assert_eq!(step("1e-8").format(1), "0.00000001");
        assert_eq!(step("1e-8").format(i64::MAX), "92233720368.54775807");
        assert_eq!(step("1e-18").format(i64::MIN), "-9.223372036854775808");
        assert_eq!(step("0.01").to_string(), "0.01");
    }

    #[test]
    fn learns_finest_step() {
        assert_eq!(Step::finest_for(b"61685.99000000"), Ok(step("0.01")));
        assert_eq!(Step::finest_for(b"0.00000000"), Ok(step("1")));
        assert_eq!(Step::finest_for(b"25"), Ok(step("1")));
        assert_eq!(Step::finest_for(b"1e-8"), Ok(step("1e-8")));
        assert_eq!(Step::finest_for(b"0.00006547"), Ok(step("1e-8")));
        assert!(Step::finest_for(b"1e-30").is_err());
        assert_eq!(step("0.01").finer(step("0.001")), step("0.001"));
    }

    #[test]
    fn eight_digit_words() {
        let word = |s: &[u8; 8]| u64::from_le_bytes(*s) ^ ZEROS;
        assert_eq!(eight_digits(word(b"12345678")), 12_345_678);
        assert_eq!(eight_digits(word(b"99999999")), 99_999_999);
        assert_eq!(eight_digits(word(b"00000000")), 0);
        assert_eq!(eight_digits(word(b"00000010")), 10);
        assert_eq!(non_digits(word(b"12345678")), 0);
        for (i, bad) in
            [b'/', b':', b'.', b' ', b'e', 0x80, 0xb0, 0xff, 0x00].into_iter().enumerate()
        {
            let mut s = *b"12345678";
            s[i % 8] = bad;
            let nd = non_digits(word(&s));
            assert_eq!(nd.trailing_zeros() / 8, (i % 8) as u32, "{s:?}");
            assert_eq!(nd.count_ones(), 1, "{s:?}");
        }
    }

    #[test]
    fn plain_fast_path_values_and_refusals() {
        let ok: &[(&str, u8, i64)] = &[
            ("61685.99000000", 2, 6_168_599),
            ("61686.00000000", 2, 6_168_600),
            ("1.54698000", 8, 154_698_000),
            ("1.54698000", 5, 154_698),
            ("0.00000000", 5, 0),
            ("3.10000000", 1, 31),
            ("0.1234567000", 7, 1_234_567),
            ("0.00000000", 8, 0),
            ("12.00000000", 5, 1_200_000),
            ("7.6110", 3, 7_611),
            ("813", 0, 813),
            ("5.", 2, 500),
            (".5", 2, 50),
            (".000", 0, 0),
            ("12345678", 1, 123_456_780),
            ("12345678.9", 1, 123_456_789),
            ("123456789.12345678", 8, 12_345_678_912_345_678),
            ("0.123456789012345678", 18, 123_456_789_012_345_678),
            ("000000000000000001.5", 1, 15),
            ("92233720368547758.07", 2, i64::MAX),
        ];
        for &(text, scale, want) in ok {
            assert_eq!(plain_pow10_units(text.as_bytes(), scale), Some(want), "{text} at {scale}");
            let st = Step::new(1, scale).unwrap();
            assert_eq!(st.units_plain(text.as_bytes()), Ok(want), "{text} at {scale}");
        }
        // Not answered here (the general path decides), never a wrong number.
        let refused: &[(&str, u8)] = &[
            ("", 2),
            (".", 2),
            ("-1.5", 2),
            ("+1.5", 2),
            ("-0", 2),
            ("1e5", 2),
            ("61685.99000001", 2),
            ("61685.9900000x", 2),
            ("6168x.99000000", 2),
            ("61685.9x000000", 2),
            ("1.54698001", 5),
            ("1.5469x000", 5),
            ("1.x4698000", 5),
            ("1.54698x00", 5),
            ("1234567a", 0),
            ("1.2.3", 2),
            ("1 ", 0),
            (" 1", 0),
            ("1.5 ", 1),
            ("92233720368547758.08", 2),
            ("9999999999999999999", 0),
            ("1234567890123456789.5", 1),
            ("\u{661}", 0),
        ];
        for &(text, scale) in refused {
            assert_eq!(plain_pow10_units(text.as_bytes(), scale), None, "{text:?} at {scale}");
        }
    }

    proptest::proptest! {
        /// The fast path and the general path agree on every decimal text, valid or not.
        #[test]
        fn fast_path_agrees_with_general_path(
            text in "[-+]?[0-9]{0,22}(\\.[0-9]{0,22})?",
            mantissa in proptest::sample::select(vec![1u64, 5, 25]),
            scale in 0u8..=18,
        ) {
            let st = Step::new(mantissa, scale).unwrap();
            let general = scan(text.as_bytes()).and_then(|d| {
                if d.negative && d.mantissa != 0 {
                    Err(NumError::Negative)
                } else {
                    st.units_exact(d.mantissa, d.exp10)
                }
            });
            proptest::prop_assert_eq!(st.units(text.as_bytes()), general, "{}", text);
        }

        /// `units_plain` (with its word-at-a-time fast path) gives exactly what the general
        /// path gives, value or error, on plain decimal text and on near-misses.
        #[test]
        fn plain_units_agree_with_general_path(
            text in "[-+]?[0-9]{0,22}(\\.[0-9]{0,22})?|[0-9.0-9.+\\- ax]{0,24}",
            scale in 0u8..=18,
        ) {
            let st = Step::new(1, scale).unwrap();
            proptest::prop_assert_eq!(st.units_plain(text.as_bytes()), st.units(text.as_bytes()));
        }

        /// On arbitrary bytes, the fast path either declines or agrees with the general path.
        #[test]
        fn plain_fast_path_never_answers_wrong(
            bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..28),
            scale in 0u8..=18,
        ) {
            let st = Step::new(1, scale).unwrap();
            if let Some(v) = plain_pow10_units(&bytes, scale) {
                proptest::prop_assert_eq!(st.units(&bytes), Ok(v));
            }
            let no_exponent = !bytes.iter().any(|&c| c == b'e' || c == b'E');
            if no_exponent {
                proptest::prop_assert_eq!(st.units_plain(&bytes), st.units(&bytes));
            }
        }

        /// Any count of units, printed with leading and trailing zeros, reads back exactly.
        #[test]
        fn plain_fast_path_reads_padded_text(
            units in 0i64..=i64::MAX,
            scale in 0u8..=18,
            lead in 0usize..3,
            trail in 0usize..12,
        ) {
            let st = Step::new(1, scale).unwrap();
            let mut text = "0".repeat(lead) + &st.format(units);
            if trail > 0 {
                if !text.contains('.') {
                    text.push('.');
                }
                text.push_str(&"0".repeat(trail));
            }
            proptest::prop_assert_eq!(st.units_plain(text.as_bytes()), Ok(units), "{}", text);
        }

        /// Any count of steps renders to text that parses back to the same count.
        #[test]
        fn format_parse_round_trip(units in proptest::num::i64::ANY, scale in 0u8..=18) {
            let st = Step::new(1, scale).unwrap();
            let text = st.format(units);
            proptest::prop_assert_eq!(st.units_signed(text.as_bytes()), Ok(units), "{}", text);
        }
    }

    #[test]
    fn round_trips() {
        let tick = step("0.00001");
        for units in [0i64, 1, 7, 123_456_789, i64::MAX, -5] {
            let text = tick.format(units);
            assert_eq!(tick.units_signed(text.as_bytes()), Ok(units), "{text}");
        }
    }
}

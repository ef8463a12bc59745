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

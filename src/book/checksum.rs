//! Venue book checksums: CRC32 over the text of the top levels, rendered from integer ticks
//! and lots the way each venue prints numbers.
//!
//! - Kraken (v1 and v2): the 10 best asks (ascending) then the 10 best bids (descending); each
//!   price then size printed with the pair's fixed decimals, `.` removed, leading zeros
//!   stripped; CRC32 (IEEE) unsigned.
//! - OKX: the 25 best bids and asks interleaved `bid:size:ask:size:…` (missing entries
//!   omitted), numbers in shortest exact form; CRC32 as a signed `i32`.
//! - Bitfinex: the same interleaving, ask amounts negative, numbers as JavaScript prints them
//!   (`1e-7` below 10^-6); CRC32 as a signed `i32`.
//!
//! The text is built in a reused buffer: no allocation per call once it has grown.

use super::ladder::{Ladder, Side, CHANGE_LOG};
use super::num::{Step, POW10};

/// How a venue prints a number in its checksum text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumberStyle {
    /// Exactly this many fraction digits, trailing zeros kept (Kraken: `0.00100000`).
    Fixed(u8),
    /// The shortest exact decimal: no trailing zeros, no trailing `.` (OKX: `3366`, `0.0123`).
    Minimal,
    /// JavaScript's `Number.prototype.toString` for the exact value (Bitfinex): decimal for
    /// 10^-6 ≤ |x| < 10^21, otherwise `1e-7`, `1.5e-8`.
    Js,
}

/// Two decimal digits per entry: "00", "01", … "99".
const PAIRS: &[u8; 200] = b"0001020304050607080910111213141516171819\
2021222324252627282930313233343536373839\
4041424344454647484950515253545556575859\
6061626364656667686970717273747576777879\
8081828384858687888990919293949596979899";

/// Writes the decimal digits of `v`, zero-padded on the left to at least `width` digits
/// (`width` ≤ 20).
#[inline]
fn push_u64_padded(v: u64, width: usize, out: &mut Vec<u8>) {
    // The digits are packed into registers 8 at a time and appended as whole 8-byte words
    // (a first, partial word is appended whole and cut back): no byte-by-byte stores read
    // back as a wide load, no variable-length copy.
    const E8: u64 = 100_000_000;
    let n = (decimal_len_u64(v) as usize).max(width);
    let chunks = [v / E8 / E8, (v / E8) % E8, v % E8];
    let words = n.div_ceil(8);
    let lead = n - (words - 1) * 8;
    let len = out.len();
    out.extend_from_slice(&(pack8(chunks[3 - words]) << ((8 - lead) * 8)).to_be_bytes());
    out.truncate(len + lead);
    for &c in &chunks[4 - words..] {
        out.extend_from_slice(&pack8(c).to_be_bytes());
    }
}

/// The 8 decimal digits of `v` (< 10^8, zero-padded) as ASCII, most significant first when
/// the word is written big-endian.
#[inline]
fn pack8(v: u64) -> u64 {
    let pair = |x: u64| {
        let i = x as usize * 2;
        u64::from(u16::from_be_bytes([PAIRS[i], PAIRS[i + 1]]))
    };
    let (hi, lo) = (v / 10_000, v % 10_000);
    pair(hi / 100) << 48 | pair(hi % 100) << 32 | pair(lo / 100) << 16 | pair(lo % 100)
}

/// Decimal digits of `v` (1 for 0).
#[inline]
fn decimal_len_u64(v: u64) -> u32 {
    match v.checked_ilog10() {
        Some(l) => l + 1,
        None => 1,
    }
}

/// Writes the decimal digits of `v`.
fn push_u128(v: u128, out: &mut Vec<u8>) {
    // The common case: u64 arithmetic (u128 division is a library call).
    if let Ok(v) = u64::try_from(v) {
        push_u64_padded(v, 1, out);
        return;
    }
    push_u128_slow(v, out);
}

fn push_u128_slow(mut v: u128, out: &mut Vec<u8>) {
    let mut tmp = [0u8; 40];
    let mut i = tmp.len();
    loop {
        i -= 1;
        tmp[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&tmp[i..]);
}

/// Writes `units × step` as exact text in `style`.
pub fn write_number(step: Step, units: i64, style: NumberStyle, out: &mut Vec<u8>) {
    if units < 0 {
        out.push(b'-');
    }
    // value = mag × 10^-scale, exactly (u64 × u64 fits in u128).
    let mag = u128::from(units.unsigned_abs()) * u128::from(step.mantissa());
    let scale = u32::from(step.scale());
    match style {
        NumberStyle::Fixed(decimals) => {
            let d = u32::from(decimals);
            if d >= scale {
                write_plain(mag, scale, out);
                if scale == 0 && d > 0 {
                    out.push(b'.');
                }
                out.extend(std::iter::repeat_n(b'0', (d - scale) as usize));
            } else {
                // Fewer decimals than the step has: print what fits (never happens for a
                // venue whose decimals come from its own text).
                let cut = 10u128.pow(scale - d);
                write_plain(mag / cut, d, out);
            }
        }
        NumberStyle::Minimal => write_minimal(mag, scale, out),
        NumberStyle::Js => write_js(mag, scale, out),
    }
}

/// `mag × 10^-scale` with exactly `scale` fraction digits.
fn write_plain(mag: u128, scale: u32, out: &mut Vec<u8>) {
    if let (Ok(m), true) = (u64::try_from(mag), scale <= 19) {
        let p = 10u64.pow(scale);
        push_u64_padded(m / p, 1, out);
        if scale > 0 {
            out.push(b'.');
            push_u64_padded(m % p, scale as usize, out);
        }
        return;
    }
    let p = 10u128.pow(scale);
    push_u128(mag / p, out);
    if scale > 0 {
        out.push(b'.');
        let frac = mag % p;
        let start = out.len();
        push_u128(frac, out);
        let written = out.len() - start;
        let pad = scale as usize - written;
        if pad > 0 {
            out.splice(start..start, std::iter::repeat_n(b'0', pad));
        }
    }
}

/// Strips trailing zeros: `(mag, scale)` with the same value and the smallest scale.
fn normalize(mut mag: u128, mut scale: u32) -> (u128, u32) {
    if let Ok(mut m) = u64::try_from(mag) {
        while scale > 0 && m % 10 == 0 {
            m /= 10;
            scale -= 1;
        }
        return (u128::from(m), scale);
    }
    while scale > 0 && mag % 10 == 0 {
        mag /= 10;
        scale -= 1;
    }
    (mag, scale)
}

/// ASCII `0` in every byte of a word.
const ZEROS: u128 = u128::from_ne_bytes([b'0'; 16]);

/// The shortest exact text of `m × 10^-scale` (no trailing fraction zeros, no trailing `.`),
/// built in one register and appended as one 16-byte word cut back to its length, if `m` has
/// at most 15 digits and `scale` ≤ 14 (every price and size the venues print in practice);
/// `false`, with nothing written, otherwise. No division by a variable power of ten and no
/// loop over the trailing zeros: the 16 zero-padded digits are packed once, the zeros counted
/// from the word's low bytes, and the point shifted in.
#[inline]
fn write_minimal_short(m: u64, scale: u32, out: &mut Vec<u8>) -> bool {
    const E8: u64 = 100_000_000;
    if m >= 1_000_000_000_000_000 || scale > 14 {
        return false;
    }
    // The 16 digits, zero-padded, the first one in the top byte.
    let digits = u128::from(pack8(m / E8)) << 64 | u128::from(pack8(m % E8));
    // Digits printed before the fraction is trimmed (1 to 15) and those before the point.
    let n = decimal_len_u64(m).max(scale + 1);
    let int_len = n - scale;
    // The fraction's trailing zeros (all of it when it is zero).
    let zeros = ((digits ^ ZEROS).trailing_zeros() / 8).min(scale);
    let frac_len = scale - zeros;
    // The `n` digits at the top of the word.
    let top = digits << (8 * (16 - n));
    let (word, len) = if frac_len == 0 {
        (top, int_len)
    } else {
        // The integer digits stay, the point follows them, the fraction moves one byte down.
        let int_mask = !(u128::MAX >> (8 * int_len));
        let point = u128::from(b'.') << (8 * (15 - int_len));
        ((top & int_mask) | point | ((top & !int_mask) >> 8), int_len + 1 + frac_len)
    };
    let at = out.len();
    out.extend_from_slice(&word.to_be_bytes());
    out.truncate(at + len as usize);
    true
}

fn write_minimal(mag: u128, scale: u32, out: &mut Vec<u8>) {
    if let Ok(m) = u64::try_from(mag) {
        if write_minimal_short(m, scale, out) {
            return;
        }
    }
    write_minimal_general(mag, scale, out);
}

/// [`write_minimal`] for any magnitude and scale.
fn write_minimal_general(mag: u128, scale: u32, out: &mut Vec<u8>) {
    let (mag, scale) = normalize(mag, scale);
    write_plain(mag, scale, out);
}

fn write_js(mag: u128, scale: u32, out: &mut Vec<u8>) {
    // JavaScript prints plain decimals from 1e-6 up to 1e21 (the test below, on the
    // unnormalized digits, gives the same exponent: trimming zeros removes as many digits
    // as it lowers the scale).
    if let Ok(m) = u64::try_from(mag) {
        let lead_exp = i64::from(decimal_len_u64(m)) - i64::from(scale) - 1;
        if (m == 0 || (-6..21).contains(&lead_exp)) && write_minimal_short(m, scale, out) {
            return;
        }
    }
    write_js_general(mag, scale, out);
}

/// [`write_js`] for any magnitude and scale.
fn write_js_general(mag: u128, scale: u32, out: &mut Vec<u8>) {
    let (mag, scale) = normalize(mag, scale);
    if mag == 0 {
        out.push(b'0');
        return;
    }
    let digits = decimal_len(mag);
    // value = 0.d1d2… × 10^(digits - scale): the decimal exponent of the leading digit is
    // digits - scale - 1. JavaScript switches to exponent form below 1e-6 and at 1e21.
    let lead_exp = digits as i64 - scale as i64 - 1;
    if (-6..21).contains(&lead_exp) {
        write_plain(mag, scale, out);
        return;
    }
    // d.ddd e±x
    let start = out.len();
    push_u128(mag, out);
    if digits > 1 {
        out.insert(start + 1, b'.');
    }
    out.push(b'e');
    out.push(if lead_exp < 0 { b'-' } else { b'+' });
    push_u128(u128::from(lead_exp.unsigned_abs()), out);
}

fn decimal_len(mut v: u128) -> u32 {
    let mut n = 1;
    while v >= 10 {
        v /= 10;
        n += 1;
    }
    n
}

/// One level's checksum text as last rendered (Kraken: price digits then size digits; OKX and
/// Bitfinex: `price:size`), kept for reuse.
#[derive(Debug, Clone, Copy)]
struct Rendered {
    px: i64,
    qty: i64,
    /// Bytes of `text` in use, or [`NOT_KEPT`].
    len: u8,
    /// Bytes of `text` that are the price's (its size's follow, after a `:` in the
    /// interleaved formats): kept when only the size changes.
    px_len: u8,
    text: [u8; 40],
}

/// The most changes to a side that [`Checksummer::patched`] makes in place; more are merged.
const FEW_CHANGES: usize = 4;

/// [`Rendered::len`] of a level whose text was too long to keep (never for the i64 values
/// venues print in practice): never reused.
const NOT_KEPT: u8 = u8::MAX;

impl Rendered {
    /// The text `text` of level `(px, qty)`, whose first `px_len` bytes are the price's,
    /// kept if it fits.
    fn keep(px: i64, qty: i64, text: &[u8], px_len: usize) -> Self {
        let mut r = Rendered { px, qty, len: NOT_KEPT, px_len: 0, text: [0; 40] };
        if text.len() <= r.text.len() {
            r.text[..text.len()].copy_from_slice(text);
            r.len = text.len() as u8;
            r.px_len = px_len as u8;
        }
        r
    }

    /// Appends the kept text: a fixed-size copy, cut back to the level's length.
    #[inline]
    fn append_to(&self, out: &mut Vec<u8>) {
        let at = out.len();
        out.extend_from_slice(&self.text);
        out.truncate(at + usize::from(self.len));
    }
}

/// The level `(px, qty)` of `side` in `prev` (that side's levels as last rendered, best first)
/// if its text was kept. The levels are asked for best first too, so `*at` only moves
/// forward: one pass over `prev` per side. A hit needs the same price and size, so the walk
/// can only cost a miss, never a wrong text.
#[inline]
fn kept<'a>(
    prev: &'a [Rendered],
    at: &mut usize,
    side: Side,
    px: i64,
    qty: i64,
) -> Option<&'a Rendered> {
    while prev.get(*at).is_some_and(|r| is_better(side, r.px, px)) {
        *at += 1;
    }
    prev.get(*at).filter(|r| r.px == px && r.qty == qty && r.len != NOT_KEPT)
}

/// Whether price `p` is better than `px` on `side`.
#[inline]
fn is_better(side: Side, p: i64, px: i64) -> bool {
    if side == Side::Bid {
        p > px
    } else {
        p < px
    }
}

/// What a book's level texts depend on besides each level's price and size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MemoFormat {
    /// Tick, price decimals, lot, size decimals.
    Kraken(Step, u8, Step, u8),
    /// Tick, lot, number style, negative ask sizes.
    Interleaved(Step, Step, NumberStyle, bool),
}

/// One book's checksum levels as last rendered (asks, bids) and their number format: keep one
/// per book and pass it to [`Checksummer::kraken_with`], [`Checksummer::okx_with`] or
/// [`Checksummer::bitfinex_with`], so the memo hits however the books' updates interleave.
#[derive(Debug, Default, Clone)]
pub struct LevelMemo {
    prev: [Vec<Rendered>; 2],
    format: Option<MemoFormat>,
    /// The CRC of the text `prev` rendered (as `u32`), if it was computed with them.
    crc: Option<u32>,
    /// The name [`Ladder::mark`] gave the book's state when `prev` and `crc` were last
    /// computed from it (0: none).
    mark: u64,
}

impl LevelMemo {
    /// Forgets the kept texts if they were rendered in another format.
    fn use_format(&mut self, format: MemoFormat) {
        if self.format != Some(format) {
            self.prev.iter_mut().for_each(Vec::clear);
            self.format = Some(format);
            self.crc = None;
            self.mark = 0;
        }
    }

    /// The CRC last computed, if `side`'s levels (`s`: the memo's index of that side, `n` the
    /// levels the checksum covers) are exactly the ones it was computed from, for both sides.
    /// The text is a pure function of the format and these levels, so the CRC is too: when
    /// an update changed nothing within the checksummed depth (most updates of a deep book),
    /// it is returned without rendering or hashing anything.
    #[inline]
    fn unchanged(&self, book: &Ladder, sides: [Side; 2], n: usize) -> Option<u32> {
        let crc = self.crc?;
        for (s, side) in sides.into_iter().enumerate() {
            let prev = &self.prev[s];
            let mut at = 0;
            for l in book.top(side, n) {
                match prev.get(at) {
                    Some(r) if r.px == l.px_tick && r.qty == l.qty_lots => at += 1,
                    _ => return None,
                }
            }
            if at != prev.len() {
                return None;
            }
        }
        Some(crc)
    }

    /// [`LevelMemo::unchanged`] without walking the book: the CRC last computed, if the book
    /// is still the state it was computed from (its [mark](Ladder::mark)) changed only at
    /// prices worse than each side's `n`-th level then (or not at all on a side that had
    /// fewer than `n`). Those levels are then still its top `n`, and the CRC stands. Most
    /// updates of a deep book (Kraken's 1,000 levels, of which 10 are checksummed) change
    /// nothing nearer the top.
    #[inline]
    fn unchanged_since_mark(&self, book: &Ladder, sides: [Side; 2], n: usize) -> Option<u32> {
        let crc = self.crc?;
        if self.mark == 0 || self.mark != book.marked() {
            return None;
        }
        for (s, side) in sides.into_iter().enumerate() {
            let nth = self.prev[s].get(n - 1).map(|r| r.px);
            if !book.changed_only_worse_than(side, nth) {
                return None;
            }
        }
        Some(crc)
    }
}

/// Reusable checksum text and CRC state. Create once per engine and reuse.
///
/// The text is rendered per level and, through the `_with` methods, remembered per book
/// ([`LevelMemo`]): a level whose price, size and number format are unchanged since the book's
/// previous checksum is copied, not rendered again (an update usually changes one or two of
/// Kraken's 20 levels or OKX's 50). The text is a pure function of those inputs, so a kept
/// text can never be stale. The engine's calls also reuse a book's CRC whole while the
/// ladder's record of changes since the CRC shows none within the checksummed depth (see
/// `LevelMemo::unchanged_since_mark`); when it shows some, the ladder's log of the prices
/// changed there brings the kept levels up to date without walking the book, and only the
/// changed levels are rendered ([`Checksummer::patched_count`]). [`Checksummer::okx`] and
/// [`Checksummer::bitfinex`] render every level.
#[derive(Debug, Default, Clone)]
pub struct Checksummer {
    text: Vec<u8>,
    /// The last call returned its book's previous CRC without rendering (`text` is then
    /// the text of an earlier call).
    reused: bool,
    /// The memo of [`Checksummer::kraken`] (callers with several books keep one per book).
    kraken_memo: LevelMemo,
    /// The levels being rendered, swapped into the memo at the end.
    next: [Vec<Rendered>; 2],
    /// CRCs computed from a book's log of changes ([`Checksummer::patched_count`]).
    patched: u64,
}

impl Checksummer {
    /// An empty checksummer.
    pub fn new() -> Self {
        let side = || Vec::with_capacity(10);
        Checksummer {
            text: Vec::with_capacity(2048),
            reused: false,
            kraken_memo: LevelMemo { prev: [side(), side()], format: None, crc: None, mark: 0 },
            next: [side(), side()],
            patched: 0,
        }
    }

    /// The text the last call hashed. A call through a [`LevelMemo`] whose book's checksummed
    /// levels had not changed since its previous checksum hashes nothing (it returns the
    /// previous CRC): the text is then that of the last call that rendered one.
    pub fn last_text(&self) -> &[u8] {
        &self.text
    }

    /// How many CRCs the engine's calls computed from a book's log of changes since its
    /// previous checksum: the changed levels rendered, the others' texts copied, the top
    /// levels not walked (see the [module docs](self)).
    pub fn patched_count(&self) -> u64 {
        self.patched
    }

    /// Kraken v1/v2, unsigned, remembering the levels in this checksummer (one book). See
    /// the [module docs](self).
    pub fn kraken(
        &mut self,
        book: &Ladder,
        tick: Step,
        price_decimals: u8,
        lot: Step,
        qty_decimals: u8,
    ) -> u32 {
        let mut memo = std::mem::take(&mut self.kraken_memo);
        let crc = self.kraken_with(&mut memo, book, tick, price_decimals, lot, qty_decimals);
        self.kraken_memo = memo;
        crc
    }

    /// Kraken v1/v2, unsigned, remembering the levels in `memo` (keep one per book). See the
    /// [module docs](self).
    pub fn kraken_with(
        &mut self,
        memo: &mut LevelMemo,
        book: &Ladder,
        tick: Step,
        price_decimals: u8,
        lot: Step,
        qty_decimals: u8,
    ) -> u32 {
        memo.use_format(MemoFormat::Kraken(tick, price_decimals, lot, qty_decimals));
        if let Some(crc) = memo.unchanged(book, [Side::Ask, Side::Bid], 10) {
            self.reused = true;
            return crc;
        }
        self.kraken_render(memo, book, tick, price_decimals, lot, qty_decimals)
    }

    /// Renders and hashes Kraken's text, copying the levels `memo` kept (in this format).
    fn kraken_render(
        &mut self,
        memo: &mut LevelMemo,
        book: &Ladder,
        tick: Step,
        price_decimals: u8,
        lot: Step,
        qty_decimals: u8,
    ) -> u32 {
        self.reused = false;
        self.text.clear();
        for (s, side) in [Side::Ask, Side::Bid].into_iter().enumerate() {
            self.next[s].clear();
            // Room for the 10 levels, so the memo this becomes is patched without allocating.
            self.next[s].reserve(10);
            let mut at = 0;
            for l in book.top(side, 10) {
                let r = match kept(&memo.prev[s], &mut at, side, l.px_tick, l.qty_lots) {
                    Some(r) => {
                        r.append_to(&mut self.text);
                        *r
                    }
                    None => {
                        let start = self.text.len();
                        self.kraken_number(tick, l.px_tick, price_decimals);
                        let px_len = self.text.len() - start;
                        self.kraken_number(lot, l.qty_lots, qty_decimals);
                        Rendered::keep(l.px_tick, l.qty_lots, &self.text[start..], px_len)
                    }
                };
                self.next[s].push(r);
            }
        }
        std::mem::swap(&mut memo.prev, &mut self.next);
        let crc = crc32fast::hash(&self.text);
        memo.crc = Some(crc);
        memo.mark = 0;
        crc
    }

    /// [`Checksummer::kraken_with`] for a book `memo` is kept for alone: the book's state is
    /// [marked](Ladder::mark) with each CRC, so the next call knows from the changes since
    /// whether the top 10 moved, without walking them.
    pub(crate) fn kraken_marked(
        &mut self,
        memo: &mut LevelMemo,
        book: &mut Ladder,
        tick: Step,
        price_decimals: u8,
        lot: Step,
        qty_decimals: u8,
    ) -> u32 {
        let format = MemoFormat::Kraken(tick, price_decimals, lot, qty_decimals);
        self.marked(memo, book, format, [Side::Ask, Side::Bid], 10, |c, memo, book| {
            c.kraken_render(memo, book, tick, price_decimals, lot, qty_decimals)
        })
    }

    /// The marked path of every venue: `memo`'s CRC if the changes to `book` since its mark
    /// leave the top `n` of `sides` (the memo's order) as they were; otherwise `render`, at
    /// once (a change reached the top `n`, or the memo has no mark on this book: the walk of
    /// [`LevelMemo::unchanged`] would mostly find the levels changed), and a new mark.
    fn marked(
        &mut self,
        memo: &mut LevelMemo,
        book: &mut Ladder,
        format: MemoFormat,
        sides: [Side; 2],
        n: usize,
        render: impl FnOnce(&mut Self, &mut LevelMemo, &Ladder) -> u32,
    ) -> u32 {
        memo.use_format(format);
        if let Some(crc) = memo.unchanged_since_mark(book, sides, n) {
            self.reused = true;
            return crc;
        }
        // Room for `n` levels a side, so patching never allocates (once per memo's vector:
        // renderings swap vectors between memos and the checksummer, which reserves as much).
        for v in memo.prev.iter_mut().chain(&mut self.next) {
            v.reserve(n.saturating_sub(v.len()));
        }
        let crc = match self.patched(memo, book, format, sides, n) {
            Some(crc) => crc,
            None => render(self, memo, book),
        };
        memo.mark = book.mark();
        // From now on the book logs the changes within the memo's levels: the `n`-th level's
        // price and better (every price, on a side with fewer).
        for (s, side) in sides.into_iter().enumerate() {
            book.watch(side, memo.prev[s].get(n - 1).map(|r| r.px));
        }
        crc
    }

    /// The CRC with `memo` brought up to date from the book's log of changes since its mark
    /// ([`Ladder::changes`]), without walking the top `n`: each changed price's level (its
    /// size now looked up in the book) replaces, joins or leaves the memo's levels, and only
    /// the changed levels are rendered (their price's text kept when only the size changed);
    /// a side left with fewer than `n` levels is refilled from the book past its last one;
    /// the text is then copied from the kept texts and hashed. `None`, with `memo` still
    /// levels of the book (so a rendering may reuse them), if the memo is not the marked
    /// state's or a change was not logged (then the levels are rendered as usual).
    ///
    /// Sound because at the mark the memo held the side's best `n` levels (every level when
    /// it had fewer), so all the levels at its `n`-th price or better, and the book logged
    /// every change at that price or better since: see [`Checksummer::patch_in_place`] and
    /// [`Checksummer::patch_merged`] for how each keeps the memo a prefix of the side.
    fn patched(
        &mut self,
        memo: &mut LevelMemo,
        book: &Ladder,
        format: MemoFormat,
        sides: [Side; 2],
        n: usize,
    ) -> Option<u32> {
        memo.crc?;
        if memo.mark == 0 || memo.mark != book.marked() {
            return None;
        }
        // Both sides' changes, before either side's levels are touched.
        let mut bufs = [[0; CHANGE_LOG]; 2];
        let mut lens = [0; 2];
        for (s, side) in sides.into_iter().enumerate() {
            lens[s] = book.changes(side, &mut bufs[s])?.len();
        }
        for (s, side) in sides.into_iter().enumerate() {
            let changes = &bufs[s][..lens[s]];
            // A few changes (most of Kraken's updates) move a few levels in place; more (most
            // of OKX's) would move the same levels again and again, and are merged instead.
            if changes.len() <= FEW_CHANGES {
                self.patch_in_place(&mut memo.prev[s], book, format, side, changes, n);
            } else {
                self.patch_merged(&mut memo.prev[s], book, format, side, changes, n);
            }
            let kept = &mut memo.prev[s];
            let have = kept.len();
            if have < n {
                let rest = match kept.last() {
                    Some(r) => book.iter_after(side, r.px),
                    None => book.iter(side),
                };
                for l in rest.take(n - have) {
                    kept.push(self.render_level(format, side, l.px_tick, l.qty_lots, None));
                }
            }
        }
        self.hash_kept(memo, format)
    }

    /// [`Checksummer::patched`] on one side's `kept` levels, one change (best first) at a
    /// time, in place; the refill is left to the caller.
    ///
    /// `kept` stays exactly the side's levels at a bound or better, and at most `n` (its
    /// capacity: no allocation): at first the `n`-th price (every price when there are fewer);
    /// when an insert pushes the last level out, just better than that level. A change
    /// beyond the bound is left to the refill, so `kept` stays a prefix of the side, and the
    /// refill takes the levels that follow it.
    fn patch_in_place(
        &mut self,
        kept: &mut Vec<Rendered>,
        book: &Ladder,
        format: MemoFormat,
        side: Side,
        changes: &[i64],
        n: usize,
    ) {
        let mut bound = kept.get(n - 1).map(|r| r.px);
        // The changes come best first, so the place of each is found from the last's.
        let mut at = 0;
        for &px in changes {
            if bound.is_some_and(|b| is_better(side, b, px)) {
                break;
            }
            while kept.get(at).is_some_and(|r| is_better(side, r.px, px)) {
                at += 1;
            }
            let qty = book.qty_at(side, px);
            match kept.get(at) {
                Some(r) if r.px == px => {
                    if qty == 0 {
                        kept.remove(at);
                    } else {
                        if r.qty != qty {
                            let was = *r;
                            kept[at] = self.render_level(format, side, px, qty, Some(&was));
                        }
                        at += 1;
                    }
                }
                _ if qty == 0 => {}
                // Past the last level of a full memo: so are the changes after it.
                None if at >= n => break,
                _ => {
                    // The last level is pushed out first, so `kept` never holds more than `n`.
                    if kept.len() >= n {
                        if let Some(out) = kept.pop() {
                            // Every level better than the one pushed out is still held.
                            let step = if side == Side::Bid { 1 } else { -1 };
                            bound = Some(out.px.saturating_add(step));
                        }
                    }
                    let r = self.render_level(format, side, px, qty, None);
                    kept.insert(at, r);
                    at += 1;
                }
            }
        }
    }

    /// [`Checksummer::patched`] on one side's `kept` levels, merged with all the `changes`
    /// (best first) into a new vector in one pass: runs of unchanged levels are copied whole,
    /// each level moved once. The refill is left to the caller.
    ///
    /// The side's levels at the memo's `n`-th price or better (every price when it had
    /// fewer) are now `kept`'s, changed as logged: the merge's, up to that price. Every level
    /// between the last of them and that price is among them, so the refill, which takes
    /// the book's levels after the last, continues them exactly.
    fn patch_merged(
        &mut self,
        kept: &mut Vec<Rendered>,
        book: &Ladder,
        format: MemoFormat,
        side: Side,
        changes: &[i64],
        n: usize,
    ) {
        // Reserved for `n` levels, as `kept` (the two swap): no allocation.
        let mut next = std::mem::take(&mut self.next[0]);
        next.clear();
        let prev = &*kept;
        let bound = prev.get(n - 1).map(|r| r.px);
        let mut at = 0;
        for &px in changes {
            if bound.is_some_and(|b| is_better(side, b, px)) {
                break;
            }
            // The kept levels better than `px`, copied as one run; at most `n` levels.
            let run = prev[at..].iter().take_while(|r| is_better(side, r.px, px)).count();
            let end = at + run.min(n - next.len());
            next.extend_from_slice(&prev[at..end]);
            at = end;
            if next.len() >= n {
                break;
            }
            let was = prev.get(at).filter(|r| r.px == px);
            if was.is_some() {
                at += 1;
            }
            let qty = book.qty_at(side, px);
            match was {
                _ if qty == 0 => {}
                Some(r) if r.qty == qty => next.push(*r),
                _ => next.push(self.render_level(format, side, px, qty, was)),
            }
        }
        let end = prev.len().min(at + (n - next.len()));
        next.extend_from_slice(&prev[at..end]);
        self.next[0] = std::mem::replace(kept, next);
    }

    /// One level's text in `format` (`self.text` is scratch), kept; the price's text is
    /// copied from `was` (the level as kept before, at the same price) if it is kept.
    fn render_level(
        &mut self,
        format: MemoFormat,
        side: Side,
        px: i64,
        qty: i64,
        was: Option<&Rendered>,
    ) -> Rendered {
        self.text.clear();
        match was.filter(|r| r.len != NOT_KEPT) {
            Some(r) => self.text.extend_from_slice(&r.text[..usize::from(r.px_len)]),
            None => match format {
                MemoFormat::Kraken(tick, price_decimals, ..) => {
                    self.kraken_number(tick, px, price_decimals);
                }
                MemoFormat::Interleaved(tick, _, style, _) => {
                    write_number(tick, px, style, &mut self.text);
                }
            },
        }
        let px_len = self.text.len();
        match format {
            MemoFormat::Kraken(_, _, lot, qty_decimals) => {
                self.kraken_number(lot, qty, qty_decimals);
            }
            MemoFormat::Interleaved(_, lot, style, negative_asks) => {
                self.text.push(b':');
                let qty = if negative_asks && side == Side::Ask { -qty } else { qty };
                write_number(lot, qty, style, &mut self.text);
            }
        }
        Rendered::keep(px, qty, &self.text, px_len)
    }

    /// Hashes the text of `memo`'s kept levels in `format`'s order and records the CRC;
    /// `None` if a level's text was too long to keep.
    fn hash_kept(&mut self, memo: &mut LevelMemo, format: MemoFormat) -> Option<u32> {
        self.text.clear();
        let [first, second] = &memo.prev;
        if first.iter().chain(second).any(|r| r.len == NOT_KEPT) {
            return None;
        }
        match format {
            // Asks, then bids, no separator.
            MemoFormat::Kraken(..) => {
                first.iter().chain(second).for_each(|r| r.append_to(&mut self.text));
            }
            // Bid, ask, bid, ask…, separated by `:`.
            MemoFormat::Interleaved(..) => {
                for i in 0..first.len().max(second.len()) {
                    for r in [first.get(i), second.get(i)].into_iter().flatten() {
                        if !self.text.is_empty() {
                            self.text.push(b':');
                        }
                        r.append_to(&mut self.text);
                    }
                }
            }
        }
        let crc = crc32fast::hash(&self.text);
        memo.crc = Some(crc);
        self.reused = false;
        self.patched += 1;
        Some(crc)
    }

    fn kraken_number(&mut self, step: Step, units: i64, decimals: u8) {
        // The text with the point and leading zeros removed is the integer
        // `units × step × 10^decimals` ("0.00100000" → 100000; zero → nothing).
        if units >= 0 {
            // u64 arithmetic with a power table (u128 division and `pow` are slow).
            let (scale, d) = (usize::from(step.scale()), usize::from(decimals));
            let mag = (units as u64).checked_mul(step.mantissa());
            let n = match mag {
                Some(m) if d >= scale => POW10.get(d - scale).and_then(|p| m.checked_mul(*p)),
                Some(m) => POW10.get(scale - d).map(|p| m / p),
                None => None,
            };
            if let Some(n) = n {
                if n > 0 {
                    push_u64_padded(n, 1, &mut self.text);
                }
                return;
            }
        }
        let start = self.text.len();
        write_number(step, units, NumberStyle::Fixed(decimals), &mut self.text);
        // Remove the point, then the leading zeros ("0.00100000" → "100000").
        if let Some(dot) = self.text[start..].iter().position(|&c| c == b'.') {
            self.text.remove(start + dot);
        }
        let zeros = self.text[start..].iter().take_while(|&&c| c == b'0').count();
        self.text.drain(start..start + zeros);
    }

    /// OKX, signed, every level rendered. See the [module docs](self).
    pub fn okx(&mut self, book: &Ladder, tick: Step, lot: Step) -> i32 {
        self.interleaved(None, book, tick, lot, NumberStyle::Minimal, false)
    }

    /// OKX, signed, remembering the levels in `memo` (keep one per book). See the
    /// [module docs](self).
    pub fn okx_with(&mut self, memo: &mut LevelMemo, book: &Ladder, tick: Step, lot: Step) -> i32 {
        self.interleaved(Some((memo, true)), book, tick, lot, NumberStyle::Minimal, false)
    }

    /// Bitfinex (P0–P4 books), signed, every level rendered. See the [module docs](self).
    pub fn bitfinex(&mut self, book: &Ladder, tick: Step, lot: Step) -> i32 {
        self.interleaved(None, book, tick, lot, NumberStyle::Js, true)
    }

    /// Bitfinex, signed, remembering the levels in `memo` (keep one per book). See the
    /// [module docs](self).
    pub fn bitfinex_with(
        &mut self,
        memo: &mut LevelMemo,
        book: &Ladder,
        tick: Step,
        lot: Step,
    ) -> i32 {
        self.interleaved(Some((memo, true)), book, tick, lot, NumberStyle::Js, true)
    }

    /// The interleaved text's CRC, through `memo` if given; with `walk`, first walking the
    /// levels to see whether they are the memo's.
    fn interleaved(
        &mut self,
        memo: Option<(&mut LevelMemo, bool)>,
        book: &Ladder,
        tick: Step,
        lot: Step,
        style: NumberStyle,
        negative_asks: bool,
    ) -> i32 {
        let memo = match memo {
            Some((m, walk)) => {
                m.use_format(MemoFormat::Interleaved(tick, lot, style, negative_asks));
                if let Some(Some(crc)) = walk.then(|| m.unchanged(book, [Side::Bid, Side::Ask], 25))
                {
                    self.reused = true;
                    return crc as i32;
                }
                Some(m)
            }
            None => None,
        };
        self.reused = false;
        self.text.clear();
        // Room for the 25 levels, so the memo this becomes is patched without allocating.
        self.next.iter_mut().for_each(|v| {
            v.clear();
            v.reserve(25);
        });
        let mut at = [0usize; 2];
        let mut bids = book.top(Side::Bid, 25);
        let mut asks = book.top(Side::Ask, 25);
        loop {
            let (b, a) = (bids.next(), asks.next());
            if b.is_none() && a.is_none() {
                break;
            }
            for (s, side, l) in [(0, Side::Bid, b), (1, Side::Ask, a)] {
                let Some(l) = l else { continue };
                if !self.text.is_empty() {
                    self.text.push(b':');
                }
                let hit = match memo.as_deref() {
                    Some(m) => kept(&m.prev[s], &mut at[s], side, l.px_tick, l.qty_lots),
                    None => None,
                };
                if let Some(r) = hit {
                    r.append_to(&mut self.text);
                    self.next[s].push(*r);
                    continue;
                }
                let start = self.text.len();
                write_number(tick, l.px_tick, style, &mut self.text);
                let px_len = self.text.len() - start;
                self.text.push(b':');
                let qty = if negative_asks && side == Side::Ask { -l.qty_lots } else { l.qty_lots };
                write_number(lot, qty, style, &mut self.text);
                if memo.is_some() {
                    let text = &self.text[start..];
                    self.next[s].push(Rendered::keep(l.px_tick, l.qty_lots, text, px_len));
                }
            }
        }
        let crc = crc32fast::hash(&self.text);
        if let Some(m) = memo {
            std::mem::swap(&mut m.prev, &mut self.next);
            m.crc = Some(crc);
            m.mark = 0;
        }
        crc as i32
    }

    /// [`Checksummer::okx_with`] or [`Checksummer::bitfinex_with`] (`bitfinex`) for a book
    /// `memo` is kept for alone, marked as in [`Checksummer::kraken_marked`].
    pub(crate) fn interleaved_marked(
        &mut self,
        memo: &mut LevelMemo,
        book: &mut Ladder,
        tick: Step,
        lot: Step,
        bitfinex: bool,
    ) -> i32 {
        let (style, negative_asks) =
            if bitfinex { (NumberStyle::Js, true) } else { (NumberStyle::Minimal, false) };
        let format = MemoFormat::Interleaved(tick, lot, style, negative_asks);
        let crc = self.marked(memo, book, format, [Side::Bid, Side::Ask], 25, |c, memo, book| {
            c.interleaved(Some((memo, false)), book, tick, lot, style, negative_asks) as u32
        });
        crc as i32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(step: &str, units: i64, style: NumberStyle) -> String {
        let mut v = Vec::new();
        write_number(Step::parse(step).unwrap(), units, style, &mut v);
        String::from_utf8(v).unwrap()
    }

    #[test]
    fn number_styles() {
        assert_eq!(text("0.00000001", 100_000, NumberStyle::Fixed(8)), "0.00100000");
        assert_eq!(text("0.1", 452_852, NumberStyle::Fixed(1)), "45285.2");
        assert_eq!(text("0.1", 452_852, NumberStyle::Fixed(5)), "45285.20000");
        assert_eq!(text("1", 7, NumberStyle::Fixed(2)), "7.00");
        assert_eq!(text("0.1", 33_660, NumberStyle::Minimal), "3366");
        assert_eq!(text("0.1", 33_661, NumberStyle::Minimal), "3366.1");
        assert_eq!(text("0.0001", 123, NumberStyle::Minimal), "0.0123");
        assert_eq!(text("0.00000001", 0, NumberStyle::Minimal), "0");
        assert_eq!(text("0.00000001", 10, NumberStyle::Js), "1e-7");
        assert_eq!(text("0.00000001", 100, NumberStyle::Js), "0.000001");
        assert_eq!(text("0.000000001", 15, NumberStyle::Js), "1.5e-8");
        assert_eq!(text("0.00000001", -25, NumberStyle::Js), "-2.5e-7");
        assert_eq!(text("0.1", 64_431, NumberStyle::Js), "6443.1");
        assert_eq!(text("1", 1_000_000_000_000_000_000, NumberStyle::Js), "1000000000000000000");
        assert_eq!(text("0.00000001", -526_056_135, NumberStyle::Js), "-5.26056135");
        // Extremes never panic.
        let _ = text("0.000000000000000001", i64::MIN, NumberStyle::Js);
        let _ = text("1000000000", i64::MAX, NumberStyle::Fixed(18));
        let _ = text("0.000000000000000001", i64::MAX, NumberStyle::Fixed(3));
    }

    #[test]
    fn kraken_v2_documented_snapshot() {
        let tick = Step::parse("0.1").unwrap();
        let lot = Step::parse("0.00000001").unwrap();
        let bids = [
            ("45283.5", "0.10000000"),
            ("45283.4", "1.54582015"),
            ("45282.1", "0.10000000"),
            ("45281.0", "0.10000000"),
            ("45280.3", "1.54592586"),
            ("45279.0", "0.07990000"),
            ("45277.6", "0.03310103"),
            ("45277.5", "0.30000000"),
            ("45277.3", "1.54602737"),
            ("45276.6", "0.15445238"),
        ];
        let asks = [
            ("45285.2", "0.00100000"),
            ("45286.4", "1.54571953"),
            ("45286.6", "1.54571109"),
            ("45289.6", "1.54560911"),
            ("45290.2", "0.15890660"),
            ("45291.8", "1.54553491"),
            ("45294.7", "0.04454749"),
            ("45296.1", "0.35380000"),
            ("45297.5", "0.09945542"),
            ("45299.5", "0.18772827"),
        ];
        let mut book = Ladder::new();
        for (side, levels) in [(Side::Bid, &bids), (Side::Ask, &asks)] {
            for (p, q) in levels.iter() {
                book.set(side, tick.units(p.as_bytes()).unwrap(), lot.units(q.as_bytes()).unwrap());
            }
        }
        let mut c = Checksummer::new();
        assert_eq!(c.kraken(&book, tick, 1, lot, 8), 3_310_070_434);
        assert!(c.last_text().starts_with(b"452852100000"));
    }

    #[test]
    fn okx_documented_string() {
        let tick = Step::parse("0.1").unwrap();
        let lot = Step::ONE;
        let mut book = Ladder::new();
        book.set(Side::Bid, 33_661, 7);
        book.set(Side::Bid, 33_660, 6);
        book.set(Side::Ask, 33_668, 9);
        book.set(Side::Ask, 33_680, 8);
        let mut c = Checksummer::new();
        let got = c.okx(&book, tick, lot);
        assert_eq!(c.last_text(), b"3366.1:7:3366.8:9:3366:6:3368:8");
        assert_eq!(got, crc32fast::hash(b"3366.1:7:3366.8:9:3366:6:3368:8") as i32);
        // One side shorter than the other: missing entries omitted.
        book.set(Side::Ask, 33_680, 0);
        c.okx(&book, tick, lot);
        assert_eq!(c.last_text(), b"3366.1:7:3366.8:9:3366:6");
    }

    #[test]
    fn bitfinex_negative_asks_and_empty_book() {
        let tick = Step::parse("0.1").unwrap();
        let lot = Step::parse("0.00000001").unwrap();
        let mut book = Ladder::new();
        let mut c = Checksummer::new();
        assert_eq!(c.bitfinex(&book, tick, lot), crc32fast::hash(b"") as i32);
        book.set(Side::Bid, 64_430, 526_056_135);
        book.set(Side::Ask, 64_431, 10_000_000);
        c.bitfinex(&book, tick, lot);
        assert_eq!(c.last_text(), b"6443:5.26056135:6443.1:-0.1");
    }

    /// `i64::MAX` is a key like any other (an ask at that price, a bid at `i64::MIN`): a
    /// level set there, or cut from there, after the mark is a change, on a side with fewer
    /// levels than the checksum's depth, where any change reaches the text.
    /// A change at the top, one deep inside the checksummed levels, a delete that pulls the
    /// next level in, and a side with fewer levels than the checksum covers: each CRC comes
    /// from the log of changes, and equals a fresh rendering's.
    #[test]
    fn changes_within_the_checksummed_levels_are_patched_in() {
        let (tick, lot) = (Step::parse("0.1").unwrap(), Step::parse("0.001").unwrap());
        for format in 0..3 {
            let mut book = Ladder::new();
            for i in 0..40 {
                book.set(Side::Bid, 1_000 - 2 * i, 5 + i);
                book.set(Side::Ask, 1_001 + 2 * i, 7 + i);
            }
            book.set(Side::Ask, 2_000, 1);
            let (mut memo, mut c) = (LevelMemo::default(), Checksummer::new());
            let mut check = |book: &mut Ladder, memo: &mut LevelMemo| {
                let mut fresh = Checksummer::new();
                match format {
                    0 => {
                        let got = c.kraken_marked(memo, book, tick, 1, lot, 3);
                        assert_eq!(got, fresh.kraken(book, tick, 1, lot, 3));
                    }
                    f => {
                        let got = c.interleaved_marked(memo, book, tick, lot, f == 2);
                        let want = if f == 2 {
                            fresh.bitfinex(book, tick, lot)
                        } else {
                            fresh.okx(book, tick, lot)
                        };
                        assert_eq!(got, want);
                    }
                }
                assert_eq!(c.last_text(), fresh.last_text(), "format {format}");
                c.patched_count()
            };
            assert_eq!(check(&mut book, &mut memo), 0, "the first CRC is rendered");
            book.set(Side::Bid, 1_001, 3); // a new best bid, pushing the last one out
            assert_eq!(check(&mut book, &mut memo), 1);
            book.set(Side::Ask, 1_005, 9); // a size changed
            book.set(Side::Bid, 994, 0); // a delete: the next level comes in
            book.set(Side::Bid, 999, 4); // a new level between two
            assert_eq!(check(&mut book, &mut memo), 2);
            // More changes than are made in place on a side: merged.
            for (px, qty) in [(1_002, 1), (996, 0), (993, 2), (990, 0), (997, 6), (992, 8)] {
                book.set(Side::Bid, px, qty);
            }
            assert_eq!(check(&mut book, &mut memo), 3);
            book.truncate(Side::Ask, 3); // a cut is not logged: walked
            assert_eq!(check(&mut book, &mut memo), 3);
            book.set(Side::Ask, 1_001, 0); // fewer asks than the checksum covers
            book.set(Side::Ask, 1_100, 2);
            assert_eq!(check(&mut book, &mut memo), 4);
        }
    }

    /// Two inserts push the last two checksummed bids out, a delete makes room for one, and
    /// the level at the old last price changes: the next level is the better one pushed out,
    /// which the refill brings back, not the changed one.
    #[test]
    fn a_level_pushed_out_comes_back_before_a_worse_one() {
        let (tick, lot) = (Step::parse("0.1").unwrap(), Step::parse("0.001").unwrap());
        for (format, n) in [(0, 10), (1, 25), (2, 25)] {
            let mut book = Ladder::new();
            for i in 0..40 {
                book.set(Side::Bid, 1_000 - 2 * i, 5 + i);
                book.set(Side::Ask, 1_001 + 2 * i, 7 + i);
            }
            let (mut memo, mut c) = (LevelMemo::default(), Checksummer::new());
            let mut check = |book: &mut Ladder, memo: &mut LevelMemo| match format {
                0 => (
                    c.kraken_marked(memo, book, tick, 1, lot, 3),
                    Checksummer::new().kraken(book, tick, 1, lot, 3),
                    c.patched_count(),
                ),
                f => (
                    c.interleaved_marked(memo, book, tick, lot, f == 2) as u32,
                    if f == 2 {
                        Checksummer::new().bitfinex(book, tick, lot) as u32
                    } else {
                        Checksummer::new().okx(book, tick, lot) as u32
                    },
                    c.patched_count(),
                ),
            };
            let (got, want, _) = check(&mut book, &mut memo);
            assert_eq!(got, want);
            let last = 1_000 - 2 * (n - 1);
            book.set(Side::Bid, 995, 6);
            book.set(Side::Bid, 993, 6);
            book.set(Side::Bid, 998, 0);
            book.set(Side::Bid, last, 77);
            let (got, want, patched) = check(&mut book, &mut memo);
            assert_eq!((got, patched), (want, 1), "format {format}");
        }
    }

    #[test]
    fn a_change_at_the_extreme_key_is_a_change() {
        let (tick, lot) = (Step::parse("0.1").unwrap(), Step::parse("0.001").unwrap());
        for side in [Side::Ask, Side::Bid] {
            let mut book = Ladder::new();
            book.set(Side::Bid, 1_000, 1);
            book.set(Side::Ask, 1_100, 1);
            let (mut memo, mut c) = (LevelMemo::default(), Checksummer::new());
            let _ = c.interleaved_marked(&mut memo, &mut book, tick, lot, false);
            book.set(side, if side == Side::Ask { i64::MAX } else { i64::MIN }, 3);
            let got = c.interleaved_marked(&mut memo, &mut book, tick, lot, false);
            assert_eq!(got, Checksummer::new().okx(&book, tick, lot), "{side:?}: set");
            assert_eq!(book.truncate(side, 1), 1);
            let got = c.interleaved_marked(&mut memo, &mut book, tick, lot, false);
            assert_eq!(got, Checksummer::new().okx(&book, tick, lot), "{side:?}: cut");
        }
    }

    proptest::proptest! {
        #[test]
        fn minimal_text_parses_back(units in 0i64..i64::MAX, scale in 0u8..12) {
            let step = Step::from_decimals(scale).unwrap();
            let mut v = Vec::new();
            write_number(step, units, NumberStyle::Minimal, &mut v);
            proptest::prop_assert_eq!(step.units(&v), Ok(units));
        }

        /// The Kraken number fast path (one integer) equals the documented recipe applied to
        /// the fixed-decimals text: remove the point, then the leading zeros.
        #[test]
        fn kraken_number_is_the_stripped_fixed_text(
            units in 0i64..i64::MAX,
            mantissa in 1u64..1000,
            scale in 0u8..12,
            decimals in 0u8..14,
        ) {
            let step = Step::new(mantissa, scale).unwrap();
            let mut fixed = Vec::new();
            write_number(step, units, NumberStyle::Fixed(decimals), &mut fixed);
            let digits: Vec<u8> = fixed.into_iter().filter(|c| *c != b'.').collect();
            let zeros = digits.iter().take_while(|c| **c == b'0').count();
            let mut c = Checksummer::new();
            c.kraken_number(step, units, decimals);
            proptest::prop_assert_eq!(c.last_text(), &digits[zeros..]);
        }

        /// The remembered Kraken level texts never go stale: a checksummer reused across
        /// updates (and across two formats, as for two symbols) gives the text and CRC a new
        /// one gives.
        #[test]
        fn kraken_memo_equals_fresh_rendering(
            updates in proptest::collection::vec((proptest::bool::ANY, 0i64..40, 0i64..5, 0u8..2), 1..200)
        ) {
            let formats = [
                (Step::parse("0.1").unwrap(), 1u8, Step::parse("0.00000001").unwrap(), 8u8),
                (Step::parse("0.00001").unwrap(), 5u8, Step::parse("0.001").unwrap(), 3u8),
            ];
            let mut book = Ladder::new();
            let mut reused = Checksummer::new();
            for (bid, px, qty, f) in updates {
                let side = if bid { Side::Bid } else { Side::Ask };
                // Bids below asks: prices 1000..1040 and 1100..1140.
                let px = if bid { 1_000 + px } else { 1_100 + px };
                book.set(side, px, qty * 7);
                let (tick, pd, lot, qd) = formats[usize::from(f)];
                let got = reused.kraken(&book, tick, pd, lot, qd);
                let mut fresh = Checksummer::new();
                let want = fresh.kraken(&book, tick, pd, lot, qd);
                if !reused.reused {
                    proptest::prop_assert_eq!(reused.last_text(), fresh.last_text());
                }
                proptest::prop_assert_eq!(got, want);
            }
        }

        /// One memo per book, the books' updates interleaved through one checksummer (as
        /// the engine does): the same text and CRC as a fresh rendering every time.
        #[test]
        fn per_book_kraken_memos_equal_fresh_rendering(
            updates in proptest::collection::vec((0usize..3, proptest::bool::ANY, 0i64..40, 0i64..5), 1..200)
        ) {
            let (tick, lot) = (Step::parse("0.1").unwrap(), Step::parse("0.001").unwrap());
            let mut books = [Ladder::new(), Ladder::new(), Ladder::new()];
            let mut memos = [LevelMemo::default(), LevelMemo::default(), LevelMemo::default()];
            let mut shared = Checksummer::new();
            for (b, bid, px, qty) in updates {
                let side = if bid { Side::Bid } else { Side::Ask };
                let px = if bid { 1_000 + px } else { 1_100 + px };
                books[b].set(side, px, qty * 7);
                let got = shared.kraken_with(&mut memos[b], &books[b], tick, 1, lot, 3);
                let mut fresh = Checksummer::new();
                let want = fresh.kraken(&books[b], tick, 1, lot, 3);
                if !shared.reused {
                    proptest::prop_assert_eq!(shared.last_text(), fresh.last_text());
                }
                proptest::prop_assert_eq!(got, want);
            }
        }

        /// OKX and Bitfinex with one memo per book, the books' updates interleaved through
        /// one checksummer, a book switching venue format now and then: the same text and CRC
        /// as rendering every level.
        #[test]
        fn per_book_interleaved_memos_equal_fresh_rendering(
            updates in proptest::collection::vec(
                (0usize..3, proptest::bool::ANY, 0i64..60, 0i64..5, proptest::bool::ANY),
                1..300,
            )
        ) {
            let (tick, lot) = (Step::parse("0.1").unwrap(), Step::parse("0.00000001").unwrap());
            let mut books = [Ladder::new(), Ladder::new(), Ladder::new()];
            let mut memos = [LevelMemo::default(), LevelMemo::default(), LevelMemo::default()];
            let mut shared = Checksummer::new();
            for (b, bid, px, qty, okx) in updates {
                let side = if bid { Side::Bid } else { Side::Ask };
                let px = if bid { 1_000 + px } else { 1_100 + px };
                books[b].set(side, px, qty * 7);
                let mut fresh = Checksummer::new();
                let (got, want) = if okx {
                    (shared.okx_with(&mut memos[b], &books[b], tick, lot), fresh.okx(&books[b], tick, lot))
                } else {
                    (
                        shared.bitfinex_with(&mut memos[b], &books[b], tick, lot),
                        fresh.bitfinex(&books[b], tick, lot),
                    )
                };
                if !shared.reused {
                    proptest::prop_assert_eq!(shared.last_text(), fresh.last_text());
                }
                proptest::prop_assert_eq!(got, want);
            }
        }

        /// The engine's path: one memo per book, each book's state marked with its CRC, so
        /// an update worse than the checksummed depth is known to change nothing without a
        /// walk. Updates anywhere in books deeper than the depth, cuts from the worst end,
        /// a side cleared, a book replaced by a clone of another (with its memo), a memo used
        /// once unmarked on another book, the three venue formats: the same CRC as rendering
        /// every level, every time.
        #[test]
        fn marked_memos_equal_fresh_rendering(
            ops in proptest::collection::vec(
                (0usize..3, 0u8..12, proptest::bool::ANY, 0i64..60, 0i64..5, 0u8..3, 0usize..3),
                1..400,
            )
        ) {
            let (tick, lot) = (Step::parse("0.1").unwrap(), Step::parse("0.00000001").unwrap());
            let mut books = [Ladder::new(), Ladder::new(), Ladder::new()];
            let mut memos = [LevelMemo::default(), LevelMemo::default(), LevelMemo::default()];
            let mut shared = Checksummer::new();
            let (mut reused, mut rendered) = (0, 0);
            for (b, op, bid, px, qty, format, other) in ops {
                let side = if bid { Side::Bid } else { Side::Ask };
                match op {
                    0..=7 => {
                        let px = if bid { 1_000 + px } else { 1_100 + px };
                        books[b].set(side, px, qty * 7);
                    }
                    8 => {
                        books[b].truncate(side, 5 + (px % 30) as usize);
                    }
                    9 => books[b].clear_side(side),
                    10 if other != b => {
                        books[b] = books[other].clone();
                        memos[b] = memos[other].clone();
                    }
                    _ => {
                        // The memo goes through another book unmarked (its texts change).
                        let _ = shared.okx_with(&mut memos[b], &books[other], tick, lot);
                    }
                }
                let mut fresh = Checksummer::new();
                let (got, want) = match format {
                    0 => (
                        shared.kraken_marked(&mut memos[b], &mut books[b], tick, 1, lot, 8),
                        fresh.kraken(&books[b], tick, 1, lot, 8),
                    ),
                    f => {
                        let bitfinex = f == 2;
                        let got = shared.interleaved_marked(&mut memos[b], &mut books[b], tick, lot, bitfinex);
                        let want = if bitfinex {
                            fresh.bitfinex(&books[b], tick, lot)
                        } else {
                            fresh.okx(&books[b], tick, lot)
                        };
                        (got as u32, want as u32)
                    }
                };
                if shared.reused {
                    reused += 1;
                } else {
                    rendered += 1;
                    proptest::prop_assert_eq!(shared.last_text(), fresh.last_text());
                }
                proptest::prop_assert_eq!(got, want, "book {} op {}", b, op);
            }
            proptest::prop_assert!(reused + rendered > 0);
        }

        /// Levels changed within the checksummed depth, several between checksums (inserts
        /// pushing levels out, deletes pulling levels in from the book, sizes changed, cuts):
        /// each CRC equals a fresh rendering's, whether it came from the log of changes or
        /// a walk, in every format.
        #[test]
        fn patched_memos_equal_fresh_rendering(
            format in 0u8..3,
            rounds in proptest::collection::vec(
                proptest::collection::vec((proptest::bool::ANY, 0i64..60, 0i64..4, 0u8..40), 0..12),
                1..100,
            )
        ) {
            let (tick, lot) = (Step::parse("0.1").unwrap(), Step::parse("0.00000001").unwrap());
            let mut book = Ladder::new();
            let mut memo = LevelMemo::default();
            let mut shared = Checksummer::new();
            for round in rounds {
                for (bid, px, qty, op) in round {
                    let side = if bid { Side::Bid } else { Side::Ask };
                    match op {
                        0 => {
                            book.truncate(side, (px % 40) as usize);
                        }
                        1 => book.clear_side(side),
                        _ => {
                            let px = if bid { 1_000 + px } else { 1_050 + px };
                            book.set(side, px, qty * 3);
                        }
                    }
                }
                let mut fresh = Checksummer::new();
                let (got, want) = match format {
                    0 => (
                        shared.kraken_marked(&mut memo, &mut book, tick, 1, lot, 8),
                        fresh.kraken(&book, tick, 1, lot, 8),
                    ),
                    f => {
                        let bitfinex = f == 2;
                        let got = shared.interleaved_marked(&mut memo, &mut book, tick, lot, bitfinex);
                        let want = if bitfinex {
                            fresh.bitfinex(&book, tick, lot)
                        } else {
                            fresh.okx(&book, tick, lot)
                        };
                        (got as u32, want as u32)
                    }
                };
                if !shared.reused {
                    proptest::prop_assert_eq!(shared.last_text(), fresh.last_text());
                }
                proptest::prop_assert_eq!(got, want);
            }
        }

        /// A deep book whose updates land below the checksummed depth: each CRC after the
        /// first comes from the mark, with no walk and no rendering, and stays right.
        #[test]
        fn deep_updates_reuse_the_marked_crc(
            updates in proptest::collection::vec((proptest::bool::ANY, 30i64..200, 1i64..5), 1..100)
        ) {
            let (tick, lot) = (Step::parse("0.1").unwrap(), Step::parse("0.001").unwrap());
            let mut book = Ladder::new();
            for i in 0..30 {
                book.set(Side::Bid, 1_000 - i, 1);
                book.set(Side::Ask, 1_100 + i, 1);
            }
            let mut memo = LevelMemo::default();
            let mut shared = Checksummer::new();
            let first = shared.kraken_marked(&mut memo, &mut book, tick, 1, lot, 3);
            for (bid, depth, qty) in updates {
                let (side, px) = if bid { (Side::Bid, 1_000 - depth) } else { (Side::Ask, 1_100 + depth) };
                book.set(side, px, qty);
                let mark = book.marked();
                let got = shared.kraken_marked(&mut memo, &mut book, tick, 1, lot, 3);
                proptest::prop_assert!(shared.reused && book.marked() == mark, "rendered again");
                proptest::prop_assert_eq!(got, first);
                proptest::prop_assert_eq!(got, Checksummer::new().kraken(&book, tick, 1, lot, 3));
            }
        }

        /// Zero-padded digits, any width up to 20.
        #[test]
        fn padded_digits(v in 0u64..u64::MAX, width in 0usize..=20) {
            let mut got = b"x".to_vec();
            push_u64_padded(v, width, &mut got);
            let want = format!("x{v:0width$}");
            proptest::prop_assert_eq!(got, want.into_bytes());
        }

        /// The one-word texts equal the general path's, in both styles; the short path
        /// takes every magnitude under 10^15 at a scale up to 14.
        #[test]
        fn short_minimal_and_js_text_equal_the_general_path(
            m in proptest::prop_oneof![0u64..1_000, 0u64..10_000_000_000, 0u64..u64::MAX],
            zeros in 0u32..10,
            scale in 0u32..20,
        ) {
            let m = m.saturating_mul(10u64.saturating_pow(zeros));
            let mut short = Vec::new();
            let took = write_minimal_short(m, scale, &mut short);
            proptest::prop_assert_eq!(took, m < 1_000_000_000_000_000 && scale <= 14);
            let mut general = Vec::new();
            write_minimal_general(u128::from(m), scale, &mut general);
            if took {
                proptest::prop_assert_eq!(&short, &general);
            } else {
                proptest::prop_assert!(short.is_empty());
            }
            let mut minimal = Vec::new();
            write_minimal(u128::from(m), scale, &mut minimal);
            proptest::prop_assert_eq!(&minimal, &general);
            let (mut js, mut js_general) = (Vec::new(), Vec::new());
            write_js(u128::from(m), scale, &mut js);
            write_js_general(u128::from(m), scale, &mut js_general);
            proptest::prop_assert_eq!(js, js_general);
        }

        /// The u64 fast paths print what the u128 ones do.
        #[test]
        fn fast_digits_equal_slow_digits(v in 0u64..u64::MAX, scale in 0u32..19) {
            let mut fast = Vec::new();
            push_u128(u128::from(v), &mut fast);
            let mut slow = Vec::new();
            push_u128_slow(u128::from(v), &mut slow);
            proptest::prop_assert_eq!(&fast, &slow);
            let mut plain = Vec::new();
            write_plain(u128::from(v), scale, &mut plain);
            let p = 10u128.pow(scale);
            let mut want = Vec::new();
            push_u128_slow(u128::from(v) / p, &mut want);
            if scale > 0 {
                want.push(b'.');
                let frac = format!("{:0width$}", u128::from(v) % p, width = scale as usize);
                want.extend_from_slice(frac.as_bytes());
            }
            proptest::prop_assert_eq!(plain, want);
        }
    }
}

//! One side of a ladder, in "key" space where a smaller key is always a better price.
//!
//! Asks use `key = px_tick`; bids use `key = !px_tick` (bitwise not, `-px_tick - 1`), an
//! order-reversing bijection on `i64` that cannot overflow. One implementation then serves
//! both sides: the best level is the smallest key, and "worse" always means "larger key".
//!
//! # Layout
//!
//! - The **window** holds keys `base ..= base + W - 1` in a ring of `W` slots
//!   (`slot = key mod W`), so moving the window only touches the levels that enter or leave
//!   it, never the ones that stay. A quantity of 0 marks an empty slot; a [`Bitmap`] mirrors
//!   the occupied slots.
//! - The **overflow** holds every level worse than the window (`key >= base + W`), exactly,
//!   in a `Vec` sorted by descending key: its best level is at the end, where levels enter
//!   and leave when the window moves.
//!
//! # Invariants
//!
//! 1. No level is better than the window (`key < base` never stored).
//! 2. If the window is empty, the overflow is empty (so the best level, if any, is always in
//!    the window, at offset `best_off`).
//! 3. `base <= i64::MAX - (W - 1)`, so `base + W - 1` never overflows.
//! 4. `qty[slot] > 0` iff the bitmap has `slot` set; `window_len` counts them.

use super::bitmap::Bitmap;
use super::Applied;

/// `key` as [`SideBook::touched`] records it: `i64::MAX` means "nothing changed" there, so a
/// change at that key (an ask at `i64::MAX`, a bid at `i64::MIN`) counts as one a key better,
/// which can only make a checksum memo miss, never hit wrongly.
#[inline(always)]
fn touch_key(key: i64) -> i64 {
    key.min(i64::MAX - 1)
}

/// Sentinel for "no best level".
const NONE: usize = usize::MAX;

/// One side of the book in key space (see the module docs).
#[derive(Clone)]
pub(crate) struct SideBook {
    /// `W`, a power of two.
    window: usize,
    /// `W - 1`.
    mask: usize,
    /// The smallest key the window covers.
    base: i64,
    /// `slot(base)`: the ring slot of offset 0.
    slot_base: usize,
    /// Lots per slot, 0 when empty.
    qty: Box<[i64]>,
    /// Occupied slots.
    bits: Bitmap,
    /// Offset (`key - base`) of the best level, or [`NONE`].
    best_off: usize,
    /// Levels in the window.
    window_len: usize,
    /// Levels worse than the window, sorted by descending key (best at the end).
    overflow: Vec<(i64, i64)>,
    /// The smallest key whose level may have changed (set, deleted, cut or cleared) since
    /// [`SideBook::untouch`]; `i64::MIN` for a new side, `i64::MAX` when none has.
    touched: i64,
    /// Keys set at or better than `watch` since [`SideBook::untouch`]: the first `logged`
    /// entries. `logged` is `u8::MAX` when a change there was not logged (more than
    /// [`CHANGE_LOG`] of them, a cut, a clear, a new side).
    log: [i64; CHANGE_LOG],
    /// See `log`.
    logged: u8,
    /// The worst key whose changes are logged (`i64::MIN`: in effect none).
    watch: i64,
}

/// How many changed keys a side logs between marks (an OKX update changes up to about 25
/// levels within its checksummed 25).
pub(crate) const CHANGE_LOG: usize = 32;

impl SideBook {
    /// An empty side with a window of `window` slots (a power of two, at least 64).
    pub(crate) fn new(window: usize) -> SideBook {
        debug_assert!(window.is_power_of_two() && window >= 64);
        SideBook {
            window,
            mask: window - 1,
            base: 0,
            slot_base: 0,
            qty: super::resident_zeroed(window),
            bits: Bitmap::new(window),
            best_off: NONE,
            window_len: 0,
            overflow: Vec::new(),
            touched: i64::MIN,
            log: [0; CHANGE_LOG],
            logged: u8::MAX,
            watch: i64::MIN,
        }
    }

    /// Replaces the window of an **empty** side by a new, resident one of `window` slots (a
    /// power of two, at least 64); keeps the overflow's capacity.
    pub(crate) fn regrow(&mut self, window: usize) {
        debug_assert!(self.len() == 0);
        debug_assert!(window.is_power_of_two() && window >= 64);
        self.window = window;
        self.mask = window - 1;
        self.base = 0;
        self.slot_base = 0;
        self.qty = super::resident_zeroed(window);
        self.bits = Bitmap::new(window);
        self.best_off = NONE;
        self.window_len = 0;
        self.overflow.clear();
        self.touched = i64::MIN;
        self.logged = u8::MAX;
    }

    /// `W`, the window size in slots.
    #[inline]
    pub(crate) fn window(&self) -> usize {
        self.window
    }

    /// The keys the window covers, `(base, base + W - 1)`.
    pub(crate) fn key_range(&self) -> (i64, i64) {
        (self.base, self.key_at(self.window - 1))
    }

    /// The largest allowed base (invariant 3).
    #[inline]
    fn max_base(&self) -> i64 {
        // window <= 2^26, so this fits and cannot overflow.
        i64::MAX - (self.window as i64 - 1)
    }

    /// Ring slot of `key`.
    #[inline]
    fn slot(&self, key: i64) -> usize {
        // Two's complement: `key mod W` for any key, negative included (W divides 2^64).
        (key as u64 as usize) & self.mask
    }

    /// Offset of `key` in the window, if it is inside.
    #[inline]
    fn offset(&self, key: i64) -> Option<usize> {
        // Exact with wrapping arithmetic because `base <= i64::MAX - (W - 1)` (invariant 3):
        // any key outside the window lands at an offset >= W modulo 2^64.
        let off = key.wrapping_sub(self.base) as u64;
        if off < self.window as u64 {
            Some(off as usize)
        } else {
            None
        }
    }

    /// Key at window offset `off` (`off < W`).
    #[inline]
    fn key_at(&self, off: usize) -> i64 {
        // Cannot overflow: base + off <= base + W - 1 <= i64::MAX.
        self.base + off as i64
    }

    /// Ring slot of window offset `off`.
    #[inline]
    fn slot_of_off(&self, off: usize) -> usize {
        (self.slot_base + off) & self.mask
    }

    /// Offset of the first occupied window slot at offset `>= from`, if any.
    #[inline]
    pub(crate) fn next_off(&self, from: usize) -> Option<usize> {
        if from >= self.window {
            return None;
        }
        let sb = self.slot_base;
        let s = self.slot_of_off(from);
        if s >= sb {
            // Offsets `from..` map to slots `s..W`, then wrap to `0..sb`.
            if let Some(p) = self.bits.next_at_or_after(s) {
                return Some(p - sb);
            }
            match self.bits.next_at_or_after(0) {
                Some(p) if p < sb => Some(p + self.window - sb),
                _ => None,
            }
        } else {
            // Already wrapped: offsets `from..` map to slots `s..sb`.
            match self.bits.next_at_or_after(s) {
                Some(p) if p < sb => Some(p + self.window - sb),
                _ => None,
            }
        }
    }

    /// Offset of the last occupied window slot at offset `<= from`, if any (`from` may be
    /// past the window: the search then starts from its worst slot). The mirror of
    /// [`next_off`](Self::next_off).
    #[inline]
    pub(crate) fn prev_off(&self, from: usize) -> Option<usize> {
        let from = from.min(self.window - 1);
        let sb = self.slot_base;
        let s = self.slot_of_off(from);
        if s >= sb {
            // Offsets `0..=from` map to slots `sb..=s`.
            match self.bits.prev_at_or_before(s) {
                Some(p) if p >= sb => Some(p - sb),
                _ => None,
            }
        } else {
            // Wrapped: offsets `from` down to `W - sb` map to slots `s` down to 0, then
            // offsets `W - sb - 1` down to 0 to slots `W - 1` down to `sb`.
            if let Some(p) = self.bits.prev_at_or_before(s) {
                return Some(p + self.window - sb);
            }
            match self.bits.prev_at_or_before(self.window - 1) {
                Some(p) if p >= sb => Some(p - sb),
                _ => None,
            }
        }
    }

    /// The best level as `(key, qty)`.
    #[inline]
    pub(crate) fn best(&self) -> Option<(i64, i64)> {
        if self.best_off == NONE {
            return None;
        }
        let q = self.qty[self.slot_of_off(self.best_off)];
        debug_assert!(q > 0);
        Some((self.key_at(self.best_off), q))
    }

    /// Makes the overflow's capacity at least `levels`, exactly `levels` when it grows (no
    /// amortised doubling: a snapshot a few levels larger than the last must not double a
    /// capacity that stays reserved for the book's lifetime).
    #[inline]
    pub(crate) fn reserve(&mut self, levels: usize) {
        let have = self.overflow.capacity();
        if have < levels {
            self.overflow.reserve_exact(levels - self.overflow.len());
        }
    }

    /// Number of levels on this side.
    pub(crate) fn len(&self) -> usize {
        self.window_len + self.overflow.len()
    }

    /// Levels held in the array window / in the overflow store.
    pub(crate) fn split_len(&self) -> (usize, usize) {
        (self.window_len, self.overflow.len())
    }

    /// Sets the level at `key` to `qty` lots (`0` deletes). `qty` must be non-negative.
    #[inline]
    pub(crate) fn set(&mut self, key: i64, qty: i64) -> Applied {
        debug_assert!(qty >= 0);
        self.touched = self.touched.min(touch_key(key));
        if key <= self.watch {
            self.log_change(key);
        }
        match self.offset(key) {
            Some(off) => self.set_in_window(off, qty),
            None => self.set_outside(key, qty),
        }
    }

    #[inline]
    fn set_in_window(&mut self, off: usize, qty: i64) -> Applied {
        let slot = self.slot_of_off(off);
        let old = self.qty[slot];
        if qty == 0 {
            if old == 0 {
                return Applied::DeleteMissing;
            }
            self.qty[slot] = 0;
            self.bits.clear(slot);
            self.window_len -= 1;
            if off == self.best_off {
                self.recover_best(off);
            }
            Applied::Deleted
        } else {
            self.qty[slot] = qty;
            if old != 0 {
                return Applied::Updated;
            }
            self.bits.set(slot);
            self.window_len += 1;
            if off < self.best_off {
                self.best_off = off;
            }
            Applied::Inserted
        }
    }

    /// The best level at offset `emptied` was just removed: find the next one.
    #[inline]
    fn recover_best(&mut self, emptied: usize) {
        match self.next_off(emptied + 1) {
            Some(off) => {
                self.best_off = off;
                // Hysteresis: only once the best has walked into the worst quarter of the
                // window does the window follow it (see `Ladder` docs).
                if off > self.window - self.window / 4 && !self.overflow.is_empty() {
                    self.recentre_on(self.key_at(off));
                }
            }
            None => {
                self.best_off = NONE;
                // Invariant 2: an empty window pulls the overflow's best level in.
                if let Some(&(key, _)) = self.overflow.last() {
                    self.recentre_on(key);
                }
            }
        }
    }

    #[cold]
    #[inline(never)]
    fn set_outside(&mut self, key: i64, qty: i64) -> Applied {
        if key < self.base || self.window_len == 0 {
            // Better than the window (nothing is stored there: invariant 1), or the side is
            // empty (invariant 2): the window moves to the new level.
            if qty == 0 {
                debug_assert!(self.window_len != 0 || self.overflow.is_empty());
                return Applied::DeleteMissing;
            }
            self.recentre_on(key);
            // The new window always holds `key` (its base is `key - W/2`, clamped so that
            // `key` stays inside); `None` is unreachable but must not panic.
            let off = self.offset(key);
            debug_assert!(off.is_some(), "recentred window misses its key");
            return match off {
                Some(off) => self.set_in_window(off, qty),
                None => Applied::Rejected,
            };
        }
        // Worse than the window: the overflow store, sorted by descending key.
        let found = self.overflow.binary_search_by(|&(k, _)| key.cmp(&k));
        match (found, qty) {
            (Ok(i), 0) => {
                self.overflow.remove(i);
                Applied::Deleted
            }
            (Ok(i), q) => {
                self.overflow[i].1 = q;
                Applied::Updated
            }
            (Err(_), 0) => Applied::DeleteMissing,
            (Err(i), q) => {
                self.overflow.insert(i, (key, q));
                Applied::Inserted
            }
        }
    }

    /// Moves the window so that `key` sits at its middle (clamped at the edges of `i64`),
    /// moving levels between the array and the overflow exactly.
    ///
    /// Precondition: `key` is at most the best key (`key <= best`), so no stored level ends up
    /// better than the new window.
    #[cold]
    #[inline(never)]
    fn recentre_on(&mut self, key: i64) {
        let half = (self.window / 2) as i64;
        let new_base = key.saturating_sub(half).min(self.max_base());
        debug_assert!(self.best().is_none_or(|(b, _)| new_base <= b));
        let old_base = self.base;
        let w = self.window as i128;

        // 1. Window levels that fall past the new window's worst edge go to the overflow.
        //    They are all better than every overflow level, so they are appended (in
        //    descending order) at its end.
        let first_leaving = (new_base as i128 + w - old_base as i128).clamp(0, w) as usize;
        let start = self.overflow.len();
        let mut off = first_leaving;
        while let Some(o) = self.next_off(off) {
            let slot = self.slot_of_off(o);
            self.overflow.push((self.key_at(o), self.qty[slot]));
            self.qty[slot] = 0;
            self.bits.clear(slot);
            self.window_len -= 1;
            off = o + 1;
        }
        self.overflow[start..].reverse();

        // 2. Move the window. Levels that stay keep their ring slots.
        self.base = new_base;
        self.slot_base = self.slot(new_base);

        // 3. Overflow levels now inside the window come in, best first.
        while let Some(&(k, q)) = self.overflow.last() {
            let Some(off) = self.offset(k) else { break };
            self.overflow.pop();
            let slot = self.slot_of_off(off);
            debug_assert_eq!(self.qty[slot], 0);
            self.qty[slot] = q;
            self.bits.set(slot);
            self.window_len += 1;
        }
        debug_assert!(self.overflow.last().is_none_or(|&(k, _)| k > new_base));

        self.best_off = self.next_off(0).unwrap_or(NONE);
    }

    /// Keeps the best `depth` levels and removes the others, worst first, from the far end:
    /// the overflow's worst levels (the front of its `Vec`, one `drain`), then the window's,
    /// found by reverse bitmap searches from its worst slot. Returns how many were removed.
    ///
    /// The cost grows with the levels removed (plus one `memmove` of the overflow levels that
    /// stay, if any were removed there), not with `depth`. The window never moves: with
    /// `depth >= 1` the best level stays, and with `depth == 0` the side is emptied in place.
    pub(crate) fn truncate(&mut self, depth: usize) -> usize {
        let len = self.len();
        if len <= depth {
            return 0;
        }
        let mut excess = len - depth;
        // 1. The overflow holds the worst levels, sorted worst first.
        let from_overflow = excess.min(self.overflow.len());
        if let Some(&(best_cut, _)) =
            from_overflow.checked_sub(1).and_then(|i| self.overflow.get(i))
        {
            self.touched = self.touched.min(touch_key(best_cut));
            if best_cut <= self.watch {
                self.logged = u8::MAX;
            }
        }
        self.overflow.drain(..from_overflow);
        excess -= from_overflow;
        // 2. Then the window, from its worst occupied slot towards the best.
        let mut from = self.window - 1;
        while excess > 0 {
            let Some(off) = self.prev_off(from) else {
                debug_assert!(false, "window_len counts more levels than the bitmap holds");
                break;
            };
            let slot = self.slot_of_off(off);
            self.qty[slot] = 0;
            self.bits.clear(slot);
            self.window_len -= 1;
            excess -= 1;
            self.touched = self.touched.min(touch_key(self.key_at(off)));
            if self.key_at(off) <= self.watch {
                self.logged = u8::MAX;
            }
            if off == 0 {
                break;
            }
            from = off - 1;
        }
        if self.window_len == 0 {
            // `depth == 0`: the best went too (the overflow had gone before it).
            debug_assert!(self.overflow.is_empty());
            self.best_off = NONE;
        }
        len - depth - excess
    }

    /// Removes every level; keeps the array and the overflow's capacity.
    pub(crate) fn clear(&mut self) {
        if self.window_len * 8 < self.window {
            // Under one slot in 8 occupied: zero just those, found through the bitmap (about
            // 1 ns a level) rather than all `8 × W` bytes of the array (512 KiB at the default
            // window, ~11 µs, and the cache with it): `cargo bench -p ladderfeed-peers --bench
            // ladder -- ladder_clear`.
            let qty = &mut self.qty;
            self.bits.drain(|slot| qty[slot] = 0);
        } else {
            self.qty.fill(0);
            self.bits.clear_all();
        }
        self.window_len = 0;
        self.best_off = NONE;
        self.overflow.clear();
        self.touched = i64::MIN;
        self.logged = u8::MAX;
    }

    /// Records a change at `key` (at or better than `watch`) in the log.
    #[inline]
    fn log_change(&mut self, key: i64) {
        match self.log.get_mut(usize::from(self.logged)) {
            Some(k) => {
                *k = key;
                self.logged += 1;
            }
            None => self.logged = u8::MAX,
        }
    }

    /// The keys set at or better than the watched key since [`SideBook::untouch`] (each
    /// change once, in order; a key may repeat), or `None` if some change there was not
    /// logged (more than [`CHANGE_LOG`], a cut, a clear).
    #[inline]
    pub(crate) fn changes(&self) -> Option<&[i64]> {
        self.log.get(..usize::from(self.logged))
    }

    /// The lots at `key` (0: no level).
    #[inline]
    pub(crate) fn qty_at(&self, key: i64) -> i64 {
        match self.offset(key) {
            Some(off) => self.qty[self.slot_of_off(off)],
            None => match self.overflow.binary_search_by(|&(k, _)| key.cmp(&k)) {
                Ok(i) => self.overflow[i].1,
                Err(_) => 0,
            },
        }
    }

    /// The smallest key whose level may have changed since [`SideBook::untouch`]
    /// (`i64::MAX`: none; `i64::MIN`: the side is new or was cleared since).
    #[inline]
    pub(crate) fn touched(&self) -> i64 {
        self.touched
    }

    /// Starts counting changes afresh: [`SideBook::touched`] is `i64::MAX` until the next.
    #[inline]
    pub(crate) fn untouch(&mut self) {
        self.touched = i64::MAX;
        self.logged = 0;
    }

    /// Logs, from now on, the changes at keys up to `watch` (see [`SideBook::changes`]).
    #[inline]
    pub(crate) fn watch(&mut self, watch: i64) {
        self.watch = watch;
    }

    /// Iterates the side best first, as `(key, qty)`.
    pub(crate) fn iter(&self) -> SideIter<'_> {
        SideIter { side: self, bits: 0, word: 0, next_off: 0, overflow_left: self.overflow.len() }
    }

    /// Iterates the levels worse than `key` (larger keys), best first.
    pub(crate) fn iter_after(&self, key: i64) -> SideIter<'_> {
        let overflow_left = self.overflow.partition_point(|&(k, _)| k > key);
        let next_off = match key.checked_add(1) {
            None => self.window,
            Some(from) if from <= self.base => 0,
            Some(from) => match self.offset(from) {
                Some(off) => off,
                None => self.window,
            },
        };
        SideIter { side: self, bits: 0, word: 0, next_off, overflow_left }
    }
}

/// Best-first iterator over a [`SideBook`]: the window, then the overflow.
///
/// Levels in the same 64-slot leaf word as the one just yielded come from a copy of that word
/// (one `trailing_zeros` each); only when it is used up does a bitmap search find the next
/// level. Reading the top 10 of a tight book (a checksum) is then mostly bit arithmetic.
#[derive(Clone)]
pub(crate) struct SideIter<'a> {
    side: &'a SideBook,
    /// Occupied slots of leaf word `word` still to yield, in window order: only slots after
    /// the last one yielded, and before the ring's end (slot `slot_base`) when wrapped.
    bits: u64,
    /// The leaf word `bits` was taken from.
    word: usize,
    /// Next window offset to search from once `bits` is empty (`>= W` once the window is done).
    next_off: usize,
    /// Overflow entries not yet yielded (they are taken from the end).
    overflow_left: usize,
}

impl SideIter<'_> {
    /// Yields the level in ring slot `slot`.
    #[inline]
    fn level_at_slot(&self, slot: usize) -> (i64, i64) {
        let s = self.side;
        // Offsets are `< W`, so the wrapped difference masked to `W - 1` is the offset.
        let off = slot.wrapping_sub(s.slot_base) & s.mask;
        (s.key_at(off), s.qty[slot])
    }
}

impl Iterator for SideIter<'_> {
    type Item = (i64, i64);

    #[inline]
    fn next(&mut self) -> Option<(i64, i64)> {
        if self.bits != 0 {
            let slot = (self.word << 6) | self.bits.trailing_zeros() as usize;
            self.bits &= self.bits - 1;
            return Some(self.level_at_slot(slot));
        }
        let s = self.side;
        if self.next_off < s.window {
            if let Some(o) = s.next_off(self.next_off) {
                let slot = s.slot_of_off(o);
                let sb = s.slot_base;
                let w = slot >> 6;
                // The word's slots after this one (a word never spans the ring's end at W)...
                let mut bits = s.bits.leaf_word(w) & ((u64::MAX << (slot & 63)) << 1);
                let word_end = (w << 6) + 64;
                self.next_off = if slot >= sb {
                    word_end - sb
                } else {
                    // ...and, in the wrapped part, only those before `slot_base`: the ones
                    // from it on were the window's first offsets. The search resumes past W
                    // (done) if this word holds `slot_base`.
                    if word_end > sb {
                        bits &= (1u64 << (sb & 63)) - 1;
                    }
                    word_end + s.window - sb
                };
                self.bits = bits;
                self.word = w;
                return Some((s.key_at(o), s.qty[slot]));
            }
            self.next_off = s.window;
        }
        if self.overflow_left == 0 {
            return None;
        }
        self.overflow_left -= 1;
        Some(s.overflow[self.overflow_left])
    }
}

//! A hierarchical (64-ary) occupancy bitmap over a power-of-two number of slots.
//!
//! Level 0 has one bit per slot; each bit of level `k + 1` says whether word `i` of level `k`
//! is non-zero. With 64-bit words a 2^16-slot map has three levels (1024, 16 and 1 words), so
//! "the first set slot at or after `i`" costs at most one masked word per level on the way up
//! and one `trailing_zeros` per level on the way down, whether that slot is 1 or 60,000 slots
//! away. [`Bitmap::prev_at_or_before`] is the same search towards slot 0 (`leading_zeros`).

/// Occupancy bits for `len` slots (`len` a power of two, at least 64).
#[derive(Clone)]
pub(crate) struct Bitmap {
    /// `levels[0]` is the leaf level (one bit per slot); the last level is a single word.
    /// Invariant: bit `j` of `levels[k + 1]` is set iff `levels[k][j] != 0`.
    levels: Box<[Box<[u64]>]>,
}

impl Bitmap {
    /// An empty map of `len` slots. `len` must be a power of two and at least 64.
    pub(crate) fn new(len: usize) -> Bitmap {
        debug_assert!(len.is_power_of_two() && len >= 64);
        let mut levels = Vec::new();
        let mut words = len / 64;
        loop {
            levels.push(super::resident_zeroed(words.max(1)));
            if words <= 1 {
                break;
            }
            words = words.div_ceil(64);
        }
        Bitmap { levels: levels.into_boxed_slice() }
    }

    /// Marks slot `i` occupied.
    #[inline]
    pub(crate) fn set(&mut self, mut i: usize) {
        for level in self.levels.iter_mut() {
            let w = &mut level[i >> 6];
            let was_empty = *w == 0;
            *w |= 1u64 << (i & 63);
            if !was_empty {
                return;
            }
            i >>= 6;
        }
    }

    /// Marks slot `i` empty.
    #[inline]
    pub(crate) fn clear(&mut self, mut i: usize) {
        for level in self.levels.iter_mut() {
            let w = &mut level[i >> 6];
            *w &= !(1u64 << (i & 63));
            if *w != 0 {
                return;
            }
            i >>= 6;
        }
    }

    /// The leaf word holding slots `64 * w .. 64 * w + 64` (bit `j` = slot `64 * w + j`).
    #[inline]
    pub(crate) fn leaf_word(&self, w: usize) -> u64 {
        self.levels[0][w]
    }

    /// Whether slot `i` is occupied.
    #[cfg(test)]
    pub(crate) fn get(&self, i: usize) -> bool {
        self.levels[0][i >> 6] & (1u64 << (i & 63)) != 0
    }

    /// The first occupied slot at or after `i`, if any (`i` may be past the end).
    #[inline]
    pub(crate) fn next_at_or_after(&self, i: usize) -> Option<usize> {
        let mut idx = i;
        let mut lvl = 0;
        // Climb until a word holds a set bit at or after `idx`.
        loop {
            let level = self.levels.get(lvl)?;
            let w = idx >> 6;
            let word = *level.get(w)?;
            let bits = word & (u64::MAX << (idx & 63));
            if bits != 0 {
                idx = (w << 6) | bits.trailing_zeros() as usize;
                break;
            }
            // Nothing left in this word: continue from the next word, one level up.
            idx = w + 1;
            lvl += 1;
        }
        // Descend: every word pointed at by a set parent bit is non-zero.
        while lvl > 0 {
            lvl -= 1;
            let word = self.levels[lvl][idx];
            debug_assert!(word != 0);
            idx = (idx << 6) | word.trailing_zeros() as usize;
        }
        Some(idx)
    }

    /// The last occupied slot at or before `i`, if any (`i` may be past the end: the search
    /// then starts from the last slot). The mirror of [`next_at_or_after`](Self::next_at_or_after):
    /// at most one masked word per level up and one `leading_zeros` per level down.
    #[inline]
    pub(crate) fn prev_at_or_before(&self, i: usize) -> Option<usize> {
        let mut idx = i.min((self.levels[0].len() << 6) - 1);
        let mut lvl = 0;
        // Climb until a word holds a set bit at or before `idx`.
        loop {
            let w = idx >> 6;
            let word = self.levels[lvl][w];
            // Bits 0..=idx%64 of the word.
            let bits = word & (u64::MAX >> (63 - (idx & 63)));
            if bits != 0 {
                idx = (w << 6) | (63 - bits.leading_zeros() as usize);
                break;
            }
            // Nothing before it in this word: continue from the previous word, one level up.
            // The top level is a single word (`w == 0` there), so the climb ends.
            if w == 0 {
                return None;
            }
            idx = w - 1;
            lvl += 1;
        }
        // Descend: every word pointed at by a set parent bit is non-zero.
        while lvl > 0 {
            lvl -= 1;
            let word = self.levels[lvl][idx];
            debug_assert!(word != 0);
            idx = (idx << 6) | (63 - word.leading_zeros() as usize);
        }
        Some(idx)
    }

    /// Calls `f` with every occupied slot, in increasing order, and empties the map. Only
    /// the non-zero leaf words are visited (found through the level above), so it costs
    /// about one step per occupied slot plus one per 4,096 slots.
    pub(crate) fn drain(&mut self, mut f: impl FnMut(usize)) {
        let Some((leaf, upper)) = self.levels.split_first_mut() else { return };
        let mut take_word = |w: usize| {
            let mut bits = std::mem::take(&mut leaf[w]);
            while bits != 0 {
                f((w << 6) | bits.trailing_zeros() as usize);
                bits &= bits - 1;
            }
        };
        match upper.first() {
            Some(parent) => {
                for (pw, &word) in parent.iter().enumerate() {
                    let mut bits = word;
                    while bits != 0 {
                        take_word((pw << 6) | bits.trailing_zeros() as usize);
                        bits &= bits - 1;
                    }
                }
            }
            // A single level: one word.
            None => take_word(0),
        }
        for level in upper.iter_mut() {
            level.fill(0);
        }
    }

    /// Empties the map in O(words).
    pub(crate) fn clear_all(&mut self) {
        for level in self.levels.iter_mut() {
            level.fill(0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Bitmap;

    #[test]
    fn drain_visits_every_occupied_slot_in_order_and_empties() {
        for len in [64usize, 4096, 1 << 16, 1 << 18] {
            let mut b = Bitmap::new(len);
            let slots: Vec<usize> = [0, 1, 63, 64, 65, 4095, 4096, len / 2, len - 1]
                .into_iter()
                .filter(|&s| s < len)
                .collect();
            let mut want = slots.clone();
            want.sort_unstable();
            want.dedup();
            for &s in &slots {
                b.set(s);
            }
            let mut got = Vec::new();
            b.drain(|s| got.push(s));
            assert_eq!(got, want, "len {len}");
            assert_eq!(b.next_at_or_after(0), None, "len {len}: empty after");
            b.set(len - 1);
            assert_eq!(b.next_at_or_after(0), Some(len - 1), "len {len}: usable after");
        }
    }

    #[test]
    fn prev_across_levels() {
        for len in [64usize, 128, 4096, 8192, 1 << 16, 1 << 18] {
            let mut b = Bitmap::new(len);
            assert_eq!(b.prev_at_or_before(0), None);
            assert_eq!(b.prev_at_or_before(len - 1), None);
            assert_eq!(b.prev_at_or_before(usize::MAX), None);
            let picks = [0, 1, 63, 64, 65, 4095, 4096, len / 2 - 1, len / 2, len - 64, len - 1];
            let mut sorted: Vec<usize> = picks.iter().copied().filter(|&p| p < len).collect();
            for &p in &sorted {
                b.set(p);
            }
            sorted.sort_unstable();
            sorted.dedup();
            for i in 0..len {
                let want = sorted.iter().rev().copied().find(|&p| p <= i);
                if i % 61 == 0 || sorted.contains(&i) || sorted.contains(&(i + 1)) {
                    assert_eq!(b.prev_at_or_before(i), want, "len {len} i {i}");
                }
            }
            assert_eq!(b.prev_at_or_before(len), Some(len - 1), "past the end");
            assert_eq!(b.prev_at_or_before(usize::MAX), Some(len - 1), "far past the end");
            // Removing from the top down, the search follows.
            for (n, &p) in sorted.iter().enumerate().rev() {
                assert_eq!(b.prev_at_or_before(usize::MAX), Some(p), "len {len}");
                b.clear(p);
                let below = n.checked_sub(1).map(|m| sorted[m]);
                assert_eq!(b.prev_at_or_before(p), below, "len {len} after clearing {p}");
            }
            assert_eq!(b.prev_at_or_before(usize::MAX), None);
        }
    }

    /// Both searches against a linear scan, on random sparse and dense maps.
    #[test]
    fn searches_equal_a_linear_scan() {
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut rand = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for len in [64usize, 256, 4096, 1 << 14] {
            for density in [1u64, 8, 200, 900] {
                let mut b = Bitmap::new(len);
                let mut v = vec![false; len];
                for (s, slot) in v.iter_mut().enumerate() {
                    if rand() % 1000 < density {
                        *slot = true;
                        b.set(s);
                    }
                }
                for _ in 0..500 {
                    let i = (rand() % len as u64) as usize;
                    let next = (i..len).find(|&s| v[s]);
                    let prev = (0..=i).rev().find(|&s| v[s]);
                    assert_eq!(b.next_at_or_after(i), next, "len {len} density {density} i {i}");
                    assert_eq!(b.prev_at_or_before(i), prev, "len {len} density {density} i {i}");
                }
            }
        }
    }

    #[test]
    fn next_across_levels() {
        for len in [64usize, 128, 4096, 8192, 1 << 16, 1 << 18] {
            let mut b = Bitmap::new(len);
            assert_eq!(b.next_at_or_after(0), None);
            assert_eq!(b.next_at_or_after(len), None);
            let picks = [0, 1, 63, 64, 65, len / 2 - 1, len / 2, len - 64, len - 1];
            let mut sorted: Vec<usize> = picks.iter().copied().filter(|&p| p < len).collect();
            for &p in &sorted {
                b.set(p);
            }
            sorted.sort_unstable();
            sorted.dedup();
            for i in 0..len {
                let want = sorted.iter().copied().find(|&p| p >= i);
                if i % 61 == 0 || sorted.contains(&i) || sorted.contains(&(i.wrapping_sub(1))) {
                    assert_eq!(b.next_at_or_after(i), want, "len {len} i {i}");
                }
            }
            for &p in &sorted {
                assert!(b.get(p));
                b.clear(p);
                assert!(!b.get(p));
            }
            assert_eq!(b.next_at_or_after(0), None);
            b.set(len - 1);
            b.clear_all();
            assert_eq!(b.next_at_or_after(0), None);
        }
    }
}

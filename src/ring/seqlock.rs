//! Per-instrument last-value slots: the newest record of each instrument, readable at any
//! time, written without ever waiting for a reader.
//!
//! Each slot is a seqlock built only from atomics (Boehm, "Can seqlocks get along with
//! programming language memory models?", 2012), so it needs no `unsafe`: the record is stored
//! as eight `AtomicU64` words, the writer bumps the slot's version to odd, stores the words,
//! and bumps it to even; a reader copies the words and keeps the copy only if the version was
//! even and unchanged around the copy. The writer never waits; a reader retries while a write
//! is in progress (a few nanoseconds).

use crossbeam_utils::CachePadded;

use super::sync::{fence, spin_loop, AtomicU64, Ordering};
use crate::event::Event;

/// Words per record.
const WORDS: usize = core::mem::size_of::<Event>() / 8;
const _: () = assert!(WORDS * 8 == core::mem::size_of::<Event>());

/// One seqlock-protected record.
struct Slot {
    /// Even: stable (0 = never written). Odd: a write is in progress. Stored only by the
    /// single writer; only ever increases.
    version: AtomicU64,
    /// The record's bytes.
    words: [AtomicU64; WORDS],
}

/// A fixed table of last-value slots, one per instrument id (`0..len`).
pub struct LastValues {
    slots: Box<[CachePadded<Slot>]>,
}

/// A read found a write in progress; try again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Busy;

impl LastValues {
    /// A table of `len` empty slots. Allocates here, once.
    pub fn new(len: usize) -> Self {
        let slots = (0..len)
            .map(|_| {
                CachePadded::new(Slot {
                    version: AtomicU64::new(0),
                    words: core::array::from_fn(|_| AtomicU64::new(0)),
                })
            })
            .collect();
        Self { slots }
    }

    /// The number of slots.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// `true` when the table has no slots.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Stores `event` in slot `index`; returns `false` (and stores nothing) when `index` is out
    /// of range. There must be a single writer per table: the crate calls this only from the
    /// one [`Publisher`](super::Publisher) that owns the table's writing side.
    #[inline]
    pub(crate) fn store(&self, index: usize, event: &Event) -> bool {
        let Some(slot) = self.slots.get(index) else { return false };
        let words: [u64; WORDS] = bytemuck::cast(*event);
        // Relaxed: we are the only writer of `version`, so we read our own last store.
        let v = slot.version.load(Ordering::Relaxed);
        debug_assert!(v % 2 == 0, "a slot is odd only while its single writer is inside store");
        // Relaxed store of the odd version, then a Release fence: the fence orders the odd
        // version before every word store below, so a reader that sees any new word (and then
        // issues its Acquire fence) also sees a version that differs from the one it started
        // with.
        slot.version.store(v + 1, Ordering::Relaxed);
        fence(Ordering::Release);
        for (cell, word) in slot.words.iter().zip(words) {
            // Relaxed: ordered by the fence above and the Release store below.
            cell.store(word, Ordering::Relaxed);
        }
        // Release: publishes the words; a reader that Acquire-loads `v + 2` sees all of them.
        slot.version.store(v + 2, Ordering::Release);
        true
    }

    /// One attempt to read slot `index`: `Ok(None)` if it was never written or `index` is out
    /// of range, `Err(Busy)` if a write was in progress.
    #[inline]
    pub fn try_load(&self, index: usize) -> Result<Option<Event>, Busy> {
        let Some(slot) = self.slots.get(index) else { return Ok(None) };
        // Acquire: pairs with the writer's final Release store, so the words of version
        // `before` are visible to the loads below.
        let before = slot.version.load(Ordering::Acquire);
        if before == 0 {
            return Ok(None);
        }
        if before % 2 == 1 {
            return Err(Busy);
        }
        let mut words = [0u64; WORDS];
        for (word, cell) in words.iter_mut().zip(slot.words.iter()) {
            // Relaxed: validated by the version check below.
            *word = cell.load(Ordering::Relaxed);
        }
        // Acquire fence: pairs with the writer's Release fence. If any word above came from a
        // newer write, the version load below sees that write's odd version (or later).
        fence(Ordering::Acquire);
        // Relaxed: ordered after the word loads by the fence above.
        let after = slot.version.load(Ordering::Relaxed);
        if after != before {
            return Err(Busy);
        }
        Ok(Some(bytemuck::cast(words)))
    }

    /// Reads slot `index`, retrying while a write is in progress. `None` if it was never
    /// written or `index` is out of range.
    #[inline]
    pub fn load(&self, index: usize) -> Option<Event> {
        loop {
            match self.try_load(index) {
                Ok(found) => return found,
                Err(Busy) => spin_loop(),
            }
        }
    }
}

impl core::fmt::Debug for LastValues {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("LastValues").field("len", &self.slots.len()).finish()
    }
}

/// Loom model of the seqlock; run with the command in [`super::spsc`]'s loom tests.
#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use crate::event::{BookState, Event, Stamps};
    use loom::sync::Arc;
    use loom::thread;

    fn bbo(n: i64) -> Event {
        let stamps = Stamps { exch_ts: n as u64, local_ts: n as u64, parsed_ts: n as u64 };
        Event::bbo(
            stamps,
            0,
            BookState::Synced,
            crate::event::Bbo { bid_tick: n, bid_lots: n, ask_tick: n + 1, ask_lots: n },
        )
    }

    /// A reader racing two writes sees nothing, the first or the second record: never a mix.
    #[test]
    fn reader_never_sees_a_torn_record() {
        loom::model(|| {
            let table = Arc::new(LastValues::new(1));
            let writer = {
                let table = Arc::clone(&table);
                thread::spawn(move || {
                    table.store(0, &bbo(1));
                    table.store(0, &bbo(2));
                })
            };
            let got = table.try_load(0);
            writer.join().unwrap();
            match got {
                Ok(None) | Err(Busy) => {}
                Ok(Some(ev)) => assert!(ev == bbo(1) || ev == bbo(2), "torn read: {ev:?}"),
            }
            assert_eq!(table.load(0), Some(bbo(2)));
        });
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::event::{BookState, Stamps};

    #[test]
    fn stores_and_loads() {
        let table = LastValues::new(2);
        assert_eq!(table.load(0), None);
        assert_eq!(table.load(5), None);
        let stamps = Stamps { exch_ts: 1, local_ts: 2, parsed_ts: 3 };
        let bbo = crate::event::Bbo { bid_tick: 100, bid_lots: 5, ask_tick: 101, ask_lots: 6 };
        let ev = Event::bbo(stamps, 1, BookState::Synced, bbo);
        assert!(table.store(1, &ev));
        assert!(!table.store(2, &ev));
        assert_eq!(table.load(1), Some(ev));
        assert_eq!(table.load(0), None);
    }
}

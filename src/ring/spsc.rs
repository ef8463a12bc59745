//! A bounded, wait-free, single-producer single-consumer ring of `Copy` records.
//!
//! The protocol (Lamport's ring with cached indices, as in rtrb):
//!
//! - `tail` is the next index the producer writes; only the producer stores it.
//! - `head` is the next index the consumer reads; only the consumer stores it.
//! - Both are free-running `usize`s that wrap; slot `i` lives at `i & mask`. The invariant
//!   `0 <= tail - head <= capacity` (wrapping subtraction) holds at every instant, because the
//!   producer never moves `tail` more than `capacity` past the last `head` it observed and the
//!   consumer never moves `head` past the last `tail` it observed.
//! - The slots in `head..tail` belong to the consumer (written, not yet read); the slots in
//!   `tail..head + capacity` belong to the producer (free). Ownership changes hands only through
//!   a Release store of an index paired with an Acquire load of it on the other side.
//! - Each side keeps a private copy of the other side's index and reloads it (one cache miss on
//!   the shared line) only when the cached copy says "full" or "empty".
//!
//! `head` and `tail` sit on separate cache lines ([`CachePadded`]) so the two cores do not
//! fight over one line.
//!
//! ```
//! use ladderfeed::ring::spsc::{channel, PushError};
//!
//! let (mut tx, mut rx) = channel::<u64>(2);
//! tx.try_push(1).unwrap();
//! tx.try_push(2).unwrap();
//! assert_eq!(tx.try_push(3), Err(PushError::Full(3))); // the value comes back
//! assert_eq!(rx.try_pop(), Some(1));
//! assert_eq!(rx.try_pop(), Some(2));
//! assert_eq!(rx.try_pop(), None);
//! ```

use core::fmt;
use core::mem::MaybeUninit;

use crossbeam_utils::CachePadded;

use super::sync::{Arc, AtomicUsize, Ordering, UnsafeCell};

/// The ring was full: the record is handed back to the caller, untouched.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum PushError<T> {
    /// No free slot; the consumer is behind by `capacity` records.
    Full(T),
}

impl<T> PushError<T> {
    /// The record that could not be pushed.
    #[inline]
    pub fn into_inner(self) -> T {
        match self {
            PushError::Full(value) => value,
        }
    }
}

impl<T> fmt::Debug for PushError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Full(..)")
    }
}

impl<T> fmt::Display for PushError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ring is full")
    }
}

impl<T> std::error::Error for PushError<T> {}

/// The state both halves share.
struct Shared<T> {
    /// Next index the consumer reads. Stored only by the consumer (Release), loaded by the
    /// producer (Acquire). Invariant: `tail - head <= capacity` (wrapping).
    head: CachePadded<AtomicUsize>,
    /// Next index the producer writes. Stored only by the producer (Release), loaded by the
    /// consumer (Acquire).
    tail: CachePadded<AtomicUsize>,
    /// `capacity` slots, `capacity` a power of two. Slots in `head..tail` hold initialised
    /// records owned by the consumer; the others are owned by the producer.
    slots: Box<[UnsafeCell<MaybeUninit<T>>]>,
    /// `capacity - 1`.
    mask: usize,
}

// SAFETY: the only non-`Sync` part is the slots' `UnsafeCell`s. The head/tail protocol above
// gives each slot exactly one owner at a time (the single producer for free slots, the single
// consumer for filled ones), and ownership moves only through Release/Acquire pairs on
// `head`/`tail`, so no slot is ever accessed from two threads without a happens-before edge.
// `T: Send` because records move from the producer's thread to the consumer's.
unsafe impl<T: Send> Sync for Shared<T> {}

impl<T> Shared<T> {
    #[inline(always)]
    fn capacity(&self) -> usize {
        self.mask + 1
    }

    /// The slot for index `i`.
    #[inline(always)]
    fn slot(&self, i: usize) -> &UnsafeCell<MaybeUninit<T>> {
        debug_assert_eq!(self.slots.len(), self.capacity());
        // `i & mask < capacity == slots.len()`: the bounds check is never taken.
        &self.slots[i & self.mask]
    }
}

/// Creates a ring holding at least `capacity` records (rounded up to a power of two, at least
/// 1) and returns its two halves. This allocates once, here; pushing and popping never do.
///
/// Every page of the slots is written once here (pre-faulted), so the ring is resident from
/// the start: the producer walks every slot within its first `capacity` pushes anyway, and
/// doing it here keeps those first-touch page faults off the hot path and the process's
/// resident memory flat from the first record on, instead of growing with the records
/// published until the ring has wrapped once.
pub fn channel<T: Copy + Send>(capacity: usize) -> (Producer<T>, Consumer<T>) {
    let capacity = capacity.max(1).next_power_of_two();
    let slots: Box<[UnsafeCell<MaybeUninit<T>>]> =
        (0..capacity).map(|_| UnsafeCell::new(MaybeUninit::uninit())).collect();
    prefault(&slots);
    let shared = Arc::new(Shared {
        head: CachePadded::new(AtomicUsize::new(0)),
        tail: CachePadded::new(AtomicUsize::new(0)),
        slots,
        mask: capacity - 1,
    });
    let producer = Producer { shared: Arc::clone(&shared), tail: 0, cached_head: 0 };
    let consumer = Consumer { shared, head: 0, cached_tail: 0 };
    (producer, consumer)
}

/// Bytes between two writes of [`prefault`]: the smallest page size Linux uses.
const PAGE: usize = 4096;

/// Writes one byte per page of every slot (volatile: an allocation followed by plain zero
/// writes may be turned into a zeroed allocation, whose pages stay unmapped until touched).
fn prefault<T>(slots: &[UnsafeCell<MaybeUninit<T>>]) {
    let size = core::mem::size_of::<T>();
    for slot in slots {
        slot.with_mut(|p| {
            for offset in (0..size).step_by(PAGE) {
                // SAFETY: the ring is not shared yet, so nothing else accesses the slot;
                // `offset < size_of::<T>()` keeps the byte inside it; and any byte is a valid
                // value of a `MaybeUninit<T>` (it is not read before a record is written).
                unsafe { core::ptr::write_volatile(p.cast::<u8>().add(offset), 0) }
            }
        });
    }
}

/// The writing half. Never blocks and never waits for the consumer.
pub struct Producer<T> {
    shared: Arc<Shared<T>>,
    /// Our copy of `shared.tail` (we are its only writer, so it is always current).
    tail: usize,
    /// The last `shared.head` we loaded. Invariant: `cached_head <= head` (it only lags), and
    /// `tail - cached_head <= capacity`.
    cached_head: usize,
}

impl<T: Copy> Producer<T> {
    /// The number of slots in the ring.
    #[inline]
    pub fn capacity(&self) -> usize {
        self.shared.capacity()
    }

    /// Free slots the producer can fill right now (reloads the consumer's index).
    #[inline]
    pub fn free_slots(&mut self) -> usize {
        // Acquire: see `refresh_head`.
        self.cached_head = self.shared.head.load(Ordering::Acquire);
        self.capacity() - self.tail.wrapping_sub(self.cached_head)
    }

    /// Reloads the consumer's index when the cached one says the ring is full and returns
    /// the number of free slots.
    #[inline(always)]
    fn refresh_head(&mut self) -> usize {
        let cap = self.capacity();
        let mut free = cap - self.tail.wrapping_sub(self.cached_head);
        if free == 0 {
            // Acquire: pairs with the consumer's Release store of `head`. The consumer's reads
            // of every slot below that head happen-before the writes we are about to make to
            // those slots, so we never overwrite a record it is still copying out.
            self.cached_head = self.shared.head.load(Ordering::Acquire);
            free = cap - self.tail.wrapping_sub(self.cached_head);
        }
        debug_assert!(free <= cap, "tail - head must stay within 0..=capacity");
        free
    }

    /// Writes `value` into the slot at `index` (owned by the producer).
    #[inline(always)]
    fn write(&self, index: usize, value: T) {
        self.shared.slot(index).with_mut(|p| {
            // SAFETY: `index` is in `tail..cached_head + capacity`, a free slot: the consumer
            // has finished reading it (Acquire on `head` in `refresh_head`) and will not touch
            // it again until we publish it with the Release store of `tail`.
            unsafe { p.write(MaybeUninit::new(value)) }
        });
    }

    /// Appends `value`, or hands it back in [`PushError::Full`] when the ring is full.
    #[inline]
    pub fn try_push(&mut self, value: T) -> Result<(), PushError<T>> {
        if self.refresh_head() == 0 {
            return Err(PushError::Full(value));
        }
        self.write(self.tail, value);
        self.tail = self.tail.wrapping_add(1);
        // Release: publishes the slot write above. A consumer that Acquire-loads this `tail`
        // sees the record fully written.
        self.shared.tail.store(self.tail, Ordering::Release);
        Ok(())
    }

    /// Appends as many records from the front of `values` as fit and returns how many that
    /// was, with one index store for the whole batch.
    #[inline]
    pub fn push_slice(&mut self, values: &[T]) -> usize {
        let mut free = self.capacity() - self.tail.wrapping_sub(self.cached_head);
        if free < values.len() {
            free = self.free_slots();
        }
        let n = free.min(values.len());
        for (i, value) in values[..n].iter().enumerate() {
            self.write(self.tail.wrapping_add(i), *value);
        }
        self.tail = self.tail.wrapping_add(n);
        // Release: publishes all `n` slot writes above (see `try_push`).
        self.shared.tail.store(self.tail, Ordering::Release);
        n
    }
}

/// The reading half.
pub struct Consumer<T> {
    shared: Arc<Shared<T>>,
    /// Our copy of `shared.head` (we are its only writer, so it is always current).
    head: usize,
    /// The last `shared.tail` we loaded. Invariant: `head <= cached_tail <= tail`.
    cached_tail: usize,
}

impl<T: Copy> Consumer<T> {
    /// The number of slots in the ring.
    #[inline]
    pub fn capacity(&self) -> usize {
        self.shared.capacity()
    }

    /// Records ready to pop right now (reloads the producer's index).
    #[inline]
    pub fn len(&mut self) -> usize {
        // Acquire: see `refresh_tail`.
        self.cached_tail = self.shared.tail.load(Ordering::Acquire);
        self.cached_tail.wrapping_sub(self.head)
    }

    /// `true` when nothing is ready to pop right now.
    #[inline]
    pub fn is_empty(&mut self) -> bool {
        self.len() == 0
    }

    /// Reloads the producer's index when the cached one says the ring is empty and returns
    /// the number of records ready.
    #[inline(always)]
    fn refresh_tail(&mut self) -> usize {
        let mut ready = self.cached_tail.wrapping_sub(self.head);
        if ready == 0 {
            // Acquire: pairs with the producer's Release store of `tail`: the producer's writes
            // of every slot below that tail happen-before our reads of them.
            self.cached_tail = self.shared.tail.load(Ordering::Acquire);
            ready = self.cached_tail.wrapping_sub(self.head);
        }
        debug_assert!(ready <= self.capacity(), "tail - head must stay within 0..=capacity");
        ready
    }

    /// Copies out the record at `index` (owned by the consumer).
    #[inline(always)]
    fn read(&self, index: usize) -> T {
        self.shared.slot(index).with(|p| {
            // SAFETY: `index` is in `head..cached_tail`: the producer wrote this slot before its
            // Release store of a tail we Acquire-loaded, so it is initialised, and it will not
            // write the slot again until our Release store of a head past `index`.
            unsafe { (*p).assume_init_read() }
        })
    }

    /// Removes and returns the oldest record, or `None` if the ring is empty.
    #[inline]
    pub fn try_pop(&mut self) -> Option<T> {
        if self.refresh_tail() == 0 {
            return None;
        }
        let value = self.read(self.head);
        self.head = self.head.wrapping_add(1);
        // Release: our read of the slot above happens-before the producer's next write of it
        // (the producer Acquire-loads `head` before reusing a slot).
        self.shared.head.store(self.head, Ordering::Release);
        Some(value)
    }

    /// Pops up to `max` records, oldest first, calling `f` on each, and returns how many it
    /// popped. The slots are handed back to the producer with one index store at the end.
    #[inline]
    pub fn pop_batch(&mut self, max: usize, mut f: impl FnMut(T)) -> usize {
        let mut ready = self.cached_tail.wrapping_sub(self.head);
        if ready < max {
            // Reload (Acquire, see `refresh_tail`) so a batch takes everything there is.
            ready = self.len();
        }
        let n = ready.min(max);
        for i in 0..n {
            f(self.read(self.head.wrapping_add(i)));
        }
        if n > 0 {
            self.head = self.head.wrapping_add(n);
            // Release: every read above happens-before the producer reuses those slots.
            self.shared.head.store(self.head, Ordering::Release);
        }
        n
    }
}

impl<T> fmt::Debug for Producer<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Producer").field("capacity", &self.shared.capacity()).finish()
    }
}

impl<T> fmt::Debug for Consumer<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Consumer").field("capacity", &self.shared.capacity()).finish()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn fifo_wraps_and_reports_full() {
        let (mut tx, mut rx) = channel::<u32>(3);
        assert_eq!(tx.capacity(), 4);
        for round in 0..10u32 {
            for i in 0..4 {
                tx.try_push(round * 4 + i).unwrap();
            }
            assert_eq!(tx.try_push(99), Err(PushError::Full(99)));
            assert_eq!(rx.len(), 4);
            for i in 0..4 {
                assert_eq!(rx.try_pop(), Some(round * 4 + i));
            }
            assert_eq!(rx.try_pop(), None);
        }
    }

    #[test]
    fn batches() {
        let (mut tx, mut rx) = channel::<u32>(8);
        assert_eq!(tx.push_slice(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]), 8);
        let mut seen = Vec::new();
        assert_eq!(rx.pop_batch(3, |v| seen.push(v)), 3);
        assert_eq!(tx.push_slice(&[9, 10, 11, 12]), 3);
        assert_eq!(rx.pop_batch(usize::MAX, |v| seen.push(v)), 8);
        assert_eq!(seen, (1..=11).collect::<Vec<_>>());
        assert_eq!(rx.pop_batch(4, |_| unreachable!()), 0);
    }
}

/// Model-checked with loom. The exact command (also run in CI):
///
/// ```sh
/// RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=3 CARGO_TARGET_DIR=target/loom \
///     cargo test --release --lib --no-default-features ring::
/// ```
#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use loom::thread;

    /// Push three records through a two-slot ring (so the producer sees "full" and the
    /// consumer sees "empty"): every record arrives once, in order.
    #[test]
    fn push_pop_in_order_through_full_and_empty() {
        loom::model(|| {
            let (mut tx, mut rx) = channel::<u32>(2);
            let producer = thread::spawn(move || {
                for v in 1..=3 {
                    let mut v = v;
                    loop {
                        match tx.try_push(v) {
                            Ok(()) => break,
                            Err(PushError::Full(back)) => {
                                v = back;
                                thread::yield_now();
                            }
                        }
                    }
                }
            });
            let mut next = 1;
            while next <= 3 {
                match rx.try_pop() {
                    Some(v) => {
                        assert_eq!(v, next);
                        next += 1;
                    }
                    None => thread::yield_now(),
                }
            }
            producer.join().unwrap();
            assert_eq!(rx.try_pop(), None);
        });
    }

    /// A one-slot ring: a push racing a pop either fits or is handed back; nothing is lost
    /// or duplicated.
    #[test]
    fn full_hands_back_and_nothing_is_lost() {
        loom::model(|| {
            let (mut tx, mut rx) = channel::<u32>(1);
            tx.try_push(1).unwrap();
            let consumer = thread::spawn(move || {
                let first = rx.try_pop();
                let second = rx.try_pop();
                (first, second, rx)
            });
            let pushed = tx.try_push(2).is_ok();
            let (first, second, mut rx) = consumer.join().unwrap();
            assert_eq!(first, Some(1));
            let mut seen = vec![];
            seen.extend(second);
            seen.extend(rx.try_pop());
            assert_eq!(seen, if pushed { vec![2] } else { vec![] });
        });
    }

    /// A pop racing the first push sees either nothing or the whole record.
    #[test]
    fn empty_pop_sees_nothing_or_whole_record() {
        loom::model(|| {
            let (mut tx, mut rx) = channel::<(u32, u32)>(2);
            let producer = thread::spawn(move || {
                tx.try_push((7, 8)).unwrap();
            });
            let got = rx.try_pop();
            producer.join().unwrap();
            match got {
                None => assert_eq!(rx.try_pop(), Some((7, 8))),
                Some(v) => {
                    assert_eq!(v, (7, 8));
                    assert_eq!(rx.try_pop(), None);
                }
            }
        });
    }

    /// Batches: one index store per batch still hands over every record exactly once.
    #[test]
    fn batch_push_and_pop() {
        loom::model(|| {
            let (mut tx, mut rx) = channel::<u32>(2);
            let producer = thread::spawn(move || {
                let items = [1, 2, 3];
                let mut sent = 0;
                while sent < items.len() {
                    let n = tx.push_slice(&items[sent..]);
                    if n == 0 {
                        thread::yield_now();
                    }
                    sent += n;
                }
            });
            let mut seen = vec![];
            while seen.len() < 3 {
                if rx.pop_batch(2, |v| seen.push(v)) == 0 {
                    thread::yield_now();
                }
            }
            producer.join().unwrap();
            assert_eq!(seen, vec![1, 2, 3]);
        });
    }
}

//! The feed's event ring: an [`spsc`] ring of [`Event`]s plus what makes loss
//! visible and recoverable.
//!
//! - The [`Publisher`] never waits. It numbers every record it is given (the per-ring `seq`),
//!   stamps the publish time, and pushes; when the ring is full the record is dropped and
//!   counted, and the consumer sees the hole in the sequence numbers.
//! - Every BBO also goes into its instrument's last-value slot ([`LastValues`]) before the
//!   push, full or not, so a lagging consumer can jump to the present at once with
//!   [`Subscription::latest_bbo`]. A book-state change rewrites the slot's state too, so the
//!   slot never shows a BBO as `Synced` while its book is resyncing or stale.
//! - Counters: `produced` (records given to [`Publisher::publish`]), `dropped` (ring full) and
//!   `consumed` (popped). At every instant `produced = consumed + dropped + in flight`; once
//!   the producer has stopped and the ring is drained, `produced = consumed + dropped` exactly.

use core::fmt;

use crossbeam_utils::CachePadded;

use super::seqlock::LastValues;
use super::spsc::{self, PushError};
use super::sync::{Arc, AtomicU64, Ordering};
use crate::clock::Clock;
use crate::event::{BookState, Event, EventKind, InstrumentId};

/// State shared by both halves and any number of monitors.
struct FeedShared {
    /// The newest BBO of each instrument.
    last: LastValues,
    /// Records given to the publisher so far. Stored only by the publisher.
    produced: CachePadded<AtomicU64>,
    /// Records dropped because the ring was full. Stored only by the publisher (it shares the
    /// producer's line on purpose: both are written by the same thread).
    dropped: AtomicU64,
    /// Records popped. Stored only by the subscription.
    consumed: CachePadded<AtomicU64>,
}

impl FeedShared {
    fn stats(&self) -> FeedStats {
        // Relaxed: statistics. Exact equality is promised only once both threads have stopped,
        // and joining them gives the happens-before that makes these loads current.
        FeedStats {
            produced: self.produced.load(Ordering::Relaxed),
            consumed: self.consumed.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
        }
    }
}

/// Creates a feed ring of at least `capacity` events (a power of two) with last-value slots
/// for instruments `0..instruments`, stamping with the process-wide [`Clock::global`].
/// Allocates here, once.
///
/// ```
/// use ladderfeed::event::{Bbo, BookState, Event, Stamps};
/// use ladderfeed::ring::{feed, Published};
///
/// let (mut publisher, mut subscription) = feed(2, 1);
/// let stamps = Stamps::default();
/// for bid_tick in 100..103 {
///     let bbo = Bbo { bid_tick, bid_lots: 1, ask_tick: bid_tick + 1, ask_lots: 1 };
///     publisher.publish(Event::bbo(stamps, 0, BookState::Synced, bbo));
/// }
/// // The third did not fit: dropped and counted, but the last-value slot has it.
/// let stats = subscription.stats();
/// assert_eq!((stats.produced, stats.dropped), (3, 1));
/// assert_eq!(subscription.latest_bbo(0).unwrap().as_bbo().unwrap().bid_tick, 102);
/// assert_eq!(subscription.try_pop().unwrap().seq(), 0);
/// assert_eq!(subscription.try_pop().unwrap().seq(), 1);
/// assert!(subscription.try_pop().is_none());
/// assert_eq!(subscription.stats().consumed, 2);
/// ```
pub fn feed(capacity: usize, instruments: usize) -> (Publisher, Subscription) {
    feed_with_clock(capacity, instruments, Clock::global())
}

/// [`feed`] with an explicit clock for the publish stamps (both halves must use the same one).
pub fn feed_with_clock(
    capacity: usize,
    instruments: usize,
    clock: Clock,
) -> (Publisher, Subscription) {
    let (producer, consumer) = spsc::channel(capacity);
    let shared = Arc::new(FeedShared {
        last: LastValues::new(instruments),
        produced: CachePadded::new(AtomicU64::new(0)),
        dropped: AtomicU64::new(0),
        consumed: CachePadded::new(AtomicU64::new(0)),
    });
    let publisher =
        Publisher { ring: producer, shared: Arc::clone(&shared), produced: 0, dropped: 0, clock };
    let subscription = Subscription { ring: consumer, shared, consumed: 0, clock };
    (publisher, subscription)
}

/// What became of a published record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Published {
    /// On the ring.
    Queued,
    /// The ring was full: dropped and counted (a BBO still reached its last-value slot).
    Dropped,
}

/// The counters. See the [module docs](self) for the invariant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FeedStats {
    /// Records given to the publisher.
    pub produced: u64,
    /// Records popped by the consumer.
    pub consumed: u64,
    /// Records dropped because the ring was full.
    pub dropped: u64,
}

impl FeedStats {
    /// `produced - consumed - dropped`: records on the ring (exact when both sides are idle).
    pub fn in_flight(&self) -> u64 {
        self.produced.saturating_sub(self.consumed).saturating_sub(self.dropped)
    }
}

/// The feed thread's half: numbers, stamps and pushes events; never waits.
pub struct Publisher {
    ring: spsc::Producer<Event>,
    shared: Arc<FeedShared>,
    /// Records published so far; the next record's 64-bit sequence number.
    produced: u64,
    /// Records dropped so far.
    dropped: u64,
    clock: Clock,
}

impl Publisher {
    /// Publishes `event` stamped with the publish time now. See [`Publisher::publish_at`].
    #[inline]
    pub fn publish(&mut self, event: Event) -> Published {
        let now = self.clock.now_ns();
        self.publish_at(event, now)
    }

    /// Numbers `event`, stamps `published_ts` (epoch ns), updates the last-value slot (BBO and
    /// book-state events) and pushes it; if the ring is full the event is dropped and counted.
    #[inline]
    pub fn publish_at(&mut self, mut event: Event, published_ts: u64) -> Published {
        // The wire seq is the low 32 bits of the 64-bit count (see `Event::seq`).
        event.stamp_published(self.produced as u32, published_ts);
        self.produced += 1;
        let slot = usize::from(event.instrument());
        match event.kind() {
            EventKind::Bbo(_) => {
                self.shared.last.store(slot, &event);
            }
            EventKind::BookState { .. } => {
                // We are the slot's only writer, so this load never races a write.
                if let Some(mut last) = self.shared.last.load(slot) {
                    // A book that just became Synced has not sent its new BBO yet: the old
                    // one is stale until it does.
                    let state = match event.state() {
                        BookState::Synced => BookState::Stale,
                        other => other,
                    };
                    last.set_state(state);
                    self.shared.last.store(slot, &last);
                }
            }
            _ => {}
        }
        let outcome = match self.ring.try_push(event) {
            Ok(()) => Published::Queued,
            Err(PushError::Full(_)) => {
                self.dropped += 1;
                // Relaxed: a statistic (see `FeedShared::stats`).
                self.shared.dropped.store(self.dropped, Ordering::Relaxed);
                Published::Dropped
            }
        };
        // Relaxed: a statistic (see `FeedShared::stats`).
        self.shared.produced.store(self.produced, Ordering::Relaxed);
        outcome
    }

    /// The counters.
    pub fn stats(&self) -> FeedStats {
        self.shared.stats()
    }

    /// The ring's capacity in events.
    pub fn capacity(&self) -> usize {
        self.ring.capacity()
    }

    /// Slots free right now (reloads the consumer's index: one shared-cache-line read). A
    /// live feed never waits; a lossless replay checks this before publishing and spins
    /// while it is 0.
    pub fn free_slots(&mut self) -> usize {
        self.ring.free_slots()
    }

    /// A handle any thread can use to read the counters and last values.
    pub fn monitor(&self) -> FeedMonitor {
        FeedMonitor { shared: Arc::clone(&self.shared) }
    }
}

/// The consumer thread's half: the raw ring reader. Strategies normally wrap it in a
/// [`Consumer`](crate::consumer::Consumer), which adds sequence tracking and latency.
pub struct Subscription {
    ring: spsc::Consumer<Event>,
    shared: Arc<FeedShared>,
    /// Records popped so far.
    consumed: u64,
    clock: Clock,
}

impl Subscription {
    /// Pops the oldest event, or `None` if the ring is empty.
    #[inline]
    pub fn try_pop(&mut self) -> Option<Event> {
        let event = self.ring.try_pop()?;
        self.consumed += 1;
        // Relaxed: a statistic (see `FeedShared::stats`).
        self.shared.consumed.store(self.consumed, Ordering::Relaxed);
        Some(event)
    }

    /// Pops up to `max` events, oldest first, calling `f` on each; returns how many.
    #[inline]
    pub fn pop_batch(&mut self, max: usize, f: impl FnMut(Event)) -> usize {
        let n = self.ring.pop_batch(max, f);
        if n > 0 {
            self.consumed += n as u64;
            // Relaxed: a statistic (see `FeedShared::stats`).
            self.shared.consumed.store(self.consumed, Ordering::Relaxed);
        }
        n
    }

    /// Events ready to pop now.
    #[inline]
    pub fn len(&mut self) -> usize {
        self.ring.len()
    }

    /// `true` when nothing is ready to pop.
    #[inline]
    pub fn is_empty(&mut self) -> bool {
        self.ring.is_empty()
    }

    /// The newest BBO of `instrument` (published or dropped), with its book state kept
    /// current; `None` if there has been none or the id is out of range.
    #[inline]
    pub fn latest_bbo(&self, instrument: InstrumentId) -> Option<Event> {
        self.shared.last.load(usize::from(instrument))
    }

    /// The counters.
    pub fn stats(&self) -> FeedStats {
        self.shared.stats()
    }

    /// The ring's capacity in events.
    pub fn capacity(&self) -> usize {
        self.ring.capacity()
    }

    /// The clock the publisher stamps with (consumed stamps must use the same one).
    pub fn clock(&self) -> Clock {
        self.clock
    }

    /// A handle any thread can use to read the counters and last values.
    pub fn monitor(&self) -> FeedMonitor {
        FeedMonitor { shared: Arc::clone(&self.shared) }
    }
}

/// A read-only view of a feed for the control plane: counters and last values.
#[derive(Clone)]
pub struct FeedMonitor {
    shared: Arc<FeedShared>,
}

impl FeedMonitor {
    /// The counters.
    pub fn stats(&self) -> FeedStats {
        self.shared.stats()
    }

    /// The newest BBO of `instrument`; see [`Subscription::latest_bbo`].
    pub fn latest_bbo(&self, instrument: InstrumentId) -> Option<Event> {
        self.shared.last.load(usize::from(instrument))
    }
}

impl fmt::Debug for Publisher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Publisher").field("stats", &self.stats()).finish()
    }
}

impl fmt::Debug for Subscription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscription").field("stats", &self.stats()).finish()
    }
}

impl fmt::Debug for FeedMonitor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FeedMonitor").field("stats", &self.stats()).finish()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::event::{Bbo, Stamps};

    fn bbo(bid_tick: i64) -> Event {
        let bbo = Bbo { bid_tick, bid_lots: 1, ask_tick: bid_tick + 1, ask_lots: 1 };
        Event::bbo(Stamps::default(), 0, BookState::Synced, bbo)
    }

    #[test]
    fn state_change_downgrades_the_last_value() {
        let (mut tx, rx) = feed(4, 1);
        tx.publish(bbo(100));
        assert!(rx.latest_bbo(0).unwrap().state().is_valid());
        let s = Stamps::default();
        tx.publish(Event::book_state(s, 0, BookState::Resyncing, BookState::Synced));
        let last = rx.latest_bbo(0).unwrap();
        assert_eq!((last.state(), last.as_bbo().unwrap().bid_tick), (BookState::Resyncing, 100));
        tx.publish(Event::book_state(s, 0, BookState::Synced, BookState::Resyncing));
        assert_eq!(rx.latest_bbo(0).unwrap().state(), BookState::Stale);
        tx.publish(bbo(101));
        assert!(rx.latest_bbo(0).unwrap().state().is_valid());
        assert_eq!(rx.monitor().stats(), FeedStats { produced: 4, consumed: 0, dropped: 0 });
    }
}

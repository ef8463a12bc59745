//! The consumer API a strategy uses: pop events, see losses, catch up, measure latency.
//!
//! A [`Consumer`] wraps the ring's reading half ([`Subscription`]). Every event it hands out
//! is stamped "consumed" on this thread and recorded into per-stage latency histograms
//! ([`Latency`]); its 32-bit wire sequence number is extended to 64 bits and any gap is
//! counted as lost. Three ways to read:
//!
//! - [`Consumer::try_pop`]: one event or `None`;
//! - [`Consumer::drain`]: everything ready (up to a bound), through a callback;
//! - [`Consumer::run`]: a busy-polling callback loop until a [`StopFlag`] is raised (checked
//!   only when the ring is empty or after a full batch, never per message).
//!
//! A strategy that fell behind calls [`Consumer::catch_up`] to discard the backlog and reads
//! the present from [`Consumer::latest_bbo`].
//!
//! ```
//! use ladderfeed::consumer::{spawn_consumer, Consumer, Cores};
//! use ladderfeed::event::{Bbo, BookState, Event, Stamps};
//! use ladderfeed::ring::feed;
//! use ladderfeed::clock::now_ns;
//!
//! let cores = Cores::detect(); // once, before pinning anything
//! let (mut publisher, subscription) = feed(1024, 4);
//! let consumer = Consumer::new(subscription);
//! let mut best_bid = 0;
//! let thread = spawn_consumer("strategy", consumer, cores.get(1), move |ev: &Event| {
//!     if let Some(bbo) = ev.as_bbo() {
//!         if ev.state().is_valid() {
//!             best_bid = bbo.bid_tick;
//!         }
//!     }
//! })
//! .unwrap();
//! for bid_tick in 100..200 {
//!     let now = now_ns();
//!     let stamps = Stamps { exch_ts: now - 1_000, local_ts: now, parsed_ts: now_ns() };
//!     let bbo = Bbo { bid_tick, bid_lots: 1, ask_tick: bid_tick + 1, ask_lots: 1 };
//!     publisher.publish(Event::bbo(stamps, 2, BookState::Synced, bbo));
//! }
//! // Stop: the consumer drains what is left, and comes back with its histograms.
//! let (mut consumer, _sink) = thread.stop().unwrap();
//! let stats = consumer.stats();
//! assert_eq!(stats.produced, stats.consumed + stats.dropped);
//! assert_eq!(consumer.lost(), stats.dropped);
//! println!("{}", consumer.latency().report());
//! assert_eq!(consumer.latest_bbo(2).unwrap().as_bbo().unwrap().bid_tick, 199);
//! ```

#[cfg(feature = "charts")]
pub mod chart;
pub(crate) mod depth;
pub(crate) mod instruments;
pub(crate) mod latency;
mod pin;
pub mod sinks;

pub use depth::Depth;
pub use instruments::Instruments;
pub use latency::{format_ns, write_hgrm, Latency, LatencyReport, Stage, MAX_LATENCY_NS, SIGFIG};
pub use pin::{spawn_consumer, spawn_consumer_with, spawn_pinned, ConsumerThread, Cores, StopFlag};

/// What a consumer loop does with the events ([`Consumer::run_with`], [`spawn_consumer_with`]):
/// any `FnMut(&Event)`, or a type that also wants to hear when the ring is empty.
pub trait OnEvent {
    /// One event, in order.
    fn on_event(&mut self, ev: &Event);

    /// The ring is empty (nothing by default): a moment for slow work, such as publishing
    /// latency figures.
    fn on_idle(&mut self, _consumer: &Consumer) {}

    /// The events popped together from the ring have all been handed to
    /// [`OnEvent::on_event`] (nothing by default): a moment to send what was batched, such as
    /// a [`Fanout`](crate::fanout::Fanout) sample.
    fn on_batch_end(&mut self) {}
}

impl<F: FnMut(&Event)> OnEvent for F {
    #[inline]
    fn on_event(&mut self, ev: &Event) {
        self(ev)
    }
}

/// What a consumer loop does when the ring is empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Idle {
    /// Spins: the lowest latency, a whole core.
    #[default]
    Spin,
    /// Spins briefly, then sleeps, longer the longer nothing comes (16 µs to 1 ms).
    Sleep,
}

use crate::clock::Clock;
use crate::event::{Event, InstrumentId};
use crate::ring::{FeedMonitor, FeedStats, Subscription};

/// Events a batch drain hands out before it looks at the stop flag again.
pub const BATCH: usize = 256;

/// Sequence tracking and latency recording, apart from the ring so a batch drain can borrow
/// both at once.
#[derive(Debug)]
struct Tracker {
    clock: Clock,
    latency: Latency,
    record_latency: bool,
    /// The 64-bit sequence number expected next.
    next_seq: u64,
    /// Events lost so far, from gaps in the sequence numbers.
    lost: u64,
}

impl Tracker {
    /// Sequence tracking and latency for one popped event.
    #[inline(always)]
    fn on_event(&mut self, event: &Event) {
        // The wire seq is the low 32 bits; the gap since the one expected is what was lost.
        let gap = u64::from(event.seq().wrapping_sub(self.next_seq as u32));
        self.lost += gap;
        self.next_seq += gap + 1;
        if self.record_latency {
            let now = self.clock.now_ns();
            self.latency.record(event, now);
        }
    }
}

/// What a strategy thread polls. See the [module docs](self).
#[derive(Debug)]
pub struct Consumer {
    sub: Subscription,
    track: Tracker,
    /// Events discarded by `catch_up`.
    skipped: u64,
}

impl Consumer {
    /// Wraps the ring's reading half, with latency recording on. Allocates the histograms.
    pub fn new(sub: Subscription) -> Self {
        let track = Tracker {
            clock: sub.clock(),
            latency: Latency::new(),
            record_latency: true,
            next_seq: 0,
            lost: 0,
        };
        Consumer { sub, track, skipped: 0 }
    }

    /// Turns latency recording (and the consumed stamp it needs) on or off.
    pub fn set_record_latency(&mut self, on: bool) {
        self.track.record_latency = on;
    }

    /// Pops the oldest event, or `None` if none is ready.
    #[inline]
    pub fn try_pop(&mut self) -> Option<Event> {
        let event = self.sub.try_pop()?;
        self.track.on_event(&event);
        Some(event)
    }

    /// Pops up to `max` ready events, oldest first, calling `f` on each; returns how many. The
    /// slots go back to the producer with one index store per call.
    #[inline]
    pub fn drain(&mut self, max: usize, mut f: impl FnMut(&Event)) -> usize {
        let Consumer { sub, track, .. } = self;
        sub.pop_batch(max, |event| {
            track.on_event(&event);
            f(&event);
        })
    }

    /// Calls `sink` on every event until `stop` is raised, and [`OnEvent::on_idle`] when the
    /// ring is empty; `idle` says whether an empty ring is spun on or slept on (backing off
    /// from 16 µs to 1 ms while it stays empty). Like [`Consumer::run`], it drains what the
    /// ring holds before returning.
    pub fn run_with(&mut self, stop: &StopFlag, idle: Idle, sink: &mut impl OnEvent) {
        let mut empty = 0u32;
        loop {
            if self.drain(BATCH, |ev| sink.on_event(ev)) > 0 {
                sink.on_batch_end();
                empty = 0;
                if !stop.is_raised() {
                    continue;
                }
            } else {
                sink.on_idle(self);
                if !stop.is_raised() {
                    empty = empty.saturating_add(1);
                    match idle {
                        Idle::Sleep if empty > 64 => {
                            let shift = (empty - 64).min(6);
                            let nap = std::time::Duration::from_micros(16 << shift)
                                .min(std::time::Duration::from_millis(1));
                            std::thread::sleep(nap);
                        }
                        _ => core::hint::spin_loop(),
                    }
                    continue;
                }
            }
            // Raised: take what was pushed before the flag was (see `Consumer::run`).
            let capacity = self.sub.capacity();
            while self.drain(capacity, |ev| sink.on_event(ev)) > 0 {}
            sink.on_batch_end();
            return;
        }
    }

    /// Calls `f` on every event until `stop` is raised, busy-polling. The flag is checked when
    /// the ring is empty and after every [`BATCH`] events, never per message. When it returns
    /// the ring may still hold events the producer pushed afterwards; [`Consumer::drain`]
    /// them if they matter.
    pub fn run(&mut self, stop: &StopFlag, mut f: impl FnMut(&Event)) {
        loop {
            if self.drain(BATCH, &mut f) == 0 {
                if stop.is_raised() {
                    // The ring looked empty before the flag was read: events pushed before
                    // the flag was raised may have become visible in between. Take them.
                    let capacity = self.sub.capacity();
                    while self.drain(capacity, &mut f) > 0 {}
                    return;
                }
                core::hint::spin_loop();
            } else if stop.is_raised() {
                // Drain what is already there (bounded by the ring's capacity) and stop.
                let capacity = self.sub.capacity();
                self.drain(capacity, &mut f);
                return;
            }
        }
    }

    /// Discards every event ready now (they count as consumed and as skipped) and returns how
    /// many. Read the present from [`Consumer::latest_bbo`] afterwards.
    pub fn catch_up(&mut self) -> u64 {
        let record = core::mem::replace(&mut self.track.record_latency, false);
        let capacity = self.sub.capacity();
        let n = self.drain(capacity, |_| {}) as u64;
        self.track.record_latency = record;
        self.skipped += n;
        n
    }

    /// The newest BBO of `instrument`, whether it was delivered, is queued, or was dropped;
    /// its state says whether the book is valid now.
    #[inline]
    pub fn latest_bbo(&self, instrument: InstrumentId) -> Option<Event> {
        self.sub.latest_bbo(instrument)
    }

    /// Events lost so far, seen from gaps in the sequence numbers. Losses after the last
    /// event popped are not visible here yet; [`FeedStats::dropped`] counts them.
    pub fn lost(&self) -> u64 {
        self.track.lost
    }

    /// Events discarded by [`Consumer::catch_up`].
    pub fn skipped(&self) -> u64 {
        self.skipped
    }

    /// The 64-bit sequence number expected next (= events popped + lost).
    pub fn next_seq(&self) -> u64 {
        self.track.next_seq
    }

    /// The feed's counters.
    pub fn stats(&self) -> FeedStats {
        self.sub.stats()
    }

    /// A handle for the control plane (counters, last values).
    pub fn monitor(&self) -> FeedMonitor {
        self.sub.monitor()
    }

    /// The latency histograms.
    pub fn latency(&self) -> &Latency {
        &self.track.latency
    }

    /// The latency histograms, to reset them.
    pub fn latency_mut(&mut self) -> &mut Latency {
        &mut self.track.latency
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Bbo, BookState, Stamps};
    use crate::ring::feed;

    fn bbo(bid_tick: i64) -> Event {
        let bbo = Bbo { bid_tick, bid_lots: 1, ask_tick: bid_tick + 1, ask_lots: 1 };
        Event::bbo(Stamps { exch_ts: 1, local_ts: 2, parsed_ts: 3 }, 0, BookState::Synced, bbo)
    }

    #[test]
    fn gaps_are_counted_and_catch_up_jumps_to_the_present() {
        let (mut tx, rx) = feed(4, 1);
        let mut consumer = Consumer::new(rx);
        for i in 0..10 {
            tx.publish(bbo(i));
        }
        // 0..4 queued, 4..10 dropped.
        let mut seen = Vec::new();
        assert_eq!(consumer.drain(2, |ev| seen.push(ev.as_bbo().unwrap().bid_tick)), 2);
        assert_eq!(consumer.catch_up(), 2);
        assert_eq!(consumer.latest_bbo(0).unwrap().as_bbo().unwrap().bid_tick, 9);
        tx.publish(bbo(10));
        let ev = consumer.try_pop().unwrap();
        assert_eq!((ev.seq(), consumer.lost(), consumer.next_seq()), (10, 6, 11));
        assert_eq!(seen, [0, 1]);
        let stats = consumer.stats();
        assert_eq!((stats.produced, stats.consumed, stats.dropped), (11, 5, 6));
        assert_eq!(consumer.latency().histogram(Stage::ReceiveToParsed).len(), 3);
    }
}

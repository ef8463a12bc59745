//! Zero allocations in steady state: after warm-up, publishing, popping (single and batch),
//! last-value reads and latency recording allocate nothing. A counting global allocator
//! (`tests/counting`) wraps the system one; this file holds a single test so no other test
//! allocates while it counts.

mod counting;

use std::sync::atomic::{AtomicU64, Ordering};

use ladderfeed::clock::Clock;
use ladderfeed::consumer::{Consumer, Stage};
use ladderfeed::event::{Bbo, BookState, Event, Side, Stamps, Trade};
use ladderfeed::ring::feed;

static ALLOCS: AtomicU64 = AtomicU64::new(0);

fn work(round: u64, publisher: &mut ladderfeed::ring::Publisher, consumer: &mut Consumer) {
    let clock = Clock::global();
    for i in 0..1_000u64 {
        let now = clock.now_ns();
        let stamps = Stamps { exch_ts: now - 500, local_ts: now, parsed_ts: clock.now_ns() };
        let px = (round * 1_000 + i) as i64;
        let bbo = Bbo { bid_tick: px, bid_lots: 3, ask_tick: px + 2, ask_lots: 4 };
        publisher.publish(Event::bbo(stamps, (i % 4) as u16, BookState::Synced, bbo));
        let trade = Trade { price_tick: px, size_lots: 1, aggressor: Some(Side::Buy), trade_id: i };
        publisher.publish(Event::trade(stamps, 1, BookState::Synced, trade));
        if i % 100 == 0 {
            let s = BookState::Resyncing;
            publisher.publish(Event::book_state(stamps, 2, s, BookState::Synced));
        }
        // Overfill now and then so the full path runs too.
        if i % 3 == 0 {
            assert!(consumer.try_pop().is_some());
        } else if i % 7 == 0 {
            consumer.drain(usize::MAX, |ev| {
                std::hint::black_box(ev);
            });
        }
        std::hint::black_box(consumer.latest_bbo(0));
    }
    consumer.drain(usize::MAX, |_| {});
}

#[test]
fn steady_state_allocates_nothing() {
    let (mut publisher, subscription) = feed(8, 4);
    let mut consumer = Consumer::new(subscription);
    // Warm-up: first use of the global clock, lazily initialised statics.
    work(0, &mut publisher, &mut consumer);
    counting::count_into(Some(&ALLOCS));
    let before = ALLOCS.load(Ordering::Relaxed);
    for round in 1..20 {
        work(round, &mut publisher, &mut consumer);
    }
    let after = ALLOCS.load(Ordering::Relaxed);
    counting::count_into(None);
    assert_eq!(after - before, 0, "allocations in steady state");
    let stats = publisher.stats();
    assert!(stats.dropped > 0, "the full path ran: {stats:?}");
    assert_eq!(stats.produced, stats.consumed + stats.dropped);
    assert!(!consumer.latency().histogram(Stage::ReceiveToConsumed).is_empty());
}

//! Real-thread stress tests of the ring: order, exactly-once delivery, and exact loss
//! accounting (`produced = consumed + dropped`).
//!
//! `cargo test --test ring_stress` runs a million records per test; the `#[ignore]`d ones run
//! a hundred million: `cargo test --release --test ring_stress -- --ignored`.

use std::thread;
use std::time::{Duration, Instant};

use ladderfeed::consumer::Consumer;
use ladderfeed::event::{Bbo, BookState, Event, Stamps};
use ladderfeed::ring::{feed, spsc, Published};

/// Every wait loop fails the test after this long instead of hanging.
const DEADLINE: Duration = Duration::from_secs(120);

fn check_deadline(start: Instant, what: &str) {
    assert!(start.elapsed() < DEADLINE, "{what}: no progress within {DEADLINE:?}");
}

/// The generic ring with a retrying producer: every record arrives once, in order.
fn lossless(n: u64, capacity: usize) {
    let (mut tx, mut rx) = spsc::channel::<[u64; 2]>(capacity);
    let producer = thread::spawn(move || {
        let start = Instant::now();
        let mut i = 0u64;
        while i < n {
            let batch: Vec<[u64; 2]> = (i..(i + 7).min(n)).map(|v| [v, !v]).collect();
            let mut sent = 0;
            while sent < batch.len() {
                // Alternate single pushes and slices to cover both paths.
                let pushed = if i % 2 == 0 {
                    tx.push_slice(&batch[sent..])
                } else {
                    usize::from(tx.try_push(batch[sent]).is_ok())
                };
                if pushed == 0 {
                    check_deadline(start, "producer");
                    std::hint::spin_loop();
                }
                sent += pushed;
            }
            i += batch.len() as u64;
        }
    });
    let start = Instant::now();
    let mut expect = 0u64;
    while expect < n {
        let got = if expect % 3 == 0 {
            rx.pop_batch(5, |[v, check]| {
                assert_eq!((v, check), (expect, !expect));
                expect += 1;
            })
        } else {
            match rx.try_pop() {
                Some([v, check]) => {
                    assert_eq!((v, check), (expect, !expect));
                    expect += 1;
                    1
                }
                None => 0,
            }
        };
        if got == 0 {
            check_deadline(start, "consumer");
            std::hint::spin_loop();
        }
    }
    producer.join().unwrap();
    assert_eq!(rx.try_pop(), None);
}

/// The feed with a producer that never waits: records are dropped when the ring is full, and
/// the consumer sees each surviving record once, in order, with the gaps adding up to the
/// drop count; the last-value slot always ends at the newest BBO.
fn lossy(n: u64, capacity: usize) {
    let (mut publisher, subscription) = feed(capacity, 1);
    let mut consumer = Consumer::new(subscription);
    let producer = thread::spawn(move || {
        let mut dropped = 0u64;
        for i in 0..n {
            let bbo = Bbo { bid_tick: i as i64, bid_lots: 1, ask_tick: i as i64 + 1, ask_lots: 1 };
            let stamps = Stamps { exch_ts: 1, local_ts: 2, parsed_ts: 3 };
            if publisher.publish_at(Event::bbo(stamps, 0, BookState::Synced, bbo), 4)
                == Published::Dropped
            {
                dropped += 1;
            }
        }
        (publisher, dropped)
    });
    let start = Instant::now();
    let mut last: Option<u64> = None;
    let mut seen = 0u64;
    let mut seen_lost = 0u64;
    loop {
        let mut batch = Vec::with_capacity(64);
        let got = consumer.drain(64, |ev| batch.push(*ev));
        // Re-derive order and gaps independently of the consumer's own accounting.
        for ev in &batch {
            let i = ev.as_bbo().unwrap().bid_tick as u64;
            assert_eq!(u64::from(ev.seq()), i & 0xffff_ffff, "seq numbers the records");
            let expected = last.map_or(0, |l| l + 1);
            assert!(i >= expected, "order: {i} after {last:?}");
            seen_lost += i - expected;
            last = Some(i);
            seen += 1;
        }
        assert_eq!(consumer.lost(), seen_lost);
        if got == 0 {
            if producer.is_finished() && consumer.stats().in_flight() == 0 {
                break;
            }
            check_deadline(start, "consumer");
            std::hint::spin_loop();
        }
    }
    let (publisher, dropped) = producer.join().unwrap();
    // Drain anything pushed between the last empty look and the producer finishing.
    consumer.drain(usize::MAX, |ev| {
        let i = ev.as_bbo().unwrap().bid_tick as u64;
        assert!(last.is_none_or(|l| i > l));
        last = Some(i);
        seen += 1;
    });
    let stats = publisher.stats();
    assert_eq!(stats.produced, n);
    assert_eq!(stats.dropped, dropped);
    assert_eq!(stats.consumed, seen);
    assert_eq!(stats.produced, stats.consumed + stats.dropped, "{stats:?}");
    // Gaps seen by the consumer + drops after its last record = every drop.
    assert_eq!(consumer.lost() + (n - consumer.next_seq()), stats.dropped);
    let newest = consumer.latest_bbo(0).unwrap().as_bbo().unwrap();
    assert_eq!(newest.bid_tick as u64, n - 1);
}

#[test]
fn lossless_million_small_ring() {
    lossless(1_000_000, 8);
}

#[test]
fn lossless_million_large_ring() {
    lossless(1_000_000, 4096);
}

#[test]
fn lossy_million_tiny_ring() {
    lossy(1_000_000, 4);
}

#[test]
fn lossy_million() {
    lossy(1_000_000, 1024);
}

#[test]
#[ignore = "long: run with --ignored"]
fn lossless_hundred_million() {
    lossless(100_000_000, 1024);
}

#[test]
#[ignore = "long: run with --ignored"]
fn lossy_hundred_million() {
    lossy(100_000_000, 256);
}

/// The last-value slot under a real writer: a reader racing a million writes only ever sees
/// whole records (every field derived from the same counter), never going backwards.
#[test]
fn last_value_never_torn() {
    let n = 1_000_000i64;
    let (mut publisher, subscription) = feed(2, 1);
    let monitor = subscription.monitor();
    let writer = thread::spawn(move || {
        for i in 1..=n {
            let bbo = Bbo { bid_tick: i, bid_lots: 2 * i, ask_tick: 3 * i, ask_lots: 4 * i };
            let stamps = Stamps { exch_ts: i as u64, local_ts: i as u64, parsed_ts: i as u64 };
            publisher.publish_at(Event::bbo(stamps, 0, BookState::Synced, bbo), i as u64);
        }
    });
    let start = Instant::now();
    let mut last = 0i64;
    while last < n {
        if let Some(ev) = monitor.latest_bbo(0) {
            let b = ev.as_bbo().unwrap();
            let i = b.bid_tick;
            assert_eq!((b.bid_lots, b.ask_tick, b.ask_lots), (2 * i, 3 * i, 4 * i), "torn");
            assert_eq!((ev.exch_ts(), ev.local_ts()), (i as u64, i as u64), "torn");
            assert!(i >= last, "went backwards: {i} after {last}");
            last = i;
        }
        check_deadline(start, "last-value reader");
    }
    writer.join().unwrap();
    drop(subscription);
}

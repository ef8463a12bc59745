//! The transport-independent fan-out over the in-memory transport: order, numbering, losses,
//! late joins, restarts and malformed samples.

use super::memory::{pair, MemorySource};
use super::wire::{self, SampleBuf, FLAG_SNAPSHOT, MAX_STREAM_RECORDS};
use super::*;
use crate::book::{Instrument, Step, StepSource, Venue};
use crate::event::{Bbo, BookState, EventKind, Side, Stamps, Trade};

fn stamps(i: u64) -> Stamps {
    Stamps { exch_ts: 1_000 + i, local_ts: 2_000 + i, parsed_ts: 2_100 + i }
}

fn bbo(i: u64, id: u16) -> Event {
    let b = Bbo { bid_tick: 100 + i as i64, bid_lots: 1, ask_tick: 101 + i as i64, ask_lots: 2 };
    Event::bbo(stamps(i), id, BookState::Synced, b)
}

fn definition(id: u16, symbol: &str) -> Vec<Event> {
    let inst = Instrument {
        venue: Venue::Binance,
        symbol: symbol.into(),
        tick: Step::parse("0.01").unwrap(),
        lot: Step::parse("0.00001").unwrap(),
        source: StepSource::Venue,
        trade_tick: None,
    };
    let (records, n) = Event::instrument_definition(stamps(0), id, &inst);
    records[..n].to_vec()
}

fn drain(sub: &mut Subscriber<MemorySource>) -> Vec<Event> {
    let mut got = Vec::new();
    sub.poll(|ev| got.push(*ev)).unwrap();
    got
}

#[test]
fn records_arrive_in_order_numbered_with_row_times() {
    let (t, s) = pair(1024);
    let mut fanout = Fanout::new(vec![Box::new(t)]);
    let mut sub = Subscriber::new(s);
    let defs = definition(0, "A_VERY_LONG_SYMBOL_NAME_THAT_NEEDS_TEXT_RECORDS");
    for ev in &defs {
        fanout.push(ev, ev.local_ts());
    }
    for i in 0..200 {
        // The row time replaces the receive stamp (a replay's recorded time).
        fanout.push(&bbo(i, 0), 9_000_000 + i);
    }
    fanout.flush();
    let got = drain(&mut sub);
    assert_eq!(got.len(), defs.len() + 200);
    for (i, ev) in got.iter().enumerate() {
        assert_eq!(ev.seq(), i as u32);
    }
    let bbos: Vec<_> = got.iter().filter_map(|e| e.as_bbo().map(|b| (b, e.local_ts()))).collect();
    assert_eq!(bbos[7].0.bid_tick, 107);
    assert_eq!(bbos[7].1, 9_000_007);
    assert_eq!(
        sub.instruments().get(0).unwrap().symbol,
        "A_VERY_LONG_SYMBOL_NAME_THAT_NEEDS_TEXT_RECORDS"
    );
    assert_eq!(sub.stats().lost, 0);
    // Full batches went out on their own: 200 records need at least 3 samples of 64.
    assert!(sub.stats().samples >= 4, "{:?}", sub.stats());
    let stats = fanout.finish();
    assert_eq!(stats.records, (defs.len() + 200) as u64);
    drain(&mut sub);
    assert!(sub.stats().ended);
}

#[test]
fn an_overwritten_queue_is_counted_as_lost_records() {
    let (t, s) = pair(4);
    let mut fanout = Fanout::new(vec![Box::new(t)]);
    let mut sub = Subscriber::new(s);
    fanout.push(&bbo(0, 0), 1);
    fanout.flush();
    assert_eq!(drain(&mut sub).len(), 1);
    // Ten samples of one record into a queue of four: the six oldest are overwritten.
    for i in 1..=10 {
        fanout.push(&bbo(i, 0), i);
        fanout.flush();
    }
    let got = drain(&mut sub);
    assert_eq!(got.len(), 4);
    assert_eq!(got[0].as_bbo().unwrap().bid_tick, 107);
    assert_eq!(sub.stats().lost, 6);
    assert_eq!(sub.stats().records + sub.stats().lost, fanout.stats().records);
}

#[test]
fn a_late_subscriber_gets_the_last_values_then_the_stream() {
    let (t, _unread) = pair(1024);
    let mut fanout = Fanout::new(vec![Box::new(t)]);
    for ev in definition(0, "BTCUSDT").iter().chain(definition(1, "ETHUSDT").iter()) {
        fanout.push(ev, ev.local_ts());
    }
    for i in 0..10 {
        fanout.push(&bbo(i, (i % 2) as u16), 5_000 + i);
    }
    let trade = Trade { price_tick: 5, size_lots: 1, aggressor: Some(Side::Buy), trade_id: 9 };
    fanout.push(&Event::trade(stamps(11), 0, BookState::Synced, trade), 6_000);
    fanout.push(&Event::book_state(stamps(12), 1, BookState::Stale, BookState::Synced), 6_001);
    // Top 2 of book 0.
    fanout.push(&Event::depth_level(stamps(13), 0, Side::Buy, 100, 3), 6_002);
    fanout.push(&Event::depth_level(stamps(13), 0, Side::Sell, 101, 4), 6_002);
    fanout.push(&Event::depth_end(stamps(13), 0, 2), 6_002);
    fanout.flush();
    // Everything so far went before the subscriber existed: its queue starts empty.
    let (late_t, late_s) = pair(1024);
    fanout.transports.push(Box::new(late_t));
    let mut sub = Subscriber::new(late_s);
    fanout.push(&bbo(20, 0), 7_000);
    fanout.flush();
    assert!(drain(&mut sub).is_empty(), "joined mid-stream: waits for the snapshot");
    fanout.idle();
    assert_eq!(fanout.stats().snapshots, 1);
    fanout.push(&bbo(21, 1), 7_001);
    fanout.flush();
    let got = drain(&mut sub);
    let kinds: Vec<_> = got.iter().map(|e| (e.instrument(), e.kind())).collect();
    // Both definitions, book 0's last BBO and top 2, book 1's last BBO and its later state,
    // then the live records after the snapshot's point (the BBO sent before the snapshot was
    // taken is in it).
    assert_eq!(sub.instruments().iter().count(), 2);
    let bbos: Vec<_> =
        got.iter().filter_map(|e| e.as_bbo().map(|b| (e.instrument(), b.bid_tick))).collect();
    assert_eq!(bbos, vec![(0, 120), (1, 109), (1, 121)]);
    assert!(kinds.contains(&(1, EventKind::BookState { previous: BookState::Synced })));
    assert!(kinds
        .contains(&(0, EventKind::DepthLevel { side: Side::Sell, price_tick: 101, size_lots: 4 })));
    assert!(
        !got.iter().any(|e| matches!(e.kind(), EventKind::Trade(_))),
        "trades are not last values"
    );
    assert_eq!(sub.stats().snapshots, 1);
    assert_eq!(sub.stats().lost, 0);
    assert_eq!(got.last().unwrap().as_bbo().unwrap().bid_tick, 121);
}

#[test]
fn a_subscriber_there_from_the_start_needs_no_snapshot() {
    let (t, s) = pair(1024);
    let mut sub = Subscriber::new(s);
    assert!(drain(&mut sub).is_empty());
    let mut fanout = Fanout::new(vec![Box::new(t)]);
    fanout.push(&bbo(0, 0), 1);
    fanout.flush();
    assert_eq!(drain(&mut sub).len(), 1);
    assert_eq!(sub.stats().snapshots, 0);
}

#[test]
fn a_restarted_publisher_is_a_new_stream() {
    let (t, s) = pair(1024);
    let mut sub = Subscriber::new(s);
    let mut first = Fanout::new(vec![Box::new(t.clone())]);
    for i in 0..5 {
        first.push(&bbo(i, 0), i);
    }
    first.finish();
    let mut second = Fanout::new(vec![Box::new(t)]);
    second.push(&bbo(50, 0), 50);
    second.flush();
    let got = drain(&mut sub);
    assert_eq!(got.len(), 6);
    assert_eq!(sub.stats().restarts, 1);
    assert_eq!(sub.stats().lost, 0);
    assert!(!sub.stats().ended, "the new stream has not ended");
}

#[test]
fn malformed_samples_are_counted_not_fatal() {
    let (mut t, s) = pair(1024);
    let mut sub = Subscriber::new(s);
    t.send(b"short").unwrap();
    let mut bad = SampleBuf::with_capacity(1);
    bad.push(&bbo(0, 0), 0, 0);
    let mut bytes = bad.finish(0, 7, 0).to_vec();
    bytes.pop();
    t.send(&bytes).unwrap();
    bytes.push(0);
    bytes[4] = 9; // version 9
    t.send(&bytes).unwrap();
    let mut good = SampleBuf::with_capacity(1);
    good.push(&bbo(3, 0), 3, 0);
    t.send(good.finish(0, 7, 0)).unwrap();
    let got = drain(&mut sub);
    assert_eq!(got.len(), 1);
    assert_eq!(sub.stats().malformed, 3);
    assert!(sub.stats().first_error.as_deref().unwrap().contains("shorter"));
}

#[test]
fn headers_round_trip_and_reject_lies() {
    let mut buf = SampleBuf::with_capacity(2);
    buf.push(&bbo(1, 3), 77, 5);
    buf.push(&bbo(2, 3), 78, 6);
    let sample = buf.finish(FLAG_SNAPSHOT, 0xABCD, 42).to_vec();
    let (h, records) = wire::decode(&sample).unwrap();
    assert_eq!(
        (h.count, h.stream_id, h.first_seq, h.is_snapshot(), h.is_end()),
        (2, 0xABCD, 42, true, false)
    );
    let records: Vec<_> = records.collect();
    assert_eq!(records[1].local_ts(), 78);
    assert_eq!(records[1].seq(), 6);
    assert_eq!(records[1].instrument(), 3);
    let mut lying = sample.clone();
    lying[12] = 3; // count 3, two records present
    assert!(matches!(wire::decode(&lying), Err(wire::WireError::Length { .. })));
    lying[0] = b'X';
    assert_eq!(wire::decode(&lying).unwrap_err(), wire::WireError::Magic);
    assert_eq!(MAX_STREAM_RECORDS, 64);
}

#[test]
fn a_join_whose_snapshot_never_comes_takes_the_stream_and_counts_the_rest_lost() {
    let (t, s) = pair(4);
    let mut fanout = Fanout::new(vec![Box::new(t)]);
    let mut sub = Subscriber::new(s);
    // The subscriber is there but does not read: its queue of 4 keeps the newest samples.
    for i in 0..10 {
        fanout.push(&bbo(i, 0), i);
        fanout.flush();
    }
    let published = fanout.finish().records;
    // No one answers snapshot requests any more (the publisher is gone) and the end was seen.
    let got = drain(&mut sub);
    assert_eq!(got.len(), 3);
    assert_eq!(got[0].as_bbo().unwrap().bid_tick, 107);
    assert!(sub.stats().ended);
    assert_eq!(sub.stats().unanswered_joins, 1);
    assert_eq!(sub.stats().records + sub.stats().lost, published);
}

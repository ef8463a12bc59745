//! Kraken v1 on the real captures, and v2 on the documented example, through the real engine.

mod common;

use common::{feed, records, symbol};
use ladderfeed::book::InstrumentRegistry;
use ladderfeed::capture::{Record, RecordKind};
use ladderfeed::engine::Engine;
use ladderfeed::event::BookState;
use ladderfeed::venue::kraken::{KrakenV1, KrakenV2};
use ladderfeed::venue::Adapter;

const FILES: [&str; 3] = [
    "kraken/cryptofeed_KRAKEN.ws.48.0",
    "kraken/cryptofeed_KRAKEN.ws.49.0",
    "kraken/cryptofeed_KRAKEN.ws.50.0",
];

fn v1() -> Engine<KrakenV1> {
    Engine::new(KrakenV1::new(InstrumentRegistry::with_builtins()))
}

/// Checksums in the received book frames, counted from the raw text.
fn checksums_in(recs: &[Record]) -> u64 {
    recs.iter()
        .filter(|r| r.kind == RecordKind::Recv)
        .filter(|r| r.payload.windows(6).any(|w| w == b"\"book-"))
        .map(|r| r.payload.windows(5).filter(|w| w == b"\"c\":\"").count() as u64)
        .sum()
}

#[test]
fn every_checksum_in_every_v1_capture_verifies() {
    let mut total = 0;
    for f in FILES {
        let recs = records(&[f]);
        let mut engine = v1();
        let run = feed(&mut engine, &recs);
        assert!(run.errors.is_empty(), "{f}: {:?}", &run.errors[..run.errors.len().min(5)]);
        run.assert_never_crossed_valid();
        let expected = checksums_in(&recs);
        let (mut ok, mut failed, mut gaps, mut crossed) = (0, 0, 0, 0);
        for i in 0..engine.symbols().len() {
            let st = engine.book_stats(i as u16).unwrap();
            ok += st.checksum_ok;
            failed += st.checksum_failed;
            gaps += st.gaps;
            crossed += st.crossed_detected;
            if st.snapshots > 0 {
                assert_eq!(engine.state(i as u16), Some(BookState::Synced), "{f}");
            }
        }
        eprintln!("{f}: {} frames, {ok}/{expected} checksums verified", run.frames);
        assert_eq!((ok, failed, gaps, crossed), (expected, 0, 0, 0), "{f}");
        total += ok;
    }
    assert!(total >= 4269, "venues.md counts 4,269 checksums in ws.50.0 alone");
}

#[test]
fn trades_are_normalized() {
    let recs = records(&["kraken/cryptofeed_KRAKEN.ws.48.0"]);
    let mut engine = v1();
    let run = feed(&mut engine, &recs);
    assert!(run.errors.is_empty(), "{:?}", run.errors);
    let trades: Vec<_> = run
        .events
        .iter()
        .filter_map(|e| match e.kind() {
            ladderfeed::event::EventKind::Trade(t) => Some(t),
            _ => None,
        })
        .collect();
    assert!(!trades.is_empty());
    assert!(trades.iter().all(|t| t.aggressor.is_some() && t.size_lots > 0 && t.price_tick > 0));
}

/// Index of the n-th received book update (not snapshot) of `pair`.
fn nth_update(recs: &[Record], pair: &str, n: usize) -> usize {
    let tail = format!("\"book-1000\",\"{pair}\"]");
    recs.iter()
        .enumerate()
        .filter(|(_, r)| r.kind == RecordKind::Recv && r.payload.ends_with(tail.as_bytes()))
        .filter(|(_, r)| !r.payload.windows(5).any(|w| w == b"{\"as\""))
        .nth(n)
        .map(|(i, _)| i)
        .expect("update")
}

#[test]
fn cutting_one_update_fails_a_later_checksum_and_the_book_resyncs() {
    // Kraken numbers nothing: a lost update is caught only when it touched the top 10 levels
    // the checksum covers. Cut updates one at a time until one of those is hit.
    let recs = records(&["kraken/cryptofeed_KRAKEN.ws.50.0"]);
    let mut undetectable = 0;
    for n in 0..40 {
        let mut cut_recs = recs.clone();
        cut_recs.remove(nth_update(&recs, "XBT/CHF", n));
        let mut engine = v1();
        let run = feed(&mut engine, &cut_recs);
        run.assert_never_crossed_valid();
        let s = symbol(&engine, "XBT/CHF");
        let st = engine.book_stats(s).unwrap();
        if st.checksum_failed == 0 {
            // The cut levels were all deeper than the checksum's top 10.
            undetectable += 1;
            continue;
        }
        assert_eq!(st.checksum_failed, 1, "{st:?}");
        assert_eq!(engine.state(s), Some(BookState::Resyncing));
        // Nothing valid was published for it after the failure.
        let at = run
            .events
            .iter()
            .position(|e| e.instrument() == s && e.state() == BookState::Resyncing)
            .unwrap();
        assert!(run.events[at..]
            .iter()
            .all(|e| !(e.instrument() == s && e.is_bbo() && e.state().is_valid())));
        // The other pairs on the connection are untouched.
        for i in 0..engine.symbols().len() as u16 {
            if i != s {
                assert_eq!(engine.book_stats(i).unwrap().checksum_failed, 0);
            }
        }
        eprintln!("cut update {n}: detected ({undetectable} earlier cuts were below the top 10)");
        return;
    }
    panic!("no cut among 40 updates was detected");
}

#[test]
fn corrupting_one_level_fails_the_checksum() {
    let mut recs = records(&["kraken/cryptofeed_KRAKEN.ws.50.0"]);
    let at = nth_update(&recs, "XMR/USD", 2);
    // Change one digit of the first size in the message.
    let p = &mut recs[at].payload;
    let q = p.windows(3).position(|w| w == b"\",\"").expect("level") + 3;
    p[q] = if p[q] == b'9' { b'8' } else { p[q] + 1 };
    let mut engine = v1();
    let run = feed(&mut engine, &recs);
    let s = symbol(&engine, "XMR/USD");
    assert_eq!(engine.book_stats(s).unwrap().checksum_failed, 1);
    assert_eq!(engine.state(s), Some(BookState::Resyncing));
    run.assert_never_crossed_valid();
}

const V2_SNAPSHOT: &str = r#"{"channel":"book","type":"snapshot","data":[{"symbol":"BTC/USD","bids":[{"price":45283.5,"qty":0.10000000},{"price":45283.4,"qty":1.54582015},{"price":45282.1,"qty":0.10000000},{"price":45281.0,"qty":0.10000000},{"price":45280.3,"qty":1.54592586},{"price":45279.0,"qty":0.07990000},{"price":45277.6,"qty":0.03310103},{"price":45277.5,"qty":0.30000000},{"price":45277.3,"qty":1.54602737},{"price":45276.6,"qty":0.15445238}],"asks":[{"price":45285.2,"qty":0.00100000},{"price":45286.4,"qty":1.54571953},{"price":45286.6,"qty":1.54571109},{"price":45289.6,"qty":1.54560911},{"price":45290.2,"qty":0.15890660},{"price":45291.8,"qty":1.54553491},{"price":45294.7,"qty":0.04454749},{"price":45296.1,"qty":0.35380000},{"price":45297.5,"qty":0.09945542},{"price":45299.5,"qty":0.18772827}],"checksum":3310070434,"timestamp":"2023-10-06T17:35:55.440295Z"}]}"#;

#[test]
fn v2_documented_snapshot_verifies_and_updates_truncate_to_depth() {
    let mut engine = Engine::new(KrakenV2::new(InstrumentRegistry::with_builtins(), 10));
    let mut ev = Vec::new();
    engine
        .handle_frame(br#"{"method":"subscribe","result":{"channel":"book","depth":10,"snapshot":true,"symbol":"BTC/USD"},"success":true,"time_in":"x","time_out":"y"}"#, 0, &mut ev)
        .unwrap();
    engine.handle_frame(V2_SNAPSHOT.as_bytes(), 1, &mut ev).unwrap();
    let s = symbol(&engine, "BTC/USD");
    assert_eq!(engine.book_stats(s).unwrap().checksum_ok, 1);
    assert_eq!(engine.state(s), Some(BookState::Synced));
    // A new best bid pushes the 10th bid out of scope: the checksum covers the truncated book.
    let mut book = engine.book(s).unwrap().clone();
    let inst = engine.symbols().get(s).unwrap().instrument.clone();
    let px = inst.price_ticks(b"45284.0").unwrap();
    book.set(ladderfeed::book::Side::Bid, px, inst.qty_lots(b"0.5").unwrap());
    let worst = book.iter(ladderfeed::book::Side::Bid).nth(10).unwrap().px_tick;
    book.set(ladderfeed::book::Side::Bid, worst, 0);
    let mut c = ladderfeed::book::checksum::Checksummer::new();
    let want = c.kraken(&book, inst.tick, 1, inst.lot, 8);
    let update = format!(
        r#"{{"channel":"book","type":"update","data":[{{"symbol":"BTC/USD","bids":[{{"price":45284.0,"qty":0.50000000}}],"asks":[],"checksum":{want},"timestamp":"2023-10-06T17:35:56.000000Z"}}]}}"#
    );
    engine.handle_frame(update.as_bytes(), 2, &mut ev).unwrap();
    let st = engine.book_stats(s).unwrap();
    assert_eq!((st.checksum_ok, st.checksum_failed), (2, 0));
    assert_eq!(engine.book(s).unwrap().len(ladderfeed::book::Side::Bid), 10);
    // A wrong checksum: Resyncing, and later updates wait for a snapshot.
    let bad = update.replace(&format!("\"checksum\":{want}"), "\"checksum\":1");
    engine.handle_frame(bad.as_bytes(), 3, &mut ev).unwrap();
    assert_eq!(engine.state(s), Some(BookState::Resyncing));
    engine.handle_frame(update.as_bytes(), 4, &mut ev).unwrap();
    assert_eq!(engine.stats().waiting, 1);
    engine.handle_frame(V2_SNAPSHOT.as_bytes(), 5, &mut ev).unwrap();
    assert_eq!(engine.state(s), Some(BookState::Synced));
}

#[test]
fn v2_trades_and_control() {
    let mut engine = Engine::new(KrakenV2::new(InstrumentRegistry::with_builtins(), 10));
    let mut ev = Vec::new();
    engine.handle_frame(br#"{"channel":"heartbeat"}"#, 0, &mut ev).unwrap();
    engine
        .handle_frame(
            br#"{"channel":"status","type":"update","data":[{"system":"online"}]}"#,
            0,
            &mut ev,
        )
        .unwrap();
    engine
        .handle_frame(br#"{"channel":"trade","type":"update","data":[{"symbol":"BTC/USD","side":"sell","price":45283.5,"qty":0.00100000,"ord_type":"market","trade_id":42,"timestamp":"2023-10-06T17:35:55.440295Z"}]}"#, 0, &mut ev)
        .unwrap();
    let t = ev.iter().find_map(|e| match e.kind() {
        ladderfeed::event::EventKind::Trade(t) => Some(t),
        _ => None,
    });
    let t = t.unwrap();
    assert_eq!((t.trade_id, t.aggressor), (42, Some(ladderfeed::event::Side::Sell)));
    assert_eq!(engine.stats().control, 2);
}

#[test]
fn bad_input_is_typed() {
    let mut engine = v1();
    let mut ev = Vec::new();
    let cases: &[(&[u8], &str)] = &[
        (b"[1,{\"as\":[[\"1.0\",\"1\",\"1\"]],\"bs\":[]},\"book-10\"", "json"),
        (b"[1,{\"as\":[[\"1.0\",\"-1\",\"1\"]],\"bs\":[]},\"book-10\",\"X/Y\"]", "number"),
        (b"[1,{\"as\":[[\"1e3\",\"1\",\"1\"]],\"bs\":[]},\"book-10\",\"X/Y\"]", "number"),
        (b"[1,{\"as\":[[1.5,\"1\",\"1\"]],\"bs\":[]},\"book-10\",\"X/Y\"]", "shape"),
        (b"[1,{\"a\":[[\"1.0\",\"1\",\"1\"]]},\"book-10\",\"NOPE/X\"]", "unknown_symbol"),
        (b"{\"event\":\"mystery\"}", "unknown_type"),
        (
            b"{\"event\":\"subscriptionStatus\",\"status\":\"error\",\"errorMessage\":\"x\"}",
            "venue_error",
        ),
        (b"[1,2]", "shape"),
    ];
    for (frame, kind) in cases {
        let e = engine.handle_frame(frame, 0, &mut ev).expect_err(kind);
        assert_eq!(e.name(), *kind, "{}", String::from_utf8_lossy(frame));
    }
    let mut v2 = Engine::new(KrakenV2::new(InstrumentRegistry::with_builtins(), 10));
    let e = v2
        .handle_frame(br#"{"channel":"book","type":"snapshot","data":[{"symbol":"BTC/USD","bids":[{"price":123456789012345678901234567890,"qty":1}],"asks":[],"checksum":1}]}"#, 0, &mut ev)
        .unwrap_err();
    assert_eq!(e.name(), "number");
    let e = v2.handle_frame(br#"{"channel":"book","type":"update","data":[{"symbol":"BTC/USD","bids":[{"price":NaN,"qty":1}]}]}"#, 0, &mut ev).unwrap_err();
    assert_eq!(e.name(), "json");
}

#[test]
fn subscribe_messages() {
    let a = KrakenV2::new(InstrumentRegistry::new(), 25);
    assert_eq!(
        a.subscribe_messages(&["BTC/USD"])[0],
        r#"{"method":"subscribe","params":{"channel":"book","symbol":["BTC/USD"],"depth":25,"snapshot":true},"req_id":1}"#
    );
    let v1 = KrakenV1::new(InstrumentRegistry::new());
    assert!(v1.subscribe_messages(&["XBT/USD"])[0].contains("\"depth\":1000"));
}

//! Gemini v2 on the real captures; v1 on the documented message shapes.

mod common;

use common::{feed, records, symbol};
use ladderfeed::book::InstrumentRegistry;
use ladderfeed::engine::Engine;
use ladderfeed::event::{self, BookState, EventKind};
use ladderfeed::venue::gemini::{GeminiV1, GeminiV2};
use ladderfeed::venue::Adapter;

fn v2() -> Engine<GeminiV2> {
    Engine::new(GeminiV2::new(InstrumentRegistry::with_builtins()))
}

#[test]
fn v2_captures_rebuild_and_never_cross() {
    for (file, symbols) in [
        ("gemini/cryptofeed-v3_GEMINI.jsonl.zst", 10),
        ("gemini/cryptofeed_GEMINI.ws.1.0", 10),
        ("gemini/cryptofeed-v3_GEMINI.ws-recv.jsonl", 10),
    ] {
        let recs = records(&[file]);
        let mut engine = v2();
        let run = feed(&mut engine, &recs);
        assert!(run.errors.is_empty(), "{file}: {:?}", &run.errors[..run.errors.len().min(5)]);
        run.assert_never_crossed_valid();
        assert_eq!(engine.symbols().len(), symbols, "{file}");
        for (i, info) in engine.symbols().list().iter().enumerate() {
            let s = i as u16;
            let st = engine.book_stats(s).unwrap();
            assert_eq!(engine.state(s), Some(BookState::Synced), "{file} {}", info.key);
            assert_eq!((st.snapshots, st.crossed_detected), (1, 0), "{file} {}", info.key);
        }
        let trades = run.events.iter().filter(|e| matches!(e.kind(), EventKind::Trade(_))).count();
        eprintln!("{file}: {} frames, {trades} trades", run.frames);
    }
}

#[test]
fn v2_updates_before_the_full_book_wait() {
    let mut engine = v2();
    let mut ev = Vec::new();
    engine
        .handle_frame(
            br#"{"type":"l2_updates","symbol":"BTCUSD","changes":[["buy","100.00","1"]]}"#,
            0,
            &mut ev,
        )
        .unwrap();
    assert_eq!(engine.stats().waiting, 1);
    engine
        .handle_frame(br#"{"auction_events":[],"changes":[["buy","100.00","1"],["sell","100.01","2"]],"symbol":"BTCUSD","trades":[],"type":"l2_updates"}"#, 0, &mut ev)
        .unwrap();
    let s = symbol(&engine, "BTCUSD");
    assert_eq!(engine.state(s), Some(BookState::Synced));
    // An update that crosses the book: Resyncing, no valid BBO.
    engine
        .handle_frame(
            br#"{"type":"l2_updates","symbol":"BTCUSD","changes":[["buy","100.02","1"]]}"#,
            0,
            &mut ev,
        )
        .unwrap();
    assert_eq!(engine.state(s), Some(BookState::Resyncing));
    assert_eq!(engine.book_stats(s).unwrap().crossed_detected, 1);
    assert!(ev
        .iter()
        .all(|e| !(e.is_bbo() && e.state().is_valid() && e.as_bbo().unwrap().is_crossed())));
    // Live, the symbol is subscribed again on the same connection: updates still in flight
    // wait, and the subscription's full book syncs it.
    let frame = br#"{"type":"l2_updates","symbol":"BTCUSD","changes":[["sell","100.03","1"]]}"#;
    engine.handle_frame(frame, 0, &mut ev).unwrap();
    assert_eq!(engine.stats().waiting, 2);
    let full = br#"{"type":"l2_updates","symbol":"BTCUSD","changes":[["buy","100.00","1"],["sell","100.03","1"]],"trades":[],"auction_events":[]}"#;
    engine.handle_frame(full, 0, &mut ev).unwrap();
    assert_eq!(engine.state(s), Some(BookState::Synced));
    assert_eq!(engine.book_stats(s).unwrap().snapshots, 2);
    let bbo = ev.iter().rev().find_map(|e| e.as_bbo()).unwrap();
    assert_eq!((bbo.bid_tick, bbo.ask_tick), (10_000, 10_003));
}

fn v1() -> Engine<GeminiV1> {
    Engine::new(GeminiV1::new(InstrumentRegistry::with_builtins(), "BTCUSD").unwrap())
}

const V1_INITIAL: &str = r#"{"type":"update","eventId":5375461993,"socket_sequence":0,"events":[{"type":"change","reason":"initial","price":"3641.61","delta":"0.83372051","remaining":"0.83372051","side":"bid"},{"type":"change","reason":"initial","price":"3641.62","delta":"4.072","remaining":"4.072","side":"ask"}]}"#;

#[test]
fn v1_initial_book_updates_trades_and_sequence() {
    let mut engine = v1();
    let mut ev = Vec::new();
    engine.handle_frame(V1_INITIAL.as_bytes(), 0, &mut ev).unwrap();
    let s = 0;
    assert_eq!(engine.state(s), Some(BookState::Synced));
    // The asyncapi example's JSON numbers are accepted as exact text.
    engine
        .handle_frame(br#"{"type":"update","eventId":36902233362,"timestamp":1619769673,"timestampms":1619769673527,"socket_sequence":1,"events":[{"type":"change","side":"bid","price":3641.60,"remaining":0.002,"delta":0.002,"reason":"place"}]}"#, 1, &mut ev)
        .unwrap();
    engine
        .handle_frame(br#"{"type":"update","eventId":5375461994,"timestampms":1547830000000,"socket_sequence":2,"events":[{"type":"trade","tid":5375461994,"price":"3641.62","amount":"0.1","makerSide":"ask"},{"type":"change","side":"ask","price":"3641.62","remaining":"3.972","delta":"-0.1","reason":"trade"}]}"#, 2, &mut ev)
        .unwrap();
    engine.handle_frame(br#"{"type":"heartbeat","socket_sequence":3}"#, 3, &mut ev).unwrap();
    let trade = ev.iter().find_map(|e| match e.kind() {
        EventKind::Trade(t) => Some(t),
        _ => None,
    });
    assert_eq!(trade.unwrap().aggressor, Some(event::Side::Buy));
    assert_eq!(engine.book(s).unwrap().len(ladderfeed::book::Side::Bid), 2);
    assert_eq!(engine.book_stats(s).unwrap().gaps, 0);
    // socket_sequence 5 after 3: a lost message.
    engine.handle_frame(br#"{"type":"heartbeat","socket_sequence":5}"#, 4, &mut ev).unwrap();
    assert_eq!(engine.state(s), Some(BookState::Resyncing));
    assert_eq!(engine.book_stats(s).unwrap().gaps, 1);
    // Updates wait until a new connection sends its initial book.
    engine
        .handle_frame(br#"{"type":"update","socket_sequence":6,"events":[{"type":"change","side":"bid","price":"1.00","remaining":"1","delta":"1","reason":"place"}]}"#, 5, &mut ev)
        .unwrap();
    assert_eq!(engine.state(s), Some(BookState::Resyncing));
    engine.disconnected(6, &mut ev);
    engine.handle_frame(V1_INITIAL.as_bytes(), 7, &mut ev).unwrap();
    assert_eq!(engine.state(s), Some(BookState::Synced));
}

#[test]
fn bad_input_is_typed() {
    let mut engine = v2();
    let mut ev = Vec::new();
    let cases: &[(&[u8], &str)] = &[
        (b"{\"type\":\"l2_updates\",\"symbol\":", "json"),
        (b"{\"type\":\"mystery\"}", "unknown_type"),
        (br#"{"type":"l2_updates","symbol":"BTCUSD","changes":[["buy","1e2","1"]],"trades":[]}"#, "number"),
        (br#"{"type":"l2_updates","symbol":"BTCUSD","changes":[["up","100","1"]],"trades":[]}"#, "shape"),
        (br#"{"type":"l2_updates","symbol":"BTCUSD","changes":[["buy","100","-1"]],"trades":[]}"#, "number"),
        (br#"{"type":"trade","symbol":"BTCUSD","event_id":1,"timestamp":1,"price":"100","quantity":"1","side":"up"}"#, "shape"),
        (br#"{"type":"l2_updates","symbol":"NOPE","changes":[]}"#, "unknown_symbol"),
    ];
    for (frame, kind) in cases {
        let e = engine.handle_frame(frame, 0, &mut ev).expect_err(kind);
        assert_eq!(e.name(), *kind, "{}", String::from_utf8_lossy(frame));
    }
    let mut e1 = v1();
    assert_eq!(
        e1.handle_frame(br#"{"type":"update","socket_sequence":0,"events":[{"type":"change","reason":"initial","price":"x","remaining":"1","side":"bid"}]}"#, 0, &mut ev)
            .unwrap_err()
            .name(),
        "number"
    );
    assert!(GeminiV1::new(InstrumentRegistry::new(), "NOPE").is_err());
}

#[test]
fn subscribe_messages() {
    let a = GeminiV2::new(InstrumentRegistry::new());
    assert_eq!(
        a.subscribe_messages(&["BTCUSD", "ETHUSD"]),
        vec![
            r#"{"type":"subscribe","subscriptions":[{"name":"l2","symbols":["BTCUSD","ETHUSD"]}]}"#
        ]
    );
    assert_eq!(
        a.resubscribe_book_messages("ETHUSD").unwrap(),
        vec![
            r#"{"type":"unsubscribe","subscriptions":[{"name":"l2","symbols":["ETHUSD"]}]}"#,
            r#"{"type":"subscribe","subscriptions":[{"name":"l2","symbols":["ETHUSD"]}]}"#,
        ]
    );
    let b = GeminiV1::new(InstrumentRegistry::with_builtins(), "BTCUSD").unwrap();
    assert!(b.resubscribe_book_messages("BTCUSD").is_none(), "v1: one symbol per connection");
    assert_eq!(b.path(), "/v1/marketdata/btcusd?heartbeat=true");
}

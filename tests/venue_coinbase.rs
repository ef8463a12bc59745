//! Coinbase Advanced Trade and Coinbase Exchange on the real captures, through the engine.

mod common;

use common::{feed, records, symbol};
use ladderfeed::book::InstrumentRegistry;
use ladderfeed::capture::RecordKind;
use ladderfeed::engine::Engine;
use ladderfeed::event::{self, BookState, EventKind};
use ladderfeed::venue::coinbase::{CoinbaseAdvanced, CoinbaseExchange};
use ladderfeed::venue::Adapter;

const ADVANCED: &str = "coinbase/cryptofeed-v3_COINBASE.jsonl.zst";
const EXCHANGE: &str = "coinbase/cryptofeed_COINBASE.ws.28.0";

fn advanced() -> Engine<CoinbaseAdvanced> {
    Engine::new(CoinbaseAdvanced::new(InstrumentRegistry::with_builtins()))
}

fn exchange() -> Engine<CoinbaseExchange> {
    Engine::new(CoinbaseExchange::new(InstrumentRegistry::with_builtins()))
}

#[test]
fn advanced_trade_rebuilds_to_the_last_ticker() {
    let recs = records(&[ADVANCED]);
    let mut engine = advanced();
    let run = feed(&mut engine, &recs);
    assert!(run.errors.is_empty(), "{:?}", &run.errors[..run.errors.len().min(5)]);
    assert_eq!(run.frames, 1030);
    run.assert_never_crossed_valid();
    for key in ["BTC-USD", "ETH-USD"] {
        let s = symbol(&engine, key);
        let st = engine.book_stats(s).unwrap();
        assert_eq!(engine.state(s), Some(BookState::Synced), "{key}");
        assert_eq!((st.gaps, st.crossed_detected, st.snapshots), (0, 0, 1), "{key}");
        let book = engine.bbo(s).unwrap();
        let ticker = engine.symbols().get(s).unwrap().venue_bbo.expect("ticker seen");
        // Prices must agree; sizes may have moved with l2 updates after the last ticker.
        assert_eq!(
            (book.bid_tick, book.ask_tick),
            (ticker.bid_tick, ticker.ask_tick),
            "{key}: final book vs last ticker"
        );
    }
    let btc = symbol(&engine, "BTC-USD");
    let inst = &engine.symbols().get(btc).unwrap().instrument;
    let bbo = engine.bbo(btc).unwrap();
    assert_eq!(
        (inst.format_price(bbo.bid_tick), inst.format_price(bbo.ask_tick)),
        ("65083.66".to_owned(), "65083.67".to_owned())
    );
    // 1030 frames; 773 l2_data updates across both products, plus the two snapshots.
    let msgs: u64 = (0..2).map(|i| engine.book_stats(i).unwrap().book_messages).sum();
    assert_eq!(msgs, 775);
}

#[test]
fn advanced_trade_side_is_the_makers() {
    // A trade at (or above) the best ask of the moment was a taker buy.
    let recs = records(&[ADVANCED]);
    let mut engine = advanced();
    let mut checked = 0;
    let mut ev = Vec::new();
    for r in recs.iter().filter(|r| r.kind == RecordKind::Recv) {
        let before: Vec<_> = (0..engine.symbols().len() as u16).map(|s| engine.bbo(s)).collect();
        ev.clear();
        engine.handle_frame(&r.payload, r.local_ts, &mut ev).unwrap();
        for e in &ev {
            let (EventKind::Trade(t), Some(Some(b))) =
                (e.kind(), before.get(e.instrument() as usize))
            else {
                continue;
            };
            if engine.state(e.instrument()) != Some(BookState::Synced) || b.ask_lots == 0 {
                continue;
            }
            if t.price_tick >= b.ask_tick {
                assert_eq!(t.aggressor, Some(event::Side::Buy));
                checked += 1;
            } else if t.price_tick <= b.bid_tick {
                assert_eq!(t.aggressor, Some(event::Side::Sell));
                checked += 1;
            }
        }
    }
    assert!(checked > 10, "only {checked} trades could be checked");
}

#[test]
fn advanced_trade_cut_message_is_a_connection_gap() {
    let mut recs = records(&[ADVANCED]);
    let cut = recs
        .iter()
        .enumerate()
        .filter(|(_, r)| {
            r.kind == RecordKind::Recv && r.payload.starts_with(b"{\"channel\":\"l2_data\"")
        })
        .nth(100)
        .map(|(i, _)| i)
        .unwrap();
    recs.remove(cut);
    let mut engine = advanced();
    let run = feed(&mut engine, &recs);
    run.assert_never_crossed_valid();
    for key in ["BTC-USD", "ETH-USD"] {
        let s = symbol(&engine, key);
        assert_eq!(engine.state(s), Some(BookState::Resyncing), "{key}");
        assert_eq!(engine.book_stats(s).unwrap().gaps, 1, "{key}");
    }
    let at = run.events.iter().position(|e| e.state() == BookState::Resyncing).unwrap();
    assert!(run.events[at..].iter().all(|e| !(e.is_bbo() && e.state().is_valid())));
    // A duplicate (replayed) message is skipped as stale, not a gap.
    let mut engine = advanced();
    let mut dup = records(&[ADVANCED]);
    let again = dup[cut].clone();
    dup.insert(cut + 1, again);
    feed(&mut engine, &dup);
    assert_eq!(engine.stats().stale, 1);
    assert_eq!(engine.state(symbol(&engine, "BTC-USD")), Some(BookState::Synced));
}

#[test]
fn exchange_ten_products_rebuild_and_never_cross() {
    let recs = records(&[EXCHANGE]);
    let mut engine = exchange();
    let run = feed(&mut engine, &recs);
    assert!(run.errors.is_empty(), "{:?}", &run.errors[..run.errors.len().min(5)]);
    run.assert_never_crossed_valid();
    assert_eq!(engine.symbols().len(), 10);
    let mut updates = 0;
    for (i, info) in engine.symbols().list().iter().enumerate() {
        let s = i as u16;
        let st = engine.book_stats(s).unwrap();
        assert_eq!(engine.state(s), Some(BookState::Synced), "{}", info.key);
        assert_eq!((st.snapshots, st.crossed_detected), (1, 0), "{}", info.key);
        updates += st.book_messages - 1;
        assert!(info.venue_bbo.is_some(), "{}: a ticker was seen", info.key);
    }
    assert_eq!(updates, 9719);
    let trades = run.events.iter().filter(|e| matches!(e.kind(), EventKind::Trade(_))).count();
    // 97 matches; the 10 last_match messages are history from before the subscription.
    assert_eq!(trades, 97);
}

#[test]
fn bad_input_is_typed() {
    let mut engine = advanced();
    let mut ev = Vec::new();
    let cases: &[(&[u8], &str)] = &[
        (b"{\"channel\":\"l2_data\",\"sequence_num\":", "json"),
        (b"{\"channel\":\"l2_data\",\"sequence_num\":\"x\",\"events\":[]}", "shape"),
        (b"{\"channel\":\"mystery\",\"sequence_num\":2,\"events\":[]}", "unknown_type"),
        (b"{\"type\":\"error\",\"message\":\"failure\"}", "venue_error"),
        (br#"{"channel":"l2_data","sequence_num":4,"events":[{"type":"snapshot","product_id":"BTC-USD","updates":[{"side":"bid","price_level":"1e3","new_quantity":"1"}]}]}"#, "number"),
        (br#"{"channel":"l2_data","sequence_num":5,"events":[{"type":"snapshot","product_id":"BTC-USD","updates":[{"side":"up","price_level":"1","new_quantity":"1"}]}]}"#, "shape"),
        (br#"{"channel":"l2_data","sequence_num":6,"events":[{"type":"snapshot","product_id":"BTC-USD","updates":[{"side":"bid","price_level":"100","new_quantity":"-2"}]}]}"#, "number"),
        (br#"{"channel":"l2_data","sequence_num":7,"events":[{"type":"update","product_id":"NOPE","updates":[]}]}"#, "unknown_symbol"),
    ];
    for (frame, kind) in cases {
        let e = engine.handle_frame(frame, 0, &mut ev).expect_err(kind);
        assert_eq!(e.name(), *kind, "{}", String::from_utf8_lossy(frame));
    }
    let mut ex = exchange();
    let e = ex
        .handle_frame(
            br#"{"type":"snapshot","product_id":"SKL-USD","bids":[["0.1","NaN"]],"asks":[]}"#,
            0,
            &mut ev,
        )
        .unwrap_err();
    assert_eq!(e.name(), "number");
}

#[test]
fn subscribe_messages() {
    let a = CoinbaseAdvanced::new(InstrumentRegistry::new());
    let m = a.subscribe_messages(&["BTC-USD", "ETH-USD"]);
    assert_eq!(
        m[0],
        r#"{"type":"subscribe","product_ids":["BTC-USD","ETH-USD"],"channel":"level2"}"#
    );
    assert_eq!(m.len(), 4);
    let e = CoinbaseExchange::new(InstrumentRegistry::new());
    assert!(e.subscribe_messages(&["BTC-USD"])[0].contains("\"level2_batch\""));
    assert_eq!(
        e.resubscribe_book_messages("ETH-USD").unwrap(),
        vec![
            r#"{"type":"unsubscribe","product_ids":["ETH-USD"],"channels":["level2_batch"]}"#,
            r#"{"type":"subscribe","product_ids":["ETH-USD"],"channels":["level2_batch"]}"#,
        ]
    );
}

#[test]
fn exchange_book_resyncs_from_a_new_snapshot_on_the_same_connection() {
    let mut engine = exchange();
    let mut ev = Vec::new();
    let snapshot = br#"{"type":"snapshot","product_id":"BTC-USD","bids":[["100.00","1"]],"asks":[["100.02","2"]]}"#;
    engine.handle_frame(snapshot, 0, &mut ev).unwrap();
    let s = symbol(&engine, "BTC-USD");
    assert_eq!(engine.state(s), Some(BookState::Synced));
    // A bid above the best ask: the book cannot be trusted any more.
    let crossed = br#"{"type":"l2update","product_id":"BTC-USD","changes":[["buy","100.03","1"]],"time":"2021-04-17T16:43:37.075687Z"}"#;
    engine.handle_frame(crossed, 0, &mut ev).unwrap();
    assert_eq!(engine.state(s), Some(BookState::Resyncing));
    // Live, the product's book is subscribed again: updates in flight wait, the new
    // subscription's snapshot syncs it.
    let update = br#"{"type":"l2update","product_id":"BTC-USD","changes":[["sell","100.05","1"]],"time":"2021-04-17T16:43:37.075690Z"}"#;
    engine.handle_frame(update, 0, &mut ev).unwrap();
    assert_eq!(engine.stats().waiting, 1);
    let fresh = br#"{"type":"snapshot","product_id":"BTC-USD","bids":[["100.01","3"]],"asks":[["100.05","1"]]}"#;
    engine.handle_frame(fresh, 0, &mut ev).unwrap();
    assert_eq!(engine.state(s), Some(BookState::Synced));
    let last = ev.iter().rev().find(|e| e.is_bbo()).unwrap();
    let bbo = last.as_bbo().unwrap();
    assert_eq!((bbo.bid_tick, bbo.ask_tick), (10_001, 10_005));
    assert!(last.state().is_valid());
}

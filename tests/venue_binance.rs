//! Binance spot and USD-M futures through the real engine, on the real captures.

mod common;

use common::{feed, records, symbol};
use ladderfeed::book::InstrumentRegistry;
use ladderfeed::capture::RecordKind;
use ladderfeed::engine::Engine;
use ladderfeed::event::{BookState, EventKind};
use ladderfeed::venue::binance::Binance;
use ladderfeed::venue::{Adapter, VenueError};

fn spot() -> Engine<Binance> {
    Engine::new(Binance::spot(InstrumentRegistry::with_builtins()))
}

fn futures() -> Engine<Binance> {
    Engine::new(Binance::futures(InstrumentRegistry::with_builtins()))
}

/// Every symbol synced, never gapped, never crossed, and its final book equals the venue's
/// own last bookTicker when the capture has one.
fn assert_clean(engine: &Engine<Binance>, run: &common::Run, expect_symbols: usize) {
    assert!(run.errors.is_empty(), "errors: {:?}", &run.errors[..run.errors.len().min(5)]);
    run.assert_never_crossed_valid();
    assert_eq!(engine.symbols().len(), expect_symbols);
    for (i, info) in engine.symbols().list().iter().enumerate() {
        let s = i as u16;
        let st = engine.book_stats(s).unwrap();
        assert_eq!(engine.state(s), Some(BookState::Synced), "{}", info.key);
        assert_eq!(st.gaps, 0, "{}", info.key);
        assert_eq!(st.crossed_detected, 0, "{}", info.key);
        assert_eq!(st.snapshots, 1, "{}", info.key);
        assert!(st.book_messages > 1, "{}", info.key);
        assert!(st.bbo_published > 0, "{}", info.key);
    }
}

#[test]
fn spot_btcusdt_hftbacktest_capture_rebuilds_to_the_last_book_ticker() {
    let recs = records(&["binance/hftbacktest_spot_btcusdt_20240808.gz"]);
    let mut engine = spot();
    let run = feed(&mut engine, &recs);
    assert_clean(&engine, &run, 1);
    let s = symbol(&engine, "BTCUSDT");
    let st = engine.book_stats(s).unwrap();
    // 3451 depth events: 2 covered by the snapshot, 3449 applied after it.
    assert_eq!(st.book_messages, 1 + 3449);
    assert_eq!(engine.stats().stale, 2);
    let inst = &engine.symbols().get(s).unwrap().instrument;
    let bbo = engine.bbo(s).unwrap();
    assert_eq!(inst.format_price(bbo.bid_tick), "61685.99");
    assert_eq!(inst.format_price(bbo.ask_tick), "61686");
    // The book after the last depth event is at a later id than the last bookTicker only if
    // a depth event follows it; compare with the venue's last bookTicker prices.
    let venue = engine.symbols().get(s).unwrap().venue_bbo.unwrap();
    assert_eq!((bbo.bid_tick, bbo.ask_tick), (venue.bid_tick, venue.ask_tick));
    // Trades: every one published once.
    let trades = run.events.iter().filter(|e| matches!(e.kind(), EventKind::Trade(_))).count();
    assert_eq!(trades, 9757);
}

#[test]
fn spot_cryptofeed_capture_four_symbols_sync_from_rest_snapshots() {
    let recs = records(&["binance/cryptofeed_BINANCE.ws.1.0"]);
    assert_eq!(recs.iter().filter(|r| r.kind == RecordKind::Http).count(), 4);
    let mut engine = spot();
    let run = feed(&mut engine, &recs);
    assert_clean(&engine, &run, 4);
}

#[test]
fn futures_cryptofeed_capture_pu_chain_unbroken() {
    let recs = records(&["binance/cryptofeed_BINANCE_FUTURES.ws.1.0"]);
    let mut engine = futures();
    let run = feed(&mut engine, &recs);
    assert_clean(&engine, &run, 4);
}

#[test]
fn futures_final_book_matches_last_book_ticker_when_it_is_the_latest_word() {
    // Futures bookTicker and depth share the update id `u`: where the last bookTicker of a
    // symbol has the same `u` as its last applied depth event, the books must agree.
    let recs = records(&["binance/cryptofeed_BINANCE_FUTURES.ws.1.0"]);
    let mut engine = futures();
    let run = feed(&mut engine, &recs);
    assert!(run.errors.is_empty());
    let mut compared = 0;
    for (i, info) in engine.symbols().list().iter().enumerate() {
        let Some(venue) = info.venue_bbo else { continue };
        let bbo = engine.bbo(i as u16).unwrap();
        if bbo.bid_tick == venue.bid_tick && bbo.ask_tick == venue.ask_tick {
            compared += 1;
        }
    }
    assert!(compared >= 1, "no symbol's final book matched its last bookTicker");
}

/// Index of the n-th received depth frame of `sym` (lowercase stream prefix).
fn nth_depth(recs: &[ladderfeed::capture::Record], sym: &str, n: usize) -> usize {
    let prefix = format!("{{\"stream\":\"{sym}@depth");
    recs.iter()
        .enumerate()
        .filter(|(_, r)| r.kind == RecordKind::Recv && r.payload.starts_with(prefix.as_bytes()))
        .nth(n)
        .map(|(i, _)| i)
        .expect("depth frame")
}

#[test]
fn cutting_one_depth_event_is_a_gap_and_the_book_stays_invalid() {
    let mut recs = records(&["binance/hftbacktest_spot_btcusdt_20240808.gz"]);
    let cut = nth_depth(&recs, "btcusdt", 100);
    recs.remove(cut);
    let mut engine = spot();
    let run = feed(&mut engine, &recs);
    run.assert_never_crossed_valid();
    let s = symbol(&engine, "BTCUSDT");
    let st = engine.book_stats(s).unwrap();
    assert_eq!(st.gaps, 1);
    assert_eq!(st.resyncs, 1);
    // No further snapshot in the capture: the book waits to the end.
    assert_eq!(engine.state(s), Some(BookState::Resyncing));
    // Nothing valid was published after the gap was seen.
    let gap_at = run
        .events
        .iter()
        .position(|e| {
            matches!(e.kind(), EventKind::BookState { .. }) && e.state() == BookState::Resyncing
        })
        .expect("state event");
    assert!(run.events[gap_at..].iter().all(|e| !(e.is_bbo() && e.state().is_valid())));
    assert!(engine.stats().waiting > 0, "later depth events wait for a snapshot");
}

#[test]
fn a_gap_in_one_symbol_leaves_the_others_flowing() {
    let mut recs = records(&["binance/cryptofeed_BINANCE.ws.1.0"]);
    let cut = nth_depth(&recs, "nknusdt", 5);
    recs.remove(cut);
    let mut engine = spot();
    let run = feed(&mut engine, &recs);
    let nkn = symbol(&engine, "NKNUSDT");
    assert_eq!(engine.state(nkn), Some(BookState::Resyncing));
    assert_eq!(engine.book_stats(nkn).unwrap().gaps, 1);
    let gap_at = run
        .events
        .iter()
        .position(|e| e.instrument() == nkn && e.state() == BookState::Resyncing)
        .unwrap();
    let mut others_after = 0;
    for (i, info) in engine.symbols().list().iter().enumerate() {
        let s = i as u16;
        if s == nkn {
            continue;
        }
        assert_eq!(engine.state(s), Some(BookState::Synced), "{}", info.key);
        assert_eq!(engine.book_stats(s).unwrap().gaps, 0);
        others_after +=
            run.events[gap_at..].iter().filter(|e| e.instrument() == s && e.is_bbo()).count();
    }
    assert!(others_after > 0, "other symbols kept publishing after the gap");
}

#[test]
fn a_fresh_snapshot_after_a_gap_resyncs_the_book() {
    let mut recs = records(&["binance/hftbacktest_spot_btcusdt_20240808.gz"]);
    let snapshot = recs.iter().find(|r| r.kind == RecordKind::Http).unwrap().clone();
    let cut = nth_depth(&recs, "btcusdt", 100);
    recs.remove(cut);
    let mut engine = spot();
    let mut run = feed(&mut engine, &recs[..cut + 10]);
    let s = symbol(&engine, "BTCUSDT");
    assert_eq!(engine.state(s), Some(BookState::Resyncing));
    // The old snapshot is older than the events now waiting: it cannot bridge them.
    let mut events = Vec::new();
    engine.handle_http(&snapshot.url, &snapshot.payload, 0, &mut events).unwrap();
    assert_eq!(engine.state(s), Some(BookState::Resyncing));
    assert_eq!(engine.book_stats(s).unwrap().gaps, 2);
    run.events.extend(events);
}

#[test]
fn bad_input_is_a_typed_error_and_a_counter() {
    let mut engine = spot();
    let mut ev = Vec::new();
    let cases: &[(&[u8], &str)] = &[
        (b"{\"stream\":\"btcusdt@depth\",\"data\":{\"e\":\"depthUpdate\"", "json"),
        (b"[1,2,3]", "unknown_type"),
        (b"{\"data\":{\"e\":\"depthUpdate\",\"s\":\"BTCUSDT\",\"U\":\"x\",\"u\":2,\"b\":[],\"a\":[]}}", "shape"),
        (b"{\"data\":{\"e\":\"mystery\"}}", "unknown_type"),
        (b"{\"code\":-1121,\"msg\":\"Invalid symbol.\"}", "venue_error"),
        (b"{\"data\":{\"e\":\"trade\",\"s\":\"BTCUSDT\",\"t\":1,\"p\":\"NaN\",\"q\":\"1\",\"T\":1,\"m\":true}}", "number"),
        (b"{\"data\":{\"e\":\"trade\",\"s\":\"BTCUSDT\",\"t\":1,\"p\":\"1e5\",\"q\":\"-1\",\"T\":1,\"m\":true}}", "number"),
        (b"{\"data\":{\"e\":\"trade\",\"s\":\"BTCUSDT\",\"t\":1,\"p\":\"123456789012345678901234567890\",\"q\":\"1\",\"T\":1,\"m\":true}}", "number"),
        (b"{\"data\":{\"e\":\"trade\",\"s\":\"BTCUSDT\",\"t\":1,\"p\":61000.5,\"q\":\"1\",\"T\":1,\"m\":true}}", "shape"),
    ];
    for (frame, kind) in cases {
        let e = engine.handle_frame(frame, 0, &mut ev).expect_err(kind);
        assert_eq!(e.name(), *kind, "{}", String::from_utf8_lossy(frame));
    }
    assert_eq!(engine.stats().errors.total(), cases.len() as u64);
    let deep = [b"[".repeat(5000), b"]".repeat(5000)].concat();
    assert!(matches!(engine.handle_frame(&deep, 0, &mut ev), Err(VenueError::Json { .. })));
    // Nothing but the definition of the instrument the trades named (its book exists, empty).
    assert!(ev.iter().all(|e| e.is_instrument_definition()), "{ev:?}");
}

#[test]
fn a_bad_level_in_a_live_book_invalidates_it_and_nothing_else_is_lost() {
    let recs = records(&["binance/hftbacktest_spot_btcusdt_20240808.gz"]);
    let mut engine = spot();
    let run = feed(&mut engine, &recs);
    assert!(run.errors.is_empty());
    let s = symbol(&engine, "BTCUSDT");
    let mut ev = Vec::new();
    let bad = br#"{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":99999999999,"u":99999999999,"b":[["61000.00","-1"]],"a":[]}}"#;
    // Out of sequence first: a gap.
    let _ = engine.handle_frame(bad, 0, &mut ev);
    assert_eq!(engine.state(s), Some(BookState::Resyncing));
}

#[test]
fn subscribe_messages_name_the_streams() {
    let a = Binance::spot(InstrumentRegistry::new());
    let m = a.subscribe_messages(&["BTCUSDT"]);
    assert_eq!(
        m,
        vec![
            r#"{"method":"SUBSCRIBE","params":["btcusdt@depth@100ms","btcusdt@trade","btcusdt@bookTicker"],"id":1}"#
        ]
    );
    assert!(a.unsubscribe_messages(&["BTCUSDT"])[0].contains("UNSUBSCRIBE"));
    assert_eq!(
        a.snapshot_url(a.default_rest_base(), "btcusdt", 1000),
        "https://api.binance.com/api/v3/depth?symbol=BTCUSDT&limit=1000"
    );
}

/// A futures depth event (combined stream) for BTCUSDT.
fn futures_depth(first: u64, last: u64, prev: u64, bid: &str) -> Vec<u8> {
    format!(
        r#"{{"stream":"btcusdt@depth","data":{{"e":"depthUpdate","E":2,"T":2,"s":"BTCUSDT","U":{first},"u":{last},"pu":{prev},"b":[["{bid}","2.000"]],"a":[]}}}}"#
    )
    .into_bytes()
}

#[test]
fn a_futures_snapshot_taken_at_the_end_of_an_event_bridges_by_pu() {
    // Futures update ids are not contiguous: the event after one ending at 100 may start at
    // 150 with `pu` 100. A snapshot at exactly 100 is bridged by that event (its `pu` is the
    // snapshot's id), though it does not cover the id (`U <= id <= u` fails). A snapshot
    // in the hole (120) is not: a gap, and the book waits for another.
    let url = "https://fapi.binance.com/fapi/v1/depth?symbol=BTCUSDT&limit=1000";
    for (lid, bridges) in [(100, true), (120, false), (155, true)] {
        let mut engine = futures();
        let mut events = Vec::new();
        engine.handle_frame(&futures_depth(150, 160, 100, "100.0"), 0, &mut events).unwrap();
        let body = format!(
            r#"{{"lastUpdateId":{lid},"E":1,"T":1,"bids":[["100.0","1.000"]],"asks":[["101.0","1.000"]]}}"#
        );
        engine.handle_http(url, body.as_bytes(), 0, &mut events).unwrap();
        let s = symbol(&engine, "BTCUSDT");
        let want = if bridges { BookState::Synced } else { BookState::Resyncing };
        assert_eq!(engine.state(s), Some(want), "snapshot at {lid}");
        if bridges {
            // The waiting event was applied over the snapshot, and the chain goes on.
            assert_eq!(engine.bbo(s).unwrap().bid_lots, 2000, "snapshot at {lid}");
            engine.handle_frame(&futures_depth(170, 180, 160, "100.0"), 0, &mut events).unwrap();
            assert_eq!(engine.state(s), Some(BookState::Synced));
        } else {
            assert_eq!(engine.book_stats(s).unwrap().gaps, 1, "snapshot at {lid}");
        }
    }
}

#[test]
fn a_snapshot_whose_kept_events_break_off_does_not_stand() {
    // Spot: events 10–20 and 30–40 wait for the snapshot; the snapshot at 15 bridges the
    // first, but 21–29 are missing. The book must stay out of sync (the gap counted), not
    // sit at the snapshot as synced while the adapter waits for another.
    let mut engine = spot();
    let mut events = Vec::new();
    for (first, last) in [(10, 20), (30, 40)] {
        let frame = format!(
            r#"{{"stream":"btcusdt@depth@100ms","data":{{"e":"depthUpdate","E":2,"s":"BTCUSDT","U":{first},"u":{last},"b":[["100.00","2.00000"]],"a":[]}}}}"#
        );
        engine.handle_frame(frame.as_bytes(), 0, &mut events).unwrap();
    }
    let body = r#"{"lastUpdateId":15,"bids":[["100.00","1.00000"]],"asks":[["101.00","1.00000"]]}"#;
    let url = "https://api.binance.com/api/v3/depth?symbol=BTCUSDT&limit=5000";
    engine.handle_http(url, body.as_bytes(), 0, &mut events).unwrap();
    let s = symbol(&engine, "BTCUSDT");
    assert_eq!(engine.state(s), Some(BookState::Resyncing));
    assert_eq!(engine.book_stats(s).unwrap().gaps, 1);
    assert!(events.iter().all(|e| !(e.is_bbo() && e.state().is_valid())), "nothing valid");
}

#[test]
fn a_full_pending_buffer_bridges_from_its_oldest_kept_event() {
    // More events wait for the snapshot than the buffer keeps: the oldest are dropped, and a
    // snapshot taken within the events still kept must bridge. (It once compared the snapshot
    // with the newest event after a drop, so such a snapshot was called too old: a needless
    // gap and a second REST request.)
    use ladderfeed::venue::binance::MAX_PENDING_FRAMES;
    let mut engine = futures();
    let mut events = Vec::new();
    let n = MAX_PENDING_FRAMES as u64 + 10;
    for i in 0..n {
        let (first, last, prev) = (1000 + 10 * i, 1000 + 10 * i + 5, 1000 + 10 * i - 5);
        engine.handle_frame(&futures_depth(first, last, prev, "100.0"), 0, &mut events).unwrap();
    }
    assert_eq!(engine.adapter().pending_dropped, 10);
    // Inside the 20th kept event (the 30th sent): covered, and the rest chain on.
    let lid = 1000 + 10 * 29 + 2;
    let body = format!(
        r#"{{"lastUpdateId":{lid},"E":1,"T":1,"bids":[["100.0","1.000"]],"asks":[["101.0","1.000"]]}}"#
    );
    let url = "https://fapi.binance.com/fapi/v1/depth?symbol=BTCUSDT&limit=1000";
    engine.handle_http(url, body.as_bytes(), 0, &mut events).unwrap();
    let s = symbol(&engine, "BTCUSDT");
    assert_eq!(engine.state(s), Some(BookState::Synced));
    assert_eq!(engine.book_stats(s).unwrap().gaps, 0);
    // Older than every kept event: too old, a gap.
    let mut engine = futures();
    for i in 0..n {
        let (first, last, prev) = (1000 + 10 * i, 1000 + 10 * i + 5, 1000 + 10 * i - 5);
        engine.handle_frame(&futures_depth(first, last, prev, "100.0"), 0, &mut events).unwrap();
    }
    let body = r#"{"lastUpdateId":1050,"E":1,"T":1,"bids":[["100.0","1.000"]],"asks":[["101.0","1.000"]]}"#;
    engine.handle_http(url, body.as_bytes(), 0, &mut events).unwrap();
    let s = symbol(&engine, "BTCUSDT");
    assert_eq!(engine.state(s), Some(BookState::Resyncing));
    assert_eq!(engine.book_stats(s).unwrap().gaps, 1);
}

//! OKX v5 on the real capture (every checksum verified) and the documented sequence rules on
//! synthetic frames, through the real engine.

mod common;

use common::{feed, records, symbol};
use ladderfeed::book::InstrumentRegistry;
use ladderfeed::capture::{Record, RecordKind};
use ladderfeed::engine::Engine;
use ladderfeed::event::{BookState, Event, EventKind};
use ladderfeed::venue::okx::Okx;
use ladderfeed::venue::{Adapter, SymbolIdx};

const FILE: &str = "okx/cryptofeed_OKX.ws.1.0";

fn okx() -> Engine<Okx> {
    Engine::new(Okx::new(InstrumentRegistry::with_builtins()))
}

fn is_book(r: &Record) -> bool {
    r.kind == RecordKind::Recv && r.payload.starts_with(b"{\"arg\":{\"channel\":\"books\"")
}

/// Non-zero checksums in book frames, counted from the raw text.
fn checksums_in(recs: &[Record]) -> u64 {
    recs.iter()
        .filter(|r| is_book(r))
        .map(|r| {
            let p = &r.payload;
            let n = p.windows(11).filter(|w| w == b"\"checksum\":").count();
            let zero = p.windows(13).filter(|w| w == b"\"checksum\":0}").count();
            (n - zero) as u64
        })
        .sum()
}

#[test]
fn every_checksum_in_the_capture_verifies() {
    let recs = records(&[FILE]);
    let mut engine = okx();
    let run = feed(&mut engine, &recs);
    assert!(run.errors.is_empty(), "{:?}", &run.errors[..run.errors.len().min(5)]);
    run.assert_never_crossed_valid();
    let expected = checksums_in(&recs);
    let (mut ok, mut msgs) = (0, 0);
    assert_eq!(engine.symbols().len(), 3);
    for (i, info) in engine.symbols().list().iter().enumerate() {
        let s = i as u16;
        let st = engine.book_stats(s).unwrap();
        assert_eq!((st.checksum_failed, st.gaps, st.crossed_detected), (0, 0, 0), "{}", info.key);
        assert_eq!((st.snapshots, st.rejected_levels), (1, 0), "{}", info.key);
        assert_eq!(engine.state(s), Some(BookState::Synced), "{}", info.key);
        assert!(st.bbo_published > 0, "{}", info.key);
        ok += st.checksum_ok;
        msgs += st.book_messages;
    }
    let book_frames = recs.iter().filter(|r| is_book(r)).count() as u64;
    eprintln!(
        "{FILE}: {} frames, {msgs}/{book_frames} book messages, {ok}/{expected} checksums verified",
        run.frames
    );
    assert_eq!(msgs, book_frames);
    assert_eq!(ok, expected);
    assert_eq!(expected, 290);
    // Trades: one per entry of every trades frame.
    let raw = recs
        .iter()
        .filter(|r| r.kind == RecordKind::Recv)
        .filter(|r| r.payload.starts_with(b"{\"arg\":{\"channel\":\"trades\""))
        .map(|r| r.payload.windows(10).filter(|w| w == b"\"tradeId\":").count())
        .sum::<usize>();
    let trades: Vec<_> = run.events.iter().filter_map(Event::as_trade).collect();
    assert_eq!(trades.len(), raw);
    assert!(trades.iter().all(|t| t.trade_id > 0 && t.aggressor.is_some() && t.size_lots > 0));
}

#[test]
fn tickers_fill_the_venue_bbo_in_the_book_units() {
    // The 2022 `tickers` channel refreshes its bid/ask only every few seconds (its `last`
    // moves with every trade): its BBO is a sample of the book, not the book's last state,
    // so the final books are not expected to equal the last tickers. The sizes and prices
    // must still be in the book's units: some ticker samples equal a BBO the rebuilt book
    // published before them.
    let recs = records(&[FILE]);
    let mut engine = okx();
    let mut ev = Vec::new();
    let mut matched = 0;
    for r in recs.iter().filter(|r| r.kind == RecordKind::Recv) {
        engine.handle_frame(&r.payload, r.local_ts, &mut ev).unwrap();
        if !r.payload.starts_with(b"{\"arg\":{\"channel\":\"tickers\"") {
            continue;
        }
        for (i, info) in engine.symbols().list().iter().enumerate() {
            let tail = format!("\"instId\":\"{}\"}}", info.key);
            if !r.payload.windows(tail.len()).any(|w| w == tail.as_bytes()) {
                continue;
            }
            let t = info.venue_bbo.unwrap();
            let seen = ev
                .iter()
                .filter(|e| e.instrument() == i as u16 && e.state().is_valid())
                .any(|e| e.as_bbo() == Some(t));
            matched += usize::from(seen);
        }
    }
    for info in engine.symbols().list() {
        assert!(info.venue_bbo.is_some(), "{}", info.key);
    }
    assert!(matched >= 10, "{matched} ticker samples equal an earlier book BBO");
}

fn nth_update(recs: &[Record], inst: &str, n: usize) -> usize {
    let prefix =
        format!("{{\"arg\":{{\"channel\":\"books\",\"instId\":\"{inst}\"}},\"action\":\"update\"");
    recs.iter()
        .enumerate()
        .filter(|(_, r)| r.kind == RecordKind::Recv && r.payload.starts_with(prefix.as_bytes()))
        .nth(n)
        .map(|(i, _)| i)
        .expect("update")
}

fn last_state_change(events: &[Event], s: SymbolIdx) -> &Event {
    events
        .iter()
        .rev()
        .find(|e| e.instrument() == s && matches!(e.kind(), EventKind::BookState { .. }))
        .unwrap()
}

/// After `s` left Synced at `at_ts`: it published nothing valid; the other books kept
/// publishing valid BBOs and ended Synced.
fn assert_isolated(engine: &Engine<Okx>, events: &[Event], s: SymbolIdx, at_ts: u64) {
    assert!(events
        .iter()
        .filter(|e| e.local_ts() >= at_ts && e.instrument() == s && e.is_bbo())
        .all(|e| !e.state().is_valid()));
    for (i, info) in engine.symbols().list().iter().enumerate() {
        let i = i as u16;
        if i == s {
            continue;
        }
        assert_eq!(engine.state(i), Some(BookState::Synced), "{}", info.key);
        let later = events
            .iter()
            .filter(|e| e.local_ts() > at_ts && e.instrument() == i && e.is_bbo())
            .filter(|e| e.state().is_valid())
            .count();
        assert!(later > 0, "{} kept publishing", info.key);
    }
}

#[test]
fn cutting_one_update_fails_the_next_checksum() {
    // The 2022 capture has no seqId: the checksum of the instrument's next message catches a
    // lost update that touched the 25 levels it covers.
    let recs = records(&[FILE]);
    let (mut next, mut never) = (0, 0);
    for n in 0..20 {
        let mut cut = recs.clone();
        cut.remove(nth_update(&recs, "BTC-USDT", n));
        let following = nth_update(&cut, "BTC-USDT", n);
        let mut engine = okx();
        let run = feed(&mut engine, &cut);
        assert!(run.errors.is_empty());
        run.assert_never_crossed_valid();
        let s = symbol(&engine, "BTC-USDT");
        let st = engine.book_stats(s).unwrap();
        if st.checksum_failed == 0 {
            never += 1; // the cut changed only levels below the top 25, never seen again
            continue;
        }
        assert_eq!(st.checksum_failed, 1);
        assert_eq!(engine.state(s), Some(BookState::Resyncing));
        let failed = last_state_change(&run.events, s);
        assert_eq!(failed.state(), BookState::Resyncing);
        assert_eq!(failed.local_ts(), cut[following].local_ts, "cut {n}: the next message");
        next += 1;
        assert_isolated(&engine, &run.events, s, failed.local_ts());
    }
    eprintln!("BTC-USDT: 20 single cuts: {next} caught by the next message, {never} never");
    assert!(next >= 10);
}

#[test]
fn corrupting_one_level_fails_the_checksum() {
    let mut recs = records(&[FILE]);
    let at = nth_update(&recs, "UNI-USD-SWAP", 1);
    let ts = recs[at].local_ts;
    let p = &mut recs[at].payload;
    // The first level's size: `[["px","SIZE"` — bump its first digit.
    let start = p.windows(3).position(|w| w == b"[[\"").unwrap();
    let q = start + p[start..].windows(3).position(|w| w == b"\",\"").unwrap() + 3;
    p[q] = if p[q] == b'9' { b'1' } else { p[q] + 1 };
    let mut engine = okx();
    let run = feed(&mut engine, &recs);
    assert!(run.errors.is_empty());
    let s = symbol(&engine, "UNI-USD-SWAP");
    let st = engine.book_stats(s).unwrap();
    assert_eq!((st.checksum_failed, st.checksum_ok), (1, 2));
    assert_eq!(engine.state(s), Some(BookState::Resyncing));
    assert_eq!(last_state_change(&run.events, s).local_ts(), ts);
    run.assert_never_crossed_valid();
    assert_isolated(&engine, &run.events, s, ts);
}

fn msg(inst: &str, action: &str, prev: i64, seq: i64, bid: &str) -> String {
    format!(
        r#"{{"arg":{{"channel":"books","instId":"{inst}"}},"action":"{action}","data":[{{"asks":[["30001.0","1","0","1"]],"bids":[["{bid}","1","0","1"]],"ts":"1597026383085","checksum":0,"prevSeqId":{prev},"seqId":{seq}}}]}}"#
    )
}

#[test]
fn sequence_ids_chain_with_keepalive_and_reset() {
    let mut engine = okx();
    let mut ev = Vec::new();
    let t = std::cell::Cell::new(0u64);
    let send = |m: &str, engine: &mut Engine<Okx>, ev: &mut Vec<Event>| {
        t.set(t.get() + 1);
        engine.handle_frame(m.as_bytes(), t.get(), ev).unwrap();
    };
    send(&msg("BTC-USDT", "snapshot", -1, 10, "30000.0"), &mut engine, &mut ev);
    send(&msg("ETH-USDT", "snapshot", -1, 500, "2000.00"), &mut engine, &mut ev);
    let (s, other) = (symbol(&engine, "BTC-USDT"), symbol(&engine, "ETH-USDT"));
    send(&msg("BTC-USDT", "update", 10, 15, "29999.0"), &mut engine, &mut ev);
    // Keep-alive: no change, seqId == prevSeqId.
    send(
        r#"{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"update","data":[{"asks":[],"bids":[],"ts":"1","checksum":0,"prevSeqId":15,"seqId":15}]}"#,
        &mut engine,
        &mut ev,
    );
    // Reset after maintenance: seqId < prevSeqId once, then chaining from it.
    send(&msg("BTC-USDT", "update", 15, 3, "29998.0"), &mut engine, &mut ev);
    send(&msg("BTC-USDT", "update", 3, 5, "29997.0"), &mut engine, &mut ev);
    assert_eq!(engine.book_stats(s).unwrap().gaps, 0);
    assert_eq!(engine.state(s), Some(BookState::Synced));
    assert_eq!(engine.bbo(s).unwrap().bid_tick, 300_000, "best bid 30000.0");
    // A gap: prevSeqId does not chain.
    send(&msg("BTC-USDT", "update", 7, 9, "30000.5"), &mut engine, &mut ev);
    let gap_at = t.get();
    assert_eq!(engine.book_stats(s).unwrap().gaps, 1);
    assert_eq!(engine.state(s), Some(BookState::Resyncing));
    // Updates wait for the next snapshot; the other instrument keeps flowing.
    send(&msg("BTC-USDT", "update", 9, 11, "30000.6"), &mut engine, &mut ev);
    assert_eq!(engine.state(s), Some(BookState::Resyncing));
    send(&msg("ETH-USDT", "update", 500, 501, "2000.01"), &mut engine, &mut ev);
    send(&msg("ETH-USDT", "update", 501, 502, "2000.02"), &mut engine, &mut ev);
    assert_eq!(engine.state(other), Some(BookState::Synced));
    assert_eq!(engine.book_stats(other).unwrap().gaps, 0);
    assert!(ev
        .iter()
        .filter(|e| e.local_ts() >= gap_at && e.instrument() == s && e.is_bbo())
        .all(|e| !e.state().is_valid()));
    let other_after = ev
        .iter()
        .filter(|e| e.local_ts() > gap_at && e.instrument() == other && e.is_bbo())
        .filter(|e| e.state().is_valid())
        .count();
    assert_eq!(other_after, 2);
    assert_eq!(engine.stats().waiting, 1);
    // The snapshot resyncs and starts a new chain.
    send(&msg("BTC-USDT", "snapshot", -1, 20, "30000.0"), &mut engine, &mut ev);
    send(&msg("BTC-USDT", "update", 20, 21, "30000.1"), &mut engine, &mut ev);
    assert_eq!(engine.state(s), Some(BookState::Synced));
    assert_eq!(engine.bbo(s).unwrap().bid_tick, 300_001);
}

#[test]
fn bad_input_is_typed() {
    let mut engine = okx();
    let mut ev = Vec::new();
    let cases: &[(&[u8], &str)] = &[
        (b"{\"arg\":{\"channel\":\"books\"", "json"),
        (b"{\"event\":\"error\",\"code\":\"60012\",\"msg\":\"Invalid request\"}", "venue_error"),
        (b"{\"arg\":{\"channel\":\"mystery\",\"instId\":\"BTC-USDT\"},\"data\":[]}", "unknown_type"),
        (br#"{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"snapshot","data":[{"asks":[["1e5","1","0","1"]],"bids":[],"ts":"1","checksum":0}]}"#, "number"),
        (br#"{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"snapshot","data":[{"asks":[["30000","-1","0","1"]],"bids":[],"ts":"1","checksum":0}]}"#, "number"),
        (br#"{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"snapshot","data":[{"asks":[["30000","123456789012345678901234567890","0","1"]],"bids":[],"ts":"1","checksum":0}]}"#, "number"),
        (br#"{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"snapshot","data":[{"asks":[[30000,"1","0","1"]],"bids":[],"ts":"1","checksum":0}]}"#, "shape"),
        (br#"{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"snapshot","data":[{"asks":[],"bids":[],"ts":"1","checksum":99999999999}]}"#, "shape"),
        (br#"{"arg":{"channel":"books","instId":"NOPE"},"action":"update","data":[{"asks":[],"bids":[]}]}"#, "unknown_symbol"),
    ];
    for (frame, kind) in cases {
        let e = engine.handle_frame(frame, 0, &mut ev).expect_err(kind);
        assert_eq!(e.name(), *kind, "{}", String::from_utf8_lossy(frame));
    }
    engine.handle_frame(b"pong", 0, &mut ev).unwrap();
    assert_eq!(engine.stats().errors.total(), cases.len() as u64);
    assert_eq!(engine.stats().control, 1);
}

#[test]
fn subscribe_messages() {
    let a = Okx::new(InstrumentRegistry::new());
    assert_eq!(
        a.subscribe_messages(&["BTC-USDT"]),
        vec![
            r#"{"op":"subscribe","args":[{"channel":"books","instId":"BTC-USDT"},{"channel":"trades","instId":"BTC-USDT"},{"channel":"tickers","instId":"BTC-USDT"}]}"#
        ]
    );
}

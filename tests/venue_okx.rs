//! OKX v5 on the real capture (every checksum verified) and the documented sequence rules.

mod common;

use common::{feed, records, symbol};
use ladderfeed::book::InstrumentRegistry;
use ladderfeed::capture::{Record, RecordKind};
use ladderfeed::engine::Engine;
use ladderfeed::event::BookState;
use ladderfeed::venue::okx::Okx;
use ladderfeed::venue::Adapter;

const FILE: &str = "okx/cryptofeed_OKX.ws.1.0";

fn okx() -> Engine<Okx> {
    Engine::new(Okx::new(InstrumentRegistry::with_builtins()))
}

/// Non-zero checksums in book frames, counted from the raw text.
fn checksums_in(recs: &[Record]) -> u64 {
    recs.iter()
        .filter(|r| {
            r.kind == RecordKind::Recv && r.payload.starts_with(b"{\"arg\":{\"channel\":\"books")
        })
        .map(|r| r.payload.windows(11).filter(|w| w == b"\"checksum\":").count() as u64)
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
    let mut ok = 0;
    for (i, info) in engine.symbols().list().iter().enumerate() {
        let s = i as u16;
        let st = engine.book_stats(s).unwrap();
        assert_eq!((st.checksum_failed, st.gaps, st.crossed_detected), (0, 0, 0), "{}", info.key);
        assert_eq!(engine.state(s), Some(BookState::Synced), "{}", info.key);
        ok += st.checksum_ok;
    }
    eprintln!("{FILE}: {} frames, {ok}/{expected} checksums verified", run.frames);
    assert_eq!(ok, expected);
    assert!(expected > 280);
    let trades = run.events.iter().filter(|e| !e.is_bbo() && e.as_trade().is_some()).count();
    assert!(trades > 0);
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

#[test]
fn cutting_one_update_fails_the_next_checksum() {
    let recs = records(&[FILE]);
    for n in 0..20 {
        let mut cut = recs.clone();
        cut.remove(nth_update(&recs, "BTC-USDT", n));
        let mut engine = okx();
        let run = feed(&mut engine, &cut);
        run.assert_never_crossed_valid();
        let s = symbol(&engine, "BTC-USDT");
        if engine.book_stats(s).unwrap().checksum_failed == 0 {
            continue; // the cut changed only levels below the top 25
        }
        assert_eq!(engine.state(s), Some(BookState::Resyncing));
        for (i, info) in engine.symbols().list().iter().enumerate() {
            if i as u16 != s {
                assert_eq!(engine.state(i as u16), Some(BookState::Synced), "{}", info.key);
            }
        }
        return;
    }
    panic!("no cut was detected");
}

#[test]
fn corrupting_one_level_fails_the_checksum() {
    let mut recs = records(&[FILE]);
    let at = nth_update(&recs, "UNI-USD-SWAP", 1);
    let p = &mut recs[at].payload;
    // The first level's size: `[["px","SIZE"` — bump its first digit.
    let start = p.windows(3).position(|w| w == b"[[\"").unwrap();
    let q = start + p[start..].windows(3).position(|w| w == b"\",\"").unwrap() + 3;
    p[q] = if p[q] == b'9' { b'1' } else { p[q] + 1 };
    let mut engine = okx();
    feed(&mut engine, &recs);
    let s = symbol(&engine, "UNI-USD-SWAP");
    assert_eq!(engine.book_stats(s).unwrap().checksum_failed, 1);
    assert_eq!(engine.state(s), Some(BookState::Resyncing));
}

fn msg(action: &str, prev: i64, seq: i64, bids: &str) -> String {
    format!(
        r#"{{"arg":{{"channel":"books","instId":"BTC-USDT"}},"action":"{action}","data":[{{"asks":[["30001.0","1","0","1"]],"bids":[{bids}],"ts":"1597026383085","checksum":0,"prevSeqId":{prev},"seqId":{seq}}}]}}"#
    )
}

#[test]
fn sequence_ids_chain_with_keepalive_and_reset() {
    let mut engine = okx();
    let mut ev = Vec::new();
    let mut send = |m: String, engine: &mut Engine<Okx>| {
        engine.handle_frame(m.as_bytes(), 0, &mut ev).unwrap()
    };
    send(msg("snapshot", -1, 10, r#"["30000.0","1","0","1"]"#), &mut engine);
    let s = symbol(&engine, "BTC-USDT");
    send(msg("update", 10, 15, r#"["29999.0","2","0","1"]"#), &mut engine);
    // Keep-alive: no change, seqId == prevSeqId.
    send(
        r#"{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"update","data":[{"asks":[],"bids":[],"ts":"1","checksum":0,"prevSeqId":15,"seqId":15}]}"#.to_owned(),
        &mut engine,
    );
    // Reset after maintenance: seqId < prevSeqId once, then chaining from it.
    send(msg("update", 15, 3, r#"["29998.0","1","0","1"]"#), &mut engine);
    send(msg("update", 3, 5, r#"["29997.0","1","0","1"]"#), &mut engine);
    assert_eq!(engine.book_stats(s).unwrap().gaps, 0);
    assert_eq!(engine.state(s), Some(BookState::Synced));
    // A gap: prevSeqId does not chain.
    send(msg("update", 7, 9, r#"["29996.0","1","0","1"]"#), &mut engine);
    assert_eq!(engine.book_stats(s).unwrap().gaps, 1);
    assert_eq!(engine.state(s), Some(BookState::Resyncing));
    // Updates wait for the next snapshot, which resyncs.
    send(msg("update", 9, 11, r#"["29995.0","1","0","1"]"#), &mut engine);
    assert_eq!(engine.state(s), Some(BookState::Resyncing));
    send(msg("snapshot", -1, 20, r#"["30000.0","1","0","1"]"#), &mut engine);
    assert_eq!(engine.state(s), Some(BookState::Synced));
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
}

#[test]
fn subscribe_messages() {
    let a = Okx::new(InstrumentRegistry::new());
    assert_eq!(
        a.subscribe_messages(&["BTC-USDT"]),
        vec![
            r#"{"op":"subscribe","args":[{"channel":"books","instId":"BTC-USDT"},{"channel":"trades","instId":"BTC-USDT"}]}"#
        ]
    );
}

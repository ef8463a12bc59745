//! The Coinbase Exchange scanner (`venue::scan::coinbase`) against simd-json's tape: every
//! frame of the bundled Coinbase Exchange capture with every dispatch path this CPU has,
//! generated `l2update`, `snapshot`, `match` and `last_match` messages with free key order,
//! whitespace and number forms, and the frames it must leave to simd-json. The scanner must give the same
//! result and the same parsed output as simd-json, or fall back (and then it is simd-json's
//! output by construction). (Advanced Trade has no scanner: its captures are read by simd-json
//! alone.)

use crate::common::gen::{array, object, s, Gen};
use crate::common::{records, same_frame};
use ladderfeed::book::InstrumentRegistry;
use ladderfeed::venue::coinbase::CoinbaseExchange;
use ladderfeed::venue::scan::{KernelKind, MAX_SPANS};
use proptest::prelude::*;

/// The bundled Coinbase Exchange captures (`cryptofeed_COINBASE.0`, the products answer, is
/// the capture's companion).
const CAPTURES: [&str; 1] = ["coinbase/cryptofeed_COINBASE.ws.28.0"];

fn exchange() -> CoinbaseExchange {
    CoinbaseExchange::new(InstrumentRegistry::with_builtins())
}

#[test]
fn every_bundled_frame_parses_as_simd_json_does_on_every_dispatch_path() {
    for file in CAPTURES {
        for kind in KernelKind::ALL {
            let Some(t) = crate::capture_agrees(exchange, file, kind, |text| {
                text.starts_with(r#"{"type":"l2update""#)
                    || text.starts_with(r#"{"type":"snapshot""#)
                    || text.starts_with(r#"{"type":"match""#)
                    || text.starts_with(r#"{"type":"last_match""#)
            }) else {
                continue;
            };
            // Every update, snapshot and match is scanned, and nothing else: the largest
            // snapshot (2,155 levels) after the scanner's level buffer grew.
            assert!(t.hot > 0 && t.scanned == t.hot, "{file}: {} scanned", t.scanned);
        }
    }
}

#[test]
fn the_engine_counts_the_frames_left_to_simd_json() {
    let recs = records(&[CAPTURES[0]]);
    let (scan, a) = crate::engines_agree(exchange, &recs);
    let fallbacks = scan.stats().scanner_fallbacks;
    // Everything but updates, snapshots and matches: tickers, subscription answers.
    assert!(fallbacks > 0 && (fallbacks as usize) < a.frames / 10, "{fallbacks} of {}", a.frames);
}

/// A price string: the capture's forms, forms that are errors for both parsers, and forms
/// outside the subset (escapes, non-ASCII, a bare number).
fn price() -> impl Strategy<Value = (String, bool)> {
    prop_oneof![
        8 => (29_000u32..31_000, 0u32..100).prop_map(|(i, d)| (format!("\"{i}.{d:02}\""), true)),
        2 => (29_000u32..31_000).prop_map(|i| (format!("\"{i}\""), true)),
        1 => Just(("\"30000.005\"".to_owned(), true)),
        1 => Just(("\"3.0e4\"".to_owned(), true)),
        1 => Just(("\"-1\"".to_owned(), true)),
        1 => Just(("\"\"".to_owned(), true)),
        1 => Just(("\"\\u0033\"".to_owned(), false)),
        1 => Just(("\"3\u{e9}\"".to_owned(), false)),
        1 => Just(("30000.5".to_owned(), false)),
    ]
}

/// A size string: 8 decimals mostly, zero (a delete), and bad forms.
fn size() -> impl Strategy<Value = (String, bool)> {
    prop_oneof![
        8 => (0u32..100, 0u32..100_000_000)
            .prop_map(|(i, d)| (format!("\"{i}.{d:08}\""), true)),
        2 => (0u32..1_000).prop_map(|i| (format!("\"{i}\""), true)),
        1 => Just(("\"0\"".to_owned(), true)),
        1 => Just(("\"1.000000001\"".to_owned(), true)),
        1 => Just(("\"x\"".to_owned(), true)),
        1 => Just(("7".to_owned(), false)),
    ]
}

/// A side as a change or a match carries it, or another.
fn side() -> impl Strategy<Value = (String, bool)> {
    prop_oneof![
        8 => Just(s("buy")),
        8 => Just(s("sell")),
        1 => Just(s("BUY")),
        1 => Just(s("bid")),
        1 => Just(("1".to_owned(), true)),
        1 => Just(("null".to_owned(), true)),
    ]
}

/// One change `[side, price, size]`, or a near miss (too short, too long, not strings).
fn change() -> impl Strategy<Value = (String, bool)> {
    (side(), price(), size(), 0u8..12).prop_flat_map(|(side, px, sz, variant)| {
        // A row of strings is in the subset only if all its items are strings.
        let string = |v: &(String, bool)| v.1 && v.0.starts_with('"');
        let items = match variant {
            0 => vec![side, px],
            1 => vec![side.clone(), px, sz, s("x")],
            2 => vec![(side.0, false)],
            3 => vec![
                side.clone(),
                px.clone(),
                sz.clone(),
                side.clone(),
                px.clone(),
                sz.clone(),
                s("x"),
            ]
            .into_iter()
            .map(|v| (v.0, false))
            .collect(),
            _ => vec![side, px, sz],
        };
        let items: Vec<_> = items.iter().map(|v| (v.0.clone(), v.1 && string(v))).collect();
        array(items).prop_map(|g| g.member())
    })
}

/// `changes`: rows, or another value where they are expected.
fn changes() -> impl Strategy<Value = (String, bool)> {
    prop_oneof![
        12 => proptest::collection::vec(change(), 0..5)
            .prop_flat_map(|l| array(l).prop_map(|g| g.member())),
        1 => Just(("\"x\"".to_owned(), true)),
        1 => Just(("null".to_owned(), true)),
        1 => Just(("[1]".to_owned(), false)),
        1 => Just(("{}".to_owned(), false)),
    ]
}

/// An RFC 3339 time as Coinbase prints it, or another form.
fn time() -> impl Strategy<Value = (String, bool)> {
    prop_oneof![
        8 => (0u32..60, 0u32..1_000_000)
            .prop_map(|(sec, us)| (format!("\"2021-04-17T16:43:{sec:02}.{us:06}Z\""), true)),
        1 => Just(s("2021-04-17T16:43:37Z")),
        1 => Just(s("yesterday")),
        1 => Just(("1618677817".to_owned(), true)),
        1 => Just(("true".to_owned(), true)),
    ]
}

/// A product: the seeded one mostly, an unknown one, an escaped one.
fn product() -> impl Strategy<Value = (String, bool)> {
    prop_oneof![
        12 => Just(s("BTC-USD")),
        1 => Just(s("ETH-USD")),
        1 => Just(s("NOPE-USD")),
        1 => Just(("\"BTC\\u002dUSD\"".to_owned(), false)),
        1 => Just(("5".to_owned(), true)),
    ]
}

/// A trade id: a JSON integer as Coinbase sends it, a quoted one, and other forms.
fn trade_id() -> impl Strategy<Value = (String, bool)> {
    prop_oneof![
        8 => (1u64..1_000_000_000).prop_map(|i| (i.to_string(), true)),
        1 => (1u64..1_000_000_000).prop_map(|i| (format!("\"{i}\""), true)),
        1 => Just(("0".to_owned(), true)),
        1 => Just(("9999999999999999999".to_owned(), true)),
        1 => Just(("\"x\"".to_owned(), true)),
        1 => Just(("null".to_owned(), true)),
        1 => Just(("-1".to_owned(), false)),
        1 => Just(("1.0".to_owned(), false)),
        1 => Just(("18446744073709551615".to_owned(), false)),
    ]
}

/// An `l2update`.
fn update() -> impl Strategy<Value = Vec<(String, (String, bool))>> {
    (product(), changes(), time()).prop_map(|(product, changes, time)| {
        vec![
            ("type".to_owned(), s("l2update")),
            ("product_id".to_owned(), product),
            ("changes".to_owned(), changes),
            ("time".to_owned(), time),
        ]
    })
}

/// A `match` or `last_match`, with the members the venue sends that no handler reads.
fn trade() -> impl Strategy<Value = Vec<(String, (String, bool))>> {
    let kind = prop_oneof![8 => Just(s("match")), 1 => Just(s("last_match"))];
    (kind, product(), trade_id(), price(), size(), side(), time(), 0u64..1_000_000_000).prop_map(
        |(kind, product, id, px, sz, side, time, seq)| {
            vec![
                ("type".to_owned(), kind),
                ("trade_id".to_owned(), id),
                ("maker_order_id".to_owned(), s("27fff20b-af29-4f45-8744-56dd1ef57dc0")),
                ("taker_order_id".to_owned(), s("1da6ce16-c8da-4732-9f71-6049f4c6aaf8")),
                ("side".to_owned(), side),
                ("size".to_owned(), sz),
                ("price".to_owned(), px),
                ("product_id".to_owned(), product),
                ("sequence".to_owned(), (seq.to_string(), true)),
                ("time".to_owned(), time),
            ]
        },
    )
}

/// One snapshot row `[price, size]`, or a near miss (a third element, too short, not strings).
fn level() -> impl Strategy<Value = (String, bool)> {
    (price(), size(), 0u8..12).prop_flat_map(|(px, sz, variant)| {
        let string = |v: &(String, bool)| v.1 && v.0.starts_with('"');
        let items = match variant {
            0 => vec![px.clone(), sz, s("3b2f6e1c-order")],
            1 => vec![(px.0, false)],
            2 => vec![px.clone(), ("1.5".to_owned(), false)],
            _ => vec![px, sz],
        };
        let items: Vec<_> = items.iter().map(|v| (v.0.clone(), v.1 && string(v))).collect();
        array(items).prop_map(|g| g.member())
    })
}

/// `bids` or `asks`: rows, or another value where they are expected.
fn levels() -> impl Strategy<Value = (String, bool)> {
    prop_oneof![
        12 => proptest::collection::vec(level(), 0..6)
            .prop_flat_map(|l| array(l).prop_map(|g| g.member())),
        1 => Just(("\"x\"".to_owned(), true)),
        1 => Just(("null".to_owned(), true)),
        1 => Just(("[[]]".to_owned(), false)),
    ]
}

/// A `snapshot`: of the seeded product, or of one learned from its prices (`NOPE-USD`).
fn snapshot() -> impl Strategy<Value = Vec<(String, (String, bool))>> {
    (product(), levels(), levels()).prop_map(|(product, bids, asks)| {
        vec![
            ("type".to_owned(), s("snapshot")),
            ("product_id".to_owned(), product),
            ("bids".to_owned(), bids),
            ("asks".to_owned(), asks),
        ]
    })
}

/// An update, a snapshot or a trade (or a near miss: a missing or doubled member, another `type`, a
/// member of another shape), members shuffled.
fn frame() -> impl Strategy<Value = Gen> {
    (prop_oneof![3 => update(), 1 => snapshot(), 1 => trade()], 0u8..16).prop_flat_map(
        |(mut m, variant)| {
            match variant {
                0 => drop(m.remove(1)),
                1 => drop(m.remove(2)),
                2 => drop(m.remove(0)),
                3 => m.push(("extra".to_owned(), ("{\"a\":1}".to_owned(), false))),
                4 => m.push(("time".to_owned(), ("\"1\"".to_owned(), false))),
                5 => m.push(("type".to_owned(), ("\"l2update\"".to_owned(), false))),
                6 => m[0].1 = s("heartbeat"),
                7 => m.push(("sequence_num".to_owned(), ("-5".to_owned(), false))),
                8 => m.push(("flag".to_owned(), ("false".to_owned(), true))),
                _ => {}
            }
            // Not a message the adapter takes from the scanner: it falls back.
            if variant == 2 || variant == 6 {
                m.iter_mut().for_each(|(_, v)| v.1 = false);
            }
            object(m)
        },
    )
}

/// A snapshot so that updates are applied (BTC-USD: tick 0.01, lot 0.00000001).
const SNAPSHOT: &[u8] = br#"{"type":"snapshot","product_id":"BTC-USD","asks":[["30000.01","1.50000000"],["30000.09","0.1"]],"bids":[["29999.99","4.52"]]}"#;

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    /// Generated frames: identical output whatever happens; a frame entirely in the scanner's
    /// subset is never left to simd-json.
    #[test]
    fn generated_frames_scan_as_simd_json_parses(
        frames in proptest::collection::vec(frame(), 1..6),
        kind in proptest::sample::select(KernelKind::ALL.to_vec()),
    ) {
        let Some(p) = crate::pair(exchange, kind) else { return Ok(()) };
        crate::generated_frames_agree(p, &[SNAPSHOT], &frames, kind)?;
    }
}

/// Frames the scanner must leave to simd-json (counted), with the same result either way.
#[test]
fn fallbacks_are_counted_and_give_simd_jsons_output() {
    let fallbacks: [&[u8]; 16] = [
        br#"{"type":"snapshot","product_id":"BTC-USD","bids":[["30000.01",1]],"asks":[]}"#,
        br#"{"type":"subscriptions","channels":[{"name":"level2","product_ids":["BTC-USD"]}]}"#,
        br#"{"type":"heartbeat","sequence":90,"last_trade_id":20,"product_id":"BTC-USD","time":"2014-11-07T08:19:28.464459Z"}"#,
        br#"{"type":"error","message":"Failed to subscribe","reason":"level2 requires authentication"}"#,
        br#"{"type":"ticker","product_id":"BTC-USD","price":"30000.00","best_bid":"29999.99","best_ask":"30000.01","best_bid_size":"1","best_ask_size":"2"}"#,
        br#"{"type":"l2update","product_id":"BTC\u002dUSD","changes":[],"time":"2021-04-17T16:43:37.075687Z"}"#,
        br#"{"type":"l2update","type":"l2update","product_id":"BTC-USD","changes":[]}"#,
        br#"{"type":"l2update","product_id":"BTC-USD","changes":[["buy",30000.0,"1"]]}"#,
        br#"{"type":"l2update","product_id":"BTC-USD","changes":[["buy"]]}"#,
        br#"{"type":"l2update","product_id":"BTC-USD","changes":[],"extra":{"a":1}}"#,
        br#"{"type":"match","trade_id":-1,"side":"buy","size":"1","price":"30000.00","product_id":"BTC-USD"}"#,
        br#"{"type":"match","trade_id":1e3,"side":"buy","size":"1","price":"30000.00","product_id":"BTC-USD"}"#,
        br#"{"type":"match","trade_id":1,"side":"buy","size":"1","price":"30000.00","product_id":"BTC-USD"} x"#,
        "{\"type\":\"match\",\"trade_id\":1,\"side\":\"b\u{fc}y\",\"size\":\"1\",\"price\":\"30000.00\",\"product_id\":\"BTC-USD\"}".as_bytes(),
        br#"{"product_id":"BTC-USD","changes":[]}"#,
        b"[1,2]",
    ];
    for kind in KernelKind::ALL {
        let Some(p) = crate::pair(exchange, kind) else { continue };
        crate::fallbacks_agree(p, SNAPSHOT, true, &fallbacks, kind);
    }
}

/// Errors inside a scanned frame are the simd-json path's errors.
#[test]
fn bad_messages_get_the_same_errors() {
    let bad: [(&[u8], &str); 12] = [
        (br#"{"type":"l2update","product_id":"BTC-USD","changes":[["buy","30000.015","1"]],"time":"2021-04-17T16:43:37.075687Z"}"#, "number"),
        (br#"{"type":"l2update","product_id":"BTC-USD","changes":[["sell","30000.01","x"]],"time":"2021-04-17T16:43:37.075687Z"}"#, "number"),
        (br#"{"type":"l2update","product_id":"BTC-USD","changes":[["buy","30000.01","1"],["bid","30000.01","1"]]}"#, "shape"),
        (br#"{"type":"l2update","product_id":"BTC-USD","changes":[["buy","30000.01"]]}"#, "shape"),
        (br#"{"type":"l2update","product_id":"BTC-USD","changes":"x"}"#, "shape"),
        (br#"{"type":"l2update","product_id":"BTC-USD"}"#, "shape"),
        (br#"{"type":"l2update","product_id":"NOPE-USD","changes":[]}"#, "unknown_symbol"),
        (br#"{"type":"l2update","changes":[]}"#, "shape"),
        (br#"{"type":"match","trade_id":1,"side":"buy","size":"1","product_id":"BTC-USD"}"#, "shape"),
        (br#"{"type":"match","trade_id":"x","side":"buy","size":"1","price":"30000.00","product_id":"BTC-USD"}"#, "shape"),
        (br#"{"type":"match","trade_id":1,"side":"both","size":"1","price":"30000.00","product_id":"BTC-USD"}"#, "shape"),
        (br#"{"type":"match","trade_id":1,"side":"buy","size":"1","price":"30000.00","product_id":"NOPE-USD"}"#, "unknown_symbol"),
    ];
    for kind in KernelKind::ALL {
        let Some((mut scan, mut tape)) = crate::pair(exchange, kind) else { continue };
        let (read, r) = same_frame(&mut scan, &mut tape, SNAPSHOT, "snapshot");
        assert!(read && r.is_ok());
        for (f, want) in bad {
            let (read, r) = same_frame(&mut scan, &mut tape, f, kind.name());
            assert!(read, "{}: fell back on {}", kind.name(), String::from_utf8_lossy(f));
            assert_eq!(r.map_err(|e| e.name()), Err(want), "{}", String::from_utf8_lossy(f));
        }
    }
}

/// A snapshot of `rows` bids, each `[price, size]`.
fn deep_snapshot(rows: usize) -> Vec<u8> {
    let mut f = br#"{"type":"snapshot","product_id":"BTC-USD","asks":[],"bids":["#.to_vec();
    for i in 0..rows {
        let cents = 3_000_000 - i;
        let sep = if i == 0 { "" } else { "," };
        f.extend(format!(r#"{sep}["{}.{:02}","0.5"]"#, cents / 100, cents % 100).bytes());
    }
    f.extend(b"]}");
    f
}

/// A snapshot with more levels than a new scanner has room for is scanned (its buffer grows
/// and it reads the frame again), to the same book; one past the buffer's largest size is left
/// to simd-json, counted, to the same book too.
#[test]
fn deep_snapshots_are_scanned_after_the_level_buffer_grows_up_to_its_limit() {
    // Two offsets a row: 5,000 rows need 10,000, past the first 4,096.
    let deep = deep_snapshot(5_000);
    let too_deep = deep_snapshot(MAX_SPANS / 2 + 1);
    for kind in KernelKind::ALL {
        let Some((mut scan, mut tape)) = crate::pair(exchange, kind) else { continue };
        let (read, r) = same_frame(&mut scan, &mut tape, &deep, kind.name());
        assert!(read && r.is_ok(), "{}: {r:?}", kind.name());
        let (read, r) = same_frame(&mut scan, &mut tape, &too_deep, kind.name());
        assert!(!read && r.is_ok(), "{}: {r:?}", kind.name());
        // And the grown buffer still reads the deep snapshot.
        let (read, _) = same_frame(&mut scan, &mut tape, &deep, kind.name());
        assert!(read);
    }
}

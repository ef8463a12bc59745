//! The Bybit v5 scanner (`venue::scan::bybit`) against simd-json's tape: every frame of every
//! bundled Bybit capture with every dispatch path this CPU has, generated book and trade pushes
//! with free key order (at every level), whitespace and number forms, and the frames it must
//! leave to simd-json. The scanner must give the same result and the same parsed output as
//! simd-json, or fall back (and then it is simd-json's output by construction).

use crate::common::gen::{array, object, s, Gen};
use crate::common::{records, same_frame};
use ladderfeed::book::{InstrumentRegistry, Venue};
use ladderfeed::venue::bybit::Bybit;
use ladderfeed::venue::scan::KernelKind;
use proptest::prelude::*;

/// The bundled Bybit captures (Bybit's own order-book history, 50 frames).
const CAPTURES: [&str; 1] = ["bybit/bybit_history_2024-12-01_XRPUSDT_ob500.data"];

fn bybit() -> Bybit {
    Bybit::new(Venue::BybitLinear, InstrumentRegistry::with_builtins(), 500)
}

#[test]
fn every_bundled_frame_parses_as_simd_json_does_on_every_dispatch_path() {
    for file in CAPTURES {
        for kind in KernelKind::ALL {
            let Some(t) = crate::capture_agrees(bybit, file, kind, |text| {
                text.contains(r#""topic":"orderbook."#) || text.contains(r#""topic":"publicTrade."#)
            }) else {
                continue;
            };
            assert_eq!(t.errors, 0, "{file}");
            assert!(t.frames == 50 && t.hot == t.frames && t.scanned == t.hot, "{file}");
        }
    }
}

#[test]
fn the_engine_publishes_the_same_and_counts_no_fallback_on_the_capture() {
    let recs = records(&[CAPTURES[0]]);
    let (mut scan, a) = crate::engines_agree(bybit, &recs);
    assert!(!a.events.is_empty());
    assert_eq!(scan.stats().scanner_fallbacks, 0);
    // A control frame is left to simd-json and counted.
    let mut out = Vec::new();
    scan.handle_frame(
        br#"{"success":true,"ret_msg":"pong","conn_id":"x","op":"ping"}"#,
        0,
        &mut out,
    )
    .unwrap();
    assert_eq!(scan.stats().scanner_fallbacks, 1);
}

/// A price string: the forms of a tick of 0.1, forms that are errors for both parsers, and
/// forms outside the subset (escapes, non-ASCII, a bare number).
fn decimal() -> impl Strategy<Value = (String, bool)> {
    prop_oneof![
        8 => (16_000u32..17_000, 0u32..10).prop_map(|(i, d)| (format!("\"{i}.{d}\""), true)),
        2 => (16_000u32..17_000).prop_map(|i| (format!("\"{i}\""), true)),
        1 => (16_000u32..17_000).prop_map(|i| (format!("\"{i}.50\""), true)),
        1 => Just(("\"16000.05\"".to_owned(), true)),
        1 => Just(("\"1.6e4\"".to_owned(), true)),
        1 => Just(("\"-1\"".to_owned(), true)),
        1 => Just(("\"\"".to_owned(), true)),
        1 => Just(("\"\\u0031\"".to_owned(), false)),
        1 => Just(("\"1\u{e9}\"".to_owned(), false)),
        1 => Just(("16000.5".to_owned(), false)),
    ]
}

/// A size string.
fn size() -> impl Strategy<Value = (String, bool)> {
    prop_oneof![
        8 => (0u32..1_000, 0u32..1_000).prop_map(|(i, d)| (format!("\"{i}.{d:03}\""), true)),
        2 => (0u32..100).prop_map(|i| (format!("\"{i}\""), true)),
        1 => Just(("\"0\"".to_owned(), true)),
        1 => Just(("\"x\"".to_owned(), true)),
        1 => Just(("7".to_owned(), false)),
    ]
}

/// One level: exactly a price and a size in the subset; one element or three are not.
fn level() -> impl Strategy<Value = (String, bool)> {
    (decimal(), size(), 0u8..12).prop_flat_map(|(px, sz, width)| {
        let items = match width {
            0 => vec![(px.0, false)],
            1 => vec![px, sz.clone(), (sz.0, false)],
            _ => vec![px, sz],
        };
        array(items).prop_map(|g| g.member())
    })
}

/// A level array, or another value where one is expected.
fn levels() -> impl Strategy<Value = (String, bool)> {
    prop_oneof![
        12 => proptest::collection::vec(level(), 0..5)
            .prop_flat_map(|l| array(l).prop_map(|g| g.member())),
        1 => Just(("\"x\"".to_owned(), true)),
        1 => Just(("null".to_owned(), true)),
        1 => Just(("[1]".to_owned(), false)),
        1 => Just(("{}".to_owned(), false)),
    ]
}

/// An update id `u` near the snapshot's (100): in order, repeated, skipped, the restart id
/// 1, and other forms.
fn update_id() -> impl Strategy<Value = (String, bool)> {
    prop_oneof![
        6 => (99u64..104).prop_map(|u| (u.to_string(), true)),
        1 => Just(("1".to_owned(), true)),
        1 => Just(("0".to_owned(), true)),
        1 => (99u64..104).prop_map(|u| (format!("\"{u}\""), true)),
        1 => Just(("18446744073709551615".to_owned(), false)),
        1 => Just(("9999999999999999999".to_owned(), true)),
        1 => Just(("null".to_owned(), true)),
        1 => Just(("-1".to_owned(), false)),
        1 => Just(("101.0".to_owned(), false)),
        1 => Just(("0101".to_owned(), false)),
    ]
}

/// A millisecond time: an integer as Bybit sends it, or another form.
fn millis() -> impl Strategy<Value = (String, bool)> {
    prop_oneof![
        8 => (1_672_304_484_000u64..1_672_304_489_000).prop_map(|t| (t.to_string(), true)),
        1 => (1_672_304_484_000u64..1_672_304_489_000).prop_map(|t| (format!("\"{t}\""), true)),
        1 => Just(("\"\"".to_owned(), true)),
        1 => Just(("true".to_owned(), true)),
        1 => Just(("1.5".to_owned(), false)),
        1 => Just(("1e3".to_owned(), false)),
    ]
}

/// A symbol: mostly the snapshot's.
fn symbol() -> impl Strategy<Value = (String, bool)> {
    prop_oneof![
        10 => Just(s("BTCUSDT")),
        1 => Just(s("ETHUSDT")),
        1 => Just(("\"BTC\\u0055SDT\"".to_owned(), false)),
        1 => Just(("1".to_owned(), true)),
    ]
}

/// A book push's `data` object.
fn book_data() -> impl Strategy<Value = (String, bool)> {
    (symbol(), levels(), levels(), update_id(), 0u8..14).prop_flat_map(|(sym, b, a, u, variant)| {
        let mut m = vec![
            ("s".to_owned(), sym),
            ("b".to_owned(), b),
            ("a".to_owned(), a),
            ("u".to_owned(), u),
            ("seq".to_owned(), ("7961638724".to_owned(), true)),
        ];
        match variant {
            0 => drop(m.remove(0)),
            1 => drop(m.remove(3)),
            2 => drop(m.remove(4)),
            3 => drop(m.remove(1)),
            4 => m.push(("extra".to_owned(), ("1".to_owned(), false))),
            5 => m.push(("u".to_owned(), ("5".to_owned(), false))),
            6 => m[4].1 = ("[]".to_owned(), false),
            _ => {}
        }
        object(m).prop_map(|g| g.member())
    })
}

/// One trade object.
fn trade_entry() -> impl Strategy<Value = (String, bool)> {
    let side = prop_oneof![8 => Just(s("Buy")), 8 => Just(s("Sell")), 1 => Just(s("buy")),
        1 => Just(("1".to_owned(), true))];
    let id = prop_oneof![
        4 => (1u64..1_000_000_000).prop_map(|i| (format!("\"{i}\""), true)),
        4 => Just(s("20f43950-d8dd-5b31-9112-a178eb6023af")),
        1 => Just(("7".to_owned(), true)),
    ];
    (decimal(), size(), side, id, millis(), symbol(), 0u8..16).prop_flat_map(
        |(px, sz, side, id, ts, sym, variant)| {
            let mut m = vec![
                ("T".to_owned(), ts),
                ("s".to_owned(), sym),
                ("S".to_owned(), side),
                ("v".to_owned(), sz),
                ("p".to_owned(), px),
                ("L".to_owned(), s("PlusTick")),
                ("i".to_owned(), id),
                ("BT".to_owned(), ("false".to_owned(), true)),
            ];
            match variant {
                0 => drop(m.remove(0)),
                1 => drop(m.remove(4)),
                2 => drop(m.remove(6)),
                3 => m.push(("RPI".to_owned(), ("true".to_owned(), true))),
                4 => m.push(("seq".to_owned(), ("123".to_owned(), true))),
                5 => m.push(("p".to_owned(), ("\"1\"".to_owned(), false))),
                6 => m.push(("x".to_owned(), ("null".to_owned(), false))),
                7 => m.push(("mP".to_owned(), ("{}".to_owned(), false))),
                _ => {}
            }
            object(m).prop_map(|g| g.member())
        },
    )
}

/// A trade push's `data`: mostly one trade; up to eight are read, more are left to simd-json.
fn trade_data() -> impl Strategy<Value = (String, bool)> {
    prop_oneof![
        12 => proptest::collection::vec(trade_entry(), 1..=1),
        3 => proptest::collection::vec(trade_entry(), 0..=8),
        1 => proptest::collection::vec(trade_entry(), 9..=10)
            .prop_map(|mut v| { v[0].1 = false; v }),
    ]
    .prop_flat_map(|entries| array(entries).prop_map(|g| g.member()))
}

/// A book or trade push (or a near miss: another topic, a bad depth or type, a control key, a
/// missing or doubled member, a `data` of the other shape), members shuffled at every level.
fn frame() -> impl Strategy<Value = Gen> {
    let book_topic = prop_oneof![
        8 => Just(s("orderbook.50.BTCUSDT")),
        1 => Just(s("orderbook.1.BTCUSDT")),
        1 => Just(s("orderbook.x.BTCUSDT")),
        1 => Just(s("orderbook.0.BTCUSDT")),
        1 => Just(s("orderbook.50")),
        1 => Just(("\"tickers.BTCUSDT\"".to_owned(), false)),
        1 => Just(("\"orderbook\\u002e50.BTCUSDT\"".to_owned(), false)),
    ];
    let kind = prop_oneof![
        6 => Just(Some(s("delta"))),
        2 => Just(Some(s("snapshot"))),
        1 => Just(None),
        1 => Just(Some(s("partial"))),
        1 => Just(Some(("1".to_owned(), true))),
    ];
    let book = (book_topic, kind.clone(), book_data());
    let trade = (
        prop_oneof![8 => Just(s("publicTrade.BTCUSDT")), 1 => Just(s("publicTrade."))],
        kind,
        trade_data(),
    );
    (prop_oneof![3 => book, 1 => trade], millis(), 0u8..16).prop_flat_map(
        |((topic, kind, data), ts, variant)| {
            let mut m = vec![
                ("topic".to_owned(), topic),
                ("ts".to_owned(), ts),
                ("data".to_owned(), data),
                ("cts".to_owned(), ("1672304484976".to_owned(), true)),
            ];
            if let Some(k) = kind {
                m.push(("type".to_owned(), k));
            }
            match variant {
                0 => drop(m.remove(3)),
                1 => drop(m.remove(1)),
                2 => m.push(("id".to_owned(), s("abc"))),
                3 => m.push(("op".to_owned(), ("\"ping\"".to_owned(), false))),
                4 => m.push(("success".to_owned(), ("true".to_owned(), false))),
                5 => m.push(("topic".to_owned(), ("\"x\"".to_owned(), false))),
                6 => m[2].1 = ("\"x\"".to_owned(), false),
                7 => m[2].1 = ("{}".to_owned(), m[0].1 .0.starts_with("\"orderbook")),
                8 => m[2].1 = ("[]".to_owned(), m[0].1 .0.starts_with("\"publicTrade")),
                9 => drop(m.remove(2)),
                10 => m.push(("extra".to_owned(), ("1".to_owned(), false))),
                _ => {}
            }
            if variant == 9 {
                // No `data`: read by the scanner, not a push it takes.
                m[0].1 .1 = false;
            }
            object(m)
        },
    )
}

/// A snapshot so that deltas are applied and trades know their instrument.
const SNAPSHOT: &[u8] = br#"{"topic":"orderbook.50.BTCUSDT","type":"snapshot","ts":1672304484978,"data":{"s":"BTCUSDT","b":[["16493.50","0.006"],["16493.00","0.100"]],"a":[["16493.55","0.1"]],"u":100,"seq":7961638724},"cts":1672304484976}"#;

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    /// Generated frames: identical output whatever happens; a frame entirely in the scanner's
    /// subset is never left to simd-json.
    #[test]
    fn generated_frames_scan_as_simd_json_parses(
        frames in proptest::collection::vec(frame(), 1..6),
        kind in proptest::sample::select(KernelKind::ALL.to_vec()),
    ) {
        let Some(p) = crate::pair(bybit, kind) else { return Ok(()) };
        crate::generated_frames_agree(p, &[SNAPSHOT], &frames, kind)?;
    }
}

/// Frames the scanner must leave to simd-json (counted), with the same result either way.
#[test]
fn fallbacks_are_counted_and_give_simd_jsons_output() {
    let fallbacks: [&[u8]; 16] = [
        br#"{"success":true,"ret_msg":"","conn_id":"cejreaspqfh3sjdnldmg-p","op":"subscribe"}"#,
        br#"{"success":true,"ret_msg":"pong","conn_id":"0970e817-426e-429a-a679-ff7f55e0b16a","op":"ping"}"#,
        br#"{"req_id":"100001","op":"pong","args":["1675418560633"],"conn_id":"cfcb4ocsvfriu23r3er0-1b"}"#,
        br#"{"success":false,"ret_msg":"error:handler not found","conn_id":"x","op":"subscribe"}"#,
        br#"{"topic":"tickers.BTCUSDT","type":"delta","data":{"symbol":"BTCUSDT","markPrice":"17218.01"},"cs":1,"ts":1}"#,
        br#"{"topic":"allLiquidation.BTCUSDT","type":"snapshot","ts":1,"data":[{"T":1,"s":"BTCUSDT","S":"Sell","v":"0.02","p":"17300.04"}]}"#,
        br#"{"topic":"kline.1.BTCUSDT","data":[]}"#,
        br#"{"topic":"orderbook.50.BTC\u0055SDT","type":"delta","ts":1,"data":{"s":"BTCUSDT","b":[],"a":[],"u":101}}"#,
        br#"{"topic":"orderbook.50.BTCUSDT","type":"delta","ts":1,"data":{"s":"BTCUSDT","b":[[16493.5,"1"]],"a":[],"u":101}}"#,
        br#"{"topic":"orderbook.50.BTCUSDT","type":"delta","ts":1.5,"data":{"s":"BTCUSDT","b":[],"a":[],"u":101}}"#,
        br#"{"topic":"orderbook.50.BTCUSDT","type":"delta","ts":1,"data":{"s":"BTCUSDT","b":[],"b":[],"u":101}}"#,
        br#"{"topic":"orderbook.50.BTCUSDT","type":"delta","ts":1,"data":{"s":"BTCUSDT","b":[],"a":[],"u":101,"x":1}}"#,
        br#"{"topic":"orderbook.50.BTCUSDT","type":"delta","ts":1,"data":[]}"#,
        br#"{"topic":"publicTrade.BTCUSDT","ts":1,"data":[{"T":1,"s":"BTCUSDT","S":"Buy","v":"1","p":"16493.5"},{},{},{},{},{},{},{},{}]}"#,
        br#"{"topic":"publicTrade.BTCUSDT","ts":1,"data":[{"T":1,"s":"BTCUSDT","S":"Buy","v":"1","p":"16493.5"}]}  x"#,
        "{\"topic\":\"publicTrade.BTCUSDT\",\"ts\":1,\"data\":[{\"T\":1,\"s\":\"BTCUSDT\",\"S\":\"B\u{fc}y\",\"v\":\"1\",\"p\":\"1\"}]}".as_bytes(),
    ];
    for kind in KernelKind::ALL {
        let Some(p) = crate::pair(bybit, kind) else { continue };
        crate::fallbacks_agree(p, SNAPSHOT, true, &fallbacks, kind);
    }
}

/// Errors inside a scanned frame are the simd-json path's errors. The cases run in order on
/// one pair of adapters: the bad snapshot (`u` 5) leaves the book synced at 5, so the bad delta
/// after it is `u` 6.
#[test]
fn bad_pushes_get_the_same_errors() {
    let bad: [(&[u8], &str); 12] = [
        (br#"{"topic":"orderbook.x.BTCUSDT","type":"snapshot","data":{}}"#, "shape"),
        (br#"{"topic":"orderbook.50.BTCUSDT","type":"partial","data":{}}"#, "shape"),
        (br#"{"topic":"orderbook.50.BTCUSDT","data":{"s":"BTCUSDT","u":101}}"#, "shape"),
        (br#"{"topic":"orderbook.50.BTCUSDT","type":"snapshot","data":{"s":"BTCUSDT"}}"#, "shape"),
        (br#"{"topic":"orderbook.50.BTCUSDT","type":"delta","data":{"u":101}}"#, "shape"),
        (br#"{"topic":"orderbook.50.BTCUSDT","type":"snapshot","data":{"s":"BTCUSDT","b":[["1e3","1"]],"a":[],"u":5}}"#, "number"),
        (br#"{"topic":"orderbook.50.BTCUSDT","type":"delta","data":{"s":"BTCUSDT","b":[["16493.50","x"]],"a":[],"u":6}}"#, "number"),
        (br#"{"topic":"orderbook.50.NOPE","type":"delta","data":{"s":"NOPE","b":[],"a":[],"u":5}}"#, "unknown_symbol"),
        (br#"{"topic":"publicTrade.BTCUSDT","data":[{"T":1,"s":"BTCUSDT","S":"Both","v":"1","p":"1"}]}"#, "shape"),
        (br#"{"topic":"publicTrade.BTCUSDT","data":[{"s":"BTCUSDT","S":"Buy","v":"1","p":"16493.5"}]}"#, "shape"),
        (br#"{"topic":"publicTrade.BTCUSDT","data":[{"T":1,"s":"NOPE","S":"Buy","v":"1","p":"1"}]}"#, "unknown_symbol"),
        (br#"{"topic":"publicTrade.BTCUSDT","data":[{"T":1,"s":"BTCUSDT","S":"Buy","v":"1","p":"16493.5"},{"T":1,"s":"BTCUSDT","S":"Buy","v":"1","p":"1.5.5"}]}"#, "number"),
    ];
    for kind in KernelKind::ALL {
        let Some((mut scan, mut tape)) = crate::pair(bybit, kind) else { continue };
        let (read, r) = same_frame(&mut scan, &mut tape, SNAPSHOT, "snapshot");
        assert!(read && r.is_ok());
        for (f, want) in bad {
            let (read, r) = same_frame(&mut scan, &mut tape, f, kind.name());
            assert!(read, "{}: fell back on {}", kind.name(), String::from_utf8_lossy(f));
            assert_eq!(r.map_err(|e| e.name()), Err(want), "{}", String::from_utf8_lossy(f));
        }
    }
}

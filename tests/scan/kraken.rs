//! The Kraken v1 scanner (`venue::scan::kraken`) against simd-json's tape: every frame of every
//! bundled Kraken v1 capture with every dispatch path this CPU has, generated book snapshots,
//! updates and trades with free key order inside each payload object, whitespace and number
//! forms, and the frames it must leave to simd-json. The scanner must give the same result and
//! the same parsed output as simd-json, or fall back (and then it is simd-json's output by
//! construction).

use crate::common::gen::{array, object, Gen};
use crate::common::{records, same_frame};
use ladderfeed::book::InstrumentRegistry;
use ladderfeed::venue::kraken::KrakenV1;
use ladderfeed::venue::scan::KernelKind;
use proptest::prelude::*;

/// The bundled Kraken v1 captures: books, trades, tickers.
const CAPTURES: [&str; 3] = [
    "kraken/cryptofeed_KRAKEN.ws.50.0",
    "kraken/cryptofeed_KRAKEN.ws.48.0",
    "kraken/cryptofeed_KRAKEN.ws.49.0",
];

fn kraken() -> KrakenV1 {
    KrakenV1::new(InstrumentRegistry::with_builtins())
}

#[test]
fn every_bundled_frame_parses_as_simd_json_does_on_every_dispatch_path() {
    for file in CAPTURES {
        for kind in KernelKind::ALL {
            let Some(t) = crate::capture_agrees(kraken, file, kind, |text| {
                text.starts_with('[')
                    && (text.contains(r#","book-"#) || text.contains(r#","trade","#))
            }) else {
                continue;
            };
            // Every book and trade message is scanned, and nothing else.
            assert_eq!(t.scanned, t.hot, "{file}");
        }
    }
}

#[test]
fn the_engine_counts_the_frames_left_to_simd_json() {
    let recs = records(&[CAPTURES[0]]);
    let (scan, a) = crate::engines_agree(kraken, &recs);
    let fallbacks = scan.stats().scanner_fallbacks;
    // Everything but the book messages: subscription answers and heartbeats.
    assert!(fallbacks > 0 && (fallbacks as usize) < a.frames / 10, "{fallbacks} of {}", a.frames);
}

/// A price string: the capture's forms (8 decimals), shorter ones, forms that are errors for
/// both parsers, and forms outside the subset (escapes, non-ASCII, a bare number).
fn price() -> impl Strategy<Value = (String, bool)> {
    prop_oneof![
        8 => (350u32..360, 0u32..100_000_000)
            .prop_map(|(i, d)| (format!("\"{i}.{d:08}\""), true)),
        2 => (350u32..360, 0u32..100).prop_map(|(i, d)| (format!("\"{i}.{d:02}\""), true)),
        1 => (350u32..360).prop_map(|i| (format!("\"{i}\""), true)),
        1 => Just(("\"354.150000001\"".to_owned(), true)),
        1 => Just(("\"3.5e2\"".to_owned(), true)),
        1 => Just(("\"-1\"".to_owned(), true)),
        1 => Just(("\"\"".to_owned(), true)),
        1 => Just(("\"\\u0033\"".to_owned(), false)),
        1 => Just(("\"3\u{e9}\"".to_owned(), false)),
        1 => Just(("354.5".to_owned(), false)),
    ]
}

/// A volume string: 8 decimals mostly, zero (a delete), and bad forms.
fn volume() -> impl Strategy<Value = (String, bool)> {
    prop_oneof![
        8 => (0u32..100, 0u32..100_000_000)
            .prop_map(|(i, d)| (format!("\"{i}.{d:08}\""), true)),
        2 => Just(("\"0.00000000\"".to_owned(), true)),
        1 => Just(("\"1\"".to_owned(), true)),
        1 => Just(("\"x\"".to_owned(), true)),
        1 => Just(("7".to_owned(), false)),
    ]
}

/// A level or trade time: seconds with microseconds as Kraken sends them, or another form.
fn time() -> impl Strategy<Value = (String, bool)> {
    prop_oneof![
        8 => (1_618_678_100u64..1_618_678_200, 0u32..1_000_000)
            .prop_map(|(s, u)| (format!("\"{s}.{u:06}\""), true)),
        1 => (1_618_678_100u64..1_618_678_200).prop_map(|s| (format!("\"{s}\""), true)),
        1 => Just(("\"\"".to_owned(), true)),
        1 => Just(("\"soon\"".to_owned(), true)),
        1 => Just(("1618678100".to_owned(), false)),
    ]
}

/// One level: `[price, volume, time]`, sometimes with the republish flag `"r"`, and near
/// misses (too short, too long).
fn level() -> impl Strategy<Value = (String, bool)> {
    (price(), volume(), time(), 0u8..12).prop_flat_map(|(px, qty, t, width)| {
        let items = match width {
            0 => vec![px, qty],
            1 => vec![px, qty, t, ("\"r\"".to_owned(), true)],
            2 => vec![(px.0, false)],
            3 => {
                let mut v = vec![px, qty, t];
                v.extend((0..4).map(|_| ("\"x\"".to_owned(), true)));
                v[6].1 = false;
                v
            }
            4 => vec![px, qty, t, ("null".to_owned(), false)],
            _ => vec![px, qty, t],
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
        1 => Just(("7".to_owned(), true)),
        1 => Just(("[1]".to_owned(), false)),
        1 => Just(("{}".to_owned(), false)),
    ]
}

/// The checksum `c`: a string of digits mostly, and forms that are errors (or ignored) for
/// both parsers.
fn checksum() -> impl Strategy<Value = (String, bool)> {
    prop_oneof![
        8 => (0u64..4_294_967_296).prop_map(|c| (format!("\"{c}\""), true)),
        1 => Just(("\"4294967296\"".to_owned(), true)),
        1 => Just(("\"-5\"".to_owned(), true)),
        1 => Just(("12345".to_owned(), true)),
        1 => Just(("true".to_owned(), true)),
        1 => Just(("-1".to_owned(), false)),
    ]
}

/// An update's payload object: `a`, `b` and `c` in any order, some missing, and near misses.
fn update_part() -> impl Strategy<Value = (String, bool)> {
    (levels(), levels(), checksum(), 0u8..12).prop_flat_map(|(a, b, c, variant)| {
        let mut m = vec![("a".to_owned(), a), ("b".to_owned(), b), ("c".to_owned(), c)];
        match variant {
            0 => drop(m.remove(0)),
            1 => drop(m.remove(1)),
            2 => drop(m.remove(2)),
            3 => m.push(("x".to_owned(), ("\"y\"".to_owned(), true))),
            4 => m.push(("a".to_owned(), ("[]".to_owned(), false))),
            5 => m.push(("x".to_owned(), ("{\"y\":1}".to_owned(), false))),
            6 => m.truncate(0),
            _ => {}
        }
        object(m).prop_map(|g| g.member())
    })
}

/// A snapshot's payload object: `as` and `bs` in any order, sometimes one of them.
fn snapshot_part() -> impl Strategy<Value = (String, bool)> {
    (levels(), levels(), 0u8..8).prop_flat_map(|(a, b, variant)| {
        let mut m = vec![("as".to_owned(), a), ("bs".to_owned(), b)];
        match variant {
            0 => drop(m.remove(0)),
            1 => drop(m.remove(1)),
            2 => m.push(("bs".to_owned(), ("[]".to_owned(), false))),
            _ => {}
        }
        object(m).prop_map(|g| g.member())
    })
}

/// One trade row: price, volume, time, side, type, misc, and near misses.
fn trade() -> impl Strategy<Value = (String, bool)> {
    let side = prop_oneof![8 => Just(("\"b\"".to_owned(), true)),
        8 => Just(("\"s\"".to_owned(), true)), 1 => Just(("\"x\"".to_owned(), true))];
    let kind = prop_oneof![Just(("\"l\"".to_owned(), true)), Just(("\"m\"".to_owned(), true))];
    (price(), volume(), time(), side, kind, 0u8..10).prop_flat_map(
        |(px, qty, t, side, kind, variant)| {
            let misc = ("\"\"".to_owned(), true);
            let items = match variant {
                0 => vec![px, qty, t],
                1 => vec![px, qty, t, side],
                2 => vec![px, qty, t, side, kind, misc, ("\"x\"".to_owned(), false)],
                3 => vec![px, qty, t, side, kind, ("0".to_owned(), false)],
                _ => vec![px, qty, t, side, kind, misc],
            };
            array(items).prop_map(|g| g.member())
        },
    )
}

/// A book or trade message (or a near miss: another channel, a bad depth, an unknown pair, a
/// channel id outside the subset, too many payload objects).
fn frame() -> impl Strategy<Value = Gen> {
    let channel_id = prop_oneof![8 => (0u64..10_000).prop_map(|i| (i.to_string(), true)),
        1 => Just(("\"992\"".to_owned(), false)), 1 => Just(("-1".to_owned(), false))];
    let book_channel = prop_oneof![
        8 => Just(("\"book-1000\"".to_owned(), true)),
        1 => Just(("\"book-10\"".to_owned(), true)),
        1 => Just(("\"book-x\"".to_owned(), false)),
        1 => Just(("\"spread\"".to_owned(), false)),
    ];
    let pair = prop_oneof![8 => Just(("\"XMR/USD\"".to_owned(), true)),
        1 => Just(("\"NEW/EUR\"".to_owned(), true)),
        1 => Just(("\"XMR\\/USD\"".to_owned(), false)),
        1 => Just(("7".to_owned(), false))];
    let payload = prop_oneof![
        6 => proptest::collection::vec(update_part(), 1..=2),
        2 => proptest::collection::vec(snapshot_part(), 1..=1),
        1 => proptest::collection::vec(update_part(), 3..=3),
        1 => proptest::collection::vec(update_part(), 4..=5).prop_map(|mut v| {
            v[0].1 = false;
            v
        }),
    ];
    let book = (book_channel, payload);
    let trades = (
        prop_oneof![8 => Just(("\"trade\"".to_owned(), true)),
            1 => Just(("\"ohlc-5\"".to_owned(), false))],
        proptest::collection::vec(trade(), 0..4)
            .prop_flat_map(|t| array(t).prop_map(|g| vec![g.member()])),
    );
    (prop_oneof![3 => book, 1 => trades], channel_id, pair).prop_flat_map(
        |((channel, payload), id, pair)| {
            let mut items = vec![id];
            items.extend(payload);
            items.push(channel);
            items.push(pair);
            array(items)
        },
    )
}

/// A snapshot so that updates are applied and trades know their pair (8 decimals each).
const SNAPSHOT: &[u8] = br#"[992,{"as":[["355.00000000","1.00000000","1618678123.481570"],["355.10000000","2.00000000","1618678123.481571"]],"bs":[["354.90000000","3.00000000","1618678097.847309"]]},"book-1000","XMR/USD"]"#;

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    /// Generated frames: identical output whatever happens; a frame entirely in the scanner's
    /// subset is never left to simd-json.
    #[test]
    fn generated_frames_scan_as_simd_json_parses(
        frames in proptest::collection::vec(frame(), 1..6),
        kind in proptest::sample::select(KernelKind::ALL.to_vec()),
    ) {
        let Some(p) = crate::pair(kraken, kind) else { return Ok(()) };
        crate::generated_frames_agree(p, &[SNAPSHOT], &frames, kind)?;
    }
}

/// Frames the scanner must leave to simd-json (counted), with the same result either way.
#[test]
fn fallbacks_are_counted_and_give_simd_jsons_output() {
    let fallbacks: [&[u8]; 14] = [
        br#"{"event":"heartbeat"}"#,
        br#"{"channelID":992,"channelName":"book-1000","event":"subscriptionStatus","pair":"XMR/USD","status":"subscribed","subscription":{"depth":1000,"name":"book"}}"#,
        br#"[996,{"a":["355.24000000",27,"27.19106411"],"b":["354.32000000",6,"6.87748868"],"c":["355.23000000","1.20454360"],"v":["1.0","2.0"],"p":["1.0","2.0"],"t":[1,2],"l":["1.0","2.0"],"h":["1.0","2.0"],"o":["1.0","2.0"]},"ticker","XMR/USD"]"#,
        br#"[997,["354.30000000","355.20000000","1618678142.557535","1.00000000","2.00000000"],"spread","XMR/USD"]"#,
        br#"[42,[["1.0","2.0","3.0","4.0","5.0","6.0","7.0","8.0",9]],"ohlc-5","XMR/USD"]"#,
        br#"[992,{"b":[["354.15000000","5.00000000","1618678133.365913"]],"c":"2583817756"},"book-x","XMR/USD"]"#,
        br#"[992,{"b":[["354.15000000","5.00000000","1618678133.365913"]],"c":"2583817756"},"book-1000"]"#,
        br#"[992,{"b":[["354.15000000","5.00000000","1618678133.365913"]],"c":"2583817756"},"mystery","XMR/USD"]"#,
        br#"[992,{"b":[["354.15000000","5.00000000","1618678133.365913"]],"c":"2583817756"},"book-1000","XMR\/USD"]"#,
        br#"[992,{"b":[[354.15,"5.00000000","1618678133.365913"]],"c":"2583817756"},"book-1000","XMR/USD"]"#,
        br#"[992,{"b":[],"b":[],"c":"2583817756"},"book-1000","XMR/USD"]"#,
        br#"[992,{"b":[]},{},{},{},"book-1000","XMR/USD"]"#,
        br#"[992,{"b":[]},"book-1000","XMR/USD"] x"#,
        b"[1,2]",
    ];
    for kind in KernelKind::ALL {
        let Some(p) = crate::pair(kraken, kind) else { continue };
        crate::fallbacks_agree(p, SNAPSHOT, true, &fallbacks, kind);
    }
}

/// Errors inside a scanned frame are the simd-json path's errors.
#[test]
fn bad_messages_get_the_same_errors() {
    let bad: [(&[u8], &str); 8] = [
        (br#"[992,{"a":[["355.000000001","1.00000000","1618678123.481570"]],"c":"1"},"book-1000","XMR/USD"]"#, "number"),
        (br#"[992,{"a":[["355.00000000","x","1618678123.481570"]],"c":"1"},"book-1000","XMR/USD"]"#, "number"),
        (br#"[992,{"a":[],"c":"-5"},"book-1000","XMR/USD"]"#, "shape"),
        (br#"[992,{"a":[],"c":"4294967296"},"book-1000","XMR/USD"]"#, "shape"),
        (br#"[992,{"a":[],"c":"1"},"book-1000","NOPE/X"]"#, "unknown_symbol"),
        (br#"[993,[["354.11000000","0.89594024","1618678142.557535","x","l",""]],"trade","XMR/USD"]"#, "shape"),
        (br#"[993,[["354.11000000","0.89594024","1618678142.557535"]],"trade","XMR/USD"]"#, "shape"),
        (br#"[993,{},"trade","XMR/USD"]"#, "shape"),
    ];
    for kind in KernelKind::ALL {
        let Some((mut scan, mut tape)) = crate::pair(kraken, kind) else { continue };
        let (read, r) = same_frame(&mut scan, &mut tape, SNAPSHOT, "snapshot");
        assert!(read && r.is_ok());
        for (f, want) in bad {
            let (read, r) = same_frame(&mut scan, &mut tape, f, kind.name());
            assert!(read, "{}: fell back on {}", kind.name(), String::from_utf8_lossy(f));
            assert_eq!(r.map_err(|e| e.name()), Err(want), "{}", String::from_utf8_lossy(f));
        }
    }
}

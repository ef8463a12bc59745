//! The BitMEX scanner (`venue::scan::bitmex`) against simd-json's tape of the frame with its
//! numbers quoted: every frame of the bundled capture on every dispatch path this CPU has,
//! generated `orderBookL2` and `trade` messages with free key order (rows in their common
//! order too), whitespace, number forms, nested members it skips and near misses, and the
//! frames it must leave to simd-json. The scanner must give the same result and the same
//! parsed output as simd-json, or fall back (and then it is simd-json's output by
//! construction).

use crate::common::gen::{array, object, s, ws, Gen};
use crate::common::records;
use ladderfeed::book::InstrumentRegistry;
use ladderfeed::venue::bitmex::Bitmex;
use ladderfeed::venue::scan::KernelKind;
use proptest::prelude::*;

const CAPTURE: &str = "bitmex/cryptofeed_BITMEX.ws.1.0";

fn bitmex() -> Bitmex {
    Bitmex::new(InstrumentRegistry::with_builtins())
}

#[test]
fn every_bundled_frame_parses_as_simd_json_does_on_every_dispatch_path() {
    for kind in KernelKind::ALL {
        let Some(t) = crate::capture_agrees(bitmex, CAPTURE, kind, |text| {
            text.starts_with(r#"{"table":"orderBookL2""#) || text.starts_with(r#"{"table":"trade""#)
        }) else {
            continue;
        };
        // A `UNIUSDT` trade before that book's partial made the symbol known (no reference
        // data here): refused alike.
        assert_eq!(t.errors, 1);
        // 1,979 book messages (10 partials, 895 KB of them) and 17 trade messages; the
        // rest are quotes and control frames.
        assert_eq!((t.frames, t.hot, t.scanned), (2_120, 1_996, 1_996));
    }
}

#[test]
fn the_engine_publishes_the_same_on_the_capture() {
    let recs = records(&[CAPTURE]);
    let (scan, a) = crate::engines_agree(bitmex, &recs);
    assert!(!a.events.is_empty());
    // The quotes and control frames, and nothing else.
    assert_eq!(scan.stats().scanner_fallbacks, 124);
}

#[test]
fn quotes_control_and_near_misses_are_left_to_simd_json() {
    for kind in KernelKind::ALL {
        let Some(pair) = crate::pair(bitmex, kind) else { continue };
        crate::fallbacks_agree(
            pair,
            PARTIAL.as_bytes(),
            true,
            &[
                br#"{"table":"quote","action":"insert","data":[{"timestamp":"2021-07-22T22:36:08.296Z","symbol":"XBTUSD","bidSize":100,"bidPrice":32303,"askPrice":32303.5,"askSize":5200}]}"#,
                br#"{"info":"Welcome to the BitMEX Realtime API.","version":"2021-07-14T01:26:29.000Z"}"#,
                br#"{"success":true,"subscribe":"orderBookL2:XBTUSD"}"#,
                br#"{"error":"Unknown table: orderBookL3"}"#,
                br#"{"table":"orderBookL2","action":"update","data":[{"symbol":"XBTUSD","id":8700000001,"id":8700000002,"side":"Sell","size":7}]}"#,
                br#"{"table":"orderBookL2","action":"update","data":[{"symbol":"XBTUSD","id":8700000001,"side":"Sell","size":07}]}"#,
                br#"{"table":"orderBookL2","action":"update","data":[{"symbol":"XBTUSD","id":8700000001,"side":"Sell","size":[7]}]}"#,
                br#"{"table":"orderBookL2","action":"update","data":[{"symbol":"XBT\u0055SD","id":8700000001,"side":"Sell","size":7}]}"#,
                br#"{"table":"orderBookL2","action":"update","filter":{"symbol":"XBTUSD","symbol":"ETHUSD"},"data":[]}"#,
                br#"{"table":"orderBookL2","action":"update","data":[]}]"#,
            ],
            kind,
        );
    }
}

/// The book every generated run starts from: ids 8700000001 to 8700000006, asks above bids.
const PARTIAL: &str = r#"{"table":"orderBookL2","action":"partial","keys":["symbol","id","side"],"types":{"symbol":"symbol","id":"long","side":"symbol","size":"long","price":"float"},"filter":{"symbol":"XBTUSD"},"data":[{"symbol":"XBTUSD","id":8700000001,"side":"Sell","size":100,"price":32310},{"symbol":"XBTUSD","id":8700000002,"side":"Sell","size":200,"price":32305.5},{"symbol":"XBTUSD","id":8700000003,"side":"Sell","size":300,"price":32304},{"symbol":"XBTUSD","id":8700000004,"side":"Buy","size":400,"price":32300},{"symbol":"XBTUSD","id":8700000005,"side":"Buy","size":500,"price":32299.5},{"symbol":"XBTUSD","id":8700000006,"side":"Buy","size":600,"price":32290}]}"#;

/// A number where the venue prints one: the capture's forms, other valid JSON numbers,
/// strings, literals, and forms outside the subset.
fn number(base: u64) -> impl Strategy<Value = (String, bool)> {
    prop_oneof![
        8 => (0u64..8).prop_map(move |i| ((base + i).to_string(), true)),
        2 => (0u64..40, 1u32..10).prop_map(move |(i, f)| (format!("{}.{f}", base + i), true)),
        1 => Just(("0".to_owned(), true)),
        1 => Just(("-5".to_owned(), true)),
        1 => Just(("3.2305E+4".to_owned(), true)),
        1 => Just(("1e-3".to_owned(), true)),
        1 => (0u64..40).prop_map(move |i| (format!("\"{}\"", base + i), true)),
        1 => Just(("null".to_owned(), true)),
        1 => Just(("false".to_owned(), true)),
        1 => Just(("012".to_owned(), false)),
        1 => Just(("1.".to_owned(), false)),
        1 => Just(("-".to_owned(), false)),
        1 => Just(("[1]".to_owned(), false)),
        1 => Just(("{}".to_owned(), false)),
        1 => Just(("\"\\u0031\"".to_owned(), false)),
    ]
}

/// A member the handlers do not read: a scalar or a nested value (read whole and skipped).
fn extra() -> impl Strategy<Value = (String, (String, bool))> {
    let value = prop_oneof![
        2 => Just(s("ZeroPlusTick")),
        1 => Just(("0.00309565".to_owned(), true)),
        1 => Just(("{\"a\":[1,{\"b\":null}],\"c\":\"d\"}".to_owned(), true)),
        1 => Just(("[[[[true]]]]".to_owned(), true)),
        1 => Just(("tru".to_owned(), false)),
        1 => Just(("\"caf\u{e9}\"".to_owned(), false)),
    ];
    let key = prop_oneof![Just("tickDirection"), Just("grossValue"), Just("Id"), Just("symbol2")];
    (key, value).prop_map(|(k, v)| (k.to_owned(), v))
}

/// One row: the kept members (some missing, some repeated) and extra ones; with `ordered`,
/// in the venue's own key order without whitespace (the scanner's common form).
fn row() -> impl Strategy<Value = (String, bool)> {
    let symbol = prop_oneof![8 => Just(s("XBTUSD")), 1 => Just(s("ETHUSD")),
        1 => Just(("7".to_owned(), true)), 1 => Just(("null".to_owned(), true))];
    let side = prop_oneof![4 => Just(s("Buy")), 4 => Just(s("Sell")), 1 => Just(s("buy")),
        1 => Just(("null".to_owned(), true))];
    let timestamp = prop_oneof![
        Just(s("2021-07-22T22:36:08.296Z")),
        Just(s("yesterday")),
        Just(("1626993368".to_owned(), true))
    ];
    (
        (symbol, number(8_700_000_001), side, number(1), number(32_290)),
        (timestamp, Just(s("2d4a0c86-a0ac-c1e4-2bbd-d2e6b9c6c9b3")), proptest::option::of(extra())),
        (0u8..12, any::<bool>()),
    )
        .prop_flat_map(|((sym, id, side, size, px), (ts, trd, extra), (variant, ordered))| {
            let mut m: Vec<(String, (String, bool))> = vec![
                ("symbol".into(), sym),
                ("id".into(), id.clone()),
                ("side".into(), side),
                ("size".into(), size),
                ("price".into(), px),
                ("timestamp".into(), ts),
                ("trdMatchID".into(), trd),
            ];
            match variant {
                0 => {
                    m.remove(4);
                }
                1 => {
                    m.remove(3);
                }
                2 => m.truncate(5),
                // A second `id`, another level's: simd-json reads the first.
                3 => m.insert(2, ("id".into(), ("8700000004".into(), false))),
                _ => {}
            }
            m.extend(extra);
            if ordered {
                let plain = m.iter().all(|(_, (_, p))| *p);
                let body: Vec<String> =
                    m.iter().map(|(k, (v, _))| format!("\"{k}\":{v}")).collect();
                Just((format!("{{{}}}", body.join(",")), plain)).boxed()
            } else {
                object(m).prop_map(Gen::member).boxed()
            }
        })
}

/// A table message: mostly `orderBookL2` changes, with the partial's members, near misses of
/// the table and action, and rows that are not objects.
fn message() -> impl Strategy<Value = Gen> {
    let table = prop_oneof![8 => Just(("orderBookL2", true)), 1 => Just(("orderBookL2_25", true)),
        2 => Just(("trade", true)), 1 => Just(("quote", false)), 1 => Just(("OrderBookL2", false))];
    let action = prop_oneof![4 => Just("update"), 2 => Just("insert"), 2 => Just("delete"),
        1 => Just("partial"), 1 => Just("replace")];
    let rows = proptest::collection::vec(
        prop_oneof![12 => row(), 1 => Just(s("XBTUSD")).prop_map(|(t, _)| (t, false))],
        0..5,
    );
    (table, action, rows, 0u8..8, ws()).prop_flat_map(
        |((table, known), action, rows, variant, w)| {
            (array(rows), Just((table, known, action, variant, w))).prop_flat_map(
                |(data, (table, known, action, variant, w))| {
                    let mut m: Vec<(String, (String, bool))> = vec![
                        ("table".into(), (format!("\"{table}\""), known)),
                        ("action".into(), s(action)),
                        ("data".into(), data.member()),
                    ];
                    match variant {
                        0 => m.push((
                            "filter".into(),
                            (format!("{{{w}\"symbol\":\"XBTUSD\"}}"), true),
                        )),
                        1 => m.push(("keys".into(), ("[\"symbol\",\"id\",\"side\"]".into(), true))),
                        2 => m.push((
                            "types".into(),
                            ("{\"id\":\"long\",\"price\":\"float\"}".into(), true),
                        )),
                        3 => m.push(("action".into(), (s(action).0, false))),
                        4 => {
                            // Without an action the adapter leaves the frame to simd-json.
                            m.remove(1);
                            m[0].1 .1 = false;
                        }
                        _ => {}
                    }
                    object(m)
                },
            )
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1500))]

    /// Runs of generated messages after a partial, on a dispatch path: both parsers agree on
    /// every one, and a message wholly in the subset is read by the scanner.
    #[test]
    fn generated_messages_parse_as_simd_json_does(
        msgs in proptest::collection::vec(message(), 1..8),
        kind in proptest::sample::select(KernelKind::ALL.to_vec()),
    ) {
        let Some(pair) = crate::pair(bitmex, kind) else { return Ok(()) };
        crate::generated_frames_agree(pair, &[PARTIAL.as_bytes()], &msgs, kind)?;
    }
}

//! The Hyperliquid scanner (`venue::scan::hyperliquid`) against simd-json's tape: every frame
//! of the bundled capture on every dispatch path this CPU has, generated `l2Book` and `trades`
//! messages with free key order, whitespace, number forms, nested members it skips and near
//! misses, and the frames it must leave to simd-json. The scanner must give the same result
//! and the same parsed output as simd-json, or fall back (and then it is simd-json's output by
//! construction).

use crate::common::gen::{array, object, s, Gen};
use crate::common::records;
use ladderfeed::book::InstrumentRegistry;
use ladderfeed::venue::hyperliquid::Hyperliquid;
use ladderfeed::venue::scan::KernelKind;
use proptest::prelude::*;

const CAPTURE: &str = "hyperliquid/hftbacktest_hyperliquid_btcusd_20250126.gz";

fn hyperliquid() -> Hyperliquid {
    Hyperliquid::new(InstrumentRegistry::with_builtins())
}

#[test]
fn every_bundled_frame_parses_as_simd_json_does_on_every_dispatch_path() {
    for kind in KernelKind::ALL {
        let Some(t) = crate::capture_agrees(hyperliquid, CAPTURE, kind, |_| true) else {
            continue;
        };
        // 46 books of 20 levels a side and 9 trade messages: every frame is scanned.
        assert_eq!((t.frames, t.hot, t.scanned, t.errors), (55, 55, 55, 0));
    }
}

#[test]
fn the_engine_publishes_the_same_on_the_capture() {
    let recs = records(&[CAPTURE]);
    let (scan, a) = crate::engines_agree(hyperliquid, &recs);
    assert!(!a.events.is_empty());
    assert_eq!(scan.stats().scanner_fallbacks, 0);
}

#[test]
fn control_and_near_misses_are_left_to_simd_json() {
    for kind in KernelKind::ALL {
        let Some(pair) = crate::pair(hyperliquid, kind) else { continue };
        crate::fallbacks_agree(
            pair,
            BOOK.as_bytes(),
            true,
            &[
                br#"{"channel":"subscriptionResponse","data":{"method":"subscribe","subscription":{"type":"l2Book","coin":"BTC"}}}"#,
                br#"{"channel":"pong"}"#,
                br#"{"channel":"error","data":"Invalid subscription"}"#,
                br#"{"channel":"l2Book","data":{"coin":"BTC","time":1,"levels":[[{"px":"105055.0","sz":"1","n":1.5}],[]]}}"#,
                br#"{"channel":"l2Book","data":{"coin":"BTC","time":1,"levels":[[{"px":"105055.0","sz":"1","n":1e400}],[]]}}"#,
                br#"{"channel":"l2Book","data":{"coin":"BTC","time":1,"levels":[[{"px":105055.0,"sz":"1","n":1}],[]]}}"#,
                br#"{"channel":"l2Book","data":{"coin":"BTC","time":1,"levels":[[{"px":"105055.0","n":1}],[]]}}"#,
                br#"{"channel":"l2Book","data":{"coin":"BTC","time":1,"levels":[[],[],[]]}}"#,
                br#"{"channel":"l2Book","data":{"coin":"BTC","time":1,"levels":[[]]}}"#,
                br#"{"channel":"l2Book","data":{"coin":"B\u0054C","time":1,"levels":[[],[]]}}"#,
                br#"{"channel":"l2Book","data":{"coin":"BTC","coin":"ETH","time":1,"levels":[[],[]]}}"#,
                br#"{"channel":"trades","data":{"coin":"BTC"}}"#,
                br#"{"channel":"trades","data":[{"coin":"BTC","side":"B","px":"105055.0","sz":"1","tid":-3,"time":1}]}"#,
                br#"{"channel":"trades","data":[{"coin":"BTC","side":"B","px":"105055.0","sz":"1","tid":3,"time":1}]}]"#,
            ],
            kind,
        );
    }
}

/// The book every generated run starts from (BTC's tick learned from it: 1).
const BOOK: &str = r#"{"channel":"l2Book","data":{"coin":"BTC","time":1737918843760,"levels":[[{"px":"105055.0","sz":"3.03622","n":5},{"px":"105054.0","sz":"0.1428","n":1}],[{"px":"105056.0","sz":"6.34472","n":13}]]}}"#;

/// An unsigned integer where the venue prints one: the plain forms, and forms simd-json reads
/// or refuses that the scanner leaves to it.
fn integer() -> impl Strategy<Value = (String, bool)> {
    prop_oneof![
        8 => (0u64..100_000).prop_map(|i| (i.to_string(), true)),
        1 => Just(("18446744073709551615".to_owned(), false)),
        1 => Just(("9999999999999999999".to_owned(), true)),
        1 => Just(("1.5".to_owned(), false)),
        1 => Just(("-2".to_owned(), false)),
        1 => Just(("1e400".to_owned(), false)),
        1 => Just(("012".to_owned(), false)),
        1 => Just(("\"17\"".to_owned(), true)),
        1 => Just(("\"x\"".to_owned(), true)),
        1 => Just(("null".to_owned(), false)),
    ]
}

/// A price or size: the capture's forms, and text the handler refuses alike.
fn decimal(base: u64) -> impl Strategy<Value = (String, bool)> {
    prop_oneof![
        8 => (0u64..50, 0u32..10).prop_map(move |(i, f)| (format!("\"{}.{f}\"", base + i), true)),
        2 => (1u64..100_000).prop_map(|i| (format!("\"0.{i:05}\""), true)),
        1 => Just(("\"abc\"".to_owned(), true)),
        1 => Just(("\"\"".to_owned(), true)),
        1 => Just(("105055.0".to_owned(), false)),
        1 => Just(("\"1\\u0030\"".to_owned(), false)),
    ]
}

/// A member the handlers do not read: a scalar or a nested value (read whole and skipped).
fn extra() -> impl Strategy<Value = (String, (String, bool))> {
    let value = prop_oneof![
        2 => Just(s("0xde477894bfb2b4ea")),
        1 => Just(("[\"0xe9ed\",\"0x6802\"]".to_owned(), true)),
        1 => Just(("{\"a\":[1,{\"b\":null}],\"c\":true}".to_owned(), true)),
        1 => Just(("[0.5]".to_owned(), false)),
        1 => Just(("tru".to_owned(), false)),
        1 => Just(("\"caf\u{e9}\"".to_owned(), false)),
    ];
    let key = prop_oneof![Just("hash"), Just("users"), Just("spread"), Just("pxx")];
    (key, value).prop_map(|(k, v)| (k.to_owned(), v))
}

/// One level object: `px`, `sz`, `n` (one of them sometimes missing or repeated) and maybe
/// an extra member, shuffled.
fn level(base: u64) -> impl Strategy<Value = (String, bool)> {
    (decimal(base), decimal(0), integer(), proptest::option::of(extra()), 0u8..14).prop_flat_map(
        |(px, sz, n, extra, variant)| {
            let mut m: Vec<(String, (String, bool))> =
                vec![("px".into(), px), ("sz".into(), sz), ("n".into(), n)];
            match variant {
                0 => {
                    m.remove(0);
                    m[0].1 .1 = false;
                }
                1 => {
                    m.remove(1);
                    m[0].1 .1 = false;
                }
                2 => m.push(("px".into(), ("\"3\"".into(), false))),
                _ => {}
            }
            m.extend(extra);
            object(m).prop_map(Gen::member)
        },
    )
}

/// An `l2Book` message: two sides of levels, mostly; near misses of the shape too.
fn book() -> impl Strategy<Value = Gen> {
    let side = |base| {
        proptest::collection::vec(
            prop_oneof![12 => level(base), 1 => Just(("[]".to_owned(), false))],
            0..6,
        )
        .prop_flat_map(array)
    };
    let coin =
        prop_oneof![8 => Just(s("BTC")), 1 => Just(s("ETH")), 1 => Just(("7".into(), false))];
    (side(105_000), side(105_060), coin, integer(), 0u8..10).prop_flat_map(
        |(bids, asks, coin, time, variant)| {
            let sides = match variant {
                0 => vec![bids.member()],
                1 => vec![bids.member(), asks.member(), ("[]".into(), true)],
                _ => vec![bids.member(), asks.member()],
            };
            let shape_ok = variant > 1;
            (array(sides), Just((coin, time, variant, shape_ok))).prop_flat_map(
                |(levels, (coin, time, variant, shape_ok))| {
                    let (levels, plain) = levels.member();
                    let mut m: Vec<(String, (String, bool))> = vec![
                        ("coin".into(), coin),
                        ("levels".into(), (levels, plain && shape_ok)),
                        ("time".into(), time),
                    ];
                    if variant == 2 {
                        m.remove(2);
                    }
                    (object(m), Just(variant)).prop_flat_map(|(data, variant)| {
                        let mut m: Vec<(String, (String, bool))> =
                            vec![("channel".into(), s("l2Book")), ("data".into(), data.member())];
                        if variant == 3 {
                            m.push(("channel".into(), (s("l2Book").0, false)));
                        }
                        object(m)
                    })
                },
            )
        },
    )
}

/// A `trades` message: trade objects with their members shuffled, some missing or repeated.
fn trades() -> impl Strategy<Value = Gen> {
    let side = prop_oneof![4 => Just(s("B")), 4 => Just(s("A")), 1 => Just(s("S")),
        1 => Just(("1".to_owned(), false))];
    let trade = (
        side,
        decimal(105_000),
        decimal(0),
        integer(),
        integer(),
        proptest::option::of(extra()),
        0u8..10,
    )
        .prop_flat_map(|(side, px, sz, tid, time, extra, variant)| {
            let mut m: Vec<(String, (String, bool))> = vec![
                ("coin".into(), s("BTC")),
                ("side".into(), side),
                ("px".into(), px),
                ("sz".into(), sz),
                ("tid".into(), tid),
                ("time".into(), time),
            ];
            match variant {
                0 => {
                    m.remove(3);
                }
                1 => m.push(("side".into(), (s("A").0, false))),
                2 => m[0] = ("coin".into(), s("DOGE")),
                _ => {}
            }
            m.extend(extra);
            object(m).prop_map(Gen::member)
        });
    proptest::collection::vec(
        prop_oneof![12 => trade, 1 => Just(("\"BTC\"".to_owned(), false))],
        0..4,
    )
    .prop_flat_map(array)
    .prop_flat_map(|data| {
        object(vec![("channel".into(), s("trades")), ("data".into(), data.member())])
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1500))]

    /// Runs of generated messages after a book, on a dispatch path: both parsers agree on
    /// every one, and a message wholly in the subset is read by the scanner.
    #[test]
    fn generated_messages_parse_as_simd_json_does(
        msgs in proptest::collection::vec(prop_oneof![book(), trades()], 1..6),
        kind in proptest::sample::select(KernelKind::ALL.to_vec()),
    ) {
        let Some(pair) = crate::pair(hyperliquid, kind) else { return Ok(()) };
        crate::generated_frames_agree(pair, &[BOOK.as_bytes()], &msgs, kind)?;
    }
}

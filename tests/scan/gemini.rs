//! The Gemini v2 scanner (`venue::scan::gemini`) against simd-json's tape: every frame of the
//! bundled v2 captures (2021, keys in the venue's order; 2026, keys sorted) on every dispatch
//! path this CPU has, generated `l2_updates` and `trade` messages with free key order,
//! whitespace, number forms, nested members it skips and near misses, and the frames it must
//! leave to simd-json. The scanner must give the same result and the same parsed output as
//! simd-json, or fall back (and then it is simd-json's output by construction).

use crate::common::gen::{array, object, s, Gen};
use crate::common::records;
use ladderfeed::book::InstrumentRegistry;
use ladderfeed::venue::gemini::GeminiV2;
use ladderfeed::venue::scan::KernelKind;
use proptest::prelude::*;

const CAPTURES: [&str; 2] =
    ["gemini/cryptofeed_GEMINI.ws.1.0", "gemini/cryptofeed-v3_GEMINI.jsonl.zst"];

fn gemini() -> GeminiV2 {
    GeminiV2::new(InstrumentRegistry::with_builtins())
}

/// The frames the scanner is for: `l2_updates` and `trade` messages.
fn hot(text: &str) -> bool {
    // A trade message's own `type` (a full book's `trades` hold objects of that type too).
    let trade = text.contains(r#""type":"trade""#) && !text.contains(r#""changes""#);
    text.contains(r#""type":"l2_updates""#) || trade
}

#[test]
fn every_bundled_frame_parses_as_simd_json_does_on_every_dispatch_path() {
    for kind in KernelKind::ALL {
        let Some(a) = crate::capture_agrees(gemini, CAPTURES[0], kind, hot) else { continue };
        // 655 book messages (10 of them full books) and 16 trades; the rest are heartbeats.
        assert_eq!((a.frames, a.hot, a.scanned, a.errors), (678, 671, 671, 0));
        // Keys sorted (`{"changes":…,"symbol":…,"type":"l2_updates"}`): all read alike.
        let b = crate::capture_agrees(gemini, CAPTURES[1], kind, hot).unwrap();
        assert_eq!((b.frames, b.hot, b.scanned, b.errors), (563, 561, 561, 0));
    }
}

#[test]
fn the_engine_publishes_the_same_on_the_captures() {
    // The heartbeats and subscription answers, and nothing else.
    for (capture, fallbacks) in CAPTURES.into_iter().zip([7, 2]) {
        let recs = records(&[capture]);
        let (scan, a) = crate::engines_agree(gemini, &recs);
        assert!(!a.events.is_empty());
        assert_eq!(scan.stats().scanner_fallbacks, fallbacks, "{capture}");
    }
}

#[test]
fn control_and_near_misses_are_left_to_simd_json() {
    for kind in KernelKind::ALL {
        let Some(pair) = crate::pair(gemini, kind) else { continue };
        crate::fallbacks_agree(
            pair,
            FULL.as_bytes(),
            true,
            &[
                br#"{"type":"heartbeat","timestamp":1624493670759,"sequence":1}"#,
                br#"{"type":"subscribe","subscriptions":[{"name":"l2","symbols":["BTCGBP"]}]}"#,
                br#"{"result":"error","reason":"InvalidJson","message":"bad"}"#,
                br#"{"type":"l2_updates","symbol":"BTCGBP","changes":[["buy","24084.23","0"]],"trades":[{"event_id":1.5}]}"#,
                br#"{"type":"l2_updates","symbol":"BTCGBP","changes":[["buy","24084.23","0"]],"auction_events":[{"p":1e400}]}"#,
                br#"{"type":"l2_updates","symbol":"BTCGBP","changes":[{"side":"buy"}]}"#,
                br#"{"type":"l2_updates","symbol":"BTCGBP","symbol":"ETHEUR","changes":[]}"#,
                br#"{"type":"l2_updates","symbol":"BTC\u0047BP","changes":[]}"#,
                br#"{"type":"trade","symbol":"BTCGBP","event_id":-1,"timestamp":1,"price":"24084.23","quantity":"1","side":"buy"}"#,
                br#"{"type":"trade","symbol":"BTCGBP","event_id":1,"timestamp":1,"price":24084.23,"quantity":"1","side":"buy"}"#,
                br#"{"type":"trade","symbol":"BTCGBP","event_id":1,"timestamp":1,"price":"24084.23","quantity":"1","side":"buy"}]"#,
            ],
            kind,
        );
    }
}

/// The full book every generated run starts from (BTCGBP's tick learned from it: 0.01).
const FULL: &str = r#"{"type":"l2_updates","symbol":"BTCGBP","changes":[["buy","24084.23","0.5"],["buy","24083.10","1.25"],["sell","24113.49","0.04"],["sell","24117.80","0.91"]],"trades":[{"type":"trade","symbol":"BTCGBP","event_id":45465785975,"timestamp":1624493651491,"price":"24100.53","quantity":"0.992143","side":"buy"}],"auction_events":[]}"#;

/// An unsigned integer where the venue prints one: the plain forms, and forms simd-json reads
/// or refuses that the scanner leaves to it.
fn integer() -> impl Strategy<Value = (String, bool)> {
    prop_oneof![
        8 => (0u64..1u64 << 50).prop_map(|i| (i.to_string(), true)),
        1 => Just(("18446744073709551615".to_owned(), false)),
        1 => Just(("1.5".to_owned(), false)),
        1 => Just(("-2".to_owned(), false)),
        1 => Just(("1e400".to_owned(), false)),
        1 => Just(("012".to_owned(), false)),
        1 => Just(("\"17\"".to_owned(), true)),
        1 => Just(("\"x\"".to_owned(), true)),
        1 => Just(("null".to_owned(), true)),
    ]
}

/// A price or quantity: the capture's forms, and text the handlers refuse alike.
fn decimal(base: u64) -> impl Strategy<Value = (String, bool)> {
    prop_oneof![
        8 => (0u64..50, 0u32..100).prop_map(move |(i, f)| (format!("\"{}.{f:02}\"", base + i), true)),
        2 => (1u64..100_000).prop_map(|i| (format!("\"0.{i:05}\""), true)),
        1 => Just(("\"0\"".to_owned(), true)),
        1 => Just(("\"abc\"".to_owned(), true)),
        1 => Just(("24084.23".to_owned(), false)),
        1 => Just(("\"1\\u0030\"".to_owned(), false)),
    ]
}

/// A member the handlers do not read: a scalar or a nested value (read whole and skipped).
fn extra() -> impl Strategy<Value = (String, (String, bool))> {
    let value = prop_oneof![
        2 => Just(("[]".to_owned(), true)),
        1 => Just(("[{\"auction_price\":\"24100.00\",\"time_ms\":1624493651491,\"a\":[null,true]}]".to_owned(), true)),
        1 => Just(("7".to_owned(), true)),
        1 => Just(("[0.5]".to_owned(), false)),
        1 => Just(("[1e400]".to_owned(), false)),
        1 => Just(("tru".to_owned(), false)),
        1 => Just(("\"caf\u{e9}\"".to_owned(), false)),
    ];
    let key =
        prop_oneof![Just("auction_events"), Just("tid"), Just("socket_sequence"), Just("Symbol")];
    (key, value).prop_map(|(k, v)| (k.to_owned(), v))
}

/// One change row `[side, price, quantity]`, sometimes short, long or not a row.
fn change() -> impl Strategy<Value = (String, bool)> {
    let side = prop_oneof![4 => Just("buy"), 4 => Just("sell"), 1 => Just("bid"), 1 => Just("up")];
    (side, decimal(24_060), decimal(0), 0u8..12).prop_map(|(side, (px, p1), (q, p2), v)| {
        let plain = p1 && p2;
        match v {
            0 => (format!("[\"{side}\",{px}]"), plain),
            1 => (format!("[\"{side}\",{px},{q},\"x\"]"), plain),
            2 => (format!("{{\"side\":\"{side}\"}}"), false),
            3 => (format!("[\"{side}\"]"), false),
            _ => (format!("[\"{side}\",{px},{q}]"), plain),
        }
    })
}

/// An `l2_updates` message: changes, sometimes the full book's `trades`, extra members.
fn update() -> impl Strategy<Value = Gen> {
    let symbol =
        prop_oneof![8 => Just(s("BTCGBP")), 1 => Just(s("ETHEUR")), 1 => Just(("7".into(), true))];
    (proptest::collection::vec(change(), 0..6), symbol, proptest::option::of(extra()), 0u8..12)
        .prop_flat_map(|(changes, symbol, extra, variant)| {
            (array(changes), Just((symbol, extra, variant))).prop_flat_map(
                |(changes, (symbol, extra, variant))| {
                    let mut m: Vec<(String, (String, bool))> = vec![
                        ("type".into(), s("l2_updates")),
                        ("symbol".into(), symbol),
                        ("changes".into(), changes.member()),
                    ];
                    match variant {
                        0 => m.push(("trades".into(), ("[]".into(), true))),
                        1 => m.push((
                            "trades".into(),
                            (
                                r#"[{"type":"trade","event_id":1,"price":"1","side":"buy"}]"#
                                    .into(),
                                true,
                            ),
                        )),
                        2 => m.push(("trades".into(), ("null".into(), true))),
                        3 => {
                            m.remove(2);
                        }
                        4 => m[2].1 = ("\"none\"".into(), true),
                        5 => m.push(("symbol".into(), (s("BTCGBP").0, false))),
                        _ => {}
                    }
                    m.extend(extra);
                    object(m)
                },
            )
        })
}

/// A `trade` message with its members shuffled, some missing or repeated.
fn trade() -> impl Strategy<Value = Gen> {
    let side = prop_oneof![4 => Just(s("buy")), 4 => Just(s("sell")), 1 => Just(s("B")),
        1 => Just(("1".to_owned(), true))];
    (
        side,
        decimal(24_060),
        decimal(0),
        integer(),
        integer(),
        proptest::option::of(extra()),
        0u8..10,
    )
        .prop_flat_map(|(side, px, q, id, ts, extra, variant)| {
            let mut m: Vec<(String, (String, bool))> = vec![
                ("type".into(), s("trade")),
                ("symbol".into(), s("BTCGBP")),
                ("event_id".into(), id),
                ("timestamp".into(), ts),
                ("price".into(), px),
                ("quantity".into(), q),
                ("side".into(), side),
            ];
            match variant {
                0 => {
                    m.remove(5);
                }
                1 => m.push(("side".into(), (s("sell").0, false))),
                2 => m[1] = ("symbol".into(), s("DOGEUSD")),
                _ => {}
            }
            m.extend(extra);
            object(m)
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1500))]

    /// Runs of generated messages after a full book, on a dispatch path: both parsers agree
    /// on every one, and a message wholly in the subset is read by the scanner.
    #[test]
    fn generated_messages_parse_as_simd_json_does(
        msgs in proptest::collection::vec(prop_oneof![update(), trade()], 1..6),
        kind in proptest::sample::select(KernelKind::ALL.to_vec()),
    ) {
        let Some(pair) = crate::pair(gemini, kind) else { return Ok(()) };
        crate::generated_frames_agree(pair, &[FULL.as_bytes()], &msgs, kind)?;
    }
}

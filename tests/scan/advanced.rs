//! The Coinbase Advanced Trade scanner (`venue::scan::advanced`) against simd-json's tape:
//! every frame of the bundled capture on every dispatch path this CPU has, generated `l2_data`
//! messages with free key order, whitespace, number forms, nested members it skips and near
//! misses, and the frames it must leave to simd-json. The scanner must give the same result
//! and the same parsed output as simd-json, or fall back (and then it is simd-json's output by
//! construction).

use crate::common::gen::{array, object, s, Gen};
use crate::common::records;
use ladderfeed::book::InstrumentRegistry;
use ladderfeed::venue::coinbase::CoinbaseAdvanced;
use ladderfeed::venue::scan::KernelKind;
use proptest::prelude::*;

const CAPTURE: &str = "coinbase/cryptofeed-v3_COINBASE.jsonl.zst";

fn advanced() -> CoinbaseAdvanced {
    CoinbaseAdvanced::new(InstrumentRegistry::with_builtins())
}

#[test]
fn every_bundled_frame_parses_as_simd_json_does_on_every_dispatch_path() {
    for kind in KernelKind::ALL {
        let Some(t) = crate::capture_agrees(advanced, CAPTURE, kind, |text| {
            text.contains(r#""channel":"l2_data""#)
        }) else {
            continue;
        };
        // 775 book messages (2 snapshots of tens of thousands of levels); the rest are trades,
        // tickers, candles, heartbeats and subscription answers.
        assert_eq!((t.frames, t.hot, t.scanned, t.errors), (1_030, 775, 775, 0));
    }
}

#[test]
fn the_engine_publishes_the_same_on_the_capture() {
    let recs = records(&[CAPTURE]);
    let (scan, a) = crate::engines_agree(advanced, &recs);
    assert!(!a.events.is_empty());
    // The other channels' frames, and nothing else.
    assert_eq!(scan.stats().scanner_fallbacks, 255);
}

#[test]
fn other_channels_and_near_misses_are_left_to_simd_json() {
    for kind in KernelKind::ALL {
        let Some(pair) = crate::pair(advanced, kind) else { continue };
        crate::fallbacks_agree(
            pair,
            SNAPSHOT.as_bytes(),
            true,
            &[
                br#"{"channel":"heartbeats","client_id":"","timestamp":"2026-08-09T21:05:49.5Z","sequence_num":2,"events":[{"current_time":"x","heartbeat_counter":3}]}"#,
                br#"{"channel":"market_trades","client_id":"","timestamp":"2026-08-09T21:05:49.5Z","sequence_num":3,"events":[{"type":"update","trades":[{"product_id":"BTC-USD","trade_id":"1","price":"65100.00","size":"0.1","time":"2026-08-09T21:05:49.4Z","side":"BUY"}]}]}"#,
                br#"{"type":"error","message":"failure"}"#,
                br#"{"channel":"l2_data","timestamp":"t","sequence_num":4.0,"events":[]}"#,
                br#"{"channel":"l2_data","timestamp":"t","sequence_num":5,"events":[{"type":"update","product_id":"BTC-USD","updates":[{"side":"bid","event_time":1e400,"price_level":"65000.00","new_quantity":"1"}]}]}"#,
                br#"{"channel":"l2_data","timestamp":"t","sequence_num":6,"events":[{"type":"update","product_id":"BTC-USD","updates":[{"side":"bid","price_level":65000.00,"new_quantity":"1"}]}]}"#,
                br#"{"channel":"l2_data","timestamp":"t","sequence_num":7,"events":[{"type":"update","product_id":"B\u0054C-USD","updates":[]}]}"#,
                br#"{"channel":"l2_data","timestamp":"t","sequence_num":8,"events":[{"type":"update","product_id":"BTC-USD","updates":[]}]}]"#,
            ],
            kind,
        );
    }
}

/// The book every generated run starts from (sequence 1; BTC-USD's tick learned from it).
const SNAPSHOT: &str = r#"{"channel":"l2_data","client_id":"","timestamp":"2026-08-09T21:05:48.2Z","sequence_num":1,"events":[{"type":"snapshot","product_id":"BTC-USD","updates":[{"side":"bid","event_time":"2026-08-09T21:05:48.1Z","price_level":"65086.17","new_quantity":"0.5"},{"side":"offer","event_time":"2026-08-09T21:05:48.1Z","price_level":"65086.18","new_quantity":"1.25"}]}]}"#;

/// A `sequence_num`: mostly the next ones (some repeated or skipped: stale, gaps), and forms
/// outside the subset.
fn seq() -> impl Strategy<Value = (String, bool)> {
    prop_oneof![
        8 => (2u64..12).prop_map(|i| (i.to_string(), true)),
        1 => (2u64..12).prop_map(|i| (format!("\"{i}\""), true)),
        1 => Just(("\"x\"".to_owned(), true)),
        1 => Just(("2.5".to_owned(), false)),
        1 => Just(("-3".to_owned(), false)),
        1 => Just(("null".to_owned(), false)),
    ]
}

/// A price or size text, and forms the handler or the scanner refuses.
fn decimal(base: u64) -> impl Strategy<Value = (String, bool)> {
    prop_oneof![
        8 => (0u64..50, 0u32..100).prop_map(move |(i, f)| (format!("\"{}.{f:02}\"", base + i), true)),
        2 => (0u64..100_000).prop_map(|i| (format!("\"0.{i:05}\""), true)),
        1 => Just(("\"abc\"".to_owned(), true)),
        1 => Just(("65000.5".to_owned(), false)),
        1 => Just(("\"1\\u0030\"".to_owned(), false)),
    ]
}

/// A member the handlers do not read: a scalar or a nested value (read whole and skipped).
fn extra() -> impl Strategy<Value = (String, (String, bool))> {
    let value = prop_oneof![
        2 => Just(s("2026-08-09T21:05:48.407682Z")),
        1 => Just(("{\"a\":[1,{\"b\":null}],\"c\":true}".to_owned(), true)),
        1 => Just(("[0.5]".to_owned(), false)),
        1 => Just(("[1e400]".to_owned(), false)),
        1 => Just(("tru".to_owned(), false)),
    ];
    let key = prop_oneof![Just("event_time"), Just("client_id"), Just("x"), Just("Side")];
    (key, value).prop_map(|(k, v)| (k.to_owned(), v))
}

/// One update object, members shuffled, one sometimes missing or repeated.
fn update() -> impl Strategy<Value = (String, bool)> {
    let side = prop_oneof![4 => Just(s("bid")), 4 => Just(s("offer")), 1 => Just(s("ask")),
        1 => Just(s("buy")), 1 => Just(("1".to_owned(), false))];
    (side, decimal(65_060), decimal(0), proptest::option::of(extra()), 0u8..12).prop_flat_map(
        |(side, px, qty, extra, variant)| {
            let mut m: Vec<(String, (String, bool))> = vec![
                ("side".into(), side),
                ("price_level".into(), px),
                ("new_quantity".into(), qty),
            ];
            match variant {
                0 => {
                    m.remove(2);
                }
                1 => m.push(("side".into(), (s("bid").0, false))),
                _ => {}
            }
            m.extend(extra);
            object(m).prop_map(Gen::member)
        },
    )
}

/// An `l2_data` message: one event (sometimes two, or none) of updates.
fn message() -> impl Strategy<Value = Gen> {
    let kind = prop_oneof![8 => Just(s("update")), 1 => Just(s("snapshot")), 1 => Just(s("trade"))];
    let product = prop_oneof![8 => Just(s("BTC-USD")), 1 => Just(s("ETH-USD"))];
    let event = (proptest::collection::vec(update(), 0..5), kind, product, 0u8..10).prop_flat_map(
        |(updates, kind, product, variant)| {
            (array(updates), Just((kind, product, variant))).prop_flat_map(
                |(updates, (kind, product, variant))| {
                    let mut m: Vec<(String, (String, bool))> = vec![
                        ("type".into(), kind),
                        ("product_id".into(), product),
                        ("updates".into(), updates.member()),
                    ];
                    match variant {
                        0 => {
                            m.remove(2);
                        }
                        1 => m[2].1 = ("\"none\"".into(), false),
                        _ => {}
                    }
                    object(m).prop_map(Gen::member)
                },
            )
        },
    );
    (proptest::collection::vec(event, 0..3), seq(), proptest::option::of(extra()), 0u8..10)
        .prop_flat_map(|(events, seq, extra, variant)| {
            (array(events), Just((seq, extra, variant))).prop_flat_map(
                |(events, (seq, extra, variant))| {
                    let mut m: Vec<(String, (String, bool))> = vec![
                        ("channel".into(), s("l2_data")),
                        ("timestamp".into(), s("2026-08-09T21:05:48.507547362Z")),
                        ("sequence_num".into(), seq),
                        ("events".into(), events.member()),
                    ];
                    match variant {
                        0 => {
                            m.remove(1);
                        }
                        1 => m[1].1 = ("17".into(), false),
                        2 => {
                            m.remove(2);
                        }
                        _ => {}
                    }
                    m.extend(extra);
                    object(m)
                },
            )
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1500))]

    /// Runs of generated messages after a snapshot, on a dispatch path: both parsers agree on
    /// every one (sequence gaps and stale messages included), and a message wholly in the
    /// subset is read by the scanner.
    #[test]
    fn generated_messages_parse_as_simd_json_does(
        msgs in proptest::collection::vec(message(), 1..8),
        kind in proptest::sample::select(KernelKind::ALL.to_vec()),
    ) {
        let Some(pair) = crate::pair(advanced, kind) else { return Ok(()) };
        crate::generated_frames_agree(pair, &[SNAPSHOT.as_bytes()], &msgs, kind)?;
    }
}

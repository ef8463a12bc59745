//! The Kraken Futures `book` scanner (`venue::scan::flat`) and its walk over the feeds the
//! adapter ignores (`flat::ignored_feed`) against simd-json's tape: every frame of the bundled
//! capture, generated `book` messages with free key order, whitespace, number forms and broken
//! fields, and generated frames of ignored feeds with nested values of every kind. The scanner must give the same result and the
//! same parsed output as simd-json, or fall back (and then it is simd-json's output by
//! construction).

use crate::common::gen::{array, object, s, Gen};
use crate::common::{records, same_frame};
use ladderfeed::book::InstrumentRegistry;
use ladderfeed::capture::RecordKind;
use ladderfeed::venue::krakenfutures::KrakenFutures;
use ladderfeed::venue::scan::{Kernel, KernelKind};
use ladderfeed::venue::{Adapter, Parser, ScanControls};
use proptest::prelude::*;

const CAPTURE: &str = "krakenfutures/cryptofeed_KRAKEN_FUTURES.ws.1.0";

fn pair() -> (KrakenFutures, KrakenFutures) {
    let mut scan = KrakenFutures::new(InstrumentRegistry::with_builtins());
    scan.set_parser(Parser::Scan);
    let mut tape = KrakenFutures::new(InstrumentRegistry::with_builtins());
    tape.set_parser(Parser::SimdJson);
    (scan, tape)
}

#[test]
fn every_bundled_frame_parses_as_simd_json_does() {
    let recs = records(&[CAPTURE]);
    let (mut scan, mut tape) = pair();
    let (mut frames, mut scanned, mut history) = (0usize, 0usize, 0usize);
    const HISTORY: &[u8] = br#"{"feed":"trade_snapshot""#;
    for r in &recs {
        match r.kind {
            RecordKind::Recv => {
                frames += 1;
                let what = format!("{CAPTURE} frame {frames}");
                let (read, _) = same_frame(&mut scan, &mut tape, &r.payload, &what);
                scanned += usize::from(read);
                history += usize::from(read && r.payload.starts_with(HISTORY));
            }
            RecordKind::Connect => {
                scan.reset_connection();
                tape.reset_connection();
            }
            _ => {}
        }
    }
    eprintln!("{CAPTURE}: {frames} frames, {scanned} scanned, {} fell back", frames - scanned);
    // Its 10 `trade_snapshot` frames (14% of its bytes, dropped unread) are read whole.
    assert_eq!(history, 10, "trade_snapshot frames scanned");
    // 7,025 of the capture's frames are one-level `book` messages.
    assert!(scanned >= 7_000, "only {scanned} of {frames} frames scanned");
}

/// A price or size: the capture's forms, other valid JSON numbers, and forms that are errors
/// for both parsers or outside the subset.
fn number() -> impl Strategy<Value = (String, bool)> {
    prop_oneof![
        8 => (1u32..3_000, 0u32..100).prop_map(|(i, f)| (format!("{i}.{f:02}"), true)),
        2 => (0u32..1_000_000).prop_map(|i| (format!("{i}.0"), true)),
        2 => (0u32..1_000_000).prop_map(|i| (i.to_string(), true)),
        1 => Just(("0.0".to_owned(), true)),
        1 => Just(("5e-05".to_owned(), true)),
        1 => Just(("1.5E+3".to_owned(), true)),
        1 => Just(("-1.5".to_owned(), true)),
        1 => Just(("\"2003.05\"".to_owned(), true)),
        1 => Just(("\"\"".to_owned(), true)),
        1 => Just(("1.0000000000000000000001".to_owned(), true)),
        1 => Just(("01.5".to_owned(), false)),
        1 => Just(("1.".to_owned(), false)),
        1 => Just(("1.2.3".to_owned(), false)),
        1 => Just(("null".to_owned(), false)),
        1 => Just(("true".to_owned(), false)),
        1 => Just(("[1.5]".to_owned(), false)),
        1 => Just(("\"\\u0031.5\"".to_owned(), false)),
    ]
}

/// A `seq` or timestamp: plain integers, and quoted, negative, fractional, exponent and
/// too-long forms.
fn integer() -> impl Strategy<Value = (String, bool)> {
    prop_oneof![
        8 => (1u64..40).prop_map(|i| (i.to_string(), true)),
        2 => (1_626_994_927_000u64..1_626_994_999_000).prop_map(|i| (i.to_string(), true)),
        1 => (1u64..40).prop_map(|i| (format!("\"{i}\""), true)),
        1 => Just(("18446744073709551616".to_owned(), true)),
        1 => Just(("-5".to_owned(), true)),
        1 => Just(("5.0".to_owned(), true)),
        1 => Just(("5e3".to_owned(), true)),
        1 => Just(("05".to_owned(), false)),
        1 => Just(("null".to_owned(), false)),
    ]
}

/// A `book` message (or a near miss: another feed, an `event` key, a missing or extra field),
/// its members shuffled, with whitespace.
fn message() -> impl Strategy<Value = Gen> {
    let feed = prop_oneof![8 => Just(s("book")), 1 => Just(s("trade")), 1 => Just(s("BOOK"))];
    let product = prop_oneof![8 => Just(s("PI_ETHUSD")), 1 => Just(s("pi_ethusd")),
        1 => Just(s("PI_XBTUSD"))];
    let side = prop_oneof![4 => Just(s("buy")), 4 => Just(s("sell")), 1 => Just(s("up")),
        1 => Just(("1".to_owned(), true))];
    (feed, product, side, integer(), number(), number(), integer(), 0u8..8).prop_flat_map(
        |(feed, product, side, seq, px, qty, ts, variant)| {
            let mut m: Vec<(String, (String, bool))> = vec![
                ("feed".into(), feed),
                ("product_id".into(), product),
                ("side".into(), side),
                ("seq".into(), seq),
                ("price".into(), px),
                ("qty".into(), qty),
                ("timestamp".into(), ts),
            ];
            match variant {
                0 => {
                    m.remove(4);
                }
                1 => m.push(("event".into(), s("alert"))),
                2 => m.push(("extra".into(), ("1".into(), true))),
                3 => m.push(("seq".into(), ("7".into(), false))),
                _ => {}
            }
            object(m)
        },
    )
}

/// A value of any JSON kind nested up to three deep, marked whether it lies in the subset
/// the walk over ignored feeds reads (numbers in JSON's grammar, strings without escapes,
/// `true`, `false`, `null`); near misses among the leaves.
fn nested() -> impl Strategy<Value = (String, bool)> {
    let leaf = prop_oneof![
        4 => number().prop_map(|(t, plain)| {
            // `number()`'s literals and arrays are outside the flat subset only.
            let walkable = plain || matches!(t.as_str(), "null" | "true" | "[1.5]");
            (t, walkable)
        }),
        2 => Just(s("4d4b8a40-9b3a-4e1b-8a5f-0c6d2b1e9f77")),
        1 => Just(("false".to_owned(), true)),
        1 => Just((r#""a\\b""#.to_owned(), false)),
        1 => Just((r#""caf\u00e9""#.to_owned(), false)),
        1 => Just(("nul".to_owned(), false)),
        1 => Just(("-".to_owned(), false)),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4)
                .prop_flat_map(array)
                .prop_map(Gen::member),
            proptest::collection::vec((0u8..6, inner), 0..4)
                .prop_map(|ms| ms.into_iter().map(|(k, v)| (format!("k{k}"), v)).collect())
                .prop_flat_map(object)
                .prop_map(Gen::member),
        ]
    })
}

/// A frame of a feed the adapter ignores (mostly `trade_snapshot`, with trades of any
/// shape), or a near miss: a feed it reads, an `event` member, a second `feed`, a `feed`
/// that is not a string, none at all.
fn ignored_message() -> impl Strategy<Value = (Gen, bool)> {
    let feed = prop_oneof![6 => Just(s("trade_snapshot")), 1 => Just(s("ticker_lite")),
        1 => Just(s("heartbeat")), 1 => Just(s("book_snapshot")), 1 => Just(s("TRADE_SNAPSHOT")),
        1 => Just(("7".to_owned(), true))];
    (feed, proptest::collection::vec(nested(), 0..4), 0u8..8).prop_flat_map(
        |(feed, trades, variant)| {
            let ignored = [r#""trade_snapshot""#, r#""ticker_lite""#, r#""heartbeat""#]
                .contains(&feed.0.as_str());
            let mut m = vec![("feed".to_owned(), feed), ("product_id".to_owned(), s("PI_XBTUSD"))];
            match variant {
                0 => m.push(("event".into(), s("alert"))),
                1 => m.push(("feed".into(), s("trade_snapshot"))),
                2 => {
                    m.remove(0);
                }
                _ => {}
            }
            let ignored = ignored && variant > 2;
            (array(trades), Just(m))
                .prop_flat_map(|(trades, mut m)| {
                    m.push(("trades".to_owned(), trades.member()));
                    object(m)
                })
                .prop_map(move |g| (g, ignored))
        },
    )
}

const SNAPSHOT: &[u8] = br#"{"feed":"book_snapshot","product_id":"PI_ETHUSD","timestamp":1626994925378,"seq":0,"bids":[{"price":2003.9,"qty":4387.0}],"asks":[{"price":2004.6,"qty":600.0}]}"#;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// A run of generated messages after a snapshot: both parsers agree on every one, and a
    /// message wholly in the subset is read by the scanner.
    #[test]
    fn generated_book_messages_parse_as_simd_json_does(msgs in proptest::collection::vec(message(), 1..12)) {
        let (mut scan, mut tape) = pair();
        let (_, snapshot) = same_frame(&mut scan, &mut tape, SNAPSHOT, "snapshot");
        prop_assert_eq!(snapshot, Ok(()));
        for g in &msgs {
            let (read, _) = same_frame(&mut scan, &mut tape, g.text.as_bytes(), "generated");
            let book = g.text.contains("\"feed\"") && !g.text.contains("\"event\"");
            if g.plain && book && g.text.contains("\"book\"") {
                prop_assert!(read, "fell back on {}", g.text);
            }
        }
    }

    /// Generated frames of ignored feeds, nested values of every kind: both parsers agree
    /// on every one, and one wholly in the walk's subset is read by the scanner.
    #[test]
    fn generated_ignored_feeds_parse_as_simd_json_does(
        msgs in proptest::collection::vec(ignored_message(), 1..6),
        kind in proptest::sample::select(KernelKind::ALL.to_vec()),
    ) {
        let Some(kernel) = Kernel::forced(kind) else { return Ok(()) };
        let (mut scan, mut tape) = pair();
        scan.set_scan_kernel(kernel);
        for (g, ignored) in &msgs {
            let (read, r) = same_frame(&mut scan, &mut tape, g.text.as_bytes(), "generated");
            if g.plain && *ignored {
                prop_assert!(read, "fell back on {}", g.text);
                prop_assert_eq!(r, Ok(()));
            }
            if !*ignored {
                prop_assert!(!read, "read {}", g.text);
            }
        }
    }
}

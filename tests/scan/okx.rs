//! The OKX scanner (`venue::scan::okx`) against simd-json's tape: every frame of every bundled
//! OKX capture with every dispatch path this CPU has, generated book and trade pushes with free
//! key order (at every level), whitespace and number forms, and the frames it must leave to
//! simd-json. The scanner must give the same result and the same parsed output as simd-json,
//! or fall back (and then it is simd-json's output by construction).

use crate::common::gen::{array, object, s, Gen};
use crate::common::{records, same_frame};
use ladderfeed::book::InstrumentRegistry;
use ladderfeed::capture::RecordKind;
use ladderfeed::event::Bbo;
use ladderfeed::venue::okx::Okx;
use ladderfeed::venue::scan::KernelKind;
use ladderfeed::venue::Adapter;
use proptest::prelude::*;

/// The bundled OKX captures.
const CAPTURES: [&str; 1] = ["okx/cryptofeed_OKX.ws.1.0"];

fn okx() -> Okx {
    Okx::new(InstrumentRegistry::with_builtins())
}

#[test]
fn every_bundled_frame_parses_as_simd_json_does_on_every_dispatch_path() {
    for file in CAPTURES {
        for kind in KernelKind::ALL {
            let Some(t) = crate::capture_agrees(okx, file, kind, |text| {
                ["books", "trades", "tickers"]
                    .iter()
                    .any(|c| text.contains(&format!(r#""channel":"{c}""#)))
                    && !text.contains(r#""event""#)
            }) else {
                continue;
            };
            // Every book, trade and ticker push is scanned, and the pongs; nothing else.
            let pongs = crate::common::records(&[file])
                .iter()
                .filter(|r| r.kind == RecordKind::Recv && r.payload == b"pong")
                .count();
            assert!(t.hot > 0 && t.scanned == t.hot + pongs, "{file}: {} scanned", t.scanned);
        }
    }
}

#[test]
fn the_engine_counts_the_frames_left_to_simd_json() {
    let recs = records(&[CAPTURES[0]]);
    let (scan, a) = crate::engines_agree(okx, &recs);
    let fallbacks = scan.stats().scanner_fallbacks;
    // Everything but the book, trade and ticker pushes: the subscription answers.
    assert!(fallbacks > 0 && (fallbacks as usize) < a.frames / 2, "{fallbacks} of {}", a.frames);
}

/// A decimal string: the capture's forms, forms that are errors for both parsers, and forms
/// outside the subset (escapes, non-ASCII, a bare number).
fn decimal() -> impl Strategy<Value = (String, bool)> {
    prop_oneof![
        8 => (29_000u32..31_000, 0u32..10).prop_map(|(i, d)| (format!("\"{i}.{d}\""), true)),
        2 => (29_000u32..31_000).prop_map(|i| (format!("\"{i}\""), true)),
        1 => Just(("\"30000.05\"".to_owned(), true)),
        1 => Just(("\"3.0e4\"".to_owned(), true)),
        1 => Just(("\"-1\"".to_owned(), true)),
        1 => Just(("\"\"".to_owned(), true)),
        1 => Just(("\"\\u0033\"".to_owned(), false)),
        1 => Just(("\"3\u{e9}\"".to_owned(), false)),
        1 => Just(("30000.5".to_owned(), false)),
    ]
}

/// A size string: whole contracts mostly.
fn size() -> impl Strategy<Value = (String, bool)> {
    prop_oneof![
        8 => (0u32..1_000).prop_map(|i| (format!("\"{i}\""), true)),
        1 => Just(("\"1.5\"".to_owned(), true)),
        1 => Just(("\"x\"".to_owned(), true)),
        1 => Just(("7".to_owned(), false)),
    ]
}

/// A small integer as OKX's string fields carry them (`"0"`, `"1"`: liquidated orders and
/// order count).
fn count() -> impl Strategy<Value = (String, bool)> {
    prop_oneof![8 => (0u32..5).prop_map(|i| (format!("\"{i}\""), true)),
        1 => Just(("0".to_owned(), false))]
}

/// One level: price and size, and mostly the two counts after them.
fn level() -> impl Strategy<Value = (String, bool)> {
    (decimal(), size(), count(), count(), 0u8..10).prop_flat_map(|(px, sz, a, b, width)| {
        let items = match width {
            0 => vec![px, sz],
            1 => vec![px, sz, a],
            2 => vec![px, sz, a, b.clone(), (b.0, false)],
            3 => vec![(px.0, false)],
            _ => vec![px, sz, a, b],
        };
        // A level of one element, or of five, is not in the subset.
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
    ]
}

/// A signed integer (`checksum`, `seqId`, `prevSeqId`): the plain forms, quoted ones,
/// out-of-range ones, and forms outside the subset.
fn integer() -> impl Strategy<Value = (String, bool)> {
    prop_oneof![
        6 => (-2_147_483_648i64..2_147_483_648).prop_map(|i| (i.to_string(), true)),
        3 => (0i64..40).prop_map(|i| (i.to_string(), true)),
        1 => Just(("-1".to_owned(), true)),
        1 => Just(("0".to_owned(), true)),
        1 => (-40i64..40).prop_map(|i| (format!("\"{i}\""), true)),
        1 => Just(("99999999999".to_owned(), true)),
        1 => Just(("9223372036854775807".to_owned(), true)),
        1 => Just(("-9223372036854775807".to_owned(), true)),
        1 => Just(("9999999999999999999".to_owned(), true)),
        1 => Just(("null".to_owned(), true)),
        1 => Just(("true".to_owned(), true)),
        1 => Just(("-0".to_owned(), false)),
        1 => Just(("1.0".to_owned(), false)),
        1 => Just(("5e3".to_owned(), false)),
        1 => Just(("-05".to_owned(), false)),
        1 => Just(("18446744073709551616".to_owned(), false)),
    ]
}

/// A millisecond time: a string of digits as OKX sends it, or another form.
fn millis() -> impl Strategy<Value = (String, bool)> {
    prop_oneof![
        8 => (1_652_459_225_000u64..1_652_459_299_000).prop_map(|t| (format!("\"{t}\""), true)),
        1 => (1_652_459_225_000u64..1_652_459_299_000).prop_map(|t| (t.to_string(), true)),
        1 => Just(("\"\"".to_owned(), true)),
        1 => Just(("1.5".to_owned(), false)),
    ]
}

/// One `data` entry of a book push.
fn book_entry() -> impl Strategy<Value = (String, bool)> {
    (levels(), levels(), millis(), integer(), integer(), integer(), 0u8..12).prop_flat_map(
        |(asks, bids, ts, checksum, seq, prev, variant)| {
            let mut m = vec![
                ("asks".to_owned(), asks),
                ("bids".to_owned(), bids),
                ("ts".to_owned(), ts),
                ("checksum".to_owned(), checksum),
                ("seqId".to_owned(), seq),
                ("prevSeqId".to_owned(), prev),
            ];
            match variant {
                0 => drop(m.remove(3)),
                1 => drop(m.remove(4)),
                2 => m.push(("instId".to_owned(), s("BTC-USDT"))),
                3 => m.push(("extra".to_owned(), ("{\"a\":1}".to_owned(), false))),
                4 => m.push(("ts".to_owned(), ("\"1\"".to_owned(), false))),
                5 => m.truncate(1),
                _ => {}
            }
            object(m).prop_map(|g| g.member())
        },
    )
}

/// One `data` entry of a trade push.
fn trade_entry() -> impl Strategy<Value = (String, bool)> {
    let side = prop_oneof![8 => Just(s("buy")), 8 => Just(s("sell")), 1 => Just(s("both")),
        1 => Just(("1".to_owned(), true))];
    let id = prop_oneof![8 => (1u64..1_000_000_000).prop_map(|i| (format!("\"{i}\""), true)),
        1 => Just(("7".to_owned(), true)), 1 => Just(("\"x\"".to_owned(), true))];
    (decimal(), size(), side, id, millis(), 0u8..10).prop_flat_map(
        |(px, sz, side, id, ts, variant)| {
            let mut m = vec![
                ("instId".to_owned(), s("BTC-USDT")),
                ("tradeId".to_owned(), id),
                ("px".to_owned(), px),
                ("sz".to_owned(), sz),
                ("side".to_owned(), side),
                ("ts".to_owned(), ts),
            ];
            match variant {
                0 => drop(m.remove(2)),
                1 => drop(m.remove(5)),
                2 => m.push(("count".to_owned(), s("3"))),
                3 => m.push(("source".to_owned(), ("0".to_owned(), true))),
                4 => m.push(("px".to_owned(), ("\"1\"".to_owned(), false))),
                _ => {}
            }
            object(m).prop_map(|g| g.member())
        },
    )
}

/// One `data` entry of a `tickers` push: the venue's best bid and ask (`""`: an empty side).
fn ticker_entry() -> impl Strategy<Value = (String, bool)> {
    (decimal(), size(), decimal(), size(), millis(), 0u8..10).prop_flat_map(
        |(bid_px, bid_sz, ask_px, ask_sz, ts, variant)| {
            let mut m = vec![
                ("instType".to_owned(), s("SPOT")),
                ("instId".to_owned(), s("BTC-USDT")),
                ("last".to_owned(), s("30000.1")),
                ("bidPx".to_owned(), bid_px),
                ("bidSz".to_owned(), bid_sz),
                ("askPx".to_owned(), ask_px),
                ("askSz".to_owned(), ask_sz),
                ("ts".to_owned(), ts),
            ];
            match variant {
                0 => drop(m.remove(3)),
                1 => drop(m.remove(6)),
                2 => m.push(("bidPx".to_owned(), ("\"1\"".to_owned(), false))),
                3 => m.push(("vol24h".to_owned(), ("15".to_owned(), true))),
                4 => m[4].1 = ("4".to_owned(), true),
                _ => {}
            }
            object(m).prop_map(|g| g.member())
        },
    )
}

/// `data`: mostly one entry; up to four are read, more are left to simd-json.
fn data(entry: BoxedStrategy<(String, bool)>) -> impl Strategy<Value = (String, bool)> {
    prop_oneof![
        12 => proptest::collection::vec(entry.clone(), 1..=1),
        2 => proptest::collection::vec(entry.clone(), 0..=4),
        1 => proptest::collection::vec(entry, 5..=6)
            .prop_map(|mut v| { v[0].1 = false; v }),
    ]
    .prop_flat_map(|entries| array(entries).prop_map(|g| g.member()))
}

/// A book or trade push (or a near miss: another channel, a control frame, a missing or
/// doubled member, an `arg` of another shape), members shuffled at every level.
fn frame() -> impl Strategy<Value = Gen> {
    let book_channel = prop_oneof![
        6 => Just(s("books")),
        1 => Just(s("books-l2-tbt")),
        1 => Just(s("books50-l2-tbt")),
        1 => Just(s("books5")),
        1 => Just(s("bbo-tbt")),
        1 => Just(s("tickers")),
    ];
    let trade_channel = prop_oneof![6 => Just(s("trades")), 1 => Just(s("trades-all"))];
    let inst = prop_oneof![8 => Just(s("BTC-USDT")), 1 => Just(s("ETH-USDT")),
        1 => Just(("\"BTC\\u002dUSDT\"".to_owned(), false))];
    let action = prop_oneof![
        4 => Just(Some(s("update"))),
        2 => Just(Some(s("snapshot"))),
        1 => Just(None),
        1 => Just(Some(("\"partial\"".to_owned(), false))),
        1 => Just(Some(("1".to_owned(), false))),
    ];
    let book = (book_channel, action, data(book_entry().boxed()));
    let trade = (trade_channel, Just(None), data(trade_entry().boxed()));
    let ticker = (Just(s("tickers")), Just(None), data(ticker_entry().boxed()));
    (prop_oneof![3 => book, 1 => trade, 1 => ticker], inst, 0u8..16).prop_flat_map(
        |((channel, action, data), inst, variant)| {
            let mut arg = vec![("channel".to_owned(), channel), ("instId".to_owned(), inst)];
            match variant {
                0 => drop(arg.remove(0)),
                1 => drop(arg.remove(1)),
                2 => arg.push(("instType".to_owned(), s("SPOT"))),
                3 => arg.push(("channel".to_owned(), ("\"books\"".to_owned(), false))),
                _ => {}
            }
            (object(arg), Just((action, data, variant))).prop_flat_map(
                |(arg, (action, data, variant))| {
                    let mut m = vec![("arg".to_owned(), arg.member()), ("data".to_owned(), data)];
                    if let Some(a) = action {
                        m.push(("action".to_owned(), a));
                    }
                    match variant {
                        0 | 1 => m[0].1 .1 = false,
                        4 => m.push(("event".to_owned(), ("\"error\"".to_owned(), false))),
                        5 => m.push(("extra".to_owned(), ("[]".to_owned(), true))),
                        6 => drop(m.remove(1)),
                        7 => m[0] = ("arg".to_owned(), ("\"books\"".to_owned(), false)),
                        8 => m.push(("data".to_owned(), ("[]".to_owned(), false))),
                        _ => {}
                    }
                    if variant == 6 {
                        m[0].1 .1 = false;
                    }
                    object(m)
                },
            )
        },
    )
}

/// A snapshot so that updates are applied and trades know their instrument (tick 0.1, lot 1).
const SNAPSHOT: &[u8] = br#"{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"snapshot","data":[{"asks":[["30000.1","4","0","1"],["30000.9","1","0","1"]],"bids":[["29999.9","452","0","1"]],"ts":"1652459225464","checksum":-914047754,"seqId":5,"prevSeqId":-1}]}"#;

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    /// Generated frames: identical output whatever happens; a frame entirely in the scanner's
    /// subset is never left to simd-json.
    #[test]
    fn generated_frames_scan_as_simd_json_parses(
        frames in proptest::collection::vec(frame(), 1..6),
        kind in proptest::sample::select(KernelKind::ALL.to_vec()),
    ) {
        let Some(p) = crate::pair(okx, kind) else { return Ok(()) };
        crate::generated_frames_agree(p, &[SNAPSHOT], &frames, kind)?;
    }
}

/// Frames the scanner must leave to simd-json (counted), with the same result either way.
#[test]
fn fallbacks_are_counted_and_give_simd_jsons_output() {
    let fallbacks: [&[u8]; 16] = [
        br#"{"event":"subscribe","arg":{"channel":"books","instId":"BTC-USDT"}}"#,
        br#"{"event":"error","code":"60012","msg":"Invalid request","connId":"a"}"#,
        br#"{"arg":{"channel":"tickers","instId":"BTC-USDT"},"data":[{"instId":"BTC-USDT","askPx":"30001.1","askSz":"3","bidPx":"30000.2","bidSz":"4","bidSz":"4","ts":"1"}]}"#,
        br#"{"arg":{"channel":"books","instId":"BTC\u002dUSDT"},"action":"update","data":[]}"#,
        br#"{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"partial","data":[]}"#,
        br#"{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"update"}"#,
        br#"{"arg":{"instId":"BTC-USDT"},"data":[]}"#,
        br#"{"data":[]}"#,
        br#"{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"update","data":[{"asks":[[30000.2,"1","0","1"]],"bids":[],"ts":"1"}]}"#,
        br#"{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"update","data":[{"asks":[],"bids":[],"ts":"1","checksum":1.0}]}"#,
        br#"{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"update","data":[{"asks":[],"bids":[],"ts":"1","checksum":-0}]}"#,
        br#"{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"update","data":[{"asks":[],"asks":[],"ts":"1"}]}"#,
        br#"{"arg":{"channel":"trades","instId":"BTC-USDT"},"data":[{"tradeId":"1","px":"30000.1","sz":"1","side":"buy","ts":"1"},{},{},{},{}]}"#,
        br#"{"arg":{"channel":"trades","instId":"BTC-USDT"},"data":[{"tradeId":"1","px":"30000.1","sz":"1","side":"buy","ts":"1"}]}  x"#,
        "{\"arg\":{\"channel\":\"trades\",\"instId\":\"BTC-USDT\"},\"data\":[{\"tradeId\":\"1\",\"px\":\"30000.1\",\"sz\":\"1\",\"side\":\"b\u{fc}y\",\"ts\":\"1\"}]}".as_bytes(),
        b"ping",
    ];
    for kind in KernelKind::ALL {
        let Some(p) = crate::pair(okx, kind) else { continue };
        let (mut scan, mut tape) = crate::fallbacks_agree(p, SNAPSHOT, true, &fallbacks, kind);
        // `pong` is neither: the keep-alive answer, read before either parser.
        let (read, r) = same_frame(&mut scan, &mut tape, b"pong", "pong");
        assert!(read && r.is_ok());
    }
}

/// Tickers are scanned and set the venue's own BBO as simd-json's reading does (an empty side
/// is sent as `""`: 0 ticks, 0 lots; sizes in the builtin lot of 1e-8); a ticker of an
/// instrument not seen is ignored.
#[test]
fn tickers_are_scanned_and_set_the_venues_bbo() {
    let tickers: [(&[u8], Bbo); 3] = [
        (
            br#"{"arg":{"channel":"tickers","instId":"BTC-USDT"},"data":[{"instType":"SPOT","instId":"BTC-USDT","last":"30000.5","askPx":"30001.1","askSz":"3","bidPx":"30000.2","bidSz":"4","ts":"1"}]}"#,
            Bbo { bid_tick: 300_002, bid_lots: 400_000_000, ask_tick: 300_011, ask_lots: 300_000_000 },
        ),
        (
            br#"{"data":[{"bidSz":"","askSz":"7","askPx":"30002","bidPx":""}],"arg":{"instId":"BTC-USDT","channel":"tickers"}}"#,
            Bbo { bid_tick: 0, bid_lots: 0, ask_tick: 300_020, ask_lots: 700_000_000 },
        ),
        (
            br#"{"arg":{"channel":"tickers","instId":"ETH-USDT"},"data":[{"askPx":"1","askSz":"1","bidPx":"1","bidSz":"1"}]}"#,
            Bbo { bid_tick: 0, bid_lots: 0, ask_tick: 300_020, ask_lots: 700_000_000 },
        ),
    ];
    for kind in KernelKind::ALL {
        let Some((mut scan, mut tape)) = crate::pair(okx, kind) else { continue };
        let (read, r) = same_frame(&mut scan, &mut tape, SNAPSHOT, "snapshot");
        assert!(read && r.is_ok());
        for (f, want) in tickers {
            let (read, r) = same_frame(&mut scan, &mut tape, f, kind.name());
            assert!(read && r.is_ok(), "{}: {}", kind.name(), String::from_utf8_lossy(f));
            let sym = scan.symbols().find(b"BTC-USDT").expect("the snapshot's instrument");
            assert_eq!(scan.symbols().list()[usize::from(sym)].venue_bbo, Some(want));
        }
    }
}

/// Errors inside a scanned frame are the simd-json path's errors.
#[test]
fn bad_pushes_get_the_same_errors() {
    let bad: [(&[u8], &str); 12] = [
        (br#"{"arg":{"channel":"tickers","instId":"BTC-USDT"},"data":[{"askPx":"30001.15","askSz":"3","bidPx":"1","bidSz":"4"}]}"#, "number"),
        (br#"{"arg":{"channel":"tickers","instId":"BTC-USDT"},"data":[{"askPx":"30001.1","askSz":"3","bidPx":"1"}]}"#, "shape"),
        (br#"{"arg":{"channel":"tickers","instId":"BTC-USDT"},"data":[{"askPx":"30001.1","askSz":3,"bidPx":"1","bidSz":"4"}]}"#, "shape"),
        (br#"{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"update","data":[{"asks":[["30000.15","1","0","1"]],"bids":[],"ts":"1"}]}"#, "number"),
        (br#"{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"update","data":[{"asks":[["30000.1","x","0","1"]],"bids":[],"ts":"1"}]}"#, "number"),
        (br#"{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"snapshot","data":[{"asks":[],"bids":[],"ts":"1","checksum":99999999999}]}"#, "shape"),
        (br#"{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"snapshot","data":[{"asks":[],"bids":[],"ts":"1","checksum":"x"}]}"#, "shape"),
        (br#"{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"snapshot","data":[{"asks":[],"bids":[],"ts":"1","checksum":null}]}"#, "shape"),
        (br#"{"arg":{"channel":"books","instId":"NOPE"},"action":"update","data":[{"asks":[],"bids":[]}]}"#, "unknown_symbol"),
        (br#"{"arg":{"channel":"trades","instId":"BTC-USDT"},"data":[{"tradeId":"1","px":"1","sz":"1","side":"both","ts":"1"}]}"#, "shape"),
        (br#"{"arg":{"channel":"trades","instId":"BTC-USDT"},"data":[{"tradeId":"1","px":"30000.1","sz":"1","side":"buy"}]}"#, "shape"),
        (br#"{"arg":{"channel":"trades","instId":"NOPE"},"data":[{"tradeId":"1","px":"1","sz":"1","side":"buy","ts":"1"}]}"#, "unknown_symbol"),
    ];
    for kind in KernelKind::ALL {
        let Some((mut scan, mut tape)) = crate::pair(okx, kind) else { continue };
        let (read, r) = same_frame(&mut scan, &mut tape, SNAPSHOT, "snapshot");
        assert!(read && r.is_ok());
        for (f, want) in bad {
            let (read, r) = same_frame(&mut scan, &mut tape, f, kind.name());
            assert!(read, "{}: fell back on {}", kind.name(), String::from_utf8_lossy(f));
            assert_eq!(r.map_err(|e| e.name()), Err(want), "{}", String::from_utf8_lossy(f));
        }
    }
}

//! The Bitfinex v2 scanner (`venue::scan::bitfinex`) against simd-json's tape: every frame of
//! both bundled Bitfinex captures with every dispatch path this CPU has, generated channel
//! messages (book levels, heartbeats, checksums, trades) with whitespace and number forms,
//! sequence numbers in order or not, on one connection and on merged lines, the frames it
//! must leave to simd-json, and bad messages it reads. The scanner must give the same result
//! and the same parsed output as simd-json, or fall back (and then it is simd-json's output
//! by construction).

use crate::common::gen::{array, s, Gen};
use crate::common::{records, same_frame};
use ladderfeed::book::InstrumentRegistry;
use ladderfeed::venue::bitfinex::Bitfinex;
use ladderfeed::venue::scan::KernelKind;
use proptest::prelude::*;

/// The bundled Bitfinex captures: cryptofeed's (`SEQ_ALL`, eight pairs, book, trades and
/// ticker channels) and marfusios' (one pair, no sequence numbers).
const CAPTURES: [&str; 2] =
    ["bitfinex/cryptofeed_BITFINEX-58bafb.0", "bitfinex/marfusios_bitfinex_raw_2018-11-12.txt.gz"];

fn bfx() -> Bitfinex {
    Bitfinex::new(InstrumentRegistry::with_builtins())
}

/// The frames the scanner is for, picked by their text: a channel message whose payload is a
/// tag (`hb`, `cs`, `te`, `tu`) or one level (an array of three numbers, no array inside).
fn hot(text: &str) -> bool {
    let Some(rest) = text.strip_prefix('[') else { return false };
    let Some((_, payload)) = rest.split_once(',') else { return false };
    if ["\"hb\"", "\"cs\"", "\"te\"", "\"tu\""].iter().any(|t| payload.starts_with(t)) {
        return true;
    }
    match payload.strip_prefix('[') {
        Some(row) if !row.starts_with('[') => {
            row.split_once(']').is_some_and(|(level, _)| level.matches(',').count() == 2)
        }
        _ => false,
    }
}

#[test]
fn every_bundled_frame_parses_as_simd_json_does_on_every_dispatch_path() {
    // (frames, scanned) per capture, the same on every dispatch path.
    let want = [(22_675, 22_575), (1_057_704, 1_057_694)];
    for (file, want) in CAPTURES.into_iter().zip(want) {
        for kind in KernelKind::ALL {
            let Some(t) = crate::capture_agrees(bfx, file, kind, hot) else { continue };
            assert_eq!(t.errors, 0, "{file}");
            // The scanner reads exactly the frames picked: snapshots, tickers and events fall
            // back.
            assert_eq!(t.scanned, t.hot, "{file}");
            assert_eq!((t.frames, t.scanned), want, "{file}");
        }
    }
}

#[test]
fn the_engine_publishes_the_same_on_both_captures() {
    for file in CAPTURES {
        let recs = records(&[file]);
        let (mut scan, a) = crate::engines_agree(bfx, &recs);
        assert!(!a.events.is_empty() && a.errors.is_empty(), "{file}");
        let fallbacks = scan.stats().scanner_fallbacks;
        eprintln!("{file}: {} frames, {fallbacks} left to simd-json", a.frames);
        assert!(fallbacks > 0 && fallbacks < a.frames as u64 / 100, "{file}: {fallbacks}");
        // An event is left to simd-json and counted.
        let mut out = Vec::new();
        scan.handle_frame(br#"{"event":"pong","ts":1}"#, 0, &mut out).unwrap();
        assert_eq!(scan.stats().scanner_fallbacks, fallbacks + 1);
    }
}

/// `SEQ_ALL | OB_CHECKSUM`, a book (17), trades (18), ticker (19) and raw book (20) channel.
const SETUP: [&[u8]; 5] = [
    br#"{"event":"conf","status":"OK","flags":196608}"#,
    br#"{"event":"subscribed","channel":"book","chanId":17,"symbol":"tBTCUSD","prec":"P0","freq":"F0","len":"25","pair":"BTCUSD"}"#,
    br#"{"event":"subscribed","channel":"trades","chanId":18,"symbol":"tBTCUSD","pair":"BTCUSD"}"#,
    br#"{"event":"subscribed","channel":"ticker","chanId":19,"symbol":"tBTCUSD","pair":"BTCUSD"}"#,
    br#"{"event":"subscribed","channel":"book","chanId":20,"symbol":"tETHUSD","prec":"R0","freq":"F0","len":"25","pair":"ETHUSD"}"#,
];

/// The book's snapshot (sequence number 1): its prices show a tick of 0.1.
const SNAPSHOT: &[u8] =
    br#"[17,[[6443,5,5.26056135],[6442.9,2,1.17073057],[6443.1,1,-0.1],[6443.5,3,-1e-8]],1]"#;

/// A number-like element: `(text, plain)`.
type Part = (String, bool);

/// A price: the tick's forms, other valid JSON numbers, forms that are errors for both
/// parsers, and forms outside the subset.
fn price() -> impl Strategy<Value = Part> {
    prop_oneof![
        8 => (6_400u32..6_500, 0u32..10).prop_map(|(i, d)| (format!("{i}.{d}"), true)),
        2 => (6_400u32..6_500).prop_map(|i| (i.to_string(), true)),
        1 => Just(("6.4431e3".to_owned(), true)),
        1 => Just(("6443.10".to_owned(), true)),
        1 => Just(("6443.05".to_owned(), true)),
        1 => Just(("64431E-1".to_owned(), true)),
        1 => Just(("-6443.1".to_owned(), true)),
        1 => Just(("-0".to_owned(), true)),
        1 => Just(("0".to_owned(), true)),
        1 => Just(("\"6443.1\"".to_owned(), true)),
        1 => Just(("\"\"".to_owned(), true)),
        1 => Just(("06443".to_owned(), false)),
        1 => Just(("6443.".to_owned(), false)),
        1 => Just(("1.2.3".to_owned(), false)),
        1 => Just(("null".to_owned(), false)),
        1 => Just(("\"\\u0036\"".to_owned(), false)),
    ]
}

/// A level's count.
fn count() -> impl Strategy<Value = Part> {
    prop_oneof![
        8 => (0u32..6).prop_map(|c| (c.to_string(), true)),
        1 => Just(("1.0".to_owned(), true)),
        1 => Just(("1e0".to_owned(), true)),
        1 => Just(("-1".to_owned(), true)),
        1 => Just(("-0".to_owned(), true)),
        1 => Just(("\"2\"".to_owned(), true)),
        1 => Just(("true".to_owned(), false)),
    ]
}

/// A signed amount (a level's or a trade's).
fn amount() -> impl Strategy<Value = Part> {
    prop_oneof![
        8 => (any::<bool>(), 0u32..100, 0u32..100_000_000).prop_map(|(neg, i, d)| {
            (format!("{}{i}.{d:08}", if neg { "-" } else { "" }), true)
        }),
        2 => (any::<bool>(), 1u32..100).prop_map(|(neg, i)| {
            (format!("{}{i}", if neg { "-" } else { "" }), true)
        }),
        2 => Just(("1".to_owned(), true)),
        2 => Just(("-1".to_owned(), true)),
        1 => Just(("1e-8".to_owned(), true)),
        1 => Just(("-5.2e-7".to_owned(), true)),
        1 => Just(("1E+1".to_owned(), true)),
        1 => Just(("0".to_owned(), true)),
        1 => Just(("-0".to_owned(), true)),
        1 => Just(("-0.0".to_owned(), true)),
        1 => Just(("0.000000001".to_owned(), true)),
        1 => Just(("+1".to_owned(), false)),
        1 => Just((".5".to_owned(), false)),
        1 => Just(("1e".to_owned(), false)),
    ]
}

/// An integer element (a trade id or time, a checksum, a channel id).
fn integer(lo: i64, hi: i64) -> impl Strategy<Value = Part> {
    prop_oneof![
        8 => (lo..hi).prop_map(|i| (i.to_string(), true)),
        1 => (lo..hi).prop_map(|i| (format!("\"{i}\""), true)),
        1 => Just(("2147483648".to_owned(), true)),
        1 => Just(("18446744073709551616".to_owned(), true)),
        1 => Just(("1.5".to_owned(), true)),
        1 => Just(("-7".to_owned(), true)),
        1 => Just(("1e3".to_owned(), true)),
        1 => Just(("007".to_owned(), false)),
    ]
}

/// A level `[PRICE, COUNT, AMOUNT]`: mostly three numbers; two or four are read (and are an
/// error, or the fourth ignored); five, or a level inside, are not.
fn level() -> impl Strategy<Value = Part> {
    (price(), count(), amount(), 0u8..14).prop_flat_map(|(px, n, amt, width)| {
        let items = match width {
            0 => vec![px, n],
            1 => vec![px, n, amt, ("7".to_owned(), true)],
            2 => vec![px, n, amt.clone(), amt.clone(), (amt.0, false)],
            3 => vec![px, n, ("[1]".to_owned(), false)],
            _ => vec![px, n, amt],
        };
        array(items).prop_map(Gen::member)
    })
}

/// A trade `[ID, MTS, AMOUNT, PRICE]` (or three or five elements).
fn trade() -> impl Strategy<Value = Part> {
    let id = integer(310_628_000, 310_629_000);
    let mts = integer(1_542_045_947_000, 1_542_045_999_000);
    (id, mts, amount(), price(), 0u8..12).prop_flat_map(|(id, mts, amt, px, w)| {
        let items = match w {
            0 => vec![id, mts, amt],
            1 => vec![id, mts, amt, px.clone(), (px.0, false)],
            _ => vec![id, mts, amt, px],
        };
        array(items).prop_map(Gen::member)
    })
}

/// A channel id: mostly the one the message is for.
fn channel(id: u64) -> impl Strategy<Value = Part> {
    prop_oneof![
        12 => Just((id.to_string(), true)),
        1 => Just(("99".to_owned(), true)),
        1 => Just((format!("\"{id}\""), true)),
        1 => (17u64..21).prop_map(|c| (c.to_string(), true)),
        1 => Just(("17.0".to_owned(), true)),
        1 => Just(("null".to_owned(), false)),
    ]
}

/// The sequence number's place (filled in order by [`numbered`]), or none.
fn seq() -> impl Strategy<Value = Option<Part>> {
    prop_oneof![8 => Just(Some(("SEQ".to_owned(), true))), 1 => Just(None)]
}

/// One channel message (or a near miss): a level, a heartbeat, a checksum, a trade, a
/// ticker, a bulk update, an unknown tag, extra elements.
fn message() -> impl Strategy<Value = Gen> {
    let book = (channel(17), level()).prop_map(|(c, l)| vec![c, l]);
    let hb = (channel(17), prop_oneof![Just(s("hb")), Just(s("hx")), Just(s("Hb"))])
        .prop_map(|(c, t)| vec![c, t]);
    let cs = (channel(17), integer(-2_147_483_648, 2_147_483_647))
        .prop_map(|(c, v)| vec![c, s("cs"), v]);
    let te = (channel(18), prop_oneof![Just(s("te")), Just(s("tu"))], trade())
        .prop_map(|(c, t, v)| vec![c, t, v]);
    let ticker = (channel(19), proptest::collection::vec(price(), 10..=10)).prop_map(|(c, v)| {
        let row = format!("[{}]", v.into_iter().map(|p| p.0).collect::<Vec<_>>().join(","));
        vec![c, (row, false)]
    });
    let four = (channel(19), price(), price(), price(), price()).prop_map(|(c, a, b, d, e)| {
        let plain = a.1 && b.1 && d.1 && e.1;
        vec![c, (format!("[{},{},{},{}]", a.0, b.0, d.0, e.0), plain)]
    });
    let raw = (price(), amount()).prop_map(|(p, a)| {
        let plain = p.1 && a.1;
        vec![("20".to_owned(), true), (format!("[123456,{},{}]", p.0, a.0), plain)]
    });
    let bulk = (channel(17), level(), level())
        .prop_map(|(c, a, b)| vec![c, (format!("[{},{}]", a.0, b.0), false)]);
    let short = Just(vec![("17".to_owned(), true)]);
    let kinds = prop_oneof![
        10 => book, 2 => hb, 2 => cs, 4 => te, 1 => ticker, 1 => four, 1 => raw, 1 => bulk,
        1 => short,
    ];
    (kinds, seq(), 0u8..16).prop_flat_map(|(mut items, seq, extra)| {
        items.extend(seq);
        match extra {
            0 => items.push(("1617643611128".to_owned(), true)),
            1 => items.extend(std::iter::repeat_n(("1".to_owned(), true), 5)),
            2 => items.push(("false".to_owned(), false)),
            _ => {}
        }
        if items.len() > 6 {
            items[0].1 = false;
        }
        array(items)
    })
}

/// Frames with their sequence numbers filled in order from 2 (the snapshot's is 1), a number
/// skipped or repeated now and then.
fn numbered() -> impl Strategy<Value = Vec<Gen>> {
    (proptest::collection::vec(message(), 1..10), proptest::collection::vec(0u8..16, 10)).prop_map(
        |(frames, jumps)| {
            let mut next = 2u64;
            frames
                .into_iter()
                .zip(jumps)
                .map(|(g, jump)| {
                    if !g.text.contains("SEQ") {
                        return g;
                    }
                    match jump {
                        0 => next += 1,
                        1 => next = next.saturating_sub(2),
                        _ => {}
                    }
                    let text = g.text.replace("SEQ", &next.to_string());
                    next += 1;
                    Gen { text, plain: g.plain }
                })
                .collect()
        },
    )
}

/// A pair of adapters on `kind` (if this CPU has it), reading one connection's frames or merged
/// lines', with the setup read by both.
fn set_up(kind: KernelKind, merged: bool) -> Option<(Bitfinex, Bitfinex)> {
    let (mut scan, mut tape) = crate::pair(
        move || {
            let mut a = bfx();
            a.merged = merged;
            a
        },
        kind,
    )?;
    for f in SETUP {
        let (read, r) = same_frame(&mut scan, &mut tape, f, "setup");
        assert!(!read && r.is_ok());
    }
    Some((scan, tape))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    /// Generated frames: identical output whatever happens; a frame entirely in the scanner's
    /// subset is never left to simd-json.
    #[test]
    fn generated_frames_scan_as_simd_json_parses(
        frames in numbered(),
        kind in proptest::sample::select(KernelKind::ALL.to_vec()),
        merged in any::<bool>(),
    ) {
        let Some(p) = set_up(kind, merged) else { return Ok(()) };
        crate::generated_frames_agree(p, &[SNAPSHOT], &frames, kind)?;
    }
}

/// Frames the scanner must leave to simd-json (counted), with the same result either way.
#[test]
fn fallbacks_are_counted_and_give_simd_jsons_output() {
    let fallbacks: [&[u8]; 24] = [
        br#"{"event":"info","version":2,"serverId":"x","platform":{"status":1}}"#,
        br#"{"event":"info","code":20051,"msg":"Stopping. Please try to reconnect"}"#,
        br#"{"event":"pong","ts":1}"#,
        br#"{"event":"error","msg":"subscribe: dup","code":10301}"#,
        br#"{"event":"unsubscribed","status":"OK","chanId":99}"#,
        br#"[17,[[6443,5,5.26056135],[6442.9,2,1.17073057]],2]"#,
        br#"[18,[[310628121,1542045947738,0.00265425,6443.1]],3]"#,
        br#"[19,[6443,5.1,6443.1,4.2,-0.5,-0.0001,6443.1,100.5,6450,6400],4]"#,
        br#"[17,[],5]"#,
        br#"[]"#,
        br#"[17,"h\u0062",6]"#,
        "[17,\"h\u{e9}\",7]".as_bytes(),
        br#"[17,true,8]"#,
        br#"[17,[6443.1,null,1],9]"#,
        br#"[18,"te",[[310628121,1542045947738,0.00265425,6443.1]],10]"#,
        br#"[17,[06443.1,1,1],11]"#,
        br#"[17,[6443.1,1,1.2.3],12]"#,
        br#"[17,[6443.1,1,+1],13]"#,
        br#"[17,[6443.1,1,1,1,1],14]"#,
        br#"[17,[6443.1,1,1],15,1,1,1,1]"#,
        br#"[17,"hb",16] x"#,
        br#"[17,"hb",17]]"#,
        br#"[17,{"a":1},18]"#,
        b"[17,\"hb\",19",
    ];
    for kind in KernelKind::ALL {
        for merged in [false, true] {
            let Some(p) = set_up(kind, merged) else { continue };
            crate::fallbacks_agree(p, SNAPSHOT, false, &fallbacks, kind);
        }
    }
}

/// Errors inside a scanned frame are the simd-json path's errors (no sequence numbers, so
/// each case stands alone).
#[test]
fn bad_messages_get_the_same_errors() {
    let bad: [(&[u8], &str); 18] = [
        (br#"[99,[6443.1,1,1]]"#, "unknown_symbol"),
        (br#"[1.5,"hb"]"#, "shape"),
        (br#"[-17,"hb"]"#, "shape"),
        (br#"[17]"#, "shape"),
        (br#"[17,5]"#, "shape"),
        (br#"[17,"xx"]"#, "unknown_type"),
        (br#"[17,"cs",2147483648]"#, "shape"),
        (br#"[17,"cs","abc"]"#, "shape"),
        (br#"[17,"cs"]"#, "shape"),
        (br#"[18,"te",5]"#, "shape"),
        (br#"[18,"te",[1,2,0,6443]]"#, "shape"),
        (br#"[18,"te",[1,2,"x",6443]]"#, "number"),
        (br#"[18,"te",[1,2,1]]"#, "shape"),
        (br#"[17,[6443.1,1,0]]"#, "shape"),
        (br#"[17,[6443.1,0,2]]"#, "shape"),
        (br#"[17,[6443.1,1.5,1]]"#, "shape"),
        (br#"[20,[123456,6443.1,1]]"#, "shape"),
        (br#"[17,[6443.1,1,"x"]]"#, "number"),
    ];
    for kind in KernelKind::ALL {
        let Some((mut scan, mut tape)) = set_up(kind, false) else { continue };
        let (read, r) = same_frame(&mut scan, &mut tape, SNAPSHOT, "snapshot");
        assert!(!read && r.is_ok());
        for (f, want) in bad {
            let (read, r) = same_frame(&mut scan, &mut tape, f, kind.name());
            assert!(read, "{}: fell back on {}", kind.name(), String::from_utf8_lossy(f));
            assert_eq!(r.map_err(|e| e.name()), Err(want), "{}", String::from_utf8_lossy(f));
        }
        // Number forms the book cannot take: scanned, and whatever simd-json's path makes
        // of them (`same_frame` compares).
        for f in [
            &br#"[17,[1e400,1,1]]"#[..],
            br#"[17,[6443.1,1,1e-400]]"#,
            br#"[17,[6443.123456789,1,1]]"#,
        ] {
            let (read, _) = same_frame(&mut scan, &mut tape, f, kind.name());
            assert!(read, "{}", String::from_utf8_lossy(f));
        }
    }
}

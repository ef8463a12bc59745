//! The Binance scanner against simd-json's tape: every frame of every bundled Binance capture
//! with every dispatch path this CPU has, and generated frames with free key order, whitespace
//! and number forms. The scanner must give the same result and the same parsed output as
//! simd-json, or fall back (and then it is simd-json's output by construction).

use crate::common::gen::{object, s, ws, Gen};
use crate::common::same_frame;
use ladderfeed::book::InstrumentRegistry;
use ladderfeed::venue::binance::Binance;
use ladderfeed::venue::scan::KernelKind;
use ladderfeed::venue::{Adapter, Parsed};
use proptest::prelude::*;

/// Makes an adapter of one Binance market.
type Make = fn() -> Binance;

/// The bundled Binance captures and the adapter each is read with.
const CAPTURES: [(&str, Make); 5] = [
    ("binance/cryptofeed_BINANCE.ws.1.0", spot),
    ("binance/cryptofeed_BINANCE_FUTURES.ws.1.0", futures),
    ("binance/hftbacktest_spot_btcusdt_20240808.gz", spot),
    ("binance/hftbacktest_cm_btcusd_perp_20240808.gz", coinm),
    ("binance/hftbacktest_cm_btcusd_perp_20240809.gz", coinm),
];

fn spot() -> Binance {
    Binance::spot(InstrumentRegistry::with_builtins())
}

fn futures() -> Binance {
    Binance::futures(InstrumentRegistry::with_builtins())
}

fn coinm() -> Binance {
    Binance::coinm(InstrumentRegistry::with_builtins())
}

#[test]
fn every_bundled_frame_parses_as_simd_json_does_on_every_dispatch_path() {
    for (file, make) in CAPTURES {
        for kind in KernelKind::ALL {
            // Every kline (the USD-M capture's 67, which the adapter ignores) is scanned.
            let kline = |text: &str| text.contains(r#""e":"kline""#);
            let Some(t) = crate::capture_agrees(make, file, kind, kline) else { continue };
            assert!(t.frames > 0, "{file}: no frames");
            assert!(t.scanned * 2 > t.frames, "{file}: only {} of {} scanned", t.scanned, t.frames);
        }
    }
}

/// A decimal string value: the plain forms the captures have, and forms that are errors for
/// both parsers or not in the subset (escapes, non-ASCII).
fn decimal() -> impl Strategy<Value = (String, bool)> {
    prop_oneof![
        8 => (1u32..100_000, 0u32..100_000_000).prop_map(|(i, f)| (format!("\"{i}.{f:08}\""), true)),
        2 => (0u32..1_000_000).prop_map(|i| (format!("\"{i}\""), true)),
        4 => (60_000u32..62_000, 0u32..10).prop_map(|(i, d)| (format!("\"{i}.{d}\""), true)),
        1 => Just(("\"6.17e4\"".to_owned(), true)),
        1 => Just(("\"-1.00\"".to_owned(), true)),
        1 => Just(("\"\"".to_owned(), true)),
        1 => Just(("\"1.0000000000000000000001\"".to_owned(), true)),
        1 => Just(("\"\\u0031.5\"".to_owned(), false)),
        1 => Just(("\"1.5\u{e9}\"".to_owned(), false)),
        1 => Just(("1.5".to_owned(), false)),
    ]
}

/// An id or timestamp: plain integers, and quoted, negative, fractional, exponent,
/// leading-zero and too-long forms.
fn integer() -> impl Strategy<Value = (String, bool)> {
    prop_oneof![
        8 => (0u64..10_000_000_000_000).prop_map(|i| (i.to_string(), true)),
        1 => Just(("9999999999999999999".to_owned(), true)),
        1 => (0u64..1000).prop_map(|i| (format!("\"{i}\""), true)),
        1 => Just(("18446744073709551615".to_owned(), false)),
        1 => Just(("-5".to_owned(), false)),
        1 => Just(("5.0".to_owned(), false)),
        1 => Just(("5e3".to_owned(), false)),
        1 => Just(("05".to_owned(), false)),
        1 => Just(("null".to_owned(), true)),
    ]
}

/// `[["px","qty"],…]` with generated numbers and whitespace.
fn level_array() -> impl Strategy<Value = (String, bool)> {
    proptest::collection::vec((decimal(), decimal(), ws(), ws()), 0..6).prop_map(|levels| {
        let mut plain = true;
        let items: Vec<String> = levels
            .into_iter()
            .map(|((p, pp), (q, qp), w1, w2)| {
                plain &= pp && qp;
                format!("[{w1}{p},{w2}{q}]")
            })
            .collect();
        (format!("[{}]", items.join(",")), plain)
    })
}

/// A value inside an object the adapter ignores (a kline's `k`): strings, integers,
/// literals, and arrays and objects of them nested up to three deep, with the forms outside
/// the scanner's subset that [`decimal`] and [`integer`] make (a bare fraction, a sign, an
/// escape), which must send the frame to simd-json.
fn ignored_value() -> impl Strategy<Value = (String, bool)> {
    let leaf = prop_oneof![
        4 => decimal(),
        3 => integer(),
        1 => prop_oneof![Just("true"), Just("false")].prop_map(|b| (b.to_owned(), true)),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec((inner.clone(), ws()), 0..4).prop_map(|items| {
                let plain = items.iter().all(|((_, p), _)| *p);
                let texts: Vec<String> = items.into_iter().map(|((t, _), w)| w + &t).collect();
                (format!("[{}]", texts.join(",")), plain)
            }),
            ignored_object(inner),
        ]
    })
}

/// An object of up to four `values` under one-letter keys, with whitespace; plain when they
/// all are.
fn ignored_object(
    values: impl Strategy<Value = (String, bool)>,
) -> impl Strategy<Value = (String, bool)> {
    let key = proptest::sample::select(vec!["t", "T", "s", "i", "o", "c", "x", "b", "k"]);
    proptest::collection::vec((key, values, ws()), 0..5).prop_map(|members| {
        let plain = members.iter().all(|(_, (_, p), _)| *p);
        let texts: Vec<String> =
            members.into_iter().map(|(k, (v, _), w)| format!("\"{k}\":{w}{v}")).collect();
        (format!("{{{}}}", texts.join(",")), plain)
    })
}

/// An event the adapter reads no data from, kline-shaped: `e`, `E`, `s` and an object `k`
/// of [`ignored_value`]s (its own plain form, so the frame is plain when they all are).
fn ignored_event() -> impl Strategy<Value = Gen> {
    let name = proptest::sample::select(vec![
        "kline",
        "24hrTicker",
        "24hrMiniTicker",
        "continuous_kline",
        "compositeIndex",
    ]);
    (name, integer(), ignored_object(ignored_value())).prop_flat_map(|(name, ts, k)| {
        object(vec![
            ("e".to_owned(), s(name)),
            ("E".to_owned(), ts),
            ("s".to_owned(), s("BTCUSDT")),
            ("k".to_owned(), k),
        ])
    })
}

/// A depth update (spot or futures keys), a trade, an aggTrade, a bookTicker or an event the
/// adapter ignores.
fn event() -> impl Strategy<Value = Gen> {
    let symbol = prop_oneof![8 => Just(s("BTCUSDT")), 1 => Just(s("ETHUSDT")),
        1 => Just(("\"BTC\\u0055SDT\"".to_owned(), false))];
    let depth = (
        symbol.clone(),
        integer(),
        integer(),
        integer(),
        integer(),
        integer(),
        level_array(),
        level_array(),
        any::<bool>(),
    )
        .prop_flat_map(|(sym, e_ts, t_ts, first, last, prev, b, a, fut)| {
            let mut m = vec![
                ("e".to_owned(), s("depthUpdate")),
                ("E".to_owned(), e_ts),
                ("s".to_owned(), sym),
                ("U".to_owned(), first),
                ("u".to_owned(), last),
                ("b".to_owned(), b),
                ("a".to_owned(), a),
            ];
            if fut {
                m.push(("T".to_owned(), t_ts));
                m.push(("pu".to_owned(), prev));
                m.push(("ps".to_owned(), s("BTCUSD")));
            }
            object(m)
        });
    let trade = (
        symbol.clone(),
        integer(),
        integer(),
        decimal(),
        decimal(),
        any::<bool>(),
        prop_oneof![
            Just(("true".to_owned(), true)),
            Just(("false".to_owned(), true)),
            Just(("\"true\"".to_owned(), true))
        ],
        any::<bool>(),
    )
        .prop_flat_map(|(sym, id, ts, p, q, agg, m, market)| {
            let mut members = vec![
                ("e".to_owned(), s(if agg { "aggTrade" } else { "trade" })),
                ("E".to_owned(), ts.clone()),
                ("s".to_owned(), sym),
                (if agg { "a" } else { "t" }.to_owned(), id),
                ("p".to_owned(), p),
                ("q".to_owned(), q),
                ("T".to_owned(), ts),
                ("m".to_owned(), m),
                ("M".to_owned(), ("true".to_owned(), true)),
            ];
            if agg {
                members.push(("f".to_owned(), ("1".to_owned(), true)));
                members.push(("l".to_owned(), ("2".to_owned(), true)));
            }
            if market {
                members.push(("X".to_owned(), s("MARKET")));
            }
            object(members)
        });
    let ticker = (symbol, integer(), decimal(), decimal(), decimal(), decimal()).prop_flat_map(
        |(sym, u, b, bq, a, aq)| {
            object(vec![
                ("u".to_owned(), u),
                ("s".to_owned(), sym),
                ("b".to_owned(), b),
                ("B".to_owned(), bq),
                ("a".to_owned(), a),
                ("A".to_owned(), aq),
            ])
        },
    );
    prop_oneof![4 => depth, 3 => trade, 1 => ticker, 1 => ignored_event()]
}

/// An event raw or in a combined-stream wrapper (keys in either order).
fn frame() -> impl Strategy<Value = Gen> {
    (event(), 0u8..3, ws(), ws()).prop_map(|(ev, wrap, w1, w2)| match wrap {
        0 => ev,
        1 => Gen {
            text: format!("{{{w1}\"stream\":\"btcusdt@depth@100ms\",\"data\":{}{w2}}}", ev.text),
            plain: ev.plain,
        },
        _ => {
            Gen { text: format!("{{\"data\":{},{w1}\"stream\":\"x\"}}", ev.text), plain: ev.plain }
        }
    })
}

/// A snapshot so that depth updates are sequenced and applied, not only kept.
fn seeded(mut b: Binance) -> Binance {
    let snap = br#"{"lastUpdateId":100,"bids":[["61000.0","1.5"]],"asks":[["61000.1","0.5"]]}"#;
    let mut out = Parsed::default();
    b.handle_http("https://api.binance.com/api/v3/depth?symbol=BTCUSDT", snap, 0, &mut out)
        .unwrap();
    b
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    /// Generated frames: identical output whatever happens; a frame entirely in the scanner's
    /// subset is never left to simd-json.
    #[test]
    fn generated_frames_scan_as_simd_json_parses(
        frames in proptest::collection::vec(frame(), 1..4),
        venue in 0u8..3,
        kind in proptest::sample::select(KernelKind::ALL.to_vec()),
    ) {
        let make = [spot, futures, coinm][usize::from(venue)];
        let Some((scan, tape)) = crate::pair(make, kind) else { return Ok(()) };
        crate::generated_frames_agree((seeded(scan), seeded(tape)), &[], &frames, kind)?;
    }
}

#[test]
fn bad_frames_get_the_same_errors_and_never_panic() {
    let bad: [&[u8]; 8] = [
        b"",
        b"{",
        b"\xff\xfe",
        br#"{"stream":"x","data":{"e":"depthUpdate","s":"BTCUSDT","U":7,"u":6,"b":[],"a":[]}}"#,
        br#"{"e":"trade","s":"BTCUSDT","t":1,"p":"1.001","q":"1","m":true}"#,
        br#"{"e":"trade","s":"NOPE","t":1,"p":"1","q":"1","m":true}"#,
        br#"{"e":"depthUpdate","s":"BTCUSDT","U":101,"u":102,"b":"x","a":[]}"#,
        br#"{"e":"depthUpdate","s":"BTCUSDT","U":103,"u":104,"b":[["1.00","x"]],"a":[]}"#,
    ];
    for kind in KernelKind::ALL {
        let Some((scan, tape)) = crate::pair(spot, kind) else { continue };
        let (mut scan, mut tape) = (seeded(scan), seeded(tape));
        for f in bad {
            let (_, r) = same_frame(&mut scan, &mut tape, f, kind.name());
            assert!(r.is_err(), "{}: {}", kind.name(), String::from_utf8_lossy(f));
        }
    }
}

//! Parse and apply, per venue, on its real capture: ladderfeed's engine (simd-json tape into
//! the ladder, checksums verified, BBO published to a discarding sink) against a plain
//! serde_json + `BTreeMap` reference doing the same work (`benches/reference`), in one run.
//!
//! `cargo bench --bench venues`. Before timing, both run once and must agree on every final
//! BBO (a guard that the comparison is honest). Throughput is bytes of frames; ns per message
//! is printed at the end (time per pass / frames).

mod reference;

use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ladderfeed::book::{InstrumentRegistry, Venue};
use ladderfeed::capture::{self, Record, RecordKind};
use ladderfeed::engine::{Engine, Sink};
use ladderfeed::event::Event;
use ladderfeed::venue::binance::Binance;
use ladderfeed::venue::bitfinex::Bitfinex;
use ladderfeed::venue::coinbase::{CoinbaseAdvanced, CoinbaseExchange};
use ladderfeed::venue::gemini::GeminiV2;
use ladderfeed::venue::kraken::KrakenV1;
use ladderfeed::venue::okx::Okx;
use ladderfeed::venue::Adapter;
use reference::{LevelBook, Reference};

struct Discard;

impl Sink for Discard {
    #[inline]
    fn publish(&mut self, event: Event) {
        black_box(event);
    }
}

fn load(files: &[&str], limit: usize) -> Vec<Record> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let mut paths = Vec::new();
    for f in files {
        let p = root.join(f);
        paths.extend(capture::companions(&p));
        paths.push(p);
    }
    paths.sort();
    paths.dedup();
    let recs: Vec<Record> = capture::open_merged(&paths)
        .expect("capture")
        .filter_map(Result::ok)
        .filter(|r| matches!(r.kind, RecordKind::Recv | RecordKind::Http))
        .collect();
    recs.into_iter().take(limit).collect()
}

fn run_engine<A: Adapter>(engine: &mut Engine<A>, recs: &[Record]) {
    let mut sink = Discard;
    for r in recs {
        let _ = match r.kind {
            RecordKind::Recv => engine.handle_frame(&r.payload, r.local_ts, &mut sink),
            _ => engine.handle_http(&r.url, &r.payload, r.local_ts, &mut sink),
        };
    }
}

fn run_reference(venue: Venue, recs: &[Record], default_symbol: &str) -> Reference {
    let mut r = Reference::new(venue);
    for rec in recs {
        let http = rec.kind == RecordKind::Http;
        if http {
            let sym = rec.url.split("symbol=").nth(1).map(|s| s.split('&').next().unwrap_or(s));
            r.expect_snapshot(sym.unwrap_or(default_symbol));
        }
        r.handle(&rec.payload, http);
    }
    r
}

/// Checks both implementations end on the same BBO for every book the engine synced.
fn guard<A: Adapter>(name: &str, engine: &Engine<A>, r: &Reference) {
    let mut compared = 0;
    for (i, info) in engine.symbols().list().iter().enumerate() {
        let s = i as u16;
        if engine.state(s) != Some(ladderfeed::event::BookState::Synced) {
            continue;
        }
        let bbo = engine.bbo(s).unwrap_or_default();
        // Compared as prices: the two may count them in different ticks (ladderfeed's
        // Bitfinex books take the tick their prices show, the reference the trades' 1e-8).
        let tick = info.instrument.tick;
        let ours = (Some(tick.format(bbo.bid_tick)), Some(tick.format(bbo.ask_tick)));
        let theirs = r
            .books
            .get(&info.key)
            .map(|(inst, b)| {
                let (rb, ra) = b.bbo();
                (rb.map(|t| inst.tick.format(t)), ra.map(|t| inst.tick.format(t)))
            })
            .unwrap_or_default();
        assert_eq!(ours, theirs, "{name} {}: engine and reference disagree", info.key);
        compared += 1;
    }
    assert!(compared > 0, "{name}: nothing compared");
    assert_eq!(r.checksum_failed, 0, "{name}: the reference's checksums failed");
}

struct Case {
    name: &'static str,
    venue: Venue,
    files: &'static [&'static str],
    limit: usize,
    default_symbol: &'static str,
}

const CASES: &[Case] = &[
    Case {
        name: "binance_spot",
        venue: Venue::Binance,
        files: &["binance/hftbacktest_spot_btcusdt_20240808.gz"],
        limit: usize::MAX,
        default_symbol: "BTCUSDT",
    },
    Case {
        name: "binance_futures",
        venue: Venue::BinanceFutures,
        files: &["binance/cryptofeed_BINANCE_FUTURES.ws.1.0"],
        limit: usize::MAX,
        default_symbol: "",
    },
    Case {
        name: "coinbase_advanced",
        venue: Venue::Coinbase,
        files: &["coinbase/cryptofeed-v3_COINBASE.jsonl.zst"],
        limit: usize::MAX,
        default_symbol: "",
    },
    Case {
        name: "coinbase_exchange",
        venue: Venue::CoinbaseExchange,
        files: &["coinbase/cryptofeed_COINBASE.ws.28.0"],
        limit: usize::MAX,
        default_symbol: "",
    },
    Case {
        name: "gemini_v2",
        venue: Venue::Gemini,
        files: &["gemini/cryptofeed_GEMINI.ws.1.0"],
        limit: usize::MAX,
        default_symbol: "",
    },
    Case {
        name: "kraken_v1",
        venue: Venue::KrakenV1,
        files: &["kraken/cryptofeed_KRAKEN.ws.50.0"],
        limit: usize::MAX,
        default_symbol: "",
    },
    Case {
        name: "okx",
        venue: Venue::Okx,
        files: &["okx/cryptofeed_OKX.ws.1.0"],
        limit: usize::MAX,
        default_symbol: "",
    },
    Case {
        name: "bitfinex",
        venue: Venue::Bitfinex,
        files: &["bitfinex/marfusios_bitfinex_raw_2018-11-12.txt.gz"],
        limit: 100_000,
        default_symbol: "",
    },
];

fn bench_case<A: Adapter>(
    c: &mut Criterion,
    case: &Case,
    make: fn() -> A,
    table: &mut Vec<String>,
) {
    let recs = load(case.files, case.limit);
    let bytes: usize = recs.iter().map(|r| r.payload.len()).sum();
    let frames = recs.len();
    // The honesty guard: same final BBOs.
    let mut engine = Engine::new(make()).with_clock(|| 0);
    run_engine(&mut engine, &recs);
    let r = run_reference(case.venue, &recs, case.default_symbol);
    guard(case.name, &engine, &r);

    let mut g = c.benchmark_group(format!("venue/{}", case.name));
    g.throughput(Throughput::Bytes(bytes as u64));
    g.sample_size(10);
    g.warm_up_time(Duration::from_millis(500));
    g.measurement_time(Duration::from_secs(3));
    g.bench_function("ladderfeed", |b| {
        b.iter(|| {
            let mut e = Engine::new(make()).with_clock(|| 0);
            run_engine(&mut e, &recs);
            black_box(e.stats().frames)
        })
    });
    g.bench_function("serde_btreemap", |b| {
        b.iter(|| black_box(run_reference(case.venue, &recs, case.default_symbol).bbo_count))
    });
    g.finish();

    // A direct timing for the ns/message table (median of 5 passes each).
    let time = |f: &mut dyn FnMut()| {
        let mut v: Vec<f64> = (0..5)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed().as_nanos() as f64
            })
            .collect();
        v.sort_by(f64::total_cmp);
        v[2]
    };
    let ours = time(&mut || {
        let mut e = Engine::new(make()).with_clock(|| 0);
        run_engine(&mut e, &recs);
        black_box(e.stats().frames);
    });
    let theirs = time(&mut || {
        black_box(run_reference(case.venue, &recs, case.default_symbol).bbo_count);
    });
    let mb = bytes as f64 / 1e6;
    table.push(format!(
        "| {} | {frames} | {mb:.2} | {:.0} | {:.0} | {:.0} | {:.0} | {:.1}x |",
        case.name,
        ours / frames as f64,
        mb / (ours / 1e9),
        theirs / frames as f64,
        mb / (theirs / 1e9),
        theirs / ours
    ));
}

fn venues(c: &mut Criterion) {
    fn reg() -> InstrumentRegistry {
        InstrumentRegistry::with_builtins()
    }
    let mut table = Vec::new();
    for case in CASES {
        match case.venue {
            Venue::Binance => bench_case(c, case, || Binance::spot(reg()), &mut table),
            Venue::BinanceFutures => bench_case(c, case, || Binance::futures(reg()), &mut table),
            Venue::Coinbase => bench_case(c, case, || CoinbaseAdvanced::new(reg()), &mut table),
            Venue::CoinbaseExchange => {
                bench_case(c, case, || CoinbaseExchange::new(reg()), &mut table)
            }
            Venue::Gemini => bench_case(c, case, || GeminiV2::new(reg()), &mut table),
            Venue::KrakenV1 => bench_case(c, case, || KrakenV1::new(reg()), &mut table),
            Venue::Okx => bench_case(c, case, || Okx::new(reg()), &mut table),
            Venue::Bitfinex => bench_case(c, case, || Bitfinex::new(reg()), &mut table),
            _ => {}
        }
    }
    eprintln!("\n| capture | frames | MB | ladderfeed ns/msg | ladderfeed MB/s | serde+BTreeMap ns/msg | serde+BTreeMap MB/s | ratio |");
    eprintln!("|---|---:|---:|---:|---:|---:|---:|---:|");
    for row in table {
        eprintln!("{row}");
    }
}

criterion_group!(benches, venues);
criterion_main!(benches);

//! The producer against the parse floor, per venue capture, in one run.
//!
//! - **parse floor**: each frame copied into a padded reused buffer and parsed by simd-json
//!   into a reused tape (`venue::json::Scratch::parse` with a callback that does nothing):
//!   the least any simd-json based handler does per message.
//! - **producer**: the replay engine thread's work per message: the venue adapter (the same
//!   parse, then sequencing, ticks and lots, checksums), the book, and every resulting event
//!   published onto the real ring (`ring::feed`) that a consumer thread on the other core
//!   drains, as `ladderfeed replay` runs it.
//!
//! - **scan floor** (Binance, Bitfinex, BitMEX, Bybit, Coinbase Advanced and Exchange, Gemini
//!   v2, Hyperliquid, Kraken v1 and OKX captures): the venue scanner's walk of each frame
//!   (`venue::scan::advanced::CoinbaseAdvancedScanner`, `venue::scan::binance::BinanceScanner`, `venue::scan::bitfinex::BitfinexScanner`,
//!   `venue::scan::bitmex::BitmexScanner`, `venue::scan::bybit::BybitScanner`,
//!   `venue::scan::coinbase::CoinbaseExchangeScanner`, `venue::scan::gemini::GeminiScanner`,
//!   `venue::scan::hyperliquid::HyperliquidScanner`,
//!   `venue::scan::kraken::KrakenV1Scanner`, `venue::scan::okx::OkxScanner`), simd-json's
//!   parse for the frames it leaves to it: the least the default `--parser scan` does per
//!   message. These scanners keep their first level buffer (4,096 offsets): a frame deeper
//!   than that (one Coinbase Exchange snapshot of the bundled capture) counts here as left to
//!   simd-json, though the adapter's scanner grows its buffer and reads it. The BitMEX,
//!   Coinbase Advanced and Gemini scanners grow it, as their adapters do: BitMEX's `partial`s
//!   and Coinbase Advanced's snapshots (most of their captures' bytes) hold thousands of rows.
//! - **producer (simd-json)** (Binance, Bitfinex, BitMEX, Bybit, Coinbase Advanced and
//!   Exchange, Gemini v2, Hyperliquid, Kraken v1 and OKX captures):
//!   the producer with `--parser simd-json`, the reference path, in the same run.
//!
//! The engine is built and warmed once; between passes the connection is dropped
//! (`Engine::disconnected`), so every pass resyncs from the capture's own snapshots and does
//! the same work (checked: each pass publishes the same number of events) without paying
//! for new ladders. Target (issue 5): producer ≤ 1.5x the parse floor per message.
//!
//! `cargo bench --bench producer` (the table is printed to stderr at the end;
//! `PRODUCER_CASES=binance_spot,okx` runs only those captures, e.g. under a profiler).

#[path = "captures.rs"]
mod captures;

use captures::{drain_in_background, engine_pass, load, Case, CASES};
use std::hint::black_box;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ladderfeed::book::InstrumentRegistry;
use ladderfeed::book::Venue;
use ladderfeed::capture::Record;
use ladderfeed::engine::{Engine, Sink};
use ladderfeed::event::Event;
use ladderfeed::ring::feed::{self, Publisher};
use ladderfeed::venue::json::Scratch;
use ladderfeed::venue::scan::advanced::CoinbaseAdvancedScanner;
use ladderfeed::venue::scan::binance::BinanceScanner;
use ladderfeed::venue::scan::bitfinex::BitfinexScanner;
use ladderfeed::venue::scan::bitmex::BitmexScanner;
use ladderfeed::venue::scan::bybit::BybitScanner;
use ladderfeed::venue::scan::coinbase::CoinbaseExchangeScanner;
use ladderfeed::venue::scan::gemini::GeminiScanner;
use ladderfeed::venue::scan::hyperliquid::HyperliquidScanner;
use ladderfeed::venue::scan::kraken::KrakenV1Scanner;
use ladderfeed::venue::scan::okx::OkxScanner;
use ladderfeed::venue::{AnyAdapter, Parser, ScanControls};

/// The ring sink, counting what it published.
struct Ring<'a> {
    publisher: &'a mut Publisher,
    events: u64,
}

impl Sink for Ring<'_> {
    #[inline]
    fn publish(&mut self, event: Event) {
        self.events += 1;
        self.publisher.publish(event);
    }
}

/// One pass of the producer over the capture; returns the events published.
fn produce(engine: &mut Engine<AnyAdapter>, publisher: &mut Publisher, recs: &[Record]) -> u64 {
    let mut sink = Ring { publisher, events: 0 };
    engine_pass(engine, recs, &mut sink);
    engine.disconnected(0, &mut sink);
    sink.events
}

/// A sink that drops every event (the engine alone, without the ring).
struct Discard;

impl Sink for Discard {
    #[inline]
    fn publish(&mut self, event: Event) {
        black_box(event);
    }
}

/// One pass of the engine alone into [`Discard`].
fn engine_only(engine: &mut Engine<AnyAdapter>, recs: &[Record]) {
    let mut sink = Discard;
    engine_pass(engine, recs, &mut sink);
    engine.disconnected(0, &mut sink);
}

/// One pass of the parse floor; returns the number of frames that parsed.
fn floor(scratch: &mut Scratch, recs: &[Record]) -> u64 {
    let mut ok = 0;
    for r in recs {
        if scratch.parse(&r.payload, false, |_root| Ok(())).is_ok() {
            ok += 1;
        }
    }
    ok
}

/// A venue's scanner, for the scan floor.
enum Scanner {
    Binance(BinanceScanner),
    Bitfinex(BitfinexScanner),
    Bitmex(BitmexScanner),
    Bybit(BybitScanner),
    CoinbaseExchange(CoinbaseExchangeScanner),
    CoinbaseAdvanced(CoinbaseAdvancedScanner),
    Gemini(GeminiScanner),
    Hyperliquid(HyperliquidScanner),
    KrakenV1(KrakenV1Scanner),
    Okx(OkxScanner),
}

impl Scanner {
    fn recognises(&mut self, frame: &[u8]) -> bool {
        match self {
            Scanner::Binance(s) => s.recognises(frame),
            Scanner::Bitfinex(s) => s.recognises(frame),
            Scanner::Bitmex(s) => s.recognises(frame),
            Scanner::Bybit(s) => s.recognises(frame),
            Scanner::CoinbaseExchange(s) => s.recognises(frame),
            Scanner::CoinbaseAdvanced(s) => s.recognises(frame),
            Scanner::Gemini(s) => s.recognises(frame),
            Scanner::Hyperliquid(s) => s.recognises(frame),
            Scanner::KrakenV1(s) => s.recognises(frame),
            Scanner::Okx(s) => s.recognises(frame),
        }
    }
}

/// One pass of the scan floor: the scanner's walk, simd-json for the frames it does not
/// recognise; returns the frames the scanner read.
fn scan_floor(scanner: &mut Scanner, scratch: &mut Scratch, recs: &[Record]) -> u64 {
    let mut scanned = 0;
    for r in recs {
        if scanner.recognises(&r.payload) {
            scanned += 1;
        } else {
            black_box(scratch.parse(&r.payload, false, |_root| Ok(())).is_ok());
        }
    }
    scanned
}

/// Median of `n` timed runs, in ns.
fn median_ns(n: usize, f: &mut dyn FnMut()) -> f64 {
    let mut v: Vec<f64> = (0..n)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_nanos() as f64
        })
        .collect();
    v.sort_by(f64::total_cmp);
    v[n / 2]
}

fn bench_case(c: &mut Criterion, case: &Case, table: &mut Vec<String>) {
    let recs = load(&PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures"), case);
    let bytes: usize = recs.iter().map(|r| r.payload.len()).sum();
    let n = recs.len();

    let (mut publisher, subscription) = feed::feed(1 << 16, 4096);
    let (stop, consumer) = drain_in_background(subscription);
    let adapter =
        AnyAdapter::new(case.venue, InstrumentRegistry::with_builtins(), None).expect("adapter");
    let mut engine = Engine::new(adapter);
    let binance =
        matches!(case.venue, Venue::Binance | Venue::BinanceFutures | Venue::BinanceCoinM);
    let bybit = matches!(case.venue, Venue::BybitSpot | Venue::BybitLinear | Venue::BybitInverse);
    let scans = binance
        || bybit
        || matches!(
            case.venue,
            Venue::Bitfinex
                | Venue::Bitmex
                | Venue::Coinbase
                | Venue::CoinbaseExchange
                | Venue::Gemini
                | Venue::Hyperliquid
                | Venue::KrakenV1
                | Venue::Okx
        );
    // The reference path in the same run (the venues with a scanner of whole frames).
    let mut reference = scans.then(|| {
        let mut a = AnyAdapter::new(case.venue, InstrumentRegistry::with_builtins(), None)
            .expect("adapter");
        a.set_parser(Parser::SimdJson);
        Engine::new(a)
    });
    // Warm-up passes: ladders allocated and touched, until two passes in a row do the same
    // work: the same frames handled, the same skipped as stale or waiting, the same errors,
    // the same events published. The first (cold) passes may differ: a symbol first met in a
    // trade before its book (BitMEX's UNIUSDT) is an error once and known from then on, and
    // the trade published in the second pass is a duplicate id in the third. (A warm pass
    // also publishes fewer events than the first: trades whose id was already published are
    // not published again after a reconnect.)
    let stats = |e: &Engine<AnyAdapter>| {
        let s = e.stats();
        [s.frames, s.http, s.control, s.stale, s.waiting, s.errors.total()]
    };
    let pass_of = |a: [u64; 6], b: [u64; 6]| std::array::from_fn::<u64, 6, _>(|i| b[i] - a[i]);
    let mut events = vec![produce(&mut engine, &mut publisher, &recs)];
    let mut totals = vec![[0; 6], stats(&engine)];
    while events.len() < 2 || {
        let n = totals.len();
        events[n - 2] != events[n - 3]
            || pass_of(totals[n - 2], totals[n - 1]) != pass_of(totals[n - 3], totals[n - 2])
    } {
        assert!(events.len() < 5, "{}: passes do not settle to the same work", case.name);
        events.push(produce(&mut engine, &mut publisher, &recs));
        totals.push(stats(&engine));
    }
    let (first, warm) = (events[0], events[events.len() - 1]);
    let frames = pass_of(totals[0], totals[1])[0];
    assert_eq!(
        frames * events.len() as u64,
        totals[totals.len() - 1][0],
        "{}: frames differ between passes",
        case.name
    );
    let fallbacks = engine.stats().scanner_fallbacks;
    if let Some(r) = reference.as_mut() {
        let reference: Vec<u64> =
            events.iter().map(|_| produce(r, &mut publisher, &recs)).collect();
        assert_eq!(reference, events, "{}: the parsers publish differently", case.name);
        assert_eq!(r.stats().frames, totals[totals.len() - 1][0], "{}", case.name);
    }
    let mut scratch = Scratch::new();
    let parsed = floor(&mut scratch, &recs);
    let mut scanner = match case.venue {
        _ if binance => Scanner::Binance(BinanceScanner::new()),
        Venue::Bitfinex => Scanner::Bitfinex(BitfinexScanner::new()),
        Venue::Bitmex => Scanner::Bitmex(BitmexScanner::new()),
        Venue::CoinbaseExchange => Scanner::CoinbaseExchange(CoinbaseExchangeScanner::new()),
        Venue::Coinbase => Scanner::CoinbaseAdvanced(CoinbaseAdvancedScanner::new()),
        Venue::Gemini => Scanner::Gemini(GeminiScanner::new()),
        Venue::Hyperliquid => Scanner::Hyperliquid(HyperliquidScanner::new()),
        _ if bybit => Scanner::Bybit(BybitScanner::new()),
        Venue::KrakenV1 => Scanner::KrakenV1(KrakenV1Scanner::new()),
        _ => Scanner::Okx(OkxScanner::new()),
    };
    let scanned = scan_floor(&mut scanner, &mut scratch, &recs);

    let mut g = c.benchmark_group(format!("producer/{}", case.name));
    g.throughput(Throughput::Bytes(bytes as u64));
    g.sample_size(10);
    g.warm_up_time(Duration::from_millis(300));
    g.measurement_time(Duration::from_secs(2));
    g.bench_function("parse_floor", |b| b.iter(|| black_box(floor(&mut scratch, &recs))));
    if scans {
        g.bench_function("scan_floor", |b| {
            b.iter(|| black_box(scan_floor(&mut scanner, &mut scratch, &recs)))
        });
    }
    g.bench_function("producer", |b| {
        b.iter(|| black_box(produce(&mut engine, &mut publisher, &recs)))
    });
    if let Some(r) = reference.as_mut() {
        g.bench_function("producer_simd_json", |b| {
            b.iter(|| black_box(produce(r, &mut publisher, &recs)))
        });
    }
    g.finish();

    if std::env::args().any(|a| a == "--profile-time") {
        // Under a profiler (`--bench --profile-time N '<case>/producer$'`; without the `$`
        // the filter also matches `producer_simd_json`, whose samples then mix in) only the
        // criterion loop runs: the table's timed passes would add the floor and the engine
        // alone to the producer thread's samples.
        stop.store(true, Ordering::Relaxed);
        consumer.join().expect("consumer");
        return;
    }
    let floor_ns = median_ns(11, &mut || {
        black_box(floor(&mut scratch, &recs));
    });
    let prod_ns = median_ns(11, &mut || {
        black_box(produce(&mut engine, &mut publisher, &recs));
    });
    let (mut scan_ns, mut ref_ns) = (f64::NAN, f64::NAN);
    if let Some(r) = reference.as_mut() {
        scan_ns = median_ns(11, &mut || {
            black_box(scan_floor(&mut scanner, &mut scratch, &recs));
        });
        ref_ns = median_ns(11, &mut || {
            black_box(produce(r, &mut publisher, &recs));
        });
    }
    stop.store(true, Ordering::Relaxed);
    let consumed = consumer.join().expect("consumer");
    // The engine alone, with the other core idle.
    let alone_ns = median_ns(11, &mut || engine_only(&mut engine, &recs));
    let dropped = publisher.stats().dropped;
    let mb = bytes as f64 / 1e6;
    let per = |ns: f64| ns / n as f64;
    table.push(format!(
        "| {} | {n} | {mb:.2} | {parsed} | {first} / {warm} | {:.0} | {:.0} | {:.0} | {:.0} | {:.2}x | {:.0} | {} | {dropped} | {:.0} | {scanned} / {} | {:.0} | {:.2}x |",
        case.name,
        per(floor_ns),
        mb / (floor_ns / 1e9),
        per(prod_ns),
        mb / (prod_ns / 1e9),
        prod_ns / floor_ns,
        per(alone_ns),
        consumed,
        per(scan_ns),
        fallbacks / 2,
        per(ref_ns),
        ref_ns / floor_ns,
    ));
}

fn producer(c: &mut Criterion) {
    // `PRODUCER_CASES=binance_spot,okx` runs only those captures (so a profiler sees one).
    let only = std::env::var("PRODUCER_CASES").ok();
    let wanted = |name: &str| only.as_deref().is_none_or(|o| o.split(',').any(|w| w == name));
    let mut table = Vec::new();
    for case in CASES.iter().filter(|case| wanted(case.name)) {
        bench_case(c, case, &mut table);
    }
    eprintln!(
        "\n| capture | messages | MB | parsed | events first / warm pass | floor ns/msg | floor MB/s | producer ns/msg | producer MB/s | producer / floor | engine alone ns/msg | events consumed | ring drops | scan floor ns/msg | scanned / fallbacks per pass | producer (simd-json) ns/msg | producer (simd-json) / floor |"
    );
    eprintln!(
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    for row in table {
        eprintln!("{row}");
    }
}

criterion_group!(benches, producer);
criterion_main!(benches);

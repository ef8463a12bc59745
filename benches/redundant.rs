//! What redundant lines cost (issue 21): a recorded session fed each frame of a real capture
//! once (one line), against the same session with two lines fed every frame twice (the second
//! copy a duplicate the arbiter drops), and with line 1 one frame behind line 0 and line 0
//! losing every 7th record (its next message of that book held until line 1 fills the gap;
//! for the venues arbitrated by content, Kraken v1 and Coinbase Exchange, line 1 is the one
//! losing, as a loss on the line in front resyncs the book). All three in one run; time per
//! venue message (a capture frame), not per copy.
//!
//! `cargo bench --bench redundant` (`-- --quick` for a short pass). Before timing, each case
//! runs once and must end on the same BBO of every book as the one-line case.

use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ladderfeed::book::{InstrumentRegistry, Venue};
use ladderfeed::capture::{self, Record, RecordKind};
use ladderfeed::engine::Sink;
use ladderfeed::event::{Bbo, Event};
use ladderfeed::session::{HttpResponse, Session};

struct Discard;

impl Sink for Discard {
    #[inline]
    fn publish(&mut self, event: Event) {
        black_box(event);
    }
}

fn load(file: &str) -> Vec<Record> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures").join(file);
    let mut paths = capture::companions(&p);
    paths.push(p);
    capture::open_merged(&paths).expect("capture").filter_map(Result::ok).collect()
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Case {
    OneLine,
    TwoLines,
    TwoLinesLossy,
}

/// One pass over `records` as `case` says; returns the session (its books).
fn run(venue: Venue, records: &[Record], case: Case, lossy: usize) -> Session {
    let lines = if case == Case::OneLine { 1 } else { 2 };
    let mut s =
        Session::recorded_lines(venue, InstrumentRegistry::with_builtins(), None, 0..1024, lines)
            .expect("session")
            .with_clock(|| 0);
    for l in 0..lines {
        s.handle_connected_on(l, 0);
    }
    let mut sink = Discard;
    let mut behind: Option<&Record> = None;
    for (i, r) in records.iter().enumerate() {
        match r.kind {
            RecordKind::Recv => match case {
                Case::OneLine => {
                    let _ = s.handle_frame(&r.payload, r.local_ts, &mut sink);
                }
                Case::TwoLines => {
                    let _ = s.handle_frame_on(0, &r.payload, r.local_ts, &mut sink);
                    let _ = s.handle_frame_on(1, &r.payload, r.local_ts + 1_000, &mut sink);
                }
                Case::TwoLinesLossy => {
                    if lossy != 0 || i % 7 != 3 {
                        let _ = s.handle_frame_on(0, &r.payload, r.local_ts, &mut sink);
                    }
                    if let Some(b) = behind.replace(r) {
                        if lossy != 1 || (i - 1) % 7 != 3 {
                            let _ = s.handle_frame_on(1, &b.payload, r.local_ts + 1_000, &mut sink);
                        }
                    }
                }
            },
            RecordKind::Http => {
                let ok = HttpResponse { status: 200, retry_after: None, body: &r.payload };
                let _ = s.handle_http(&r.url, ok, r.local_ts, &mut sink);
            }
            _ => {}
        }
    }
    if let Some(b) = behind {
        let _ = s.handle_frame_on(1, &b.payload, b.local_ts + 1_000, &mut sink);
    }
    s
}

/// Every book's final BBO, by symbol (books are numbered in the order they first appear,
/// which the arbitration may change).
fn finals(s: &Session) -> std::collections::BTreeMap<String, Option<Bbo>> {
    let e = s.engine();
    e.symbols().list().iter().enumerate().map(|(i, x)| (x.key.clone(), e.bbo(i as u16))).collect()
}

fn bench(c: &mut Criterion) {
    let captures = [
        ("binance_spot", Venue::Binance, "binance/hftbacktest_spot_btcusdt_20240808.gz", 0),
        (
            "kraken_futures",
            Venue::KrakenFutures,
            "krakenfutures/cryptofeed_KRAKEN_FUTURES.ws.1.0",
            0,
        ),
        ("deribit", Venue::Deribit, "deribit/cryptofeed_DERIBIT.ws.1.0", 0),
        // Arbitrated by content: the line behind (line 1) is the lossy one, as a loss on the
        // line in front resyncs the book.
        ("kraken_v1_content", Venue::KrakenV1, "kraken/cryptofeed_KRAKEN.ws.50.0", 1),
        (
            "coinbase_exchange_content",
            Venue::CoinbaseExchange,
            "coinbase/cryptofeed_COINBASE.ws.28.0",
            1,
        ),
    ];
    let cases = [
        ("one_line", Case::OneLine),
        ("two_lines", Case::TwoLines),
        ("two_lines_lossy", Case::TwoLinesLossy),
    ];
    let mut table = Vec::new();
    for (name, venue, file, lossy) in captures {
        let records = load(file);
        let frames = records.iter().filter(|r| r.kind == RecordKind::Recv).count();
        let want = finals(&run(venue, &records, Case::OneLine, lossy));
        let mut g = c.benchmark_group(format!("redundant/{name}"));
        g.throughput(Throughput::Elements(frames as u64));
        for (case_name, case) in cases {
            assert_eq!(finals(&run(venue, &records, case, lossy)), want, "{name} {case_name}");
            g.bench_function(case_name, |b| {
                b.iter(|| black_box(run(venue, &records, case, lossy)))
            });
            // A plain timing for the summary table (criterion's own estimate is in its report).
            let t = Instant::now();
            let mut n = 0u32;
            while t.elapsed() < Duration::from_millis(300) || n < 3 {
                black_box(run(venue, &records, case, lossy));
                n += 1;
            }
            let ns = t.elapsed().as_nanos() as f64 / f64::from(n) / frames as f64;
            table.push((name, case_name, frames, ns));
        }
        g.finish();
    }
    println!("\n| capture | frames | one line ns/msg | two lines ns/msg | two lines, one losing 1 in 7 ns/msg |");
    println!("|---|---:|---:|---:|---:|");
    for chunk in table.chunks(3) {
        println!(
            "| {} | {} | {:.0} | {:.0} ({:.2}x) | {:.0} ({:.2}x) |",
            chunk[0].0,
            chunk[0].2,
            chunk[0].3,
            chunk[1].3,
            chunk[1].3 / chunk[0].3,
            chunk[2].3,
            chunk[2].3 / chunk[0].3
        );
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3)).sample_size(10);
    targets = bench
}
criterion_main!(benches);

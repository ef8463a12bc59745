//! Fan-out, side by side in one run: the in-process ring, iceoryx2 to another process, Zenoh to
//! another process over loopback TCP.
//!
//! For each path:
//!
//! - **publish cost**: nanoseconds on the publishing thread per record, (a) one record per
//!   sample (what a paced feed pays: every message sent at once) and (b) saturated, 64
//!   records per sample (the batch a busy consumer thread sends);
//! - **one-way latency**: paced at 10,000 records/s, one record per sample; each record
//!   carries `CLOCK_REALTIME` taken just before it is pushed, and the receiving process (or
//!   thread, for the ring) records `now - stamp` into a histogram: p50, p99, p99.9;
//! - **saturated throughput**: records/s the receiver takes when the publisher sends as fast
//!   as it can, and the share it lost (the publisher never waits);
//! - **stalled subscriber**: the publish cost again while a subscriber process is stopped
//!   (SIGSTOP) the whole time, against the cost with it running.
//!
//! Waiting threads (the pacing publisher, every receiver) yield instead of spinning, the same
//! for the three paths: on a 2-core host, Zenoh's runtime threads (its TX task in the
//! publisher, its RX task in the receiver) need a core, and two spinning threads starve them.
//!
//! `cargo bench --bench fanout` (prints a Markdown table; `FANOUT_RECORDS=N` sets the
//! saturated run's length, default 2,000,000). The receiving processes are this binary run
//! again with `FANOUT_CHILD=SPEC`.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use ladderfeed::clock::realtime_ns;
use ladderfeed::event::{Bbo, BookState, Event, Stamps};
use ladderfeed::fanout::{self, Fanout};
use ladderfeed::ring::feed;

const PACED_RATE: u64 = 10_000;
const PACED_RECORDS: u64 = 20_000;

fn record(i: u64) -> Event {
    let now = realtime_ns();
    let stamps = Stamps { exch_ts: now, local_ts: now, parsed_ts: now };
    let bbo = Bbo { bid_tick: i as i64, bid_lots: 1, ask_tick: i as i64 + 1, ask_lots: 1 };
    Event::bbo(stamps, (i % 8) as u16, BookState::Synced, bbo)
}

/// What a receiver reports.
#[derive(Debug, Default, Clone)]
struct Received {
    records: u64,
    lost: u64,
    p50: u64,
    p99: u64,
    p999: u64,
    /// From the first record received to the last.
    span_ns: u64,
}

impl Received {
    fn line(&self) -> String {
        format!(
            "RESULT {} {} {} {} {} {}",
            self.records, self.lost, self.p50, self.p99, self.p999, self.span_ns
        )
    }

    fn parse(line: &str) -> Option<Received> {
        let v: Vec<u64> =
            line.strip_prefix("RESULT ")?.split(' ').filter_map(|x| x.parse().ok()).collect();
        let [records, lost, p50, p99, p999, span_ns] = v[..] else { return None };
        Some(Received { records, lost, p50, p99, p999, span_ns })
    }

    fn rate(&self) -> f64 {
        self.records as f64 / (self.span_ns.max(1) as f64 / 1e9)
    }
}

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000_000, 3).unwrap()
}

/// The receiving process: reads until the stream ends, then prints its figures.
fn child(spec: &str) {
    let mut sub = fanout::subscribe_to(spec, fanout::DEFAULT_QUEUE).unwrap();
    println!("READY");
    std::io::stdout().flush().unwrap();
    let mut hist = histogram();
    let (mut first, mut last) = (0u64, 0u64);
    let deadline = Instant::now() + Duration::from_secs(120);
    while !sub.stats().ended && Instant::now() < deadline {
        let n = sub
            .poll(|ev| {
                let now = realtime_ns();
                if first == 0 {
                    first = now;
                }
                last = now;
                let _ = hist.record(now.saturating_sub(ev.local_ts()).max(1));
            })
            .unwrap();
        if n == 0 {
            // Yield, not spin: on 2 cores the transport's own threads (Zenoh's runtime) need
            // a core too.
            std::thread::yield_now();
        }
    }
    let s = sub.stats();
    let r = Received {
        records: s.records,
        lost: s.lost,
        p50: hist.value_at_quantile(0.5),
        p99: hist.value_at_quantile(0.99),
        p999: hist.value_at_quantile(0.999),
        span_ns: last.saturating_sub(first),
    };
    println!("{}", r.line());
}

struct Receiver {
    child: Child,
    out: BufReader<std::process::ChildStdout>,
}

impl Receiver {
    fn start(spec: &str) -> Receiver {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .env("FANOUT_CHILD", spec)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        assert_eq!(line.trim(), "READY", "receiver for {spec} did not start");
        Receiver { child, out }
    }

    fn result(mut self) -> Received {
        let mut line = String::new();
        let mut found = None;
        while self.out.read_line(&mut line).unwrap_or(0) > 0 {
            if let Some(r) = Received::parse(line.trim()) {
                found = Some(r);
            }
            line.clear();
        }
        let _ = self.child.wait();
        found.expect("the receiver printed no result")
    }
}

fn open(spec: &str) -> Fanout {
    let mut f = Fanout::new(vec![fanout::publish_to(spec).unwrap()]);
    assert!(f.wait_for_subscribers(Duration::from_secs(30)), "no subscriber on {spec}");
    // Let the subscriber's side settle (Zenoh declares interest asynchronously).
    let settle = Instant::now() + Duration::from_millis(300);
    while Instant::now() < settle {
        f.idle();
    }
    f
}

/// Paced: one record per sample at `PACED_RATE`; returns the publish cost per record (ns).
fn paced(f: &mut Fanout) -> f64 {
    let period = 1_000_000_000 / PACED_RATE;
    let start = realtime_ns();
    let mut spent = 0u64;
    for i in 0..PACED_RECORDS {
        let due = start + i * period;
        while realtime_ns() < due {
            std::thread::yield_now();
        }
        let t = Instant::now();
        f.push(&record(i), realtime_ns());
        f.flush();
        spent += t.elapsed().as_nanos() as u64;
    }
    spent as f64 / PACED_RECORDS as f64
}

/// Saturated: `n` records as fast as they go (samples of 64); returns ns per record.
fn saturated(f: &mut Fanout, n: u64) -> f64 {
    let t = Instant::now();
    for i in 0..n {
        let ev = record(i);
        f.push(&ev, ev.local_ts());
    }
    f.flush();
    t.elapsed().as_nanos() as f64 / n as f64
}

struct Row {
    path: &'static str,
    paced_cost: f64,
    saturated_cost: f64,
    latency: Received,
    throughput: Received,
    stalled_cost: Option<(f64, f64)>,
}

fn transport_row(path: &'static str, spec_for: &dyn Fn(&str) -> String, n: u64) -> Row {
    // Latency, paced.
    let spec = spec_for("paced");
    let rx = Receiver::start(&spec);
    let mut f = open(&spec);
    let paced_cost = paced(&mut f);
    f.finish();
    let latency = rx.result();
    // Throughput, saturated.
    let spec = spec_for("saturated");
    let rx = Receiver::start(&spec);
    let mut f = open(&spec);
    let saturated_cost = saturated(&mut f, n);
    f.finish();
    let throughput = rx.result();
    // The same saturated publishing with the subscriber stopped.
    let spec = spec_for("stalled");
    let rx = Receiver::start(&spec);
    let mut f = open(&spec);
    let warm = saturated(&mut f, n / 4);
    let pid = rx.child.id().to_string();
    let _ = Command::new("kill").args(["-STOP", &pid]).status();
    let stalled = saturated(&mut f, n / 4);
    let _ = Command::new("kill").args(["-CONT", &pid]).status();
    f.finish();
    let _ = rx.result();
    Row {
        path,
        paced_cost,
        saturated_cost,
        latency,
        throughput,
        stalled_cost: Some((warm, stalled)),
    }
}

/// The in-process ring: a producer (this thread) and a consumer thread.
fn ring_row(n: u64) -> Row {
    let run = |paced_mode: bool, count: u64| -> (f64, Received) {
        let (mut publisher, mut subscription) = feed::feed(1 << 16, 16);
        let consumer = std::thread::spawn(move || {
            let mut hist = histogram();
            let (mut got, mut first, mut last) = (0u64, 0u64, 0u64);
            let mut next = 0u32;
            let mut lost = 0u64;
            while got + lost < count {
                if let Some(ev) = subscription.try_pop() {
                    let now = realtime_ns();
                    if first == 0 {
                        first = now;
                    }
                    last = now;
                    lost += u64::from(ev.seq().wrapping_sub(next));
                    next = ev.seq().wrapping_add(1);
                    got += 1;
                    let _ = hist.record(now.saturating_sub(ev.local_ts()).max(1));
                } else {
                    std::thread::yield_now();
                }
            }
            Received {
                records: got,
                lost,
                p50: hist.value_at_quantile(0.5),
                p99: hist.value_at_quantile(0.99),
                p999: hist.value_at_quantile(0.999),
                span_ns: last - first,
            }
        });
        let period = 1_000_000_000 / PACED_RATE;
        let start = realtime_ns();
        let mut spent = 0u64;
        let t0 = Instant::now();
        for i in 0..count {
            if paced_mode {
                let due = start + i * period;
                while realtime_ns() < due {
                    std::thread::yield_now();
                }
            }
            let ev = record(i);
            let t = Instant::now();
            // Lossless, as a replay publishes: wait for room rather than drop.
            while publisher.free_slots() == 0 {
                std::hint::spin_loop();
            }
            publisher.publish(ev);
            if paced_mode {
                spent += t.elapsed().as_nanos() as u64;
            }
        }
        if !paced_mode {
            spent = t0.elapsed().as_nanos() as u64;
        }
        (spent as f64 / count as f64, consumer.join().unwrap())
    };
    let (paced_cost, latency) = run(true, PACED_RECORDS);
    let (saturated_cost, throughput) = run(false, n);
    Row {
        path: "in-process ring",
        paced_cost,
        saturated_cost,
        latency,
        throughput,
        stalled_cost: None,
    }
}

fn us(ns: u64) -> String {
    format!("{:.1}", ns as f64 / 1000.0)
}

fn main() {
    if let Ok(spec) = std::env::var("FANOUT_CHILD") {
        child(&spec);
        return;
    }
    // `cargo bench` passes `--bench`; `cargo test --benches` runs it as a quick check.
    let quick = !std::env::args().any(|a| a == "--bench");
    let n: u64 = std::env::var("FANOUT_RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if quick { 20_000 } else { 2_000_000 });
    if quick {
        eprintln!("fanout bench: quick check (run with `cargo bench --bench fanout` to measure)");
    }
    let pid = std::process::id();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let rows = [
        ring_row(n),
        transport_row("iceoryx2 (other process)", &|tag| format!("iceoryx2:bench/{pid}/{tag}"), n),
        transport_row(
            "Zenoh TCP loopback (other process)",
            &|tag| format!("zenoh:tcp/127.0.0.1:{port}#bench/{tag}"),
            n,
        ),
    ];
    println!("| path | publish, paced (ns/record) | publish, saturated (ns/record) | one-way p50 / p99 / p99.9 at {PACED_RATE}/s (µs) | saturated: received/s, lost | publish cost, subscriber running → stopped (ns/record) |");
    println!("|---|---:|---:|---:|---:|---:|");
    for r in &rows {
        let lost =
            r.throughput.lost as f64 / (r.throughput.records + r.throughput.lost).max(1) as f64;
        println!(
            "| {} | {:.0} | {:.1} | {} / {} / {} | {:.2} M/s, {:.1}% lost | {} |",
            r.path,
            r.paced_cost,
            r.saturated_cost,
            us(r.latency.p50),
            us(r.latency.p99),
            us(r.latency.p999),
            r.throughput.rate() / 1e6,
            lost * 100.0,
            r.stalled_cost.map_or("n/a (the ring is lossless here)".into(), |(a, b)| format!(
                "{a:.1} → {b:.1}"
            )),
        );
        assert_eq!(r.latency.lost, 0, "{}: the paced run lost records", r.path);
        assert!(
            r.latency.records == PACED_RECORDS,
            "{}: paced records {}",
            r.path,
            r.latency.records
        );
    }
}

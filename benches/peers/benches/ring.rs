//! The event ring against its peers, side by side in one run, producer and consumer pinned to
//! two different cores: ladderfeed's SPSC ring, `rtrb` 0.4 and `crossbeam-channel` (bounded),
//! all carrying ladderfeed's 64-byte `Event`.
//!
//! ```sh
//! cargo bench -p ladderfeed-peers --bench ring
//! ```
//!
//! Criterion groups:
//!
//! - `clock`: the cost of one timestamp (see `src/clock.rs`).
//! - `ring_push`: the producer's cost per push while the ring has room (bursts of 64 into an
//!   empty ring, the consumer draining concurrently on the other core).
//! - `ring_saturated`: throughput with a producer pushing as fast as it can (retrying when
//!   full) until the consumer has received every record.
//!
//! Then (not criterion, which is not built for percentiles) a table of one-way latency
//! percentiles with a paced producer: one record every 1.5 µs, stamped on the producer's core
//! and read on the consumer's, 200 000 records per ring after 20 000 of warm-up.
//! Under `cargo test --benches` everything runs once, briefly.

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use criterion::{criterion_group, BenchmarkId, Criterion, Throughput};
use hdrhistogram::Histogram;
use ladderfeed::clock::Clock;
use ladderfeed::consumer::{spawn_pinned, Cores};
use ladderfeed::event::{Bbo, BookState, Event, Stamps};
use ladderfeed::ring::{feed, spsc, Publisher, Subscription};

const CAPACITY: usize = 4096;
const BURST: usize = 64;

/// The producing half of a ring under test.
trait Tx: Send + 'static {
    /// Pushes, or hands the record back if full.
    fn push(&mut self, ev: Event) -> Result<(), Event>;
    /// `true` when the consumer has taken everything.
    fn drained(&mut self) -> bool;
}

/// The consuming half of a ring under test.
trait Rx: Send + 'static {
    /// Pops everything ready, calling `f` on each; returns how many.
    fn drain(&mut self, f: &mut dyn FnMut(&Event)) -> usize;
}

impl Tx for spsc::Producer<Event> {
    #[inline]
    fn push(&mut self, ev: Event) -> Result<(), Event> {
        self.try_push(ev).map_err(spsc::PushError::into_inner)
    }
    fn drained(&mut self) -> bool {
        self.free_slots() == self.capacity()
    }
}

impl Rx for spsc::Consumer<Event> {
    #[inline]
    fn drain(&mut self, f: &mut dyn FnMut(&Event)) -> usize {
        let mut n = 0;
        while let Some(ev) = self.try_pop() {
            f(&ev);
            n += 1;
        }
        n
    }
}

/// ladderfeed's ring read with one index store per batch.
struct Batched(spsc::Consumer<Event>);

impl Rx for Batched {
    #[inline]
    fn drain(&mut self, f: &mut dyn FnMut(&Event)) -> usize {
        self.0.pop_batch(ladderfeed::consumer::BATCH, |ev| f(&ev))
    }
}

/// The feed-level publisher: sequence number, publish stamp, last-value slot, drop counting.
/// It never retries: a full ring drops (the benches keep it from filling).
struct Feed(Publisher, u64);

impl Tx for Feed {
    #[inline]
    fn push(&mut self, ev: Event) -> Result<(), Event> {
        self.1 += 1;
        match self.0.publish_at(ev, ev.local_ts() + 1) {
            ladderfeed::ring::Published::Queued => Ok(()),
            ladderfeed::ring::Published::Dropped => Err(ev),
        }
    }
    fn drained(&mut self) -> bool {
        self.0.stats().in_flight() == 0
    }
}

impl Rx for Subscription {
    #[inline]
    fn drain(&mut self, f: &mut dyn FnMut(&Event)) -> usize {
        self.pop_batch(ladderfeed::consumer::BATCH, |ev| f(&ev))
    }
}

impl Tx for rtrb::Producer<Event> {
    #[inline]
    fn push(&mut self, ev: Event) -> Result<(), Event> {
        rtrb::Producer::push(self, ev).map_err(|rtrb::PushError::Full(ev)| ev)
    }
    fn drained(&mut self) -> bool {
        self.slots() == self.buffer().capacity()
    }
}

impl Rx for rtrb::Consumer<Event> {
    #[inline]
    fn drain(&mut self, f: &mut dyn FnMut(&Event)) -> usize {
        let mut n = 0;
        while let Ok(ev) = self.pop() {
            f(&ev);
            n += 1;
        }
        n
    }
}

impl Tx for crossbeam_channel::Sender<Event> {
    #[inline]
    fn push(&mut self, ev: Event) -> Result<(), Event> {
        self.try_send(ev).map_err(|e| e.into_inner())
    }
    fn drained(&mut self) -> bool {
        self.is_empty()
    }
}

impl Rx for crossbeam_channel::Receiver<Event> {
    #[inline]
    fn drain(&mut self, f: &mut dyn FnMut(&Event)) -> usize {
        let mut n = 0;
        while let Ok(ev) = self.try_recv() {
            f(&ev);
            n += 1;
        }
        n
    }
}

/// Builds a ring's two halves.
type Make = Box<dyn FnOnce() -> (Box<dyn TxDyn>, Box<dyn Rx>)>;
type Pair = (Make, &'static str);

/// Object-safe `Tx` with the static dispatch kept inside the hot loops.
trait TxDyn: Send {
    fn push_burst(&mut self, ev: Event, n: usize);
    fn push_spin(&mut self, ev: Event) -> bool;
    fn drained(&mut self) -> bool;
}

impl<T: Tx> TxDyn for T {
    fn push_burst(&mut self, ev: Event, n: usize) {
        for _ in 0..n {
            let mut ev = ev;
            while let Err(back) = self.push(black_box(ev)) {
                ev = back;
                std::hint::spin_loop();
            }
        }
    }
    #[inline]
    fn push_spin(&mut self, ev: Event) -> bool {
        self.push(ev).is_ok()
    }
    fn drained(&mut self) -> bool {
        Tx::drained(self)
    }
}

fn rings() -> Vec<Pair> {
    fn boxed<T: Tx, R: Rx>((t, r): (T, R)) -> (Box<dyn TxDyn>, Box<dyn Rx>) {
        (Box::new(t), Box::new(r))
    }
    vec![
        (Box::new(|| boxed(spsc::channel::<Event>(CAPACITY))), "ladderfeed"),
        (
            Box::new(|| {
                let (t, r) = spsc::channel::<Event>(CAPACITY);
                boxed((t, Batched(r)))
            }),
            "ladderfeed_pop_batch",
        ),
        (
            Box::new(|| {
                let (t, r) = feed(CAPACITY, 4);
                boxed((Feed(t, 0), r))
            }),
            "ladderfeed_publisher",
        ),
        (Box::new(|| boxed(rtrb::RingBuffer::<Event>::new(CAPACITY))), "rtrb"),
        (Box::new(|| boxed(crossbeam_channel::bounded::<Event>(CAPACITY))), "crossbeam_channel"),
    ]
}

fn sample_event(clock: &Clock) -> Event {
    let now = clock.now_ns();
    let stamps = Stamps { exch_ts: now - 1_000, local_ts: now, parsed_ts: now };
    let bbo = Bbo { bid_tick: 6_500_000, bid_lots: 10, ask_tick: 6_500_001, ask_lots: 3 };
    Event::bbo(stamps, 1, BookState::Synced, bbo)
}

/// A consumer thread pinned to `core` that drains `rx` until stopped, publishing how many
/// records it has received.
struct Drainer {
    stop: Arc<AtomicBool>,
    received: Arc<AtomicU64>,
    handle: Option<thread::JoinHandle<()>>,
}

impl Drainer {
    fn spawn(mut rx: Box<dyn Rx>, core: Option<core_affinity::CoreId>) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let received = Arc::new(AtomicU64::new(0));
        let (s, r) = (Arc::clone(&stop), Arc::clone(&received));
        let handle = spawn_pinned("drainer", core, move |_| {
            let mut total = 0u64;
            loop {
                let n = rx.drain(&mut |ev| {
                    black_box(ev);
                });
                if n > 0 {
                    total += n as u64;
                    r.store(total, Ordering::Release);
                } else if s.load(Ordering::Relaxed) {
                    return;
                } else {
                    std::hint::spin_loop();
                }
            }
        })
        .expect("spawn");
        Drainer { stop, received, handle: Some(handle) }
    }
}

impl Drop for Drainer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            h.join().expect("drainer panicked");
        }
    }
}

/// Fails instead of hanging when the other side stops making progress.
fn deadline_check(start: Instant, what: &str) {
    assert!(start.elapsed() < Duration::from_secs(60), "{what}: no progress in 60 s");
}

fn clock(c: &mut Criterion) {
    let mut g = c.benchmark_group("clock");
    let clock = Clock::global();
    g.bench_function("Instant::now (CLOCK_MONOTONIC)", |b| b.iter(Instant::now));
    g.bench_function("SystemTime::now (CLOCK_REALTIME)", |b| b.iter(SystemTime::now));
    g.bench_function("Clock::now_ns (monotonic → epoch ns)", |b| b.iter(|| clock.now_ns()));
    g.finish();
}

fn ring_push(c: &mut Criterion, cores: &Cores) {
    let clock = Clock::global();
    let ev = sample_event(&clock);
    let mut g = c.benchmark_group("ring_push");
    g.throughput(Throughput::Elements(1));
    for (make, name) in rings() {
        let (mut tx, rx) = make();
        let drainer = Drainer::spawn(rx, cores.get(1));
        g.bench_function(BenchmarkId::from_parameter(name), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                let mut left = iters;
                while left > 0 {
                    let n = (left as usize).min(BURST);
                    let start = Instant::now();
                    while !tx.drained() {
                        deadline_check(start, name);
                        std::hint::spin_loop();
                    }
                    let t = Instant::now();
                    tx.push_burst(ev, n);
                    total += t.elapsed();
                    left -= n as u64;
                }
                total
            });
        });
        drop(drainer);
    }
    g.finish();
}

fn ring_saturated(c: &mut Criterion, cores: &Cores) {
    let clock = Clock::global();
    let ev = sample_event(&clock);
    let mut g = c.benchmark_group("ring_saturated");
    g.throughput(Throughput::Elements(1));
    for (make, name) in rings() {
        if name == "ladderfeed_publisher" {
            continue; // it drops when full by design: no saturated figure
        }
        let (mut tx, rx) = make();
        let drainer = Drainer::spawn(rx, cores.get(1));
        let mut sent = 0u64;
        g.bench_function(BenchmarkId::from_parameter(name), |b| {
            b.iter_custom(|iters| {
                let start = Instant::now();
                for _ in 0..iters {
                    while !tx.push_spin(black_box(ev)) {
                        std::hint::spin_loop();
                    }
                }
                sent += iters;
                while drainer.received.load(Ordering::Acquire) < sent {
                    deadline_check(start, name);
                    std::hint::spin_loop();
                }
                start.elapsed()
            });
        });
        drop(drainer);
    }
    g.finish();
}

/// One-way latency with a paced producer; returns the histogram (ns).
fn paced_latency(
    make: Make,
    cores: &Cores,
    warmup: usize,
    count: usize,
    gap_ns: u64,
) -> Histogram<u64> {
    let clock = Clock::global();
    let (mut tx, mut rx) = make();
    let total = warmup + count;
    let consumer = spawn_pinned("latency-rx", cores.get(1), move |_| {
        let mut hist = Histogram::<u64>::new_with_bounds(1, 1_000_000_000, 3).expect("bounds");
        let mut seen = 0usize;
        let start = Instant::now();
        while seen < total {
            let n = rx.drain(&mut |ev| {
                let now = clock.now_ns();
                if seen >= warmup {
                    hist.saturating_record(now.saturating_sub(ev.local_ts()));
                }
                seen += 1;
            });
            if n == 0 {
                deadline_check(start, "latency consumer");
                std::hint::spin_loop();
            }
        }
        hist
    })
    .expect("spawn");
    let mut next = clock.now_ns();
    for _ in 0..total {
        next += gap_ns;
        while clock.now_ns() < next {
            std::hint::spin_loop();
        }
        let ev = sample_event(&clock);
        let start = Instant::now();
        while !tx.push_spin(ev) {
            deadline_check(start, "latency producer");
            std::hint::spin_loop();
        }
    }
    consumer.join().expect("latency consumer panicked")
}

fn latency_table(cores: &Cores, quick: bool) {
    let (warmup, count) = if quick { (100, 1_000) } else { (20_000, 200_000) };
    println!("\none-way latency, paced producer (1 record / 1.5 µs), {count} records per ring, ns");
    println!("{:<22} {:>7} {:>7} {:>7} {:>8} {:>9}", "ring", "p50", "p90", "p99", "p99.9", "max");
    for (make, name) in rings() {
        let h = paced_latency(make, cores, warmup, count, 1_500);
        println!(
            "{:<22} {:>7} {:>7} {:>7} {:>8} {:>9}",
            name,
            h.value_at_quantile(0.5),
            h.value_at_quantile(0.9),
            h.value_at_quantile(0.99),
            h.value_at_quantile(0.999),
            h.max()
        );
    }
}

fn benches(c: &mut Criterion) {
    // List the cores once, before pinning anything; the producer (this thread) takes the
    // first, every consumer the second.
    let cores = Cores::detect();
    if let Some(core) = cores.get(0) {
        core_affinity::set_for_current(core);
    }
    clock(c);
    ring_push(c, &cores);
    ring_saturated(c, &cores);
}

criterion_group!(ring, benches);

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let bench_mode = args.iter().any(|a| a == "--bench");
    // A filter argument that does not mention latency skips the table.
    let filter = args.iter().skip(1).find(|a| !a.starts_with('-'));
    let wants_table =
        filter.is_none_or(|f| "latency".contains(f.as_str()) || f.contains("latency"));
    // Detect before criterion pins this thread.
    let cores = Cores::detect();
    ring();
    criterion::Criterion::default().configure_from_args().final_summary();
    if wants_table {
        latency_table(&cores, !bench_mode);
    }
}

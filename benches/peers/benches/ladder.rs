//! The fixed-tick ladder against the `BTreeMap` reference book and hftbacktest's depth types.
//!
//! - `ladder_update`: the whole Binance BTCUSDT stream of the bundled capture (REST snapshot,
//!   then every depth diff after it), one level update at a time, reading the best bid and
//!   ask (price and size) after each update as a feed handler publishing BBO would. The book
//!   is emptied (untimed) before each pass; memory is reused, as in a resync.
//! - `best_recovery`: the top bid is deleted and the next best is `gap` ticks below it. One
//!   measured iteration is a *pair*: delete the top + read the best, then re-insert the top +
//!   read the best (so the book is the same at every iteration). The re-insert is O(1) for
//!   every implementation; the difference between gaps is the recovery.
//!
//! - `ladder_clear`: emptying a ladder that holds `n` levels a side (as a snapshot or a
//!   resync does), timed alone; the book is refilled untimed between iterations.
//!
//! Peers take `f64` prices and sizes; they are converted once, outside the timed loops.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use hftbacktest::depth::{
    BTreeMarketDepth, HashMapMarketDepth, L2MarketDepth, MarketDepth, ROIVectorMarketDepth,
};
use hftbacktest::prelude::Side as HbtSide;
use ladderfeed::book::{BTreeBook, Ladder, Side};
use ladderfeed_peers::{binance_btcusdt_depth, tick_range, to_f64, Update, UpdateF64};

const TICK: f64 = 0.01;
const LOT: f64 = 0.000_000_01;

/// The operations both benches need, over ladderfeed's integer books and hftbacktest's
/// float ones.
trait Book {
    fn apply_int(&mut self, u: &Update);
    fn apply_f64(&mut self, u: &UpdateF64);
    /// Reads best bid and ask (price and size) and returns something to `black_box`.
    fn bbo(&self) -> i64;
    fn reset(&mut self);
    /// `true` for books fed with integer updates.
    const INT: bool;
}

/// The two integer books share one `Book` impl: same method names, same semantics.
macro_rules! int_book {
    ($ty:ty) => {
        impl Book for $ty {
            const INT: bool = true;
            #[inline]
            fn apply_int(&mut self, u: &Update) {
                black_box(self.set(u.side, u.px_tick, u.qty_lots));
            }
            fn apply_f64(&mut self, _: &UpdateF64) {
                unreachable!()
            }
            #[inline]
            fn bbo(&self) -> i64 {
                let b = self.best_bid().map_or(0, |l| l.px_tick ^ l.qty_lots);
                let a = self.best_ask().map_or(0, |l| l.px_tick ^ l.qty_lots);
                b ^ a
            }
            fn reset(&mut self) {
                self.clear();
            }
        }
    };
}

int_book!(Ladder);
int_book!(BTreeBook);

macro_rules! hbt_book {
    ($t:ty) => {
        impl Book for $t {
            const INT: bool = false;
            fn apply_int(&mut self, _: &Update) {
                unreachable!()
            }
            #[inline]
            fn apply_f64(&mut self, u: &UpdateF64) {
                let r = match u.side {
                    Side::Bid => self.update_bid_depth(u.px, u.qty, 0),
                    Side::Ask => self.update_ask_depth(u.px, u.qty, 0),
                };
                black_box(r);
            }
            #[inline]
            fn bbo(&self) -> i64 {
                let q = self.best_bid_qty() + self.best_ask_qty();
                self.best_bid_tick() ^ self.best_ask_tick() ^ q.to_bits() as i64
            }
            fn reset(&mut self) {
                self.clear_depth(HbtSide::Buy, f64::NAN);
                self.clear_depth(HbtSide::Sell, f64::NAN);
            }
        }
    };
}
hbt_book!(HashMapMarketDepth);
hbt_book!(BTreeMarketDepth);
hbt_book!(ROIVectorMarketDepth);

/// One pass over the stream, untimed reset before it; returns the timed duration.
fn pass<B: Book>(book: &mut B, ints: &[Update], floats: &[UpdateF64]) -> Duration {
    book.reset();
    let t = Instant::now();
    if B::INT {
        for u in ints {
            book.apply_int(u);
            black_box(book.bbo());
        }
    } else {
        for u in floats {
            book.apply_f64(u);
            black_box(book.bbo());
        }
    }
    t.elapsed()
}

fn bench_update<B: Book>(
    c: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    mut book: B,
    ints: &[Update],
    floats: &[UpdateF64],
) {
    c.bench_function(name, |b| {
        b.iter_custom(|iters| (0..iters).map(|_| pass(&mut book, ints, floats)).sum())
    });
}

fn roi_book(lo_tick: i64, hi_tick: i64) -> ROIVectorMarketDepth {
    // The ROI covers every price of the stream, so this peer is exact too (outside its ROI it
    // would drop levels).
    ROIVectorMarketDepth::new(TICK, LOT, (lo_tick - 10) as f64 * TICK, (hi_tick + 10) as f64 * TICK)
}

fn ladder_update(c: &mut Criterion) {
    let stream = binance_btcusdt_depth();
    let ints = stream.all();
    let floats = to_f64(&ints, TICK, LOT);
    let (lo, hi) = tick_range(&ints);

    // Facts about the stream and how the default window sees it (printed once), and a
    // check that the ladder ends equal to the reference.
    let mut probe = Ladder::new();
    let mut reference = BTreeBook::new();
    let mut in_overflow = 0usize;
    for u in &ints {
        if !probe.window_range(u.side).contains(&u.px_tick) && probe.len(u.side) > 0 {
            in_overflow += 1;
        }
        probe.set(u.side, u.px_tick, u.qty_lots);
        reference.set(u.side, u.px_tick, u.qty_lots);
    }
    for s in [Side::Bid, Side::Ask] {
        assert!(probe.iter(s).eq(reference.iter(s)), "ladder and reference disagree");
    }
    eprintln!(
        "stream: {} snapshot levels + {} diff updates from {} messages = {} updates; ticks {lo}..={hi} ({} ticks); \
         default window {} ticks; final book bids {:?} asks {:?} (window, overflow); {in_overflow} updates fell outside the window (overflow)",
        stream.snapshot.len(),
        stream.diffs.len(),
        stream.diff_messages,
        ints.len(),
        hi - lo,
        probe.window_ticks(),
        probe.split_len(Side::Bid),
        probe.split_len(Side::Ask),
    );

    let mut g = c.benchmark_group("ladder_update");
    g.throughput(Throughput::Elements(ints.len() as u64));
    bench_update(&mut g, "ladderfeed_Ladder", Ladder::new(), &ints, &floats);
    // Window-size sensitivity (the default is 2^16): how much of the cost is the overflow.
    for bits in [12u32, 18, 20] {
        let name = format!("ladderfeed_Ladder_w2^{bits}");
        bench_update(&mut g, &name, Ladder::with_window(1 << bits), &ints, &floats);
    }
    bench_update(&mut g, "BTreeBook", BTreeBook::new(), &ints, &floats);
    bench_update(
        &mut g,
        "hbt_HashMapMarketDepth",
        HashMapMarketDepth::new(TICK, LOT),
        &ints,
        &floats,
    );
    bench_update(&mut g, "hbt_BTreeMarketDepth", BTreeMarketDepth::new(TICK, LOT), &ints, &floats);
    bench_update(&mut g, "hbt_ROIVectorMarketDepth", roi_book(lo, hi), &ints, &floats);
    g.finish();
}

/// A book for the recovery bench: top bid at `top`, next bid `gap` ticks below, then 500
/// levels one tick apart below that; asks from `top + 1` up, 500 levels.
fn recovery_levels(top: i64, gap: i64) -> Vec<Update> {
    let mut v = Vec::new();
    // Deepest first, so that a window placed on the first level still holds the top.
    for i in (0..500).rev() {
        v.push(Update { side: Side::Bid, px_tick: top - gap - i, qty_lots: 100 + i });
    }
    v.push(Update { side: Side::Bid, px_tick: top, qty_lots: 42 });
    for i in 0..500 {
        v.push(Update { side: Side::Ask, px_tick: top + 1 + i, qty_lots: 100 + i });
    }
    v
}

fn recovery<B: Book>(
    g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    gap: i64,
    mut book: B,
) {
    let top = 6_168_599i64;
    let ints = recovery_levels(top, gap);
    let floats = to_f64(&ints, TICK, LOT);
    book.reset();
    if B::INT {
        ints.iter().for_each(|u| book.apply_int(u));
    } else {
        floats.iter().for_each(|u| book.apply_f64(u));
    }
    let del = Update { side: Side::Bid, px_tick: top, qty_lots: 0 };
    let put = Update { side: Side::Bid, px_tick: top, qty_lots: 42 };
    let del_f = to_f64(&[del], TICK, LOT)[0];
    let put_f = to_f64(&[put], TICK, LOT)[0];
    g.bench_with_input(BenchmarkId::new(name, gap), &gap, |b, _| {
        b.iter(|| {
            if B::INT {
                book.apply_int(black_box(&del));
                black_box(book.bbo());
                book.apply_int(black_box(&put));
            } else {
                book.apply_f64(black_box(&del_f));
                black_box(book.bbo());
                book.apply_f64(black_box(&put_f));
            }
            black_box(book.bbo())
        })
    });
}

fn best_recovery(c: &mut Criterion) {
    let mut g = c.benchmark_group("best_recovery");
    for gap in [1i64, 64, 1024, 8192] {
        let top = 6_168_599i64;
        let lo = top - gap - 600;
        let hi = top + 600;
        recovery(&mut g, "ladderfeed_Ladder", gap, Ladder::new());
        recovery(&mut g, "BTreeBook", gap, BTreeBook::new());
        recovery(&mut g, "hbt_HashMapMarketDepth", gap, HashMapMarketDepth::new(TICK, LOT));
        recovery(&mut g, "hbt_BTreeMarketDepth", gap, BTreeMarketDepth::new(TICK, LOT));
        recovery(&mut g, "hbt_ROIVectorMarketDepth", gap, roi_book(lo, hi));
    }
    g.finish();
}

fn ladder_clear(c: &mut Criterion) {
    let mut g = c.benchmark_group("ladder_clear");
    for n in [100i64, 1000, 4000, 16000] {
        g.bench_with_input(BenchmarkId::new("ladderfeed_Ladder", n), &n, |b, &n| {
            let mut book = Ladder::new();
            b.iter_custom(|iters| {
                let mut spent = Duration::ZERO;
                for _ in 0..iters {
                    // Every other tick of a 2n-tick range on each side around 6,168,600.
                    for i in 0..n {
                        book.set(Side::Bid, 6_168_599 - 2 * i, 1);
                        book.set(Side::Ask, 6_168_601 + 2 * i, 1);
                    }
                    let start = Instant::now();
                    book.clear();
                    spent += start.elapsed();
                    black_box(&book);
                }
                spent
            });
        });
    }
    g.finish();
}

criterion_group!(benches, ladder_update, best_recovery, ladder_clear);
criterion_main!(benches);

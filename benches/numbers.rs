//! Decimal text → integer ticks and lots, against the `f64` route peers take
//! (`str::parse::<f64>` then divide by the tick and round).
use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ladderfeed::book::Checksummer;
use ladderfeed::book::{Ladder, Side, Step};

/// Price and size texts as Binance sends them (from the BTCUSDT capture in fixtures/).
const PRICES: [&str; 8] = [
    "61737.63000000",
    "61730.17000000",
    "56854.58000000",
    "61838.04000000",
    "61844.30000000",
    "61685.99000000",
    "61686.00000000",
    "55653.87000000",
];
const SIZES: [&str; 8] = [
    "0.00000000",
    "0.32332000",
    "1.54698000",
    "3.78826000",
    "0.02000000",
    "0.00015000",
    "12.00000000",
    "0.10000000",
];

fn numbers(c: &mut Criterion) {
    let tick = Step::parse("0.01").unwrap();
    let lot = Step::parse("0.00001").unwrap();
    let mut g = c.benchmark_group("decimal_to_units");
    g.throughput(Throughput::Elements(16));
    g.bench_function("ladderfeed_step_units", |b| {
        b.iter(|| {
            let mut acc = 0i64;
            for (p, q) in PRICES.iter().zip(SIZES.iter()) {
                acc = acc.wrapping_add(tick.units(black_box(p.as_bytes())).unwrap_or(-1));
                acc = acc.wrapping_add(lot.units(black_box(q.as_bytes())).unwrap_or(-1));
            }
            acc
        })
    });
    g.bench_function("f64_parse_then_round", |b| {
        b.iter(|| {
            let mut acc = 0i64;
            for (p, q) in PRICES.iter().zip(SIZES.iter()) {
                let pf: f64 = black_box(*p).parse().unwrap_or(-1.0);
                let qf: f64 = black_box(*q).parse().unwrap_or(-1.0);
                acc = acc.wrapping_add((pf / 0.01).round() as i64);
                acc = acc.wrapping_add((qf / 0.00001).round() as i64);
            }
            acc
        })
    });
    g.finish();
    let mut g = c.benchmark_group("units_to_decimal");
    g.throughput(Throughput::Elements(1));
    let mut out = String::with_capacity(32);
    g.bench_function("ladderfeed_step_write", |b| {
        b.iter(|| {
            out.clear();
            tick.write(black_box(6_168_599), &mut out).unwrap();
            out.len()
        })
    });
    g.finish();

    // A Kraken checksum over a 10 + 10 level book (XBT/USD-like: price 1 decimal, size 8),
    // after an update of one level (as every Kraken book message is followed by one).
    let (tick, lot) = (Step::parse("0.1").unwrap(), Step::parse("0.00000001").unwrap());
    let mut book = Ladder::new();
    for i in 0..10 {
        book.set(Side::Bid, 452_835 - 3 * i, 10_000_000 + 1_234_567 * i);
        book.set(Side::Ask, 452_852 + 4 * i, 154_571_953 - 7_654_321 * i);
    }
    let mut sum = Checksummer::new();
    let mut g = c.benchmark_group("checksum");
    g.throughput(Throughput::Elements(1));
    let mut i = 0i64;
    g.bench_function("kraken_10_levels_one_changed", |b| {
        b.iter(|| {
            i += 1;
            book.set(Side::Bid, 452_835 - 3 * (i % 10), 10_000_000 + i);
            sum.kraken(black_box(&book), tick, 1, lot, 8)
        })
    });
    g.bench_function("okx_10_levels", |b| b.iter(|| sum.okx(black_box(&book), tick, lot)));
    g.finish();
}

criterion_group!(benches, numbers);
criterion_main!(benches);

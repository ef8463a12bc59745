//! Decimal text → integer ticks and lots.
use criterion::{criterion_group, criterion_main, Criterion};

fn numbers(_c: &mut Criterion) {}

criterion_group!(benches, numbers);
criterion_main!(benches);

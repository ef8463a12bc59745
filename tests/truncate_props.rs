//! `Ladder::truncate` (trimming from the worst end) against the trim it replaced: walking the
//! side from the best level (`iter(side).skip(depth)`) and deleting every level after it. On
//! random books, levels in the overflow store included, both must leave the same book, the
//! same window, and books that go on to behave the same.

use ladderfeed::book::{BTreeBook, Ladder, Level, Side};
use proptest::prelude::*;

/// The trim `engine::truncate` did before: walk from the best level, delete what follows.
fn walk_from_best(l: &mut Ladder, side: Side, depth: usize) -> usize {
    if l.len(side) <= depth {
        return 0;
    }
    let doomed: Vec<i64> = l.iter(side).skip(depth).map(|x| x.px_tick).collect();
    for &px in &doomed {
        l.set(side, px, 0);
    }
    doomed.len()
}

/// Everything observable about two ladders is equal.
fn assert_identical(a: &Ladder, b: &Ladder, ctx: &str) {
    for s in [Side::Bid, Side::Ask] {
        assert_eq!(a.best(s), b.best(s), "best {s:?}: {ctx}");
        assert_eq!(a.len(s), b.len(s), "len {s:?}: {ctx}");
        assert_eq!(a.split_len(s), b.split_len(s), "window/overflow split {s:?}: {ctx}");
        assert_eq!(a.window_range(s), b.window_range(s), "window {s:?}: {ctx}");
        let la: Vec<Level> = a.iter(s).collect();
        let lb: Vec<Level> = b.iter(s).collect();
        assert_eq!(la, lb, "levels {s:?}: {ctx}");
    }
}

#[derive(Debug, Clone)]
enum Op {
    /// Set `centre + off` on `side` to `qty` (0 deletes).
    Set(Side, i64, i64),
    /// Delete the best level of `side` (moves the window now and then).
    DeleteBest(Side),
    /// Trim `side` to `depth` levels.
    Truncate(Side, usize),
}

fn side() -> impl Strategy<Value = Side> {
    prop_oneof![Just(Side::Bid), Just(Side::Ask)]
}

fn offset() -> impl Strategy<Value = i64> {
    prop_oneof![
        6 => -40i64..40,
        4 => -400i64..400,
        3 => -10_000i64..10_000,
        1 => -2_000_000i64..2_000_000,
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        20 => (side(), offset(), prop_oneof![1 => Just(0i64), 4 => 1i64..1_000])
            .prop_map(|(s, o, q)| Op::Set(s, o, q)),
        2 => side().prop_map(Op::DeleteBest),
        4 => (side(), prop_oneof![1usize..4, 1usize..40, 1usize..400])
            .prop_map(|(s, d)| Op::Truncate(s, d)),
    ]
}

/// Runs `ops` on two ladders, trimming one from the worst end and the other from the best,
/// and compares them after every trim (and at the end). Asks are `centre + off`; bids are
/// mirrored (`centre - off`) so both sides get the same shapes.
fn run(window: usize, centre: i64, ops: &[Op]) {
    let mut far = Ladder::with_window(window);
    let mut walk = Ladder::with_window(window);
    for (i, op) in ops.iter().enumerate() {
        let ctx = format!("op #{i} {op:?}, window {window}, centre {centre}");
        match *op {
            Op::Set(side, off, qty) => {
                let px = match side {
                    Side::Ask => centre.saturating_add(off),
                    Side::Bid => centre.saturating_sub(off),
                };
                assert_eq!(far.set(side, px, qty), walk.set(side, px, qty), "{ctx}");
            }
            Op::DeleteBest(side) => {
                if let Some(best) = walk.best(side) {
                    far.set(side, best.px_tick, 0);
                    walk.set(side, best.px_tick, 0);
                }
            }
            Op::Truncate(side, depth) => {
                let removed = far.truncate(side, depth);
                assert_eq!(removed, walk_from_best(&mut walk, side, depth), "removed: {ctx}");
                assert!(far.len(side) <= depth, "{ctx}");
                assert_identical(&far, &walk, &ctx);
            }
        }
    }
    assert_identical(&far, &walk, "end");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn far_end_trim_equals_the_walk_from_the_best(
        window in prop_oneof![Just(64usize), Just(128), Just(1024), Just(1 << 16)],
        centre in prop_oneof![Just(6_168_599i64), Just(0i64), Just(i64::MAX - 50), Just(i64::MIN + 50)],
        ops in prop::collection::vec(op(), 1..400),
    ) {
        run(window, centre, &ops);
    }

    /// Depth 0 empties the side (the walk from the best may move the window on its way, so
    /// only the levels are compared), and the book stays usable.
    #[test]
    fn trim_to_zero_empties_the_side(
        window in prop_oneof![Just(64usize), Just(1024)],
        offs in prop::collection::vec(offset(), 0..200),
    ) {
        let mut l = Ladder::with_window(window);
        let mut r = BTreeBook::new();
        for (i, &o) in offs.iter().enumerate() {
            l.set(Side::Ask, 1_000_000 + o, i as i64 + 1);
            r.set(Side::Ask, 1_000_000 + o, i as i64 + 1);
        }
        let n = l.len(Side::Ask);
        prop_assert_eq!(l.truncate(Side::Ask, 0), n);
        prop_assert_eq!(l.len(Side::Ask), 0);
        prop_assert_eq!(l.best_ask(), None);
        prop_assert_eq!(l.iter(Side::Ask).count(), 0);
        prop_assert_eq!(r.len(Side::Ask), n);
        r.clear();
        for (i, &o) in offs.iter().enumerate().take(20) {
            let px = 2_000_000 + o;
            prop_assert_eq!(l.set(Side::Ask, px, i as i64 + 1), r.set(Side::Ask, px, i as i64 + 1));
        }
        prop_assert!(l.iter(Side::Ask).eq(r.iter(Side::Ask)));
    }
}

/// Kraken's busiest pairs: a 1,000-level book at its depth limit, its tail in the overflow
/// (a 4,096-tick window over a ~40,000-tick side), updates inside the depth that push the
/// worst level out, checked against the `BTreeMap` book trimmed the plain way.
#[test]
fn deep_book_at_its_depth_limit_stays_exact() {
    const DEPTH: usize = 1000;
    let mut l = Ladder::with_window(4096);
    let mut r = BTreeBook::new();
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let mut rand = move |n: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % n
    };
    let mid = 562_180i64;
    let (mut a, mut b) = (mid + 1, mid);
    for i in 0..DEPTH as i64 {
        for (side, px) in [(Side::Ask, a), (Side::Bid, b)] {
            l.set(side, px, i + 1);
            r.set(side, px, i + 1);
        }
        a += 1 + rand(79) as i64;
        b -= 1 + rand(79) as i64;
    }
    assert!(l.split_len(Side::Ask).1 > 0 && l.split_len(Side::Bid).1 > 0, "tails in overflow");
    for n in 0..5_000i64 {
        let side = if n % 2 == 0 { Side::Bid } else { Side::Ask };
        let dir = if side == Side::Ask { 1 } else { -1 };
        let best = r.best(side).expect("best").px_tick;
        // Anywhere inside the depth, or (now and then) beyond it: an insert, an update or a
        // delete; then both books are trimmed.
        let px = best + dir * rand(if n % 10 == 0 { 60_000 } else { 30_000 }) as i64;
        let qty = if n % 7 == 0 { 0 } else { 1 + rand(1000) as i64 };
        assert_eq!(l.set(side, px, qty), r.set(side, px, qty), "update {n}");
        l.truncate(side, DEPTH);
        let doomed: Vec<i64> = r.iter(side).skip(DEPTH).map(|x| x.px_tick).collect();
        for &p in &doomed {
            r.set(side, p, 0);
        }
        assert_eq!(l.len(side), r.len(side), "update {n}");
        assert_eq!(l.best(side), r.best(side), "update {n}");
        if n % 500 == 0 {
            assert!(l.iter(side).eq(r.iter(side)), "update {n}");
        }
    }
    for s in [Side::Bid, Side::Ask] {
        assert!(l.iter(s).eq(r.iter(s)));
    }
}

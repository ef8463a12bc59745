//! The fixed-tick ladder against the plain `BTreeMap` reference book: random sets, deletes,
//! best-level deletes and large price moves (re-centring the window again and again, levels
//! far out in the overflow, small windows), compared after every operation.

use ladderfeed::book::{Applied, BTreeBook, Ladder, Level, Side};
use proptest::prelude::*;

/// One step of a generated scenario. Prices are relative to a moving `centre`.
#[derive(Debug, Clone)]
enum Op {
    /// Set `centre + off` on `side` to `qty` (0 deletes, negative must be rejected).
    Set { side: Side, off: i64, qty: i64 },
    /// Delete the current best level of `side` (exercises next-best recovery).
    DeleteBest(Side),
    /// Delete the best `n` levels of `side`.
    Sweep(Side, usize),
    /// Move the centre by `delta` ticks (saturating).
    Jump(i64),
    /// Move the centre to near `i64::MIN` / `i64::MAX` / zero.
    JumpTo(i64),
    /// Clear the whole book.
    Clear,
}

fn side() -> impl Strategy<Value = Side> {
    prop_oneof![Just(Side::Bid), Just(Side::Ask)]
}

fn offset() -> impl Strategy<Value = i64> {
    prop_oneof![
        6 => -40i64..40,
        4 => -400i64..400,
        2 => -10_000i64..10_000,
        1 => -2_000_000i64..2_000_000,
    ]
}

fn qty() -> impl Strategy<Value = i64> {
    prop_oneof![
        3 => Just(0i64),
        6 => 1i64..1_000,
        1 => Just(i64::MAX),
        1 => -5i64..0,
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        30 => (side(), offset(), qty()).prop_map(|(side, off, qty)| Op::Set { side, off, qty }),
        4 => side().prop_map(Op::DeleteBest),
        2 => (side(), 1usize..50).prop_map(|(s, n)| Op::Sweep(s, n)),
        3 => prop_oneof![
            -5_000i64..5_000,
            (1_000i64..5_000_000).prop_map(|d| d),
            (1_000i64..5_000_000).prop_map(|d| -d),
        ]
        .prop_map(Op::Jump),
        1 => prop_oneof![
            Just(i64::MIN),
            Just(i64::MIN + 100),
            Just(i64::MAX),
            Just(i64::MAX - 100),
            Just(0i64),
            Just(6_168_599i64),
        ]
        .prop_map(Op::JumpTo),
        1 => Just(Op::Clear),
    ]
}

fn window() -> impl Strategy<Value = usize> {
    prop_oneof![Just(64usize), Just(128), Just(256), Just(1024), Just(4096), Just(1 << 16)]
}

/// Full comparison of the two books.
fn assert_same(ladder: &Ladder, reference: &BTreeBook, ctx: &str) {
    assert_eq!(ladder.best_bid(), reference.best_bid(), "best bid: {ctx}");
    assert_eq!(ladder.best_ask(), reference.best_ask(), "best ask: {ctx}");
    assert_eq!(ladder.is_crossed(), reference.is_crossed(), "crossed: {ctx}");
    for s in [Side::Bid, Side::Ask] {
        assert_eq!(ladder.len(s), reference.len(s), "len {s:?}: {ctx}");
        let (in_window, in_overflow) = ladder.split_len(s);
        assert_eq!(in_window + in_overflow, ladder.len(s), "split {s:?}: {ctx}");
        let top_l: Vec<Level> = ladder.top(s, 5).collect();
        let top_r: Vec<Level> = reference.top(s, 5).collect();
        assert_eq!(top_l, top_r, "top 5 {s:?}: {ctx}");
        let all_l: Vec<Level> = ladder.iter(s).collect();
        let all_r: Vec<Level> = reference.iter(s).collect();
        assert_eq!(all_l, all_r, "full book {s:?}: {ctx}");
        // Lookups and the iteration past a price, at levels, beside them and at the ends.
        let mut probes = vec![i64::MIN, i64::MIN + 1, 0, i64::MAX - 1, i64::MAX];
        for l in all_r.iter().take(3).chain(all_r.iter().rev().take(2)) {
            probes.extend([l.px_tick, l.px_tick.saturating_sub(1), l.px_tick.saturating_add(1)]);
        }
        for px in probes {
            let want = all_r.iter().find(|l| l.px_tick == px).map_or(0, |l| l.qty_lots);
            assert_eq!(ladder.qty_at(s, px), want, "qty at {px} {s:?}: {ctx}");
            let worse = |l: &&Level| if s == Side::Bid { l.px_tick < px } else { l.px_tick > px };
            let after_r: Vec<Level> = all_r.iter().filter(worse).copied().collect();
            let after_l: Vec<Level> = ladder.iter_after(s, px).collect();
            assert_eq!(after_l, after_r, "levels after {px} {s:?}: {ctx}");
        }
    }
    assert_eq!(ladder.is_empty(), reference.is_empty(), "empty: {ctx}");
}

fn run(window: usize, start: i64, ops: &[Op]) {
    run_checked(window, start, ops, |_| true);
}

/// Applies `ops`, comparing best levels after every one and the full books after those for
/// which `full_check(op)` holds (and at the end).
fn run_checked(window: usize, start: i64, ops: &[Op], full_check: impl Fn(&Op) -> bool) {
    let mut ladder = Ladder::with_window(window);
    assert_eq!(ladder.window_ticks(), window);
    let mut reference = BTreeBook::new();
    let mut centre = start;
    for (i, op) in ops.iter().enumerate() {
        let ctx = format!("op #{i} {op:?}, centre {centre}, window {window}");
        match *op {
            Op::Set { side, off, qty } => {
                let px = centre.saturating_add(off);
                let a = ladder.set(side, px, qty);
                let b = reference.set(side, px, qty);
                assert_eq!(a, b, "applied: {ctx}");
                if qty < 0 {
                    assert_eq!(a, Applied::Rejected, "{ctx}");
                }
            }
            Op::DeleteBest(side) => {
                if let Some(best) = reference.best(side) {
                    assert_eq!(ladder.set(side, best.px_tick, 0), Applied::Deleted, "{ctx}");
                    reference.set(side, best.px_tick, 0);
                }
            }
            Op::Sweep(side, n) => {
                let levels: Vec<Level> = reference.top(side, n).collect();
                for l in levels {
                    assert_eq!(ladder.set(side, l.px_tick, 0), Applied::Deleted, "{ctx}");
                    reference.set(side, l.px_tick, 0);
                    assert_eq!(ladder.best(side), reference.best(side), "sweep: {ctx}");
                }
            }
            Op::Jump(d) => centre = centre.saturating_add(d),
            Op::JumpTo(c) => centre = c,
            Op::Clear => {
                ladder.clear();
                reference.clear();
            }
        }
        assert_eq!(ladder.best_bid(), reference.best_bid(), "best bid: {ctx}");
        assert_eq!(ladder.best_ask(), reference.best_ask(), "best ask: {ctx}");
        if full_check(op) || i + 1 == ops.len() {
            assert_same(&ladder, &reference, &ctx);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn ladder_matches_btree(
        window in window(),
        start in prop_oneof![Just(6_168_599i64), Just(0i64), any::<i64>()],
        ops in prop::collection::vec(op(), 1..250),
    ) {
        run(window, start, &ops);
    }

}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// A market walking in one direction for a long time, with a book around it: the window
    /// follows it through many re-centres.
    #[test]
    fn trending_market(
        window in prop_oneof![Just(64usize), Just(256), Just(1024)],
        step in -300i64..300,
        depth in 1i64..40,
        spacing in 1i64..50,
        moves in 10usize..80,
    ) {
        let mut ops = Vec::new();
        for _ in 0..moves {
            ops.push(Op::Jump(step));
            for d in 1..=depth {
                ops.push(Op::Set { side: Side::Bid, off: -d * spacing, qty: d });
                ops.push(Op::Set { side: Side::Ask, off: d * spacing, qty: d });
            }
            ops.push(Op::Sweep(Side::Bid, 2));
            ops.push(Op::Sweep(Side::Ask, 2));
        }
        run_checked(window, 1_000_000, &ops, |op| matches!(op, Op::Jump(_)));
    }
}

#[test]
fn delete_missing_is_reported_and_changes_nothing() {
    let mut l = Ladder::with_window(64);
    assert_eq!(l.set(Side::Bid, 100, 0), Applied::DeleteMissing);
    assert_eq!(l.set(Side::Bid, 100, 5), Applied::Inserted);
    assert_eq!(l.set(Side::Bid, 100, 6), Applied::Updated);
    assert_eq!(l.set(Side::Bid, 101, 0), Applied::DeleteMissing);
    // Outside the window on both sides of it.
    assert_eq!(l.set(Side::Bid, 1_000_000, 0), Applied::DeleteMissing);
    assert_eq!(l.set(Side::Bid, -1_000_000, 0), Applied::DeleteMissing);
    assert_eq!(l.set(Side::Bid, 100, -1), Applied::Rejected);
    assert_eq!(l.best_bid(), Some(Level { px_tick: 100, qty_lots: 6 }));
    assert_eq!(l.len(Side::Bid), 1);
    assert_eq!(l.set(Side::Bid, 100, 0), Applied::Deleted);
    assert_eq!(l.set(Side::Bid, 100, 0), Applied::DeleteMissing);
    assert!(l.is_empty());
    assert!(!Applied::DeleteMissing.changed() && !Applied::Rejected.changed());
}

#[test]
fn clear_empties_both_sides_and_the_overflow() {
    let mut l = Ladder::with_window(256);
    for i in 0..2_000 {
        l.set(Side::Bid, 10_000 - i * 7, 1);
        l.set(Side::Ask, 10_001 + i * 7, 1);
    }
    assert_eq!(l.len(Side::Bid), 2_000);
    assert!(l.split_len(Side::Ask).1 > 0, "some asks are in the overflow");
    l.clear();
    assert!(l.is_empty());
    assert_eq!(l.best_bid(), None);
    assert_eq!(l.best_ask(), None);
    assert_eq!(l.iter(Side::Bid).count(), 0);
    assert_eq!(l.iter(Side::Ask).count(), 0);
    // Usable again, anywhere.
    assert_eq!(l.set(Side::Ask, -5, 1), Applied::Inserted);
    assert_eq!(l.best_ask().map(|x| x.px_tick), Some(-5));
}

#[test]
fn best_recovers_across_an_8192_tick_gap() {
    for window in [64usize, 1024, 1 << 16] {
        let mut l = Ladder::with_window(window);
        let top = 6_168_599;
        l.set(Side::Bid, top, 3);
        l.set(Side::Bid, top - 8_192, 4);
        l.set(Side::Ask, top + 1, 5);
        l.set(Side::Ask, top + 1 + 8_192, 6);
        assert_eq!(l.set(Side::Bid, top, 0), Applied::Deleted);
        assert_eq!(l.best_bid(), Some(Level { px_tick: top - 8_192, qty_lots: 4 }));
        assert_eq!(l.set(Side::Ask, top + 1, 0), Applied::Deleted);
        assert_eq!(l.best_ask(), Some(Level { px_tick: top + 1 + 8_192, qty_lots: 6 }));
    }
}

#[test]
fn levels_far_outside_the_window_are_kept_exactly() {
    // A 600,000-tick snapshot through a 64-tick window, then swept from the top.
    let mut l = Ladder::with_window(64);
    let mut r = BTreeBook::new();
    for i in 0..6_000i64 {
        let px = 6_000_000 - i * 100 - (i % 7);
        l.set(Side::Bid, px, i + 1);
        r.set(Side::Bid, px, i + 1);
    }
    assert!(l.iter(Side::Bid).eq(r.iter(Side::Bid)));
    while let Some(best) = r.best_bid() {
        assert_eq!(l.best_bid(), Some(best));
        l.set(Side::Bid, best.px_tick, 0);
        r.set(Side::Bid, best.px_tick, 0);
    }
    assert!(l.is_empty());
}

#[test]
fn extreme_prices_never_panic() {
    let extremes =
        [i64::MIN, i64::MIN + 1, i64::MIN + 63, -1, 0, 1, i64::MAX - 63, i64::MAX - 1, i64::MAX];
    for window in [64usize, 1 << 16] {
        let mut l = Ladder::with_window(window);
        let mut r = BTreeBook::new();
        for (i, &px) in extremes.iter().enumerate() {
            for side in [Side::Bid, Side::Ask] {
                let q = i as i64 + 1;
                assert_eq!(l.set(side, px, q), r.set(side, px, q));
                assert_eq!(l.set(side, px, i64::MAX), r.set(side, px, i64::MAX));
                assert_same(&l, &r, &format!("set {px}"));
            }
        }
        for &px in extremes.iter().rev() {
            for side in [Side::Bid, Side::Ask] {
                assert_eq!(l.set(side, px, 0), r.set(side, px, 0));
                assert_same(&l, &r, &format!("delete {px}"));
            }
        }
        assert!(l.is_empty());
    }
}

#[test]
fn window_size_is_rounded_and_clamped() {
    assert_eq!(Ladder::new().window_ticks(), Ladder::DEFAULT_WINDOW_TICKS);
    assert_eq!(Ladder::with_window(0).window_ticks(), 64);
    assert_eq!(Ladder::with_window(1000).window_ticks(), 1024);
    assert_eq!(Ladder::with_window(usize::MAX).window_ticks(), Ladder::MAX_WINDOW_TICKS);
}

#[test]
fn oscillating_market_keeps_book_exact() {
    // Best bid oscillating around what would be a window edge, with a deep book beyond it.
    let mut l = Ladder::with_window(64);
    let mut r = BTreeBook::new();
    for i in 1..200 {
        l.set(Side::Bid, 1_000 - i * 3, i);
        r.set(Side::Bid, 1_000 - i * 3, i);
    }
    for k in 0..1_000i64 {
        let px = 1_000 + 40 * (k % 2);
        let q = if k % 4 < 2 { 7 } else { 0 };
        assert_eq!(l.set(Side::Bid, px, q), r.set(Side::Bid, px, q));
        assert_same(&l, &r, &format!("oscillation {k}"));
    }
}

//! A plain reference book: two `BTreeMap<i64, i64>`, the same API subset as
//! [`Ladder`](super::Ladder).
//!
//! Obviously correct and reasonably fast; the property tests compare the ladder against it,
//! and the benchmarks use it as the baseline.

use std::collections::BTreeMap;

use super::ladder::{Applied, Level, Side};

/// A reference L2 book: price tick → lots, one ordered map per side.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BTreeBook {
    bids: BTreeMap<i64, i64>,
    asks: BTreeMap<i64, i64>,
}

impl BTreeBook {
    /// An empty book.
    pub fn new() -> BTreeBook {
        BTreeBook::default()
    }

    fn map_mut(&mut self, side: Side) -> &mut BTreeMap<i64, i64> {
        match side {
            Side::Bid => &mut self.bids,
            Side::Ask => &mut self.asks,
        }
    }

    fn map(&self, side: Side) -> &BTreeMap<i64, i64> {
        match side {
            Side::Bid => &self.bids,
            Side::Ask => &self.asks,
        }
    }

    /// Sets the level at `px_tick` to `qty_lots` (`0` deletes; negative is
    /// [`Applied::Rejected`]), exactly like [`Ladder::set`](super::Ladder::set).
    pub fn set(&mut self, side: Side, px_tick: i64, qty_lots: i64) -> Applied {
        if qty_lots < 0 {
            return Applied::Rejected;
        }
        let map = self.map_mut(side);
        if qty_lots == 0 {
            match map.remove(&px_tick) {
                Some(_) => Applied::Deleted,
                None => Applied::DeleteMissing,
            }
        } else {
            match map.insert(px_tick, qty_lots) {
                Some(_) => Applied::Updated,
                None => Applied::Inserted,
            }
        }
    }

    /// The best level of `side`.
    pub fn best(&self, side: Side) -> Option<Level> {
        let (&px_tick, &qty_lots) = match side {
            Side::Bid => self.bids.last_key_value()?,
            Side::Ask => self.asks.first_key_value()?,
        };
        Some(Level { px_tick, qty_lots })
    }

    /// The highest bid.
    pub fn best_bid(&self) -> Option<Level> {
        self.best(Side::Bid)
    }

    /// The lowest ask.
    pub fn best_ask(&self) -> Option<Level> {
        self.best(Side::Ask)
    }

    /// `true` when both sides have levels and the best bid is at or above the best ask.
    pub fn is_crossed(&self) -> bool {
        match (self.best_bid(), self.best_ask()) {
            (Some(b), Some(a)) => b.px_tick >= a.px_tick,
            _ => false,
        }
    }

    /// Every level of `side`, best first.
    pub fn iter(&self, side: Side) -> Box<dyn Iterator<Item = Level> + '_> {
        let level = |(&px_tick, &qty_lots): (&i64, &i64)| Level { px_tick, qty_lots };
        match side {
            Side::Bid => Box::new(self.bids.iter().rev().map(level)),
            Side::Ask => Box::new(self.asks.iter().map(level)),
        }
    }

    /// The best `n` levels of `side`, best first.
    pub fn top(&self, side: Side, n: usize) -> impl Iterator<Item = Level> + '_ {
        self.iter(side).take(n)
    }

    /// Number of levels on `side`.
    pub fn len(&self, side: Side) -> usize {
        self.map(side).len()
    }

    /// `true` when both sides are empty.
    pub fn is_empty(&self) -> bool {
        self.bids.is_empty() && self.asks.is_empty()
    }

    /// Removes every level of both sides.
    pub fn clear(&mut self) {
        self.bids.clear();
        self.asks.clear();
    }
}

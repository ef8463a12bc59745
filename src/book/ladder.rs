//! The fixed-tick price ladder: an exact L2 book with O(1) level updates near the market.
//!
//! Each side keeps a **window** of `W` consecutive ticks (a power of two) in a fixed array of
//! lots plus a hierarchical occupancy bitmap, and every level outside the window in
//! an exact, slower **overflow** store. Nothing is ever dropped: the whole book is exact,
//! only its far tail is slower to update.
//!
//! - **Set / delete** inside the window: one array write and one to three bitmap words, O(1).
//! - **Best bid / ask** are kept as window offsets: reading them is O(1).
//! - **Next best** after the top level empties: a search in the 64-ary bitmap (at most one
//!   masked word per level up, one `trailing_zeros` per level down), flat whether the next
//!   level is 1 tick or 60,000 ticks away.
//! - **Overflow**: a `Vec<(key, lots)>` sorted so that its best level is at the end. It
//!   allocates only while it grows to its working size and keeps its capacity afterwards
//!   (also across [`Ladder::clear`]); an insert or delete there costs a binary search plus a
//!   `memmove` of the levels worse than it (16 bytes per level: ~64 KiB for a 4,000-level
//!   tail in the worst case). That is the price of exactness without allocation, paid only by
//!   levels far from the market.
//!
//! # Window placement and re-centring (hysteresis)
//!
//! The window of a side is placed so that the side's best level sits at its middle (offset
//! `W/2`). A side never stores a level *better* than its window, and its best level is always
//! inside the window, so the best price is always an array slot. The window moves only when:
//!
//! 1. a level arrives that is better than the whole window (the market moved by more than
//!    `W/2` ticks in the side's favour since the last move), or the side was empty; or
//! 2. after the best level is deleted, the next best lies in the worst quarter of the window
//!    (the market walked `W/4` ticks away) while the overflow holds levels; or the window
//!    emptied and the overflow's best level must come in.
//!
//! Each move puts the new best at `W/2` again, so a market must travel `W/2` ticks one way
//! or `W/4` the other before the next move: a price oscillating around a window edge moves it
//! at most once. The array is a ring (`slot = tick mod W`), so a move touches only the
//! levels that enter or leave the window (plus bitmap words), never the ones that stay.
//!
//! # Prices at the edges of `i64`
//!
//! Every `i64` price is accepted. Bids are stored under the key `!px_tick` (which reverses the
//! order without overflow), and window bases are clamped so that `base + W - 1` never
//! overflows; the few computations that could, use `i128` or wrapping arithmetic on a proven
//! range.

mod bitmap;
mod side;

pub(crate) use side::CHANGE_LOG;
use side::{SideBook, SideIter};

/// Bytes between two writes of [`resident_zeroed`]: the smallest page size Linux uses.
const PAGE: usize = 4096;

/// A zeroed slice of `len` elements whose pages are all resident.
///
/// A zeroed allocation this large comes straight from the kernel as untouched pages, each
/// mapped on a page fault the first time it is written: in a ladder, on the hot path, the
/// first time a price lands in that part of the window (and the process's resident memory
/// creeps up for as long as prices keep finding new pages). Writing one element per page
/// here moves those faults to the book's creation. The value written goes through
/// `black_box`, so the compiler cannot drop the write as a store of zero into zeroed memory.
pub(crate) fn resident_zeroed<T: Copy + Default>(len: usize) -> Box<[T]> {
    let mut v = vec![T::default(); len].into_boxed_slice();
    let step = (PAGE / core::mem::size_of::<T>().max(1)).max(1);
    for i in (0..len).step_by(step) {
        v[i] = std::hint::black_box(T::default());
    }
    v
}

/// The side of the book a level is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    /// Buy orders: the best is the highest price.
    Bid,
    /// Sell orders: the best is the lowest price.
    Ask,
}

/// One price level: a price in ticks and the total size resting there in lots.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Level {
    /// Price, in ticks of the instrument.
    pub px_tick: i64,
    /// Size, in lots of the instrument (always positive for a stored level).
    pub qty_lots: i64,
}

/// What a [`Ladder::set`] (or [`BTreeBook::set`](super::BTreeBook::set)) did to the book.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Applied {
    /// A new level was added.
    Inserted,
    /// An existing level got a new size.
    Updated,
    /// An existing level was removed (`qty_lots == 0`).
    Deleted,
    /// A delete (`qty_lots == 0`) for a price with no level: nothing changed. Venues send
    /// these legitimately (a level both added and removed between snapshots), so upstream
    /// counts them rather than treating them as errors.
    DeleteMissing,
    /// A negative size: ignored, nothing changed. Upstream counts it as bad input.
    Rejected,
}

impl Applied {
    /// `true` if the book changed.
    #[inline]
    pub const fn changed(self) -> bool {
        matches!(self, Applied::Inserted | Applied::Updated | Applied::Deleted)
    }
}

/// Order-reversing key of a bid price (`!px == -px - 1`: never overflows).
#[inline]
const fn bid_key(px_tick: i64) -> i64 {
    !px_tick
}

/// An exact L2 book for one instrument: a fixed-tick array window per side plus an overflow
/// store for the far tail (see the [module docs](self)).
///
/// ```
/// use ladderfeed::book::{Applied, Ladder, Level, Side};
///
/// let mut book = Ladder::with_window(1024);
/// assert_eq!(book.set(Side::Bid, 6_168_599, 150), Applied::Inserted);
/// assert_eq!(book.set(Side::Bid, 6_168_000, 20), Applied::Inserted);
/// assert_eq!(book.set(Side::Ask, 6_168_600, 7), Applied::Inserted);
/// // Far outside the window: kept exactly, in the overflow.
/// assert_eq!(book.set(Side::Ask, 9_000_000, 1), Applied::Inserted);
///
/// assert_eq!(book.best_bid(), Some(Level { px_tick: 6_168_599, qty_lots: 150 }));
/// assert_eq!(book.set(Side::Bid, 6_168_599, 0), Applied::Deleted);
/// assert_eq!(book.set(Side::Bid, 6_168_599, 0), Applied::DeleteMissing);
/// assert_eq!(book.best_bid().map(|l| l.px_tick), Some(6_168_000));
///
/// let asks: Vec<i64> = book.iter(Side::Ask).map(|l| l.px_tick).collect();
/// assert_eq!(asks, [6_168_600, 9_000_000]);
/// assert_eq!(book.len(Side::Ask), 2);
/// ```
#[derive(Clone)]
pub struct Ladder {
    bids: SideBook,
    asks: SideBook,
    /// The largest window [`Ladder::fit_window`] may grow to (the window itself when fixed).
    max_window: usize,
    /// The name [`Ladder::mark`] last gave the book's state (0: never marked).
    mark: u64,
}

/// The first name of the next block of [`Ladder::mark`]'s names a thread takes: unique across
/// every ladder of the process.
static NEXT_MARKS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// Names a thread takes from [`NEXT_MARKS`] at once.
const MARK_BLOCK: u64 = 1 << 20;

thread_local! {
    /// This thread's names for [`Ladder::mark`]: the next one and the end of its block (the
    /// shared counter is touched once a block, so engines on different cores do not contend
    /// for it on every checksum).
    static MARKS: std::cell::Cell<(u64, u64)> = const { std::cell::Cell::new((0, 0)) };
}

/// A name no other call returns, on any thread (never 0).
fn next_mark() -> u64 {
    MARKS.with(|m| {
        let (mut next, mut end) = m.get();
        if next == end {
            next = NEXT_MARKS.fetch_add(MARK_BLOCK, std::sync::atomic::Ordering::Relaxed);
            end = next + MARK_BLOCK;
        }
        m.set((next + 1, end));
        next
    })
}

impl Default for Ladder {
    fn default() -> Self {
        Ladder::new()
    }
}

impl std::fmt::Debug for Ladder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ladder")
            .field("window_ticks", &self.window_ticks())
            .field("best_bid", &self.best_bid())
            .field("best_ask", &self.best_ask())
            .field("bids", &self.len(Side::Bid))
            .field("asks", &self.len(Side::Ask))
            .finish()
    }
}

impl Ladder {
    /// The default window, in ticks per side: 2^16 = 65,536.
    ///
    /// Why 2^16: the array costs 8 bytes per tick per side (1 MiB for the book) and the
    /// bitmap 1/64 of that, but only the cache lines near the market are ever hot. 65,536
    /// ticks put 32,768 ticks on each side of the best price: ±$327 (±0.5%) for BTCUSDT at
    /// 0.01, more than ±5% for most other instruments at their usual tick sizes, so the
    /// levels that trade, and an intraday move, stay in the array; the window follows the
    /// market when it moves further. A Binance 5,000-level snapshot spans ~600,000 ticks:
    /// the far tail goes to the overflow, where it is exact but rarely touched. Three bitmap
    /// levels (1024, 16 and 1 words) find the next best in a handful of instructions.
    pub const DEFAULT_WINDOW_TICKS: usize = 1 << 16;

    /// The smallest window accepted by [`Ladder::with_window`]: one bitmap word.
    pub const MIN_WINDOW_TICKS: usize = 64;

    /// The largest window accepted by [`Ladder::with_window`] (2^24 ticks, 128 MiB per side).
    pub const MAX_WINDOW_TICKS: usize = 1 << 24;

    /// The first window of a [growable](Self::growable) ladder, in ticks per side: 2^10
    /// (8 KiB a side, two pages), until a snapshot's price span asks for more.
    pub const GROWABLE_START_TICKS: usize = 1 << 10;

    /// An empty book with the [default window](Self::DEFAULT_WINDOW_TICKS).
    pub fn new() -> Ladder {
        Ladder::with_window(Self::DEFAULT_WINDOW_TICKS)
    }

    /// An empty book whose array window spans `window_ticks` ticks per side.
    ///
    /// `window_ticks` is rounded up to a power of two and clamped to
    /// [`MIN_WINDOW_TICKS`](Self::MIN_WINDOW_TICKS)`..=`[`MAX_WINDOW_TICKS`](Self::MAX_WINDOW_TICKS);
    /// [`window_ticks`](Self::window_ticks) tells the value used. This is the only
    /// allocation of the array part, and its pages are made resident here (8 bytes per tick
    /// per side, 1 MiB at the default window), so no page fault waits for the first price
    /// that lands in a new part of the window.
    pub fn with_window(window_ticks: usize) -> Ladder {
        let w = Self::round_window(window_ticks);
        Ladder { bids: SideBook::new(w), asks: SideBook::new(w), max_window: w, mark: 0 }
    }

    /// An empty book whose window starts small
    /// ([`GROWABLE_START_TICKS`](Self::GROWABLE_START_TICKS), or `max_window_ticks` if smaller)
    /// and is sized from the book's own snapshots by
    /// [`fit_window`](Self::fit_window), up to `max_window_ticks` (rounded and clamped as in
    /// [`with_window`](Self::with_window)).
    ///
    /// Why: a window is made resident when it is allocated (no page fault on the hot path
    /// later), and 1 MiB a book at the default window is most of the cost of a new book: on a
    /// short capture of many small books (ten Deribit options, a 10-level snapshot each) it
    /// was most of the replay. A book grows its window at most `log2(max / start)` times over
    /// its life, each time at a snapshot (an empty book), never on an update.
    ///
    /// ```
    /// use ladderfeed::book::{Ladder, Side};
    ///
    /// let mut book = Ladder::growable(1 << 16);
    /// assert_eq!(book.window_ticks(), Ladder::GROWABLE_START_TICKS);
    /// // A snapshot whose widest side spans 5,000 ticks: a window of 4x that, rounded up.
    /// assert!(book.fit_window(5_000));
    /// assert_eq!(book.window_ticks(), 1 << 15);
    /// // Never past the maximum, never smaller again.
    /// assert!(book.fit_window(1_000_000));
    /// assert_eq!(book.window_ticks(), 1 << 16);
    /// assert!(!book.fit_window(10));
    /// book.set(Side::Bid, 100, 1);
    /// assert_eq!(book.window_ticks(), 1 << 16);
    /// ```
    pub fn growable(max_window_ticks: usize) -> Ladder {
        let max = Self::round_window(max_window_ticks);
        let w = Self::GROWABLE_START_TICKS.min(max);
        Ladder { bids: SideBook::new(w), asks: SideBook::new(w), max_window: max, mark: 0 }
    }

    fn round_window(window_ticks: usize) -> usize {
        window_ticks.clamp(Self::MIN_WINDOW_TICKS, Self::MAX_WINDOW_TICKS).next_power_of_two()
    }

    /// Grows an **empty** book's window to fit a snapshot whose widest side spans
    /// `span_ticks` ticks (best to worst): four times the span, rounded up to a power of two,
    /// so the snapshot sits in the array with the best level at the middle and a quarter of
    /// the window to spare; at most the ladder's maximum. The new window is allocated and
    /// made resident here. Returns whether it grew: never on a book holding levels, never
    /// smaller, never past the maximum (a fixed-window ladder never grows).
    pub fn fit_window(&mut self, span_ticks: u64) -> bool {
        if !self.is_empty() {
            return false;
        }
        let want = usize::try_from(span_ticks.saturating_mul(4))
            .unwrap_or(usize::MAX)
            .min(self.max_window)
            .next_power_of_two()
            .min(self.max_window);
        if want <= self.window_ticks() {
            return false;
        }
        self.bids.regrow(want);
        self.asks.regrow(want);
        true
    }

    /// The largest window this ladder may grow to (its window, if fixed).
    pub fn max_window_ticks(&self) -> usize {
        self.max_window
    }

    /// The window size in ticks per side (a power of two).
    pub fn window_ticks(&self) -> usize {
        self.bids.window()
    }

    #[inline]
    fn side_mut(&mut self, side: Side) -> &mut SideBook {
        match side {
            Side::Bid => &mut self.bids,
            Side::Ask => &mut self.asks,
        }
    }

    #[inline]
    fn side(&self, side: Side) -> &SideBook {
        match side {
            Side::Bid => &self.bids,
            Side::Ask => &self.asks,
        }
    }

    /// Sets the level at `px_tick` on `side` to `qty_lots`; `0` deletes it.
    ///
    /// A negative `qty_lots` is ignored and reported as [`Applied::Rejected`]; any `i64`
    /// price is accepted. Never panics, and never allocates unless a level lands in the
    /// overflow store beyond its current capacity.
    #[inline]
    pub fn set(&mut self, side: Side, px_tick: i64, qty_lots: i64) -> Applied {
        if qty_lots < 0 {
            return Applied::Rejected;
        }
        match side {
            Side::Bid => self.bids.set(bid_key(px_tick), qty_lots),
            Side::Ask => self.asks.set(px_tick, qty_lots),
        }
    }

    /// The best level of `side`, if the side is not empty. O(1).
    #[inline]
    pub fn best(&self, side: Side) -> Option<Level> {
        let (key, qty_lots) = self.side(side).best()?;
        Some(Level { px_tick: from_key(side, key), qty_lots })
    }

    /// The highest bid. O(1).
    #[inline]
    pub fn best_bid(&self) -> Option<Level> {
        self.best(Side::Bid)
    }

    /// The lowest ask. O(1).
    #[inline]
    pub fn best_ask(&self) -> Option<Level> {
        self.best(Side::Ask)
    }

    /// `true` when both sides have levels and the best bid is at or above the best ask.
    #[inline]
    pub fn is_crossed(&self) -> bool {
        match (self.best_bid(), self.best_ask()) {
            (Some(b), Some(a)) => b.px_tick >= a.px_tick,
            _ => false,
        }
    }

    /// Every level of `side`, best first: the array window, then the overflow.
    pub fn iter(&self, side: Side) -> Levels<'_> {
        Levels { inner: self.side(side).iter(), side }
    }

    /// The best `n` levels of `side`, best first.
    pub fn top(&self, side: Side, n: usize) -> std::iter::Take<Levels<'_>> {
        self.iter(side).take(n)
    }

    /// Number of levels on `side`. O(1).
    #[inline]
    pub fn len(&self, side: Side) -> usize {
        self.side(side).len()
    }

    /// `true` when both sides are empty.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.bids.len() == 0 && self.asks.len() == 0
    }

    /// Levels of `side` held in the array window and in the overflow store (diagnostics:
    /// a large overflow share means the window is too small for the instrument).
    pub fn split_len(&self, side: Side) -> (usize, usize) {
        self.side(side).split_len()
    }

    /// The prices `side`'s array window covers now (levels outside it are in the overflow).
    /// Diagnostics: it moves as the market does.
    pub fn window_range(&self, side: Side) -> std::ops::RangeInclusive<i64> {
        let (lo_key, hi_key) = self.side(side).key_range();
        match side {
            Side::Bid => !hi_key..=!lo_key,
            Side::Ask => lo_key..=hi_key,
        }
    }

    /// Removes every level of both sides. Keeps all memory (array and overflow capacity).
    pub fn clear(&mut self) {
        self.bids.clear();
        self.asks.clear();
    }

    /// Removes every level of one side.
    pub fn clear_side(&mut self, side: Side) {
        self.side_mut(side).clear();
    }

    /// Keeps the best `depth` levels of `side` and removes the others, as a depth-limited
    /// subscription requires (Kraken sends no delete for a level pushed out of the subscribed
    /// depth). Returns how many levels were removed.
    ///
    /// Trims from the worst end (the overflow's tail, then the window found by reverse bitmap
    /// searches), so the cost grows with the levels removed (one, after a typical update), not
    /// with `depth`. Never allocates and never moves the array window.
    ///
    /// ```
    /// use ladderfeed::book::{Ladder, Side};
    ///
    /// let mut book = Ladder::with_window(1024);
    /// for i in 0..5 {
    ///     book.set(Side::Ask, 100 + i, 1);
    /// }
    /// book.set(Side::Ask, 1_000_000, 1); // far out, in the overflow
    /// assert_eq!(book.truncate(Side::Ask, 3), 3);
    /// let asks: Vec<i64> = book.iter(Side::Ask).map(|l| l.px_tick).collect();
    /// assert_eq!(asks, [100, 101, 102]);
    /// assert_eq!(book.truncate(Side::Ask, 3), 0);
    /// ```
    pub fn truncate(&mut self, side: Side, depth: usize) -> usize {
        self.side_mut(side).truncate(depth)
    }

    /// Names the book's present state and starts counting changes from it afresh: the name
    /// is one no other call returns, on any ladder. While [`Ladder::marked`] still returns
    /// it, the book is that state changed only where [`Ladder::changed_only_worse_than`]
    /// allows (a clone carries the name and its own changes since, so it holds too). A
    /// checksum memo uses it to know that nothing within the checksummed depth changed
    /// without walking the levels.
    pub(crate) fn mark(&mut self) -> u64 {
        self.mark = next_mark();
        self.bids.untouch();
        self.asks.untouch();
        self.mark
    }

    /// The name of the state [`Ladder::mark`] last named (0: never marked).
    #[inline]
    pub(crate) fn marked(&self) -> u64 {
        self.mark
    }

    /// Whether every level of `side` set, deleted, cut or cleared since the mark is strictly
    /// worse than `px_tick` (`None`: whether none was).
    #[inline]
    pub(crate) fn changed_only_worse_than(&self, side: Side, px_tick: Option<i64>) -> bool {
        let touched = self.side(side).touched();
        match (px_tick, side) {
            (None, _) => touched == i64::MAX,
            (Some(px), Side::Bid) => touched > bid_key(px),
            (Some(px), Side::Ask) => touched > px,
        }
    }

    /// Logs, until the next [`Ladder::mark`], the changes to `side`'s levels at `px_tick` or
    /// better (`None`: at any price), for [`Ladder::changes`]. Set after each mark: a mark
    /// keeps the previous watch.
    #[inline]
    pub(crate) fn watch(&mut self, side: Side, px_tick: Option<i64>) {
        let key = match (px_tick, side) {
            (None, _) => i64::MAX,
            (Some(px), Side::Bid) => bid_key(px),
            (Some(px), Side::Ask) => px,
        };
        self.side_mut(side).watch(key);
    }

    /// The prices of `side` set at or better than the watched price since the mark (see
    /// [`Ladder::watch`]), best first, each once, written to `buf`; or `None` if a change there
    /// was not logged (more than [`CHANGE_LOG`] of them, levels cut or cleared, a side never
    /// marked). Together with [`Ladder::qty_at`] they bring a copy of the top levels up to
    /// date without walking the side.
    #[inline]
    pub(crate) fn changes<'b>(
        &self,
        side: Side,
        buf: &'b mut [i64; CHANGE_LOG],
    ) -> Option<&'b [i64]> {
        let keys = self.side(side).changes()?;
        let buf = &mut buf[..keys.len()];
        buf.copy_from_slice(keys);
        // Smaller keys are better on both sides. Few keys: the sort is an insertion sort.
        buf.sort_unstable();
        let mut n = 0;
        for i in 0..buf.len() {
            if n == 0 || buf[i] != buf[n - 1] {
                buf[n] = buf[i];
                n += 1;
            }
        }
        let prices = &mut buf[..n];
        prices.iter_mut().for_each(|k| *k = from_key(side, *k));
        Some(prices)
    }

    /// The lots at `px_tick` on `side` (0: no level there).
    #[inline]
    pub fn qty_at(&self, side: Side, px_tick: i64) -> i64 {
        match side {
            Side::Bid => self.bids.qty_at(bid_key(px_tick)),
            Side::Ask => self.asks.qty_at(px_tick),
        }
    }

    /// Best-first iterator over the levels of `side` worse than `px_tick`.
    pub fn iter_after(&self, side: Side, px_tick: i64) -> Levels<'_> {
        let key = match side {
            Side::Bid => bid_key(px_tick),
            Side::Ask => px_tick,
        };
        Levels { inner: self.side(side).iter_after(key), side }
    }

    /// Makes room for `levels` levels per side outside the array window, so a book that stays
    /// within that size never allocates. The engine calls it after each snapshot with twice
    /// the snapshot's size.
    pub fn reserve(&mut self, levels: usize) {
        self.bids.reserve(levels);
        self.asks.reserve(levels);
    }
}

/// Price of a stored key on `side`.
#[inline]
const fn from_key(side: Side, key: i64) -> i64 {
    match side {
        Side::Bid => !key,
        Side::Ask => key,
    }
}

/// Best-first iterator over one side of a [`Ladder`], from [`Ladder::iter`] or
/// [`Ladder::top`].
#[derive(Clone)]
pub struct Levels<'a> {
    inner: SideIter<'a>,
    side: Side,
}

impl Iterator for Levels<'_> {
    type Item = Level;

    #[inline]
    fn next(&mut self) -> Option<Level> {
        let (key, qty_lots) = self.inner.next()?;
        Some(Level { px_tick: from_key(self.side, key), qty_lots })
    }
}

impl std::fmt::Debug for Levels<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Levels").field("side", &self.side).finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The changes since the mark come best first on each side, each price once, and only
    /// those at the watched price or better; a cut within them leaves them unknown.
    #[test]
    fn changes_come_best_first_once_each() {
        let mut book = Ladder::new();
        for px in 90..=110 {
            book.set(Side::Bid, px, 1);
            book.set(Side::Ask, px + 100, 1);
        }
        book.mark();
        book.watch(Side::Bid, Some(100));
        book.watch(Side::Ask, Some(205));
        for (px, qty) in [(95, 2), (104, 0), (99, 3), (100, 7), (104, 5), (95, 0), (111, 1)] {
            book.set(Side::Bid, px, qty);
        }
        for (px, qty) in [(205, 2), (201, 0), (210, 4), (201, 3), (199, 1)] {
            book.set(Side::Ask, px, qty);
        }
        let mut buf = [0; CHANGE_LOG];
        assert_eq!(book.changes(Side::Bid, &mut buf), Some(&[111, 104, 100][..]));
        assert_eq!(book.changes(Side::Ask, &mut buf), Some(&[199, 201, 205][..]));
        book.mark();
        assert_eq!(book.changes(Side::Bid, &mut buf), Some(&[][..]));
        book.truncate(Side::Ask, 3);
        assert_eq!(book.changes(Side::Ask, &mut buf), None);
    }
}

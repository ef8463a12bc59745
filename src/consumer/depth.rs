//! Books' top N, rebuilt from the stream: no peeking into the engine, no second ring.
//!
//! A book that publishes its top N ([`Engine::with_depth`](crate::engine::Engine::with_depth))
//! sends, for each message that changed it, one record per level that changed and an end
//! record. [`Depth::observe`] applies them and says when a book's top N is complete again.
//!
//! ```
//! use ladderfeed::consumer::Depth;
//! use ladderfeed::event::{Event, Side, Stamps};
//!
//! let t = Stamps::default();
//! let mut depth = Depth::default();
//! for ev in [
//!     Event::depth_level(t, 3, Side::Buy, 100, 5),
//!     Event::depth_level(t, 3, Side::Buy, 99, 1),
//!     Event::depth_level(t, 3, Side::Sell, 101, 2),
//!     Event::depth_end(t, 3, 10),
//! ] {
//!     let done = depth.observe(&ev);
//!     assert_eq!(done, ev.kind() == ladderfeed::event::EventKind::DepthEnd { levels: 10 });
//! }
//! assert_eq!(depth.bids(3), &[[100, 5], [99, 1]]);
//! assert_eq!(depth.asks(3), &[[101, 2]]);
//! depth.observe(&Event::depth_level(t, 3, Side::Buy, 100, 0));
//! assert_eq!(depth.bids(3), &[[99, 1]]);
//! ```

use crate::event::{Event, EventKind, InstrumentId, Side};

/// One book's top N: `(price ticks, size lots)` per side, best first.
#[derive(Debug, Clone, Default)]
struct Top {
    sides: [Vec<[i64; 2]>; 2],
}

/// The top N of every book that publishes one, by instrument id.
#[derive(Debug, Clone, Default)]
pub struct Depth {
    books: Vec<Top>,
}

impl Depth {
    /// Applies `ev` if it is a record of a book's top N. `true` when it ends a message's
    /// changes: that book's top N ([`Depth::bids`], [`Depth::asks`]) is complete.
    pub fn observe(&mut self, ev: &Event) -> bool {
        if !ev.is_depth() {
            return false;
        }
        let i = usize::from(ev.instrument());
        if self.books.len() <= i {
            self.books.resize_with(i + 1, Top::default);
        }
        let top = &mut self.books[i];
        match ev.kind() {
            EventKind::DepthLevel { side, price_tick, size_lots } => {
                let bid = side == Side::Buy;
                let levels = &mut top.sides[usize::from(!bid)];
                // Best first: bids by descending price, asks by ascending.
                let at =
                    levels.partition_point(
                        |l| if bid { l[0] > price_tick } else { l[0] < price_tick },
                    );
                let present = levels.get(at).is_some_and(|l| l[0] == price_tick);
                match (present, size_lots) {
                    (true, 0) => {
                        levels.remove(at);
                    }
                    (true, q) => levels[at][1] = q,
                    (false, 0) => {}
                    (false, q) => levels.insert(at, [price_tick, q]),
                }
                false
            }
            EventKind::DepthEnd { .. } => true,
            EventKind::DepthClear => {
                top.sides.iter_mut().for_each(Vec::clear);
                false
            }
            _ => false,
        }
    }

    /// The bids of `id`'s top N, best first.
    pub fn bids(&self, id: InstrumentId) -> &[[i64; 2]] {
        self.books.get(usize::from(id)).map_or(&[], |t| &t.sides[0])
    }

    /// The asks of `id`'s top N, best first.
    pub fn asks(&self, id: InstrumentId) -> &[[i64; 2]] {
        self.books.get(usize::from(id)).map_or(&[], |t| &t.sides[1])
    }
}

//! The venue's own book: what the simulated exchange holds after the frames it has sent.
//!
//! A client that is in sync must hold exactly this book; the live tests compare the two after
//! every resync. It is built by a separate implementation from the client's (the plain
//! `serde_json` + `BTreeMap` reference of the benchmarks, `benches/reference`), fed the
//! capture's frames as the venue wrote them, in order, damaged or not on the wire: a dropped,
//! reordered or corrupted frame is the client's loss, not the venue's.
//!
//! A venue whose books start from a REST snapshot (Binance) starts each book from the
//! capture's (or, when the capture recorded none, from an empty book at the id its first
//! update bridges), taken when the symbol's first update goes out (so the venue's book is the one
//! the recorded session had); from then on the simulator serves *fresh* snapshots from this
//! book, as Binance does, so a client that lost a diff can resync one symbol over REST. A
//! client that resubscribes one book, on a venue that answers with a snapshot, gets one made
//! from here by the venue's protocol (`venues/`).

use std::sync::Arc;

use ladderfeed::book::{Instrument, Venue};

use crate::capture::Capture;
use crate::model::{RefBook, Reference, Slot};
use crate::protocol::SimProtocol;
use crate::venues::protocol;

/// A book as exact decimal text: `(price, size)` per level, best first on each side, numbers
/// without trailing zeros (`"61685.9"`, `"0.5"`), so books on different ticks compare.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BookText {
    /// Bids, highest first.
    pub bids: Vec<(String, String)>,
    /// Asks, lowest first.
    pub asks: Vec<(String, String)>,
}

impl BookText {
    /// The best `depth` levels of each side.
    pub fn top(&self, depth: usize) -> BookText {
        BookText {
            bids: self.bids.iter().take(depth).cloned().collect(),
            asks: self.asks.iter().take(depth).cloned().collect(),
        }
    }

    /// Every level, bids then asks (best first on each side), each written by `bid` or
    /// `ask` from its price and size, joined with commas: the level list of a venue message.
    pub fn levels_joined(
        &self,
        bid: impl Fn(&str, &str) -> String,
        ask: impl Fn(&str, &str) -> String,
    ) -> String {
        let bids = self.bids.iter().map(|(p, q)| bid(p, q));
        let asks = self.asks.iter().map(|(p, q)| ask(p, q));
        bids.chain(asks).collect::<Vec<_>>().join(",")
    }

    /// The first level where `self` and `other` differ, described (`None`: equal).
    pub fn first_difference(&self, other: &BookText) -> Option<String> {
        for (name, a, b) in [("bid", &self.bids, &other.bids), ("ask", &self.asks, &other.asks)] {
            let n = a.len().max(b.len());
            for i in 0..n {
                if a.get(i) != b.get(i) {
                    return Some(format!(
                        "{name} level {i}: {:?} vs {:?} ({} vs {} {name} levels)",
                        a.get(i),
                        b.get(i),
                        a.len(),
                        b.len()
                    ));
                }
            }
        }
        None
    }
}

/// The venue's books after the frames applied so far (one connection's stream, from its
/// first frame).
pub struct VenueBooks {
    venue: Venue,
    proto: &'static dyn SimProtocol,
    capture: Arc<Capture>,
    model: Reference<RefBook>,
    /// Capture frames applied (the last one's index is `applied - 1`).
    applied: usize,
}

impl std::fmt::Debug for VenueBooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VenueBooks")
            .field("venue", &self.venue)
            .field("applied", &self.applied)
            .field("books", &self.model.books.len())
            .finish()
    }
}

impl VenueBooks {
    /// Empty books for `capture`, served as `venue`.
    pub fn new(venue: Venue, capture: Arc<Capture>) -> VenueBooks {
        let proto = protocol(venue);
        VenueBooks { venue, proto, capture, model: Reference::new(venue), applied: 0 }
    }

    /// How many capture frames have been applied (frames `0..applied`).
    pub fn applied(&self) -> usize {
        self.applied
    }

    /// Applies capture frames up to and including frame `last` (frames already applied are
    /// not applied again).
    pub fn advance_to(&mut self, last: usize) {
        let capture = Arc::clone(&self.capture);
        while self.applied <= last {
            let Some(frame) = capture.frame(self.applied) else { break };
            self.apply(frame);
        }
    }

    /// Applies the next capture frame, `frame` (as the venue wrote it).
    pub fn apply(&mut self, frame: &[u8]) {
        self.applied += 1;
        if let Some(symbol) = self.proto.rest_seeded_symbol(frame) {
            self.seed(&symbol, Some(frame));
        }
        self.model.handle(frame, false);
    }

    /// Starts `symbol`'s book from the capture's REST snapshot, once; without one, from the
    /// protocol's empty book at the id `first_update` bridges.
    fn seed(&mut self, symbol: &str, first_update: Option<&[u8]>) {
        if self.model.books.get(symbol).is_some_and(|(_, slot)| slot.synced()) {
            return;
        }
        let capture = Arc::clone(&self.capture);
        let body = match capture.snapshot(symbol) {
            Some(b) => b.to_vec(),
            None => match first_update.and_then(|f| self.proto.empty_rest_snapshot(f)) {
                Some(b) => b,
                None => return,
            },
        };
        self.model.expect_snapshot(symbol);
        self.model.handle(&body, true);
    }

    fn find(&self, symbol: &str) -> Option<&str> {
        self.model.books.keys().find(|k| k.eq_ignore_ascii_case(symbol)).map(String::as_str)
    }

    /// The symbols that have a book.
    pub fn symbols(&self) -> Vec<String> {
        let mut v: Vec<String> = self.model.books.keys().cloned().collect();
        v.sort();
        v
    }

    /// `symbol`'s whole book (the symbol matched case-insensitively). On a venue whose books
    /// start from a REST snapshot, a symbol whose updates have not started yet is its capture
    /// snapshot.
    pub fn book(&mut self, symbol: &str) -> Option<BookText> {
        if self.find(symbol).is_none() {
            if let Some(rest) = self.proto.rest_symbol(symbol) {
                self.seed(&rest, None);
            }
        }
        let key = self.find(symbol)?.to_owned();
        let (inst, slot) = self.model.books.get(&key)?;
        let side = |levels: &mut dyn Iterator<Item = (&i64, &i64)>| {
            levels.map(|(p, q)| (inst.format_price(*p), inst.format_qty(*q))).collect()
        };
        Some(BookText {
            bids: side(&mut slot.book.bids.iter().rev()),
            asks: side(&mut slot.book.asks.iter()),
        })
    }

    /// `symbol`'s instrument and book slot in the model (the symbol matched
    /// case-insensitively), for a venue's protocol writing a snapshot.
    pub(crate) fn entry(&self, symbol: &str) -> Option<(&Instrument, &Slot<RefBook>)> {
        let (inst, slot) = self.model.books.get(self.find(symbol)?)?;
        Some((inst, slot))
    }

    /// BitMEX: `symbol`'s level ids → (bid, price ticks) in the venue's book.
    pub(crate) fn bitmex_ids(
        &self,
        symbol: &str,
    ) -> Option<&std::collections::BTreeMap<u64, (bool, i64)>> {
        self.model.bitmex_ids(self.find(symbol)?)
    }

    /// The decimals of price and size `symbol`'s recorded snapshots print (Kraken v1).
    pub(crate) fn printed_decimals(&self, symbol: &str) -> Option<(u8, u8)> {
        self.model.kraken_decimals(self.find(symbol)?)
    }
}

/// `ns` since the Unix epoch as RFC 3339 UTC with nanoseconds (`2026-08-09T21:05:48.228846629Z`).
pub fn rfc3339(ns: u64) -> String {
    let secs = ns / 1_000_000_000;
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (proleptic Gregorian).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:09}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        ns % 1_000_000_000
    )
}

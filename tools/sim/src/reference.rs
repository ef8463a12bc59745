//! The venue's own book: what the simulated exchange holds after the frames it has sent.
//!
//! A client that is in sync must hold exactly this book; the live tests compare the two after
//! every resync. It is built by a separate implementation from the client's (the plain
//! `serde_json` + `BTreeMap` reference of the benchmarks, `benches/reference`), fed the
//! capture's frames as the venue wrote them, in order, damaged or not on the wire: a dropped,
//! reordered or corrupted frame is the client's loss, not the venue's.
//!
//! Binance books start from a REST snapshot: the capture's, taken when the symbol's first
//! depth event goes out (so the venue's book is the one the recorded session had). From then
//! on the simulator serves *fresh* snapshots from this book ([`VenueBooks::binance_snapshot`]),
//! as Binance does, so a client that lost a diff can resync one symbol over REST. An OKX,
//! Kraken v1, Coinbase (Exchange or Advanced), Gemini or Bitfinex client that resubscribes
//! one book gets a snapshot of it from here ([`VenueBooks::okx_snapshot`],
//! [`VenueBooks::kraken_snapshot`], [`VenueBooks::coinbase_exchange_snapshot`],
//! [`VenueBooks::coinbase_advanced_snapshot`], [`VenueBooks::gemini_snapshot`],
//! [`VenueBooks::bitfinex_snapshot`]).

use std::fmt::Write as _;
use std::sync::Arc;

use ladderfeed::book::{Instrument, Venue};
use serde_json::Value;

use crate::model::{RefBook, Reference};
use crate::server::Capture;

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
        VenueBooks { venue, capture, model: Reference::new(venue), applied: 0 }
    }

    fn is_binance(&self) -> bool {
        matches!(self.venue, Venue::Binance | Venue::BinanceFutures)
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
        if self.is_binance() {
            if let Some(symbol) = binance_depth_symbol(frame) {
                self.seed(&symbol);
            }
        }
        self.model.handle(frame, false);
    }

    /// Binance: starts `symbol`'s book from the capture's REST snapshot, once.
    fn seed(&mut self, symbol: &str) {
        if self.model.books.get(symbol).is_some_and(|(_, slot)| slot.synced()) {
            return;
        }
        if let Some(body) = self.capture.snapshot(symbol) {
            self.model.expect_snapshot(symbol);
            self.model.handle(body, true);
        }
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

    /// `symbol`'s whole book (the symbol matched case-insensitively). A Binance symbol whose
    /// depth events have not started yet is its capture snapshot.
    pub fn book(&mut self, symbol: &str) -> Option<BookText> {
        if self.is_binance() && self.find(symbol).is_none() {
            let upper = symbol.to_ascii_uppercase();
            self.seed(&upper);
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

    /// A Binance REST depth answer for `symbol` from the current book (`limit` levels a side,
    /// `lastUpdateId` the last update applied), or `None` when the book has not started.
    pub fn binance_snapshot(&self, symbol: &str, limit: usize) -> Option<(u64, Vec<u8>)> {
        let key = self.find(symbol)?;
        let (inst, slot) = self.model.books.get(key)?;
        if !slot.synced() {
            return None;
        }
        let id = slot.last_id();
        let mut out = format!("{{\"lastUpdateId\":{id},");
        if self.venue == Venue::BinanceFutures {
            // Futures answers carry message and transaction times.
            let ms = crate::log::now_ns() / 1_000_000;
            let _ = write!(out, "\"E\":{ms},\"T\":{ms},");
        }
        write_side(&mut out, "bids", inst, &mut slot.book.bids.iter().rev().take(limit));
        out.push(',');
        write_side(&mut out, "asks", inst, &mut slot.book.asks.iter().take(limit));
        out.push('}');
        Some((id, out.into_bytes()))
    }
}

impl VenueBooks {
    /// An OKX `books` snapshot of `inst_id` from the current book (every level, the
    /// checksum of the 25 best interleaved, as OKX computes it), or `None` when there is no
    /// book: what OKX sends after a (re)subscription.
    pub fn okx_snapshot(&mut self, channel: &str, inst_id: &str) -> Option<Vec<u8>> {
        let book = self.book(inst_id)?;
        let mut text = String::new();
        for i in 0..25 {
            for level in [book.bids.get(i), book.asks.get(i)].into_iter().flatten() {
                if !text.is_empty() {
                    text.push(':');
                }
                let _ = write!(text, "{}:{}", level.0, level.1);
            }
        }
        let checksum = crc32fast::hash(text.as_bytes()) as i32;
        let side = |levels: &[(String, String)]| {
            let v: Vec<String> =
                levels.iter().map(|(p, q)| format!("[\"{p}\",\"{q}\",\"0\",\"1\"]")).collect();
            v.join(",")
        };
        let ms = crate::log::now_ns() / 1_000_000;
        Some(
            format!(
                "{{\"arg\":{{\"channel\":\"{channel}\",\"instId\":\"{inst_id}\"}},\"action\":\"snapshot\",\"data\":[{{\"asks\":[{}],\"bids\":[{}],\"ts\":\"{ms}\",\"checksum\":{checksum}}}]}}",
                side(&book.asks),
                side(&book.bids)
            )
            .into_bytes(),
        )
    }
}

impl VenueBooks {
    /// A Kraken v1 book snapshot of `pair` on channel `channel_id` at `depth` from the
    /// current book (the best `depth` levels, prices and sizes with the decimals the pair's
    /// snapshots print), or `None` when there is no book: what Kraken sends after a
    /// (re)subscription.
    pub fn kraken_snapshot(
        &mut self,
        channel_id: u64,
        depth: usize,
        pair: &str,
    ) -> Option<Vec<u8>> {
        let (pd, qd) = self.model.kraken_decimals(self.find(pair)?)?;
        let book = self.book(pair)?.top(depth);
        let now = crate::log::now_ns();
        let ts = format!("{}.{:06}", now / 1_000_000_000, now % 1_000_000_000 / 1000);
        let side = |levels: &[(String, String)]| {
            let v: Vec<String> = levels
                .iter()
                .map(|(p, q)| format!("[\"{}\",\"{}\",\"{ts}\"]", fixed(p, pd), fixed(q, qd)))
                .collect();
            v.join(",")
        };
        Some(
            format!(
                "[{channel_id},{{\"as\":[{}],\"bs\":[{}]}},\"book-{depth}\",\"{pair}\"]",
                side(&book.asks),
                side(&book.bids)
            )
            .into_bytes(),
        )
    }
}

impl VenueBooks {
    /// A Coinbase Exchange `snapshot` of `product` from the current book (every level,
    /// `[price, size]`, best first), or `None` when there is no book: what Coinbase sends
    /// after a (re)subscription to `level2`/`level2_batch`.
    pub fn coinbase_exchange_snapshot(&mut self, product: &str) -> Option<Vec<u8>> {
        let book = self.book(product)?;
        let side = |levels: &[(String, String)]| {
            let v: Vec<String> = levels.iter().map(|(p, q)| format!("[\"{p}\",\"{q}\"]")).collect();
            v.join(",")
        };
        Some(
            format!(
                "{{\"type\":\"snapshot\",\"product_id\":\"{product}\",\"asks\":[{}],\"bids\":[{}]}}",
                side(&book.asks),
                side(&book.bids)
            )
            .into_bytes(),
        )
    }

    /// A Gemini v2 full book for `symbol` from the current book (the first `l2_updates` of a
    /// subscription: every level as a change, with the `trades` and `auction_events` only
    /// that first message carries, here empty), or `None` when there is no book.
    pub fn gemini_snapshot(&mut self, symbol: &str) -> Option<Vec<u8>> {
        let book = self.book(symbol)?;
        let changes = book.levels_joined(
            |p, q| format!("[\"buy\",\"{p}\",\"{q}\"]"),
            |p, q| format!("[\"sell\",\"{p}\",\"{q}\"]"),
        );
        Some(
            format!(
                "{{\"type\":\"l2_updates\",\"symbol\":\"{symbol}\",\"changes\":[{changes}],\"trades\":[],\"auction_events\":[]}}"
            )
            .into_bytes(),
        )
    }
}

impl VenueBooks {
    /// A Coinbase Advanced `l2_data` snapshot of `product` from the current book (every
    /// level, bids then offers, best first), numbered `seq` on the connection, or `None`
    /// when there is no book: what Coinbase sends after a (re)subscription to `level2`.
    pub fn coinbase_advanced_snapshot(&mut self, product: &str, seq: u64) -> Option<Vec<u8>> {
        let book = self.book(product)?;
        let at = rfc3339(crate::log::now_ns());
        let level = |side: &str, p: &str, q: &str| {
            format!(
                "{{\"side\":\"{side}\",\"event_time\":\"{at}\",\"price_level\":\"{p}\",\"new_quantity\":\"{q}\"}}"
            )
        };
        let updates = book.levels_joined(|p, q| level("bid", p, q), |p, q| level("offer", p, q));
        Some(
            format!(
                "{{\"channel\":\"l2_data\",\"timestamp\":\"{at}\",\"sequence_num\":{seq},\"events\":[{{\"type\":\"snapshot\",\"product_id\":\"{product}\",\"updates\":[{updates}]}}]}}"
            )
            .into_bytes(),
        )
    }

    /// A Bitfinex book snapshot of `symbol` on channel `chan_id` from the current book (the
    /// best `len` levels a side, `[PRICE, COUNT, AMOUNT]`, bids then asks with negative
    /// amounts), followed by `seq` when the connection numbers its frames, or `None` when
    /// there is no book: what Bitfinex sends after a (re)subscription. The venue's books
    /// here keep no order counts: every level says 1 (a count only matters as 0, delete).
    pub fn bitfinex_snapshot(
        &mut self,
        chan_id: u64,
        symbol: &str,
        len: usize,
        seq: Option<u64>,
    ) -> Option<Vec<u8>> {
        let book = self.book(symbol)?.top(len);
        let levels =
            book.levels_joined(|p, q| format!("[{p},1,{q}]"), |p, q| format!("[{p},1,-{q}]"));
        let seq = seq.map(|s| format!(",{s}")).unwrap_or_default();
        Some(format!("[{chan_id},[{levels}]{seq}]").into_bytes())
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

/// `text` (a plain decimal) with exactly `decimals` fraction digits (`"1.5"`, 3: `"1.500"`).
fn fixed(text: &str, decimals: u8) -> String {
    let (int, frac) = text.split_once('.').unwrap_or((text, ""));
    let mut out = int.to_owned();
    if decimals > 0 {
        out.push('.');
        out.push_str(frac);
        for _ in frac.len()..usize::from(decimals) {
            out.push('0');
        }
    }
    out
}

fn write_side(
    out: &mut String,
    name: &str,
    inst: &Instrument,
    levels: &mut dyn Iterator<Item = (&i64, &i64)>,
) {
    let _ = write!(out, "\"{name}\":[");
    for (i, (p, q)) in levels.enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(out, "[\"{}\",\"{}\"]", inst.format_price(*p), inst.format_qty(*q));
    }
    out.push(']');
}

/// The symbol of a Binance diff depth event (plain or combined stream).
fn binance_depth_symbol(frame: &[u8]) -> Option<String> {
    // Most frames are not depth events: no JSON parse for those.
    crate::venue::find(frame, b"depthUpdate")?;
    let v: Value = serde_json::from_slice(frame).ok()?;
    let d = v.get("data").unwrap_or(&v);
    d.get("s")?.as_str().map(str::to_owned)
}

//! A synthetic Kraken v1 capture of one busy, deep book: XBT/USD subscribed at `book` depth
//! 1000, a 1,000-level snapshot per side, then single-side updates that keep the book at its
//! depth limit the way Kraken's busiest pairs do: most insert a level *inside* the depth (so
//! the client must drop the worst level to stay at 1,000), others change a size, and some
//! delete a level and publish the next one beyond the old worst (`"r"`). Every update carries
//! the checksum Kraken would send, computed here from a plain `BTreeMap` book.
//!
//! Level spacing is random (1 to 79 ticks of 0.1, mean 40), so each side spans about 40,000
//! ticks: its far tail lies beyond the default 65,536-tick window's half, in the ladder's
//! overflow store, and truncation works on both stores.

use std::collections::BTreeMap;

use ladderfeed::capture::{Record, RecordKind};

/// The subscribed depth of the synthetic book.
pub const KRAKEN_DEEP_DEPTH: usize = 1000;

/// A deterministic generator (splitmix64): the same capture on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`; the tiny modulo bias does not matter here).
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// One side of the generator's book: price tick → lots, and which end is best.
struct GenSide {
    levels: BTreeMap<i64, i64>,
    bid: bool,
}

impl GenSide {
    /// The `k`-th best price (0 = best).
    fn nth(&self, k: usize) -> i64 {
        if self.bid {
            *self.levels.keys().nth_back(k).expect("level")
        } else {
            *self.levels.keys().nth(k).expect("level")
        }
    }

    /// The worst price.
    fn worst(&self) -> i64 {
        self.nth(self.levels.len() - 1)
    }

    /// One tick further from the market than `px` by `d` ticks.
    fn beyond(&self, px: i64, d: i64) -> i64 {
        if self.bid {
            px - d
        } else {
            px + d
        }
    }

    /// Drops the worst levels beyond the depth.
    fn truncate(&mut self) {
        while self.levels.len() > KRAKEN_DEEP_DEPTH {
            if self.bid {
                self.levels.pop_first();
            } else {
                self.levels.pop_last();
            }
        }
    }

    /// The 10 best levels' checksum text (Kraken: digits without the point, leading zeros
    /// stripped; price with 5 decimals = tick × 10^4, size with 8 decimals = lots).
    fn checksum_text(&self, out: &mut String) {
        let top: Vec<(&i64, &i64)> = if self.bid {
            self.levels.iter().rev().take(10).collect()
        } else {
            self.levels.iter().take(10).collect()
        };
        for (px, qty) in top {
            out.push_str(&(px * 10_000).to_string());
            out.push_str(&qty.to_string());
        }
    }
}

/// `tick` of 0.1 as Kraken prints XBT/USD prices (5 decimals).
fn price(tick: i64) -> String {
    format!("{}.{}0000", tick / 10, tick % 10)
}

/// `lots` of 1e-8 as Kraken prints sizes (8 decimals).
fn size(lots: i64) -> String {
    format!("{}.{:08}", lots / 100_000_000, lots % 100_000_000)
}

fn level(px: i64, lots: i64, ts: &str, republished: bool) -> String {
    let r = if republished { ",\"r\"" } else { "" };
    format!("[\"{}\",\"{}\",\"{ts}\"{r}]", price(px), size(lots))
}

fn recv(local_ts: u64, text: String) -> Record {
    Record {
        local_ts,
        conn: 0,
        kind: RecordKind::Recv,
        url: String::new(),
        payload: text.into_bytes(),
    }
}

/// The capture: a subscription status, the snapshot, then `updates` update frames.
pub fn kraken_deep_book(updates: usize) -> Vec<Record> {
    let mut rng = Rng(0x0001_add3_f33d);
    let mut ts_ns: u64 = 1_618_678_132_000_000_000;
    let mut recs = Vec::with_capacity(updates + 2);
    recs.push(recv(
        ts_ns,
        r#"{"channelID":1,"channelName":"book-1000","event":"subscriptionStatus","pair":"XBT/USD","status":"subscribed","subscription":{"depth":1000,"name":"book"}}"#
            .to_owned(),
    ));
    let mid = 562_180i64; // 56,218.0 in ticks of 0.1
    let lots = |rng: &mut Rng| 1 + rng.below(200_000_000) as i64;
    let spacing = |rng: &mut Rng| 1 + rng.below(79) as i64;
    let mut asks = GenSide { levels: BTreeMap::new(), bid: false };
    let mut bids = GenSide { levels: BTreeMap::new(), bid: true };
    let (mut a, mut b) = (mid + 1, mid);
    for _ in 0..KRAKEN_DEEP_DEPTH {
        asks.levels.insert(a, lots(&mut rng));
        bids.levels.insert(b, lots(&mut rng));
        a += spacing(&mut rng);
        b -= spacing(&mut rng);
    }
    let stamp =
        |ts_ns: u64| format!("{}.{:06}", ts_ns / 1_000_000_000, ts_ns % 1_000_000_000 / 1000);
    let ts = stamp(ts_ns);
    let side_text = |s: &GenSide| {
        let mut v: Vec<String> = Vec::with_capacity(KRAKEN_DEEP_DEPTH);
        for k in 0..s.levels.len() {
            let px = s.nth(k);
            v.push(level(px, s.levels[&px], &ts, false));
        }
        v.join(",")
    };
    recs.push(recv(
        ts_ns,
        format!(
            "[1,{{\"as\":[{}],\"bs\":[{}]}},\"book-1000\",\"XBT/USD\"]",
            side_text(&asks),
            side_text(&bids)
        ),
    ));
    let mut text = String::new();
    for _ in 0..updates {
        ts_ns += 50_000 + rng.below(200_000);
        let ts = stamp(ts_ns);
        let bid = rng.below(2) == 0;
        let s = if bid { &mut bids } else { &mut asks };
        let kind = rng.below(100);
        // Activity is heavier near the market: the smaller of two uniform draws.
        let k =
            rng.below(KRAKEN_DEEP_DEPTH as u64).min(rng.below(KRAKEN_DEEP_DEPTH as u64)) as usize;
        let mut entries = Vec::with_capacity(2);
        let mut inserted = false;
        if kind < 55 && k + 1 < s.levels.len() {
            // A new level between the k-th and (k+1)-th best, if there is a free tick.
            let (p, q) = (s.nth(k), s.nth(k + 1));
            let gap = (q - p).abs();
            if gap > 1 {
                let px = s.beyond(p, 1 + rng.below(gap as u64 - 1) as i64);
                let l = lots(&mut rng);
                s.levels.insert(px, l);
                entries.push(level(px, l, &ts, false));
                s.truncate();
                inserted = true;
            }
        }
        if !inserted && kind < 85 {
            let px = s.nth(k);
            let l = lots(&mut rng);
            s.levels.insert(px, l);
            entries.push(level(px, l, &ts, false));
        } else if !inserted {
            // A delete, and the level that now enters the depth from beyond it.
            let px = s.nth(k);
            s.levels.remove(&px);
            entries.push(level(px, 0, &ts, false));
            let next = s.beyond(s.worst(), spacing(&mut rng));
            let l = lots(&mut rng);
            s.levels.insert(next, l);
            entries.push(level(next, l, &ts, true));
        }
        text.clear();
        asks.checksum_text(&mut text);
        bids.checksum_text(&mut text);
        let crc = crc32fast::hash(text.as_bytes());
        let key = if bid { "b" } else { "a" };
        recs.push(recv(
            ts_ns,
            format!(
                "[1,{{\"{key}\":[{}],\"c\":\"{crc}\"}},\"book-1000\",\"XBT/USD\"]",
                entries.join(",")
            ),
        ));
    }
    recs
}

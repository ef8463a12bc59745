//! The plain reference the venue benchmark compares against: `serde_json::Value` per frame,
//! the same exact decimal → integer conversion ([`Step::units`]), a `BTreeMap` per book side,
//! the same sequencing and checksum rules, and the BBO after each message. Written for the
//! benchmark only; it is what a careful first implementation looks like.
//!
//! The book is a type parameter ([`LevelBook`]) so the peer benchmark can run the same
//! serde_json front end into other implementations' books (hftbacktest, nautilus_trader).
//! Checksums and Kraken's depth truncation need ordered levels: they run only on the
//! `BTreeMap` book ([`LevelBook::ordered`]); the peers' books skip them (less work for them).
//!
//! The simulator (`tools/sim`, module `reference`) includes this file too: fed the frames it
//! sends, in order, it is the venue's own book there, the one a client must end up with.

#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::ops::{Deref, DerefMut};

use ladderfeed::book::{write_number, NumberStyle};
use ladderfeed::book::{Instrument, InstrumentRegistry, Step, Venue};
use serde_json::Value;

/// What the reference needs of a book: integer ticks and lots in, best prices out.
pub trait LevelBook {
    /// An empty book for `inst`.
    fn new(inst: &Instrument) -> Self;
    /// Sets the size at a price (`qty == 0` removes the level).
    fn set(&mut self, bid: bool, px: i64, qty: i64);
    /// Empties the book.
    fn clear(&mut self);
    /// (bid tick, ask tick) of the best levels.
    fn bbo(&self) -> (Option<i64>, Option<i64>);
    /// The ordered `BTreeMap` book, for checksums and depth truncation; `None` for the peers.
    fn ordered(&mut self) -> Option<&mut RefBook> {
        None
    }
}

/// One book: bids and asks keyed by price ticks.
#[derive(Default)]
pub struct RefBook {
    pub bids: BTreeMap<i64, i64>,
    pub asks: BTreeMap<i64, i64>,
}

impl LevelBook for RefBook {
    fn new(_: &Instrument) -> Self {
        RefBook::default()
    }

    fn set(&mut self, bid: bool, px: i64, qty: i64) {
        let side = if bid { &mut self.bids } else { &mut self.asks };
        if qty == 0 {
            side.remove(&px);
        } else {
            side.insert(px, qty);
        }
    }

    fn clear(&mut self) {
        self.bids.clear();
        self.asks.clear();
    }

    fn bbo(&self) -> (Option<i64>, Option<i64>) {
        (self.bids.keys().next_back().copied(), self.asks.keys().next().copied())
    }

    fn ordered(&mut self) -> Option<&mut RefBook> {
        Some(self)
    }
}

/// A book with the Binance sequencing state beside it.
pub struct Slot<B> {
    pub book: B,
    synced: bool,
    last_id: u64,
}

impl<B> Slot<B> {
    /// Whether the book has a snapshot under it (Binance: the REST snapshot arrived).
    pub fn synced(&self) -> bool {
        self.synced
    }

    /// The last update id applied (Binance: the snapshot's `lastUpdateId`, then each `u`;
    /// Bybit: each message's `u`).
    pub fn last_id(&self) -> u64 {
        self.last_id
    }
}

impl<B> Deref for Slot<B> {
    type Target = B;
    fn deref(&self) -> &B {
        &self.book
    }
}

impl<B> DerefMut for Slot<B> {
    fn deref_mut(&mut self) -> &mut B {
        &mut self.book
    }
}

/// Reference state for one venue capture.
pub struct Reference<B = RefBook> {
    venue: Venue,
    reg: InstrumentRegistry,
    pub books: HashMap<String, (Instrument, Slot<B>)>,
    conn_seq: Option<u64>,
    kraken_decimals: HashMap<String, (u8, u8)>,
    /// BitMEX: each book's level ids → (bid, price ticks).
    bitmex_ids: HashMap<String, BTreeMap<u64, (bool, i64)>>,
    bfx_chan: HashMap<u64, String>,
    text: Vec<u8>,
    snapshot_symbol: Option<String>,
    /// Binance depth events received before their symbol's snapshot.
    pending: Vec<Value>,
    /// BBOs computed (one per book message), so the work cannot be optimized away.
    pub bbo_count: u64,
    pub checksum_failed: u64,
}

fn s(v: &Value) -> Option<&str> {
    v.as_str()
}

impl<B: LevelBook> Reference<B> {
    pub fn new(venue: Venue) -> Self {
        Reference {
            venue,
            reg: InstrumentRegistry::with_builtins(),
            books: HashMap::new(),
            conn_seq: None,
            kraken_decimals: HashMap::new(),
            bitmex_ids: HashMap::new(),
            bfx_chan: HashMap::new(),
            text: Vec::new(),
            snapshot_symbol: None,
            pending: Vec::new(),
            bbo_count: 0,
            checksum_failed: 0,
        }
    }

    fn book(&mut self, key: &str, learn: &[&str]) -> Option<&mut (Instrument, Slot<B>)> {
        if !self.books.contains_key(key) {
            let inst = match self.reg.lookup(self.venue, key) {
                Some(i) => i,
                None => {
                    let mut tick = Step::ONE;
                    for p in learn {
                        tick = tick.finer(Step::finest_for(p.as_bytes()).ok()?);
                    }
                    let lot = Step::from_decimals(8).ok()?;
                    self.reg.learn(self.venue, key, tick, lot)
                }
            };
            let slot = Slot { book: B::new(&inst), synced: false, last_id: 0 };
            self.books.insert(key.to_owned(), (inst, slot));
        }
        self.books.get_mut(key)
    }

    fn touch(&mut self, key: &str) {
        if let Some((_, b)) = self.books.get(key) {
            let _ = std::hint::black_box(b.bbo());
            self.bbo_count += 1;
        }
    }

    /// Handles one received frame (or REST body when `http`).
    pub fn handle(&mut self, frame: &[u8], http: bool) {
        let Ok(v) = serde_json::from_slice::<Value>(frame) else { return };
        match self.venue {
            Venue::Binance | Venue::BinanceFutures | Venue::BinanceCoinM => self.binance(&v, http),
            Venue::Coinbase => self.coinbase(&v),
            Venue::CoinbaseExchange => self.coinbase_exchange(&v),
            Venue::Gemini => self.gemini(&v),
            Venue::KrakenV1 => self.kraken(&v),
            Venue::Okx => self.okx(&v),
            Venue::Bitfinex => self.bitfinex(&v),
            Venue::BybitSpot | Venue::BybitLinear | Venue::BybitInverse => self.bybit(&v),
            Venue::Deribit => self.deribit(&v),
            Venue::Hyperliquid => self.hyperliquid(&v),
            Venue::KrakenFutures => self.kraken_futures(&v),
            Venue::Bitmex => self.bitmex(&v),
            _ => {}
        }
    }

    fn levels(&mut self, key: &str, arr: Option<&Vec<Value>>, bid: bool) {
        let Some((inst, book)) = self.books.get_mut(key) else { return };
        for l in arr.into_iter().flatten() {
            let (Some(p), Some(q)) = (l.get(0).and_then(s), l.get(1).and_then(s)) else { continue };
            if let (Ok(px), Ok(qty)) = (inst.tick.units(p.as_bytes()), inst.lot.units(q.as_bytes()))
            {
                book.set(bid, px, qty);
            }
        }
    }

    fn binance(&mut self, v: &Value, http: bool) {
        if http || v.get("lastUpdateId").is_some() {
            // The single-symbol captures name the symbol in the URL; the benchmark books
            // snapshots under the only symbol or the one `snapshot_symbol` set. COIN-M
            // answers name their symbol themselves.
            let named = v["symbol"].as_str().map(str::to_owned);
            let Some(key) = named.or_else(|| self.snapshot_symbol.take()) else { return };
            let lid = v["lastUpdateId"].as_u64().unwrap_or(0);
            // An instrument without a known tick learns it from the snapshot's prices.
            let px: Vec<&str> = ["bids", "asks"]
                .iter()
                .flat_map(|k| v[*k].as_array().into_iter().flatten())
                .filter_map(|l| l[0].as_str())
                .collect();
            if self.book(&key, &px).is_none() {
                return;
            }
            if let Some((_, b)) = self.books.get_mut(&key) {
                b.clear();
                b.synced = true;
                b.last_id = lid;
            }
            self.levels(&key, v["bids"].as_array(), true);
            self.levels(&key, v["asks"].as_array(), false);
            for d in std::mem::take(&mut self.pending) {
                self.binance_depth(&d);
            }
            return;
        }
        let d = v.get("data").unwrap_or(v);
        if d["e"].as_str() != Some("depthUpdate") {
            return;
        }
        self.binance_depth(d);
    }

    fn binance_depth(&mut self, d: &Value) {
        let futures = matches!(self.venue, Venue::BinanceFutures | Venue::BinanceCoinM);
        let Some(key) = d["s"].as_str().map(str::to_owned) else { return };
        let (first, last) = (d["U"].as_u64().unwrap_or(0), d["u"].as_u64().unwrap_or(0));
        let prev = d.get("pu").and_then(Value::as_u64);
        // A symbol without a known tick learns it from the prices it first shows (COIN-M
        // contracts are not in the built-in table).
        let px: Vec<String> = ["b", "a"]
            .iter()
            .flat_map(|k| d[*k].as_array().into_iter().flatten())
            .filter_map(|l| l[0].as_str().map(str::to_owned))
            .collect();
        let px: Vec<&str> = px.iter().map(String::as_str).collect();
        let Some((_, b)) = self.book(&key, &px) else { return };
        if !b.synced {
            self.pending.push(d.clone());
            return;
        }
        let id = b.last_id;
        let ok = if futures {
            last >= id && prev.is_none_or(|p| p == id || first <= id)
        } else {
            last > id && first <= id + 1
        };
        if !ok {
            return;
        }
        b.last_id = last;
        self.levels(&key, d["b"].as_array(), true);
        self.levels(&key, d["a"].as_array(), false);
        self.touch(&key);
    }

    fn coinbase(&mut self, v: &Value) {
        let seq = v["sequence_num"].as_u64();
        if let (Some(last), Some(seq)) = (self.conn_seq, seq) {
            if seq != last + 1 {
                return;
            }
        }
        self.conn_seq = seq.or(self.conn_seq);
        if v["channel"].as_str() != Some("l2_data") {
            return;
        }
        for e in v["events"].as_array().into_iter().flatten() {
            let Some(key) = e["product_id"].as_str() else { continue };
            let updates = e["updates"].as_array();
            let snapshot = e["type"].as_str() == Some("snapshot");
            if snapshot {
                let px: Vec<&str> = updates
                    .into_iter()
                    .flatten()
                    .filter_map(|u| u["price_level"].as_str())
                    .collect();
                if let Some((_, b)) = self.book(key, &px) {
                    b.clear();
                }
            }
            let Some((inst, b)) = self.books.get_mut(key) else { continue };
            for u in updates.into_iter().flatten() {
                let bid = u["side"].as_str() == Some("bid");
                let (Some(p), Some(q)) = (u["price_level"].as_str(), u["new_quantity"].as_str())
                else {
                    continue;
                };
                if let (Ok(px), Ok(qty)) =
                    (inst.tick.units(p.as_bytes()), inst.lot.units(q.as_bytes()))
                {
                    b.set(bid, px, qty);
                }
            }
            self.touch(key);
        }
    }

    fn coinbase_exchange(&mut self, v: &Value) {
        let Some(key) = v["product_id"].as_str() else { return };
        match v["type"].as_str() {
            Some("snapshot") => {
                if let Some((_, b)) = self.book(key, &[]) {
                    b.clear();
                }
                self.levels(key, v["bids"].as_array(), true);
                self.levels(key, v["asks"].as_array(), false);
            }
            Some("l2update") => {
                let Some((inst, b)) = self.books.get_mut(key) else { return };
                for c in v["changes"].as_array().into_iter().flatten() {
                    let bid = c[0].as_str() == Some("buy");
                    let (Some(p), Some(q)) = (c[1].as_str(), c[2].as_str()) else { continue };
                    if let (Ok(px), Ok(qty)) =
                        (inst.tick.units(p.as_bytes()), inst.lot.units(q.as_bytes()))
                    {
                        b.set(bid, px, qty);
                    }
                }
            }
            _ => return,
        }
        self.touch(key);
    }

    fn gemini(&mut self, v: &Value) {
        if v["type"].as_str() != Some("l2_updates") {
            return;
        }
        let Some(key) = v["symbol"].as_str() else { return };
        let changes = v["changes"].as_array();
        if v.get("trades").is_some() {
            let px: Vec<&str> =
                changes.into_iter().flatten().filter_map(|c| c[1].as_str()).collect();
            if let Some((_, b)) = self.book(key, &px) {
                b.clear();
            }
        }
        let Some((inst, b)) = self.books.get_mut(key) else { return };
        for c in changes.into_iter().flatten() {
            let bid = c[0].as_str() == Some("buy");
            let (Some(p), Some(q)) = (c[1].as_str(), c[2].as_str()) else { continue };
            if let (Ok(px), Ok(qty)) = (inst.tick.units(p.as_bytes()), inst.lot.units(q.as_bytes()))
            {
                b.set(bid, px, qty);
            }
        }
        self.touch(key);
    }

    fn kraken(&mut self, v: &Value) {
        let Some(arr) = v.as_array() else { return };
        let n = arr.len();
        if n < 4 || !arr[n - 2].as_str().is_some_and(|c| c.starts_with("book-")) {
            return;
        }
        let depth: usize = arr[n - 2].as_str().and_then(|c| c[5..].parse().ok()).unwrap_or(10);
        let Some(key) = arr[n - 1].as_str() else { return };
        let mut checksum = None;
        for part in &arr[1..n - 2] {
            if part.get("as").is_some() {
                let dec = |k: &str, i: usize| {
                    part[k]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|l| l[i].as_str())
                        .map(|t| t.split_once('.').map_or(0, |(_, f)| f.len() as u8))
                        .max()
                        .unwrap_or(0)
                };
                let d = (dec("as", 0).max(dec("bs", 0)), dec("as", 1).max(dec("bs", 1)));
                self.kraken_decimals.insert(key.to_owned(), d);
                let px: Vec<&str> = ["as", "bs"]
                    .iter()
                    .flat_map(|k| part[*k].as_array().into_iter().flatten())
                    .filter_map(|l| l[0].as_str())
                    .collect();
                if let Some((_, b)) = self.book(key, &px) {
                    b.clear();
                }
                self.levels(key, part["as"].as_array(), false);
                self.levels(key, part["bs"].as_array(), true);
            }
            self.levels(key, part.get("a").and_then(Value::as_array), false);
            self.levels(key, part.get("b").and_then(Value::as_array), true);
            if let Some(c) = part.get("c").and_then(Value::as_str) {
                checksum = c.parse::<u32>().ok();
            }
        }
        let (pd, qd) = self.kraken_decimals.get(key).copied().unwrap_or((0, 0));
        let Some((inst, b)) = self.books.get_mut(key) else { return };
        let Some(b) = b.ordered() else {
            self.touch(key);
            return;
        };
        while b.bids.len() > depth {
            let k = *b.bids.keys().next().unwrap_or(&0);
            b.bids.remove(&k);
        }
        while b.asks.len() > depth {
            let k = *b.asks.keys().next_back().unwrap_or(&0);
            b.asks.remove(&k);
        }
        if let Some(want) = checksum {
            self.text.clear();
            let (tick, lot) = (inst.tick, inst.lot);
            let levels: Vec<(i64, i64)> = b
                .asks
                .iter()
                .take(10)
                .map(|(p, q)| (*p, *q))
                .chain(b.bids.iter().rev().take(10).map(|(p, q)| (*p, *q)))
                .collect();
            for (p, q) in levels {
                for (step, units, d) in [(tick, p, pd), (lot, q, qd)] {
                    let mut t = Vec::new();
                    write_number(step, units, NumberStyle::Fixed(d), &mut t);
                    let t: Vec<u8> = t.into_iter().filter(|c| *c != b'.').collect();
                    let z = t.iter().take_while(|c| **c == b'0').count();
                    self.text.extend_from_slice(&t[z..]);
                }
            }
            if crc32fast::hash(&self.text) != want {
                self.checksum_failed += 1;
            }
        }
        self.touch(key);
    }

    fn interleaved_crc(
        &mut self,
        key: &str,
        style: NumberStyle,
        negative_asks: bool,
    ) -> Option<i32> {
        let (inst, b) = self.books.get_mut(key)?;
        let b = b.ordered()?;
        self.text.clear();
        let bids: Vec<_> = b.bids.iter().rev().take(25).collect();
        let asks: Vec<_> = b.asks.iter().take(25).collect();
        for i in 0..25 {
            for (lv, neg) in [(bids.get(i), false), (asks.get(i), negative_asks)] {
                let Some((p, q)) = lv else { continue };
                if !self.text.is_empty() {
                    self.text.push(b':');
                }
                write_number(inst.tick, **p, style, &mut self.text);
                self.text.push(b':');
                write_number(inst.lot, if neg { -**q } else { **q }, style, &mut self.text);
            }
        }
        Some(crc32fast::hash(&self.text) as i32)
    }

    fn okx(&mut self, v: &Value) {
        let arg = &v["arg"];
        if !arg["channel"].as_str().is_some_and(|c| c.starts_with("books")) {
            return;
        }
        let Some(key) = arg["instId"].as_str() else { return };
        for d in v["data"].as_array().into_iter().flatten() {
            if v["action"].as_str() == Some("snapshot") {
                let px: Vec<&str> = ["asks", "bids"]
                    .iter()
                    .flat_map(|k| d[*k].as_array().into_iter().flatten())
                    .filter_map(|l| l[0].as_str())
                    .collect();
                if let Some((_, b)) = self.book(key, &px) {
                    b.clear();
                }
            }
            self.levels(key, d["bids"].as_array(), true);
            self.levels(key, d["asks"].as_array(), false);
            if let Some(want) = d["checksum"].as_i64().filter(|c| *c != 0) {
                // `None`: a peer's book (no ordered levels), not checked.
                let got = self.interleaved_crc(key, NumberStyle::Minimal, false);
                if got.is_some_and(|got| got != want as i32) {
                    self.checksum_failed += 1;
                }
            }
            self.touch(key);
        }
    }

    /// Bybit v5 `orderbook.{depth}.{symbol}`: a snapshot (or a delta with `u == 1`, after a
    /// service restart) replaces the book, a delta sets absolute sizes; the book keeps the
    /// best `depth` levels a side. The update-id chain is not checked here.
    fn bybit(&mut self, v: &Value) {
        let Some(topic) = v["topic"].as_str() else { return };
        let Some(rest) = topic.strip_prefix("orderbook.") else { return };
        let Some(depth) = rest.split('.').next().and_then(|d| d.parse::<usize>().ok()) else {
            return;
        };
        let d = &v["data"];
        let Some(key) = d["s"].as_str() else { return };
        if v["type"].as_str() == Some("snapshot") || d["u"].as_u64() == Some(1) {
            let px: Vec<&str> = ["a", "b"]
                .iter()
                .flat_map(|k| d[*k].as_array().into_iter().flatten())
                .filter_map(|l| l[0].as_str())
                .collect();
            if let Some((_, b)) = self.book(key, &px) {
                b.clear();
            }
        }
        self.levels(key, d["b"].as_array(), true);
        self.levels(key, d["a"].as_array(), false);
        if let Some((_, b)) = self.books.get_mut(key) {
            // The update id the book reflects (a snapshot made from it carries it).
            b.last_id = d["u"].as_u64().unwrap_or(b.last_id);
            if let Some(b) = b.ordered() {
                while b.bids.len() > depth {
                    let k = *b.bids.keys().next().unwrap_or(&0);
                    b.bids.remove(&k);
                }
                while b.asks.len() > depth {
                    let k = *b.asks.keys().next_back().unwrap_or(&0);
                    b.asks.remove(&k);
                }
            }
        }
        self.touch(key);
    }

    /// Deribit `book.{instrument}.{interval}`: a snapshot replaces the book, a change's levels
    /// are `new`/`change` (absolute amounts) or `delete`; prices and amounts are JSON numbers,
    /// read as their shortest text. The change-id chain is not checked here.
    fn deribit(&mut self, v: &Value) {
        let p = &v["params"];
        if !p["channel"].as_str().is_some_and(|c| c.starts_with("book.")) {
            return;
        }
        let d = &p["data"];
        let Some(key) = d["instrument_name"].as_str() else { return };
        let numtext = |x: &Value| x.as_f64().map(|f| format!("{f}"));
        if d["type"].as_str() == Some("snapshot") {
            let px: Vec<String> = ["asks", "bids"]
                .iter()
                .flat_map(|k| d[*k].as_array().into_iter().flatten())
                .filter_map(|l| numtext(&l[1]))
                .collect();
            let px: Vec<&str> = px.iter().map(String::as_str).collect();
            if let Some((_, b)) = self.book(key, &px) {
                b.clear();
            }
        }
        if let Some((inst, b)) = self.books.get_mut(key) {
            for (side, bid) in [("bids", true), ("asks", false)] {
                for l in d[side].as_array().into_iter().flatten() {
                    let (Some(px), Some(qty)) = (numtext(&l[1]), numtext(&l[2])) else { continue };
                    let qty = if l[0].as_str() == Some("delete") { "0".to_owned() } else { qty };
                    if let (Ok(px), Ok(qty)) =
                        (inst.tick.units(px.as_bytes()), inst.lot.units(qty.as_bytes()))
                    {
                        b.set(bid, px, qty);
                    }
                }
            }
            b.last_id = d["change_id"].as_u64().unwrap_or(b.last_id);
        }
        self.touch(key);
    }

    /// Hyperliquid `l2Book`: every message is the whole book.
    fn hyperliquid(&mut self, v: &Value) {
        if v["channel"].as_str() != Some("l2Book") {
            return;
        }
        let d = &v["data"];
        let Some(key) = d["coin"].as_str() else { return };
        let sides: Vec<&Vec<Value>> =
            d["levels"].as_array().into_iter().flatten().filter_map(Value::as_array).collect();
        let px: Vec<&str> =
            sides.iter().flat_map(|s| s.iter()).filter_map(|l| l["px"].as_str()).collect();
        if let Some((inst, b)) = self.book(key, &px) {
            b.clear();
            for (i, side) in sides.iter().enumerate().take(2) {
                for l in side.iter() {
                    let (Some(p), Some(q)) = (l["px"].as_str(), l["sz"].as_str()) else { continue };
                    if let (Ok(p), Ok(q)) =
                        (inst.tick.units(p.as_bytes()), inst.lot.units(q.as_bytes()))
                    {
                        b.set(i == 0, p, q);
                    }
                }
            }
        }
        self.touch(key);
    }

    /// Kraken Futures: a `book_snapshot` replaces the book, each `book` message sets one
    /// level (`qty` 0 removes it); numbers read as their shortest text. The `seq` chain is not
    /// checked here.
    fn kraken_futures(&mut self, v: &Value) {
        let feed = v["feed"].as_str().unwrap_or_default();
        if feed != "book" && feed != "book_snapshot" {
            return;
        }
        let Some(key) = v["product_id"].as_str() else { return };
        let numtext = |x: &Value| x.as_f64().map(|f| format!("{f}"));
        let mut set: Vec<(bool, String, String)> = Vec::new();
        if feed == "book_snapshot" {
            for (side, bid) in [("bids", true), ("asks", false)] {
                for l in v[side].as_array().into_iter().flatten() {
                    if let (Some(p), Some(q)) = (numtext(&l["price"]), numtext(&l["qty"])) {
                        set.push((bid, p, q));
                    }
                }
            }
            let px: Vec<&str> = set.iter().map(|(_, p, _)| p.as_str()).collect();
            if let Some((_, b)) = self.book(key, &px) {
                b.clear();
            }
        } else if let (Some(p), Some(q)) = (numtext(&v["price"]), numtext(&v["qty"])) {
            set.push((v["side"].as_str() == Some("buy"), p, q));
        }
        if let Some((inst, b)) = self.books.get_mut(key) {
            for (bid, p, q) in &set {
                if let (Ok(p), Ok(q)) =
                    (inst.tick.units(p.as_bytes()), inst.lot.units(q.as_bytes()))
                {
                    b.set(*bid, p, q);
                }
            }
            b.last_id = v["seq"].as_u64().unwrap_or(b.last_id);
        }
        self.touch(key);
    }

    /// BitMEX `orderBookL2`: a `partial` replaces the book (its rows grouped by symbol);
    /// `insert`, `update` and `delete` rows change the level of their `id`, whose price is the
    /// row's own or, where the row has none (2021 captures), the one its `partial` or `insert`
    /// gave. Numbers read as their shortest text. Rows of unknown ids are skipped.
    fn bitmex(&mut self, v: &Value) {
        if v["table"].as_str() != Some("orderBookL2") {
            return;
        }
        let action = v["action"].as_str().unwrap_or_default();
        let numtext = |x: &Value| {
            x.as_u64().map(|u| u.to_string()).or_else(|| x.as_f64().map(|f| format!("{f}")))
        };
        let rows: Vec<&Value> = v["data"].as_array().into_iter().flatten().collect();
        if action == "partial" {
            let mut keys: Vec<&str> = rows.iter().filter_map(|r| r["symbol"].as_str()).collect();
            keys.extend(v["filter"]["symbol"].as_str());
            keys.sort_unstable();
            keys.dedup();
            for key in keys {
                let mine: Vec<&&Value> =
                    rows.iter().filter(|r| r["symbol"].as_str() == Some(key)).collect();
                let px: Vec<String> = mine.iter().filter_map(|r| numtext(&r["price"])).collect();
                let px: Vec<&str> = px.iter().map(String::as_str).collect();
                let mut ids = self.bitmex_ids.remove(key).unwrap_or_default();
                ids.clear();
                let Some((inst, b)) = self.book(key, &px) else { continue };
                b.clear();
                for r in mine {
                    let bid = r["side"].as_str() == Some("Buy");
                    let (Some(id), Some(p), Some(q)) =
                        (r["id"].as_u64(), numtext(&r["price"]), numtext(&r["size"]))
                    else {
                        continue;
                    };
                    if let (Ok(p), Ok(q)) =
                        (inst.tick.units(p.as_bytes()), inst.lot.units(q.as_bytes()))
                    {
                        b.set(bid, p, q);
                        ids.insert(id, (bid, p));
                    }
                }
                self.bitmex_ids.insert(key.to_owned(), ids);
                self.touch(key);
            }
            return;
        }
        let mut touched: Vec<String> = Vec::new();
        for r in rows {
            let (Some(key), Some(id)) = (r["symbol"].as_str(), r["id"].as_u64()) else { continue };
            let (Some((inst, b)), Some(ids)) =
                (self.books.get_mut(key), self.bitmex_ids.get_mut(key))
            else {
                continue;
            };
            let bid = r["side"].as_str() == Some("Buy");
            let carried = numtext(&r["price"]).and_then(|p| inst.tick.units(p.as_bytes()).ok());
            let known = ids.get(&id).copied();
            let Some(px) = carried.or(known.map(|(_, p)| p)) else { continue };
            if action == "insert" && known.is_some() || action != "insert" && known.is_none() {
                continue;
            }
            let qty = if action == "delete" {
                0
            } else {
                let Some(q) = numtext(&r["size"]).and_then(|q| inst.lot.units(q.as_bytes()).ok())
                else {
                    continue;
                };
                q
            };
            if let Some((was, old)) = known.filter(|(was, _)| *was != bid) {
                b.set(was, old, 0);
            }
            b.set(bid, px, qty);
            if action == "delete" {
                ids.remove(&id);
            } else {
                ids.insert(id, (bid, px));
            }
            if !touched.iter().any(|t| t == key) {
                touched.push(key.to_owned());
            }
        }
        for key in touched {
            self.touch(&key);
        }
    }

    /// BitMEX: `key`'s level ids → (bid, price ticks), for a simulator writing a `partial`.
    pub fn bitmex_ids(&self, key: &str) -> Option<&BTreeMap<u64, (bool, i64)>> {
        self.bitmex_ids.get(key)
    }

    fn bitfinex(&mut self, v: &Value) {
        if v["event"].as_str() == Some("subscribed") {
            if v["channel"].as_str() == Some("book") {
                if let (Some(id), Some(sym)) = (v["chanId"].as_u64(), v["symbol"].as_str()) {
                    self.bfx_chan.insert(id, sym.to_owned());
                    // Unknown pairs: 8 decimals, as ladderfeed learns them for Bitfinex.
                    self.book(sym, &["0.00000001"]);
                }
            }
            return;
        }
        let Some(arr) = v.as_array() else { return };
        let Some(key) =
            arr.first().and_then(Value::as_u64).and_then(|id| self.bfx_chan.get(&id)).cloned()
        else {
            return;
        };
        let Some(payload) = arr.get(1).and_then(Value::as_array) else { return };
        let Some((inst, b)) = self.books.get_mut(&key) else { return };
        let nested = payload.first().is_some_and(Value::is_array);
        let one = [Value::Array(payload.clone())];
        let levels: &[Value] = if nested { payload } else { &one };
        for l in levels {
            // JSON numbers: serde_json gives f64, so re-print them (the peers' way; Rust's
            // `Display` for f64 is the shortest round trip and never an exponent, which
            // `Value::to_string` can write: 1.011e-5).
            let (Some(p), Some(c), Some(a)) = (
                l.get(0).and_then(Value::as_f64),
                l.get(1).and_then(Value::as_u64),
                l.get(2).and_then(Value::as_f64),
            ) else {
                continue;
            };
            let (Ok(px), Ok(amt)) = (
                inst.tick.units(p.to_string().as_bytes()),
                inst.lot.units_signed(a.to_string().as_bytes()),
            ) else {
                continue;
            };
            if c > 0 {
                b.set(amt > 0, px, amt.abs());
            } else {
                b.set(amt > 0, px, 0);
            }
        }
        self.touch(&key);
    }

    /// Kraken: the (price, size) decimals `key`'s snapshot printed.
    pub fn kraken_decimals(&self, key: &str) -> Option<(u8, u8)> {
        self.kraken_decimals.get(key).copied()
    }

    /// Tells the Binance reference which symbol the next REST snapshot is for.
    pub fn expect_snapshot(&mut self, symbol: &str) {
        self.snapshot_symbol = Some(symbol.to_owned());
    }
}

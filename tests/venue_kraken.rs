//! Kraken v1 on the real captures, and v2 on the documented example and a synthetic stream,
//! through the real engine. Checksums expected here are counted from the raw text, or computed
//! from decimal text independently of the engine's checksum module.

mod common;

use std::collections::BTreeMap;

use common::{feed, records, symbol};
use ladderfeed::book::InstrumentRegistry;
use ladderfeed::capture::{Record, RecordKind};
use ladderfeed::engine::Engine;
use ladderfeed::event::{BookState, Event, EventKind};
use ladderfeed::venue::kraken::{KrakenV1, KrakenV2};
use ladderfeed::venue::{Adapter, SymbolIdx};

const FILES: [&str; 3] = [
    "kraken/cryptofeed_KRAKEN.ws.48.0",
    "kraken/cryptofeed_KRAKEN.ws.49.0",
    "kraken/cryptofeed_KRAKEN.ws.50.0",
];

fn v1() -> Engine<KrakenV1> {
    Engine::new(KrakenV1::new(InstrumentRegistry::with_builtins()))
}

fn v2() -> Engine<KrakenV2> {
    Engine::new(KrakenV2::new(InstrumentRegistry::with_builtins(), 10))
}

/// A channel message of a book (not the subscription status naming the channel).
fn is_book(r: &Record) -> bool {
    r.kind == RecordKind::Recv
        && r.payload.starts_with(b"[")
        && r.payload.windows(6).any(|w| w == b"\"book-")
}

/// Checksums in the received book frames, counted from the raw text.
fn checksums_in(recs: &[Record]) -> u64 {
    recs.iter()
        .filter(|r| is_book(r))
        .map(|r| r.payload.windows(5).filter(|w| w == b"\"c\":\"").count() as u64)
        .sum()
}

fn state_changes(run: &common::Run, s: SymbolIdx) -> Vec<&Event> {
    run.events
        .iter()
        .filter(|e| e.instrument() == s && matches!(e.kind(), EventKind::BookState { .. }))
        .collect()
}

#[test]
fn every_checksum_in_every_v1_capture_verifies() {
    let mut total = 0;
    for f in FILES {
        let recs = records(&[f]);
        let mut engine = v1();
        let run = feed(&mut engine, &recs);
        assert!(run.errors.is_empty(), "{f}: {:?}", &run.errors[..run.errors.len().min(5)]);
        run.assert_never_crossed_valid();
        let expected = checksums_in(&recs);
        let book_frames = recs.iter().filter(|r| is_book(r)).count() as u64;
        let (mut ok, mut failed, mut gaps, mut crossed, mut msgs) = (0, 0, 0, 0, 0);
        for (i, info) in engine.symbols().list().iter().enumerate() {
            let st = engine.book_stats(i as u16).unwrap();
            ok += st.checksum_ok;
            failed += st.checksum_failed;
            gaps += st.gaps;
            crossed += st.crossed_detected;
            msgs += st.book_messages;
            if st.snapshots > 0 {
                assert_eq!(st.snapshots, 1, "{f} {}", info.key);
                assert_eq!(engine.state(i as u16), Some(BookState::Synced), "{f} {}", info.key);
                assert!(st.bbo_published > 0, "{f} {}", info.key);
            }
        }
        eprintln!(
            "{f}: {} frames, {msgs} book messages, {ok}/{expected} checksums verified",
            run.frames
        );
        assert_eq!(msgs, book_frames, "{f}: every book frame applied");
        assert_eq!((ok, failed, gaps, crossed), (expected, 0, 0, 0), "{f}");
        total += ok;
    }
    assert_eq!(total, 4269, "venues.md counts 4,269 checksums in ws.50.0 (the others have none)");
}

#[test]
fn v1_ticker_capture_fills_the_venue_bbo() {
    let recs = records(&["kraken/cryptofeed_KRAKEN.ws.49.0"]);
    let mut engine = v1();
    let run = feed(&mut engine, &recs);
    assert!(run.errors.is_empty(), "{:?}", run.errors);
    assert_eq!(engine.symbols().len(), 10);
    for info in engine.symbols().list() {
        let bbo = info.venue_bbo.unwrap_or_else(|| panic!("{}: no ticker", info.key));
        assert!(bbo.bid_tick < bbo.ask_tick && bbo.bid_lots > 0, "{}: {bbo:?}", info.key);
        // The last ticker of the pair, read from the raw text.
        let tail = format!("\"ticker\",\"{}\"]", info.key);
        let last = recs.iter().rev().find(|r| r.payload.ends_with(tail.as_bytes())).unwrap();
        let text = std::str::from_utf8(&last.payload).unwrap();
        let field = |k: &str, i: usize| -> String {
            let at = text.find(&format!("\"{k}\":[")).unwrap() + k.len() + 4;
            let list: Vec<&str> = text[at..].split(']').next().unwrap().split(',').collect();
            list[i].trim_matches('"').to_owned()
        };
        let inst = &info.instrument;
        assert_eq!(bbo.bid_tick, inst.price_ticks(field("b", 0).as_bytes()).unwrap());
        assert_eq!(bbo.bid_lots, inst.qty_lots(field("b", 2).as_bytes()).unwrap());
        assert_eq!(bbo.ask_tick, inst.price_ticks(field("a", 0).as_bytes()).unwrap());
        assert_eq!(bbo.ask_lots, inst.qty_lots(field("a", 2).as_bytes()).unwrap());
    }
}

#[test]
fn trades_are_normalized() {
    let recs = records(&["kraken/cryptofeed_KRAKEN.ws.48.0"]);
    let mut engine = v1();
    let run = feed(&mut engine, &recs);
    assert!(run.errors.is_empty(), "{:?}", run.errors);
    let trades: Vec<_> = run.events.iter().filter_map(Event::as_trade).collect();
    // One trade per `[price, volume, time, side, type, misc]` entry in the raw text.
    let raw = recs
        .iter()
        .filter(|r| r.kind == RecordKind::Recv && r.payload.ends_with(b"]"))
        .filter(|r| r.payload.windows(9).any(|w| w == b",\"trade\","))
        .map(|r| {
            let p = &r.payload;
            p.windows(5).filter(|w| w == b"\",\"b\"" || w == b"\",\"s\"").count()
        })
        .sum::<usize>();
    assert_eq!(trades.len(), raw);
    assert!(!trades.is_empty());
    assert!(trades.iter().all(|t| t.aggressor.is_some() && t.size_lots > 0 && t.price_tick > 0));
    assert!(trades.iter().all(|t| t.trade_id == 0), "v1 trades carry no id");
}

/// Index of the n-th received book update (not snapshot) of `pair`.
fn nth_update(recs: &[Record], pair: &str, n: usize) -> usize {
    let tail = format!("\"book-1000\",\"{pair}\"]");
    recs.iter()
        .enumerate()
        .filter(|(_, r)| r.kind == RecordKind::Recv && r.payload.ends_with(tail.as_bytes()))
        .filter(|(_, r)| !r.payload.windows(5).any(|w| w == b"{\"as\""))
        .nth(n)
        .map(|(i, _)| i)
        .expect("update")
}

/// After `s` left Synced at `at_ts`: it published nothing valid; every other book kept
/// publishing valid BBOs and ended Synced.
fn assert_isolated<A: Adapter>(engine: &Engine<A>, run: &common::Run, s: SymbolIdx, at_ts: u64) {
    assert!(run
        .events
        .iter()
        .filter(|e| e.local_ts() >= at_ts && e.instrument() == s && e.is_bbo())
        .all(|e| !e.state().is_valid()));
    let mut others = 0;
    for i in 0..engine.symbols().len() as u16 {
        if i == s || engine.book_stats(i).unwrap().snapshots == 0 {
            continue;
        }
        assert_eq!(engine.state(i), Some(BookState::Synced));
        assert_eq!(engine.book_stats(i).unwrap().checksum_failed, 0);
        others += run
            .events
            .iter()
            .filter(|e| e.local_ts() > at_ts && e.instrument() == i && e.is_bbo())
            .filter(|e| e.state().is_valid())
            .count();
    }
    assert!(others > 0, "the other pairs kept publishing");
}

#[test]
fn cutting_one_update_fails_the_next_checksum_and_the_book_resyncs() {
    // Kraken numbers nothing: a lost update is caught by the next message's checksum when
    // it touched the 10 levels the checksum covers; a lost change deeper in the book is
    // caught later, if ever, when that level reaches the top 10.
    let recs = records(&["kraken/cryptofeed_KRAKEN.ws.50.0"]);
    let pair = "XBT/CHF";
    let (mut next, mut later, mut never) = (0, 0, 0);
    for n in 0..30 {
        let cut_at = nth_update(&recs, pair, n);
        let mut cut = recs.clone();
        cut.remove(cut_at);
        // The pair's next update after the cut one (same index in `cut`).
        let following = nth_update(&cut, pair, n);
        let mut engine = v1();
        let run = feed(&mut engine, &cut);
        assert!(run.errors.is_empty());
        run.assert_never_crossed_valid();
        let s = symbol(&engine, pair);
        let st = engine.book_stats(s).unwrap();
        if st.checksum_failed == 0 {
            never += 1;
            assert_eq!(engine.state(s), Some(BookState::Synced));
            continue;
        }
        // One failure: the capture has no second snapshot, so it stays Resyncing.
        assert_eq!(st.checksum_failed, 1, "{st:?}");
        assert_eq!(engine.state(s), Some(BookState::Resyncing));
        let changes = state_changes(&run, s);
        let failed = changes.last().unwrap();
        assert_eq!(failed.state(), BookState::Resyncing);
        if failed.local_ts() == cut[following].local_ts {
            next += 1;
        } else {
            assert!(failed.local_ts() > cut[following].local_ts);
            later += 1;
        }
        assert_isolated(&engine, &run, s, failed.local_ts());
    }
    eprintln!("{pair}: 30 single cuts: {next} caught by the next message, {later} later, {never} never (deep levels)");
    assert!(next >= 10, "most cuts touch the top of a 1000-level book's stream");
}

#[test]
fn corrupting_one_level_fails_the_checksum() {
    let mut recs = records(&["kraken/cryptofeed_KRAKEN.ws.50.0"]);
    let at = nth_update(&recs, "XMR/USD", 2);
    let ts = recs[at].local_ts;
    // Change one digit of the first size in the message.
    let p = &mut recs[at].payload;
    let q = p.windows(3).position(|w| w == b"\",\"").expect("level") + 3;
    p[q] = if p[q] == b'9' { b'8' } else { p[q] + 1 };
    let mut engine = v1();
    let run = feed(&mut engine, &recs);
    assert!(run.errors.is_empty());
    let s = symbol(&engine, "XMR/USD");
    let st = engine.book_stats(s).unwrap();
    assert_eq!((st.checksum_failed, st.checksum_ok), (1, 2), "the two updates before it verified");
    assert_eq!(engine.state(s), Some(BookState::Resyncing));
    assert_eq!(state_changes(&run, s).last().unwrap().local_ts(), ts);
    assert!(engine.stats().waiting > 0, "later updates wait for a snapshot");
    run.assert_never_crossed_valid();
    assert_isolated(&engine, &run, s, ts);
}

const V2_SNAPSHOT: &str = r#"{"channel":"book","type":"snapshot","data":[{"symbol":"BTC/USD","bids":[{"price":45283.5,"qty":0.10000000},{"price":45283.4,"qty":1.54582015},{"price":45282.1,"qty":0.10000000},{"price":45281.0,"qty":0.10000000},{"price":45280.3,"qty":1.54592586},{"price":45279.0,"qty":0.07990000},{"price":45277.6,"qty":0.03310103},{"price":45277.5,"qty":0.30000000},{"price":45277.3,"qty":1.54602737},{"price":45276.6,"qty":0.15445238}],"asks":[{"price":45285.2,"qty":0.00100000},{"price":45286.4,"qty":1.54571953},{"price":45286.6,"qty":1.54571109},{"price":45289.6,"qty":1.54560911},{"price":45290.2,"qty":0.15890660},{"price":45291.8,"qty":1.54553491},{"price":45294.7,"qty":0.04454749},{"price":45296.1,"qty":0.35380000},{"price":45297.5,"qty":0.09945542},{"price":45299.5,"qty":0.18772827}],"checksum":3310070434,"timestamp":"2023-10-06T17:35:55.440295Z"}]}"#;

const V2_ACK: &[u8] = br#"{"method":"subscribe","result":{"channel":"book","depth":10,"snapshot":true,"symbol":"BTC/USD"},"success":true,"time_in":"2023-10-06T17:35:55.000000Z","time_out":"2023-10-06T17:35:55.000100Z"}"#;

#[test]
fn v2_documented_snapshot_verifies() {
    let mut engine = v2();
    let mut ev = Vec::new();
    engine.handle_frame(V2_ACK, 0, &mut ev).unwrap();
    engine.handle_frame(V2_SNAPSHOT.as_bytes(), 1, &mut ev).unwrap();
    let s = symbol(&engine, "BTC/USD");
    assert_eq!(engine.book_stats(s).unwrap().checksum_ok, 1);
    assert_eq!(engine.state(s), Some(BookState::Synced));
    let info = engine.symbols().get(s).unwrap();
    assert_eq!((info.price_decimals, info.qty_decimals), (1, 8));
    let bbo = engine.bbo(s).unwrap();
    assert_eq!(info.instrument.format_price(bbo.bid_tick), "45283.5");
    assert_eq!(info.instrument.format_price(bbo.ask_tick), "45285.2");
}

/// A Kraken v2 venue for one pair: a deep book, the subscribed top-10 view, and the messages
/// Kraken would send for each change (changed or new levels of the view, deletes of levels
/// that left the book; nothing for levels pushed below the depth). Checksums are computed
/// from the printed text, independently of the engine.
struct V2Venue {
    bids: BTreeMap<i64, i64>,
    asks: BTreeMap<i64, i64>,
    rng: u64,
}

type View = (Vec<(i64, i64)>, Vec<(i64, i64)>);

impl V2Venue {
    const DEPTH: usize = 10;

    fn new() -> Self {
        let mut v = V2Venue { bids: BTreeMap::new(), asks: BTreeMap::new(), rng: 0x9e37_79b9 };
        for i in 0..30 {
            let q = v.qty();
            v.bids.insert(452_835 - 3 * i, q);
            let q = v.qty();
            v.asks.insert(452_852 + 3 * i, q);
        }
        v
    }

    fn next(&mut self) -> u64 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        self.rng
    }

    fn qty(&mut self) -> i64 {
        (self.next() % 300_000_000) as i64 + 1
    }

    fn view(&self) -> View {
        let b = self.bids.iter().rev().take(Self::DEPTH).map(|(&p, &q)| (p, q)).collect();
        let a = self.asks.iter().take(Self::DEPTH).map(|(&p, &q)| (p, q)).collect();
        (b, a)
    }

    /// One random change near the top; the update message, or `None` if the view did not
    /// change.
    fn step(&mut self) -> Option<String> {
        let before = self.view();
        let bid_side = self.next() % 2 == 0;
        let best_bid = *self.bids.keys().next_back().unwrap();
        let best_ask = *self.asks.keys().next().unwrap();
        // Mostly near the top, sometimes below the subscribed depth (changes Kraken does
        // not send: a book that does not truncate keeps those levels stale).
        let k = (self.next() % 40) as i64;
        let op = self.next() % 3;
        let q = self.qty();
        let (book, px) =
            if bid_side { (&mut self.bids, best_bid - k) } else { (&mut self.asks, best_ask + k) };
        match op {
            0 if book.len() > 15 => {
                book.remove(&px);
            }
            _ => {
                if (bid_side && px < best_ask) || (!bid_side && px > best_bid) {
                    book.insert(px, q);
                }
            }
        }
        let after = self.view();
        let side = |b: &[(i64, i64)], a: &[(i64, i64)], full: &BTreeMap<i64, i64>| {
            let mut out = Vec::new();
            for &(p, q) in a {
                if !b.contains(&(p, q)) {
                    out.push((p, q));
                }
            }
            for &(p, _) in b {
                if !a.iter().any(|&(ap, _)| ap == p) && !full.contains_key(&p) {
                    out.push((p, 0));
                }
            }
            out
        };
        let bids = side(&before.0, &after.0, &self.bids);
        let asks = side(&before.1, &after.1, &self.asks);
        if bids.is_empty() && asks.is_empty() {
            return None;
        }
        Some(self.message("update", &bids, &asks))
    }

    fn snapshot(&self) -> String {
        let (b, a) = self.view();
        self.message("snapshot", &b, &a)
    }

    fn message(&self, kind: &str, bids: &[(i64, i64)], asks: &[(i64, i64)]) -> String {
        let list = |l: &[(i64, i64)]| {
            l.iter()
                .map(|&(p, q)| format!(r#"{{"price":{},"qty":{}}}"#, px(p), qty(q)))
                .collect::<Vec<_>>()
                .join(",")
        };
        format!(
            r#"{{"channel":"book","type":"{kind}","data":[{{"symbol":"BTC/USD","bids":[{}],"asks":[{}],"checksum":{},"timestamp":"2023-10-06T17:35:56.000000Z"}}]}}"#,
            list(bids),
            list(asks),
            self.checksum()
        )
    }

    /// Kraken's rule on the printed text: asks ascending then bids descending, `.` removed,
    /// leading zeros stripped, CRC32.
    fn checksum(&self) -> u32 {
        let (b, a) = self.view();
        let mut s = String::new();
        for &(p, q) in a.iter().chain(b.iter()) {
            for t in [px(p), qty(q)] {
                s.push_str(t.replace('.', "").trim_start_matches('0'));
            }
        }
        crc32fast::hash(s.as_bytes())
    }
}

fn px(ticks: i64) -> String {
    format!("{}.{}", ticks / 10, ticks % 10)
}

fn qty(lots: i64) -> String {
    format!("{}.{:08}", lots / 100_000_000, lots % 100_000_000)
}

/// The engine's top 10 of each side, as (ticks, lots).
fn engine_view(engine: &Engine<KrakenV2>, s: SymbolIdx) -> View {
    use ladderfeed::book::Side;
    let book = engine.book(s).unwrap();
    let side = |sd| book.top(sd, 10).map(|l| (l.px_tick, l.qty_lots)).collect();
    (side(Side::Bid), side(Side::Ask))
}

fn v2_stream(n: usize) -> (String, Vec<(String, View)>) {
    let mut venue = V2Venue::new();
    let snapshot = venue.snapshot();
    let mut updates = Vec::new();
    while updates.len() < n {
        if let Some(m) = venue.step() {
            updates.push((m, venue.view()));
        }
    }
    (snapshot, updates)
}

#[test]
fn v2_synthetic_stream_truncates_to_depth_and_every_checksum_verifies() {
    let (snapshot, updates) = v2_stream(400);
    let mut engine = v2();
    let mut ev = Vec::new();
    engine.handle_frame(V2_ACK, 0, &mut ev).unwrap();
    engine.handle_frame(snapshot.as_bytes(), 1, &mut ev).unwrap();
    let s = symbol(&engine, "BTC/USD");
    for (i, (m, view)) in updates.iter().enumerate() {
        engine.handle_frame(m.as_bytes(), 2 + i as u64, &mut ev).unwrap();
        assert_eq!(&engine_view(&engine, s), view, "after update {i}");
        assert!(engine.book(s).unwrap().len(ladderfeed::book::Side::Bid) <= 10);
    }
    let st = engine.book_stats(s).unwrap();
    assert_eq!((st.checksum_ok, st.checksum_failed), (401, 0));
    assert_eq!(engine.state(s), Some(BookState::Synced));
    // Without truncation the same stream breaks: levels pushed below the depth come back.
    let mut deep = Engine::new(KrakenV2::new(InstrumentRegistry::with_builtins(), 10));
    deep.handle_frame(&V2_ACK.replace_depth(1000), 0, &mut ev).unwrap();
    deep.handle_frame(snapshot.as_bytes(), 1, &mut ev).unwrap();
    for (i, (m, _)) in updates.iter().enumerate() {
        deep.handle_frame(m.as_bytes(), 2 + i as u64, &mut ev).unwrap();
    }
    assert!(deep.book_stats(s).unwrap().checksum_failed > 0);
}

trait ReplaceDepth {
    fn replace_depth(&self, d: u32) -> Vec<u8>;
}

impl ReplaceDepth for [u8] {
    fn replace_depth(&self, d: u32) -> Vec<u8> {
        String::from_utf8_lossy(self)
            .replace("\"depth\":10", &format!("\"depth\":{d}"))
            .into_bytes()
    }
}

#[test]
fn v2_cut_update_fails_the_next_checksum() {
    let (snapshot, updates) = v2_stream(60);
    for cut in [5, 17, 33, 50] {
        let mut engine = v2();
        let mut ev = Vec::new();
        engine.handle_frame(V2_ACK, 0, &mut ev).unwrap();
        engine.handle_frame(snapshot.as_bytes(), 1, &mut ev).unwrap();
        let s = symbol(&engine, "BTC/USD");
        for (i, (m, _)) in updates.iter().enumerate() {
            if i == cut {
                continue;
            }
            engine.handle_frame(m.as_bytes(), 2 + i as u64, &mut ev).unwrap();
            let st = engine.book_stats(s).unwrap();
            if i < cut {
                assert_eq!(engine.state(s), Some(BookState::Synced));
            } else {
                // The message right after the cut fails; the rest wait for a snapshot.
                assert_eq!(st.checksum_failed, 1, "cut {cut}, message {i}");
                assert_eq!(engine.state(s), Some(BookState::Resyncing));
            }
        }
        assert_eq!(engine.book_stats(s).unwrap().checksum_ok, 1 + cut as u64);
        assert_eq!(engine.stats().waiting, (updates.len() - cut - 2) as u64);
        assert!(ev
            .iter()
            .filter(|e| e.local_ts() > 2 + cut as u64 && e.is_bbo())
            .all(|e| !e.state().is_valid()));
    }
}

#[test]
fn v2_corrupt_level_fails_and_a_new_snapshot_recovers() {
    let (snapshot, updates) = v2_stream(30);
    let mut engine = v2();
    let mut ev = Vec::new();
    engine.handle_frame(V2_ACK, 0, &mut ev).unwrap();
    engine.handle_frame(snapshot.as_bytes(), 1, &mut ev).unwrap();
    let s = symbol(&engine, "BTC/USD");
    for (i, (m, _)) in updates.iter().enumerate().take(10) {
        let m = if i == 7 {
            // One more lot on the first level's size.
            let at = m.find("\"qty\":").unwrap() + 6;
            let end = at + m[at..].find('}').unwrap();
            let q: String = m[at..end].chars().filter(|c| *c != '.').collect();
            let q = q.parse::<i64>().unwrap() + 1;
            format!("{}{}{}", &m[..at], qty(q), &m[end..])
        } else {
            m.clone()
        };
        engine.handle_frame(m.as_bytes(), 2 + i as u64, &mut ev).unwrap();
    }
    let st = engine.book_stats(s).unwrap();
    assert_eq!((st.checksum_ok, st.checksum_failed), (8, 1));
    assert_eq!(engine.state(s), Some(BookState::Resyncing));
    // Resubscribed: a fresh snapshot of the venue's book now.
    let mut venue = V2Venue::new();
    let mut n = 0;
    while n < 10 {
        if venue.step().is_some() {
            n += 1;
        }
    }
    engine.handle_frame(venue.snapshot().as_bytes(), 100, &mut ev).unwrap();
    assert_eq!(engine.state(s), Some(BookState::Synced));
    for (i, (m, _)) in updates.iter().enumerate().skip(10) {
        engine.handle_frame(m.as_bytes(), 100 + i as u64, &mut ev).unwrap();
    }
    let st = engine.book_stats(s).unwrap();
    assert_eq!((st.checksum_ok, st.checksum_failed), (8 + 1 + 20, 1));
}

#[test]
fn v2_trades_and_control() {
    let mut engine = v2();
    let mut ev = Vec::new();
    engine.handle_frame(br#"{"channel":"heartbeat"}"#, 0, &mut ev).unwrap();
    engine
        .handle_frame(
            br#"{"channel":"status","type":"update","data":[{"api_version":"v2","connection_id":1,"system":"online","version":"2.0.0"}]}"#,
            0,
            &mut ev,
        )
        .unwrap();
    engine.handle_frame(V2_ACK, 0, &mut ev).unwrap();
    let trade = br#"{"channel":"trade","type":"update","data":[{"symbol":"BTC/USD","side":"sell","price":45283.5,"qty":0.00100000,"ord_type":"market","trade_id":42,"timestamp":"2023-10-06T17:35:55.440295Z"}]}"#;
    engine.handle_frame(trade, 0, &mut ev).unwrap();
    // The same trade again (a resubscription replays it): dropped by id.
    engine.handle_frame(trade, 0, &mut ev).unwrap();
    let t: Vec<_> = ev.iter().filter_map(Event::as_trade).collect();
    assert_eq!(t.len(), 1);
    assert_eq!((t[0].trade_id, t[0].aggressor), (42, Some(ladderfeed::event::Side::Sell)));
    assert_eq!((t[0].price_tick, t[0].size_lots), (452_835, 100_000));
    assert_eq!(engine.stats().control, 3);
}

#[test]
fn bad_input_is_typed_through_the_engine() {
    let mut engine = v1();
    let mut ev = Vec::new();
    let cases: &[(&[u8], &str)] = &[
        (b"[1,{\"as\":[[\"1.0\",\"1\",\"1\"]],\"bs\":[]},\"book-10\"", "json"),
        (b"[1,{\"as\":[[\"1.0\",\"-1\",\"1\"]],\"bs\":[]},\"book-10\",\"X/Y\"]", "number"),
        (b"[1,{\"as\":[[\"1e3\",\"1\",\"1\"]],\"bs\":[]},\"book-10\",\"X/Y\"]", "number"),
        (b"[1,{\"as\":[[1.5,\"1\",\"1\"]],\"bs\":[]},\"book-10\",\"X/Y\"]", "shape"),
        (b"[1,{\"a\":[[\"1.0\",\"1\",\"1\"]]},\"book-10\",\"NOPE/X\"]", "unknown_symbol"),
        (b"{\"event\":\"mystery\"}", "unknown_type"),
        (b"[1,{},\"mystery\",\"X/Y\"]", "unknown_type"),
        (
            b"{\"event\":\"subscriptionStatus\",\"status\":\"error\",\"errorMessage\":\"x\"}",
            "venue_error",
        ),
        (b"[1,2]", "shape"),
    ];
    for (frame, kind) in cases {
        let e = engine.handle_frame(frame, 0, &mut ev).expect_err(kind);
        assert_eq!(e.name(), *kind, "{}", String::from_utf8_lossy(frame));
    }
    assert_eq!(engine.stats().errors.total(), cases.len() as u64);
    let mut v2 = v2();
    let e = v2
        .handle_frame(br#"{"channel":"book","type":"snapshot","data":[{"symbol":"BTC/USD","bids":[{"price":123456789012345678901234567890,"qty":1}],"asks":[],"checksum":1}]}"#, 0, &mut ev)
        .unwrap_err();
    assert_eq!(e.name(), "number");
    let e = v2.handle_frame(br#"{"channel":"book","type":"update","data":[{"symbol":"BTC/USD","bids":[{"price":NaN,"qty":1}]}]}"#, 0, &mut ev).unwrap_err();
    assert_eq!(e.name(), "json");
    // A book broken half-way through an update resyncs.
    v2.handle_frame(V2_SNAPSHOT.as_bytes(), 0, &mut ev).unwrap();
    let s = symbol(&v2, "BTC/USD");
    let e = v2.handle_frame(br#"{"channel":"book","type":"update","data":[{"symbol":"BTC/USD","bids":[{"price":45283.5,"qty":1.0},{"price":45283.55,"qty":1.0}],"asks":[],"checksum":1}]}"#, 0, &mut ev).unwrap_err();
    assert_eq!(e.name(), "number");
    assert_eq!(v2.state(s), Some(BookState::Resyncing));
    // A malformed snapshot of a pair already known is rejected where its levels are read
    // (learning a known pair only takes the printed decimals), and the book resyncs.
    v2.handle_frame(V2_SNAPSHOT.as_bytes(), 0, &mut ev).unwrap();
    assert_eq!(v2.state(s), Some(BookState::Synced));
    let e = v2.handle_frame(br#"{"channel":"book","type":"snapshot","data":[{"symbol":"BTC/USD","bids":[{"price":45283.5,"qty":-1.0}],"asks":[],"checksum":1}]}"#, 0, &mut ev).unwrap_err();
    assert_eq!(e.name(), "number");
    assert_eq!(v2.state(s), Some(BookState::Resyncing));
    // A malformed price with more decimals than any step can hold changes nothing about the
    // pair: the next good snapshot's checksum (rendered with the pair's printed decimals)
    // still verifies.
    let e = v2.handle_frame(br#"{"channel":"book","type":"snapshot","data":[{"symbol":"BTC/USD","bids":[{"price":45283.5000000000000000000000000001,"qty":1.0}],"asks":[],"checksum":1}]}"#, 0, &mut ev).unwrap_err();
    assert_eq!(e.name(), "number");
    v2.handle_frame(V2_SNAPSHOT.as_bytes(), 0, &mut ev).unwrap();
    assert_eq!(v2.state(s), Some(BookState::Synced));
}

#[test]
fn subscribe_messages() {
    let a = KrakenV2::new(InstrumentRegistry::new(), 25);
    assert_eq!(
        a.subscribe_messages(&["BTC/USD"])[0],
        r#"{"method":"subscribe","params":{"channel":"book","symbol":["BTC/USD"],"depth":25,"snapshot":true},"req_id":1}"#
    );
    let v1 = KrakenV1::new(InstrumentRegistry::new());
    assert!(v1.subscribe_messages(&["XBT/USD"])[0].contains("\"depth\":1000"));
}

//! Engine rules that hold for every venue: one BBO per symbol per message, only when it changed,
//! never a half-applied or crossed book marked valid, far prices kept exactly.

mod common;

use std::collections::HashMap;

use common::records;
use ladderfeed::book::{InstrumentRegistry, Side, Venue};
use ladderfeed::capture::RecordKind;
use ladderfeed::engine::Engine;
use ladderfeed::event::{Bbo, BookState, EventKind};
use ladderfeed::venue::AnyAdapter;

#[test]
fn one_bbo_per_symbol_per_message_and_only_when_it_changed() {
    for (file, venue) in [
        ("kraken/cryptofeed_KRAKEN.ws.50.0", Venue::KrakenV1),
        ("coinbase/cryptofeed_COINBASE.ws.28.0", Venue::CoinbaseExchange),
        ("binance/cryptofeed_BINANCE.ws.1.0", Venue::Binance),
        ("okx/cryptofeed_OKX.ws.1.0", Venue::Okx),
    ] {
        let recs = records(&[file]);
        let adapter = AnyAdapter::new(venue, InstrumentRegistry::with_builtins(), None).unwrap();
        let mut engine = Engine::new(adapter);
        let mut last: HashMap<u16, Bbo> = HashMap::new();
        let mut ev = Vec::new();
        let mut bbos = 0;
        for r in &recs {
            ev.clear();
            let _ = match r.kind {
                RecordKind::Recv => engine.handle_frame(&r.payload, r.local_ts, &mut ev),
                RecordKind::Http => engine.handle_http(&r.url, &r.payload, r.local_ts, &mut ev),
                _ => Ok(()),
            };
            let mut seen = Vec::new();
            for e in &ev {
                match e.kind() {
                    EventKind::Bbo(b) => {
                        let id = e.instrument();
                        assert!(
                            !seen.contains(&id),
                            "{file}: two BBOs for one symbol in one message"
                        );
                        seen.push(id);
                        assert_ne!(last.get(&id), Some(&b), "{file}: a BBO that did not change");
                        assert!(e.state().is_valid() && !b.is_crossed(), "{file}: {b:?}");
                        // The published BBO is the book after the whole message.
                        assert_eq!(engine.bbo(id), Some(b), "{file}");
                        last.insert(id, b);
                        bbos += 1;
                    }
                    EventKind::BookState { .. } if e.state() != BookState::Synced => {
                        last.remove(&e.instrument());
                    }
                    _ => {}
                }
            }
        }
        assert!(bbos > 10, "{file}: {bbos} BBOs");
    }
}

#[test]
fn prices_far_outside_the_window_are_kept_exactly() {
    let recs = records(&["binance/hftbacktest_spot_btcusdt_20240808.gz"]);
    let mut engine = Engine::new(
        AnyAdapter::new(Venue::Binance, InstrumentRegistry::with_builtins(), None).unwrap(),
    );
    let run = common::feed(&mut engine, &recs);
    assert!(run.errors.is_empty());
    let s = common::symbol(&engine, "BTCUSDT");
    let before = engine.bbo(s).unwrap();
    let last_u = recs
        .iter()
        .rev()
        .filter(|r| r.payload.windows(11).any(|w| w == b"depthUpdate"))
        .find_map(|r| {
            let t = std::str::from_utf8(&r.payload).ok()?;
            let i = t.find(",\"u\":")? + 5;
            t[i..].split(|c: char| !c.is_ascii_digit()).next()?.parse::<u64>().ok()
        })
        .unwrap();
    // A bid a billion dollars away and an ask at one cent: valid prices, far outside the window.
    let frame = format!(
        r#"{{"stream":"btcusdt@depth@100ms","data":{{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":{},"u":{},"b":[["0.01000000","1.00000000"]],"a":[["999999999.99000000","2.00000000"]]}}}}"#,
        last_u + 1,
        last_u + 1
    );
    let mut ev = Vec::new();
    engine.handle_frame(frame.as_bytes(), 0, &mut ev).unwrap();
    let book = engine.book(s).unwrap();
    assert_eq!(engine.state(s), Some(BookState::Synced));
    assert_eq!(engine.bbo(s), Some(before), "far levels do not touch the BBO");
    let inst = &engine.symbols().get(s).unwrap().instrument;
    assert!(book.iter(Side::Bid).any(|l| l.px_tick == inst.price_ticks(b"0.01").unwrap()));
    assert!(book.iter(Side::Ask).any(|l| l.px_tick == inst.price_ticks(b"999999999.99").unwrap()));
}

#[test]
fn checksums_off_skips_them_counted_and_publishes_the_same_books() {
    for (file, venue) in [
        ("kraken/cryptofeed_KRAKEN.ws.50.0", Venue::KrakenV1),
        ("okx/cryptofeed_OKX.ws.1.0", Venue::Okx),
    ] {
        let recs = records(&[file]);
        let engine = |on: bool| {
            let adapter =
                AnyAdapter::new(venue, InstrumentRegistry::with_builtins(), None).unwrap();
            Engine::new(adapter).with_clock(|| 0).with_checksums(on)
        };
        let (mut on, mut off) = (engine(true), engine(false));
        let (a, b) = (common::feed(&mut on, &recs), common::feed(&mut off, &recs));
        let verified: u64 = (0..on.symbols().len())
            .filter_map(|s| on.book_stats(s as u16))
            .map(|s| s.checksum_ok + s.checksum_failed)
            .sum();
        let still: u64 = (0..off.symbols().len())
            .filter_map(|s| off.book_stats(s as u16))
            .map(|s| s.checksum_ok + s.checksum_failed)
            .sum();
        assert!(verified > 0, "{file}: the capture has checksums");
        assert_eq!(on.stats().checksums_skipped, 0, "{file}");
        assert_eq!(off.stats().checksums_skipped, verified, "{file}: every checksum skipped");
        assert_eq!(still, 0, "{file}: none verified when off");
        // The captures are clean: the same events either way.
        assert_eq!(a.events, b.events, "{file}");
    }
}

#[test]
fn a_small_window_publishes_the_same_events_and_keeps_the_same_books() {
    for (file, venue) in [
        ("kraken/cryptofeed_KRAKEN.ws.50.0", Venue::KrakenV1),
        ("binance/hftbacktest_spot_btcusdt_20240808.gz", Venue::Binance),
    ] {
        let recs = records(&[file]);
        let engine = |window: Option<usize>| {
            let adapter =
                AnyAdapter::new(venue, InstrumentRegistry::with_builtins(), None).unwrap();
            let e = Engine::new(adapter).with_clock(|| 0);
            match window {
                Some(w) => e.with_window_ticks(w),
                None => e,
            }
        };
        let (mut wide, mut small) = (engine(None), engine(Some(64)));
        let a = common::feed(&mut wide, &recs);
        let b = common::feed(&mut small, &recs);
        assert!(a.events.len() > 100, "{file}: {} events", a.events.len());
        assert_eq!(a.events, b.events, "{file}: a 64-tick window published differently");
        assert_eq!(a.errors.len(), b.errors.len(), "{file}");
        let symbols = wide.symbols().len();
        assert!(symbols > 0, "{file}");
        for s in 0..symbols {
            let s = u16::try_from(s).unwrap();
            let (w, n) = (wide.book(s).unwrap(), small.book(s).unwrap());
            assert_eq!(n.window_ticks(), 64, "{file}");
            assert_eq!(w.window_ticks(), 1 << 16, "{file}");
            for side in [Side::Bid, Side::Ask] {
                assert!(w.iter(side).eq(n.iter(side)), "{file}: symbol {s} {side:?} differs");
            }
        }
    }
}

/// A book's published top N, rebuilt by the consumer from the depth records alone, equals the
/// engine's own top N after every message while the book is synced; a book that leaves sync
/// clears it.
#[test]
fn published_top_n_rebuilds_exactly() {
    use ladderfeed::consumer::Depth;
    for (file, venue, n) in [
        ("kraken/cryptofeed_KRAKEN.ws.50.0", Venue::KrakenV1, 10),
        ("coinbase/cryptofeed_COINBASE.ws.28.0", Venue::CoinbaseExchange, 50),
        ("binance/cryptofeed_BINANCE.ws.1.0", Venue::Binance, 5),
        ("okx/cryptofeed_OKX.ws.1.0", Venue::Okx, 25),
        ("bitfinex/cryptofeed_BITFINEX-58bafb.0", Venue::Bitfinex, 1),
    ] {
        let recs = records(&[file]);
        let adapter = AnyAdapter::new(venue, InstrumentRegistry::with_builtins(), None).unwrap();
        let mut engine = Engine::new(adapter).with_depth(n);
        let mut depth = Depth::default();
        let (mut ev, mut ends, mut compared) = (Vec::new(), 0, 0);
        for r in &recs {
            ev.clear();
            let _ = match r.kind {
                RecordKind::Recv => engine.handle_frame(&r.payload, r.local_ts, &mut ev),
                RecordKind::Http => engine.handle_http(&r.url, &r.payload, r.local_ts, &mut ev),
                _ => Ok(()),
            };
            for e in &ev {
                ends += usize::from(depth.observe(e));
            }
            for s in 0..engine.symbols().len() as u16 {
                if engine.state(s) != Some(BookState::Synced) {
                    continue;
                }
                let book = engine.book(s).unwrap();
                let top =
                    |side| book.top(side, n).map(|l| [l.px_tick, l.qty_lots]).collect::<Vec<_>>();
                assert_eq!(depth.bids(s), top(Side::Bid), "{file} symbol {s}");
                assert_eq!(depth.asks(s), top(Side::Ask), "{file} symbol {s}");
                compared += 1;
            }
        }
        assert!(ends > 10 && compared > 100, "{file}: {ends} ends, {compared} compared");
    }
}

fn okx_frame(inst: &str, action: &str, bids: &[(String, u64)], asks: &[(String, u64)]) -> Vec<u8> {
    let side = |l: &[(String, u64)]| {
        l.iter()
            .map(|(p, q)| format!("[\"{p}\",\"{q}\",\"0\",\"1\"]"))
            .collect::<Vec<_>>()
            .join(",")
    };
    format!(
        r#"{{"arg":{{"channel":"books","instId":"{inst}"}},"action":"{action}","data":[{{"asks":[{}],"bids":[{}],"ts":"1"}}]}}"#,
        side(asks),
        side(bids)
    )
    .into_bytes()
}

/// Price text of `units` millionths with exactly `decimals` decimals (`units` a multiple).
fn price_text(units: u64, decimals: u32) -> String {
    let scaled = units / 10u64.pow(6 - decimals);
    if decimals == 0 {
        return scaled.to_string();
    }
    let p = 10u64.pow(decimals);
    format!("{}.{:0width$}", scaled / p, scaled % p, width = decimals as usize)
}

/// The engine's book of symbol 0 as `(side, millionths, lots)`.
fn book_units(engine: &Engine<AnyAdapter>) -> Vec<(Side, u64, i64)> {
    let inst = &engine.symbols().list()[0].instrument;
    let per_tick = inst.tick.mantissa() * 10u64.pow(6 - u32::from(inst.tick.scale()));
    let book = engine.book(0).unwrap();
    let mut out = Vec::new();
    for side in [Side::Bid, Side::Ask] {
        out.extend(book.iter(side).map(|l| (side, l.px_tick as u64 * per_tick, l.qty_lots)));
    }
    out
}

#[test]
fn a_learned_tick_too_coarse_is_refined_and_the_book_stays_synced() {
    // The OKX option of issue 19: the snapshot prints three decimals, the instrument's tick is
    // 0.0005, and an update brings 2.5465.
    let inst = "ETH-USD-220325-8800-P";
    let adapter = AnyAdapter::new(Venue::Okx, InstrumentRegistry::with_builtins(), None).unwrap();
    let mut engine = Engine::new(adapter).with_depth(5);
    let mut ev = Vec::new();
    let bids = vec![("2.540".to_owned(), 10), ("2.535".to_owned(), 5)];
    let asks = vec![("2.550".to_owned(), 7)];
    engine.handle_frame(&okx_frame(inst, "snapshot", &bids, &asks), 1, &mut ev).unwrap();
    assert_eq!(engine.symbols().list()[0].instrument.tick.to_string(), "0.001");
    let update = okx_frame(inst, "update", &[("2.5465".to_owned(), 3)], &[]);
    engine.handle_frame(&update, 2, &mut ev).unwrap();
    assert_eq!(engine.state(0), Some(BookState::Synced));
    assert_eq!(engine.stats().ticks_refined, 1);
    let info = &engine.symbols().list()[0].instrument;
    assert_eq!(info.tick.to_string(), "0.0001");
    let fmt = |side| {
        engine.book(0).unwrap().iter(side).map(|l| info.format_price(l.px_tick)).collect::<Vec<_>>()
    };
    assert_eq!(fmt(Side::Bid), ["2.5465", "2.54", "2.535"]);
    assert_eq!(fmt(Side::Ask), ["2.55"]);
    // The consumer learns the finer tick in-band, before the BBO that uses it.
    let mut table = ladderfeed::consumer::Instruments::default();
    let mut bbo_price = None;
    for e in &ev {
        if !table.observe(e) {
            if let Some(b) = e.as_bbo() {
                bbo_price = Some(table.get(e.instrument()).unwrap().format_price(b.bid_tick));
            }
        }
    }
    assert_eq!(bbo_price.as_deref(), Some("2.5465"));
    // A malformed number is still rejected, and a configured tick is never refined.
    assert!(engine
        .handle_frame(&okx_frame(inst, "update", &[("2.5x".into(), 1)], &[]), 3, &mut ev)
        .is_err());
    let mut reg = InstrumentRegistry::with_builtins();
    reg.configure_line(&format!("okx:{inst} 0.001 1")).unwrap();
    let mut engine = Engine::new(AnyAdapter::new(Venue::Okx, reg, None).unwrap());
    engine.handle_frame(&okx_frame(inst, "snapshot", &bids, &asks), 1, &mut ev).unwrap();
    assert!(engine.handle_frame(&update, 2, &mut ev).is_err());
    assert_eq!(engine.stats().ticks_refined, 0);
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
    /// Random books whose finest decimals appear late end exactly as a decimal reference book.
    #[test]
    fn refined_books_equal_a_decimal_reference(
        snapshot in proptest::collection::vec((0u64..2, 1u64..100, 0u32..2, 1u64..50), 1..20),
        updates in proptest::collection::vec((0u64..2, 1u64..100, 0u32..7, 0u64..50), 1..200),
    ) {
        let inst = "TEST-USD";
        let adapter = AnyAdapter::new(Venue::Okx, InstrumentRegistry::new(), None).unwrap();
        let mut engine = Engine::new(adapter);
        let mut reference: std::collections::BTreeMap<(u8, u64), u64> = Default::default();
        let mut ev = Vec::new();
        // Bids below 100, asks from 100 up: never crossed. A level's price in millionths:
        // whole part `p`, a fraction drawn per decimal count so the text has exactly `d`
        // decimals (`d` up to 1 in the snapshot, up to 6 later).
        let level = |side: u64, p: u64, d: u32, salt: u64| {
            let step = 10u64.pow(6 - d);
            let frac = if d == 0 { 0 } else { (salt * 7919 % 10u64.pow(d)) * step };
            let units = if side == 0 { p * 1_000_000 + frac } else { 100_000_000 + p * 1_000_000 + frac };
            (side as u8, units, d)
        };
        let (mut bids, mut asks) = (Vec::new(), Vec::new());
        for (i, &(side, p, d, q)) in snapshot.iter().enumerate() {
            let (s, units, d) = level(side, p, d, i as u64 + 1);
            reference.insert((s, units), q);
            let l = (price_text(units, d), q);
            if s == 0 { bids.push(l) } else { asks.push(l) }
        }
        // The venue lists each side best first, once per price.
        let key = |l: &(String, u64)| (l.0.parse::<f64>().unwrap() * 1e6).round() as u64;
        bids.sort_by_key(|l| std::cmp::Reverse(key(l)));
        bids.dedup_by_key(|l| key(l));
        asks.sort_by_key(key);
        asks.dedup_by_key(|l| key(l));
        reference = bids.iter().map(|l| ((0u8, key(l)), l.1)).chain(asks.iter().map(|l| ((1u8, key(l)), l.1))).collect();
        engine.handle_frame(&okx_frame(inst, "snapshot", &bids, &asks), 1, &mut ev).unwrap();
        for (i, &(side, p, d, q)) in updates.iter().enumerate() {
            let (s, units, d) = level(side, p, d, i as u64 + 100);
            let l = vec![(price_text(units, d), q)];
            let frame = if s == 0 { okx_frame(inst, "update", &l, &[]) } else { okx_frame(inst, "update", &[], &l) };
            engine.handle_frame(&frame, 2 + i as u64, &mut ev).unwrap();
            if q == 0 { reference.remove(&(s, units)); } else { reference.insert((s, units), q); }
        }
        proptest::prop_assert_eq!(engine.state(0), Some(BookState::Synced));
        let mut want: Vec<(Side, u64, i64)> = reference.iter().filter(|(k, _)| k.0 == 0).rev()
            .map(|(k, q)| (Side::Bid, k.1, *q as i64)).collect();
        want.extend(reference.iter().filter(|(k, _)| k.0 == 1).map(|(k, q)| (Side::Ask, k.1, *q as i64)));
        proptest::prop_assert_eq!(book_units(&engine), want);
    }
}

#[test]
fn a_frame_touching_several_books_publishes_their_bbos_in_the_books_order() {
    let adapter =
        AnyAdapter::new(Venue::Coinbase, InstrumentRegistry::with_builtins(), None).unwrap();
    let mut engine = Engine::new(adapter);
    let mut ev = Vec::new();
    let event = |kind: &str, product: &str, px: &str| {
        format!(
            r#"{{"type":"{kind}","product_id":"{product}","updates":[{{"side":"bid","event_time":"2023-02-09T20:32:50.714964855Z","price_level":"{px}","new_quantity":"1.5"}},{{"side":"offer","event_time":"2023-02-09T20:32:50.714964855Z","price_level":"9{px}","new_quantity":"2"}}]}}"#
        )
    };
    let frame = |seq: u64, events: &[String]| {
        format!(
            r#"{{"channel":"l2_data","client_id":"","timestamp":"2023-02-09T20:32:50.714964855Z","sequence_num":{seq},"events":[{}]}}"#,
            events.join(",")
        )
    };
    // BTC-USD's book is made first, ETH-USD's second.
    for (seq, product) in [(0, "BTC-USD"), (1, "ETH-USD")] {
        let f = frame(seq, &[event("snapshot", product, "100.5")]);
        engine.handle_frame(f.as_bytes(), 0, &mut ev).unwrap();
    }
    let order = |ev: &[ladderfeed::event::Event]| -> Vec<u16> {
        ev.iter().filter(|e| e.is_bbo()).map(|e| e.instrument()).collect()
    };
    assert_eq!(order(&ev), [0, 1]);
    // One frame updates ETH-USD, then BTC-USD: their BBOs come out in the books' order, one
    // each, as for every frame.
    for events in [
        [event("update", "ETH-USD", "101.5"), event("update", "BTC-USD", "101.5")],
        [event("update", "BTC-USD", "102.5"), event("update", "ETH-USD", "102.5")],
    ] {
        ev.clear();
        let seq = 2 + u64::from(events[0].contains("BTC"));
        engine.handle_frame(frame(seq, &events).as_bytes(), 0, &mut ev).unwrap();
        assert_eq!(order(&ev), [0, 1], "{events:?}");
    }
}

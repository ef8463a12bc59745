//! Bitfinex v2 on the real captures, and the checksum and sequence rules on documented shapes.

mod common;

use common::{feed, records, symbol};
use ladderfeed::book::{InstrumentRegistry, Side};
use ladderfeed::capture::RecordKind;
use ladderfeed::engine::Engine;
use ladderfeed::event::{self, BookState, EventKind};
use ladderfeed::venue::bitfinex::Bitfinex;
use ladderfeed::venue::Adapter;

fn bfx() -> Engine<Bitfinex> {
    Engine::new(Bitfinex::new(InstrumentRegistry::with_builtins()))
}

#[test]
fn captures_rebuild_with_no_gap_and_never_cross() {
    for (file, books) in [
        ("bitfinex/marfusios_bitfinex_raw_2018-11-12.txt.gz", 1),
        ("bitfinex/cryptofeed_BITFINEX-58bafb.0", 8),
    ] {
        let recs = records(&[file]);
        let mut engine = bfx();
        let run = feed(&mut engine, &recs);
        assert!(run.errors.is_empty(), "{file}: {:?}", &run.errors[..run.errors.len().min(5)]);
        run.assert_never_crossed_valid();
        let mut synced = 0;
        for (i, info) in engine.symbols().list().iter().enumerate() {
            let s = i as u16;
            let st = engine.book_stats(s).unwrap();
            assert_eq!((st.gaps, st.crossed_detected), (0, 0), "{file} {}", info.key);
            if st.snapshots > 0 {
                assert_eq!(engine.state(s), Some(BookState::Synced), "{file} {}", info.key);
                synced += 1;
            }
        }
        assert_eq!(synced, books, "{file}");
        let trades = run.events.iter().filter(|e| matches!(e.kind(), EventKind::Trade(_))).count();
        let dups: u64 = (0..engine.symbols().len() as u16)
            .map(|s| engine.book_stats(s).unwrap().trades_duplicate)
            .sum();
        eprintln!("{file}: {} frames, {trades} trades ({dups} tu duplicates dropped)", run.frames);
    }
}

#[test]
fn sequence_gap_in_the_cryptofeed_capture_resyncs_every_book() {
    let mut recs = records(&["bitfinex/cryptofeed_BITFINEX-58bafb.0"]);
    // Cut a book update well after the snapshots.
    let cut = recs
        .iter()
        .enumerate()
        .filter(|(_, r)| r.kind == RecordKind::Recv && r.payload.starts_with(b"["))
        .nth(5000)
        .map(|(i, _)| i)
        .unwrap();
    recs.remove(cut);
    let mut engine = bfx();
    let run = feed(&mut engine, &recs);
    run.assert_never_crossed_valid();
    for (i, info) in engine.symbols().list().iter().enumerate() {
        let s = i as u16;
        if engine.book_stats(s).unwrap().snapshots > 0 {
            assert_eq!(engine.state(s), Some(BookState::Resyncing), "{}", info.key);
            assert_eq!(engine.book_stats(s).unwrap().gaps, 1, "{}", info.key);
        }
    }
}

fn setup(engine: &mut Engine<Bitfinex>, ev: &mut Vec<ladderfeed::event::Event>) {
    for f in [
        r#"{"event":"info","version":2,"serverId":"x","platform":{"status":1}}"#,
        r#"{"event":"conf","status":"OK","flags":196608}"#,
        r#"{"event":"subscribed","channel":"book","chanId":17,"symbol":"tBTCUSD","prec":"P0","freq":"F0","len":"25","pair":"BTCUSD"}"#,
        r#"{"event":"subscribed","channel":"trades","chanId":18,"symbol":"tBTCUSD","pair":"BTCUSD"}"#,
        r#"[17,[[6443,5,5.26056135],[6442.9,2,1.17073057],[6443.1,1,-0.1],[6443.5,3,-1e-8]],1]"#,
    ] {
        engine.handle_frame(f.as_bytes(), 0, ev).unwrap();
    }
}

#[test]
fn checksum_frames_verify_and_a_corrupted_level_fails() {
    let mut engine = bfx();
    let mut ev = Vec::new();
    setup(&mut engine, &mut ev);
    let s = symbol(&engine, "tBTCUSD");
    assert_eq!(engine.state(s), Some(BookState::Synced));
    // The documented rule, written out by hand: bid, amount, ask, -amount, interleaved.
    let text = "6443:5.26056135:6443.1:-0.1:6442.9:1.17073057:6443.5:-1e-8";
    let cs = crc32fast::hash(text.as_bytes()) as i32;
    engine.handle_frame(format!("[17,\"cs\",{cs},2]").as_bytes(), 0, &mut ev).unwrap();
    assert_eq!(engine.book_stats(s).unwrap().checksum_ok, 1);
    // A level changed on our side only (a corrupted update): the next checksum fails.
    engine.handle_frame(b"[17,[6442.9,2,1.17073058],3]", 0, &mut ev).unwrap();
    engine.handle_frame(format!("[17,\"cs\",{cs},4]").as_bytes(), 0, &mut ev).unwrap();
    assert_eq!(engine.book_stats(s).unwrap().checksum_failed, 1);
    assert_eq!(engine.state(s), Some(BookState::Resyncing));
    // Live, the book is resubscribed on the same connection: unsubscribed by its channel
    // id, subscribed again; the venue answers under a new channel id, whose first array is
    // the snapshot. The old channel's updates still in flight wait.
    let msgs = engine.adapter().resubscribe_book_messages("tBTCUSD").unwrap();
    assert_eq!(msgs[0], r#"{"event":"unsubscribe","chanId":17}"#);
    assert!(msgs[1].starts_with(r#"{"event":"subscribe","channel":"book","symbol":"tBTCUSD""#));
    engine.handle_frame(b"[17,[6442.8,1,2],5]", 0, &mut ev).unwrap();
    assert_eq!(engine.stats().waiting, 1);
    for f in [
        r#"{"event":"unsubscribed","status":"OK","chanId":17}"#,
        r#"{"event":"subscribed","channel":"book","chanId":29,"symbol":"tBTCUSD","prec":"P0","freq":"F0","len":"25","pair":"BTCUSD"}"#,
        r#"[29,[[6444,1,2],[6445,1,-3]],6]"#,
    ] {
        engine.handle_frame(f.as_bytes(), 0, &mut ev).unwrap();
    }
    assert_eq!(engine.state(s), Some(BookState::Synced));
    let last = ev.iter().rev().find(|e| e.is_bbo()).unwrap();
    // The book's tick follows the book (0.1, learned from 6443.1), not the trades' 1e-8.
    assert_eq!(last.as_bbo().unwrap().bid_tick, 64_440, "6444 in 0.1 ticks");
    // Before a book's first subscription is answered there is nothing to resubscribe: its
    // snapshot is on the way.
    assert_eq!(engine.adapter().resubscribe_book_messages("tETHUSD"), Some(Vec::new()));
}

#[test]
fn count_zero_deletes_and_trades_dedupe() {
    let mut engine = bfx();
    let mut ev = Vec::new();
    setup(&mut engine, &mut ev);
    let s = symbol(&engine, "tBTCUSD");
    engine.handle_frame(b"[17,[6443,0,1],2]", 0, &mut ev).unwrap();
    engine.handle_frame(b"[17,[6443.1,0,-1],3]", 0, &mut ev).unwrap();
    let book = engine.book(s).unwrap();
    assert_eq!(book.len(Side::Bid), 1);
    assert_eq!(book.len(Side::Ask), 1);
    ev.clear();
    engine
        .handle_frame(b"[18,\"te\",[658733916,1617643611128,-0.7574881,6443],4]", 0, &mut ev)
        .unwrap();
    engine
        .handle_frame(b"[18,\"tu\",[658733916,1617643611128,-0.7574881,6443],5]", 0, &mut ev)
        .unwrap();
    engine.handle_frame(b"[17,\"hb\",6]", 0, &mut ev).unwrap();
    let trades: Vec<_> = ev
        .iter()
        .filter_map(|e| match e.kind() {
            EventKind::Trade(t) => Some(t),
            _ => None,
        })
        .collect();
    assert_eq!(trades.len(), 1);
    assert_eq!(trades[0].aggressor, Some(event::Side::Sell));
    assert_eq!(trades[0].trade_id, 658733916);
    assert_eq!(engine.book_stats(s).unwrap().gaps, 0);
    // Sequence 8 after 6: a gap on the connection.
    engine.handle_frame(b"[17,\"hb\",8]", 0, &mut ev).unwrap();
    assert_eq!(engine.state(s), Some(BookState::Resyncing));
}

#[test]
fn bad_input_is_typed() {
    let mut engine = bfx();
    let mut ev = Vec::new();
    setup(&mut engine, &mut ev);
    let cases: &[(&[u8], &str)] = &[
        (b"[17,[6443,1,", "json"),
        (b"[99,[6443,1,1]]", "unknown_symbol"),
        (b"[17,[6443,1,\"x\"]]", "number"),
        (b"[17,[6443,0,2]]", "shape"),
        (b"[17,\"zz\"]", "unknown_type"),
        (b"{\"event\":\"error\",\"msg\":\"symbol: invalid\",\"code\":10300}", "venue_error"),
        (b"[17,[123456789012345678901234567890,1,1]]", "number"),
        (b"\"hello\"", "unknown_type"),
    ];
    for (frame, kind) in cases {
        // A fresh, synced book for each case: a bad level invalidates the book it hit.
        let mut engine = bfx();
        setup(&mut engine, &mut ev);
        let e = engine.handle_frame(frame, 0, &mut ev).expect_err(kind);
        assert_eq!(e.name(), *kind, "{}", String::from_utf8_lossy(frame));
        assert_eq!(engine.stats().errors.total(), 1);
    }
    // Raw books are refused clearly.
    engine
        .handle_frame(br#"{"event":"subscribed","channel":"book","chanId":30,"symbol":"tETHUSD","prec":"R0","len":"25"}"#, 0, &mut ev)
        .unwrap();
    assert_eq!(engine.handle_frame(b"[30,[[1,100.5,1]]]", 0, &mut ev).unwrap_err().name(), "shape");
}

#[test]
fn subscribe_messages_turn_on_sequence_and_checksums() {
    let a = Bitfinex::new(InstrumentRegistry::new());
    let m = a.subscribe_messages(&["tBTCUSD"]);
    assert_eq!(m[0], r#"{"event":"conf","flags":196608}"#);
    assert!(m[1].contains("\"prec\":\"P0\""));
}

#[test]
fn merged_lines_keep_each_connections_channel_ids_and_one_book() {
    // Redundant lines: the arbiter lets one copy of each book message through, tagged with
    // its line; each connection named the channels its own way.
    let mut adapter = Bitfinex::new(InstrumentRegistry::with_builtins());
    adapter.merged = true;
    let mut engine = Engine::new(adapter);
    let mut ev = Vec::new();
    let subscribed = |chan: u64| {
        format!(
            r#"{{"event":"subscribed","channel":"book","chanId":{chan},"symbol":"tBTCUSD","prec":"P0","freq":"F0","len":"25","pair":"BTCUSD"}}"#
        )
    };
    engine.adapter_mut().set_line(0);
    engine.handle_frame(subscribed(17).as_bytes(), 0, &mut ev).unwrap();
    engine.handle_frame(b"[17,[[6443,5,5.2],[6443.1,1,-0.1]],1]", 0, &mut ev).unwrap();
    engine.adapter_mut().set_line(1);
    engine.handle_frame(subscribed(90210).as_bytes(), 0, &mut ev).unwrap();
    let s = symbol(&engine, "tBTCUSD");
    assert_eq!(engine.state(s), Some(BookState::Synced), "line 1's answer keeps the book");
    // Line 1's first array is an update (its snapshot was line 0's copy): applied to the one
    // book, under line 1's channel id; its number is the arbiter's to check.
    engine.handle_frame(b"[90210,[6443,3,7.5],7]", 0, &mut ev).unwrap();
    assert_eq!(engine.bbo(s).unwrap().bid_lots, 750_000_000);
    assert_eq!(engine.stats().errors, Default::default());
    assert_eq!(engine.book_stats(s).unwrap().gaps, 0);
    // Line 0's id means nothing on line 1.
    assert!(engine.handle_frame(b"[17,[6443.02,1,2],8]", 0, &mut ev).is_err());
    // A resubscription is written for the line it goes out on.
    let msgs = engine.adapter().resubscribe_book_messages("tBTCUSD").unwrap();
    assert_eq!(msgs[0], r#"{"event":"unsubscribe","chanId":90210}"#);
    engine.adapter_mut().set_line(0);
    let msgs = engine.adapter().resubscribe_book_messages("tBTCUSD").unwrap();
    assert_eq!(msgs[0], r#"{"event":"unsubscribe","chanId":17}"#);
    // The server restarting one line's connection leaves the book to the other.
    engine.handle_frame(br#"{"event":"info","code":20051,"msg":"restart"}"#, 0, &mut ev).unwrap();
    assert_eq!(engine.state(s), Some(BookState::Synced));
}

#[test]
fn channel_ids_follow_the_subscriptions_of_the_connection() {
    let mut engine = bfx();
    let mut ev = Vec::new();
    let subscribed = |channel: &str, chan: u64, symbol: &str| {
        format!(
            r#"{{"event":"subscribed","channel":"{channel}","chanId":{chan},"symbol":"{symbol}","prec":"P0","freq":"F0","len":"25"}}"#
        )
    };
    let feed = |engine: &mut Engine<Bitfinex>, ev: &mut Vec<_>, f: &str| {
        engine.handle_frame(f.as_bytes(), 0, ev).map_err(|e| e.name())
    };
    for f in [
        subscribed("book", 17, "tBTCUSD"),
        subscribed("trades", 18, "tETHUSD"),
        subscribed("book", 19, "tETHUSD"),
    ] {
        feed(&mut engine, &mut ev, &f).unwrap();
    }
    // Messages on every channel, interleaved: each id finds its own channel.
    for f in [
        "[17,[[6443,5,5.2],[6443.1,1,-0.1]]]",
        "[19,[[201.5,2,3],[201.6,1,-4]]]",
        r#"[18,"te",[1,1617643611128,0.5,201.55]]"#,
        "[17,[6443,3,7.5]]",
        "[19,[201.5,1,1]]",
        "[17,[6443.1,0,-1]]",
    ] {
        feed(&mut engine, &mut ev, f).unwrap();
    }
    let (btc, eth) = (symbol(&engine, "tBTCUSD"), symbol(&engine, "tETHUSD"));
    assert_eq!(engine.bbo(btc).unwrap().bid_lots, 750_000_000);
    assert_eq!(engine.bbo(eth).unwrap().bid_lots, 100_000_000);
    assert_eq!(engine.adapter().unsubscribe_messages(&["tBTCUSD"]).len(), 1);
    // The BTC book answered again under a new id (no `unsubscribed` for the old one): the
    // old id names nothing any more, the new one the same channel.
    feed(&mut engine, &mut ev, &subscribed("book", 40, "tBTCUSD")).unwrap();
    assert_eq!(feed(&mut engine, &mut ev, "[17,[6443,1,1]]"), Err("unknown_symbol"));
    feed(&mut engine, &mut ev, "[40,[[6444,1,2],[6445,1,-3]]]").unwrap();
    assert_eq!(engine.bbo(btc).unwrap().bid_tick, 64_440);
    assert_eq!(
        engine.adapter().unsubscribe_messages(&["tBTCUSD"]),
        vec![r#"{"event":"unsubscribe","chanId":40}"#.to_string()]
    );
    // Unsubscribed: its id goes, the others stay.
    feed(&mut engine, &mut ev, r#"{"event":"unsubscribed","status":"OK","chanId":18}"#).unwrap();
    let trade = r#"[18,"te",[2,1617643611129,0.5,201.55]]"#;
    assert_eq!(feed(&mut engine, &mut ev, trade), Err("unknown_symbol"));
    feed(&mut engine, &mut ev, "[19,[201.6,2,-4]]").unwrap();
    // A new connection: every id belonged to the old one.
    engine.disconnected(0, &mut ev);
    for f in ["[19,[201.6,2,-4]]", "[40,[6444,1,2]]"] {
        assert_eq!(feed(&mut engine, &mut ev, f), Err("unknown_symbol"), "{f}");
    }
    assert!(engine.adapter().unsubscribe_messages(&["tBTCUSD", "tETHUSD"]).is_empty());
    assert_eq!(engine.adapter().resubscribe_book_messages("tBTCUSD"), Some(Vec::new()));
}

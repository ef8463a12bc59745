//! The session's policy on a fake clock: no sockets, no threads, no sleeping. Time is a plain
//! number of nanoseconds the test moves forward.

use super::*;

const S: u64 = 1_000_000_000;
const MS: u64 = 1_000_000;

const OKX_SNAPSHOT: &[u8] = br#"{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"snapshot","data":[{"asks":[["30001","1","0","1"]],"bids":[["30000","1","0","1"]],"ts":"1"}]}"#;
/// An update that crosses the book: it loses sync on it.
const OKX_BAD: &[u8] = br#"{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"update","data":[{"asks":[],"bids":[["30002","1","0","1"]],"ts":"2"}]}"#;

fn okx(policy: Policy) -> Session {
    let mut cfg = SessionConfig::new(
        Venue::Okx,
        vec!["BTC-USDT".into()],
        InstrumentRegistry::with_builtins(),
    );
    cfg.policy = policy;
    Session::new(cfg, 0..1024).unwrap()
}

fn open(s: &mut Session, now: u64) -> Vec<String> {
    assert!(s.poll_connect(now));
    s.handle_connected(now);
    std::iter::from_fn(|| s.poll_transmit()).collect()
}

fn next_attempt(s: &mut Session, from: u64) -> u64 {
    // The first time, stepping by 1 ms, at which the session asks to connect.
    let mut t = from;
    while !s.poll_connect(t) {
        t += MS;
        assert!(t < from + 3600 * S, "never reconnects");
    }
    t
}

#[test]
fn failed_attempts_back_off_doubling_with_jitter_up_to_the_cap() {
    let policy = Policy {
        backoff_min: Duration::from_millis(100),
        backoff_max: Duration::from_millis(800),
        ..Policy::default()
    };
    let mut s = okx(policy);
    let mut ev: Vec<Event> = Vec::new();
    let mut now = 0;
    assert!(s.poll_connect(now), "the first attempt is immediate");
    let mut delays = Vec::new();
    for _ in 0..6 {
        s.handle_disconnected("refused", now, &mut ev);
        let t = next_attempt(&mut s, now);
        delays.push(t - now);
        now = t;
    }
    let caps = [100, 200, 400, 800, 800, 800];
    for (d, cap) in delays.iter().zip(caps) {
        // Jitter: between half the backoff and all of it (1 ms steps of the fake clock).
        assert!(*d >= cap / 2 * MS && *d <= (cap + 1) * MS, "{delays:?}");
    }
    assert_eq!(s.stats().connect_failures, 6);
    assert_eq!(s.stats().last_error.as_deref(), Some("refused"));
    assert!(ev.is_empty(), "no book was open");

    // A connection that delivers resets the backoff: the next loss waits 50-100 ms again.
    s.handle_connected(now);
    let _ = s.handle_frame(OKX_SNAPSHOT, now + MS, &mut ev);
    s.handle_disconnected("reset", now + 2 * MS, &mut ev);
    let t = next_attempt(&mut s, now + 2 * MS);
    assert!(t - (now + 2 * MS) <= 101 * MS, "{}", t - now);
    assert_eq!(s.stats().disconnects, 1);
}

#[test]
fn a_handshake_past_its_deadline_is_given_up() {
    let mut s = okx(Policy { handshake_timeout: Duration::from_secs(10), ..Policy::default() });
    assert!(s.poll_connect(5 * S));
    assert_eq!(s.poll_timeout(), Some(15 * S + 1));
    s.handle_timeout(15 * S);
    assert_eq!(s.poll_close(), None, "not before the deadline");
    s.handle_timeout(15 * S + 1);
    assert_eq!(s.poll_close().as_deref(), Some("timed out connecting"));
    assert_eq!(s.poll_close(), None, "said once");
}

#[test]
fn a_silent_feed_is_stale_and_any_message_keeps_it_alive() {
    let mut s = okx(Policy { stale_after: Duration::from_secs(30), ..Policy::default() });
    let mut ev: Vec<Event> = Vec::new();
    let subs = open(&mut s, 0);
    assert_eq!(subs.len(), 1);
    assert!(subs[0].contains(r#""op":"subscribe""#) && subs[0].contains("BTC-USDT"), "{subs:?}");
    s.handle_timeout(29 * S);
    let _ = s.handle_frame(OKX_SNAPSHOT, 29 * S, &mut ev);
    s.handle_timeout(58 * S);
    assert_eq!(s.poll_close(), None);
    s.handle_activity(58 * S); // a ping from the server
    s.handle_timeout(88 * S);
    assert_eq!(s.poll_close(), None);
    s.handle_timeout(88 * S + 1);
    assert_eq!(s.poll_close().as_deref(), Some("timed out: feed silent (stale)"));
    assert_eq!(s.stats().stale, 1);
    // The shell closes, and the books go stale (published).
    s.handle_disconnected("timed out: feed silent (stale)", 88 * S + 1, &mut ev);
    let last = ev.last().unwrap();
    assert_eq!(last.state(), BookState::Stale);
    assert!(!s.is_open());
}

#[test]
fn okx_is_pinged_every_20_s_and_its_pong_is_not_market_data() {
    let mut s = okx(Policy::default());
    let mut ev: Vec<Event> = Vec::new();
    open(&mut s, 0);
    assert_eq!(s.poll_timeout(), Some(20 * S));
    s.handle_timeout(19 * S);
    assert_eq!(s.poll_transmit(), None);
    s.handle_timeout(20 * S);
    assert_eq!(s.poll_transmit().as_deref(), Some("ping"));
    assert_eq!(s.poll_transmit(), None);
    s.handle_frame(b"pong", 20 * S + MS, &mut ev).unwrap();
    assert_eq!(s.stats().messages, 0, "the pong is not a market-data message");
    assert_eq!(s.engine().stats().frames, 0);
    s.handle_timeout(40 * S);
    assert_eq!(s.poll_transmit().as_deref(), Some("ping"));
}

#[test]
fn a_book_that_loses_sync_is_resubscribed_and_held_to_a_deadline() {
    let policy = Policy { resubscribe_timeout: Duration::from_secs(5), ..Policy::default() };
    let mut s = okx(policy);
    let mut ev: Vec<Event> = Vec::new();
    open(&mut s, 0);
    s.handle_frame(OKX_SNAPSHOT, S, &mut ev).unwrap();
    assert_eq!(s.engine().state(0), Some(BookState::Synced));
    let _ = s.handle_frame(OKX_BAD, 2 * S, &mut ev);
    assert_eq!(s.engine().state(0), Some(BookState::Resyncing));
    let sent: Vec<String> = std::iter::from_fn(|| s.poll_transmit()).collect();
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert!(sent[0].contains("unsubscribe") && sent[1].contains(r#""op":"subscribe""#));
    assert_eq!(s.stats().resync_resubscribes, 1);
    assert_eq!(s.poll_timeout(), Some(7 * S + 1), "the resync deadline comes first");
    // The fresh snapshot arrives in time: nothing more happens.
    s.handle_frame(OKX_SNAPSHOT, 3 * S, &mut ev).unwrap();
    s.handle_timeout(8 * S);
    assert_eq!(s.poll_close(), None);

    // Next time it does not come back within 5 s: the connection is given up.
    let _ = s.handle_frame(OKX_BAD, 10 * S, &mut ev);
    assert_eq!(std::iter::from_fn(|| s.poll_transmit()).count(), 2);
    s.handle_timeout(15 * S);
    assert_eq!(s.poll_close(), None);
    s.handle_timeout(15 * S + 1);
    let why = s.poll_close().unwrap();
    assert!(why.contains("did not resync in time"), "{why}");
    assert_eq!(s.stats().resync_reconnects, 1);
}

#[test]
fn a_resubscription_past_the_budget_reconnects_instead() {
    // The subscription on opening is one request; two more (unsubscribe, subscribe) fit a
    // budget of 3, the next two do not.
    let policy =
        Policy { subscription_budget: Some((3, Duration::from_secs(3600))), ..Policy::default() };
    let mut s = okx(policy);
    let mut ev: Vec<Event> = Vec::new();
    open(&mut s, 0);
    s.handle_frame(OKX_SNAPSHOT, S, &mut ev).unwrap();
    let _ = s.handle_frame(OKX_BAD, 2 * S, &mut ev);
    assert_eq!(std::iter::from_fn(|| s.poll_transmit()).count(), 2);
    s.handle_frame(OKX_SNAPSHOT, 3 * S, &mut ev).unwrap();
    let _ = s.handle_frame(OKX_BAD, 4 * S, &mut ev);
    assert_eq!(s.poll_transmit(), None);
    let why = s.poll_close().unwrap();
    assert!(why.contains("3 subscription requests per 3600s are spent"), "{why}");
    assert_eq!((s.stats().resync_resubscribes, s.stats().resync_reconnects), (1, 1));

    // The window slides: an hour after the first requests, there is room again.
    let mut s = okx(Policy {
        subscription_budget: Some((3, Duration::from_secs(3600))),
        ..Policy::default()
    });
    open(&mut s, 0);
    s.handle_frame(OKX_SNAPSHOT, S, &mut ev).unwrap();
    let _ = s.handle_frame(OKX_BAD, 2 * S, &mut ev);
    assert_eq!(std::iter::from_fn(|| s.poll_transmit()).count(), 2);
    s.handle_frame(OKX_SNAPSHOT, 3 * S, &mut ev).unwrap();
    let _ = s.handle_frame(OKX_BAD, 3602 * S, &mut ev);
    assert_eq!(s.poll_close(), None);
    assert_eq!(std::iter::from_fn(|| s.poll_transmit()).count(), 2);
}

#[test]
fn without_resubscribe_a_lost_book_reconnects() {
    let mut s = okx(Policy { resubscribe: false, ..Policy::default() });
    let mut ev: Vec<Event> = Vec::new();
    open(&mut s, 0);
    s.handle_frame(OKX_SNAPSHOT, S, &mut ev).unwrap();
    let _ = s.handle_frame(OKX_BAD, 2 * S, &mut ev);
    let why = s.poll_close().unwrap();
    assert!(why.contains("reconnecting for fresh snapshots"), "{why}");
    assert_eq!(s.stats().resync_reconnects, 1);
}

fn binance(symbols: &[&str]) -> Session {
    let mut cfg = SessionConfig::new(
        Venue::Binance,
        symbols.iter().map(|s| (*s).to_owned()).collect(),
        InstrumentRegistry::with_builtins(),
    );
    cfg.rest_base = Some("https://127.0.0.1:9443".into());
    Session::new(cfg, 0..1024).unwrap()
}

const BINANCE_BOOK: &[u8] =
    br#"{"lastUpdateId":10,"bids":[["100.00","1.0"]],"asks":[["101.00","1.0"]]}"#;

#[test]
fn rest_snapshots_one_at_a_time_with_retry_after_honoured() {
    let mut s = binance(&["btcusdt", "ETHUSDT"]);
    let mut ev: Vec<Event> = Vec::new();
    assert_eq!(s.poll_request(0), None, "not before the connection opens");
    open(&mut s, 0);
    let url = s.poll_request(0).unwrap();
    assert_eq!(url, "https://127.0.0.1:9443/api/v3/depth?symbol=BTCUSDT&limit=5000");
    assert_eq!(s.poll_request(0), None, "one in flight at a time");

    // Throttled with Retry-After: 3 s of silence, then the same symbol again.
    let throttled = HttpResponse { status: 429, retry_after: Some(3), body: b"" };
    s.handle_http(&url, throttled, S, &mut ev).unwrap();
    assert_eq!(s.stats().rest_throttled, 1);
    assert_eq!(s.poll_timeout(), Some(4 * S));
    assert_eq!(s.poll_request(4 * S - 1), None);
    assert_eq!(s.poll_request(4 * S).as_deref(), Some(url.as_str()));

    // Banned without Retry-After: 60 s.
    let banned = HttpResponse { status: 418, retry_after: None, body: b"" };
    s.handle_http(&url, banned, 5 * S, &mut ev).unwrap();
    assert_eq!(s.poll_request(64 * S), None);
    assert_eq!(s.poll_request(65 * S).as_deref(), Some(url.as_str()));

    // A transport failure pauses for the backoff (100 ms by default).
    s.handle_http_failed(&url, "connection refused", 66 * S);
    assert_eq!(s.stats().rest_failed, 1);
    assert!(s.stats().last_error.as_deref().unwrap().contains("connection refused"));
    assert_eq!(s.poll_request(66 * S + 99 * MS), None);
    assert_eq!(s.poll_request(66 * S + 100 * MS).as_deref(), Some(url.as_str()));

    // Still resolving the host: asked again at once, not a failure.
    s.retry_request();
    assert_eq!(s.poll_request(67 * S).as_deref(), Some(url.as_str()));

    // Answered: applied, and the next symbol's turn comes.
    let ok = HttpResponse { status: 200, retry_after: None, body: BINANCE_BOOK };
    let _ = s.handle_http(&url, ok, 68 * S, &mut ev);
    assert_eq!(s.stats().rest_ok, 1);
    assert_eq!(s.engine().stats().http, 1);
    let next = s.poll_request(68 * S).unwrap();
    assert!(next.contains("symbol=ETHUSDT"), "{next}");

    // A disconnect forgets the queue; the next connection asks for every book again.
    s.handle_disconnected("reset", 69 * S, &mut ev);
    assert_eq!(s.poll_request(69 * S), None);
    let t = next_attempt(&mut s, 69 * S);
    s.handle_connected(t);
    assert!(s.poll_request(t).unwrap().contains("BTCUSDT"));
}

#[test]
fn a_recorded_session_asks_for_nothing() {
    let mut s =
        Session::recorded(Venue::Binance, InstrumentRegistry::with_builtins(), None, 0..1024)
            .unwrap();
    let mut ev: Vec<Event> = Vec::new();
    assert!(!s.poll_connect(0));
    s.handle_connected(0);
    assert_eq!(s.poll_transmit(), None);
    assert_eq!(s.poll_request(0), None);
    s.handle_timeout(3600 * S);
    assert_eq!(s.poll_close(), None);
    assert_eq!(s.poll_timeout(), None);
    // A recorded disconnect drops the books even without a recorded connect.
    let _ = s.handle_http(
        "https://api.binance.com/api/v3/depth?symbol=BTCUSDT&limit=5000",
        HttpResponse { status: 200, retry_after: None, body: BINANCE_BOOK },
        1,
        &mut ev,
    );
    s.handle_disconnected("", 2, &mut ev);
    s.handle_disconnected("", 3, &mut ev);
    assert!(ev.iter().any(|e| e.state() == BookState::Stale) || s.engine().symbols().is_empty());
}

#[test]
fn gemini_v1_needs_its_symbol_and_a_clear_error_says_so() {
    let cfg = SessionConfig::new(Venue::GeminiV1, vec![], InstrumentRegistry::with_builtins());
    let err = Session::new(cfg, 0..1).unwrap_err();
    assert!(err.to_string().starts_with("gemini-v1: "), "{err}");
    let cfg = SessionConfig::new(
        Venue::GeminiV1,
        vec!["BTCUSD".into()],
        InstrumentRegistry::with_builtins(),
    );
    assert!(Session::new(cfg, 0..1).is_ok());
}

#[test]
fn symbols_beyond_the_id_block_get_no_book_and_are_counted() {
    // Two ids for an OKX connection: the third instrument gets none (never another
    // connection's id).
    let mut cfg = SessionConfig::new(Venue::Okx, vec![], InstrumentRegistry::with_builtins());
    cfg.policy = Policy::default();
    let mut s = Session::new(cfg, 100..102).unwrap();
    let mut ev: Vec<Event> = Vec::new();
    for inst in ["BTC-USDT", "ETH-USDT", "SOL-USDT"] {
        let frame = String::from_utf8(OKX_SNAPSHOT.to_vec()).unwrap().replace("BTC-USDT", inst);
        let _ = s.handle_frame(frame.as_bytes(), S, &mut ev);
    }
    assert_eq!(s.engine().symbols().len(), 3);
    assert_eq!(s.engine().stats().symbols_beyond_ids, 1);
    assert!(ev.iter().all(|e| (100..102).contains(&e.instrument())), "{ev:?}");
    assert!(ev.iter().any(|e| e.instrument() == 101));
}

#[test]
fn poll_timeout_is_the_earliest_deadline() {
    let mut s = okx(Policy { stale_after: Duration::from_secs(10), ..Policy::default() });
    assert_eq!(s.poll_timeout(), Some(0), "idle: the first attempt is due");
    open(&mut s, 0);
    assert_eq!(s.poll_timeout(), Some(10 * S + 1), "stale before the 20 s ping");
    let mut ev: Vec<Event> = Vec::new();
    s.handle_frame(OKX_SNAPSHOT, 9 * S, &mut ev).unwrap();
    assert_eq!(s.poll_timeout(), Some(19 * S + 1));
}

/// An `l2Book` of Hyperliquid with one level a side, at `bid`.
fn hyperliquid_book(bid: u32) -> Vec<u8> {
    format!(
        r#"{{"channel":"l2Book","data":{{"coin":"BTC","time":1737918843890,"levels":[[{{"px":"{bid}.0","sz":"1.5","n":2}}],[{{"px":"{}.0","sz":"0.5","n":1}}]]}}}}"#,
        bid + 1
    )
    .into_bytes()
}

#[test]
fn a_book_whose_blocks_stop_goes_stale_and_the_next_one_restores_it() {
    let cfg = SessionConfig::new(
        Venue::Hyperliquid,
        vec!["BTC".into()],
        InstrumentRegistry::with_builtins(),
    );
    let mut s = Session::new(cfg, 0..1024).unwrap();
    let t0 = 10 * S;
    open(&mut s, t0);
    let mut ev: Vec<Event> = Vec::new();
    let _ = s.handle_frame(&hyperliquid_book(100_000), t0, &mut ev);
    let bbo = |ev: &[Event]| ev.iter().rev().find(|e| e.as_bbo().is_some()).map(|e| e.state());
    assert_eq!(bbo(&ev), Some(BookState::Synced));
    // Blocks keep coming every half second: nothing happens.
    for k in 1..=8 {
        let t = t0 + k * 500 * MS;
        let _ = s.handle_frame(&hyperliquid_book(100_000), t, &mut ev);
        s.expire_quiet_books(t, &mut ev);
    }
    let last_block = t0 + 4 * S;
    ev.clear();
    // Then they stop: within a check (1 s) of 5 s without one, the book is stale.
    let mut t = last_block;
    while s.stats().quiet_books == 0 {
        t += 100 * MS;
        assert!(s.poll_timeout().is_some_and(|due| due <= t + S));
        s.expire_quiet_books(t, &mut ev);
        assert!(t < last_block + 7 * S, "never marked stale");
    }
    assert!(t > last_block + 5 * S && t <= last_block + 6 * S + 100 * MS, "{}", t - last_block);
    let states: Vec<_> = ev
        .iter()
        .filter_map(|e| match e.kind() {
            EventKind::BookState { previous } => Some((previous, e.state())),
            _ => None,
        })
        .collect();
    assert_eq!(states, vec![(BookState::Synced, BookState::Stale)]);
    assert!(s.poll_close().is_none(), "the connection stays up");
    // Checked again later: already stale, counted once.
    s.expire_quiet_books(t + 10 * S, &mut ev);
    assert_eq!(s.stats().quiet_books, 1);
    // The next block makes it whole.
    ev.clear();
    let _ = s.handle_frame(&hyperliquid_book(100_010), t + 11 * S, &mut ev);
    assert_eq!(bbo(&ev), Some(BookState::Synced));
    assert_eq!(s.engine().book_stats(0).unwrap().went_quiet, 1);
}

#[test]
fn a_venue_without_scheduled_books_never_marks_a_quiet_book() {
    let mut s = okx(Policy::default());
    open(&mut s, 0);
    let mut ev: Vec<Event> = Vec::new();
    let _ = s.handle_frame(OKX_SNAPSHOT, MS, &mut ev);
    ev.clear();
    s.expire_quiet_books(20 * S, &mut ev);
    assert!(ev.is_empty());
    assert_eq!(s.stats().quiet_books, 0);
}

// ---- redundant lines (issue 21) ---------------------------------------------------------

fn binance_lines(lines: usize) -> Session {
    let mut cfg = SessionConfig::new(
        Venue::Binance,
        vec!["BTCUSDT".into()],
        InstrumentRegistry::with_builtins(),
    );
    cfg.rest_base = Some("https://127.0.0.1:9443".into());
    cfg.lines = lines;
    Session::new(cfg, 0..1024).unwrap()
}

/// A Binance spot depth event `U..=u` moving the best bid to `100 + u` cents.
fn depth(first: u64, last: u64) -> Vec<u8> {
    format!(
        r#"{{"stream":"btcusdt@depth@100ms","data":{{"e":"depthUpdate","E":{last},"s":"BTCUSDT","U":{first},"u":{last},"b":[["100.{last:02}","1.0"]],"a":[]}}}}"#
    )
    .into_bytes()
}

fn trade(id: u64) -> Vec<u8> {
    format!(
        r#"{{"stream":"btcusdt@trade","data":{{"e":"trade","E":1,"s":"BTCUSDT","t":{id},"p":"100.50","q":"0.1","T":1,"m":true}}}}"#
    )
    .into_bytes()
}

/// What a consumer sees, without the times (which differ between lines by construction).
fn seen(ev: &[Event]) -> Vec<String> {
    ev.iter().map(|e| format!("{} {:?} {:?}", e.instrument(), e.state(), e.kind())).collect()
}

/// Opens every line of `s` and applies the REST snapshot (`lastUpdateId` 10).
fn open_lines(s: &mut Session, ev: &mut Vec<Event>) {
    for l in 0..s.lines() {
        assert!(s.poll_connect_on(l, 0));
        s.handle_connected_on(l, 0);
        assert!(s.poll_transmit_on(l).unwrap().contains("btcusdt@depth"));
    }
    let url = s.poll_request(0).unwrap();
    assert_eq!(s.poll_request(0), None, "one snapshot for both lines");
    let ok = HttpResponse { status: 200, retry_after: None, body: BINANCE_BOOK };
    s.handle_http(&url, ok, MS, ev).unwrap();
    assert_eq!(s.poll_request(MS), None, "one snapshot for both lines");
}

/// Feeds `(time, line, frame)` in time order (line 0 first at equal times).
fn feed(s: &mut Session, mut frames: Vec<(u64, usize, Vec<u8>)>, ev: &mut Vec<Event>) {
    frames.sort_by_key(|(t, l, _)| (*t, *l));
    for (t, l, f) in frames {
        s.handle_frame_on(l, &f, t, ev).unwrap();
    }
}

/// One healthy connection's stream of depth events and trades 11..=16.
fn one_line_reference() -> Vec<Event> {
    let mut one = binance_lines(1);
    let mut want: Vec<Event> = Vec::new();
    open_lines(&mut one, &mut want);
    for u in 11..=16 {
        one.handle_frame(&depth(u, u), u * MS, &mut want).unwrap();
        one.handle_frame(&trade(u), u * MS, &mut want).unwrap();
    }
    want
}

#[test]
fn two_healthy_lines_publish_exactly_what_one_connection_does() {
    let mut s = binance_lines(2);
    let mut ev: Vec<Event> = Vec::new();
    open_lines(&mut s, &mut ev);
    // Line 1 is 5 ms behind line 0, except for event 14, where it is 2 ms ahead.
    let mut frames = Vec::new();
    for u in 11..=16 {
        let late = if u == 14 { 0 } else { 5 * MS };
        let early = if u == 14 { 2 * MS } else { 0 };
        frames.push((u * MS + early, 0, depth(u, u)));
        frames.push((u * MS + early, 0, trade(u)));
        frames.push((u * MS + late, 1, depth(u, u)));
        frames.push((u * MS + late, 1, trade(u)));
    }
    feed(&mut s, frames, &mut ev);
    assert_eq!(seen(&ev), seen(&one_line_reference()));
    let (a, b) = (s.line_stats(0).unwrap(), s.line_stats(1).unwrap());
    assert_eq!((a.arbiter.won, b.arbiter.won), (10, 2));
    assert_eq!((a.arbiter.duplicates, b.arbiter.duplicates), (2, 10));
    assert_eq!((a.arbiter.gaps, b.arbiter.gaps), (0, 0));
    // Each book message line 0 won, line 1's copy came 5 ms later; line 1 won one by 2 ms.
    assert_eq!(a.advantage.len(), 5);
    assert_eq!(a.advantage.value_at_quantile(0.5) / MS, 5);
    assert_eq!((b.advantage.len(), b.advantage.max() / MS), (1, 2));
    // The snapshot came once, for both lines.
    assert_eq!(s.stats().rest_ok, 1);
}

#[test]
fn a_gap_on_one_line_is_filled_by_the_other_without_a_resync() {
    let mut s = binance_lines(2);
    let mut ev: Vec<Event> = Vec::new();
    open_lines(&mut s, &mut ev);
    // Line 0 is faster but loses event 13 and trade 13; line 1 delivers all, 5 ms later.
    let mut frames = Vec::new();
    for u in 11..=16 {
        if u != 13 {
            frames.push((u * MS, 0, depth(u, u)));
            frames.push((u * MS, 0, trade(u)));
        }
        frames.push((u * MS + 5 * MS, 1, depth(u, u)));
        frames.push((u * MS + 5 * MS, 1, trade(u)));
    }
    feed(&mut s, frames, &mut ev);
    // The book's stream (its BBOs) is one healthy connection's; every trade is there once
    // (trade 13 after the later ones line 0 delivered first).
    let bbo = |e: &[Event]| -> Vec<String> {
        seen(e).into_iter().filter(|x| !x.contains("Trade")).collect()
    };
    let want = one_line_reference();
    assert_eq!(bbo(&ev), bbo(&want));
    let mut trades: Vec<String> = seen(&ev).into_iter().filter(|x| x.contains("Trade")).collect();
    let mut want_trades: Vec<String> =
        seen(&want).into_iter().filter(|x| x.contains("Trade")).collect();
    trades.sort();
    want_trades.sort();
    assert_eq!(trades, want_trades);
    let book = s.engine().book_stats(0).unwrap();
    assert_eq!((book.gaps, book.resyncs, book.book_messages), (0, 0, 7));
    assert_eq!(s.engine().state(0), Some(BookState::Synced));
    assert_eq!(s.stats().unfilled_gaps, 0);
    let (a, b) = (s.line_stats(0).unwrap(), s.line_stats(1).unwrap());
    // Line 0 wins everything but event 13 and trade 13: its events 14..16 were held until
    // line 1's 13 filled the gap, then applied at once (no waiting for line 1's copies).
    assert_eq!((a.arbiter.won, b.arbiter.won), (10, 2));
    assert_eq!((a.arbiter.duplicates, b.arbiter.duplicates), (0, 10));
    let held = ev.iter().filter(|e| e.local_ts() == 18 * MS).count();
    assert!(held >= 4, "events 13 to 16 published when line 1's 13 arrived: {held}");
    // Line 0's gap (event 14 came after 12) was filled by line 1.
    assert_eq!((a.arbiter.gaps, a.arbiter.filled), (1, 1));
}

#[test]
fn a_gap_on_both_lines_resyncs_the_book() {
    let mut s = binance_lines(2);
    let mut ev: Vec<Event> = Vec::new();
    open_lines(&mut s, &mut ev);
    for l in 0..2 {
        s.handle_frame_on(l, &depth(11, 11), 11 * MS, &mut ev).unwrap();
    }
    // Event 12 is lost on both lines.
    s.handle_frame_on(0, &depth(13, 13), 13 * MS, &mut ev).unwrap();
    assert_eq!(s.engine().state(0), Some(BookState::Synced), "line 1 may still have it");
    s.handle_frame_on(1, &depth(13, 13), 14 * MS, &mut ev).unwrap();
    assert_eq!(s.engine().state(0), Some(BookState::Resyncing), "lost on both: resync");
    assert_eq!(s.stats().unfilled_gaps, 1);
    assert_eq!(s.engine().book_stats(0).unwrap().gaps, 1);
    assert!(s.poll_request(15 * MS).unwrap().contains("BTCUSDT"), "a new snapshot");
}

#[test]
fn a_gap_not_filled_within_fill_wait_resyncs() {
    let mut s = binance_lines(2);
    let mut ev: Vec<Event> = Vec::new();
    open_lines(&mut s, &mut ev);
    s.handle_frame_on(0, &depth(11, 11), 11 * MS, &mut ev).unwrap();
    // Line 1 is open but stalled; line 0 loses 12.
    s.handle_frame_on(0, &depth(13, 13), 13 * MS, &mut ev).unwrap();
    s.handle_frame_on(0, &depth(14, 14), 500 * MS, &mut ev).unwrap();
    assert_eq!(s.engine().state(0), Some(BookState::Synced), "within the 1 s fill wait");
    s.handle_frame_on(0, &depth(15, 15), 13 * MS + S + MS, &mut ev).unwrap();
    assert_eq!(s.engine().state(0), Some(BookState::Resyncing));
    assert_eq!(s.stats().unfilled_gaps, 1);
}

#[test]
fn one_line_closing_leaves_the_books_synced_and_its_return_asks_for_no_snapshot() {
    let mut s = binance_lines(2);
    let mut ev: Vec<Event> = Vec::new();
    open_lines(&mut s, &mut ev);
    for l in 0..2 {
        s.handle_frame_on(l, &depth(11, 11), 11 * MS, &mut ev).unwrap();
    }
    let before = ev.len();
    s.handle_disconnected_on(0, "reset", 12 * MS, &mut ev);
    assert_eq!(ev.len(), before, "nothing published: the books stay as they are");
    assert_eq!(s.engine().state(0), Some(BookState::Synced));
    s.handle_frame_on(1, &depth(12, 12), 13 * MS, &mut ev).unwrap();
    s.handle_frame_on(1, &depth(13, 13), 14 * MS, &mut ev).unwrap();
    // Line 0 comes back: it subscribes, asks for no snapshot, and joins where line 1 is.
    let t = {
        let mut t = 14 * MS;
        while !s.poll_connect_on(0, t) {
            t += MS;
        }
        t
    };
    s.handle_connected_on(0, t);
    assert!(s.poll_transmit_on(0).unwrap().contains("SUBSCRIBE"));
    assert_eq!(s.poll_request(t), None, "the synced book needs no snapshot");
    s.handle_frame_on(0, &depth(14, 14), t + MS, &mut ev).unwrap();
    s.handle_frame_on(1, &depth(14, 14), t + 2 * MS, &mut ev).unwrap();
    let book = s.engine().book_stats(0).unwrap();
    assert_eq!((book.resyncs, book.gaps, book.book_messages), (0, 0, 5));
    assert_eq!(s.stats().disconnects, 1);
    assert_eq!(s.line_stats(0).unwrap().disconnects, 1);
    // Both gone: now the books are stale.
    s.handle_disconnected_on(1, "reset", t + 3 * MS, &mut ev);
    assert_eq!(s.engine().state(0), Some(BookState::Synced));
    s.handle_disconnected_on(0, "reset", t + 4 * MS, &mut ev);
    assert_eq!(s.engine().state(0), Some(BookState::Stale));
}

#[test]
fn okx_snapshots_on_both_lines_are_taken_once_and_the_chain_arbitrates() {
    let mut cfg = SessionConfig::new(
        Venue::Okx,
        vec!["BTC-USDT".into()],
        InstrumentRegistry::with_builtins(),
    );
    cfg.lines = 2;
    let mut s = Session::new(cfg, 0..1024).unwrap();
    let mut ev: Vec<Event> = Vec::new();
    let msg = |action: &str, prev: i64, seq: i64, bid: &str| {
        format!(
            r#"{{"arg":{{"channel":"books","instId":"BTC-USDT"}},"action":"{action}","data":[{{"asks":[["30001","1","0","1"]],"bids":[["{bid}","1","0","1"]],"ts":"1","prevSeqId":{prev},"seqId":{seq}}}]}}"#
        )
        .into_bytes()
    };
    for l in 0..2 {
        assert!(s.poll_connect_on(l, 0));
        s.handle_connected_on(l, 0);
    }
    s.handle_frame_on(0, &msg("snapshot", -1, 100, "30000"), MS, &mut ev).unwrap();
    s.handle_frame_on(1, &msg("snapshot", -1, 100, "30000"), 2 * MS, &mut ev).unwrap();
    s.handle_frame_on(1, &msg("update", 100, 101, "29999"), 3 * MS, &mut ev).unwrap();
    s.handle_frame_on(0, &msg("update", 100, 101, "29999"), 4 * MS, &mut ev).unwrap();
    // A no-change heartbeat (prev == seq) on both lines changes nothing.
    s.handle_frame_on(0, &msg("update", 101, 101, "29999"), 5 * MS, &mut ev).unwrap();
    s.handle_frame_on(1, &msg("update", 101, 101, "29999"), 5 * MS, &mut ev).unwrap();
    let book = s.engine().book_stats(0).unwrap();
    assert_eq!((book.snapshots, book.book_messages, book.gaps), (1, 2, 0));
    assert_eq!(s.line_stats(0).unwrap().arbiter.duplicates, 2);
    assert_eq!(s.line_stats(1).unwrap().arbiter.won, 1);
    assert_eq!(s.engine().state(0), Some(BookState::Synced));
}

#[test]
fn every_venue_takes_two_lines_and_more_than_the_most_are_refused() {
    for venue in Venue::ALL {
        let mut cfg =
            SessionConfig::new(venue, vec!["BTCUSD".into()], InstrumentRegistry::with_builtins());
        cfg.lines = 2;
        assert!(Session::new(cfg, 0..1024).is_ok(), "{venue}");
    }
    let mut cfg = SessionConfig::new(
        Venue::Bitmex,
        vec!["XBTUSD".into()],
        InstrumentRegistry::with_builtins(),
    );
    cfg.lines = MAX_LINES + 1;
    let err = Session::new(cfg, 0..1024).unwrap_err();
    assert!(err.to_string().contains("at most 4"), "{err}");
}

// ---- content arbitration (venues without a per-book sequence) ---------------------------

fn coinbase_exchange_lines(lines: usize) -> Session {
    let mut cfg = SessionConfig::new(
        Venue::CoinbaseExchange,
        vec!["BTC-USD".into()],
        InstrumentRegistry::with_builtins(),
    );
    cfg.lines = lines;
    Session::new(cfg, 0..1024).unwrap()
}

const CBX_SNAPSHOT: &[u8] = br#"{"type":"snapshot","product_id":"BTC-USD","bids":[["100.00","1.0"]],"asks":[["200.00","1.0"]]}"#;

/// Coinbase Exchange update `k`: a bid at `100 + k` cents (each one a new best bid).
fn l2update(k: u64) -> Vec<u8> {
    format!(
        r#"{{"type":"l2update","product_id":"BTC-USD","changes":[["buy","100.{k:02}","1.0"]],"time":"2021-04-17T16:43:37.{k:06}Z"}}"#
    )
    .into_bytes()
}

/// Connects every line and gives the first `snapshots` lines the snapshot (line 0 first).
fn open_content_lines(s: &mut Session, snapshots: usize, ev: &mut Vec<Event>) {
    for l in 0..s.lines() {
        assert!(s.poll_connect_on(l, 0));
        s.handle_connected_on(l, 0);
        assert!(s.poll_transmit_on(l).unwrap().contains("level2"));
    }
    for l in 0..snapshots {
        s.handle_frame_on(l, CBX_SNAPSHOT, MS + l as u64, ev).unwrap();
    }
}

/// One connection's stream of updates 1..=8.
fn content_reference() -> Vec<Event> {
    let mut one = coinbase_exchange_lines(1);
    let mut want: Vec<Event> = Vec::new();
    open_content_lines(&mut one, 1, &mut want);
    for k in 1..=8 {
        one.handle_frame(&l2update(k), (10 + k) * MS, &mut want).unwrap();
    }
    want
}

#[test]
fn content_arbitration_publishes_one_connections_stream_from_two_healthy_lines() {
    let want = content_reference();
    let mut s = coinbase_exchange_lines(2);
    let mut ev: Vec<Event> = Vec::new();
    open_content_lines(&mut s, 2, &mut ev);
    // Line 1 is ahead for the first half, line 0 for the second.
    let mut frames = Vec::new();
    for k in 1..=8u64 {
        let (a, b) = if k <= 4 { (2, 1) } else { (1, 2) };
        frames.push(((10 + k) * MS + a, 0, l2update(k)));
        frames.push(((10 + k) * MS + b, 1, l2update(k)));
    }
    feed(&mut s, frames, &mut ev);
    assert_eq!(seen(&ev), seen(&want));
    let (l0, l1) = (s.line_stats(0).unwrap(), s.line_stats(1).unwrap());
    // Line 1's snapshot is a copy of line 0's.
    assert_eq!((l0.arbiter.won, l1.arbiter.won), (1 + 4, 4), "{l0:?} {l1:?}");
    assert_eq!(l0.arbiter.duplicates + l1.arbiter.duplicates, 9);
    assert_eq!(l1.advantage.len() + l0.advantage.len(), 9, "every copy timed");
    assert_eq!(s.engine().book_stats(0).unwrap().resyncs, 0);
}

#[test]
fn content_arbitration_a_loss_on_the_slower_line_costs_nothing() {
    let want = content_reference();
    let mut s = coinbase_exchange_lines(2);
    let mut ev: Vec<Event> = Vec::new();
    open_content_lines(&mut s, 2, &mut ev);
    let mut frames = Vec::new();
    for k in 1..=8u64 {
        frames.push(((10 + k) * MS, 0, l2update(k)));
        if k != 3 && k != 4 {
            // Line 1, a little behind, loses updates 3 and 4.
            frames.push(((10 + k) * MS + 500_000, 1, l2update(k)));
        }
    }
    feed(&mut s, frames, &mut ev);
    assert_eq!(seen(&ev), seen(&want));
    let l1 = s.line_stats(1).unwrap();
    assert_eq!((l1.arbiter.gaps, l1.arbiter.filled, l1.arbiter.found_lost), (1, 1, 0), "{l1:?}");
    assert_eq!(s.engine().book_stats(0).unwrap().resyncs, 0);
    assert_eq!(s.stats().unfilled_gaps, 0);
}

/// A Coinbase Exchange update setting bid `price` to `size`; `pad` more levels far below
/// the book (to make a message long).
fn l2set(price: &str, size: &str, k: u64, pad: usize) -> Vec<u8> {
    let mut changes = format!(r#"["buy","{price}","{size}"]"#);
    for p in 0..pad {
        changes.push_str(&format!(r#",["buy","{}.{:02}","0"]"#, 1 + p / 100, p % 100));
    }
    format!(
        r#"{{"type":"l2update","product_id":"BTC-USD","changes":[{changes}],"time":"2021-04-17T16:43:37.{k:06}Z"}}"#
    )
    .into_bytes()
}

/// Coinbase Exchange updates 1 to 5 of a bid: 3 sets the level at 100.03 and 4 removes it
/// (applied after 4, 3 would leave it in the book).
fn set_then_removed() -> Vec<Vec<u8>> {
    vec![
        l2set("100.01", "1.0", 1, 0),
        l2set("100.02", "1.0", 2, 0),
        l2set("100.03", "5.0", 3, 0),
        l2set("100.03", "0", 4, 0),
        l2set("100.04", "2.0", 5, 0),
    ]
}

/// One connection's session after `updates`, `step_ms` apart from 10 ms on, and its events.
fn one_connection(updates: &[Vec<u8>], step_ms: u64) -> (Session, Vec<Event>) {
    let mut one = coinbase_exchange_lines(1);
    let mut want: Vec<Event> = Vec::new();
    open_content_lines(&mut one, 1, &mut want);
    for (k, u) in updates.iter().enumerate() {
        one.handle_frame(u, (10 + step_ms * k as u64) * MS, &mut want).unwrap();
    }
    (one, want)
}

#[test]
fn content_arbitration_puts_a_loss_on_the_faster_line_back_in_its_place() {
    // Updates 3 and 4 write the same level: 3 sets it, 4 removes it. Applied late and alone,
    // 3 would leave the level in the book.
    let mut updates = set_then_removed();
    updates.push(l2set("100.02", "3.0", 6, 0));
    let (one, _) = one_connection(&updates, 1);
    let mut s = coinbase_exchange_lines(2);
    let mut ev: Vec<Event> = Vec::new();
    open_content_lines(&mut s, 2, &mut ev);
    let mut frames = Vec::new();
    for (k, u) in updates.iter().enumerate() {
        if k != 2 {
            // Line 0, in front, loses update 3: nothing in its stream says so.
            frames.push(((10 + k as u64) * MS, 0, u.clone()));
        }
        // Line 1 is 20 ms behind.
        frames.push(((30 + k as u64) * MS, 1, u.clone()));
    }
    feed(&mut s, frames, &mut ev);
    // Update 3 from line 1 is one line 0 never delivered: applied in its place, then 4 to 6
    // again; the book is the one connection's, without a resync.
    let l1 = s.line_stats(1).unwrap().arbiter;
    // Line 1's copies of the snapshot, 1, 2, 5 and 6 are duplicates; its 3, and its copy of 4
    // which showed where 3 belonged, are applied.
    assert_eq!((l1.found_lost, l1.duplicates, l1.won), (1, 5, 2), "{l1:?}");
    let book = s.engine().book_stats(0).unwrap();
    assert_eq!((book.resyncs, book.gaps), (0, 0), "{book:?}");
    assert_eq!(s.stats().unfilled_gaps, 0);
    assert_eq!(s.engine().state(0), Some(BookState::Synced));
    assert_eq!(s.engine().bbo(0), one.engine().bbo(0));
    let levels = |s: &Session| {
        let book = s.engine().book(0).unwrap();
        [crate::book::Side::Bid, crate::book::Side::Ask]
            .map(|side| book.iter(side).collect::<Vec<_>>())
    };
    assert_eq!(levels(&s), levels(&one));
    assert_eq!(levels(&s)[0].len(), 4, "100.00, .01, .02, .04: not .03");
    // Line 1 stays in step: its next copies are duplicates, a new message is applied.
    s.handle_frame_on(0, &l2set("100.05", "1.0", 7, 0), 50 * MS, &mut ev).unwrap();
    s.handle_frame_on(1, &l2set("100.05", "1.0", 7, 0), 51 * MS, &mut ev).unwrap();
    s.handle_frame_on(1, &l2set("100.06", "1.0", 8, 0), 52 * MS, &mut ev).unwrap();
    s.handle_frame_on(0, &l2set("100.06", "1.0", 8, 0), 53 * MS, &mut ev).unwrap();
    assert_eq!(s.engine().bbo(0).unwrap().bid_tick, 10006);
    let (l0, l1) = (s.line_stats(0).unwrap().arbiter, s.line_stats(1).unwrap().arbiter);
    assert_eq!((l0.found_lost, l1.found_lost, l0.duplicates, l1.duplicates), (0, 1, 1, 6));
}

#[test]
fn content_arbitration_a_loss_on_the_faster_line_of_a_quiet_book_comes_in_order() {
    // A quiet book: line 1 is only 0.5 ms behind, messages come 10 ms apart. Line 0, in
    // front, loses update 3 (which sets a level that update 4 removes); line 1's copy of 3
    // comes before line 0's 4, so 4 follows it: nothing to put back, and 4 must not be
    // placed before 3 (which would leave the level in the book).
    let updates = set_then_removed();
    let (one, want) = one_connection(&updates, 10);
    let mut s = coinbase_exchange_lines(2);
    let mut ev: Vec<Event> = Vec::new();
    open_content_lines(&mut s, 2, &mut ev);
    let mut frames = Vec::new();
    for (k, u) in updates.iter().enumerate() {
        let t = (10 + 10 * k as u64) * MS;
        if k != 2 {
            frames.push((t, 0, u.clone()));
        }
        frames.push((t + 500_000, 1, u.clone()));
    }
    feed(&mut s, frames, &mut ev);
    assert_eq!(seen(&ev), seen(&want), "one connection's stream");
    let (l0, l1) = (s.line_stats(0).unwrap().arbiter, s.line_stats(1).unwrap().arbiter);
    assert_eq!((l0.gaps, l0.filled), (1, 1), "line 0's loss, filled by line 1: {l0:?}");
    assert_eq!(l0.found_lost + l1.found_lost, 0, "{l0:?} {l1:?}");
    let book = s.engine().book_stats(0).unwrap();
    assert_eq!((book.resyncs, book.gaps), (0, 0), "{book:?}");
    let levels = |s: &Session| s.engine().book(0).unwrap().iter(crate::book::Side::Bid).count();
    assert_eq!(levels(&s), levels(&one));
    assert_eq!(levels(&s), 4, "100.00, .01, .02, .04: not .03");
}

#[test]
fn content_arbitration_a_line_that_goes_before_its_next_message_leaves_the_decision_to_the_other() {
    // Update 4 removes the level 3 sets: applied after 4, 3 leaves it in the book.
    let mut updates = set_then_removed();
    updates.push(l2set("100.05", "2.0", 6, 0));
    let (one, _) = one_connection(&updates, 1);
    let levels = |s: &Session| s.engine().book(0).unwrap().iter(crate::book::Side::Bid).count();
    for others_lost_it in [true, false] {
        let mut s = coinbase_exchange_lines(2);
        let mut ev: Vec<Event> = Vec::new();
        open_content_lines(&mut s, 2, &mut ev);
        let u = |k: usize| updates[k - 1].clone();
        let frames = if others_lost_it {
            // Line 0, in front, loses 3; line 1, 20 ms behind, delivers 1 to 3 and closes:
            // its 3 was applied after 4 and 5, out of its place.
            vec![(10, 0, u(1)), (11, 0, u(2)), (13, 0, u(4)), (14, 0, u(5))]
                .into_iter()
                .chain([(30, 1, u(1)), (31, 1, u(2)), (32, 1, u(3))])
                .collect::<Vec<_>>()
        } else {
            // Line 1 loses 3 and 4 and delivers 5 before line 0 (slow on it) does, then
            // closes: its 5 was in its place.
            vec![(10, 0, u(1)), (11, 0, u(2)), (12, 0, u(3)), (13, 0, u(4)), (10, 1, u(1))]
                .into_iter()
                .chain([(11, 1, u(2)), (14, 1, u(5))])
                .collect()
        };
        feed(&mut s, frames.into_iter().map(|(t, l, f)| (t * MS, l, f)).collect(), &mut ev);
        s.handle_disconnected_on(1, "closed", 40 * MS, &mut ev);
        let what = if others_lost_it { "line 0 lost 3" } else { "line 1 lost 3 and 4" };
        if !others_lost_it {
            // Line 0's copy of 5, right after its 4: 5 was in its place.
            s.handle_frame_on(0, &u(5), 41 * MS, &mut ev).unwrap();
        }
        // Line 0's next new message decides what the closed line could not.
        s.handle_frame_on(0, &u(6), 42 * MS, &mut ev).unwrap();
        let book = s.engine().book_stats(0).unwrap();
        if others_lost_it {
            assert_eq!(book.resyncs, 1, "{what}: the place of 3 is unknown: {book:?}");
            assert_eq!(s.engine().state(0), Some(BookState::Resyncing), "{what}");
        } else {
            assert_eq!(book.resyncs, 0, "{what}: {book:?}");
            assert_eq!(s.engine().bbo(0), one.engine().bbo(0), "{what}");
            assert_eq!(levels(&s), levels(&one), "{what}");
        }
    }
}

/// Coinbase Exchange updates: 1 moves the ask from 200 to 250; 2 bids 220, which crosses a
/// book that lost 1.
fn crossing_updates() -> [&'static [u8]; 2] {
    [
        br#"{"type":"l2update","product_id":"BTC-USD","changes":[["sell","200.00","0"],["sell","250.00","1.0"]],"time":"2021-04-17T16:43:37.000001Z"}"#,
        br#"{"type":"l2update","product_id":"BTC-USD","changes":[["buy","220.00","1.0"]],"time":"2021-04-17T16:43:37.000002Z"}"#,
    ]
}

#[test]
fn content_arbitration_a_crossed_book_waits_for_the_other_lines_copy_or_resyncs_after_the_wait() {
    for copy_comes in [true, false] {
        let mut s = coinbase_exchange_lines(2);
        let mut ev: Vec<Event> = Vec::new();
        open_content_lines(&mut s, 2, &mut ev);
        let [u1, u2] = crossing_updates();
        // Line 0, in front, loses update 1: its update 2 crosses the book.
        s.handle_frame_on(0, u2, 10 * MS, &mut ev).unwrap();
        let book = s.engine().book_stats(0).unwrap().clone();
        assert_eq!((book.checks_waited, book.crossed_detected, book.resyncs), (1, 0, 0));
        assert_eq!(s.engine().state(0), Some(BookState::Synced));
        let crossed_bbo = |ev: &[Event]| {
            ev.iter().any(|e| matches!(e.kind(), EventKind::Bbo(b) if b.is_crossed()))
        };
        assert!(!crossed_bbo(&ev), "a book failing its checks publishes nothing");
        if copy_comes {
            // Line 1's copies: 1 is put back in its place, 2 applied again; the book is right.
            s.handle_frame_on(1, u1, 20 * MS, &mut ev).unwrap();
            s.handle_frame_on(1, u2, 21 * MS, &mut ev).unwrap();
            let bbo = s.engine().bbo(0).unwrap();
            assert_eq!((bbo.bid_tick, bbo.ask_tick), (22000, 25000));
            s.expire_quiet_books(5 * S, &mut ev);
            assert_eq!(s.engine().state(0), Some(BookState::Synced));
            assert_eq!(s.engine().book_stats(0).unwrap().resyncs, 0);
        } else {
            // No copy within the fill wait (1 s): the book is invalidated and resyncs.
            s.expire_quiet_books(500 * MS, &mut ev);
            assert_eq!(s.engine().state(0), Some(BookState::Synced));
            s.expire_quiet_books(2 * S, &mut ev);
            assert_eq!(s.engine().state(0), Some(BookState::Resyncing));
            let book = s.engine().book_stats(0).unwrap();
            assert_eq!((book.crossed_detected, book.resyncs), (1, 1));
            let resub: Vec<String> = std::iter::from_fn(|| s.poll_transmit_on(0)).collect();
            assert!(resub.iter().any(|m| m.contains("\"subscribe\"")), "{resub:?}");
        }
        assert!(!crossed_bbo(&ev));
    }
}

#[test]
fn content_arbitration_resyncs_a_loss_on_the_faster_line_past_the_kept_bytes() {
    let mut s = coinbase_exchange_lines(2);
    let mut ev: Vec<Event> = Vec::new();
    open_content_lines(&mut s, 2, &mut ev);
    // Messages of about 8 KB: a megabyte keeps about 130 of them.
    let n = 300;
    let mut frames = Vec::new();
    for k in 1..=n {
        if k != 3 {
            frames.push(((10 + k) * MS, 0, l2set(&format!("100.{:02}", k % 100), "1.0", k, 400)));
        }
    }
    for k in 1..=4u64 {
        frames.push(((10 + n + k) * MS, 1, l2set(&format!("100.{:02}", k % 100), "1.0", k, 400)));
    }
    assert!(frames[0].2.len() * 200 > crate::session::content::KEEP_BYTES);
    feed(&mut s, frames, &mut ev);
    // Update 3 from line 1 is applied at once; line 1's copy of 4 shows that line 0 lost it,
    // before 297 updates that are no longer all kept: it cannot be put back, and the book
    // resyncs, by a fresh subscription on line 1.
    assert_eq!(s.engine().state(0), Some(BookState::Resyncing));
    assert_eq!(s.engine().book_stats(0).unwrap().resyncs, 1);
    assert_eq!(s.line_stats(1).unwrap().arbiter.found_lost, 1);
    assert_eq!(s.stats().unfilled_gaps, 1);
    let resub: Vec<String> = std::iter::from_fn(|| s.poll_transmit_on(1)).collect();
    assert!(resub.iter().any(|m| m.contains("\"subscribe\"")), "{resub:?}");
    assert_eq!(s.poll_transmit_on(0), None);
    // The new snapshot (on line 1) syncs the book; line 0's copies of it place line 0.
    s.handle_frame_on(1, CBX_SNAPSHOT, 900 * MS, &mut ev).unwrap();
    assert_eq!(s.engine().state(0), Some(BookState::Synced));
    s.handle_frame_on(1, &l2update(9), 901 * MS, &mut ev).unwrap();
    s.handle_frame_on(0, &l2update(9), 902 * MS, &mut ev).unwrap();
    s.handle_frame_on(0, &l2update(10), 903 * MS, &mut ev).unwrap();
    assert_eq!(s.engine().bbo(0).unwrap().bid_tick, 10010);
    assert_eq!(s.line_stats(0).unwrap().arbiter.found_lost, 0);
}

#[test]
fn content_arbitration_a_line_ahead_of_the_snapshots_line_is_held_then_leads() {
    let want = content_reference();
    let mut s = coinbase_exchange_lines(2);
    let mut ev: Vec<Event> = Vec::new();
    // Line 1 subscribed later: no snapshot it shares with line 0 places it.
    open_content_lines(&mut s, 1, &mut ev);
    let mut frames = Vec::new();
    for k in 1..=8u64 {
        // Line 1 is 2.5 updates ahead of line 0 throughout.
        frames.push(((10 + k) * MS, 0, l2update(k)));
        frames.push(((10 + k) * MS - 2_500_000, 1, l2update(k)));
    }
    feed(&mut s, frames, &mut ev);
    assert_eq!(seen(&ev), seen(&want));
    let (l0, l1) = (s.line_stats(0).unwrap(), s.line_stats(1).unwrap());
    // Update 1 comes from line 0 (line 1's position is not known before it); line 1's held
    // 2 and 3 are applied the moment it is, and line 1 leads from there.
    assert_eq!((l0.arbiter.won, l1.arbiter.won), (2, 7), "{l0:?} {l1:?}");
    assert_eq!(s.engine().book_stats(0).unwrap().resyncs, 0);
}

#[test]
fn hyperliquid_lines_take_the_newest_block_and_a_loss_costs_nothing() {
    let mut cfg = SessionConfig::new(
        Venue::Hyperliquid,
        vec!["BTC".into()],
        InstrumentRegistry::with_builtins(),
    );
    cfg.lines = 2;
    let mut s = Session::new(cfg, 0..1024).unwrap();
    let mut ev: Vec<Event> = Vec::new();
    for l in 0..2 {
        assert!(s.poll_connect_on(l, 0));
        s.handle_connected_on(l, 0);
    }
    let block = |t: u64, bid: u32| {
        let mut b = hyperliquid_book(bid);
        let at = b.windows(7).position(|w| w == b"\"time\":").unwrap() + 7;
        let end = at + b[at..].iter().position(|c| !c.is_ascii_digit()).unwrap();
        b.splice(at..end, t.to_string().bytes());
        b
    };
    s.handle_frame_on(0, &block(1000, 100), MS, &mut ev).unwrap();
    s.handle_frame_on(1, &block(1000, 100), 2 * MS, &mut ev).unwrap();
    // Line 0 loses block 1001; line 1 delivers it, then both deliver 1002.
    s.handle_frame_on(1, &block(1001, 101), 3 * MS, &mut ev).unwrap();
    s.handle_frame_on(0, &block(1002, 102), 4 * MS, &mut ev).unwrap();
    s.handle_frame_on(1, &block(1002, 102), 5 * MS, &mut ev).unwrap();
    let book = s.engine().book_stats(0).unwrap();
    assert_eq!((book.snapshots, book.resyncs), (3, 0));
    let (l0, l1) = (s.line_stats(0).unwrap(), s.line_stats(1).unwrap());
    assert_eq!((l0.arbiter.won, l1.arbiter.won), (2, 1));
    assert_eq!((l0.arbiter.duplicates, l1.arbiter.duplicates), (0, 2));
    // The book is block 1002's, as one connection that saw only it would have it.
    let mut one = SessionConfig::new(
        Venue::Hyperliquid,
        vec!["BTC".into()],
        InstrumentRegistry::with_builtins(),
    );
    one.lines = 1;
    let mut one = Session::new(one, 0..1024).unwrap();
    assert!(one.poll_connect(0));
    one.handle_connected(0);
    one.handle_frame(&block(1002, 102), MS, &mut Vec::new()).unwrap();
    assert_eq!(s.engine().bbo(0), one.engine().bbo(0));
    assert!(s.engine().bbo(0).is_some());
}

#[test]
fn kraken_v1_copies_match_across_the_connections_channel_ids() {
    let mut cfg = SessionConfig::new(
        Venue::KrakenV1,
        vec!["XBT/USD".into()],
        InstrumentRegistry::with_builtins(),
    );
    cfg.lines = 2;
    let mut s = Session::new(cfg, 0..1024).unwrap();
    let mut ev: Vec<Event> = Vec::new();
    for l in 0..2 {
        assert!(s.poll_connect_on(l, 0));
        s.handle_connected_on(l, 0);
    }
    let snap = |chan: u32| {
        format!(r#"[{chan},{{"as":[["5541.30000","2.50700000","1534614248.123678"]],"bs":[["5541.20000","1.52900000","1534614248.765567"]]}},"book-10","XBT/USD"]"#).into_bytes()
    };
    let upd = |chan: u32| {
        format!(r#"[{chan},{{"a":[["5541.40000","1.00000000","1534614335.345903"]]}},"book-10","XBT/USD"]"#).into_bytes()
    };
    s.handle_frame_on(0, &snap(10), MS, &mut ev).unwrap();
    s.handle_frame_on(1, &snap(77), 2 * MS, &mut ev).unwrap();
    s.handle_frame_on(1, &upd(77), 3 * MS, &mut ev).unwrap();
    s.handle_frame_on(0, &upd(10), 4 * MS, &mut ev).unwrap();
    let (l0, l1) = (s.line_stats(0).unwrap(), s.line_stats(1).unwrap());
    assert_eq!((l0.arbiter.won, l1.arbiter.won), (1, 1), "{l0:?} {l1:?}");
    assert_eq!((l0.arbiter.duplicates, l1.arbiter.duplicates), (1, 1));
    assert_eq!(s.engine().book_stats(0).unwrap().book_messages, 2);
}

/// A Coinbase Advanced Trade `l2_data` frame of connection sequence `seq`: the snapshot
/// (`k == 0`) or update `k`, a bid at `100 + k` cents. The send timestamp differs per
/// connection, as the sequence does.
fn l2_data(seq: u64, k: u64) -> Vec<u8> {
    let (kind, updates) = if k == 0 {
        (
            "snapshot",
            r#"{"side":"bid","event_time":"2026-08-09T21:05:48.1Z","price_level":"100.00","new_quantity":"1.0"},{"side":"offer","event_time":"2026-08-09T21:05:48.1Z","price_level":"200.00","new_quantity":"1.0"}"#.to_owned(),
        )
    } else {
        (
            "update",
            format!(
                r#"{{"side":"bid","event_time":"2026-08-09T21:05:48.{k:06}Z","price_level":"100.{k:02}","new_quantity":"1.0"}}"#
            ),
        )
    };
    format!(
        r#"{{"channel":"l2_data","client_id":"","timestamp":"2026-08-09T21:05:49.{seq:09}Z","sequence_num":{seq},"events":[{{"type":"{kind}","product_id":"BTC-USD","updates":[{updates}]}}]}}"#
    )
    .into_bytes()
}

/// A session of `venue` for `symbol` with `lines` lines, each connected.
fn connected_lines(venue: Venue, symbol: &str, lines: usize) -> Session {
    let mut cfg =
        SessionConfig::new(venue, vec![symbol.into()], InstrumentRegistry::with_builtins());
    cfg.lines = lines;
    let mut s = Session::new(cfg, 0..1024).unwrap();
    for l in 0..lines {
        assert!(s.poll_connect_on(l, 0));
        s.handle_connected_on(l, 0);
    }
    s
}

#[test]
fn coinbase_advanced_lines_check_each_connections_sequence_and_a_loss_in_front_costs_nothing() {
    let session = |lines: usize| connected_lines(Venue::Coinbase, "BTC-USD", lines);
    let mut one = session(1);
    let mut want: Vec<Event> = Vec::new();
    for k in 0..=5 {
        one.handle_frame(&l2_data(k, k), (10 + k) * MS, &mut want).unwrap();
    }
    let mut s = session(2);
    let mut ev: Vec<Event> = Vec::new();
    let mut frames = Vec::new();
    for k in 0..=5u64 {
        // Line 0 is in front and loses update 3: its next frame's sequence says so.
        if k != 3 {
            frames.push(((10 + k) * MS, 0, l2_data(k, k)));
        }
        // Line 1, 1.5 updates behind, numbers its connection from 40.
        frames.push(((10 + k) * MS + 1_500_000, 1, l2_data(40 + k, k)));
    }
    feed(&mut s, frames, &mut ev);
    assert_eq!(seen(&ev), seen(&want));
    let (l0, l1) = (s.line_stats(0).unwrap(), s.line_stats(1).unwrap());
    assert_eq!((l0.arbiter.gaps, l0.arbiter.filled), (1, 1), "{l0:?}");
    assert_eq!(l0.arbiter.found_lost + l1.arbiter.found_lost, 0);
    // Line 1 delivered 3 and 4 first; line 0's held 5 went through when its 4 matched.
    assert_eq!((l0.arbiter.won, l1.arbiter.won), (4, 2), "{l0:?} {l1:?}");
    assert_eq!(s.engine().book_stats(0).unwrap().resyncs, 0);
    assert_eq!(s.stats().unfilled_gaps, 0);
}

/// A Gemini v1 `update` of connection sequence `seq`: the full book (`k == 0`) or update `k`,
/// a bid at `100 + k` cents, with a trade in the even ones.
fn gemini_v1_update(seq: u64, k: u64) -> Vec<u8> {
    let events = if k == 0 {
        r#"{"type":"change","reason":"initial","price":"100.00","delta":"1.0","remaining":"1.0","side":"bid"},{"type":"change","reason":"initial","price":"200.00","delta":"1.0","remaining":"1.0","side":"ask"}"#.to_owned()
    } else {
        let mut e = format!(
            r#"{{"type":"change","reason":"place","price":"100.{k:02}","delta":"1.0","remaining":"1.0","side":"bid"}}"#
        );
        if k % 2 == 0 {
            e.push_str(&format!(
                r#",{{"type":"trade","tid":{k},"price":"150.00","amount":"0.1","makerSide":"ask"}}"#
            ));
        }
        e
    };
    format!(
        r#"{{"type":"update","eventId":{},"timestamp":1547760288,"timestampms":1547760288{k:03},"socket_sequence":{seq},"events":[{events}]}}"#,
        5000 + k
    )
    .into_bytes()
}

#[test]
fn gemini_v1_lines_check_each_connections_sequence_and_a_loss_in_front_costs_nothing() {
    let session = |lines: usize| connected_lines(Venue::GeminiV1, "BTCUSD", lines);
    let mut one = session(1);
    let mut want: Vec<Event> = Vec::new();
    for k in 0..=6 {
        one.handle_frame(&gemini_v1_update(k, k), (10 + k) * MS, &mut want).unwrap();
    }
    assert_eq!(one.engine().state(0), Some(BookState::Synced));
    let mut s = session(2);
    let mut ev: Vec<Event> = Vec::new();
    let mut frames = Vec::new();
    for k in 0..=6u64 {
        // Line 0 is in front and loses update 4 (with its trade): its next frame's
        // `socket_sequence` says so.
        if k != 4 {
            frames.push(((10 + k) * MS, 0, gemini_v1_update(k, k)));
        }
        // Line 1, 1.5 updates behind, has a heartbeat more: its numbers run one ahead.
        frames.push(((10 + k) * MS + 1_500_000, 1, gemini_v1_update(k + 1, k)));
    }
    feed(&mut s, frames, &mut ev);
    // The same stream as one connection's: every trade once, the book the same.
    assert_eq!(seen(&ev), seen(&want));
    let trades =
        |ev: &[Event]| ev.iter().filter(|e| matches!(e.kind(), EventKind::Trade { .. })).count();
    assert_eq!(trades(&ev), 3);
    let (l0, l1) = (s.line_stats(0).unwrap(), s.line_stats(1).unwrap());
    assert_eq!((l0.arbiter.gaps, l0.arbiter.filled), (1, 1), "{l0:?}");
    assert_eq!(l0.arbiter.found_lost + l1.arbiter.found_lost, 0);
    assert_eq!(s.engine().book_stats(0).unwrap().resyncs, 0);
    assert_eq!(s.stats().unfilled_gaps, 0);
    assert_eq!(s.engine().bbo(0), one.engine().bbo(0));
    assert_eq!(s.engine().bbo(0).unwrap().bid_tick, 10006);
}

/// A Bitfinex line whose connection named the book channel `book` and the trades channel
/// `book + 1`: its `subscribed` answers.
fn bitfinex_subscribed(book: u64) -> [Vec<u8>; 3] {
    [
        br#"{"event":"conf","status":"OK","flags":196608}"#.to_vec(),
        format!(r#"{{"event":"subscribed","channel":"book","chanId":{book},"symbol":"tBTCUSD","prec":"P0","freq":"F0","len":"25","pair":"BTCUSD"}}"#).into_bytes(),
        format!(r#"{{"event":"subscribed","channel":"trades","chanId":{},"symbol":"tBTCUSD","pair":"BTCUSD"}}"#, book + 1).into_bytes(),
    ]
}

/// The checksum Bitfinex sends after update `k` of [`bitfinex_frames`], written out by the
/// documented rule (top levels, bid then ask, `price:amount`, asks negative).
fn bitfinex_checksum(k: u64) -> i32 {
    let mut bids = std::collections::BTreeMap::new();
    bids.insert(1005, ("100.5".to_owned(), "1.5".to_owned()));
    bids.insert(1001, ("100.1".to_owned(), if k >= 1 { "1.1" } else { "2" }.to_owned()));
    for j in 2..=k {
        bids.insert(1000 + j, (format!("100.{j}"), format!("1.{j}")));
    }
    let mut text: Vec<String> = Vec::new();
    for (i, (p, a)) in bids.values().rev().enumerate() {
        text.push(format!("{p}:{a}"));
        if i == 0 {
            text.push("101:-3".to_owned());
        }
    }
    crc32fast::hash(text.join(":").as_bytes()) as i32
}

/// Bitfinex message `k` on the connection whose book channel is `book`, numbered from `seq`:
/// the snapshot (`k == 0`), else a bid at `100.k` set and the book's checksum, and for even
/// `k` a trade (`te`, then its `tu`, on the trades channel).
fn bitfinex_frames(book: u64, seq: u64, k: u64) -> Vec<Vec<u8>> {
    if k == 0 {
        return vec![format!("[{book},[[100.5,2,1.5],[100.1,1,2],[101,1,-3]],{seq}]").into_bytes()];
    }
    let mut f = vec![
        format!("[{book},[100.{k},1,1.{k}],{seq}]").into_bytes(),
        format!(r#"[{book},"cs",{},{}]"#, bitfinex_checksum(k), seq + 1).into_bytes(),
    ];
    if k % 2 == 0 {
        let t = format!("[{k},1617643610{k:03},0.5,101]");
        f.push(format!(r#"[{},"te",{t},{}]"#, book + 1, seq + 2).into_bytes());
        f.push(format!(r#"[{},"tu",{t},{}]"#, book + 1, seq + 3).into_bytes());
    }
    f
}

#[test]
fn bitfinex_lines_map_each_connections_channel_ids_and_a_loss_in_front_costs_nothing() {
    let session = |lines: usize| connected_lines(Venue::Bitfinex, "tBTCUSD", lines);
    let stream = |book: u64, first_seq: u64, skip: Option<u64>| {
        let mut out = Vec::new();
        let mut seq = first_seq;
        for k in 0..=6 {
            let frames = bitfinex_frames(book, seq, k);
            seq += frames.len() as u64;
            if Some(k) != skip {
                out.push((k, frames));
            }
        }
        out
    };
    let mut one = session(1);
    let mut want: Vec<Event> = Vec::new();
    for f in bitfinex_subscribed(17) {
        one.handle_frame(&f, MS, &mut want).unwrap();
    }
    for (k, frames) in stream(17, 1, None) {
        for f in frames {
            one.handle_frame(&f, (10 + k) * MS, &mut want).unwrap();
        }
    }
    assert_eq!(one.engine().state(0), Some(BookState::Synced));
    let book = one.engine().book_stats(0).unwrap();
    assert_eq!((book.gaps, book.checksum_ok, book.checksum_failed), (0, 6, 0), "{book:?}");
    // Two lines: each connection chose its own channel ids (17 and 90210) and numbers its
    // frames from its own start. Line 0, in front, loses update 4 (and its trade).
    let mut s = session(2);
    let mut ev: Vec<Event> = Vec::new();
    let mut frames = Vec::new();
    for f in bitfinex_subscribed(17) {
        frames.push((MS, 0, f));
    }
    for f in bitfinex_subscribed(90210) {
        frames.push((MS, 1, f));
    }
    for (k, fs) in stream(17, 1, Some(4)) {
        frames.extend(fs.into_iter().map(|f| ((10 + k) * MS, 0, f)));
    }
    for (k, fs) in stream(90210, 41, None) {
        frames.extend(fs.into_iter().map(|f| ((10 + k) * MS + 1_500_000, 1, f)));
    }
    feed(&mut s, frames, &mut ev);
    // One connection's stream: every trade once, the same book.
    assert_eq!(seen(&ev), seen(&want));
    let trades =
        |ev: &[Event]| ev.iter().filter(|e| matches!(e.kind(), EventKind::Trade { .. })).count();
    assert_eq!(trades(&ev), 3);
    let (l0, l1) = (s.line_stats(0).unwrap(), s.line_stats(1).unwrap());
    // Line 0's next number shows its loss; line 1's copies place it again.
    assert_eq!((l0.arbiter.gaps, l0.arbiter.filled), (1, 1), "{l0:?}");
    assert_eq!(l0.arbiter.found_lost + l1.arbiter.found_lost, 0, "{l0:?} {l1:?}");
    assert!(l1.arbiter.won >= 2, "line 1 delivered update 4 and its trade first: {l1:?}");
    let book = s.engine().book_stats(0).unwrap();
    assert_eq!((book.gaps, book.resyncs, book.snapshots), (0, 0, 1), "{book:?}");
    // Each checksum checked once, where it stands in the book's stream.
    assert_eq!((book.checksum_ok, book.checksum_failed), (6, 0), "{book:?}");
    assert_eq!(s.stats().unfilled_gaps, 0);
    assert_eq!(s.stats().errors, 0, "every frame of both lines read");
    assert_eq!(s.engine().bbo(0), one.engine().bbo(0));
}

/// BitMEX `orderBookL2` message `k` of BCHUSD: the partial (`k == 0`), the bid's size set to
/// `2100 + k` (`k < 10`, `k >= 20`), and in between a level of its own (id …60 at 437) is
/// inserted, updated without a price (the pre-2022 shape), deleted and inserted again: each
/// of these messages contradicts the book when the one before it is missing.
fn bitmex_book(k: u64) -> Vec<u8> {
    if k == 0 {
        return br#"{"table":"orderBookL2","action":"partial","keys":["symbol","id","side"],"types":{},"filter":{"symbol":"BCHUSD"},"data":[{"symbol":"BCHUSD","id":40199991250,"side":"Sell","size":300,"price":437.5},{"symbol":"BCHUSD","id":40199991255,"side":"Buy","size":2104,"price":437.25}]}"#.to_vec();
    }
    let (action, row) = match k {
        10 | 14 => ("insert", format!(r#""id":40199991260,"side":"Buy","size":{k},"price":437"#)),
        11 | 12 | 15 => ("update", format!(r#""id":40199991260,"side":"Buy","size":{k}"#)),
        13 | 16 => ("delete", r#""id":40199991260,"side":"Buy""#.to_owned()),
        _ => ("update", format!(r#""id":40199991255,"side":"Buy","size":{}"#, 2100 + k)),
    };
    format!(r#"{{"table":"orderBookL2","action":"{action}","data":[{{"symbol":"BCHUSD",{row}}}]}}"#)
        .into_bytes()
}

/// Both sides of a session's first book, best first.
fn ladder_of(s: &Session) -> Vec<(crate::book::Side, i64, i64)> {
    use crate::book::Side;
    let book = s.engine().book(0).unwrap();
    [Side::Bid, Side::Ask]
        .into_iter()
        .flat_map(|side| book.iter(side).map(move |l| (side, l.px_tick, l.qty_lots)))
        .collect()
}

#[test]
fn bitmex_lines_go_by_content_and_a_loss_in_front_is_put_back() {
    let session = |lines: usize| connected_lines(Venue::Bitmex, "BCHUSD", lines);
    let mut s = session(2);
    let mut ev: Vec<Event> = Vec::new();
    // Line 1, 1.5 messages behind, loses message 3: line 0 had delivered it. Then line 0, in
    // front, loses message 8 (a bid size), 11 (the update of a level whose insert it had),
    // 14 (an insert after a delete), 16 (a delete) and 19 (a bid size, followed by two more
    // that line 0 delivers before line 1's copies place it): each time line 0's next message
    // is applied before line 1's copy shows the loss, and contradicts the book when the lost
    // message set up its level. The book waits for line 1's copy, which is put back in its
    // place, every message after it applied once more.
    let line0_loses = [8, 11, 14, 16, 19];
    let mut frames = Vec::new();
    for k in 0..=21u64 {
        if !line0_loses.contains(&k) {
            frames.push(((10 + k) * MS, 0, bitmex_book(k)));
        }
        if k != 3 {
            frames.push(((10 + k) * MS + 1_500_000, 1, bitmex_book(k)));
        }
    }
    feed(&mut s, frames, &mut ev);
    let mut one = session(1);
    let mut want: Vec<Event> = Vec::new();
    for k in 0..=21 {
        one.handle_frame(&bitmex_book(k), (10 + k) * MS, &mut want).unwrap();
    }
    let (l0, l1) = (s.line_stats(0).unwrap().arbiter, s.line_stats(1).unwrap().arbiter);
    assert_eq!((l1.gaps, l1.filled), (1, 1), "{l1:?}");
    assert_eq!(l1.found_lost, 5, "each loss in front found: {l1:?} {l0:?}");
    let book = s.engine().book_stats(0).unwrap();
    assert_eq!((book.gaps, book.resyncs, book.snapshots), (0, 0, 1), "{book:?}");
    assert!(book.checks_waited >= 1, "a contradiction waited: {book:?}");
    assert_eq!(s.engine().state(0), Some(BookState::Synced));
    assert_eq!(ladder_of(&s), ladder_of(&one), "the venue's book");
    assert_eq!(s.engine().bbo(0), one.engine().bbo(0));
    let last_bbo = |ev: &[Event]| seen(ev).into_iter().rfind(|e| e.contains("Bbo"));
    assert_eq!(last_bbo(&ev), last_bbo(&want), "the book published again once put right");
    assert_eq!(s.stats().unfilled_gaps, 0);
    // Nothing published while the book waited was wrong: every BBO is one the single
    // connection published too.
    for e in seen(&ev).iter().filter(|e| e.contains("Bbo")) {
        assert!(seen(&want).contains(e), "{e} never published by one connection");
    }
}

#[test]
fn bitmex_lines_resync_a_contradiction_no_line_puts_right() {
    let mut s = connected_lines(Venue::Bitmex, "BCHUSD", 2);
    let mut ev: Vec<Event> = Vec::new();
    // Both lines lose message 10, the insert of a level: 11, its update, contradicts the book
    // and no copy puts it right. After the fill wait the book resyncs, on a line that is
    // open.
    let mut frames = Vec::new();
    for k in (0..=12u64).filter(|&k| k != 10) {
        frames.push(((10 + k) * MS, 0, bitmex_book(k)));
        frames.push(((10 + k) * MS + 1_500_000, 1, bitmex_book(k)));
    }
    feed(&mut s, frames, &mut ev);
    assert_eq!(s.engine().state(0), Some(BookState::Synced), "within the fill wait");
    assert_eq!(s.engine().book_stats(0).unwrap().resyncs, 0);
    let later = 30 * MS + 2 * s.policy().fill_wait.as_nanos() as u64;
    s.expire_quiet_books(later, &mut ev);
    let book = s.engine().book_stats(0).unwrap();
    assert_eq!((book.gaps, book.resyncs), (1, 1), "{book:?}");
    assert_eq!(s.engine().state(0), Some(BookState::Resyncing));
    let mut sent: Vec<String> = Vec::new();
    for l in 0..2 {
        sent.extend(std::iter::from_fn(|| s.poll_transmit_on(l)));
    }
    assert!(
        sent.iter().any(|m| m.contains("unsubscribe") && m.contains("orderBookL2:BCHUSD")),
        "{sent:?}"
    );
}

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

//! Steady state costs nothing, end to end: a whole replay of each real capture (streaming
//! capture reader, parse, book, publish into the ring, a consumer thread popping every event
//! with latency recording on) allocates nothing once warmed up. The warm-up is a first replay
//! of the same file; the counted second replay reopens it (opening allocates the file's
//! buffers and decoder, once: not counted) and runs from its first record, so the snapshots,
//! resyncs and every message shape are in the counted part too. Dropping the reader at the
//! end frees, which is not counted either (only allocations are).
//!
//! Both the replay thread and the consumer thread count (`tests/counting`); the harness's own
//! threads do not. The reopened reader's buffers start empty and grow to the file's longest
//! record once; its allocations are tallied apart and bounded (see [`READER_GROWTH_BOUND`]).
//!
//! The live path too: a wss:// connection to the simulator (TLS records opened in place,
//! WebSocket framing, session, engine) allocates nothing per message on the network thread
//! once warm. Counting is per thread, each test into its own counter, so the two tests may
//! run at the same time; nothing else in this file allocates on a counted thread.

mod common;
mod counting;

use std::sync::atomic::{AtomicU64, Ordering};

use ladderfeed::book::InstrumentRegistry;
use ladderfeed::capture::{self, Record, RecordKind};
use ladderfeed::consumer::{Consumer, StopFlag};
use ladderfeed::engine::Engine;
use ladderfeed::ring::{feed, Publisher};
use ladderfeed::venue::AnyAdapter;

/// Allocations of the parse, book, ring and consumer while counting.
static ALLOCS: AtomicU64 = AtomicU64::new(0);
/// Allocations made inside the capture reader (tallied apart, see [`READER_GROWTH_BOUND`]).
static READER_ALLOCS: AtomicU64 = AtomicU64::new(0);

/// A freshly opened reader grows its line and record buffers (by doubling) up to the longest
/// record of the file, a few times per buffer and never again: a bound far below one per
/// record. The parse, book, ring and consumer get no such allowance: they must not allocate.
const READER_GROWTH_BOUND: u64 = 32;

/// What one replay did.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
struct Pass {
    records: u64,
    frames: u64,
    errors: u64,
}

/// One replay from `reader`'s first record, as `ladderfeed replay` does it: one reused
/// record, connects and disconnects reset the engine's per-connection state. With `count`,
/// this thread's allocations go to [`READER_ALLOCS`] inside the reader, [`ALLOCS`] outside.
fn replay(
    mut reader: capture::Reader,
    engine: &mut Engine<AnyAdapter>,
    publisher: &mut Publisher,
    rec: &mut Record,
    count: bool,
) -> Pass {
    let tally = |c: &'static AtomicU64| counting::count_into(count.then_some(c));
    let mut pass = Pass::default();
    loop {
        tally(&READER_ALLOCS);
        let more = reader.next_into(rec).expect("read capture");
        tally(&ALLOCS);
        if !more {
            break;
        }
        pass.records += 1;
        let r = match rec.kind {
            RecordKind::Recv => {
                pass.frames += 1;
                engine.handle_frame(&rec.payload, rec.local_ts, publisher)
            }
            RecordKind::Http => engine.handle_http(&rec.url, &rec.payload, rec.local_ts, publisher),
            RecordKind::Connect | RecordKind::Disconnect => {
                engine.disconnected(rec.local_ts, publisher);
                Ok(())
            }
            _ => Ok(()),
        };
        pass.errors += u64::from(r.is_err());
    }
    engine.disconnected(0, publisher);
    pass
}

/// Replays `file` twice through the whole pipeline; returns (allocations during the second
/// replay outside the reader, inside it, the second pass, events the consumer saw during it).
fn steady_state(file: &str) -> (u64, u64, Pass, u64) {
    let p = common::fixture(file);
    let mut paths = capture::companions(&p);
    paths.push(p);
    paths.sort();
    paths.dedup();
    let venue = capture::guess_venue(&paths[paths.len() - 1]).expect("read").expect("venue");
    let adapter = AnyAdapter::new(venue, InstrumentRegistry::with_builtins(), None).expect("venue");
    // With the top 10 of every book published too: its diffing must not allocate either.
    let mut engine = Engine::new(adapter).with_depth(10);
    let (mut publisher, subscription) = feed(1 << 16, 4096);
    let stop = StopFlag::new();
    let seen = std::sync::Arc::new(AtomicU64::new(0));
    let consumer = {
        let (stop, seen) = (stop.clone(), seen.clone());
        std::thread::spawn(move || {
            let mut consumer = Consumer::new(subscription);
            // Counted throughout; the counter is reset when the counted replay starts, so
            // what the warm-up allocated does not count.
            counting::count_into(Some(&ALLOCS));
            consumer.run(&stop, |e| {
                std::hint::black_box(e);
                seen.fetch_add(1, Ordering::Relaxed);
            });
            counting::count_into(None);
            consumer.stats()
        })
    };
    let mut rec = Record::empty();
    let open = || capture::open_merged(&paths).expect("open capture");
    let warm = replay(open(), &mut engine, &mut publisher, &mut rec, false);
    // Let the consumer catch up before counting starts (its own buffers are warm by now).
    while publisher.stats().in_flight() > 0 {
        std::hint::spin_loop();
    }
    let seen_before = seen.load(Ordering::Relaxed);
    // Opening a file allocates its buffers and decoders once: setup, not steady state.
    let reader = open();
    ALLOCS.store(0, Ordering::Relaxed);
    READER_ALLOCS.store(0, Ordering::Relaxed);
    let counted = replay(reader, &mut engine, &mut publisher, &mut rec, true);
    while publisher.stats().in_flight() > 0 {
        std::hint::spin_loop();
    }
    counting::count_into(None);
    let allocs = ALLOCS.load(Ordering::Relaxed);
    let reader_allocs = READER_ALLOCS.load(Ordering::Relaxed);
    let consumed = seen.load(Ordering::Relaxed) - seen_before;
    stop.raise();
    let stats = consumer.join().expect("consumer");
    assert_eq!(stats.produced, stats.consumed + stats.dropped, "{file}: ring accounting");
    assert_eq!((warm.records, warm.frames), (counted.records, counted.frames), "{file}");
    (allocs, reader_allocs, counted, consumed)
}

#[test]
fn a_whole_replay_allocates_nothing_after_warm_up() {
    let files = [
        "binance/hftbacktest_spot_btcusdt_20240808.gz",
        "binance/cryptofeed_BINANCE_FUTURES.ws.1.0",
        "coinbase/cryptofeed-v3_COINBASE.jsonl.zst",
        "coinbase/cryptofeed_COINBASE.ws.28.0",
        "gemini/cryptofeed_GEMINI.ws.1.0",
        "kraken/cryptofeed_KRAKEN.ws.50.0",
        "okx/cryptofeed_OKX.ws.1.0",
        "bitfinex/cryptofeed_BITFINEX-58bafb.0",
    ];
    let results: Vec<_> = files.iter().map(|f| (f, steady_state(f))).collect();
    for (file, (allocs, reader_allocs, pass, consumed)) in &results {
        eprintln!(
            "{file}: {allocs} allocations in parse/book/ring/consumer, {reader_allocs} in the \
             fresh reader, over {} records ({} frames, {} errors), {consumed} events consumed",
            pass.records, pass.frames, pass.errors
        );
        assert!(*consumed > 0, "{file}: the consumer saw nothing in the counted replay");
    }
    for (file, (allocs, reader_allocs, ..)) in &results {
        assert_eq!(*allocs, 0, "{file}: the replay allocated (ALLOC_BACKTRACE=1 shows where)");
        assert!(
            *reader_allocs <= READER_GROWTH_BOUND,
            "{file}: the reader allocated {reader_allocs} times: more than growing its buffers"
        );
    }
}

/// Allocations of the network thread while it counts (the live test below).
#[cfg(feature = "live")]
static NET_ALLOCS: AtomicU64 = AtomicU64::new(0);

/// A sink that keeps nothing (the ring and the consumer are the test above's).
#[cfg(feature = "live")]
struct Discard(u64);

#[cfg(feature = "live")]
impl ladderfeed::engine::Sink for Discard {
    fn publish(&mut self, _event: ladderfeed::event::Event) {
        self.0 += 1;
    }
}

/// The network thread in steady state, TLS and WebSocket included: a live connection over
/// wss:// to the simulator (in this process, on threads of its own that do not count: real
/// TLS 1.3 with its test CA, certificates verified) serving the Kraken v1 capture, paced. The
/// network loop (mio, rustls, WebSocket framing, session, engine) runs on this test's own
/// thread; after a warm-up (the TLS and WebSocket handshakes, the subscriptions, every book's
/// snapshot, the first `WARM` messages) it counts its allocations over the next messages,
/// which must be none. The count is per thread, so the replay test above may run meanwhile.
#[cfg(feature = "live")]
#[test]
fn a_live_wss_connection_allocates_nothing_per_message_after_warm_up() {
    use std::time::{Duration, Instant};

    use ladderfeed::book::Venue;
    use ladderfeed::net::live::{Feed, Live, Options};
    use ladderfeed_sim::{Config, Pace, Sim};

    /// Messages before counting starts.
    const WARM: u64 = 800;
    /// Messages counted.
    const COUNTED: u64 = 2_500;

    let capture = common::fixture("kraken/cryptofeed_KRAKEN.ws.50.0");
    let mut c = Config::for_venue("kraken-v1", vec![capture]).expect("config");
    c.tls = true;
    c.pace = Pace::Rate(4000.0);
    let sim = Sim::start(c).expect("simulator");
    let ca = std::env::temp_dir().join(format!("ladderfeed-live-alloc-{}.pem", std::process::id()));
    std::fs::write(&ca, sim.ca_pem().expect("the simulator's CA")).expect("write the CA");
    let tls = ladderfeed::net::tls::client_config(Some(&ca)).expect("TLS config");
    let symbols: Vec<String> = ["WAVES/EUR", "XMR/USD", "KSM/XBT", "GRT/ETH", "SC/EUR", "ETH/CHF"]
        .into_iter()
        .chain(["OCEAN/XBT", "OMG/USD", "XBT/CHF", "ADA/XBT"])
        .map(String::from)
        .collect();
    let url = Feed::endpoint_url(Venue::KrakenV1, &sim.url(""), &symbols);
    let feed =
        Feed { venue: Venue::KrakenV1, url, symbols, rest_base: None, backup_urls: Vec::new() };
    let mut live = Live::new(vec![feed], Options::new(tls)).expect("live");
    let mut sink = Discard(0);
    let messages = |live: &Live| live.links()[0].stats().messages;
    let deadline = Instant::now() + Duration::from_secs(60);
    while messages(&live) < WARM {
        live.poll_once(&mut sink).expect("poll");
        assert!(Instant::now() < deadline, "warm-up: {:?}", live.links()[0].stats());
    }
    let (start_msgs, start_connects) = (messages(&live), live.links()[0].stats().connects);
    NET_ALLOCS.store(0, Ordering::Relaxed);
    counting::count_into(Some(&NET_ALLOCS));
    while messages(&live) < start_msgs + COUNTED && Instant::now() < deadline {
        live.poll_once(&mut sink).expect("poll");
    }
    counting::count_into(None);
    let allocs = NET_ALLOCS.load(Ordering::Relaxed);
    let stats = live.links()[0].stats().clone();
    live.close_all();
    sim.stop();
    let _ = std::fs::remove_file(&ca);
    let counted = stats.messages - start_msgs;
    eprintln!(
        "live wss: {allocs} allocations on the network thread over {counted} messages \
         ({} events published in all; {stats:?})",
        sink.0
    );
    assert_eq!(stats.connects, start_connects, "the connection was lost while counting");
    assert!(counted >= COUNTED, "only {counted} messages in time");
    assert_eq!(allocs, 0, "the network thread allocated (ALLOC_BACKTRACE=1 shows where)");
}

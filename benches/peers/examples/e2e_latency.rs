//! End-to-end loopback latency, ladderfeed against a reference client, in one run.
//!
//! The simulator (in this process) serves a capture over wss:// at a steady rate or at full
//! speed; each client in turn connects to a simulator of its own with the same capture, pace
//! and protocol, subscribes and receives the same stream:
//!
//! - **reference**: tokio + tokio-tungstenite (rustls, the same client configuration and CA) +
//!   serde_json + `BTreeMap` books (`benches/reference`), on one current-thread runtime pinned
//!   like our network thread. It "sees" the BBO when its book has been updated after the frame.
//! - **ladderfeed busy-poll, consumer on the network thread**: one thread, like the reference:
//!   after every turn of the live loop the same thread pops what the ring holds (the frame
//!   still goes through parse, book, publish and pop; only the hop between cores is gone). On
//!   a 2-core machine this is the layout that leaves the simulator a core of its own.
//! - **the same with `--parser simd-json`**: the one-thread layout again, every frame read by
//!   simd-json (the reference parser) instead of the venue's scanner (the default; issue 24:
//!   the scanners must not make the end-to-end p50 worse).
//! - **ladderfeed busy-poll, spinning consumer**: the live loop busy-polling on a pinned network
//!   thread, a consumer spinning on the other core (the production setting: each owns a core;
//!   on a 2-core machine the consumer shares its core with the simulator).
//! - **ladderfeed busy-poll, yielding consumer**: the consumer calls `yield_now` when idle.
//! - **ladderfeed epoll, yielding consumer**: the network thread waits in epoll
//!   (`--no-busy-poll`).
//!
//! **Cores.** Before anything starts, the main thread pins itself to the first core, so the
//! simulator's threads (which it spawns, and which inherit its mask) run there; every client's
//! receiving thread (the reference's runtime, ladderfeed's network thread) is pinned to the
//! second core and has it to itself, as on a host where the venue is another machine.
//! ladderfeed's consumer shares the first core with the simulator. Without this, on a 2-core
//! machine the simulator's sender wakes on whichever core is free and, when ladderfeed
//! busy-polls, preempts the network thread for the whole send (the reference, blocked in epoll,
//! leaves a core idle and is not hit).
//!
//! Per frame that moved a book: the simulator's send timestamp (taken just before the frame is
//! handed to TLS, from the reference log) to the consumer seeing the event (ladderfeed) or to
//! the reference's book being updated. Both sides read the same clock (`ladderfeed::clock`).
//! The reference counts every frame that updated a book, ladderfeed only those whose events
//! changed a BBO (what it publishes); the row "reference, the frames where ladderfeed
//! published" measures the reference on exactly ladderfeed's frames (the same capture frames,
//! by their order on the connection), so the two can be compared frame for frame.
//!
//! Every client first runs a warm-up session at 10,000 msgs/s that is not printed. Each printed
//! session is [`ROUNDS`] rounds, every client once per round in turn; a row holds all its
//! rounds (so p99.9 rests on about 2,400 of ladderfeed's frames, not 810).
//!
//! `cargo run --release -p ladderfeed-peers --example e2e_latency [CAPTURE VENUE]`
//! (default: the Kraken v1 capture).

#[path = "../../reference/mod.rs"]
mod reference;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use ladderfeed::book::{InstrumentRegistry, Venue};
use ladderfeed::capture::RecordKind;
use ladderfeed::clock::now_ns;
use ladderfeed::consumer::{spawn_pinned, Cores};
use ladderfeed::net::live::{Feed, Live, Options};
use ladderfeed::net::tls;
use ladderfeed::ring::feed;
use ladderfeed::venue::{Adapter, AnyAdapter, Parser};
use ladderfeed_sim::{Config, Pace, Sim};
use reference::{RefBook, Reference};
use rustls::ClientConfig;
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::Connector;

/// The cores, listed once before the main thread pins itself.
static CORES: OnceLock<Cores> = OnceLock::new();

fn cores() -> &'static Cores {
    CORES.get_or_init(Cores::detect)
}

/// The symbols each venue's capture carries (what the clients subscribe to).
fn symbols(venue: Venue) -> Vec<String> {
    match venue {
        Venue::KrakenV1 => vec!["XBT/USD".into()],
        Venue::Okx => vec!["BTC-USDT".into()],
        _ => vec!["BTC-USD".into()],
    }
}

/// Send timestamps of the capture frames the simulator sent on connection `conn`, in order.
fn sends(log: &[Value], conn: u64) -> Vec<u64> {
    log.iter()
        .filter(|e| e["event"] == "send" && e["conn"] == conn && e["frame"].is_u64())
        .filter_map(|e| e["ts_ns"].as_u64())
        .collect()
}

/// The connection id of the `nth` connection the simulator accepted.
fn nth_conn(log: &[Value], nth: usize) -> Option<u64> {
    log.iter().filter(|e| e["event"] == "connect").nth(nth).and_then(|e| e["conn"].as_u64())
}

/// The reference client: receives `total` frames; per frame, the time its book was updated
/// (`None` when the frame moved no book).
fn reference_client(
    url: &str,
    config: Arc<ClientConfig>,
    venue: Venue,
    subscribe: Vec<String>,
    total: usize,
    core: Option<core_affinity::CoreId>,
) -> Vec<Option<u64>> {
    if let Some(c) = core {
        core_affinity::set_for_current(c);
    }
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio");
    rt.block_on(async {
        let connector = Connector::Rustls(config);
        let (mut ws, _) =
            tokio_tungstenite::connect_async_tls_with_config(url, None, true, Some(connector))
                .await
                .expect("reference client connects");
        for m in subscribe {
            ws.send(Message::text(m)).await.expect("subscribe");
        }
        let mut book = Reference::<RefBook>::new(venue);
        let mut seen = Vec::with_capacity(total);
        let deadline = Instant::now() + Duration::from_secs(120);
        while seen.len() < total && Instant::now() < deadline {
            let frame = match ws.next().await {
                Some(Ok(Message::Text(t))) => t.as_bytes().to_vec(),
                Some(Ok(Message::Binary(b))) => b.to_vec(),
                Some(Ok(Message::Close(_))) | None => break,
                Some(Ok(_)) => continue,
                Some(Err(e)) => panic!("reference client: {e}"),
            };
            let before = book.bbo_count;
            book.handle(&frame, false);
            let now = now_ns();
            seen.push((book.bbo_count != before).then_some(now));
        }
        let _ = ws.close(None).await;
        seen
    })
}

/// Where ladderfeed's consumer runs and what it does when the ring is empty.
#[derive(Clone, Copy)]
enum Consumer {
    /// A thread on the first core that spins.
    Spins,
    /// A thread on the first core that yields the core (to the simulator's threads).
    Yields,
    /// On the network thread: the ring is drained after every turn of the loop. The frame
    /// still goes through the ring; only the thread hop is gone.
    Inline,
}

/// Pops what the ring holds; per event, the first time its frame's receive stamp was seen.
fn pop(sub: &mut feed::Subscription, popped: &mut HashMap<u64, u64>) -> usize {
    sub.pop_batch(256, |ev| {
        let now = now_ns();
        popped.entry(ev.local_ts()).or_insert(now);
    })
}

/// ladderfeed's live path: per received frame (by its receive stamp), the time the consumer
/// popped the first event it produced; and the receive stamps in order.
fn ladderfeed_client(
    url: &str,
    config: Arc<ClientConfig>,
    venue: Venue,
    total: usize,
    (busy, consumer, parser): LfClient,
) -> (Vec<u64>, HashMap<u64, u64>) {
    let symbols = symbols(venue);
    let mut opts = Options::new(config);
    opts.busy_poll = busy;
    opts.parser = parser;
    let feed_cfg = Feed {
        venue,
        url: Feed::endpoint_url(venue, url, &symbols),
        symbols,
        rest_base: None,
        backup_urls: Vec::new(),
    };
    let mut live = Live::new(vec![feed_cfg], opts).expect("live");
    let (rec_tx, rec_rx) = crossbeam_channel::unbounded();
    live.set_recorder(rec_tx, None);
    let cores = cores();
    let (mut publisher, subscription) = feed::feed(1 << 16, 1024);
    let mut subscription = Some(subscription);
    let stop = Arc::new(AtomicBool::new(false));
    let consumer_stop = Arc::clone(&stop);
    let thread = match consumer {
        Consumer::Inline => None,
        Consumer::Spins | Consumer::Yields => {
            let mut subscription = subscription.take().expect("the subscription");
            let consumer_thread = spawn_pinned("consumer", cores.get(0), move |_| {
                let mut popped: HashMap<u64, u64> = HashMap::with_capacity(1 << 16);
                loop {
                    if pop(&mut subscription, &mut popped) == 0 {
                        if consumer_stop.load(Ordering::Acquire) {
                            break;
                        }
                        if matches!(consumer, Consumer::Yields) {
                            // Give the core to a runnable thread (the simulator's).
                            std::thread::yield_now();
                        } else {
                            std::hint::spin_loop();
                        }
                    }
                }
                popped
            })
            .expect("consumer thread");
            Some(consumer_thread)
        }
    };
    let net = spawn_pinned("network", cores.get(1), move |_| {
        let start = Instant::now();
        let mut received = 0u64;
        let mut popped: HashMap<u64, u64> = HashMap::with_capacity(1 << 16);
        let mut inline = subscription;
        while received < total as u64 && start.elapsed() < Duration::from_secs(120) {
            live.poll_once(&mut publisher).expect("poll");
            if let Some(sub) = inline.as_mut() {
                while pop(sub, &mut popped) > 0 {}
            }
            received = live.links()[0].stats().messages;
        }
        stop.store(true, Ordering::Release);
        live.close_all();
        popped
    })
    .expect("network thread");
    let inline_popped = net.join().expect("network");
    let popped = match thread {
        Some(t) => t.join().expect("consumer"),
        None => inline_popped,
    };
    let recvs =
        rec_rx.try_iter().filter(|r| r.kind == RecordKind::Recv).map(|r| r.local_ts).collect();
    (recvs, popped)
}

fn row(label: &str, h: &Histogram<u64>) {
    let us = |q: f64| h.value_at_quantile(q) as f64 / 1000.0;
    println!(
        "| {label} | {} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} |",
        h.len(),
        us(0.5),
        us(0.9),
        us(0.99),
        us(0.999),
        h.max() as f64 / 1000.0
    );
}

/// How a ladderfeed client runs: busy-poll (or epoll), where the consumer is, which parser.
type LfClient = (bool, Consumer, Parser);

/// The clients compared: the reference, then ladderfeed as (busy-poll, where the consumer is,
/// parser). The one-thread layout runs twice, with the venue's scanner (the default) and with
/// `--parser simd-json` (the reference parser), so the scanners' effect on the whole path is
/// measured side by side in the same rounds.
const CLIENTS: [(&str, Option<LfClient>); 6] = [
    ("reference (tokio-tungstenite + serde_json + BTreeMap)", None),
    (
        "ladderfeed busy-poll, consumer on the network thread",
        Some((true, Consumer::Inline, Parser::Scan)),
    ),
    (
        "ladderfeed busy-poll, consumer on the network thread, `--parser simd-json`",
        Some((true, Consumer::Inline, Parser::SimdJson)),
    ),
    ("ladderfeed busy-poll, spinning consumer", Some((true, Consumer::Spins, Parser::Scan))),
    ("ladderfeed busy-poll, yielding consumer", Some((true, Consumer::Yields, Parser::Scan))),
    ("ladderfeed epoll, yielding consumer", Some((false, Consumer::Yields, Parser::Scan))),
];

/// One client against a simulator of its own (the same capture, pace and protocol: the same
/// stream), one row of the table.
/// Per client, what its rounds of a session measured.
struct Measured {
    /// Send → seen (the reference) or send → consumer pop (ladderfeed).
    total: Histogram<u64>,
    /// ladderfeed only: send → receive stamp.
    wire: Histogram<u64>,
    /// ladderfeed only: receive stamp → consumer pop.
    path: Histogram<u64>,
}

fn histogram() -> Histogram<u64> {
    Histogram::<u64>::new(3).expect("histogram")
}

/// What a run tells beyond its histograms.
enum Ran {
    /// The reference's latency per frame of the connection (`None`: the frame moved no book).
    Reference(Vec<Option<u64>>),
    /// The indices of the frames where ladderfeed published.
    Ladderfeed(Vec<usize>),
}

/// One client's run against a simulator of its own (the same capture, pace and protocol: the
/// same stream), recorded into `m`.
fn run_client(
    capture: &Path,
    venue: Venue,
    pace: Pace,
    client: Option<LfClient>,
    m: &mut Measured,
) -> Ran {
    let mut c = Config::new(venue, vec![capture.to_path_buf()]);
    c.tls = true;
    c.pace = pace;
    c.max_seconds = 600.0;
    let sim = Sim::start(c).expect("simulator");
    let ca = std::env::temp_dir().join(format!("e2e-latency-{}.pem", std::process::id()));
    std::fs::write(&ca, sim.ca_pem().expect("a CA")).expect("write CA");
    let config = tls::client_config(Some(&ca)).expect("TLS config");
    let total = sim.capture().len();
    let base = sim.url("");
    match client {
        None => {
            let symbols = symbols(venue);
            let reg = InstrumentRegistry::with_builtins();
            let adapter = AnyAdapter::new(venue, reg, None).expect("venue");
            let refs: Vec<&str> = symbols.iter().map(String::as_str).collect();
            let subscribe = adapter.subscribe_messages(&refs);
            let url = Feed::endpoint_url(venue, &base, &symbols);
            // On a thread of its own, pinned where ladderfeed's network thread goes (the
            // simulator's threads run on the first core, the main thread's).
            let core = cores().get(1);
            let seen = std::thread::spawn(move || {
                reference_client(&url, config, venue, subscribe, total, core)
            })
            .join()
            .expect("reference client");
            std::thread::sleep(Duration::from_millis(100));
            let log = sim.stop();
            let s = sends(&log, nth_conn(&log, 0).expect("the connection"));
            let lat: Vec<Option<u64>> =
                s.iter().zip(&seen).map(|(send, t)| t.map(|t| t.saturating_sub(*send))).collect();
            for l in lat.iter().flatten() {
                let _ = m.total.record(*l);
            }
            Ran::Reference(lat)
        }
        Some(lf) => {
            let (recvs, popped) = ladderfeed_client(&base, config, venue, total, lf);
            std::thread::sleep(Duration::from_millis(100));
            let log = sim.stop();
            let s = sends(&log, nth_conn(&log, 0).expect("the connection"));
            // The same frames split in two stages: the wire (the simulator's TLS write,
            // loopback, ladderfeed's read, decrypt and WebSocket framing, up to the receive
            // stamp) and ladderfeed's own path (parse, book, ring, consumer pop).
            let mut published = Vec::new();
            for (i, (send, recv)) in s.iter().zip(&recvs).enumerate() {
                if let Some(c) = popped.get(recv) {
                    let _ = m.total.record(c.saturating_sub(*send));
                    let _ = m.wire.record(recv.saturating_sub(*send));
                    let _ = m.path.record(c.saturating_sub(*recv));
                    published.push(i);
                }
            }
            Ran::Ladderfeed(published)
        }
    }
}

/// Rounds of a session: in each round every client runs once, in turn, so slow spells of the
/// machine spread over all of them.
const ROUNDS: usize = 3;

/// `rounds` rounds of every client at `pace`; with `print`, one row per client (the
/// histograms of all its rounds together).
fn session(capture: &Path, venue: Venue, pace: Pace, pace_label: &str, rounds: usize, print: bool) {
    let mut measured: Vec<Measured> = CLIENTS
        .iter()
        .map(|_| Measured { total: histogram(), wire: histogram(), path: histogram() })
        .collect();
    let mut reference_runs = Vec::new();
    let mut published: Option<Vec<usize>> = None;
    for _ in 0..rounds {
        for ((_, client), m) in CLIENTS.iter().zip(&mut measured) {
            match run_client(capture, venue, pace, *client, m) {
                Ran::Reference(lat) => reference_runs.push(lat),
                Ran::Ladderfeed(frames) => {
                    published.get_or_insert(frames);
                }
            }
        }
    }
    if !print {
        return;
    }
    // The reference on the frames where ladderfeed published (a BBO changed): the same capture
    // frames, by their order on the connection.
    let mut same = histogram();
    for lat in &reference_runs {
        for l in published.iter().flatten().filter_map(|&i| lat.get(i).copied().flatten()) {
            let _ = same.record(l);
        }
    }
    for ((label, client), m) in CLIENTS.iter().zip(&measured) {
        row(&format!("{label}, {pace_label}"), &m.total);
        if client.is_none() {
            row(&format!("reference, the frames where ladderfeed published, {pace_label}"), &same);
        } else {
            let wire = "&nbsp;&nbsp;of which send → receive stamp";
            row(&format!("{wire}, {pace_label}"), &m.wire);
            let path = "&nbsp;&nbsp;of which receive stamp → consumer";
            row(&format!("{path}, {pace_label}"), &m.path);
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures");
    let capture =
        args.get(1).map(PathBuf::from).unwrap_or(root.join("kraken/cryptofeed_KRAKEN.ws.50.0"));
    let venue = args.get(2).and_then(|v| Venue::from_name(v)).unwrap_or(Venue::KrakenV1);
    // The simulator's threads inherit this thread's core; the clients' threads pin their own.
    if let Some(core) = cores().get(0) {
        core_affinity::set_for_current(core);
    }
    println!(
        "capture {} ({}), commit-time clock: ladderfeed::clock",
        capture.display(),
        venue.name()
    );
    println!("| client, pace | frames that moved a book | p50 µs | p90 µs | p99 µs | p99.9 µs | max µs |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    // A warm-up session first, for every client, not printed: the first client of a kind in
    // the process pays for first-time work (code and data pages, lazy initialisation) that
    // showed up as milliseconds in its p99 and beyond.
    session(&capture, venue, Pace::Rate(10_000.0), "warm-up", 1, false);
    session(&capture, venue, Pace::Rate(1000.0), "1,000 msgs/s", ROUNDS, true);
    session(&capture, venue, Pace::Rate(10_000.0), "10,000 msgs/s", ROUNDS, true);
    session(&capture, venue, Pace::Max, "full speed", ROUNDS, true);
}

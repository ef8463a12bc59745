//! End-to-end loopback latency, ladderfeed against a reference client, in one run.
//!
//! The simulator (in this process) serves a capture over wss:// at a steady rate or at full
//! speed; each client in turn connects to a simulator of its own with the same capture, pace
//! and protocol, subscribes and receives the same stream:
//!
//! - **reference**: tokio + tokio-tungstenite (rustls, the same client configuration and CA) +
//!   serde_json + `BTreeMap` books (`benches/reference`), on one current-thread runtime pinned
//!   like our network thread. It "sees" the BBO when its book has been updated after the frame.
//! - **ladderfeed busy-poll, spinning consumer**: the live loop busy-polling on a pinned network
//!   thread, a consumer spinning on the other core (the production setting: each owns a core;
//!   on a 2-core machine the simulator's threads then have none).
//! - **ladderfeed busy-poll, yielding consumer**: the consumer calls `yield_now` when idle.
//! - **ladderfeed epoll, yielding consumer**: the network thread waits in epoll
//!   (`--no-busy-poll`); this leaves the simulator a core on a 2-core machine.
//!
//! Per frame that moved a book: the simulator's send timestamp (taken just before the frame is
//! handed to TLS, from the reference log) to the consumer seeing the event (ladderfeed) or to
//! the reference's book being updated. Both sides read the same clock (`ladderfeed::clock`).
//!
//! `cargo run --release -p ladderfeed-peers --example e2e_latency [CAPTURE VENUE]`
//! (default: the Kraken v1 capture).

#[path = "../../reference/mod.rs"]
mod reference;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
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
use ladderfeed::venue::{Adapter, AnyAdapter};
use ladderfeed_sim::{Config, Pace, Sim};
use reference::{RefBook, Reference};
use rustls::ClientConfig;
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::Connector;

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

/// ladderfeed's live path: per received frame (by its receive stamp), the time the consumer
/// popped the first event it produced; and the receive stamps in order.
fn ladderfeed_client(
    url: &str,
    config: Arc<ClientConfig>,
    venue: Venue,
    total: usize,
    busy: bool,
    consumer_yields: bool,
) -> (Vec<u64>, HashMap<u64, u64>) {
    let symbols = symbols(venue);
    let mut opts = Options::new(config);
    opts.busy_poll = busy;
    let feed_cfg =
        Feed { venue, url: Feed::endpoint_url(venue, url, &symbols), symbols, rest_base: None };
    let mut live = Live::new(vec![feed_cfg], opts).expect("live");
    let (rec_tx, rec_rx) = crossbeam_channel::unbounded();
    live.set_recorder(rec_tx, None);
    let cores = Cores::detect();
    let (mut publisher, mut subscription) = feed::feed(1 << 16, 1024);
    let stop = Arc::new(AtomicBool::new(false));
    let consumer_stop = Arc::clone(&stop);
    let consumer = spawn_pinned("consumer", cores.get(0), move |_| {
        let mut popped: HashMap<u64, u64> = HashMap::with_capacity(1 << 16);
        loop {
            let n = subscription.pop_batch(256, |ev| {
                let now = now_ns();
                popped.entry(ev.local_ts()).or_insert(now);
            });
            if n == 0 {
                if consumer_stop.load(Ordering::Acquire) {
                    break;
                }
                if consumer_yields {
                    // Give the core to a runnable thread (the simulator's, on 2 cores).
                    std::thread::yield_now();
                } else {
                    std::hint::spin_loop();
                }
            }
        }
        popped
    })
    .expect("consumer thread");
    let net = spawn_pinned("network", cores.get(1), move |_| {
        let start = Instant::now();
        let mut received = 0u64;
        while received < total as u64 && start.elapsed() < Duration::from_secs(120) {
            live.poll_once(&mut publisher).expect("poll");
            received = live.links()[0].stats().messages;
        }
        stop.store(true, Ordering::Release);
        live.close_all();
    })
    .expect("network thread");
    net.join().expect("network");
    let popped = consumer.join().expect("consumer");
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

/// The clients compared: the reference, then ladderfeed as (busy-poll, consumer yields).
const CLIENTS: [(&str, Option<(bool, bool)>); 4] = [
    ("reference (tokio-tungstenite + serde_json + BTreeMap)", None),
    ("ladderfeed busy-poll, spinning consumer", Some((true, false))),
    ("ladderfeed busy-poll, yielding consumer", Some((true, true))),
    ("ladderfeed epoll, yielding consumer", Some((false, true))),
];

/// One client against a simulator of its own (the same capture, pace and protocol: the same
/// stream), one row of the table.
fn session(capture: &Path, venue: Venue, pace: Pace, pace_label: &str) {
    for (label, client) in CLIENTS {
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
        let mut h = Histogram::<u64>::new(3).expect("histogram");
        match client {
            None => {
                let symbols = symbols(venue);
                let reg = InstrumentRegistry::with_builtins();
                let adapter = AnyAdapter::new(venue, reg, None).expect("venue");
                let refs: Vec<&str> = symbols.iter().map(String::as_str).collect();
                let subscribe = adapter.subscribe_messages(&refs);
                let url = Feed::endpoint_url(venue, &base, &symbols);
                // On a thread of its own, pinned where ladderfeed's network thread goes (the
                // simulator's threads, started from the main thread, stay unpinned).
                let core = Cores::detect().get(1);
                let seen = std::thread::spawn(move || {
                    reference_client(&url, config, venue, subscribe, total, core)
                })
                .join()
                .expect("reference client");
                std::thread::sleep(Duration::from_millis(100));
                let log = sim.stop();
                let s = sends(&log, nth_conn(&log, 0).expect("the connection"));
                for (send, seen) in s.iter().zip(&seen) {
                    if let Some(t) = seen {
                        let _ = h.record(t.saturating_sub(*send));
                    }
                }
            }
            Some((busy, yields)) => {
                let (recvs, popped) = ladderfeed_client(&base, config, venue, total, busy, yields);
                std::thread::sleep(Duration::from_millis(100));
                let log = sim.stop();
                let s = sends(&log, nth_conn(&log, 0).expect("the connection"));
                for (send, recv) in s.iter().zip(&recvs) {
                    if let Some(c) = popped.get(recv) {
                        let _ = h.record(c.saturating_sub(*send));
                    }
                }
            }
        }
        row(&format!("{label}, {pace_label}"), &h);
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures");
    let capture =
        args.get(1).map(PathBuf::from).unwrap_or(root.join("kraken/cryptofeed_KRAKEN.ws.50.0"));
    let venue = args.get(2).and_then(|v| Venue::from_name(v)).unwrap_or(Venue::KrakenV1);
    println!(
        "capture {} ({}), commit-time clock: ladderfeed::clock",
        capture.display(),
        venue.name()
    );
    println!("| client, pace | frames that moved a book | p50 µs | p90 µs | p99 µs | p99.9 µs | max µs |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    session(&capture, venue, Pace::Rate(1000.0), "1,000 msgs/s");
    session(&capture, venue, Pace::Rate(10_000.0), "10,000 msgs/s");
    session(&capture, venue, Pace::Max, "full speed");
}

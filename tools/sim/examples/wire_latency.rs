//! Loopback wire-to-consumer latency of the live path: the simulator sends a capture over
//! wss:// (in this process, loopback), the live loop receives, parses, applies and publishes on
//! a pinned thread, a consumer on another pinned thread pops. Per frame:
//!
//! - wire → receive: the simulator's send timestamp (taken just before the frame is handed to
//!   TLS) to the live loop's receive stamp;
//! - wire → consumer: the send timestamp to the consumer popping the first event the frame
//!   produced (frames that change no BBO produce none).
//!
//! Both sides read the same clock (`ladderfeed::clock`). Run:
//! `cargo run --release -p ladderfeed-sim --example wire_latency [CAPTURE VENUE]`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use ladderfeed::book::Venue;
use ladderfeed::capture::RecordKind;
use ladderfeed::consumer::{spawn_pinned, Cores};
use ladderfeed::net::live::{Feed, Live, Options};
use ladderfeed::net::tls;
use ladderfeed::ring::feed;
use ladderfeed_sim::{Config, Pace, Sim};

fn quantiles(h: &Histogram<u64>) -> String {
    let us = |v: u64| v as f64 / 1000.0;
    format!(
        "{:>9.1} {:>9.1} {:>9.1} {:>9.1}",
        us(h.value_at_quantile(0.5)),
        us(h.value_at_quantile(0.99)),
        us(h.value_at_quantile(0.999)),
        us(h.max())
    )
}

fn run(capture: &Path, venue: Venue, pace: Pace, busy: bool, label: &str) {
    let mut c = Config::new(venue, vec![capture.to_path_buf()]);
    c.tls = true;
    c.pace = pace;
    let sim = Sim::start(c).expect("simulator");
    let ca = std::env::temp_dir().join(format!("wire-latency-{}.pem", std::process::id()));
    std::fs::write(&ca, sim.ca_pem().unwrap()).unwrap();
    let symbols: Vec<String> = vec!["XBT/USD".into()];
    let mut opts = Options::new(tls::client_config(Some(&ca)).unwrap());
    opts.busy_poll = busy;
    let feed_cfg = Feed {
        venue,
        url: Feed::endpoint_url(venue, &sim.url(""), &symbols),
        symbols,
        rest_base: None,
        backup_urls: Vec::new(),
    };
    let mut live = Live::new(vec![feed_cfg], opts).unwrap();
    let (rec_tx, rec_rx) = crossbeam_channel::unbounded();
    live.set_recorder(rec_tx, None);
    let cores = Cores::detect();
    let (mut publisher, mut subscription) = feed::feed(1 << 16, 1024);
    let stop = Arc::new(AtomicBool::new(false));
    let consumer_stop = Arc::clone(&stop);
    // The consumer keeps (receive stamp of the frame → first pop time).
    let consumer = spawn_pinned("consumer", cores.get(0), move |_| {
        let mut popped: HashMap<u64, u64> = HashMap::with_capacity(1 << 16);
        loop {
            let n = subscription.pop_batch(256, |ev| {
                let now = ladderfeed::clock::now_ns();
                popped.entry(ev.local_ts()).or_insert(now);
            });
            if n == 0 {
                if consumer_stop.load(Ordering::Acquire) {
                    break;
                }
                if busy {
                    std::hint::spin_loop();
                } else {
                    // Leave the core to the simulator's threads on a small machine.
                    std::thread::sleep(Duration::from_micros(50));
                }
            }
        }
        popped
    })
    .unwrap();
    let net_stop = Arc::clone(&stop);
    let total = sim.capture().len();
    let net = spawn_pinned("network", cores.get(1), move |_| {
        let start = Instant::now();
        let mut received = 0u64;
        while received < total as u64 && start.elapsed() < Duration::from_secs(120) {
            live.poll_once(&mut publisher).unwrap();
            received = live.links()[0].stats().messages;
        }
        net_stop.store(true, Ordering::Release);
        live.close_all();
        drop(live);
    })
    .unwrap();
    net.join().unwrap();
    let popped = consumer.join().unwrap();
    let log = sim.stop();
    let sends: Vec<u64> = log
        .iter()
        .filter(|e| e["event"] == "send" && e["frame"].is_u64())
        .map(|e| e["ts_ns"].as_u64().unwrap())
        .collect();
    let recvs: Vec<u64> =
        rec_rx.try_iter().filter(|r| r.kind == RecordKind::Recv).map(|r| r.local_ts).collect();
    let mut wire_recv = Histogram::<u64>::new(3).unwrap();
    let mut wire_consumer = Histogram::<u64>::new(3).unwrap();
    for (s, r) in sends.iter().zip(&recvs) {
        let _ = wire_recv.record(r.saturating_sub(*s));
        if let Some(c) = popped.get(r) {
            let _ = wire_consumer.record(c.saturating_sub(*s));
        }
    }
    println!(
        "| {label} | {} | {} | {} | {} |",
        recvs.len(),
        quantiles(&wire_recv).split_whitespace().collect::<Vec<_>>().join(" / "),
        wire_consumer.len(),
        quantiles(&wire_consumer).split_whitespace().collect::<Vec<_>>().join(" / "),
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures");
    let capture =
        args.get(1).map(PathBuf::from).unwrap_or(root.join("kraken/cryptofeed_KRAKEN.ws.50.0"));
    let venue = args.get(2).and_then(|v| Venue::from_name(v)).unwrap_or(Venue::KrakenV1);
    println!("capture {} ({})", capture.display(), venue.name());
    println!("| pace | frames | wire→receive µs p50 / p99 / p99.9 / max | events | wire→consumer µs p50 / p99 / p99.9 / max |");
    println!("|---|---:|---|---:|---|");
    // Busy-polling network and consumer threads (the production setting: each owns a core);
    // then the network thread waiting in epoll (`--no-busy-poll`) and a consumer that sleeps
    // 50 µs when idle, which leaves the simulator's threads a core on a 2-core machine.
    for busy in [true, false] {
        let mode = if busy { "busy-poll" } else { "epoll wait" };
        run(&capture, venue, Pace::Rate(1000.0), busy, &format!("{mode}, 1,000 msgs/s"));
        run(&capture, venue, Pace::Rate(10_000.0), busy, &format!("{mode}, 10,000 msgs/s"));
        run(&capture, venue, Pace::Max, busy, &format!("{mode}, full speed"));
    }
}

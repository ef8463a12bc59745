//! A thousand forced reconnects through the live path leave the process's thread and file
//! descriptor counts where they started. Its own test binary: counting `/proc/self` must not
//! see other tests' connections.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ladderfeed::book::{InstrumentRegistry, Venue};
use ladderfeed::capture;
use ladderfeed::engine::Engine;
use ladderfeed::event::Event;
use ladderfeed::net::live::{Feed, Live, Options};
use ladderfeed::net::tls;
use ladderfeed::venue::AnyAdapter;
use ladderfeed_sim::{faults, Config, Sim};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn fixture(rel: &str) -> PathBuf {
    Path::new(ROOT).join("../../fixtures").join(rel)
}

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ladderfeed-reconnect-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// The symbols of a capture, as the adapter learns them.
fn symbols(file: &Path, venue: Venue) -> Vec<String> {
    let adapter = AnyAdapter::new(venue, InstrumentRegistry::with_builtins(), None).unwrap();
    let mut engine = Engine::new(adapter).with_clock(|| 0);
    let mut events: Vec<Event> = Vec::new();
    for r in capture::open(file).unwrap() {
        let r = r.unwrap();
        if r.kind == capture::RecordKind::Recv {
            let _ = engine.handle_frame(&r.payload, 0, &mut events);
        }
    }
    engine.symbols().list().iter().map(|s| s.key.clone()).collect()
}

fn count_dir(path: &str) -> usize {
    std::fs::read_dir(path).map(|d| d.count()).unwrap_or(0)
}

#[test]
fn a_thousand_forced_reconnects_leave_threads_and_files_where_they_were() {
    let file = fixture("kraken/cryptofeed_KRAKEN.ws.48.0");
    let symbols = symbols(&file, Venue::KrakenV1);
    // Settle anything earlier tests in this process left behind.
    std::thread::sleep(Duration::from_millis(200));
    let fds_before = count_dir("/proc/self/fd");
    let threads_before = count_dir("/proc/self/task");
    {
        // Every connection is closed by the simulator at its first data frame.
        let mut c = Config::new(Venue::KrakenV1, vec![file.clone()]);
        c.tls = true;
        c.faults = faults::parse("close~1").unwrap();
        c.max_connections = 2000;
        let sim = Sim::start(c).unwrap();
        let ca = tmp("reconnect-ca.pem");
        std::fs::write(&ca, sim.ca_pem().unwrap()).unwrap();
        let mut opts = Options::new(tls::client_config(Some(&ca)).unwrap());
        opts.policy.backoff_min = Duration::from_micros(100);
        opts.policy.backoff_max = Duration::from_micros(400);
        let feed = Feed {
            venue: Venue::KrakenV1,
            url: Feed::endpoint_url(Venue::KrakenV1, &sim.url(""), &symbols),
            symbols: symbols.clone(),
            rest_base: None,
            backup_urls: Vec::new(),
        };
        let mut live = Live::new(vec![feed], opts).unwrap();
        let mut events: Vec<Event> = Vec::new();
        let start = Instant::now();
        while live.links()[0].stats().disconnects < 1000 {
            live.poll_once(&mut events).unwrap();
            events.clear();
            assert!(start.elapsed() < Duration::from_secs(120), "{:?}", live.links()[0].stats());
        }
        let s = live.links()[0].stats().clone();
        assert!(s.connects >= 1000, "{s:?}");
        assert!(s.closes[0] >= 1000, "clean closes counted: {s:?}");
        live.close_all();
        drop(live);
        let log = sim.stop();
        assert!(log.iter().filter(|e| e["event"] == "fault").count() >= 1000);
    }
    // Sessions end as their sockets close; give the last ones a moment.
    let deadline = Instant::now() + Duration::from_secs(5);
    while (count_dir("/proc/self/fd") > fds_before || count_dir("/proc/self/task") > threads_before)
        && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(count_dir("/proc/self/fd"), fds_before, "file descriptors");
    assert_eq!(count_dir("/proc/self/task"), threads_before, "threads");
}

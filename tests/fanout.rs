//! Fan-out between real processes: `ladderfeed replay|live --publish` in one, `ladderfeed
//! subscribe` (or the Python example) in another, over iceoryx2 shared memory and Zenoh on
//! loopback TCP.

mod cli;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use cli::{fixture, ladderfeed, text};

/// Ten Gemini books, 678 messages over 31 s: 1.5 s at `--speed 20`.
const CAPTURE: &str = "gemini/cryptofeed_GEMINI.ws.1.0";

fn tmp(name: &str) -> PathBuf {
    cli::tmp_in("fanout", name)
}

/// A transport name no other test (or test run) uses.
fn transport(kind: &str, tag: &str, port: u16) -> String {
    match kind {
        "iceoryx2" => format!("iceoryx2:ladderfeed-test/{tag}/{}", std::process::id()),
        _ => format!("zenoh:tcp/127.0.0.1:{port}"),
    }
}

/// A loopback port free now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn subscriber(from: &str, extra: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_ladderfeed"))
        .arg("subscribe")
        .arg(from)
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits for `child` to exit (killing it after `limit`), with its output.
fn finish(mut child: Child, limit: Duration) -> Output {
    let deadline = Instant::now() + limit;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() >= deadline {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path).unwrap().lines().map(str::to_owned).collect()
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// `published    N records` from a publisher's output.
fn published_records(out: &str) -> u64 {
    let line = out.lines().find(|l| l.starts_with("published ")).expect(out);
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// `replay CAPTURE --pace recorded --speed SPEED --publish FROM [--publish-wait 60]`, unpinned.
fn replay_args(from: &str, speed: &str, wait: bool) -> Vec<String> {
    let capture = fixture(CAPTURE).to_string_lossy().into_owned();
    let mut args = vec!["replay", &capture, "--pace", "recorded", "--speed", speed];
    args.extend(["--publish", from, "--no-progress", "--no-pin"]);
    if wait {
        args.extend(["--publish-wait", "60"]);
    }
    args.into_iter().map(str::to_owned).collect()
}

fn sink_args<'a>(bbo: &'a Path, depth: &'a Path, trades: &'a Path) -> Vec<&'a str> {
    vec![
        "--bbo-out",
        bbo.to_str().unwrap(),
        "--depth-out",
        depth.to_str().unwrap(),
        "--depth",
        "5",
        "--trades-out",
        trades.to_str().unwrap(),
    ]
}

/// The subscriber's files equal the publisher's, row for row.
fn replay_reaches_a_subscriber_row_for_row(kind: &str) {
    let from = transport(kind, "rows", free_port());
    let files = |who: &str| {
        ["bbo.csv", "depth.csv", "trades.csv"].map(|f| tmp(&format!("{kind}-{who}-{f}")))
    };
    let (sub_files, pub_files) = (files("sub"), files("pub"));
    let sub_summary = tmp(&format!("{kind}-sub-summary.json"));
    let mut sub_args = sink_args(&sub_files[0], &sub_files[1], &sub_files[2]);
    sub_args.extend(["--duration", "60", "--summary-json", sub_summary.to_str().unwrap()]);
    let sub = subscriber(&from, &sub_args);
    let mut args = replay_args(&from, "20", true);
    args.extend(
        sink_args(&pub_files[0], &pub_files[1], &pub_files[2]).into_iter().map(str::to_owned),
    );
    let publisher = ladderfeed(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let pub_text = text(&publisher);
    assert!(publisher.status.success(), "{pub_text}");
    assert!(pub_text.contains("subscribers  there"), "{pub_text}");
    assert!(pub_text.contains(" 0 failed sends"), "{pub_text}");
    // The subscriber stops by itself at the end of the stream.
    let sub = finish(sub, Duration::from_secs(30));
    let sub_text = text(&sub);
    assert!(sub.status.success(), "{sub_text}");
    assert!(sub_text.contains("the publisher ended its stream"), "{sub_text}");
    for ((s, p), least) in sub_files.iter().zip(&pub_files).zip([100, 100, 10]) {
        let (s, p) = (lines(s), lines(p));
        assert!(p.len() > least, "{} rows in {}: the capture gives more", p.len(), p[0]);
        assert_eq!(s, p, "{kind}: the subscriber's rows differ from the publisher's");
    }
    let summary = json(&sub_summary);
    assert_eq!(summary["lost"], 0);
    assert_eq!(summary["snapshot_records"], 0, "there from the start: no snapshot needed");
    assert_eq!(summary["records"].as_u64().unwrap(), published_records(&pub_text));
    assert_eq!(summary["instruments"].as_array().unwrap().len(), 10);
}

#[test]
fn replay_reaches_an_iceoryx2_subscriber_row_for_row() {
    replay_reaches_a_subscriber_row_for_row("iceoryx2");
}

#[test]
fn replay_reaches_a_zenoh_subscriber_row_for_row() {
    replay_reaches_a_subscriber_row_for_row("zenoh");
}

/// A subscriber started mid-stream gets the instrument table and the last values first, then
/// the live stream without a gap.
fn a_late_subscriber_gets_the_last_values_first(kind: &str) {
    let from = transport(kind, "late", free_port());
    let pub_bbo = tmp(&format!("{kind}-late-pub-bbo.csv"));
    let publisher = Command::new(env!("CARGO_BIN_EXE_ladderfeed"))
        .args(replay_args(&from, "5", false))
        .args(["--bbo-out", pub_bbo.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The capture lasts about 6 s at this speed: join after 2.5.
    std::thread::sleep(Duration::from_millis(2500));
    let sub_bbo = tmp(&format!("{kind}-late-sub-bbo.csv"));
    let sub_summary = tmp(&format!("{kind}-late-sub-summary.json"));
    let sub = subscriber(
        &from,
        &[
            "--bbo-out",
            sub_bbo.to_str().unwrap(),
            "--duration",
            "60",
            "--summary-json",
            sub_summary.to_str().unwrap(),
        ],
    );
    let publisher = finish(publisher, Duration::from_secs(60));
    assert!(publisher.status.success(), "{}", text(&publisher));
    let sub = finish(sub, Duration::from_secs(30));
    let sub_text = text(&sub);
    assert!(sub.status.success(), "{sub_text}");
    let summary = json(&sub_summary);
    assert_eq!(summary["snapshots"], 1, "{summary}");
    assert_eq!(summary["lost"], 0, "{summary}");
    assert_eq!(summary["instruments"].as_array().unwrap().len(), 10, "{summary}");
    let (s, p) = (lines(&sub_bbo), lines(&pub_bbo));
    // The snapshot's rows (at most a BBO and a state per book) come first; every row after
    // them is the publisher's own tail.
    let tail = (1..=s.len().min(21))
        .find(|&k| s.len() - k < p.len() && s[k..] == p[p.len() - (s.len() - k)..])
        .unwrap_or_else(|| panic!("{kind}: no tail of the subscriber's rows is the publisher's"));
    assert!(tail > 1, "{kind}: no snapshot rows before the stream");
    assert!(s.len() - tail > 10, "{kind}: too little of the live stream ({} rows)", s.len() - tail);
    assert!(s.len() - tail < p.len() - 1, "{kind}: joined at the start: not a late join");
    // The snapshot's rows are each book's last values before the join: every one of them is
    // a row the publisher wrote.
    for row in &s[1..tail] {
        assert!(p.contains(row), "{kind}: snapshot row {row:?} is not one of the publisher's");
    }
}

#[test]
fn a_late_iceoryx2_subscriber_gets_the_last_values_first() {
    a_late_subscriber_gets_the_last_values_first("iceoryx2");
}

#[test]
fn a_late_zenoh_subscriber_gets_the_last_values_first() {
    a_late_subscriber_gets_the_last_values_first("zenoh");
}

fn signal(child: &Child, sig: &str) {
    let ok = Command::new("kill").args([sig, &child.id().to_string()]).status().unwrap();
    assert!(ok.success());
}

#[test]
fn a_stopped_subscriber_costs_the_publisher_no_send_and_learns_what_it_missed() {
    let from = transport("iceoryx2", "stopped", 0);
    let summary_path = tmp("stopped-summary.json");
    // A queue of 8 samples: the stream (about 250 samples) overflows it while stopped.
    let sub = subscriber(
        &from,
        &["--queue", "8", "--duration", "60", "--summary-json", summary_path.to_str().unwrap()],
    );
    // About 6 s of stream; the subscriber is stopped from 1 s to 4 s into it (SIGSTOP), and
    // continued while the publisher still runs (iceoryx2 frees a publisher's samples when it
    // exits).
    let publisher = Command::new(env!("CARGO_BIN_EXE_ladderfeed"))
        .args(replay_args(&from, "5", true))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    signal(&sub, "-STOP");
    std::thread::sleep(Duration::from_millis(3000));
    signal(&sub, "-CONT");
    let publisher = finish(publisher, Duration::from_secs(60));
    let pub_text = text(&publisher);
    assert!(publisher.status.success(), "{pub_text}");
    // Overwriting a stopped subscriber's oldest samples is not a failed send.
    assert!(pub_text.contains(" 0 failed sends"), "{pub_text}");
    let sub = finish(sub, Duration::from_secs(30));
    let sub_text = text(&sub);
    assert!(sub_text.contains("the publisher ended its stream"), "{sub_text}");
    let summary = json(&summary_path);
    let (records, lost) = (summary["records"].as_u64().unwrap(), summary["lost"].as_u64().unwrap());
    assert!(lost > 0, "{summary}");
    assert!(records > 0, "{summary}");
    // Told exactly how much it missed: what came plus what was lost is the whole stream.
    assert_eq!(records + lost, published_records(&pub_text), "{summary}");
}

#[test]
fn live_reaches_subscribers_on_both_transports_row_for_row() {
    let capture = "kraken/cryptofeed_KRAKEN.ws.50.0";
    let (sim, ca) = cli::tls_sim("fanout", "kraken-v1", capture, |c| {
        c.pace = ladderfeed_sim::Pace::Rate(3000.0)
    });
    let ipc = transport("iceoryx2", "live", 0);
    let zenoh = transport("zenoh", "live", free_port());
    let (ipc_bbo, zenoh_bbo, live_bbo) =
        (tmp("live-ipc-bbo.csv"), tmp("live-zenoh-bbo.csv"), tmp("live-bbo.csv"));
    let sub_ipc = subscriber(&ipc, &["--bbo-out", ipc_bbo.to_str().unwrap(), "--duration", "60"]);
    let sub_zenoh =
        subscriber(&zenoh, &["--bbo-out", zenoh_bbo.to_str().unwrap(), "--duration", "60"]);
    let out = ladderfeed(&[
        "live",
        "--venue",
        "kraken-v1",
        "--symbols",
        "XBT/CHF,ADA/XBT",
        "--endpoint",
        &sim.url(""),
        "--ca-file",
        ca.to_str().unwrap(),
        "--no-venue-instruments",
        "--duration",
        "4",
        "--no-pin",
        "--bbo-out",
        live_bbo.to_str().unwrap(),
        "--publish",
        &ipc,
        "--publish",
        &zenoh,
        "--publish-wait",
        "30",
    ]);
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    sim.stop();
    let live = lines(&live_bbo);
    assert!(live.len() > 30, "{t}");
    for (sub, file) in [(sub_ipc, &ipc_bbo), (sub_zenoh, &zenoh_bbo)] {
        let out = finish(sub, Duration::from_secs(30));
        let st = text(&out);
        assert!(st.contains("the publisher ended its stream"), "{st}");
        assert_eq!(lines(file), live, "{}", file.display());
    }
}

#[test]
fn the_python_example_prints_the_streams_bbos() {
    let from = transport("zenoh", "python", free_port());
    let endpoint = from.strip_prefix("zenoh:").unwrap().to_string();
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/subscriber.py");
    let python = Command::new("python3")
        .arg(&script)
        .arg(&endpoint)
        .args(["--timeout", "60"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let bbo = tmp("python-pub-bbo.csv");
    let mut args = replay_args(&from, "20", true);
    args.extend(["--bbo-out".to_owned(), bbo.to_string_lossy().into_owned()]);
    let publisher = ladderfeed(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(publisher.status.success(), "{}", text(&publisher));
    let python = finish(python, Duration::from_secs(30));
    let py = text(&python);
    assert!(
        python.status.success(),
        "examples/subscriber.py failed (is eclipse-zenoh installed?): {py}"
    );
    // Every BBO the publisher wrote with a side present, the script printed: same receive
    // time, venue, symbol and exact prices and sizes (empty sides as `-`).
    let num =
        |t: &str| if t == "-" || t.is_empty() { None } else { Some(t.parse::<f64>().unwrap()) };
    let printed: Vec<_> = std::str::from_utf8(&python.stdout)
        .unwrap()
        .lines()
        .filter(|l| l.contains(" bid "))
        .map(|l| {
            // ts venue symbol bid PX x QTY ask PX x QTY state
            let f: Vec<&str> = l.split_whitespace().collect();
            (
                f[0].to_string(),
                f[1].to_string(),
                f[2].to_string(),
                [num(f[4]), num(f[6]), num(f[8]), num(f[10])],
            )
        })
        .filter(|r| r.3.iter().any(Option::is_some))
        .collect();
    // local_ts,exch_ts,venue,symbol,bid_px,bid_qty,ask_px,ask_qty,spread,spread_bps,state
    let written: Vec<_> = lines(&bbo)[1..]
        .iter()
        .map(|l| {
            let c: Vec<&str> = l.split(',').collect();
            (
                c[0].to_string(),
                c[2].to_string(),
                c[3].to_string(),
                [num(c[4]), num(c[5]), num(c[6]), num(c[7])],
            )
        })
        .filter(|r| r.3.iter().any(Option::is_some))
        .collect();
    assert!(written.len() > 30, "{} BBO rows", written.len());
    assert_eq!(printed, written, "{py}");
    assert!(py.contains(" 0 records lost, 10 instruments"), "{py}");
}

/// The C header is the schema: a C program built with it reads a sample written by the Rust
/// side and finds the same fields; its venue list is `Venue::ALL`.
#[test]
fn the_c_header_reads_what_the_rust_side_writes() {
    use ladderfeed::event::{Bbo, BookState, Event, Stamps};
    use ladderfeed::fanout::wire::SampleBuf;
    use ladderfeed::{Instrument, Step, StepSource, Venue};

    let stamps = Stamps { exch_ts: 1_700_000_000_123, local_ts: 1_700_000_000_456, parsed_ts: 0 };
    let inst = Instrument {
        venue: Venue::KrakenFutures,
        symbol: "PF_XBTUSD_WITH_A_SYMBOL_LONGER_THAN_EIGHT_BYTES".into(),
        tick: Step::parse("0.5").unwrap(),
        lot: Step::parse("0.0001").unwrap(),
        source: StepSource::Venue,
        trade_tick: None,
    };
    let (defs, n) = Event::instrument_definition(stamps, 3, &inst);
    assert_eq!(n, 3, "a 47-byte symbol takes a head and two text records");
    let bbo = Bbo { bid_tick: 130_000, bid_lots: 12, ask_tick: 130_001, ask_lots: 3 };
    let mut buf = SampleBuf::with_capacity(8);
    for (i, ev) in defs[..n].iter().enumerate() {
        buf.push(ev, ev.local_ts(), i as u32 + 40);
    }
    buf.push(&Event::bbo(stamps, 3, BookState::Synced, bbo), 999, 40 + n as u32);
    let sample = tmp("c-sample.bin");
    std::fs::write(&sample, buf.finish(0, 0xFEED_F00D, 40)).unwrap();

    let header = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("schema");
    let program = tmp("read.c");
    std::fs::write(
        &program,
        r#"
#include <stdio.h>
#include <string.h>
#include "ladderfeed_wire_v1.h"
static const char *venues[] = LFW_VENUES;
int main(int argc, char **argv) {
    static unsigned char buf[1 << 16];
    FILE *f = fopen(argv[1], "rb");
    size_t len = fread(buf, 1, sizeof buf, f);
    lfw_header h; memcpy(&h, buf, sizeof h);
    if (memcmp(h.magic, LFW_MAGIC, 4) != 0 || len != LFW_HEADER_BYTES + h.count * LFW_RECORD_BYTES) return 2;
    printf("header %u %u %u %llx %llu\n", h.version, h.flags, h.count, (unsigned long long)h.stream_id, (unsigned long long)h.first_seq);
    char symbol[128] = {0};
    for (unsigned i = 0; i < h.count; i++) {
        lfw_record r; memcpy(&r, buf + LFW_HEADER_BYTES + i * LFW_RECORD_BYTES, sizeof r);
        if (r.kind == LFW_INSTRUMENT_HEAD) {
            lfw_instrument_head d; memcpy(&d, r.payload, sizeof d);
            memcpy(symbol, d.symbol, 8);
            printf("head %u %s %llue-%u %llue-%u source %u len %u\n", r.instrument, venues[d.venue - 1],
                (unsigned long long)d.tick_mantissa, d.tick_scale, (unsigned long long)d.lot_mantissa, d.lot_scale, d.source, d.symbol_len);
        } else if (r.kind == LFW_INSTRUMENT_TEXT) {
            const unsigned char *p = (const unsigned char *)r.payload;
            memcpy(symbol + 8 + (p[0] - 1) * 31, p + 1, 31);
        } else if (r.kind == LFW_BBO) {
            long long *p = (long long *)r.payload;
            printf("symbol %s\n", symbol);
            printf("bbo %u seq %u state %u exch %llu local %llu %lld x %lld / %lld x %lld\n", r.instrument, r.seq, r.state,
                (unsigned long long)r.exch_ts, (unsigned long long)r.local_ts, p[0], p[1], p[2], p[3]);
        }
    }
    printf("venues %zu\n", sizeof venues / sizeof venues[0]);
    for (size_t i = 0; i < sizeof venues / sizeof venues[0]; i++) printf("%s\n", venues[i]);
    return 0;
}
"#,
    )
    .unwrap();
    let exe = tmp("read");
    let cc = Command::new("cc")
        .args(["-std=c11", "-Wall", "-Werror", "-I"])
        .arg(&header)
        .arg(&program)
        .arg("-o")
        .arg(&exe)
        .output()
        .unwrap();
    assert!(cc.status.success(), "{}", text(&cc));
    let run = Command::new(&exe).arg(&sample).output().unwrap();
    assert!(run.status.success(), "{}", text(&run));
    let out = String::from_utf8(run.stdout).unwrap();
    let mut expected = vec![
        format!("header 1 0 {} feedf00d 40", n + 1),
        "head 3 kraken-futures 5e-1 1e-4 source 4 len 47".to_string(),
        "symbol PF_XBTUSD_WITH_A_SYMBOL_LONGER_THAN_EIGHT_BYTES".to_string(),
        format!(
            "bbo 3 seq {} state 1 exch 1700000000123 local 999 130000 x 12 / 130001 x 3",
            40 + n
        ),
        format!("venues {}", Venue::ALL.len()),
    ];
    expected.extend(Venue::ALL.iter().map(|v| v.name().to_string()));
    assert_eq!(out.lines().collect::<Vec<_>>(), expected);
}

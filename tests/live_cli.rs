//! `ladderfeed live` and `ladderfeed record` against the simulator over wss:// with its CA:
//! the live BBO file equals the replay's (receive times aside), `record` then `replay`
//! reproduces the live BBO file byte for byte, `--http` serves the book, the metrics (read back
//! by Python's `prometheus_client` parser) and the health while silent clients hang on,
//! `--config` runs several venues, a bad certificate fails the run with its cause, and a forged
//! TLS record is counted in `/metrics` and the summary.
#![cfg(feature = "cli")]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ladderfeed_sim::{Config, Sim};

mod cli;
use cli::{fixture, ladderfeed, text};

fn tmp(name: &str) -> PathBuf {
    cli::tmp_in("live-cli", name)
}

fn sim(venue: &str, capture: &str) -> (Sim, PathBuf) {
    // A steady rate the consumer's file writing keeps up with: at full speed the depth sink
    // may drop rows (counted) rather than slow the network thread.
    cli::tls_sim("live-cli", venue, capture, |c| c.pace = ladderfeed_sim::Pace::Rate(3000.0))
}

/// The BBO CSV without its first column (the receive time, which differs between a live run
/// and a replay of the capture).
fn without_receive_time(path: &PathBuf) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| l.split_once(',').map_or(l, |(_, rest)| rest).to_owned())
        .collect()
}

#[test]
fn live_equals_replay_and_record_reproduces_live() {
    let capture = "kraken/cryptofeed_KRAKEN.ws.50.0";
    let (sim, ca) = sim("kraken-v1", capture);
    let live_bbo = tmp("live_bbo.csv");
    let live_depth = tmp("live_depth.csv");
    let recording = tmp("kraken.lfc");
    let out = ladderfeed(&[
        "record",
        "--venue",
        "kraken-v1",
        "--symbols",
        "XBT/CHF,ADA/XBT",
        "--endpoint",
        &sim.url(""),
        "--ca-file",
        ca.to_str().unwrap(),
        "--duration",
        "4",
        "--no-pin",
        "--bbo-out",
        live_bbo.to_str().unwrap(),
        "--depth-out",
        live_depth.to_str().unwrap(),
        "--depth",
        "5",
        "-o",
        recording.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let t = text(&out);
    assert!(t.contains("1 connects"), "{t}");
    assert!(t.contains("recorded"), "{t}");
    // Depth rows ride the ring: nothing of it was dropped.
    assert!(t.contains(" 0 dropped (full)"), "{t}");
    sim.stop();
    // The live stream is the capture's stream.
    let replay_bbo = tmp("replay_bbo.csv");
    let replay_depth = tmp("replay_depth.csv");
    let out = ladderfeed(&[
        "replay",
        &fixture(capture).to_string_lossy(),
        "--no-progress",
        "--bbo-out",
        replay_bbo.to_str().unwrap(),
        "--depth-out",
        replay_depth.to_str().unwrap(),
        "--depth",
        "5",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let live_rows = without_receive_time(&live_bbo);
    assert!(live_rows.len() > 500, "{}", live_rows.len());
    assert_eq!(live_rows, without_receive_time(&replay_bbo));
    // The same top-5 changes, level by level (the row time is when the live loop took it).
    let depth_rows = without_receive_time(&live_depth);
    assert!(depth_rows.len() > 1000, "{}", depth_rows.len());
    assert!(depth_rows == without_receive_time(&replay_depth), "depth files differ");
    // The recording replays to the live file byte for byte (receive times included).
    let again = tmp("again_bbo.csv");
    let again_depth = tmp("again_depth.csv");
    let out = ladderfeed(&[
        "replay",
        recording.to_str().unwrap(),
        "--no-progress",
        "--bbo-out",
        again.to_str().unwrap(),
        "--depth-out",
        again_depth.to_str().unwrap(),
        "--depth",
        "5",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(std::fs::read(&again).unwrap() == std::fs::read(&live_bbo).unwrap());
    assert!(std::fs::read(&again_depth).unwrap() == std::fs::read(&live_depth).unwrap());
}

fn http_get(port: u16, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    // The service keeps HTTP/1.1 connections alive unless asked not to.
    write!(s, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").unwrap();
    let mut body = String::new();
    s.read_to_string(&mut body).unwrap();
    let status = body.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let payload = body.split_once("\r\n\r\n").map_or(String::new(), |(_, b)| b.to_owned());
    (status, payload)
}

/// The families of a Prometheus text exposition as Python's `prometheus_client` parser reads
/// them: (name, type, samples), a counter named without its `_total`.
fn python_families(exposition: &str) -> Vec<(String, String, usize)> {
    const SCRIPT: &str = "
import sys
try:
    from prometheus_client.parser import text_string_to_metric_families
except ImportError as e:
    sys.exit(f'python3 cannot import prometheus_client ({e}): pip install prometheus_client')
for m in text_string_to_metric_families(sys.stdin.read()):
    print(m.name, m.type, len(m.samples))
";
    let mut child = Command::new("python3")
        .args(["-c", SCRIPT])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("running python3 (the /metrics test parses with prometheus_client)");
    child.stdin.take().unwrap().write_all(exposition.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "the Python parser failed: {}", text(&out));
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            (f[0].to_owned(), f[1].to_owned(), f[2].parse().unwrap())
        })
        .collect()
}

#[test]
fn the_service_serves_book_metrics_and_health() {
    let (sim, ca) = sim("okx", "okx/cryptofeed_OKX.ws.1.0");
    // A free port for the service.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_ladderfeed"))
        .args(["live", "--venue", "okx", "--symbols", "BTC-USDT", "--endpoint", &sim.url("")])
        .args(["--ca-file", ca.to_str().unwrap(), "--duration", "4", "--no-pin", "--no-busy-poll"])
        .args(["--http", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait for the book.
    let start = Instant::now();
    let book = loop {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            let (status, body) = http_get(port, "/book?venue=okx&symbol=BTC-USDT&depth=3");
            if status == 200 && body.contains("\"synced\"") {
                break body;
            }
        }
        assert!(start.elapsed() < Duration::from_secs(10), "no synced book served");
        std::thread::sleep(Duration::from_millis(50));
    };
    let v: serde_json::Value = serde_json::from_str(book.trim()).unwrap();
    assert_eq!(v["venue"], "okx");
    assert_eq!(v["symbol"], "BTC-USDT");
    assert_eq!(v["bids"].as_array().unwrap().len(), 3);
    assert_eq!(v["asks"].as_array().unwrap().len(), 3);
    let bid = v["bids"][0][0].as_f64().unwrap();
    let ask = v["asks"][0][0].as_f64().unwrap();
    assert!(bid < ask, "{book}");
    let (status, metrics) = http_get(port, "/metrics");
    assert_eq!(status, 200);
    for m in [
        "ladderfeed_messages_total{venue=\"okx\"}",
        "ladderfeed_checksum_failures_total{venue=\"okx\",symbol=\"BTC-USDT\"} 0",
        "ladderfeed_checks_waited_total{venue=\"okx\",symbol=\"BTC-USDT\"} 0",
        "ladderfeed_book_synced{venue=\"okx\",symbol=\"BTC-USDT\"} 1",
        "ladderfeed_ring_events_total{result=\"dropped\"} 0",
        "ladderfeed_reconnects_total{venue=\"okx\"} 0",
        "ladderfeed_resync_actions_total{venue=\"okx\",action=\"resubscribe\"} 0",
    ] {
        assert!(metrics.contains(m), "{m} missing:\n{metrics}");
    }
    // A real parser reads exactly the declared families, with their types, each with samples.
    let families = python_families(&metrics);
    let names: Vec<(&str, &str)> =
        families.iter().map(|(n, t, _)| (n.as_str(), t.as_str())).collect();
    let counter = "counter";
    let gauge = "gauge";
    assert_eq!(
        names,
        [
            ("ladderfeed_messages", counter),
            ("ladderfeed_bytes", counter),
            ("ladderfeed_errors", counter),
            ("ladderfeed_reconnects", counter),
            ("ladderfeed_closes", counter),
            ("ladderfeed_rest", counter),
            ("ladderfeed_records_dropped", counter),
            ("ladderfeed_gaps", counter),
            ("ladderfeed_resyncs", counter),
            ("ladderfeed_resync_actions", counter),
            ("ladderfeed_checksum_failures", counter),
            ("ladderfeed_checks_waited", counter),
            ("ladderfeed_book_synced", gauge),
            ("ladderfeed_ring_events", counter),
            ("ladderfeed_tls_record_errors", counter),
            ("ladderfeed_latency_ns", gauge),
            ("ladderfeed_latency_samples", counter),
        ],
        "{metrics}"
    );
    assert!(families.iter().all(|(_, _, n)| *n > 0), "{families:?}");
    // Clients that connect and send nothing (or half a request) hold nobody up.
    let silent: Vec<TcpStream> =
        (0..3).map(|_| TcpStream::connect(("127.0.0.1", port)).unwrap()).collect();
    write!(&silent[2], "GET /health HTTP/1.1\r\n").unwrap();
    let asked = Instant::now();
    assert_eq!(http_get(port, "/health"), (200, "ok\n".to_owned()));
    assert!(asked.elapsed() < Duration::from_secs(5), "{:?}", asked.elapsed());
    drop(silent);
    assert_eq!(http_get(port, "/health"), (200, "ok\n".to_owned()));
    assert_eq!(http_get(port, "/book?venue=okx&symbol=NOPE").0, 404);
    assert_eq!(http_get(port, "/nothing").0, 404);
    let status = child.wait().unwrap();
    assert!(status.success());
    sim.stop();
}

#[test]
fn a_config_runs_several_venues_and_refuses_unknown_keys() {
    let (okx, ca) = sim("okx", "okx/cryptofeed_OKX.ws.1.0");
    let mut c =
        Config::for_venue("gemini", vec![fixture("gemini/cryptofeed_GEMINI.ws.1.0")]).unwrap();
    c.tls = false;
    let gemini = Sim::start(c).unwrap();
    let config = tmp("feeds.toml");
    let body = format!(
        "ca_file = {:?}\nstale_after = 10\n\n[[feed]]\nvenue = \"okx\"\nsymbols = [\"BTC-USDT\"]\nendpoint = \"{}\"\n\n[[feed]]\nvenue = \"gemini\"\nsymbols = [\"BTCGBP\"]\nendpoint = \"{}\"\n",
        ca.to_str().unwrap(),
        okx.url(""),
        gemini.url("")
    );
    std::fs::write(&config, &body).unwrap();
    let json = tmp("multi.json");
    let out = ladderfeed(&[
        "live",
        "--config",
        config.to_str().unwrap(),
        "--duration",
        "2",
        "--no-pin",
        "--summary-json",
        json.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let s: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    for key in ["okx:BTC-USDT", "gemini:BTCGBP"] {
        assert_eq!(s["symbols"][key]["state"], "synced", "{key}: {s}");
    }
    std::fs::write(&config, body + "\n[[feed]]\nvenue = \"okx\"\nsymbols = []\nspeed = 3\n")
        .unwrap();
    let out = ladderfeed(&["live", "--config", config.to_str().unwrap(), "--duration", "1"]);
    assert!(!out.status.success());
    assert!(text(&out).contains("unknown field `speed`"), "{}", text(&out));
    okx.stop();
    gemini.stop();
}

#[test]
fn an_untrusted_certificate_fails_the_run_with_its_cause() {
    let mut c = Config::for_venue("okx", vec![fixture("okx/cryptofeed_OKX.ws.1.0")]).unwrap();
    c.tls = true;
    c.cert_fault = Some(ladderfeed_sim::tls::CertFault::Untrusted);
    let sim = Sim::start(c).unwrap();
    let ca = tmp("untrusted.pem");
    std::fs::write(&ca, sim.ca_pem().unwrap()).unwrap();
    let out = ladderfeed(&[
        "live",
        "--venue",
        "okx",
        "--symbols",
        "BTC-USDT",
        "--endpoint",
        &sim.url(""),
        "--ca-file",
        ca.to_str().unwrap(),
        "--duration",
        "1",
        "--no-pin",
    ]);
    assert!(!out.status.success());
    let t = text(&out);
    assert!(t.contains("UnknownIssuer") && t.contains("no connection was established"), "{t}");
    sim.stop();
}

#[test]
fn logs_are_json_lines_filtered_by_rust_log_and_carry_rustls_records() {
    let (sim, ca) = sim("okx", "okx/cryptofeed_OKX.ws.1.0");
    let out = Command::new(env!("CARGO_BIN_EXE_ladderfeed"))
        .args([
            "live",
            "--venue",
            "okx",
            "--symbols",
            "BTC-USDT",
            "--endpoint",
            &sim.url(""),
            "--ca-file",
            ca.to_str().unwrap(),
            "--duration",
            "1",
            "--no-pin",
            "--log-format",
            "json",
        ])
        .env("RUST_LOG", "info,rustls=debug")
        .output()
        .unwrap();
    sim.stop();
    assert!(out.status.success(), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let logs: Vec<serde_json::Value> = stderr
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let connected = logs.iter().find(|l| l["fields"]["message"] == "connected");
    let connected = connected.unwrap_or_else(|| panic!("no `connected` record: {stderr}"));
    assert_eq!(connected["level"], "INFO");
    assert!(connected["fields"]["url"].as_str().unwrap().starts_with("wss://"));
    // rustls' own `log` records reach the same output.
    assert!(
        logs.iter().any(|l| l["target"].as_str().is_some_and(|t| t.starts_with("rustls"))),
        "no rustls record: {stderr}"
    );
    // The default filter keeps debug records out.
    let out = ladderfeed(&["replay", "--log-format", "json"]);
    assert!(out.status.success());
    assert!(!String::from_utf8_lossy(&out.stderr).contains("\"DEBUG\""));
}

/// The rows of a CSV sink from its third column on (no receive time, no venue time: a live
/// row is stamped when the live loop took the message).
fn from_third_column(path: &PathBuf) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.splitn(3, ',').nth(2).unwrap_or("").to_owned())
        .collect()
}

/// The instruments of a Deribit capture (its `book.*` channels).
fn deribit_symbols(capture: &str) -> Vec<String> {
    let text_of = std::fs::read_to_string(fixture(capture)).unwrap();
    let mut symbols: Vec<String> = text_of
        .match_indices("\"channel\":\"book.")
        .filter_map(|(at, m)| text_of[at + m.len()..].split('.').next())
        .map(str::to_owned)
        .collect();
    symbols.sort_unstable();
    symbols.dedup();
    symbols
}

#[test]
fn redundant_endpoints_record_two_lines_and_the_recording_replays_the_live_stream() {
    // Two simulators serving the same capture; the first closes its connection at the 40th
    // frame. The books stay synced on the second; the summary reports each line; the
    // recording replays to the live BBO file byte for byte.
    let capture = "deribit/cryptofeed_DERIBIT.ws.1.0";
    let paced = |c: &mut Config| c.pace = ladderfeed_sim::Pace::Rate(300.0);
    let (a, ca_a) = cli::tls_sim("live-cli", "deribit", capture, |c| {
        paced(c);
        c.faults = ladderfeed_sim::faults::parse("close@40").unwrap();
    });
    let (b, ca_b) = cli::tls_sim("live-cli", "deribit", capture, paced);
    let ca = tmp("redundant-ca.pem");
    let pems = [std::fs::read(&ca_a).unwrap(), std::fs::read(&ca_b).unwrap()].concat();
    std::fs::write(&ca, pems).unwrap();
    let symbols = deribit_symbols(capture);
    let (live_bbo, recording, again) =
        (tmp("redundant_bbo.csv"), tmp("redundant.lfc"), tmp("redundant_again.csv"));
    let out = ladderfeed(&[
        "record",
        "--venue",
        "deribit",
        "--symbols",
        &symbols.join(","),
        "--endpoint",
        &a.url(""),
        "--endpoint",
        &b.url(""),
        "--ca-file",
        ca.to_str().unwrap(),
        "--duration",
        "4",
        "--no-pin",
        "--no-busy-poll",
        "--bbo-out",
        live_bbo.to_str().unwrap(),
        "-o",
        recording.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let t = text(&out);
    assert!(t.contains("redundant    deribit: 2 lines, 0 gaps no line filled"), "{t}");
    assert!(t.contains("  line 0") && t.contains("  line 1"), "{t}");
    a.stop();
    b.stop();
    let out = ladderfeed(&[
        "replay",
        recording.to_str().unwrap(),
        "--no-progress",
        "--bbo-out",
        again.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let live_rows = std::fs::read(&live_bbo).unwrap();
    assert!(live_rows.len() > 1000, "{}", live_rows.len());
    assert!(std::fs::read(&again).unwrap() == live_rows, "the recording's replay differs");

    // More lines than a session takes are refused at start, saying why (every venue takes
    // two).
    let mut args = vec!["live", "--venue", "bitfinex", "--symbols", "tBTCUSD"];
    for _ in 0..5 {
        args.extend(["--endpoint", "wss://127.0.0.1:1"]);
    }
    args.push("--no-venue-instruments");
    let out = ladderfeed(&args);
    assert!(!out.status.success());
    assert!(text(&out).contains("5 redundant connections: at most 4"), "{}", text(&out));
}

#[test]
fn live_deribit_tickers_fill_the_funding_file_as_replay_does() {
    // The simulator serves the Deribit capture's `ticker` notifications (mark, index, open
    // interest) on the channels the client subscribes: the live funding file has the replay's
    // rows, receive and venue times aside.
    let capture = "deribit/cryptofeed_DERIBIT.ws.1.0";
    let (sim, ca) = sim("deribit", capture);
    let symbols = deribit_symbols(capture);
    let (live, live_liq, replayed) =
        (tmp("live_funding.csv"), tmp("live_liq.csv"), tmp("replay_funding.csv"));
    let out = ladderfeed(&[
        "live",
        "--venue",
        "deribit",
        "--symbols",
        &symbols.join(","),
        "--endpoint",
        &sim.url(""),
        "--ca-file",
        ca.to_str().unwrap(),
        "--duration",
        "4",
        "--no-pin",
        "--no-busy-poll",
        "--funding-out",
        live.to_str().unwrap(),
        "--liquidations-out",
        live_liq.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    sim.stop();
    let out = ladderfeed(&[
        "replay",
        &fixture(capture).to_string_lossy(),
        "--no-progress",
        "--funding-out",
        replayed.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let rows = from_third_column(&live);
    assert!(rows.len() > 50, "{}", rows.len());
    assert_eq!(rows, from_third_column(&replayed));
    assert!(from_third_column(&live_liq).is_empty());
}

/// `live` on `venue` for `symbols` against the simulator serving `frames` (a hand-written
/// capture in hftbacktest's line format, one frame a millisecond) with both derivatives
/// files: the funding and liquidation rows from their second column on (the venue time
/// first), and the texts the client sent.
fn live_derivatives(
    venue: &str,
    symbols: &str,
    frames: &[&str],
) -> (Vec<String>, Vec<String>, Vec<String>) {
    let capture = tmp(&format!("{venue}-derivs.hftbacktest"));
    let body: String = frames
        .iter()
        .enumerate()
        .map(|(i, f)| format!("{} {f}\n", 1_673_272_861_600_000_000u64 + i as u64 * 1_000_000))
        .collect();
    std::fs::write(&capture, body).unwrap();
    let mut c = ladderfeed_sim::Config::for_venue(venue, vec![capture]).unwrap();
    c.tls = true;
    c.pace = ladderfeed_sim::Pace::Rate(100.0);
    let sim = Sim::start(c).unwrap();
    let ca = tmp(&format!("ca-{}.pem", sim.addr().port()));
    std::fs::write(&ca, sim.ca_pem().unwrap()).unwrap();
    let (funding, liq) = (tmp(&format!("{venue}_funding.csv")), tmp(&format!("{venue}_liq.csv")));
    // Binance's books start from a REST snapshot: asked of the simulator too (with its
    // instrument list).
    let rest = format!("https://{}", sim.addr());
    let rest_args: &[&str] =
        if venue.starts_with("binance") { &["--rest-endpoint", &rest] } else { &[] };
    let out = ladderfeed(
        &[
            "live",
            "--venue",
            venue,
            "--symbols",
            symbols,
            "--endpoint",
            &sim.url(""),
            "--ca-file",
            ca.to_str().unwrap(),
            "--duration",
            "3",
            "--no-pin",
            "--no-busy-poll",
            "--funding-out",
            funding.to_str().unwrap(),
            "--liquidations-out",
            liq.to_str().unwrap(),
        ]
        .into_iter()
        .chain(rest_args.iter().copied())
        .collect::<Vec<_>>(),
    );
    assert!(out.status.success(), "{}", text(&out));
    let asked = sim
        .stop()
        .iter()
        .filter(|e| e["event"] == "recv")
        .filter_map(|e| e["text"].as_str().map(str::to_owned))
        .collect();
    let rows = |p: &PathBuf| -> Vec<String> {
        std::fs::read_to_string(p)
            .unwrap()
            .lines()
            .skip(1)
            .map(|l| l.split_once(',').unwrap().1.to_owned())
            .collect()
    };
    (rows(&funding), rows(&liq), asked)
}

#[test]
fn live_okx_subscribes_the_swap_channels_for_the_derivatives_files() {
    // No bundled capture has OKX's derivatives channels: hand-written frames after OKX's
    // documented pushes of `funding-rate`, `mark-price`, `open-interest` and
    // `liquidation-orders` (numbers of the documented examples, moved to one swap), behind a
    // `books` snapshot (checksum 0: not sent).
    let frames = [
        r#"{"arg":{"channel":"books","instId":"BTC-USD-SWAP"},"action":"snapshot","data":[{"asks":[["30238.8","2","0","1"]],"bids":[["30233.6","3","0","1"]],"ts":"1700724675000","checksum":0}]}"#,
        r#"{"arg":{"channel":"funding-rate","instId":"BTC-USD-SWAP"},"data":[{"formulaType":"noRate","fundingRate":"0.0001875391284828","fundingTime":"1700726400000","impactValue":"","instId":"BTC-USD-SWAP","instType":"SWAP","interestRate":"","maxFundingRate":"0.00375","method":"current_period","minFundingRate":"-0.00375","nextFundingRate":"","nextFundingTime":"1700755200000","premium":"0.0001233824646391","settFundingRate":"0.0001699799259033","settState":"settled","ts":"1700724675402"}]}"#,
        r#"{"arg":{"channel":"mark-price","instId":"BTC-USD-SWAP"},"data":[{"instType":"SWAP","instId":"BTC-USD-SWAP","markPx":"30236.15","ts":"1700724675500"}]}"#,
        r#"{"arg":{"channel":"open-interest","instId":"BTC-USD-SWAP"},"data":[{"instType":"SWAP","instId":"BTC-USD-SWAP","oi":"5000","oiCcy":"555.55","oiUsd":"50000","ts":"1700724675600"}]}"#,
        r#"{"arg":{"channel":"liquidation-orders","instType":"SWAP"},"data":[{"details":[{"bkLoss":"0","bkPx":"0.007831","ccy":"","posSide":"short","side":"buy","sz":"13","ts":"1692266434010"}],"instFamily":"IOST-USDT","instId":"IOST-USDT-SWAP","instType":"SWAP","uly":"IOST-USDT"},{"details":[{"bkLoss":"0","bkPx":"30301.4","ccy":"","posSide":"long","side":"sell","sz":"13","ts":"1700724675700"}],"instFamily":"BTC-USD","instId":"BTC-USD-SWAP","instType":"SWAP","uly":"BTC-USD"}]}"#,
    ];
    let (funding, liq, asked) = live_derivatives("okx", "BTC-USD-SWAP", &frames);
    for ch in [
        r#"{"channel":"funding-rate","instId":"BTC-USD-SWAP"}"#,
        r#"{"channel":"mark-price","instId":"BTC-USD-SWAP"}"#,
        r#"{"channel":"open-interest","instId":"BTC-USD-SWAP"}"#,
        r#"{"channel":"liquidation-orders","instType":"SWAP"}"#,
    ] {
        assert!(asked.iter().any(|t| t.contains(ch)), "{ch} not in {asked:?}");
    }
    let tail = "okx,BTC-USD-SWAP";
    assert_eq!(
        funding,
        [
            format!("1700724675402000000,{tail},,,0.0001875391284828,1700726400000,,synced"),
            format!(
                "1700724675500000000,{tail},30236.15,,0.0001875391284828,1700726400000,,synced"
            ),
            format!(
                "1700724675600000000,{tail},30236.15,,0.0001875391284828,1700726400000,5000,synced"
            ),
        ]
    );
    // The other instrument's entry is not this connection's.
    assert_eq!(liq, [format!("1700724675700000000,{tail},sell,30301.4,13,synced")]);
}

#[test]
fn live_bybit_subscribes_tickers_and_liquidations_for_the_derivatives_files() {
    // No bundled capture has Bybit's `tickers` or `allLiquidation` topics: the simulator serves
    // this hand-written capture (hftbacktest's line format) whose frames follow Bybit's v5
    // documentation: the documented linear `tickers` snapshot of BTCUSDT, a delta carrying
    // only the changed mark price, and an `allLiquidation` push shaped as documented, around
    // an `orderbook.50` snapshot and delta. `--funding-out` makes `live` subscribe them.
    let frames = [
        r#"{"topic":"orderbook.50.BTCUSDT","type":"snapshot","ts":1673272861600,"data":{"s":"BTCUSDT","b":[["17215.50","84.489"]],"a":[["17216.00","83.020"]],"u":1,"seq":1},"cts":1673272861590}"#,
        r#"{"topic":"tickers.BTCUSDT","type":"snapshot","data":{"symbol":"BTCUSDT","tickDirection":"PlusTick","price24hPcnt":"0.017103","lastPrice":"17216.00","prevPrice24h":"16926.50","highPrice24h":"17281.50","lowPrice24h":"16915.00","prevPrice1h":"17238.00","markPrice":"17217.33","indexPrice":"17227.36","openInterest":"68744.761","openInterestValue":"1183601235.91","turnover24h":"1570383121.943499","volume24h":"91705.276","nextFundingTime":"1673280000000","fundingRate":"-0.000212","bid1Price":"17215.50","bid1Size":"84.489","ask1Price":"17216.00","ask1Size":"83.020"},"cs":24987956059,"ts":1673272861686}"#,
        r#"{"topic":"tickers.BTCUSDT","type":"delta","data":{"symbol":"BTCUSDT","markPrice":"17218.01"},"cs":24987956060,"ts":1673272862686}"#,
        r#"{"topic":"allLiquidation.BTCUSDT","type":"snapshot","ts":1673272862700,"data":[{"T":1673272862690,"s":"BTCUSDT","S":"Buy","v":"0.125","p":"17100.5"}]}"#,
        r#"{"topic":"orderbook.50.BTCUSDT","type":"delta","ts":1673272862800,"data":{"s":"BTCUSDT","b":[["17215.50","80"]],"a":[],"u":2,"seq":2},"cts":1673272862790}"#,
    ];
    let (full, liq, asked) = live_derivatives("bybit-linear", "BTCUSDT", &frames);
    assert!(
        asked
            .iter()
            .any(|t| t.contains("\"tickers.BTCUSDT\"") && t.contains("\"allLiquidation.BTCUSDT\"")),
        "{asked:?}"
    );
    // Venue time on: symbol, mark, index, funding rate, next funding (ms), open interest, state.
    let after = |mark: &str, oi: &str| {
        format!("bybit-linear,BTCUSDT,{mark},17227.36,-0.000212,1673280000000,{oi},synced")
    };
    let want = [
        format!("1673272861686000000,{}", after("17217.33", "")),
        format!("1673272861686000000,{}", after("17217.33", "68744.761")),
        format!("1673272862686000000,{}", after("17218.01", "68744.761")),
    ];
    assert_eq!(full.len(), 4, "{full:?}");
    // The first row has the mark and index only; the funding comes with the second.
    assert_eq!(
        full[0],
        "1673272861686000000,bybit-linear,BTCUSDT,17217.33,17227.36,,,,synced".to_owned()
    );
    assert_eq!(full[1..], want);
    // A long (`Buy`) position closed: a sell liquidation order.
    assert_eq!(liq, ["1673272862690000000,bybit-linear,BTCUSDT,sell,17100.5,0.125,synced"]);
}

#[test]
fn live_kraken_futures_subscribes_the_ticker_for_the_funding_file() {
    // No bundled capture has Kraken Futures' `ticker` feed (cryptofeed's has `ticker_lite`):
    // the documented `ticker` example of PI_XBTUSD, hand-written behind a `book_snapshot`.
    let frames = [
        r#"{"feed":"book_snapshot","product_id":"PI_XBTUSD","timestamp":1612270825000,"seq":1,"bids":[{"price":34832.5,"qty":42864.0}],"asks":[{"price":34847.5,"qty":2300.0}]}"#,
        r#"{"time":1612270825253,"feed":"ticker","product_id":"PI_XBTUSD","bid":34832.5,"ask":34847.5,"bid_size":42864,"ask_size":2300,"volume":262306237,"dtm":0,"leverage":"50x","index":34803.45,"premium":0.1,"last":34852,"change":2.995484449728469,"funding_rate":3.80517503805E-9,"funding_rate_prediction":4.2330058838E-9,"suspended":false,"tag":"perpetual","pair":"XBT:USD","openInterest":28276000,"markPrice":34844.25,"maturityTime":0,"relative_funding_rate":0.000132541666666,"relative_funding_rate_prediction":0.000147729166667,"next_funding_rate_time":1612281600000}"#,
    ];
    let (funding, liq, asked) = live_derivatives("kraken-futures", "PI_XBTUSD", &frames);
    assert!(
        asked.iter().any(|t| t.contains(r#""feed":"ticker","product_ids":["PI_XBTUSD"]"#)),
        "{asked:?}"
    );
    let head = "1612270825253000000,kraken-futures,PI_XBTUSD,34844.25,34803.45";
    assert_eq!(
        funding,
        [
            format!("{head},,,,synced"),
            format!("{head},,,28276000,synced"),
            format!("{head},0.000132541666666,1612281600000,28276000,synced"),
        ]
    );
    assert!(liq.is_empty());
}

#[test]
fn live_bitmex_subscribes_instrument_and_liquidation_for_the_derivatives_files() {
    // No bundled capture has BitMEX's `instrument` or `liquidation` tables: hand-written frames
    // in their documented shapes. The instrument partial carries XBTUSD's own values from the
    // answer recorded beside the 2021 capture; an update carries only the changed mark; a
    // liquidation insert has the documented fields (orderID, symbol, side, price, leavesQty);
    // its update and delete follow the same order and write nothing.
    let frames = [
        r#"{"table":"orderBookL2","action":"partial","keys":["symbol","id","side"],"types":{},"filter":{"symbol":"XBTUSD"},"data":[{"symbol":"XBTUSD","id":8796321100,"side":"Sell","size":1200,"price":32180.5},{"symbol":"XBTUSD","id":8796321150,"side":"Buy","size":5300,"price":32180}]}"#,
        r#"{"table":"instrument","action":"partial","keys":["symbol"],"types":{},"filter":{"symbol":"XBTUSD"},"data":[{"symbol":"XBTUSD","state":"Open","typ":"FFWCSX","fundingTimestamp":"2021-07-23T04:00:00.000Z","fundingRate":0.0001,"indicativeFundingRate":0.0001,"openInterest":574264600,"fairPrice":32184.89,"markMethod":"FairPrice","markPrice":32184.89,"indicativeSettlePrice":32182.72,"timestamp":"2021-07-22T22:36:05.000Z"}]}"#,
        r#"{"table":"instrument","action":"update","data":[{"symbol":"XBTUSD","fairPrice":32190.12,"markPrice":32190.12,"timestamp":"2021-07-22T22:36:10.000Z"}]}"#,
        r#"{"table":"liquidation","action":"insert","data":[{"orderID":"8b4a95db-815a-f93a-c9a2-ffbbabeddbac","symbol":"XBTUSD","side":"Sell","price":32100.5,"leavesQty":2000}]}"#,
        r#"{"table":"liquidation","action":"update","data":[{"orderID":"8b4a95db-815a-f93a-c9a2-ffbbabeddbac","symbol":"XBTUSD","leavesQty":1000}]}"#,
        r#"{"table":"liquidation","action":"delete","data":[{"orderID":"8b4a95db-815a-f93a-c9a2-ffbbabeddbac","symbol":"XBTUSD"}]}"#,
        r#"{"table":"orderBookL2","action":"update","data":[{"symbol":"XBTUSD","id":8796321150,"side":"Buy","size":5400,"price":32180,"timestamp":"2021-07-22T22:36:11.000Z"}]}"#,
    ];
    let (funding, liq, asked) = live_derivatives("bitmex", "XBTUSD", &frames);
    assert!(
        asked.iter().any(|t| t.contains(r#""instrument:XBTUSD","liquidation:XBTUSD""#)),
        "{asked:?}"
    );
    let head = "bitmex,XBTUSD";
    let partial = "1626993365000000000";
    assert_eq!(
        funding,
        [
            format!("{partial},{head},32184.89,32182.72,,,,synced"),
            format!("{partial},{head},32184.89,32182.72,0.0001,1627012800000,,synced"),
            format!("{partial},{head},32184.89,32182.72,0.0001,1627012800000,574264600,synced"),
            format!(
                "1626993370000000000,{head},32190.12,32182.72,0.0001,1627012800000,574264600,synced"
            ),
        ]
    );
    // Liquidation rows carry no time: venue time 0. A long's liquidation is a sell order.
    assert_eq!(liq, [format!("0,{head},sell,32100.5,2000,synced")]);
}

#[test]
fn live_binance_futures_bridges_a_served_snapshot_and_fills_the_derivatives_files() {
    // A hand-written capture without a recorded REST body: the simulator starts the venue's
    // book empty at the first update and serves `/fapi/v1/depth` from it (its documented
    // `lastUpdateId`, `E`, `T`, `bids`, `asks`), which the client bridges. Then the documented
    // Mark Price and Liquidation Order examples of Binance's USD-M streams (moved to the
    // capture's time), and another symbol's liquidation, which is not this connection's.
    let depth = |first: u64, last: u64, prev: u64, bid: &str| {
        format!(
            r#"{{"stream":"btcusdt@depth@0ms","data":{{"e":"depthUpdate","E":1562305379990,"T":1562305379990,"s":"BTCUSDT","U":{first},"u":{last},"pu":{prev},"b":[["11794.10","{bid}"]],"a":[["11794.20","3"]]}}}}"#
        )
    };
    let frames = [
        depth(101, 102, 100, "5"),
        depth(103, 104, 102, "6"),
        depth(105, 106, 104, "7"),
        depth(107, 108, 106, "8"),
        depth(109, 110, 108, "9"),
        r#"{"stream":"btcusdt@markPrice@1s","data":{"e":"markPriceUpdate","E":1562305380000,"s":"BTCUSDT","p":"11794.15000000","i":"11784.62659091","P":"11784.25641265","r":"0.00038167","T":1562306400000}}"#.to_owned(),
        r#"{"stream":"btcusdt@forceOrder","data":{"e":"forceOrder","E":1568014460893,"o":{"s":"BTCUSDT","S":"SELL","o":"LIMIT","f":"IOC","q":"0.014","p":"9910","ap":"9910","X":"FILLED","l":"0.014","z":"0.014","T":1568014460893}}}"#.to_owned(),
        r#"{"stream":"ethusdt@forceOrder","data":{"e":"forceOrder","E":1568014460894,"o":{"s":"ETHUSDT","S":"BUY","o":"LIMIT","f":"IOC","q":"1.5","p":"180.1","ap":"180.1","X":"FILLED","l":"1.5","z":"1.5","T":1568014460894}}}"#.to_owned(),
        depth(111, 112, 110, "10"),
    ];
    let frames: Vec<&str> = frames.iter().map(String::as_str).collect();
    let (funding, liq, asked) = live_derivatives("binance-futures", "BTCUSDT", &frames);
    assert!(
        asked
            .iter()
            .any(|t| t.contains("btcusdt@markPrice@1s") && t.contains("btcusdt@forceOrder")),
        "{asked:?}"
    );
    let head = "1562305380000000000,binance-futures,BTCUSDT,11794.15,11784.62659091";
    assert_eq!(
        funding,
        [format!("{head},,,,synced"), format!("{head},0.00038167,1562306400000,,synced")]
    );
    assert_eq!(liq, ["1568014460893000000,binance-futures,BTCUSDT,sell,9910,0.014,synced"]);
}

/// The simulator writes a forged TLS record (right framing, bytes that do not authenticate)
/// under its TLS layer mid-stream: the record layer refuses it, the connection ends and is made
/// again, and the error is counted in `/metrics` (read back by Python's parser) and in the
/// summary, text and JSON.
#[test]
fn a_forged_tls_record_is_counted_in_metrics_and_the_summary() {
    let (sim, ca) = cli::tls_sim("live-cli", "okx", "okx/cryptofeed_OKX.ws.1.0", |c| {
        c.pace = ladderfeed_sim::Pace::Rate(500.0);
        c.faults = ladderfeed_sim::faults::parse("tls-garbage@30").unwrap();
    });
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let sum = tmp("tls-garbage.json");
    let child = Command::new(env!("CARGO_BIN_EXE_ladderfeed"))
        .args(["live", "--venue", "okx", "--symbols", "BTC-USDT", "--endpoint", &sim.url("")])
        .args(["--ca-file", ca.to_str().unwrap(), "--duration", "4", "--no-pin", "--no-busy-poll"])
        .args(["--http", &format!("127.0.0.1:{port}")])
        .args(["--summary-json", sum.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait for the count (the run lasts 4 s; a scrape after its end finds nobody).
    let counted = "ladderfeed_tls_record_errors_total 1\n";
    let start = Instant::now();
    let metrics = loop {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            let (status, body) = http_get(port, "/metrics");
            if status == 200 && body.contains(counted) {
                break body;
            }
        }
        assert!(start.elapsed() < Duration::from_secs(10), "no TLS record error counted");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(metrics.contains(
        "# TYPE ladderfeed_tls_record_errors_total counter\nladderfeed_tls_record_errors_total 1\n"
    ));
    let families = python_families(&metrics);
    assert!(
        families
            .iter()
            .any(|(n, t, k)| n == "ladderfeed_tls_record_errors" && t == "counter" && *k == 1),
        "{families:?}"
    );
    let out = child.wait_with_output().unwrap();
    let log = sim.stop();
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    // The fault went out under TLS, once; the client connected again after it.
    let faults: Vec<_> = log.iter().filter(|e| e["fault"] == "tls-garbage").collect();
    assert_eq!(faults.len(), 1, "{log:?}");
    assert_eq!(faults[0]["detail"]["tls"], true);
    assert!(t.contains("okx: 2 connects"), "{t}");
    assert!(t.contains("tls          1 record errors"), "{t}");
    let s: serde_json::Value = serde_json::from_slice(&std::fs::read(&sum).unwrap()).unwrap();
    assert_eq!(s["tls_record_errors"], 1, "{s}");
    assert_eq!(s["symbols"]["okx:BTC-USDT"]["state"], "synced");
}

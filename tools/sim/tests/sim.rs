//! The simulator against a plain client (tungstenite over rustls, trusting the generated CA):
//! every venue's capture arrives byte for byte over wss://, the REST snapshot over HTTPS,
//! every fault kind happens once and shows up in the reference log, bad certificates are
//! refused, and the command line prints its port and stops by itself.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ladderfeed::book::Venue;
use ladderfeed::capture::{self, lfc, Record, RecordKind};
use ladderfeed_sim::tls::CertFault;
use ladderfeed_sim::{faults, Config, Pace, Sim};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use serde_json::Value;
use tungstenite::{Message, WebSocket};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn fixture(rel: &str) -> PathBuf {
    Path::new(ROOT).join("../../fixtures").join(rel)
}

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ladderfeed-sim-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// A client stream: plain or TLS.
enum Stream {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf),
            Stream::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Stream::Plain(s) => s.write(buf),
            Stream::Tls(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Stream::Plain(s) => s.flush(),
            Stream::Tls(s) => s.flush(),
        }
    }
}

/// Connects (TLS when `ca` is given, verifying the server against it), `Err` with the TLS
/// error text when the handshake is refused.
fn open(sim: &Sim, host: &str, ca: Option<&str>) -> Result<Stream, String> {
    let tcp = TcpStream::connect(sim.addr()).map_err(|e| e.to_string())?;
    tcp.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let Some(ca) = ca else { return Ok(Stream::Plain(tcp)) };
    let mut roots = rustls::RootCertStore::empty();
    roots.add(CertificateDer::from_pem_slice(ca.as_bytes()).unwrap()).unwrap();
    let config = rustls::ClientConfig::builder_with_provider(ladderfeed_sim::tls::provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = ServerName::try_from(host.to_owned()).unwrap();
    let conn = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
    let mut s = rustls::StreamOwned::new(conn, tcp);
    while s.conn.is_handshaking() {
        s.conn.complete_io(&mut s.sock).map_err(|e| e.to_string())?;
    }
    Ok(Stream::Tls(Box::new(s)))
}

fn connect(sim: &Sim, path: &str, ca: Option<&str>) -> WebSocket<Stream> {
    let stream = open(sim, "localhost", ca).unwrap();
    let scheme = if ca.is_some() { "wss" } else { "ws" };
    let url = format!("{scheme}://localhost:{}{path}", sim.addr().port());
    tungstenite::client::client(url, stream).map_err(|e| e.to_string()).unwrap().0
}

fn frame_bytes(m: &Message) -> Option<Vec<u8>> {
    match m {
        Message::Text(t) => Some(t.as_bytes().to_vec()),
        Message::Binary(b) => Some(b.to_vec()),
        _ => None,
    }
}

/// Reads `n` data frames (pings are answered by tungstenite).
fn read_frames(ws: &mut WebSocket<Stream>, n: usize) -> Vec<Vec<u8>> {
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let m = ws.read().unwrap_or_else(|e| panic!("after {} frames: {e}", out.len()));
        if let Some(b) = frame_bytes(&m) {
            out.push(b);
        }
    }
    out
}

fn sent_frames(path: &Path) -> Vec<String> {
    capture::open(path)
        .unwrap()
        .map(Result::unwrap)
        .filter(|r| r.kind == RecordKind::Sent)
        .map(|r| String::from_utf8(r.payload).unwrap())
        .collect()
}

fn config(venue: Venue, capture: PathBuf) -> Config {
    let mut c = Config::new(venue, vec![capture]);
    c.tls = true;
    c.max_seconds = 60.0;
    c
}

/// A small `.lfc` capture of documented frames, for the venues no public capture covers.
fn synthetic(name: &str, venue: &str, frames: &[&str]) -> PathBuf {
    let path = tmp(name);
    let mut w = lfc::Writer::create(&path, &lfc::Header::new(venue)).unwrap();
    for (i, f) in frames.iter().enumerate() {
        let rec = Record {
            local_ts: 1_700_000_000_000_000_000 + i as u64 * 1_000_000,
            conn: 1,
            kind: RecordKind::Recv,
            url: String::new(),
            payload: f.as_bytes().to_vec(),
        };
        w.write(&rec).unwrap();
    }
    w.finish().unwrap();
    path
}

#[test]
fn every_venue_serves_its_capture_byte_for_byte_over_wss() {
    let kraken_v2 = synthetic(
        "kraken_v2.lfc",
        "kraken",
        &[
            r#"{"channel":"status","type":"update","data":[{"version":"2.0.0","system":"online","api_version":"v2","connection_id":1,"system":"online"}]}"#,
            r#"{"channel":"book","type":"snapshot","data":[{"symbol":"BTC/USD","bids":[{"price":45283.5,"qty":0.10000000}],"asks":[{"price":45285.2,"qty":0.00100000}],"checksum":1,"timestamp":"2023-10-06T17:35:55.440295Z"}]}"#,
            r#"{"channel":"heartbeat"}"#,
        ],
    );
    let gemini_v1 = synthetic(
        "gemini_v1.lfc",
        "gemini-v1",
        &[
            r#"{"type":"update","eventId":1,"socket_sequence":0,"events":[{"type":"change","side":"bid","price":"54350.40","remaining":"0.002","delta":"0.002","reason":"initial"}]}"#,
            r#"{"type":"heartbeat","socket_sequence":1}"#,
        ],
    );
    let cases: Vec<(Venue, PathBuf, &str, Vec<String>)> = vec![
        (
            Venue::Binance,
            fixture("binance/hftbacktest_spot_btcusdt_20240808.gz"),
            "/stream?streams=btcusdt@depth@100ms/btcusdt@trade/btcusdt@bookTicker",
            vec![],
        ),
        (
            Venue::BinanceFutures,
            fixture("binance/cryptofeed_BINANCE_FUTURES.ws.1.0"),
            "/stream?streams=sushiusdt@depth@100ms",
            vec![],
        ),
        (Venue::Coinbase, fixture("coinbase/cryptofeed-v3_COINBASE.jsonl.zst"), "/", vec![]),
        (Venue::CoinbaseExchange, fixture("coinbase/cryptofeed_COINBASE.ws.28.0"), "/", vec![]),
        (Venue::Bitfinex, fixture("bitfinex/cryptofeed_BITFINEX-58bafb.0"), "/ws/2", vec![]),
        (Venue::KrakenV1, fixture("kraken/cryptofeed_KRAKEN.ws.50.0"), "/", vec![]),
        (Venue::Okx, fixture("okx/cryptofeed_OKX.ws.1.0"), "/ws/v5/public", vec![]),
        (Venue::Gemini, fixture("gemini/cryptofeed_GEMINI.ws.1.0"), "/v2/marketdata", vec![]),
        (
            Venue::Kraken,
            kraken_v2,
            "/v2",
            vec![r#"{"method":"subscribe","params":{"channel":"book","symbol":["BTC/USD"],"depth":10},"req_id":7}"#.into()],
        ),
        (Venue::GeminiV1, gemini_v1, "/v1/marketdata/btcusd?heartbeat=true", vec![]),
    ];
    for (venue, file, path, extra_subs) in cases {
        let sim = Sim::start(config(venue, file.clone())).unwrap();
        let ca = sim.ca_pem().unwrap();
        let want: Vec<Vec<u8>> = sim.capture().frames().map(<[u8]>::to_vec).collect();
        let mut ws = connect(&sim, path, Some(&ca));
        let mut subs = sent_frames(&file);
        subs.extend(extra_subs);
        for s in &subs {
            ws.send(Message::Text(s.clone().into())).unwrap();
        }
        let mut got = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        let synthetic_sent = || {
            sim.log()
                .entries()
                .iter()
                .filter(|e| e["event"] == "send" && e["synthetic"] == true)
                .count()
        };
        while got.len() < want.len() || got.len() < want.len() + synthetic_sent() {
            assert!(Instant::now() < deadline, "{venue}: {} of {} frames", got.len(), want.len());
            let m = ws.read().unwrap();
            if let Some(b) = frame_bytes(&m) {
                got.push(b);
            }
        }
        ws.close(None).unwrap();
        let log = sim.stop();
        let synthetic: Vec<&Value> =
            log.iter().filter(|e| e["event"] == "send" && e["synthetic"] == true).collect();
        // The frames received are the synthetic acks (in order) and the capture, byte for byte.
        let mut rest = got.as_slice();
        let mut acks = 0;
        while let Some(first) = rest.first() {
            if synthetic.iter().any(|s| s["text"].as_str().map(str::as_bytes) == Some(&first[..])) {
                acks += 1;
                rest = &rest[1..];
            } else {
                break;
            }
        }
        assert_eq!(acks, synthetic.len(), "{venue}");
        assert_eq!(rest.len(), want.len(), "{venue}: frame count");
        for (i, (g, w)) in rest.iter().zip(&want).enumerate() {
            assert!(g == w, "{venue}: frame {i} differs");
        }
        // The log accounts for every frame, in order, with its index.
        let sends: Vec<u64> = log
            .iter()
            .filter(|e| e["event"] == "send" && e["synthetic"] != true)
            .map(|e| e["frame"].as_u64().unwrap())
            .collect();
        assert_eq!(sends, (0..want.len() as u64).collect::<Vec<_>>(), "{venue}");
        assert!(log
            .iter()
            .any(|e| e["event"] == "connect" && e["path"] == path && e["tls"] == true));
        if venue == Venue::Kraken {
            assert_eq!(acks, 1, "Kraken v2 gets a synthesized ack");
        }
        if matches!(venue, Venue::Binance | Venue::BinanceFutures) {
            assert!(log.iter().any(|e| e["seq"].as_str().is_some_and(|s| s.starts_with("U="))));
        }
    }
}

/// One HTTP/1.1 GET over TLS: (status line, headers, body).
fn https_get(sim: &Sim, ca: &str, path: &str) -> (String, String, Vec<u8>) {
    let mut s = open(sim, "127.0.0.1", Some(ca)).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").unwrap();
    s.flush().unwrap();
    let mut all = Vec::new();
    // The server closes after the answer; rustls reports the TCP close without close_notify
    // as an error once everything was read.
    let _ = s.read_to_end(&mut all);
    let text_end = all.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let head = String::from_utf8(all[..text_end].to_vec()).unwrap();
    let status = head.lines().next().unwrap().to_owned();
    (status, head, all[text_end..].to_vec())
}

#[test]
fn rest_snapshots_and_their_faults() {
    let file = fixture("binance/cryptofeed_BINANCE_FUTURES.ws.1.0");
    let mut c = config(Venue::BinanceFutures, file.clone());
    c.faults = faults::parse("rest-429@0,rest-418@1=3,rest-stale@2=1000,rest-slow@3=0.3").unwrap();
    let sim = Sim::start(c).unwrap();
    let ca = sim.ca_pem().unwrap();
    let want = capture::open(&fixture("binance/cryptofeed_BINANCE_FUTURES.http.0.0"))
        .unwrap()
        .map(Result::unwrap)
        .find(|r| r.url.contains("symbol=SUSHIUSDT"))
        .unwrap()
        .payload;
    let path = "/fapi/v1/depth?symbol=SUSHIUSDT&limit=1000";
    let (status, head, _) = https_get(&sim, &ca, path);
    assert!(status.contains("429") && head.contains("Retry-After: 1"), "{head}");
    let (status, head, _) = https_get(&sim, &ca, path);
    assert!(status.contains("418") && head.contains("Retry-After: 3"), "{head}");
    let (status, head, body) = https_get(&sim, &ca, path);
    assert!(status.contains("200"), "{head}");
    let id =
        |b: &[u8]| serde_json::from_slice::<Value>(b).unwrap()["lastUpdateId"].as_u64().unwrap();
    assert_eq!(id(&body), id(&want) - 1000, "a stale snapshot");
    let t = Instant::now();
    let (status, _, body) = https_get(&sim, &ca, path);
    assert!(status.contains("200") && t.elapsed() >= Duration::from_millis(300));
    assert_eq!(body, want, "byte for byte");
    // Unknown symbol, wrong path.
    assert!(https_get(&sim, &ca, "/fapi/v1/depth?symbol=NOPE").0.contains("400"));
    assert!(https_get(&sim, &ca, "/api/v3/depth?symbol=SUSHIUSDT").0.contains("404"));
    let log = sim.stop();
    let rest: Vec<&Value> = log.iter().filter(|e| e["event"] == "rest").collect();
    let faults: Vec<&str> = rest.iter().filter_map(|e| e["fault"].as_str()).collect();
    assert_eq!(faults, ["rest-429", "rest-418", "rest-stale", "rest-slow"]);
}

#[test]
fn every_fault_happens_once_and_is_logged() {
    // OKX: every book message carries a checksum, so corruption is visible to a client.
    let file = fixture("okx/cryptofeed_OKX.ws.1.0");
    let mut c = config(Venue::Okx, file.clone());
    c.pace = Pace::Rate(2000.0);
    c.faults = faults::parse(
        "drop@10,dup@20,reorder@30,corrupt@40,crossed@50,malformed@60,oversize@70=100000,\
         stall@80=0.3,slow-read@90=0.2,close@120,reset@200",
    )
    .unwrap();
    let sim = Sim::start(c).unwrap();
    let ca = sim.ca_pem().unwrap();
    let want: Vec<Vec<u8>> = sim.capture().frames().map(<[u8]>::to_vec).collect();
    let subs = sent_frames(&file);
    let mut sessions: Vec<Vec<Vec<u8>>> = Vec::new();
    // Three connections: the first ends at the clean close, the second at the reset, the
    // third gets the rest of the capture.
    for _ in 0..3 {
        let mut ws = connect(&sim, "/ws/v5/public", Some(&ca));
        for s in &subs {
            ws.send(Message::Text(s.clone().into())).unwrap();
        }
        ws.send(Message::Text("ping".into())).unwrap();
        let mut got = Vec::new();
        while let Ok(m) = ws.read() {
            if let Some(b) = frame_bytes(&m) {
                got.push(b);
            }
            if got.len() == want.len() + 2 {
                break;
            }
        }
        sessions.push(got);
    }
    let log = sim.stop();
    let fault_log: Vec<&Value> = log.iter().filter(|e| e["event"] == "fault").collect();
    let kinds: Vec<&str> = fault_log.iter().map(|e| e["fault"].as_str().unwrap()).collect();
    for k in [
        "drop",
        "dup",
        "reorder",
        "corrupt",
        "crossed",
        "malformed",
        "oversize",
        "stall",
        "slow-read",
        "close",
        "reset",
    ] {
        assert_eq!(kinds.iter().filter(|&&x| x == k).count(), 1, "{k}: {kinds:?}");
    }
    // Every frame the first client received is accounted for by the log, in order.
    let first = &sessions[0];
    let conn1: Vec<&Value> = log.iter().filter(|e| e["conn"] == 1).collect();
    let sends: Vec<u64> = conn1
        .iter()
        .filter(|e| e["event"] == "send" && e["synthetic"] != true)
        .map(|e| e["frame"].as_u64().unwrap())
        .collect();
    let data: Vec<&Vec<u8>> = first
        .iter()
        .filter(|b| b.as_slice() != b"pong" && !b.starts_with(b"{\"oversize\""))
        .collect();
    assert_eq!(data.len(), sends.len());
    assert!(!sends.contains(&10), "dropped");
    assert_eq!(sends.iter().filter(|&&f| f == 20).count(), 2, "duplicated");
    let at30 = sends.iter().position(|&f| f == 30).unwrap();
    assert_eq!(sends[at30 - 1], 31, "reordered");
    assert_eq!(*sends.last().unwrap(), 119, "closed before frame 120");
    for (b, &f) in data.iter().zip(&sends) {
        let original = &want[f as usize];
        let changed =
            [40u64, 50, 60].iter().any(|&x| fault_log.iter().any(|e| e["frame"] == x && f == x));
        if changed {
            assert!(*b != original, "frame {f} should differ");
        } else {
            assert!(*b == original, "frame {f} differs");
        }
    }
    assert!(serde_json::from_slice::<Value>(data[sends.iter().position(|&f| f == 60).unwrap()])
        .is_err());
    assert!(first.iter().any(|b| b.starts_with(b"{\"oversize\"") && b.len() == 100_000));
    assert!(first.iter().any(|b| b.as_slice() == b"pong"), "OKX text ping answered");
    // The second connection ended abruptly at frame 200; the third got the rest.
    assert!(log.iter().any(|e| e["conn"] == 2 && e["event"] == "fault" && e["fault"] == "reset"));
    let third = &sessions[2];
    assert!(third.len() >= want.len(), "{}", third.len());
}

#[test]
fn bad_certificates_are_refused_by_a_verifying_client() {
    let file = fixture("okx/cryptofeed_OKX.ws.1.0");
    for (fault, want) in [
        (CertFault::WrongHost, "not valid for name \"localhost\""),
        (CertFault::Expired, "certificate expired"),
        (CertFault::Untrusted, "UnknownIssuer"),
    ] {
        let mut c = config(Venue::Okx, file.clone());
        c.cert_fault = Some(fault);
        let sim = Sim::start(c).unwrap();
        let ca = sim.ca_pem().unwrap();
        let err = open(&sim, "localhost", Some(&ca)).err().expect("the handshake must fail");
        eprintln!("{}: {err}", fault.name());
        assert!(err.contains(want), "{}: {err}", fault.name());
        let log = sim.stop();
        assert!(log.iter().any(|e| e["event"] == "tls_error"), "{}", fault.name());
    }
    // The good certificate also verifies by IP address.
    let sim = Sim::start(config(Venue::Okx, file)).unwrap();
    assert!(open(&sim, "127.0.0.1", Some(&sim.ca_pem().unwrap())).is_ok());
}

#[test]
fn recorded_pace_keeps_the_capture_timing() {
    // Kraken v1 capture: 4323 records over 31 s; serve the first frames at recorded pace and
    // check the time between two frames a known distance apart.
    let file = fixture("kraken/cryptofeed_KRAKEN.ws.50.0");
    let mut c = config(Venue::KrakenV1, file.clone());
    c.tls = false;
    c.pace = Pace::Recorded;
    let sim = Sim::start(c).unwrap();
    let ts: Vec<u64> = capture::open(&file)
        .unwrap()
        .map(Result::unwrap)
        .filter(|r| r.kind == RecordKind::Recv)
        .map(|r| r.local_ts)
        .collect();
    let mut ws = connect(&sim, "/", None);
    for s in sent_frames(&file) {
        ws.send(Message::Text(s.into())).unwrap();
    }
    // Frames until 400 ms of capture time after the first data frame.
    let n = ts.iter().position(|&t| t > ts[2] + 400_000_000).unwrap();
    let t0 = Instant::now();
    read_frames(&mut ws, n + 1);
    let took = t0.elapsed();
    assert!(took >= Duration::from_millis(350), "{took:?}");
    let log = sim.stop();
    assert!(log.iter().any(|e| e["event"] == "connect" && e["tls"] == false));
}

#[test]
fn the_command_line_prints_its_port_and_stops_by_itself() {
    let bin = env!("CARGO_BIN_EXE_ladderfeed-sim");
    let help = std::process::Command::new(bin).arg("--help").output().unwrap();
    let help = String::from_utf8(help.stdout).unwrap();
    for opt in [
        "--venue",
        "--capture",
        "--listen",
        "--tls",
        "--ca-out",
        "--cert-fault",
        "--pace",
        "--faults",
        "--seed",
        "--log",
        "--max-seconds",
    ] {
        assert!(help.contains(opt), "--help lacks {opt}");
    }
    let ca = tmp("ca.pem");
    let log = tmp("sim.log");
    let mut child = std::process::Command::new(bin)
        .args(["--venue", "okx", "--capture"])
        .arg(fixture("okx/cryptofeed_OKX.ws.1.0"))
        .args(["--tls", "--ca-out"])
        .arg(&ca)
        .arg("--log")
        .arg(&log)
        .args(["--max-seconds", "2", "--faults", "drop@5"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut first).unwrap();
    let url = first.trim().strip_prefix("listening on ").unwrap().to_owned();
    assert!(url.starts_with("wss://127.0.0.1:"), "{first}");
    let port: u16 = url.rsplit(':').next().unwrap().parse().unwrap();
    assert_ne!(port, 0);
    let pem = std::fs::read_to_string(&ca).unwrap();
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"));
    // It stops by itself.
    let t = Instant::now();
    let status = child.wait().unwrap();
    assert!(status.success());
    assert!(t.elapsed() < Duration::from_secs(10));
    let lines = std::fs::read_to_string(&log).unwrap();
    assert!(lines.lines().next().unwrap().contains("\"listen\""));
    assert!(lines.lines().last().unwrap().contains("\"end\""));
    // Loopback only.
    let mut c = Config::new(Venue::Okx, vec![fixture("okx/cryptofeed_OKX.ws.1.0")]);
    c.listen = "0.0.0.0:0".parse().unwrap();
    assert!(Sim::start(c).unwrap_err().to_string().contains("loopback"));
}

#[test]
fn several_clients_at_once_with_server_pings() {
    let file = fixture("kraken/cryptofeed_KRAKEN.ws.50.0");
    let mut c = config(Venue::KrakenV1, file.clone());
    c.pace = Pace::Rate(4000.0);
    c.ping_secs = Some(0.1);
    let sim = Sim::start(c).unwrap();
    let ca = sim.ca_pem().unwrap();
    let want: Vec<Vec<u8>> = sim.capture().frames().map(<[u8]>::to_vec).collect();
    let subs = sent_frames(&file);
    let got: Vec<(Vec<Vec<u8>>, usize)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..3)
            .map(|_| {
                s.spawn(|| {
                    let mut ws = connect(&sim, "/", Some(&ca));
                    for m in &subs {
                        ws.send(Message::Text(m.clone().into())).unwrap();
                    }
                    let mut frames = Vec::new();
                    let mut pings = 0;
                    while frames.len() < want.len() {
                        match ws.read().unwrap() {
                            Message::Ping(_) => pings += 1,
                            m => frames.extend(frame_bytes(&m)),
                        }
                    }
                    // Let the pong go out before closing.
                    ws.flush().unwrap();
                    ws.close(None).unwrap();
                    (frames, pings)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let log = sim.stop();
    for (frames, pings) in &got {
        assert!(*frames == want, "every client gets the whole capture");
        assert!(*pings >= 3, "{pings} pings in about a second");
    }
    let conns: Vec<u64> = log
        .iter()
        .filter(|e| e["event"] == "connect")
        .map(|e| e["conn"].as_u64().unwrap())
        .collect();
    assert_eq!(conns.len(), 3);
    for c in conns {
        assert!(log.iter().any(|e| e["conn"] == c && e["event"] == "ping"));
        assert!(log.iter().any(|e| e["conn"] == c && e["pong"] == true), "conn {c} pong");
    }
}

/// The frames a run with `spec` and `seed` faulted.
fn faulted_frames(spec: &str, seed: u64) -> Vec<u64> {
    let file = fixture("okx/cryptofeed_OKX.ws.1.0");
    let mut c = config(Venue::Okx, file.clone());
    c.tls = false;
    c.faults = faults::parse(spec).unwrap();
    c.seed = seed;
    let sim = Sim::start(c).unwrap();
    let n = sim.capture().len();
    let mut ws = connect(&sim, "/ws/v5/public", None);
    for s in sent_frames(&file) {
        ws.send(Message::Text(s.into())).unwrap();
    }
    // Every frame but the dropped ones.
    while !sim.log().entries().iter().any(|e| e["event"] == "served") {
        std::thread::sleep(Duration::from_millis(5));
    }
    let log = sim.stop();
    drop(ws);
    let faults: Vec<u64> = log
        .iter()
        .filter(|e| e["event"] == "fault")
        .map(|e| e["frame"].as_u64().unwrap())
        .collect();
    assert!(faults.iter().all(|&f| (f as usize) < n));
    faults
}

#[test]
fn probabilistic_faults_follow_the_seed() {
    let a = faulted_frames("drop~0.05,dup~0.02", 7);
    let b = faulted_frames("drop~0.05,dup~0.02", 7);
    let c = faulted_frames("drop~0.05,dup~0.02", 8);
    assert!(a.len() >= 5, "{a:?}");
    assert_eq!(a, b, "same seed, same faults");
    assert_ne!(a, c, "another seed, other faults");
}

#[test]
fn binance_spot_rest_snapshot_is_the_captured_one() {
    let file = fixture("binance/hftbacktest_spot_btcusdt_20240808.gz");
    let sim = Sim::start(config(Venue::Binance, file.clone())).unwrap();
    let ca = sim.ca_pem().unwrap();
    let want = capture::open(&file)
        .unwrap()
        .map(Result::unwrap)
        .find(|r| r.kind == RecordKind::Http)
        .unwrap()
        .payload;
    let (status, head, body) = https_get(&sim, &ca, "/api/v3/depth?symbol=BTCUSDT&limit=5000");
    assert!(status.contains("200"), "{head}");
    assert!(body == want);
    assert!(https_get(&sim, &ca, "/fapi/v1/depth?symbol=BTCUSDT").0.contains("404"));
    sim.stop();
}

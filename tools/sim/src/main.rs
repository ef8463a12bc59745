//! `ladderfeed-sim`: a local exchange serving a capture in a venue's protocol, with faults.
//! The first line printed is `listening on ws://127.0.0.1:PORT` (or `wss://…`).

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Parser;
use ladderfeed::book::Venue;
use ladderfeed_sim::tls::CertFault;
use ladderfeed_sim::{faults, Config, Pace, Sim};

/// A local exchange for tests: serves a capture over ws:// or wss:// in the venue's protocol
/// (subscribe handshake and acks, snapshots and updates byte for byte, heartbeats, server
/// pings, Binance's REST depth snapshot), with seeded faults and a reference log. Binds
/// loopback only and stops by itself after --max-seconds.
#[derive(Debug, Parser)]
#[command(name = "ladderfeed-sim", version)]
struct Args {
    /// The venue whose protocol is spoken: coinbase, coinbase-exchange, binance, binance-futures,
    /// binance-coinm, bitfinex, kraken, kraken-v1, kraken-futures, okx, gemini, gemini-v1,
    /// bybit, bybit-linear, bybit-inverse, deribit, hyperliquid, bitmex.
    #[arg(long)]
    venue: String,
    /// The capture(s) to serve (any format `ladderfeed convert` reads; a cryptofeed
    /// `NAME.ws.N.0` brings its `NAME.http.*` REST snapshots along).
    #[arg(long, required = true, num_args = 1..)]
    capture: Vec<PathBuf>,
    /// Where to listen (loopback only; port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Serve wss:// with a certificate authority generated for this run.
    #[arg(long)]
    tls: bool,
    /// Write the CA certificate (PEM) clients should trust to this file.
    #[arg(long, value_name = "PEM", requires = "tls")]
    ca_out: Option<PathBuf>,
    /// Present a certificate a correct client refuses: wrong-host (issued for
    /// wrong.invalid), expired (valid in 2000 only), untrusted (signed by another CA).
    #[arg(long, value_name = "FAULT", requires = "tls")]
    cert_fault: Option<String>,
    /// How fast frames go out: recorded (the capture's gaps), max, or messages per second.
    #[arg(long, default_value = "max")]
    pace: String,
    /// Faults: comma-separated KIND@N (at frame N, once), KIND~P (each frame with
    /// probability P), each with an optional =ARG. Kinds: drop, dup, reorder, corrupt,
    /// crossed, close, reset, stall=SECS, slow-read=SECS, oversize=BYTES, malformed, tls-garbage,
    /// rest-slow=SECS, rest-stale=IDS, rest-429=SECS, rest-418=SECS (REST faults: @N = the
    /// N-th request). Example: "drop@100,corrupt@200,close@500,rest-429@0".
    #[arg(long, value_name = "SPEC", default_value = "")]
    faults: String,
    /// Seed of the probabilistic faults (the same seed gives the same faults).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Write the reference log (JSON lines: every frame sent with its sequence identity and
    /// send time, every fault) to this file.
    #[arg(long, value_name = "FILE")]
    log: Option<PathBuf>,
    /// Stop after this many seconds.
    #[arg(long, default_value_t = 60.0)]
    max_seconds: f64,
    /// Accept at most this many connections in all.
    #[arg(long, default_value_t = 64)]
    max_connections: u64,
    /// Send a WebSocket ping every SECS (default: the venue's; Binance 20 s).
    #[arg(long, value_name = "SECS")]
    ping_secs: Option<f64>,
    /// Serve the venue's instrument endpoint from this folder (laid out as
    /// `fixtures/refdata`, the default).
    #[arg(long, value_name = "DIR")]
    reference_dir: Option<PathBuf>,
}

fn run(args: Args) -> Result<()> {
    let venue = Venue::from_name(&args.venue).with_context(|| {
        let known: Vec<&str> = Venue::ALL.iter().map(|v| v.name()).collect();
        format!("unknown venue {:?}: {}", args.venue, known.join(", "))
    })?;
    let mut config = Config::new(venue, args.capture);
    config.listen = args.listen;
    config.tls = args.tls;
    config.ca_out = args.ca_out;
    config.cert_fault = args.cert_fault.as_deref().map(CertFault::parse).transpose()?;
    config.pace = Pace::parse(&args.pace)?;
    config.faults = faults::parse(&args.faults)?;
    config.seed = args.seed;
    config.log = args.log;
    config.max_seconds = args.max_seconds;
    config.max_connections = args.max_connections;
    config.ping_secs = args.ping_secs;
    config.reference_dir = args.reference_dir;
    let sim = Sim::start(config)?;
    println!("listening on {}", sim.url(""));
    std::io::stdout().flush()?;
    let log = sim.wait();
    let sent = log.iter().filter(|e| e["event"] == "send").count();
    let faults = log.iter().filter(|e| e["event"] == "fault").count();
    let conns = log.iter().filter(|e| e["event"] == "connect").count();
    eprintln!("done: {conns} connections, {sent} frames sent, {faults} faults");
    Ok(())
}

fn main() -> ExitCode {
    match run(Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

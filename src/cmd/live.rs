//! `ladderfeed live`: real connections through the same engine → ring → consumer pipeline as
//! `replay`.
//!
//! - the **network** thread (pinned) owns every connection and busy-polls them
//!   ([`ladderfeed::net::live`]): read, frame, parse, apply, publish onto the ring. It never
//!   waits for the consumer: a full ring drops and counts (`ring drops` in the report);
//! - the **consumer** thread (pinned) pops the events, records per-stage latency (exchange →
//!   receive from the venue's own timestamps) and writes the sinks.
//!
//! It runs for `--duration` seconds or until SIGINT/SIGTERM, then closes the connections,
//! flushes the sinks and prints the report.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use crossbeam_channel::Receiver;
use ladderfeed::book::Venue;
use ladderfeed::consumer::{spawn_consumer_with, spawn_pinned, Consumer, Cores, Idle, OnEvent};
use ladderfeed::event::Event;
use ladderfeed::fanout::Fanout;
use ladderfeed::net::live::{CloseClass, Feed, Live, Options};
use ladderfeed::net::tls;
use ladderfeed::ring::{feed, Publisher};
use ladderfeed::venue::Protocol;

use super::config::{self, FeedConfig, InstrumentArgs};
use super::publish::PublishArgs;
use super::reference;
use super::service;
use super::sinks::{OutputArgs, SinkWriter};
use super::summary::{self, EngineReport, Summary};

/// `ladderfeed live` options.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The venue: coinbase, coinbase-exchange, binance, binance-futures, binance-coinm, bitfinex,
    /// kraken, kraken-v1, kraken-futures, okx, gemini, gemini-v1, bybit, bybit-linear,
    /// bybit-inverse, deribit, hyperliquid, bitmex.
    #[arg(long, required_unless_present = "config", conflicts_with = "config")]
    pub venue: Option<String>,
    /// The symbols, comma-separated, as the venue writes them (BTCUSDT, BTC-USD, XBT/USD,
    /// tBTCUSD, …).
    #[arg(
        long,
        value_delimiter = ',',
        required_unless_present = "config",
        conflicts_with = "config"
    )]
    pub symbols: Vec<String>,
    /// Several venues from a TOML file: `[[feed]]` tables with `venue`, `symbols` and
    /// optional `endpoint` and `rest_endpoint`; `[[instrument]]` tables with `venue`,
    /// `symbol`, `tick` and `lot`; top-level `ca_file`, `stale_after` and `window_ticks` may
    /// be given. Unknown keys are refused.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Instruments' ticks and lots.
    #[command(flatten)]
    pub instruments: InstrumentArgs,
    /// The WebSocket endpoint (default: the venue's). Without a path, the venue's path is
    /// added (`/stream` for Binance, `/ws/v5/public` for OKX, …). Given twice (or more):
    /// redundant connections, one per endpoint, carrying the same subscriptions into the
    /// same books; each message is applied once, from the connection that delivers it first
    /// (venues with a per-book sequence: Binance, OKX, Deribit, Bybit, Kraken Futures).
    #[arg(long)]
    pub endpoint: Vec<String>,
    /// Redundant connections: this many in all (to the endpoints given, the last one
    /// repeated; default: one per `--endpoint`).
    #[arg(long, value_name = "N")]
    pub redundancy: Option<usize>,
    /// The venue's REST base: Binance's depth snapshots and every venue's instrument list
    /// (default: the venue's own).
    #[arg(long, value_name = "URL")]
    pub rest_endpoint: Option<String>,
    /// The venues' instrument reference data.
    #[command(flatten)]
    pub reference: ReferenceArgs,
    /// Trust the certificates in this PEM file too (a simulator's CA). Certificates are
    /// always verified.
    #[arg(long, value_name = "PEM")]
    pub ca_file: Option<PathBuf>,
    /// Core of the network thread (default: the last core).
    #[arg(long, value_name = "N")]
    pub core: Option<usize>,
    /// Core of the consumer thread (default: the one before the network thread's).
    #[arg(long, value_name = "N")]
    pub consumer_core: Option<usize>,
    /// Do not pin threads to cores.
    #[arg(long)]
    pub no_pin: bool,
    /// Wait instead of spinning (laptops): the network thread polls with a 1 ms timeout and
    /// the consumer sleeps (up to 1 ms) while the ring is empty.
    #[arg(long)]
    pub no_busy_poll: bool,
    /// The largest array window a book grows to, in ticks per side (rounded up to a power of
    /// two, 64 to 2^24). A book starts with a small window and sizes it from each snapshot
    /// (four times its widest side's span), up to this; each window is resident from its
    /// allocation, 16 bytes per tick: 1 MiB for a book at the default. Levels beyond it are
    /// still kept exactly.
    #[arg(long, value_name = "TICKS", default_value_t = ladderfeed::book::Ladder::DEFAULT_WINDOW_TICKS)]
    pub window_ticks: usize,
    /// Which parser reads the frames: `scan` (the default; the venue's SIMD scanner where it
    /// has one: Binance, Bitfinex, BitMEX, Bybit, Coinbase Advanced and Exchange, Gemini v2,
    /// Hyperliquid, Kraken Futures, Kraken v1, OKX; simd-json for any frame it does not recognise) or `simd-json`
    /// (the reference path
    /// for every frame). Overrides the config file's `parser`.
    #[arg(long, value_enum)]
    pub parser: Option<ladderfeed::venue::Parser>,
    /// Stop after this many seconds (default: until SIGINT or SIGTERM).
    #[arg(long, value_name = "SECS")]
    pub duration: Option<f64>,
    /// Reconnect a connection silent for this many seconds.
    #[arg(long, value_name = "SECS", default_value_t = 30.0)]
    pub stale_after: f64,
    /// Ring capacity in events (a power of two, at least 64).
    #[arg(long, default_value_t = 16384)]
    pub ring: usize,
    /// Output files (the same as `replay`'s).
    #[command(flatten)]
    pub out: OutputArgs,
    /// Publishing the stream to other processes and hosts.
    #[command(flatten)]
    pub publish: PublishArgs,
    /// Serve `/book?venue=V&symbol=S&depth=N`, `/metrics` (Prometheus) and `/health` on this
    /// address (for example 127.0.0.1:8080), from a side thread.
    #[arg(long, value_name = "ADDR")]
    pub http: Option<std::net::SocketAddr>,
}

/// Where ticks and lots come from at start: the venues' own instrument lists.
#[derive(Debug, Clone, clap::Args)]
pub struct ReferenceArgs {
    /// Do not fetch the venues' instrument lists: configured, built-in and learned ticks
    /// only.
    #[arg(long)]
    pub no_venue_instruments: bool,
    /// Where fetched instrument tables are cached, for a start while the venue's REST API is
    /// down (default: `$XDG_CACHE_HOME/ladderfeed`, else `~/.cache/ladderfeed`).
    #[arg(long, value_name = "DIR")]
    pub instruments_cache: Option<PathBuf>,
    /// Fetch the instrument lists again every SECS (0: never) and after a reconnect; new
    /// instruments resolve with the fresh table (a book already built keeps its steps).
    #[arg(long, value_name = "SECS", default_value_t = 3600.0)]
    pub instruments_refresh: f64,
}

/// `ladderfeed record` options: everything `live` takes, and the file to write.
#[derive(Debug, clap::Args)]
pub struct RecordArgs {
    /// The live options.
    #[command(flatten)]
    pub live: Args,
    /// The capture to write (ours, `.lfc`): every frame received and sent, connects,
    /// disconnects and REST snapshots, so that `ladderfeed replay` reproduces the run.
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: PathBuf,
}

/// Runs the live feed and records it (a writer thread, never the network thread).
pub fn record(args: RecordArgs) -> Result<ExitCode> {
    run_with(args.live, Some(args.output))
}

/// Records larger than this are not given back to the network thread for reuse.
const SPARE_MAX_BYTES: usize = 64 << 10;

/// Records in flight between the network thread and the recorder's writer: a fixed queue
/// (no allocation per message on the network thread, which never waits for it); when the
/// writer falls this far behind, records are dropped and counted, and the run fails.
const RECORD_QUEUE: usize = 65_536;

/// How often the recorder closes its block (what a crash can lose at most).
const RECORD_FLUSH: Duration = Duration::from_secs(1);

/// The writer thread: records from the network thread into an `.lfc` file.
fn writer(
    path: PathBuf,
    header: ladderfeed::capture::lfc::Header,
    rx: Receiver<ladderfeed::capture::Record>,
    spare: crossbeam_channel::Sender<ladderfeed::capture::Record>,
) -> Result<u64> {
    let mut w = ladderfeed::capture::lfc::Writer::create(&path, &header)?;
    let mut last_flush = Instant::now();
    loop {
        match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(rec) => {
                w.write(&rec)?;
                // Back to the network thread for reuse (dropped here when enough wait, or
                // when it carried a large snapshot: the pool keeps no big buffers).
                if rec.payload.capacity() <= SPARE_MAX_BYTES {
                    let _ = spare.try_send(rec);
                }
            }
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => {}
            Err(crossbeam_channel::RecvTimeoutError::Disconnected) => break,
        }
        if last_flush.elapsed() >= RECORD_FLUSH {
            w.flush()?;
            last_flush = Instant::now();
        }
    }
    let n = w.records();
    w.finish()?;
    Ok(n)
}

/// Runs the live feed.
pub fn run(args: Args) -> Result<ExitCode> {
    run_with(args, None)
}

fn run_with(args: Args, record: Option<PathBuf>) -> Result<ExitCode> {
    if !args.ring.is_power_of_two() || args.ring < 64 {
        bail!("--ring must be a power of two, at least 64");
    }
    let file = config::load_optional(args.config.as_deref())?;
    let mut registry = args.instruments.registry(file.as_ref())?;
    let window_ticks = config::window_ticks(args.window_ticks, file.as_ref());
    let parser = config::parser(args.parser, file.as_ref());
    let stale_after = file.as_ref().and_then(|f| f.stale_after).unwrap_or(args.stale_after);
    if !(stale_after.is_finite() && stale_after > 0.0) {
        bail!("--stale-after must be a positive number of seconds");
    }
    let ca_file = file.as_ref().and_then(|f| f.ca_file.clone()).or_else(|| args.ca_file.clone());
    let specs: Vec<FeedConfig> = match file {
        Some(f) => f.feed,
        None => vec![FeedConfig {
            venue: args.venue.clone().unwrap_or_default(),
            symbols: args.symbols.clone(),
            endpoint: None,
            rest_endpoint: args.rest_endpoint.clone(),
            endpoints: args.endpoint.clone(),
            redundancy: args.redundancy,
        }],
    };
    if specs.is_empty() {
        bail!("no feed to connect (the config has no [[feed]])");
    }
    let mut feeds: Vec<Feed> = Vec::new();
    for spec in &specs {
        let venue = Venue::from_name(&spec.venue)
            .with_context(|| format!("unknown venue {:?}", spec.venue))?;
        let symbols: Vec<String> =
            spec.symbols.iter().map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect();
        if symbols.is_empty() {
            bail!("{}: no symbol to subscribe", venue.name());
        }
        let protocol = Protocol::of(venue);
        let endpoints = spec.line_endpoints(protocol.endpoint)?;
        // Some venues serve a limited number of symbols per connection (Gemini v1: one).
        for syms in protocol.connection_groups(&symbols) {
            feeds.push(Feed {
                venue,
                url: protocol.url(&endpoints[0], &syms),
                symbols: syms.clone(),
                rest_base: spec.rest_endpoint.clone(),
                backup_urls: endpoints[1..].iter().map(|e| protocol.url(e, &syms)).collect(),
            });
        }
    }
    let urls: Vec<String> = feeds
        .iter()
        .flat_map(|f| std::iter::once(f.url.clone()).chain(f.backup_urls.iter().cloned()))
        .collect();
    let venues: Vec<Venue> = feeds.iter().map(|f| f.venue).collect();
    let tls_config = tls::client_config(ca_file.as_deref())?;
    // The venues' instrument lists, before any connection: fetched (else cached) tables
    // under the user's configuration, over the built-ins.
    let reference = reference::Reference::new(&args.reference, &feeds, &tls_config)?;
    let loaded = reference.load_all(&mut registry);
    let mut opts = Options::new(tls_config);
    opts.busy_poll = !args.no_busy_poll;
    opts.window_ticks = window_ticks;
    // Books publish their top N only for a depth file.
    opts.depth_levels = if args.out.depth_out.is_some() { args.out.depth } else { 0 };
    // Derivatives channels only for a funding or liquidations file.
    opts.derivatives = args.out.wants_derivatives();
    opts.parser = parser;
    opts.registry = registry;
    opts.policy.stale_after = Duration::from_secs_f64(stale_after);
    let clock = opts.clock;
    let mut live = Live::new(feeds, opts)?;
    let mut reference_recorder = None;
    let recorder = match record {
        Some(path) => {
            // The header names the venue when the recording has one (replay then needs no
            // --venue); several venues leave it empty.
            let one = venues.iter().all(|v| *v == venues[0]);
            let mut header =
                ladderfeed::capture::lfc::Header::new(if one { venues[0].name() } else { "" });
            header.symbols = specs.iter().flat_map(|s| s.symbols.clone()).collect();
            header.endpoints = urls.clone();
            header.endpoints.extend(specs.iter().filter_map(|s| s.rest_endpoint.clone()));
            let (tx, rx) = crossbeam_channel::bounded(RECORD_QUEUE);
            // Written records come back emptied for reuse: no allocation per message on the
            // network thread once the pool is warm.
            let (spare_tx, spare_rx) = crossbeam_channel::bounded(4096);
            // The instrument answers first: a replay of the recording resolves with them.
            for (venue, answer) in
                loaded.iter().flat_map(|l| l.answers.iter().map(|a| (l.venue, a)))
            {
                let _ = tx.send(reference::record_of(&live, venue, answer));
            }
            reference_recorder = Some(tx.clone());
            live.set_recorder(tx, Some(spare_rx));
            let out = path.clone();
            let handle = std::thread::Builder::new()
                .name("recorder".into())
                .spawn(move || writer(out, header, rx, spare_tx))?;
            Some((path, handle))
        }
        None => None,
    };

    let sinks = args.out.sinks()?;
    let fanout = args.publish.open()?;

    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, Arc::clone(&stop))
            .context("installing signal handlers")?;
    }
    let cores = Cores::detect();
    let (net_core, consumer_core) = if args.no_pin || cores.is_empty() {
        (None, None)
    } else {
        let last = cores.len() - 1;
        let n = args.core.unwrap_or(last);
        let c = args.consumer_core.unwrap_or(if n > 0 { n - 1 } else { last.min(1) });
        (cores.get(n), cores.get(c))
    };

    let (publisher, subscription) = feed::feed_with_clock(args.ring, live.id_limit(), clock);
    let deadline = args.duration.map(|d| Instant::now() + Duration::from_secs_f64(d.max(0.0)));

    let latency_now = Arc::new(Mutex::new(Vec::new()));
    let service_stop = Arc::new(AtomicBool::new(false));
    let (query_tx, query_rx) = crossbeam_channel::bounded::<service::Request>(16);
    let service = match args.http {
        Some(addr) => {
            let (local, handle) = service::start(
                addr,
                query_tx,
                Arc::clone(&latency_now),
                Arc::clone(&service_stop),
            )?;
            println!("serving      http://{local}/book, /metrics, /health");
            Some(handle)
        }
        None => {
            drop(query_tx);
            None
        }
    };

    // Fresh instrument tables on a schedule and after reconnects, fetched on a side thread
    // and handed to the network thread between two polls.
    let connects = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let refresher = reference.spawn_refresher(
        &loaded,
        Arc::clone(&stop),
        Arc::clone(&connects),
        reference_recorder,
        &live,
    )?;
    let tables = refresher.as_ref().map(|r| r.tables.clone());
    let net_stop = Arc::clone(&stop);
    let started = Instant::now();
    let net = spawn_pinned("network", net_core, move |_| {
        network(live, publisher, &net_stop, deadline, query_rx, &connects, tables)
    })?;
    // The library's consumer loop: events into the sinks in order; latency figures for the
    // service refreshed at most once a second, while the ring is empty.
    let idle = if args.no_busy_poll { Idle::Sleep } else { Idle::Spin };
    let writing = Writing {
        writer: SinkWriter::new(sinks),
        fanout,
        latency_now: Arc::clone(&latency_now),
        next_latency: Instant::now(),
    };
    let consumer =
        spawn_consumer_with("consumer", Consumer::new(subscription), consumer_core, idle, writing)?;

    let (live, publisher) =
        net.join().map_err(|_| anyhow::anyhow!("network thread panicked"))??;
    let refreshed = refresher.map(reference::Refresher::stop);
    service_stop.store(true, Ordering::Relaxed);
    if let Some(h) = service {
        let _ = h.join();
    }
    let (consumer, writing) =
        consumer.stop().map_err(|_| anyhow::anyhow!("consumer thread panicked"))?;
    let latency = consumer.latency().clone();
    let published = writing.fanout.map(ladderfeed::fanout::Fanout::finish);
    let (sinks, sink_error) = writing.writer.finish();
    let wall = started.elapsed();
    if let Some(e) = sink_error {
        bail!("writing the output files: {e}");
    }
    let reports: Vec<EngineReport<'_>> = live
        .links()
        .iter()
        .map(|l| EngineReport { venue: l.venue(), base: l.base(), engine: l.engine() })
        .collect();
    let errors = live.links().iter().map(|l| l.stats().errors).sum();
    let mut summary = Summary::build(&reports, sinks.seen(), &latency, wall, errors);
    summary.tls_record_errors = Some(tls::record_errors());
    let refresh_failures = refreshed.as_ref().map_or(0, |r| r.failed_requests);
    summary.instrument_requests_failed =
        Some(loaded.iter().map(|l| l.failed_requests).sum::<u64>() + refresh_failures);
    print!("{}", summary.text(&urls, wall));
    for l in live.links() {
        let s = l.stats();
        let closes: Vec<String> = CloseClass::ALL
            .iter()
            .zip(s.closes)
            .filter(|(_, n)| *n > 0)
            .map(|(c, n)| format!("{n} {}", c.name()))
            .collect();
        println!(
            "connection   {}: {} connects, {} failed attempts, {} disconnects ({} stale, {} to resync), {} books resubscribed, closes by server [{}], REST {} ok / {} throttled / {} banned / {} failed{}",
            l.venue().name(),
            s.connects,
            s.connect_failures,
            s.disconnects,
            s.stale,
            s.resync_reconnects,
            s.resync_resubscribes,
            closes.join(", "),
            s.rest_ok,
            s.rest_throttled,
            s.rest_banned,
            s.rest_failed,
            s.last_error.as_deref().map(|e| format!("; last error: {e}")).unwrap_or_default()
        );
        let session = l.session();
        if session.lines() > 1 {
            println!(
                "redundant    {}: {} lines, {} gaps no line filled (resynced)",
                l.venue().name(),
                session.lines(),
                s.unfilled_gaps
            );
        }
        for (j, url) in l.urls().iter().enumerate().filter(|_| session.lines() > 1) {
            let Some(line) = session.line_stats(j) else { continue };
            let a = &line.arbiter;
            let h = &line.advantage;
            println!(
                "  line {j}     {url}: {} connects, {} disconnects ({} stale), {} messages, won {}, duplicates {}, gaps {} ({} filled by another line), found lost by the others {}, taken from another line {}; ahead of the other by p50 {} / p99 {} / max {} us ({} timed)",
                line.connects,
                line.disconnects,
                line.stale,
                line.messages,
                a.won,
                a.duplicates,
                a.gaps,
                a.filled,
                a.found_lost,
                a.other_line,
                h.value_at_quantile(0.5) / 1000,
                h.value_at_quantile(0.99) / 1000,
                h.max() / 1000,
                h.len()
            );
        }
    }
    if let Some(r) = refreshed {
        r.print();
    }
    if let Some(stats) = &published {
        super::publish::report(stats);
    }
    let ring = publisher.stats();
    println!("ring         {} published, {} dropped (full)", ring.produced, ring.dropped);
    if let Some(path) = &args.out.summary_json {
        summary::write_json(&summary, path)?;
    }
    args.out.write_latency(&latency, "ladderfeed live latency")?;
    let connected = live.links().iter().any(|l| l.stats().connects > 0);
    let records_dropped: u64 = live.links().iter().map(|l| l.stats().records_dropped).sum();
    drop(live);
    if let Some((path, handle)) = recorder {
        let n = handle.join().map_err(|_| anyhow::anyhow!("recorder thread panicked"))??;
        println!("recorded     {n} records into {}", path.display());
        if records_dropped > 0 {
            eprintln!(
                "error: the recording misses {records_dropped} records (the writer fell {RECORD_QUEUE} records behind): it will not replay this run exactly"
            );
            return Ok(ExitCode::FAILURE);
        }
    }
    if !connected {
        eprintln!("error: no connection was established");
        return Ok(ExitCode::FAILURE);
    }
    if summary.crossed_published() > 0 {
        eprintln!("error: a crossed book was published as valid");
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

/// The network thread: polls until stopped.
fn network(
    mut live: Live,
    mut publisher: Publisher,
    stop: &AtomicBool,
    deadline: Option<Instant>,
    queries: Receiver<service::Request>,
    connects: &std::sync::atomic::AtomicU64,
    tables: Option<Receiver<ladderfeed::refdata::RefTable>>,
) -> Result<(Live, Publisher)> {
    let monitor = publisher.monitor();
    let mut turns = 0u64;
    loop {
        live.poll_once(&mut publisher)?;
        turns += 1;
        if turns % 64 == 0 {
            // Connects so far (the refresher fetches again after a reconnect), and the
            // tables it fetched (rare).
            let n: u64 = live.links().iter().map(|l| l.stats().connects).sum();
            connects.store(n, Ordering::Relaxed);
            if let Some(t) = &tables {
                while let Ok(table) = t.try_recv() {
                    live.reference(&table);
                }
            }
            // The service's questions (rare): answered between two polls.
            while let Ok((q, reply)) = queries.try_recv() {
                let _ = reply.send(service::answer(&live, &q, &monitor));
            }
            if stop.load(Ordering::Relaxed) || deadline.is_some_and(|d| Instant::now() >= d) {
                break;
            }
        }
    }
    live.close_all();
    Ok((live, publisher))
}

/// The live consumer: events into the sinks (rows stamped with each event's receive time);
/// while the ring is empty, the latency figures for `/metrics` at most once a second
/// (numbers, encoded by the service).
struct Writing {
    writer: SinkWriter,
    /// `--publish`.
    fanout: Option<Fanout>,
    latency_now: Arc<Mutex<Vec<service::StageLatency>>>,
    next_latency: Instant,
}

impl OnEvent for Writing {
    #[inline]
    fn on_event(&mut self, ev: &Event) {
        self.writer.event(ev, ev.local_ts());
        if let Some(f) = &mut self.fanout {
            f.push(ev, ev.local_ts());
        }
    }

    fn on_batch_end(&mut self) {
        if let Some(f) = &mut self.fanout {
            f.flush();
        }
    }

    fn on_idle(&mut self, consumer: &Consumer) {
        if let Some(f) = &mut self.fanout {
            f.idle();
        }
        if Instant::now() >= self.next_latency {
            self.next_latency = Instant::now() + Duration::from_secs(1);
            *self.latency_now.lock().unwrap_or_else(|e| e.into_inner()) =
                service::stage_latency(consumer.latency());
        }
    }
}

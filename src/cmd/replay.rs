//! `ladderfeed replay`: the main job.
//!
//! Three threads, as in a live feed:
//!
//! - a **loader** (not pinned) streams the capture files, merged by receive time, into
//!   reusable batches of records;
//! - the **engine** thread (pinned) takes each record, stamps it received now, and runs it
//!   through the venue adapter and the book engine, publishing onto the ring. At full speed a
//!   replay must not lose anything, so when the ring is full the engine waits for the
//!   consumer (a live feed never waits: it drops and counts);
//! - the **consumer** thread (pinned) pops the events, records per-stage latency and writes
//!   the sinks.
//!
//! Events carry the replay's own receive stamp, so the latency table measures this pipeline;
//! the sinks need the capture's recorded time, which travels beside each event on a second
//! ring of the same length (one `u64` per event, pushed before the event).

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use crossbeam_channel::{bounded, unbounded, Receiver, Sender};
use ladderfeed::book::{InstrumentRegistry, Venue};
use ladderfeed::capture::{self, Record, RecordKind};
use ladderfeed::clock::Clock;
use ladderfeed::consumer::{
    spawn_consumer_with, spawn_pinned, Consumer, Cores, Idle, Latency, OnEvent,
};
use ladderfeed::engine::{Engine, Sink};
use ladderfeed::event::{Event, InstrumentId};
use ladderfeed::fanout::Fanout;
use ladderfeed::ring::{feed_with_clock, spsc, Publisher};
use ladderfeed::session::recorded::{Recorded, RecordedOptions};
use ladderfeed::venue::AnyAdapter;

use super::config::{self, InstrumentArgs};
use super::publish::PublishArgs;
use super::sinks::{OutputArgs, SinkWriter};
use super::summary::{self, EngineReport, Summary};

/// The bundled capture: Binance spot BTCUSDT diffs, trades and bookTicker plus one REST
/// snapshot (see fixtures/SOURCES.md).
pub const BUNDLED: &str = "fixtures/binance/hftbacktest_spot_btcusdt_20240808.gz";

/// `ladderfeed replay` options.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Capture files (any supported format, several venues allowed); without any, the
    /// bundled Binance capture. Cryptofeed `NAME.ws.N.0` files bring their `NAME.http.*`
    /// REST snapshots along.
    pub files: Vec<PathBuf>,
    /// The venue of every file: coinbase, coinbase-exchange, binance, binance-futures,
    /// binance-coinm, bitfinex, kraken, kraken-v1, kraken-futures, okx, gemini, gemini-v1,
    /// bybit, bybit-linear, bybit-inverse, deribit, hyperliquid, bitmex. Told per file by its
    /// header, URLs or messages when omitted.
    #[arg(long)]
    pub venue: Option<String>,
    /// `max` (default): as fast as the pipeline goes; `recorded`: at the capture's own pace.
    #[arg(long, default_value = "max")]
    pub pace: Pace,
    /// With `--pace recorded`: this many times the capture's own pace (2 = twice as fast).
    #[arg(long, default_value_t = 1.0, value_name = "FACTOR")]
    pub speed: f64,
    /// Output files.
    #[command(flatten)]
    pub out: OutputArgs,
    /// Publishing the stream to other processes and hosts.
    #[command(flatten)]
    pub publish: PublishArgs,
    /// Core for the engine thread (default: the last core).
    #[arg(long)]
    pub engine_core: Option<usize>,
    /// Core for the consumer thread (default: the core before the engine's).
    #[arg(long)]
    pub consumer_core: Option<usize>,
    /// Do not pin threads.
    #[arg(long)]
    pub no_pin: bool,
    /// Ring capacity in events (a power of two).
    #[arg(long, default_value_t = 1 << 14)]
    pub ring: usize,
    /// No progress bar even on a terminal.
    #[arg(long)]
    pub no_progress: bool,
    /// Settings from a TOML file (the `live` one): `[[instrument]]` tables and
    /// `window_ticks` and `parser` are used, feeds are ignored.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Instruments' ticks and lots.
    #[command(flatten)]
    pub instruments: InstrumentArgs,
    /// The largest array window a book grows to, in ticks per side (rounded up to a power of
    /// two, 64 to 2^24; each book sizes its window from its snapshots up to this); levels
    /// beyond it are still kept exactly.
    #[arg(long, value_name = "TICKS", default_value_t = ladderfeed::book::Ladder::DEFAULT_WINDOW_TICKS)]
    pub window_ticks: usize,
    /// Which parser reads the frames: `scan` (the default; the venue's SIMD scanner where it
    /// has one: Binance, Bitfinex, BitMEX, Bybit, Coinbase Advanced and Exchange, Gemini v2,
    /// Hyperliquid, Kraken Futures, Kraken v1, OKX; simd-json for any frame it does not recognise) or `simd-json`
    /// (the reference path
    /// for every frame). Overrides the config file's `parser`.
    #[arg(long, value_enum)]
    pub parser: Option<ladderfeed::venue::Parser>,
}

/// Replay pace.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Pace {
    /// As fast as possible.
    #[default]
    Max,
    /// At the capture's recorded pace.
    Recorded,
}

/// One record in a batch: ranges into the batch's byte buffer.
#[derive(Debug, Clone, Copy)]
struct Rec {
    ts: u64,
    conn: u32,
    kind: RecordKind,
    group: u16,
    url: (u32, u32),
    payload: (u32, u32),
}

/// Records handed from the loader to the engine thread; recycled.
#[derive(Debug, Default)]
struct Batch {
    data: Vec<u8>,
    recs: Vec<Rec>,
}

const BATCH_BYTES: usize = 1 << 20;
const BATCH_RECS: usize = 8192;

enum Load {
    Batch(Batch),
    /// The end (read errors come back with the loader thread).
    Done,
}

/// A group of files of one venue, read as one merged stream.
struct Group {
    venue: Venue,
    paths: Vec<PathBuf>,
}

/// Runs the replay.
pub fn run(args: Args) -> Result<ExitCode> {
    if !(args.speed.is_finite() && args.speed > 0.0) {
        bail!("--speed must be a positive number");
    }
    if !args.ring.is_power_of_two() || args.ring < 64 {
        bail!("--ring must be a power of two, at least 64");
    }
    let forced = match &args.venue {
        Some(name) => {
            Some(Venue::from_name(name).with_context(|| format!("unknown venue {name:?}"))?)
        }
        None => None,
    };
    let files = if args.files.is_empty() {
        vec![PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(BUNDLED)]
    } else {
        args.files.clone()
    };
    let groups = group_files(&files, forced)?;
    let file_config = config::load_optional(args.config.as_deref())?;
    let registry = args.instruments.registry(file_config.as_ref())?;
    let window_ticks = config::window_ticks(args.window_ticks, file_config.as_ref());
    let parser = config::parser(args.parser, file_config.as_ref());
    let sinks = args.out.sinks()?;
    let fanout = args.publish.open()?;

    let cores = Cores::detect();
    let (engine_core, consumer_core) = if args.no_pin || cores.is_empty() {
        (None, None)
    } else {
        let last = cores.len() - 1;
        let e = args.engine_core.unwrap_or(last);
        let c = args.consumer_core.unwrap_or(if e > 0 { e - 1 } else { last.min(1) });
        (cores.get(e), cores.get(c))
    };

    // Loader → engine.
    let (load_tx, load_rx) = bounded::<Load>(4);
    let (free_tx, free_rx) = unbounded::<Batch>();
    let loader_groups: Vec<(Venue, Vec<PathBuf>)> =
        groups.iter().map(|g| (g.venue, g.paths.clone())).collect();
    let loader = std::thread::Builder::new()
        .name("loader".into())
        .spawn(move || load(loader_groups, load_tx, free_rx))?;

    // Engine → consumer.
    let clock = Clock::global();
    let (publisher, subscription) =
        feed_with_clock(args.ring, ladderfeed::session::ID_SPACE as usize, clock);
    let (side_tx, side_rx) = spsc::channel::<u64>(args.ring);
    let progress = Arc::new(AtomicU64::new(0));

    let depth_levels = sinks.depth_levels();
    let engine_cfg = EngineCfg {
        venues: groups.iter().map(|g| g.venue).collect(),
        registry,
        window_ticks,
        pace: args.pace,
        speed: args.speed,
        depth_levels,
        clock,
        parser,
    };
    let engine_progress = Arc::clone(&progress);
    let engine_thread = spawn_pinned("engine", engine_core, move |_| {
        let sink = ReplaySink { publisher, side: side_tx, budget: 0, recorded_ts: 0 };
        engine_loop(engine_cfg, load_rx, free_tx, sink, &engine_progress)
    })?;

    // The library's consumer loop; exchange → receive latency is recorded here, against the
    // recorded time, not by the consumer.
    let mut consumer = Consumer::new(subscription);
    consumer.set_record_latency(false);
    let replayed = Replayed {
        clock,
        side: side_rx,
        latency: Latency::new(),
        writer: SinkWriter::new(sinks),
        fanout,
    };
    let consumer_thread =
        spawn_consumer_with("consumer", consumer, consumer_core, Idle::Spin, replayed)?;

    let bar = progress_bar(args.no_progress);
    let started = Instant::now();
    while !engine_thread.is_finished() {
        std::thread::sleep(Duration::from_millis(2));
        if let Some(b) = &bar {
            b.set_position(progress.load(Ordering::Relaxed));
        }
    }
    let engine_out = engine_thread.join().map_err(|_| anyhow::anyhow!("engine thread panicked"))?;
    // The engine is done: the consumer drains what is left on the ring and stops.
    let (_consumer, replayed) =
        consumer_thread.stop().map_err(|_| anyhow::anyhow!("consumer thread panicked"))?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let loader_errors = loader.join().map_err(|_| anyhow::anyhow!("loader thread panicked"))?;
    let wall = started.elapsed();

    let EngineOut { engines, errors, elapsed, first_error, read_errors, reference } = engine_out?;
    let latency = replayed.latency;
    let published = replayed.fanout.map(ladderfeed::fanout::Fanout::finish);
    let (sinks, sink_error) = replayed.writer.finish();
    if let Some(e) = sink_error {
        bail!("writing the output files: {e}");
    }
    let mut read_errors = read_errors;
    read_errors.extend(loader_errors);

    let reports: Vec<EngineReport<'_>> = engines
        .iter()
        .map(|(venue_idx, base, engine)| EngineReport {
            venue: groups[*venue_idx].venue,
            base: *base,
            engine,
        })
        .collect();
    let summary = Summary::build(&reports, sinks.seen(), &latency, elapsed, errors);
    let names: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
    print!("{}", summary.text(&names, wall));
    for (rows, from) in &reference {
        println!("instruments  {rows} rows of the venue's reference data recorded in the capture ({from})");
    }
    if let Some(stats) = &published {
        super::publish::report(stats);
    }
    if let Some(e) = first_error {
        eprintln!("first venue error: {e}");
    }
    if let Some(path) = &args.out.summary_json {
        summary::write_json(&summary, path)?;
    }
    args.out.write_latency(&latency, "ladderfeed replay latency")?;
    let mut failed = false;
    for e in &read_errors {
        eprintln!("error: {e}");
        failed = true;
    }
    if summary.crossed_published() > 0 {
        eprintln!("error: a crossed book was published as valid");
        failed = true;
    }
    Ok(if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

fn progress_bar(off: bool) -> Option<indicatif::ProgressBar> {
    if off || !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::new_spinner();
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{spinner} {human_pos} records  {per_sec}  {elapsed}",
    ) {
        bar.set_style(style);
    }
    Some(bar)
}

/// Groups the files by venue (each venue's files are merged by time by the capture reader).
fn group_files(files: &[PathBuf], forced: Option<Venue>) -> Result<Vec<Group>> {
    let mut groups: Vec<Group> = Vec::new();
    for f in files {
        if !f.exists() {
            bail!("{}: no such file", f.display());
        }
        let venue = match forced {
            Some(v) => v,
            None => {
                let (v, why) = detect_venue(f)?;
                println!("venue        {v}, told by {why}: {}", f.display());
                v
            }
        };
        let mut paths = capture::companions(f);
        paths.push(f.clone());
        match groups.iter_mut().find(|g| g.venue == venue) {
            Some(g) => g.paths.extend(paths),
            None => groups.push(Group { venue, paths }),
        }
    }
    for g in &mut groups {
        g.paths.sort();
        g.paths.dedup();
    }
    Ok(groups)
}

/// A file's venue and what told it ([`capture::detect_venue`]).
fn detect_venue(path: &Path) -> Result<(Venue, String)> {
    // The capture's errors name the file already.
    capture::detect_venue(path)?.with_context(|| {
        format!("{}: cannot tell the venue from the capture: pass --venue", path.display())
    })
}

/// The loader thread: streams every group's records, merged by time, into batches.
fn load(
    groups: Vec<(Venue, Vec<PathBuf>)>,
    tx: Sender<Load>,
    free: Receiver<Batch>,
) -> Vec<String> {
    let mut errors = Vec::new();
    let mut readers = Vec::new();
    for (venue, paths) in &groups {
        match capture::open_merged(paths) {
            Ok(r) => readers.push(Some(r)),
            Err(e) => {
                errors.push(format!("{} ({}): {e}", venue.name(), paths_text(paths)));
                readers.push(None);
            }
        }
    }
    // One look-ahead record per group.
    let mut heads: Vec<Option<Record>> = Vec::with_capacity(readers.len());
    for reader in &mut readers {
        let mut slot = None;
        advance(reader, &mut slot, &mut errors);
        heads.push(slot);
    }
    let mut batch = free.try_recv().unwrap_or_default();
    loop {
        // The group whose next record is earliest (ties: the first group).
        let mut best: Option<usize> = None;
        for (i, h) in heads.iter().enumerate() {
            if let Some(r) = h {
                if best.is_none_or(|b| heads[b].as_ref().is_some_and(|br| r.local_ts < br.local_ts))
                {
                    best = Some(i);
                }
            }
        }
        let Some(i) = best else { break };
        if let Some(r) = &heads[i] {
            let url0 = batch.data.len() as u32;
            batch.data.extend_from_slice(r.url.as_bytes());
            let p0 = batch.data.len() as u32;
            batch.data.extend_from_slice(&r.payload);
            let p1 = batch.data.len() as u32;
            batch.recs.push(Rec {
                ts: r.local_ts,
                conn: r.conn,
                kind: r.kind,
                group: i as u16,
                url: (url0, p0),
                payload: (p0, p1),
            });
        }
        let mut slot = heads[i].take();
        advance(&mut readers[i], &mut slot, &mut errors);
        heads[i] = slot;
        if batch.data.len() >= BATCH_BYTES || batch.recs.len() >= BATCH_RECS {
            let next = free.try_recv().unwrap_or_default();
            if tx.send(Load::Batch(std::mem::replace(&mut batch, next))).is_err() {
                return errors;
            }
        }
    }
    if !batch.recs.is_empty() {
        let _ = tx.send(Load::Batch(batch));
    }
    let _ = tx.send(Load::Done);
    errors
}

/// Reads the next record of `reader` into `slot` (reusing its buffers); at the end or on an
/// error the reader is dropped and the slot left empty.
fn advance(
    reader: &mut Option<capture::Reader>,
    slot: &mut Option<Record>,
    errors: &mut Vec<String>,
) {
    let Some(r) = reader.as_mut() else {
        *slot = None;
        return;
    };
    let mut rec = slot.take().unwrap_or_else(Record::empty);
    match r.next_into(&mut rec) {
        Ok(true) => *slot = Some(rec),
        Ok(false) => *reader = None,
        Err(e) => {
            errors.push(e.to_string());
            *reader = None;
        }
    }
}

fn paths_text(paths: &[PathBuf]) -> String {
    paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
}

/// The engine's sink: lossless publishing with the recorded time beside each event.
struct ReplaySink {
    publisher: Publisher,
    side: spsc::Producer<u64>,
    /// Free slots known on the ring (refreshed only when it reaches 0).
    budget: usize,
    /// The recorded receive time of the record being handled.
    recorded_ts: u64,
}

impl Sink for ReplaySink {
    #[inline]
    fn publish(&mut self, event: Event) {
        while self.budget == 0 {
            self.budget = self.publisher.free_slots();
            if self.budget == 0 {
                std::hint::spin_loop();
            }
        }
        self.budget -= 1;
        // The side ring has the same capacity and is popped with the ring, one for one.
        while self.side.try_push(self.recorded_ts).is_err() {
            std::hint::spin_loop();
        }
        self.publisher.publish(event);
    }
}

struct EngineCfg {
    venues: Vec<Venue>,
    registry: InstrumentRegistry,
    window_ticks: usize,
    pace: Pace,
    speed: f64,
    depth_levels: usize,
    clock: Clock,
    parser: ladderfeed::venue::Parser,
}

struct EngineOut {
    /// `(group index, instrument base, engine)`.
    engines: Vec<(usize, InstrumentId, Engine<AnyAdapter>)>,
    /// Records the adapters rejected.
    errors: u64,
    /// Time from the first record taken to the last handled.
    elapsed: Duration,
    first_error: Option<String>,
    read_errors: Vec<String>,
    /// Per group with recorded instrument answers: its venue's table (rows, where from).
    reference: Vec<(usize, String)>,
}

fn engine_loop(
    cfg: EngineCfg,
    rx: Receiver<Load>,
    free: Sender<Batch>,
    mut sink: ReplaySink,
    progress: &AtomicU64,
) -> Result<EngineOut> {
    let opts = RecordedOptions {
        registry: cfg.registry.clone(),
        window_ticks: cfg.window_ticks,
        depth_levels: cfg.depth_levels,
        parser: cfg.parser,
        ..RecordedOptions::default()
    };
    let mut sessions = Recorded::new(cfg.venues.clone(), opts);
    let mut errors = 0u64;
    let mut first_error = None;
    let read_errors = Vec::new();
    let mut count = 0u64;
    let mut started: Option<Instant> = None;
    let mut pace_origin: Option<(u64, u64)> = None;
    'outer: while let Ok(msg) = rx.recv() {
        let batch = match msg {
            Load::Batch(b) => b,
            Load::Done => break 'outer,
        };
        if started.is_none() {
            started = Some(Instant::now());
        }
        for r in &batch.recs {
            if cfg.pace == Pace::Recorded && r.ts != 0 {
                let now = cfg.clock.now_ns();
                let (rec0, real0) = *pace_origin.get_or_insert((r.ts, now));
                let gap = r.ts.saturating_sub(rec0);
                let scaled = if cfg.speed == 1.0 { gap } else { (gap as f64 / cfg.speed) as u64 };
                let due = real0.saturating_add(scaled);
                wait_until(&cfg.clock, due);
            }
            let payload = &batch.data[r.payload.0 as usize..r.payload.1 as usize];
            let url =
                std::str::from_utf8(&batch.data[r.url.0 as usize..r.url.1 as usize]).unwrap_or("");
            sink.recorded_ts = r.ts;
            // Events carry this pipeline's own receive stamp (the latency table measures it);
            // the recorded time travels beside them on the side ring.
            let local = cfg.clock.now_ns();
            let handled = sessions
                .handle(r.group, r.conn, r.kind, url, payload, local, &mut sink)
                .with_context(|| format!("record {count} (recorded at {} ns)", r.ts))?;
            if let Err(e) = handled.result {
                errors += 1;
                if first_error.is_none() {
                    let excerpt = String::from_utf8_lossy(&payload[..payload.len().min(100)]);
                    first_error =
                        Some(format!("record {count} (recorded at {} ns): {e}: {excerpt}", r.ts));
                }
            }
            count += 1;
            if count & 1023 == 0 {
                progress.store(count, Ordering::Relaxed);
            }
        }
        let mut batch = batch;
        batch.data.clear();
        batch.recs.clear();
        let _ = free.send(batch);
    }
    progress.store(count, Ordering::Relaxed);
    let elapsed = started.map_or(Duration::ZERO, |s| s.elapsed());
    let reference = (0..cfg.venues.len().max(1))
        .filter_map(|g| {
            let t = sessions.reference(u16::try_from(g).ok()?)?;
            Some((t.instruments.len(), format!("{}: {}", t.venue, t.source)))
        })
        .collect();
    Ok(EngineOut {
        reference,
        engines: sessions
            .into_sessions()
            .into_iter()
            .map(|s| (usize::from(s.group), s.session.base(), s.session.into_engine()))
            .collect(),
        errors,
        elapsed,
        first_error,
        read_errors,
    })
}

fn wait_until(clock: &Clock, due: u64) {
    loop {
        let now = clock.now_ns();
        if now >= due {
            return;
        }
        let left = due - now;
        if left > 200_000 {
            std::thread::sleep(Duration::from_nanos(left - 100_000));
        } else {
            std::hint::spin_loop();
        }
    }
}

/// The replay's consumer: every event's recorded receive time comes off the side ring (pushed
/// one for one with the events), for the latency table and the sinks' rows.
struct Replayed {
    clock: Clock,
    side: spsc::Consumer<u64>,
    latency: Latency,
    writer: SinkWriter,
    /// `--publish`: the same events, rows stamped with the recorded time.
    fanout: Option<Fanout>,
}

impl OnEvent for Replayed {
    #[inline]
    fn on_event(&mut self, ev: &Event) {
        let recorded = self.side.try_pop().unwrap_or(0);
        self.latency.record_replayed(ev, self.clock.now_ns(), recorded);
        self.writer.event(ev, recorded);
        if let Some(f) = &mut self.fanout {
            f.push(ev, recorded);
        }
    }

    fn on_batch_end(&mut self) {
        if let Some(f) = &mut self.fanout {
            f.flush();
        }
    }

    fn on_idle(&mut self, _consumer: &Consumer) {
        if let Some(f) = &mut self.fanout {
            f.idle();
        }
    }
}

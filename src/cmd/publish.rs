//! `--publish` on `replay` and `live`, and `ladderfeed subscribe`: the event stream to other
//! processes (iceoryx2) and hosts (Zenoh), through the library's [`ladderfeed::fanout`].

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use ladderfeed::fanout::{self, Fanout, FanoutStats, Subscriber, SubscriberStats};

use super::sinks::{OutputArgs, SinkWriter};

/// The publishing options `replay` and `live` share.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct PublishArgs {
    /// Publish the event stream: `iceoryx2:SERVICE` (processes on this host, shared memory)
    /// or `zenoh:ENDPOINT[#KEY]` (other hosts: this process listens on ENDPOINT, e.g.
    /// `zenoh:tcp/127.0.0.1:7447`). Repeatable. Read it with `ladderfeed subscribe`.
    #[arg(long, value_name = "TRANSPORT")]
    pub publish: Vec<String>,
    /// Before starting, wait up to this many seconds for a subscriber on every `--publish`
    /// transport (so a subscriber started first gets the stream from its first record).
    #[arg(long, value_name = "SECONDS")]
    pub publish_wait: Option<f64>,
}

impl PublishArgs {
    /// Opens the transports (none: `None`) and waits for subscribers if asked.
    pub fn open(&self) -> Result<Option<Fanout>> {
        if self.publish.is_empty() {
            return Ok(None);
        }
        let mut transports = Vec::with_capacity(self.publish.len());
        for spec in &self.publish {
            transports.push(fanout::publish_to(spec).with_context(|| format!("--publish {spec}"))?);
        }
        let mut out = Fanout::new(transports);
        println!("publishing   {} (stream {:016x})", out.describe().join(", "), out.stream_id());
        if let Some(secs) = self.publish_wait {
            let waited = Instant::now();
            if !out.wait_for_subscribers(Duration::from_secs_f64(secs.max(0.0))) {
                eprintln!(
                    "warning: no subscriber on every transport after {secs} s: starting anyway"
                );
            } else {
                println!("subscribers  there after {:.3} s", waited.elapsed().as_secs_f64());
            }
        }
        Ok(Some(out))
    }
}

/// Prints what a publisher did.
pub fn report(stats: &FanoutStats) {
    println!(
        "published    {} records in {} samples, {} failed sends, {} snapshots served, {} heartbeats{}",
        stats.records,
        stats.samples,
        stats.send_failures,
        stats.snapshots,
        stats.heartbeats,
        stats.first_error.as_deref().map(|e| format!("; first error: {e}")).unwrap_or_default()
    );
}

/// `ladderfeed subscribe` options.
#[derive(Debug, clap::Args)]
pub struct SubscribeArgs {
    /// Where the stream is published: `iceoryx2:SERVICE` or `zenoh:ENDPOINT[#KEY]`.
    pub from: String,
    /// Output files (as `replay`'s).
    #[command(flatten)]
    pub out: OutputArgs,
    /// Stop after this many seconds (default: when the publisher ends its stream).
    #[arg(long, value_name = "SECONDS")]
    pub duration: Option<f64>,
    /// Keep going after the publisher ends its stream (until --duration or Ctrl-C).
    #[arg(long)]
    pub follow: bool,
    /// Samples the transport queues for this subscriber (64 records each); when it falls
    /// further behind, the oldest are lost (and counted).
    #[arg(long, default_value_t = fanout::DEFAULT_QUEUE)]
    pub queue: usize,
    /// Spin while nothing arrives instead of sleeping (lowest latency, a whole core).
    #[arg(long)]
    pub busy_poll: bool,
}

/// The subscriber's figures, for `--summary-json`.
#[derive(Debug, serde::Serialize)]
struct SubscribeSummary<'a> {
    transport: &'a str,
    records: u64,
    snapshot_records: u64,
    snapshots: u64,
    lost: u64,
    malformed: u64,
    restarts: u64,
    unanswered_joins: u64,
    ended: bool,
    instruments: Vec<SummaryInstrument>,
}

#[derive(Debug, serde::Serialize)]
struct SummaryInstrument {
    id: u16,
    venue: &'static str,
    symbol: String,
    tick: String,
    lot: String,
    bbo: u64,
    trades: u64,
}

/// Runs `ladderfeed subscribe`.
pub fn run(args: SubscribeArgs) -> Result<ExitCode> {
    let sinks = args.out.sinks()?;
    let mut subscriber: Subscriber<Box<dyn fanout::Source>> =
        fanout::subscribe_to(&args.from, args.queue)
            .with_context(|| format!("subscribing to {}", args.from))?;
    let stop = Arc::new(AtomicBool::new(false));
    signal_hook::flag::register(signal_hook::consts::SIGINT, Arc::clone(&stop))?;
    signal_hook::flag::register(signal_hook::consts::SIGTERM, Arc::clone(&stop))?;
    println!("subscribed   {}", subscriber.describe());
    let deadline = args.duration.map(|d| Instant::now() + Duration::from_secs_f64(d.max(0.0)));
    let mut writer = SinkWriter::new(sinks);
    let mut empty = 0u32;
    let started = Instant::now();
    loop {
        let n = subscriber
            .poll(|ev| writer.event(ev, ev.local_ts()))
            .with_context(|| format!("reading {}", args.from))?;
        if subscriber.stats().ended && !args.follow {
            break;
        }
        if stop.load(Ordering::Relaxed) || deadline.is_some_and(|d| Instant::now() >= d) {
            break;
        }
        if n > 0 {
            empty = 0;
        } else if args.busy_poll {
            std::hint::spin_loop();
        } else {
            empty = empty.saturating_add(1);
            let nap = if empty < 64 { 20 } else { 1000 };
            std::thread::sleep(Duration::from_micros(nap));
        }
    }
    let (sinks, error) = writer.finish();
    if let Some(e) = error {
        bail!("writing the output files: {e}");
    }
    let stats = subscriber.stats().clone();
    print_stats(&args.from, &stats, started.elapsed());
    if let Some(path) = &args.out.summary_json {
        write_summary(path, &args.from, &stats, &subscriber, sinks.seen())?;
    }
    Ok(ExitCode::SUCCESS)
}

fn print_stats(from: &str, s: &SubscriberStats, wall: Duration) {
    println!(
        "received     {} records from {from} in {:.3} s ({} from {} snapshots), {} lost, {} malformed samples, {} publisher restarts, {} joins without a snapshot{}",
        s.records,
        wall.as_secs_f64(),
        s.snapshot_records,
        s.snapshots,
        s.lost,
        s.malformed,
        s.restarts,
        s.unanswered_joins,
        if s.ended { "; the publisher ended its stream" } else { "" }
    );
    if let Some(e) = &s.first_error {
        eprintln!("first malformed sample: {e}");
    }
}

fn write_summary<S: fanout::Source>(
    path: &PathBuf,
    from: &str,
    s: &SubscriberStats,
    subscriber: &Subscriber<S>,
    seen: &[super::sinks::Seen],
) -> Result<()> {
    let instruments = subscriber
        .instruments()
        .iter()
        .map(|(id, inst)| {
            let seen = seen.get(usize::from(id)).copied().unwrap_or_default();
            SummaryInstrument {
                id,
                venue: inst.venue.name(),
                symbol: inst.symbol.clone(),
                tick: inst.tick.to_string(),
                lot: inst.lot.to_string(),
                bbo: seen.bbo,
                trades: seen.trades,
            }
        })
        .collect();
    let summary = SubscribeSummary {
        transport: from,
        records: s.records,
        snapshot_records: s.snapshot_records,
        snapshots: s.snapshots,
        lost: s.lost,
        malformed: s.malformed,
        restarts: s.restarts,
        unanswered_joins: s.unanswered_joins,
        ended: s.ended,
        instruments,
    };
    let text = serde_json::to_string_pretty(&summary)?;
    std::fs::write(path, text + "\n").with_context(|| format!("writing {}", path.display()))
}

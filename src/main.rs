//! The `ladderfeed` command line.
//!
//! Until `replay` lands (the capture issue), the main job reads a captured feed in any of the
//! peers' formats (the bundled Binance capture by default), runs every frame through the real
//! venue adapter and engine (parse, sequence, books, checksums, BBO), and prints per symbol
//! what the book went through and where it ended, checked against the venue's own last ticker.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use ladderfeed::book::{InstrumentRegistry, Venue};
use ladderfeed::capture::{self, RecordKind};
use ladderfeed::engine::{Engine, Sink};
use ladderfeed::event::{BookState, Event, EventKind};
use ladderfeed::venue::{Adapter, AnyAdapter};

/// The bundled capture: Binance spot BTCUSDT diffs, trades and bookTicker plus one REST snapshot.
const BUNDLED: &str = "fixtures/binance/hftbacktest_spot_btcusdt_20240808.gz";

const USAGE: &str = "usage: ladderfeed [--venue NAME] [FILE...]

Runs a captured feed through the venue adapter and the book engine and reports each book.
FILE: a capture in any supported format (hftbacktest, cryptofeed raw or v3, tardis raw,
Marfusios, one message per line); cryptofeed `NAME.ws.N.0` files bring their
`NAME.http.*` REST snapshots along. Without FILE: the bundled
fixtures/binance/hftbacktest_spot_btcusdt_20240808.gz.
--venue: coinbase, coinbase-exchange, binance, binance-futures, bitfinex, kraken, kraken-v1,
okx, gemini (gemini-v1 needs a live connection's symbol); guessed from the capture's URLs or
file name when omitted.";

/// Counts what the engine published.
#[derive(Default)]
struct Tally {
    bbo: u64,
    trades: u64,
    states: u64,
    crossed_valid: u64,
}

impl Sink for Tally {
    fn publish(&mut self, event: Event) {
        match event.kind() {
            EventKind::Bbo(b) => {
                self.bbo += 1;
                if event.state().is_valid() && b.is_crossed() {
                    self.crossed_valid += 1;
                }
            }
            EventKind::Trade(_) => self.trades += 1,
            EventKind::BookState { .. } => self.states += 1,
            EventKind::Unknown(_) => {}
        }
    }
}

fn main() -> Result<()> {
    let mut venue: Option<Venue> = None;
    let mut files = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(());
            }
            "--venue" => {
                let name = args.next().context("--venue needs a name")?;
                venue = Some(
                    Venue::from_name(&name).with_context(|| format!("unknown venue {name:?}"))?,
                );
            }
            _ => files.push(PathBuf::from(a)),
        }
    }
    if files.is_empty() {
        files.push(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(BUNDLED));
    }
    run(venue, &files)
}

fn run(venue: Option<Venue>, files: &[PathBuf]) -> Result<()> {
    let mut paths = Vec::new();
    for f in files {
        paths.extend(capture::companions(f));
        paths.push(f.clone());
    }
    paths.sort();
    paths.dedup();
    let mut records = Vec::new();
    for r in capture::open_merged(&paths).context("opening the capture")? {
        match r {
            Ok(r) => records.push(r),
            Err(e) => {
                // Everything before a damaged tail is kept and replayed.
                eprintln!("warning: {e}");
                break;
            }
        }
    }
    let venue = match venue {
        Some(v) => v,
        None => records
            .iter()
            .filter(|r| !r.url.is_empty())
            .find_map(|r| capture::venue_hint(&r.url))
            .or_else(|| paths.iter().find_map(|p| capture::venue_hint(&p.to_string_lossy())))
            .context("cannot tell the venue from the capture: pass --venue")?,
    };
    let adapter = AnyAdapter::new(venue, InstrumentRegistry::with_builtins(), None)
        .with_context(|| format!("venue {} needs a live connection's symbol", venue.name()))?;
    let mut engine = Engine::new(adapter);
    let mut tally = Tally::default();
    let mut errors_shown = 0;
    let mut connected = false;
    let started = Instant::now();
    for r in &records {
        let res = match r.kind {
            RecordKind::Recv => engine.handle_frame(&r.payload, r.local_ts, &mut tally),
            RecordKind::Http => engine.handle_http(&r.url, &r.payload, r.local_ts, &mut tally),
            RecordKind::Connect => {
                if connected {
                    engine.disconnected(r.local_ts, &mut tally);
                }
                connected = true;
                Ok(())
            }
            RecordKind::Disconnect => {
                engine.disconnected(r.local_ts, &mut tally);
                Ok(())
            }
            RecordKind::Sent => Ok(()),
        };
        if let Err(e) = res {
            if errors_shown < 5 {
                let excerpt = String::from_utf8_lossy(&r.payload[..r.payload.len().min(80)]);
                eprintln!("error: {e}: {excerpt}");
                errors_shown += 1;
            }
        }
    }
    let elapsed = started.elapsed();
    report(&engine, &paths, &tally, elapsed)?;
    Ok(())
}

fn report(
    engine: &Engine<AnyAdapter>,
    paths: &[PathBuf],
    tally: &Tally,
    elapsed: std::time::Duration,
) -> Result<()> {
    let st = engine.stats();
    let secs = elapsed.as_secs_f64().max(1e-9);
    let names: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    println!("capture      {}", names.join(", "));
    println!("venue        {}", engine.adapter().venue().name());
    println!(
        "messages     {} frames + {} REST bodies, {:.2} MB in {:.1} ms: {:.0} msgs/s, {:.0} MB/s",
        st.frames,
        st.http,
        st.bytes as f64 / 1e6,
        secs * 1e3,
        (st.frames + st.http) as f64 / secs,
        st.bytes as f64 / 1e6 / secs
    );
    println!(
        "counted      {} control, {} stale skipped, {} waiting for a snapshot, {} errors",
        st.control,
        st.stale,
        st.waiting,
        st.errors.total()
    );
    println!(
        "published    {} BBO, {} trades, {} book-state changes, {} crossed BBOs marked valid",
        tally.bbo, tally.trades, tally.states, tally.crossed_valid
    );
    for (i, info) in engine.symbols().list().iter().enumerate() {
        let s = i as u16;
        let (Some(b), Some(state), Some(bbo)) =
            (engine.book_stats(s), engine.state(s), engine.bbo(s))
        else {
            continue;
        };
        if b.book_messages == 0 && b.trades == 0 {
            continue;
        }
        let inst = &info.instrument;
        let state = match state {
            BookState::Synced => "synced",
            BookState::Resyncing => "resyncing",
            BookState::Stale => "stale",
        };
        println!(
            "{}:{}  {state}  book messages {}  gaps {}  resyncs {}  checksums {} ok / {} failed  crossed {}  trades {}",
            engine.adapter().venue().name(),
            info.key,
            b.book_messages,
            b.gaps,
            b.resyncs,
            b.checksum_ok,
            b.checksum_failed,
            b.crossed_detected,
            b.trades
        );
        if bbo.bid_lots > 0 || bbo.ask_lots > 0 {
            println!(
                "    best bid {} x {}   best ask {} x {}   spread {}",
                inst.format_price(bbo.bid_tick),
                inst.format_qty(bbo.bid_lots),
                inst.format_price(bbo.ask_tick),
                inst.format_qty(bbo.ask_lots),
                inst.format_price(bbo.spread_ticks())
            );
        }
        if let Some(v) = info.venue_bbo {
            let ok = (v.bid_tick, v.ask_tick) == (bbo.bid_tick, bbo.ask_tick);
            println!(
                "    venue's last ticker {} / {}: {}",
                inst.format_price(v.bid_tick),
                inst.format_price(v.ask_tick),
                if ok {
                    "matches the book"
                } else {
                    "differs (the book moved after it, or a fault)"
                }
            );
        }
    }
    if tally.crossed_valid > 0 {
        bail!("a crossed book was published as valid");
    }
    Ok(())
}

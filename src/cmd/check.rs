//! `ladderfeed check`: a data-quality report on captures.
//!
//! Each file given (with the REST snapshots of a cryptofeed `NAME.ws.N.0` log) is run through
//! the real venue adapter and book engine, one engine per connection as in `replay`, and the
//! check watches what happens record by record: the books' counters after each record and the
//! book-state events the engine publishes. Per symbol it reports message counts and the time
//! span, sequence gaps, resyncs, checksum results, the time books spent crossed (until the
//! next snapshot) or out of sync, silences longer than `--stale-after`, and BBO mids that jump
//! by more than `--max-jump-pct`; per file, the records the adapter rejected or that were
//! empty, local receive timestamps that go backwards, and a damaged tail (everything before
//! it is still checked).
//!
//! Positions are record indexes (0-based) in the file's record stream, with the record's local
//! receive time. Exit status: 0 when every file is clean, 1 when a problem was found, 2 when a
//! file cannot be read at all (or its venue cannot be told).

mod report;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use ladderfeed::book::{InstrumentRegistry, Venue};
use ladderfeed::capture::{self, Record, RecordKind};
use ladderfeed::engine::BookStats;
use ladderfeed::event::{Bbo, BookState, Event, EventKind};
use ladderfeed::session::recorded::{Recorded, RecordedOptions};

use super::config::{self, InstrumentArgs};
use report::{FileReport, Jump, Position, SymbolReport};

/// `ladderfeed check` options.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Capture files (any supported format; several venues allowed). Cryptofeed
    /// `NAME.ws.N.0` files bring their `NAME.http.*` REST snapshots along.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// The venue of every file: coinbase, coinbase-exchange, binance, binance-futures,
    /// binance-coinm, bitfinex, kraken, kraken-v1, kraken-futures, okx, gemini, gemini-v1,
    /// bybit, bybit-linear, bybit-inverse, deribit, hyperliquid, bitmex. Told per file by its
    /// header, URLs or messages when omitted.
    #[arg(long)]
    pub venue: Option<String>,
    /// A symbol with no message for longer than this many seconds counts as stale.
    #[arg(long, value_name = "SECS", default_value_t = 60.0)]
    pub stale_after: f64,
    /// A BBO whose mid moves more than this percentage from the previous BBO is a jump.
    #[arg(long, value_name = "PCT", default_value_t = 5.0)]
    pub max_jump_pct: f64,
    /// Write the report as JSON to stdout instead of text.
    #[arg(long)]
    pub json: bool,
    /// Settings from a TOML file (the `live` one): its `[[instrument]]` tables are used.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Instruments' ticks and lots.
    #[command(flatten)]
    pub instruments: InstrumentArgs,
}

/// Thresholds of one run.
#[derive(Debug, Clone, Copy)]
struct Limits {
    stale_after_ns: u64,
    max_jump_pct: f64,
}

/// Runs the check.
pub fn run(args: Args) -> Result<ExitCode> {
    if !(args.stale_after.is_finite() && args.stale_after > 0.0) {
        bail!("--stale-after must be a positive number of seconds");
    }
    if !(args.max_jump_pct.is_finite() && args.max_jump_pct > 0.0) {
        bail!("--max-jump-pct must be a positive percentage");
    }
    let forced = match &args.venue {
        Some(name) => {
            Some(Venue::from_name(name).with_context(|| format!("unknown venue {name:?}"))?)
        }
        None => None,
    };
    let file_config = config::load_optional(args.config.as_deref())?;
    let registry = args.instruments.registry(file_config.as_ref())?;
    let limits = Limits {
        // Saturates for absurdly long thresholds, which is what they mean.
        stale_after_ns: (args.stale_after * 1e9) as u64,
        max_jump_pct: args.max_jump_pct,
    };
    let reports: Vec<FileReport> =
        args.files.iter().map(|f| check_file(f, forced, limits, &registry)).collect();
    let code = if reports.iter().any(|r| r.unreadable.is_some()) {
        2
    } else if reports.iter().any(|r| !r.problems().is_empty()) {
        1
    } else {
        0
    };
    if args.json {
        let v = report::json(&reports, limits.stale_after_ns, limits.max_jump_pct, code);
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        for r in &reports {
            print!("{}", r.text());
        }
        if reports.len() > 1 {
            let bad = reports.iter().filter(|r| r.unreadable.is_some() || !r.problems().is_empty());
            println!("{} of {} files with problems", bad.count(), reports.len());
        }
    }
    Ok(ExitCode::from(code))
}

/// The paths read for `file`: its REST companions and itself.
fn paths_of(file: &Path) -> Vec<PathBuf> {
    let mut paths = capture::companions(file);
    paths.push(file.to_path_buf());
    paths.sort();
    paths.dedup();
    paths
}

/// A file's venue ([`capture::guess_venue`]). `Err` holds why the file cannot be checked.
fn detect_venue(path: &Path) -> Result<Venue, String> {
    capture::guess_venue(path).map_err(|e| e.to_string())?.ok_or_else(|| {
        format!("{}: cannot tell the venue from the capture: pass --venue", path.display())
    })
}

/// Checks one file (and its companions).
fn check_file(
    file: &Path,
    forced: Option<Venue>,
    limits: Limits,
    registry: &InstrumentRegistry,
) -> FileReport {
    let paths = paths_of(file);
    let mut report = FileReport::new(file, &paths);
    report.format = capture::detect(file).ok().map(|f| f.name().to_owned());
    let venue = match forced.map_or_else(|| detect_venue(file), Ok) {
        Ok(v) => v,
        Err(why) => {
            report.unreadable = Some(why);
            return report;
        }
    };
    report.venue = Some(venue.name());
    let mut reader = match capture::open_merged(&paths) {
        Ok(r) => r,
        Err(e) => {
            report.unreadable = Some(e.to_string());
            return report;
        }
    };
    let mut check = Checker::new(venue, limits, registry.clone());
    let mut rec = Record::empty();
    loop {
        match reader.next_into(&mut rec) {
            Ok(true) => {
                if let Err(e) = check.record(&rec, &mut report) {
                    // The adapter cannot be built for this venue: nothing can be checked.
                    report.unreadable = Some(e.to_string());
                    return report;
                }
            }
            Ok(false) => break,
            Err(e) => {
                if report.records == 0 {
                    report.unreadable = Some(e.to_string());
                    return report;
                }
                report.read_error = Some((check.position(), e.to_string()));
                break;
            }
        }
    }
    check.finish(&mut report);
    report
}

/// What the check remembers of one session's books (one connection, or all of a Binance
/// capture), beside [`Recorded::sessions`].
#[derive(Default)]
struct Slot {
    /// Per engine symbol: its counters after the previous record.
    before: Vec<BookStats>,
    /// Per engine symbol: its index in the file's symbol list.
    symbol: Vec<usize>,
}

/// What the check tracks of one symbol between records.
#[derive(Debug, Default)]
struct Track {
    /// Local time of the last record that touched the symbol (0: none yet).
    last_ts: u64,
    /// Since when the book is out of sync (after having been synced once).
    unsynced_since: Option<u64>,
    /// Since when the book is invalid because it was crossed.
    crossed_since: Option<u64>,
    /// The previous two-sided BBO.
    last_bbo: Option<Bbo>,
    synced_once: bool,
}

/// Runs the records of one file through the engines and fills the report.
struct Checker {
    venue: Venue,
    limits: Limits,
    sessions: Recorded,
    slots: Vec<Slot>,
    tracks: Vec<Track>,
    events: Vec<Event>,
    /// Index of the record being handled.
    index: u64,
    /// Local time of the record being handled (the last non-zero time when it has none).
    now: u64,
    /// The latest local time seen.
    newest_ts: u64,
}

impl Checker {
    fn new(venue: Venue, limits: Limits, registry: InstrumentRegistry) -> Self {
        let opts = RecordedOptions { registry, clock: Some(|| 0), ..RecordedOptions::default() };
        Checker {
            venue,
            limits,
            sessions: Recorded::new(vec![venue], opts),
            slots: Vec::new(),
            tracks: Vec::new(),
            events: Vec::new(),
            index: 0,
            now: 0,
            newest_ts: 0,
        }
    }

    /// The position of the record being handled (or of the next one, after the last).
    fn position(&self) -> Position {
        Position { record: self.index, local_ts: self.now }
    }

    fn slot_for(&mut self, conn: u32) -> Result<usize> {
        let i = self.sessions.session_for(0, conn).with_context(|| {
            format!("venue {} needs a live connection's symbol", self.venue.name())
        })?;
        if self.slots.len() <= i {
            self.slots.resize_with(i + 1, Slot::default);
        }
        Ok(i)
    }

    fn record(&mut self, rec: &Record, report: &mut FileReport) -> Result<()> {
        let ts = rec.local_ts;
        if ts != 0 {
            if ts < self.newest_ts {
                report.backwards.count += 1;
                let step = self.newest_ts - ts;
                report.backwards.largest_step_ns = report.backwards.largest_step_ns.max(step);
                if report.backwards.first.is_none() {
                    report.backwards.first = Some(Position { record: self.index, local_ts: ts });
                }
            }
            report.first_ts.get_or_insert(ts);
            report.last_ts = Some(report.last_ts.map_or(ts, |l| l.max(ts)));
            self.newest_ts = self.newest_ts.max(ts);
            self.now = ts;
        }
        report.records += 1;
        let s = self.slot_for(rec.conn)?;
        self.events.clear();
        let pos = self.position();
        let carries_payload = matches!(rec.kind, RecordKind::Recv | RecordKind::Http);
        let res = if carries_payload && rec.payload.iter().all(u8::is_ascii_whitespace) {
            report.empty.note(pos, "empty", "");
            Ok(())
        } else {
            match rec.kind {
                RecordKind::Recv => report.frames += 1,
                RecordKind::Http => report.http += 1,
                RecordKind::Disconnect => report.disconnects += 1,
                RecordKind::Connect | RecordKind::Sent => {}
            }
            let (kind, url, payload) = (rec.kind, rec.url.as_str(), &rec.payload[..]);
            let handled = self.sessions.handle(
                0,
                rec.conn,
                kind,
                url,
                payload,
                self.now,
                &mut self.events,
            )?;
            report.reconnects += u64::from(handled.reconnect);
            handled.result
        };
        if let Err(e) = res {
            let excerpt = String::from_utf8_lossy(&rec.payload[..rec.payload.len().min(80)]);
            report.malformed.note(pos, e.name(), &excerpt);
        }
        self.after_record(s, report);
        self.index += 1;
        Ok(())
    }

    /// Compares every book of slot `s` with its state before the record, and reads the
    /// events the record produced.
    fn after_record(&mut self, s: usize, report: &mut FileReport) {
        let pos = self.position();
        let now = self.now;
        let slot = &mut self.slots[s];
        let engine = self.sessions.sessions()[s].session.engine();
        let base = engine.instrument_base();
        // New symbols: find or add them in the file's list.
        let known = engine.symbols().len();
        while slot.symbol.len() < known {
            let info = &engine.symbols().list()[slot.symbol.len()];
            let idx = match report.symbols.iter().position(|r| r.symbol == info.key) {
                Some(i) => i,
                None => {
                    report.symbols.push(SymbolReport::new(&info.key, info.instrument.clone()));
                    self.tracks.push(Track::default());
                    report.symbols.len() - 1
                }
            };
            slot.symbol.push(idx);
            slot.before.push(BookStats::default());
        }
        for (i, &sym) in slot.symbol.iter().enumerate() {
            let Some(after) = engine.book_stats(i as u16) else { continue };
            let before = &mut slot.before[i];
            if *after == *before {
                continue;
            }
            let r = &mut report.symbols[sym];
            let t = &mut self.tracks[sym];
            r.messages += 1;
            if now != 0 {
                r.first_ts.get_or_insert(now);
                r.last_ts = Some(now);
                if t.last_ts != 0 && now > t.last_ts {
                    let silent = now - t.last_ts;
                    if silent > self.limits.stale_after_ns {
                        r.stale.note(t.last_ts, silent, pos);
                    }
                }
                t.last_ts = now;
            }
            if after.gaps > before.gaps {
                r.gaps.note(pos, after.gaps - before.gaps);
            }
            if after.resyncs > before.resyncs {
                r.resyncs.note(pos, after.resyncs - before.resyncs);
            }
            if after.checksum_failed > before.checksum_failed {
                r.checksum_failed.note(pos, after.checksum_failed - before.checksum_failed);
            }
            if after.crossed_detected > before.crossed_detected {
                r.crossed.note(pos, after.crossed_detected - before.crossed_detected);
                t.crossed_since.get_or_insert(now);
            }
            if after.broken > before.broken || after.rejected_levels > before.rejected_levels {
                let n = (after.broken - before.broken)
                    + (after.rejected_levels - before.rejected_levels);
                r.broken.note(pos, n);
            }
            r.stats = after.clone();
            *before = after.clone();
        }
        for ev in &self.events {
            let i = usize::from(ev.instrument().wrapping_sub(base));
            let Some(&sym) = slot.symbol.get(i) else { continue };
            let r = &mut report.symbols[sym];
            let t = &mut self.tracks[sym];
            match ev.kind() {
                EventKind::BookState { previous } => {
                    let state = ev.state();
                    if state == BookState::Synced {
                        t.synced_once = true;
                        if let Some(since) = t.unsynced_since.take() {
                            r.unsynced_ns += now.saturating_sub(since);
                        }
                        if let Some(since) = t.crossed_since.take() {
                            r.crossed_ns += now.saturating_sub(since);
                        }
                    } else if previous == BookState::Synced {
                        t.unsynced_since = Some(now);
                    }
                }
                EventKind::Bbo(b) => {
                    if b.bid_lots <= 0 || b.ask_lots <= 0 {
                        continue;
                    }
                    if let Some(prev) = t.last_bbo {
                        if let Some(pct) = jump_pct(prev, b) {
                            if pct > self.limits.max_jump_pct {
                                r.jumps.count += 1;
                                if r.jumps.at.len() < report::MAX_LISTED {
                                    r.jumps.at.push(Jump { at: pos, from: prev, to: b, pct });
                                }
                            }
                        }
                    }
                    t.last_bbo = Some(b);
                }
                EventKind::Trade(_)
                | EventKind::InstrumentHead(_)
                | EventKind::InstrumentText { .. }
                | EventKind::DepthLevel { .. }
                | EventKind::DepthEnd { .. }
                | EventKind::DepthClear
                | EventKind::Funding(_)
                | EventKind::MarkIndex(_)
                | EventKind::OpenInterest(_)
                | EventKind::Liquidation(_)
                | EventKind::Unknown(_) => {}
            }
        }
    }

    /// Closes what is still open at the end of the file.
    fn finish(&mut self, report: &mut FileReport) {
        let end = self.newest_ts;
        let end_pos = Position { record: self.index, local_ts: end };
        for (r, t) in report.symbols.iter_mut().zip(&mut self.tracks) {
            if let Some(since) = t.unsynced_since.take() {
                r.unsynced_ns += end.saturating_sub(since);
            }
            if let Some(since) = t.crossed_since.take() {
                r.crossed_ns += end.saturating_sub(since);
            }
            if t.last_ts != 0 && end > t.last_ts && end - t.last_ts > self.limits.stale_after_ns {
                r.stale.note(t.last_ts, end - t.last_ts, end_pos);
            }
            r.never_synced = !t.synced_once;
        }
        for (slot, recorded) in self.slots.iter().zip(self.sessions.sessions()) {
            let engine = recorded.session.engine();
            for (i, &sym) in slot.symbol.iter().enumerate() {
                if let Some(state) = engine.state(i as u16) {
                    report.symbols[sym].state = Some(state);
                }
            }
            let st = engine.stats();
            report.control += st.control;
            report.foreign_frames += st.foreign_frames;
            report.waiting += st.waiting;
            report.stale_skipped += st.stale;
        }
    }
}

/// How far the mid moved from `prev` to `next`, in percent of the previous mid.
fn jump_pct(prev: Bbo, next: Bbo) -> Option<f64> {
    // Twice the mid, in ticks; i128 so absurd tick values cannot overflow.
    let before = i128::from(prev.bid_tick) + i128::from(prev.ask_tick);
    let after = i128::from(next.bid_tick) + i128::from(next.ask_tick);
    if before <= 0 {
        return None;
    }
    Some((after - before).unsigned_abs() as f64 / before as f64 * 100.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bbo(bid_tick: i64, ask_tick: i64) -> Bbo {
        Bbo { bid_tick, bid_lots: 1, ask_tick, ask_lots: 1 }
    }

    #[test]
    fn jump_is_relative_to_the_previous_mid() {
        assert_eq!(jump_pct(bbo(99, 101), bbo(104, 106)), Some(5.0));
        assert_eq!(jump_pct(bbo(99, 101), bbo(94, 96)), Some(5.0));
        assert_eq!(jump_pct(bbo(0, 0), bbo(94, 96)), None);
        assert_eq!(jump_pct(bbo(i64::MAX, i64::MAX), bbo(0, 0)), Some(100.0));
    }
}

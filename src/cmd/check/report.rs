//! The check's report: what was found per file and per symbol, as text and as JSON.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use ladderfeed::book::Instrument;
use ladderfeed::engine::BookStats;
use ladderfeed::event::{Bbo, BookState};
use serde_json::{json, Value};

/// Positions kept per list (counts stay exact).
pub const MAX_LISTED: usize = 20;

/// Where something happened: a record index (0-based) in the file's record stream and that
/// record's local receive time (0 when the capture has no timestamps).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    /// Record index.
    pub record: u64,
    /// Local receive time, epoch ns.
    pub local_ts: u64,
}

impl Position {
    fn text(self) -> String {
        if self.local_ts == 0 {
            format!("record {}", self.record)
        } else {
            format!("record {} ({})", self.record, utc(self.local_ts))
        }
    }

    fn json(self) -> Value {
        json!({ "record": self.record, "local_ts": self.local_ts })
    }
}

/// An event counted with the first positions it happened at.
#[derive(Debug, Clone, Default)]
pub struct Counted {
    /// How many times.
    pub count: u64,
    /// The first [`MAX_LISTED`] positions.
    pub at: Vec<Position>,
}

impl Counted {
    /// Counts `n` at `pos`.
    pub fn note(&mut self, pos: Position, n: u64) {
        self.count += n;
        if self.at.len() < MAX_LISTED {
            self.at.push(pos);
        }
    }

    fn json(&self) -> Value {
        json!({ "count": self.count, "at": self.at.iter().map(|p| p.json()).collect::<Vec<_>>() })
    }

    fn positions(&self) -> String {
        let mut s = self.at.iter().map(|p| p.text()).collect::<Vec<_>>().join(", ");
        if self.count > self.at.len() as u64 {
            s.push_str(", …");
        }
        s
    }
}

/// Records that could not be used, by kind, with the first few.
#[derive(Debug, Clone, Default)]
pub struct Malformed {
    /// How many.
    pub count: u64,
    /// Count per error name ([`ladderfeed::venue::VenueError::name`], or `empty`).
    pub by_kind: BTreeMap<&'static str, u64>,
    /// The first [`MAX_LISTED`]: position, error name, start of the payload.
    pub first: Vec<(Position, &'static str, String)>,
}

impl Malformed {
    /// Counts one at `pos`.
    pub fn note(&mut self, pos: Position, kind: &'static str, excerpt: &str) {
        self.count += 1;
        *self.by_kind.entry(kind).or_default() += 1;
        if self.first.len() < MAX_LISTED {
            self.first.push((pos, kind, excerpt.to_owned()));
        }
    }

    fn json(&self) -> Value {
        let first: Vec<Value> = self
            .first
            .iter()
            .map(|(p, k, e)| {
                json!({ "record": p.record, "local_ts": p.local_ts, "error": k, "excerpt": e })
            })
            .collect();
        json!({ "count": self.count, "by_kind": self.by_kind, "first": first })
    }
}

/// Local receive times that went backwards.
#[derive(Debug, Clone, Default)]
pub struct Backwards {
    /// Records stamped earlier than a record before them.
    pub count: u64,
    /// The first such record.
    pub first: Option<Position>,
    /// The largest step back, ns.
    pub largest_step_ns: u64,
}

/// Silences longer than the threshold.
#[derive(Debug, Clone, Default)]
pub struct Stale {
    /// How many silences.
    pub count: u64,
    /// Their total length, ns.
    pub total_ns: u64,
    /// The longest: its start (local ns), its length (ns) and the record that ended it.
    pub longest: Option<(u64, u64, Position)>,
}

impl Stale {
    /// Counts a silence from `start_ts` lasting `ns`, ended by the record at `end`.
    pub fn note(&mut self, start_ts: u64, ns: u64, end: Position) {
        self.count += 1;
        self.total_ns = self.total_ns.saturating_add(ns);
        if self.longest.is_none_or(|(_, l, _)| ns > l) {
            self.longest = Some((start_ts, ns, end));
        }
    }
}

/// A BBO whose mid moved more than the threshold.
#[derive(Debug, Clone, Copy)]
pub struct Jump {
    /// The record that published the new BBO.
    pub at: Position,
    /// The BBO before.
    pub from: Bbo,
    /// The BBO after.
    pub to: Bbo,
    /// The move of the mid, percent.
    pub pct: f64,
}

/// Jumps with the first few.
#[derive(Debug, Clone, Default)]
pub struct Jumps {
    /// How many.
    pub count: u64,
    /// The first [`MAX_LISTED`].
    pub at: Vec<Jump>,
}

/// One symbol of one file.
#[derive(Debug, Clone)]
pub struct SymbolReport {
    /// The symbol as the venue writes it.
    pub symbol: String,
    /// Its tick and lot, to print prices.
    pub instrument: Instrument,
    /// Records that touched this symbol's book or trades.
    pub messages: u64,
    /// Local time of the first and last of them.
    pub first_ts: Option<u64>,
    /// See `first_ts`.
    pub last_ts: Option<u64>,
    /// The engine's counters at the end (of the last connection that touched the symbol).
    pub stats: BookStats,
    /// Sequence gaps.
    pub gaps: Counted,
    /// Books invalidated after being synced.
    pub resyncs: Counted,
    /// Checksum mismatches.
    pub checksum_failed: Counted,
    /// Books found crossed after a message.
    pub crossed: Counted,
    /// Time from a crossed book to its next snapshot, ns.
    pub crossed_ns: u64,
    /// Messages that failed part-way or carried a negative size.
    pub broken: Counted,
    /// Time out of sync after having been synced, ns.
    pub unsynced_ns: u64,
    /// Silences.
    pub stale: Stale,
    /// BBO jumps.
    pub jumps: Jumps,
    /// The book's state at the end.
    pub state: Option<BookState>,
    /// The book was never synced (no snapshot in the capture).
    pub never_synced: bool,
}

impl SymbolReport {
    /// An empty report for `symbol`.
    pub fn new(symbol: &str, instrument: Instrument) -> Self {
        SymbolReport {
            symbol: symbol.to_owned(),
            instrument,
            messages: 0,
            first_ts: None,
            last_ts: None,
            stats: BookStats::default(),
            gaps: Counted::default(),
            resyncs: Counted::default(),
            checksum_failed: Counted::default(),
            crossed: Counted::default(),
            crossed_ns: 0,
            broken: Counted::default(),
            unsynced_ns: 0,
            stale: Stale::default(),
            jumps: Jumps::default(),
            state: None,
            never_synced: true,
        }
    }

    fn span_ns(&self) -> u64 {
        match (self.first_ts, self.last_ts) {
            (Some(a), Some(b)) => b.saturating_sub(a),
            _ => 0,
        }
    }

    fn bbo_text(&self, b: Bbo) -> String {
        let i = &self.instrument;
        format!("{}/{}", i.format_price(b.bid_tick), i.format_price(b.ask_tick))
    }

    /// One line per problem of this symbol.
    fn problems(&self, out: &mut Vec<String>) {
        let s = &self.symbol;
        let mut counted = |what: &str, c: &Counted| {
            if c.count > 0 {
                out.push(format!("{s}: {} {what} at {}", c.count, c.positions()));
            }
        };
        counted("gap(s)", &self.gaps);
        counted("checksum failure(s)", &self.checksum_failed);
        counted("crossed book(s)", &self.crossed);
        counted("broken message(s)", &self.broken);
        counted("resync(s)", &self.resyncs);
        if self.stats.crossed_published > 0 {
            out.push(format!(
                "{s}: {} crossed BBOs published as valid",
                self.stats.crossed_published
            ));
        }
        if let Some((start, ns, end)) = self.stale.longest {
            out.push(format!(
                "{s}: stale {} time(s), {} in all; longest {} from {} to {}",
                self.stale.count,
                secs(self.stale.total_ns),
                secs(ns),
                utc(start),
                end.text()
            ));
        }
        if self.jumps.count > 0 {
            let list: Vec<String> = self
                .jumps
                .at
                .iter()
                .map(|j| {
                    format!(
                        "{} {} → {} ({:.2}%)",
                        j.at.text(),
                        self.bbo_text(j.from),
                        self.bbo_text(j.to),
                        j.pct
                    )
                })
                .collect();
            let more = if self.jumps.count > list.len() as u64 { ", …" } else { "" };
            out.push(format!("{s}: {} BBO jump(s): {}{more}", self.jumps.count, list.join(", ")));
        }
    }

    fn json(&self) -> Value {
        let jumps: Vec<Value> = self
            .jumps
            .at
            .iter()
            .map(|j| {
                json!({
                    "record": j.at.record,
                    "local_ts": j.at.local_ts,
                    "from_bid": self.instrument.format_price(j.from.bid_tick),
                    "from_ask": self.instrument.format_price(j.from.ask_tick),
                    "to_bid": self.instrument.format_price(j.to.bid_tick),
                    "to_ask": self.instrument.format_price(j.to.ask_tick),
                    "pct": j.pct,
                })
            })
            .collect();
        let longest = self
            .stale
            .longest
            .map(|(start, ns, end)| json!({ "from_ts": start, "ns": ns, "ended_at": end.json() }));
        json!({
            "symbol": self.symbol,
            "messages": self.messages,
            "book_messages": self.stats.book_messages,
            "snapshots": self.stats.snapshots,
            "trades": self.stats.trades,
            "bbo": self.stats.bbo_published,
            "first_ts": self.first_ts,
            "last_ts": self.last_ts,
            "span_ns": self.span_ns(),
            "gaps": self.gaps.json(),
            "resyncs": self.resyncs.json(),
            "checksums": {
                "ok": self.stats.checksum_ok,
                "failed": self.checksum_failed.count,
                "failed_at": self.checksum_failed.at.iter().map(|p| p.json()).collect::<Vec<_>>(),
            },
            "crossed": {
                "count": self.crossed.count,
                "ns": self.crossed_ns,
                "at": self.crossed.at.iter().map(|p| p.json()).collect::<Vec<_>>(),
            },
            "crossed_published": self.stats.crossed_published,
            "broken": self.broken.json(),
            "unsynced_ns": self.unsynced_ns,
            "stale": {
                "count": self.stale.count,
                "ns": self.stale.total_ns,
                "longest": longest,
            },
            "jumps": { "count": self.jumps.count, "at": jumps },
            "state": self.state.map(state_name),
            "never_synced": self.never_synced,
        })
    }
}

/// One file given on the command line.
#[derive(Debug, Clone)]
pub struct FileReport {
    /// The file as given.
    pub file: PathBuf,
    /// Every file read for it (REST companions included).
    pub paths: Vec<PathBuf>,
    /// The capture format, when detected.
    pub format: Option<String>,
    /// The venue, when known.
    pub venue: Option<&'static str>,
    /// Why the file could not be checked at all.
    pub unreadable: Option<String>,
    /// Records read.
    pub records: u64,
    /// WebSocket frames among them.
    pub frames: u64,
    /// REST bodies among them.
    pub http: u64,
    /// Control frames (heartbeats, acknowledgements, tickers).
    pub control: u64,
    /// Frames that follow another venue's rules than the one detected or given.
    pub foreign_frames: u64,
    /// Book messages held while waiting for a snapshot.
    pub waiting: u64,
    /// Book messages already covered by a snapshot.
    pub stale_skipped: u64,
    /// Connection drops.
    pub disconnects: u64,
    /// Connections opened again.
    pub reconnects: u64,
    /// Local time of the first and last records.
    pub first_ts: Option<u64>,
    /// See `first_ts`.
    pub last_ts: Option<u64>,
    /// Records the adapter rejected.
    pub malformed: Malformed,
    /// Records without payload.
    pub empty: Malformed,
    /// Receive times going backwards.
    pub backwards: Backwards,
    /// A damaged tail: where the reading stopped, and why.
    pub read_error: Option<(Position, String)>,
    /// Per symbol.
    pub symbols: Vec<SymbolReport>,
}

impl FileReport {
    /// An empty report for `file`, read from `paths`.
    pub fn new(file: &Path, paths: &[PathBuf]) -> Self {
        FileReport {
            file: file.to_path_buf(),
            paths: paths.to_vec(),
            format: None,
            venue: None,
            unreadable: None,
            records: 0,
            frames: 0,
            http: 0,
            control: 0,
            foreign_frames: 0,
            waiting: 0,
            stale_skipped: 0,
            disconnects: 0,
            reconnects: 0,
            first_ts: None,
            last_ts: None,
            malformed: Malformed::default(),
            empty: Malformed::default(),
            backwards: Backwards::default(),
            read_error: None,
            symbols: Vec::new(),
        }
    }

    /// Every problem found, one line each (empty: clean).
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(why) = &self.unreadable {
            out.push(format!("cannot be read: {why}"));
            return out;
        }
        if let Some((pos, why)) = &self.read_error {
            out.push(format!("reading stopped before {}: {why}", pos.text()));
        }
        for (what, m) in [("malformed", &self.malformed), ("empty", &self.empty)] {
            if m.count == 0 {
                continue;
            }
            let kinds: Vec<String> = m.by_kind.iter().map(|(k, n)| format!("{n} {k}")).collect();
            let (pos, kind, excerpt) = &m.first[0];
            let mut line = format!(
                "{} {what} record(s) ({}); first at {}: {kind}",
                m.count,
                kinds.join(", "),
                pos.text()
            );
            if !excerpt.is_empty() {
                let _ = write!(line, ": {excerpt}");
            }
            out.push(line);
        }
        if self.foreign_frames > 0 {
            out.push(format!(
                "{} frames follow another venue's rules than {} (Binance USD-M depth updates under the spot rule, or the reverse): pass the right --venue",
                self.foreign_frames,
                self.venue.unwrap_or("?")
            ));
        }
        if m_all_rejected(self) {
            out.push(format!(
                "every frame was rejected: is the venue right? (detected {}; pass --venue)",
                self.venue.unwrap_or("?")
            ));
        }
        if let Some(first) = self.backwards.first {
            out.push(format!(
                "local time goes backwards {} time(s), first at {}, largest step {}",
                self.backwards.count,
                first.text(),
                secs(self.backwards.largest_step_ns)
            ));
        }
        for s in &self.symbols {
            s.problems(&mut out);
        }
        out
    }

    fn span_ns(&self) -> u64 {
        match (self.first_ts, self.last_ts) {
            (Some(a), Some(b)) => b.saturating_sub(a),
            _ => 0,
        }
    }

    /// The report as text.
    pub fn text(&self) -> String {
        let mut o = String::new();
        let _ = writeln!(o, "{}", self.file.display());
        let others: Vec<String> = self
            .paths
            .iter()
            .filter(|p| **p != self.file)
            .map(|p| p.display().to_string())
            .collect();
        if !others.is_empty() {
            let _ = writeln!(o, "  with        {}", others.join(", "));
        }
        if self.unreadable.is_some() {
            for p in self.problems() {
                let _ = writeln!(o, "  PROBLEM     {p}");
            }
            let _ = writeln!(o, "  result      UNREADABLE\n");
            return o;
        }
        let _ = writeln!(
            o,
            "  venue       {}, format {}",
            self.venue.unwrap_or("?"),
            self.format.as_deref().unwrap_or("?")
        );
        let _ = writeln!(
            o,
            "  records     {} ({} frames, {} REST bodies, {} control, {} disconnects)",
            self.records, self.frames, self.http, self.control, self.disconnects
        );
        match (self.first_ts, self.last_ts) {
            (Some(a), Some(b)) => {
                let _ = writeln!(o, "  time        {} → {} ({})", utc(a), utc(b), secs(b - a));
            }
            _ => {
                let _ = writeln!(o, "  time        no timestamps in this capture");
            }
        }
        let _ = writeln!(
            o,
            "  records     {} malformed, {} empty, {} stamped earlier than the one before",
            self.malformed.count, self.empty.count, self.backwards.count
        );
        if !self.symbols.is_empty() {
            o.push_str(&self.table());
        }
        let problems = self.problems();
        for p in &problems {
            let _ = writeln!(o, "  PROBLEM     {p}");
        }
        let result = if problems.is_empty() { "OK" } else { "PROBLEMS" };
        let _ = writeln!(o, "  result      {result} ({} problem lines)\n", problems.len());
        o
    }

    fn table(&self) -> String {
        let head = [
            "symbol",
            "messages",
            "book",
            "trades",
            "span",
            "gaps",
            "resyncs",
            "checksums",
            "crossed",
            "unsynced",
            "stale",
            "jumps",
            "state",
        ];
        let mut rows: Vec<Vec<String>> = vec![head.iter().map(|h| (*h).to_owned()).collect()];
        for s in &self.symbols {
            let checksums = if s.stats.checksum_ok + s.checksum_failed.count == 0 {
                "-".to_owned()
            } else {
                format!("{} ok/{} bad", s.stats.checksum_ok, s.checksum_failed.count)
            };
            let crossed = if s.crossed.count == 0 {
                "0".to_owned()
            } else {
                format!("{} ({})", s.crossed.count, secs(s.crossed_ns))
            };
            let stale = if s.stale.count == 0 {
                "0".to_owned()
            } else {
                format!("{} ({})", s.stale.count, secs(s.stale.total_ns))
            };
            let state = if s.never_synced {
                "no book".to_owned()
            } else {
                s.state.map_or("-", state_name).to_owned()
            };
            rows.push(vec![
                s.symbol.clone(),
                s.messages.to_string(),
                s.stats.book_messages.to_string(),
                s.stats.trades.to_string(),
                secs(s.span_ns()),
                s.gaps.count.to_string(),
                s.resyncs.count.to_string(),
                checksums,
                crossed,
                secs(s.unsynced_ns),
                stale,
                s.jumps.count.to_string(),
                state,
            ]);
        }
        let mut widths = vec![0usize; head.len()];
        for r in &rows {
            for (w, c) in widths.iter_mut().zip(r) {
                *w = (*w).max(c.chars().count());
            }
        }
        let mut o = String::new();
        for r in &rows {
            o.push_str("  ");
            for (i, (c, w)) in r.iter().zip(&widths).enumerate() {
                let pad = w - c.chars().count();
                if i == 0 || i == r.len() - 1 {
                    let _ = write!(o, "{c}{}", " ".repeat(pad));
                } else {
                    let _ = write!(o, "{}{c}", " ".repeat(pad));
                }
                if i + 1 < r.len() {
                    o.push_str("  ");
                }
            }
            let trimmed = o.trim_end().len();
            o.truncate(trimmed);
            o.push('\n');
        }
        o
    }

    fn json(&self) -> Value {
        let problems = self.problems();
        let status = if self.unreadable.is_some() {
            "unreadable"
        } else if problems.is_empty() {
            "ok"
        } else {
            "problems"
        };
        json!({
            "file": self.file.display().to_string(),
            "paths": self.paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
            "status": status,
            "venue": self.venue,
            "format": self.format,
            "records": self.records,
            "frames": self.frames,
            "http": self.http,
            "control": self.control,
            "foreign_frames": self.foreign_frames,
            "waiting": self.waiting,
            "stale_skipped": self.stale_skipped,
            "disconnects": self.disconnects,
            "reconnects": self.reconnects,
            "first_ts": self.first_ts,
            "last_ts": self.last_ts,
            "span_ns": self.span_ns(),
            "malformed": self.malformed.json(),
            "empty": self.empty.json(),
            "backwards": {
                "count": self.backwards.count,
                "first": self.backwards.first.map(Position::json),
                "largest_step_ns": self.backwards.largest_step_ns,
            },
            "read_error": self.read_error.as_ref().map(|(p, why)| {
                json!({ "record": p.record, "local_ts": p.local_ts, "error": why })
            }),
            "symbols": self.symbols.iter().map(SymbolReport::json).collect::<Vec<_>>(),
            "problems": problems,
        })
    }
}

/// Frames were given and the adapter rejected every one of them.
fn m_all_rejected(r: &FileReport) -> bool {
    r.frames > 0 && r.malformed.count >= r.frames
}

/// The whole run as JSON.
pub fn json(reports: &[FileReport], stale_after_ns: u64, max_jump_pct: f64, exit: u8) -> Value {
    json!({
        "stale_after_ns": stale_after_ns,
        "max_jump_pct": max_jump_pct,
        "exit": exit,
        "files": reports.iter().map(FileReport::json).collect::<Vec<_>>(),
    })
}

fn state_name(s: BookState) -> &'static str {
    match s {
        BookState::Synced => "synced",
        BookState::Resyncing => "resyncing",
        BookState::Stale => "stale",
    }
}

/// A duration in seconds, 3 decimals.
fn secs(ns: u64) -> String {
    format!("{}.{:03}s", ns / 1_000_000_000, ns % 1_000_000_000 / 1_000_000)
}

/// Epoch ns as UTC `YYYY-MM-DDTHH:MM:SS.ffffffZ` (microseconds).
pub fn utc(ns: u64) -> String {
    let secs = ns / 1_000_000_000;
    let micros = ns % 1_000_000_000 / 1_000;
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (y, m, d) = civil_date(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{micros:06}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian.
fn civil_date(days: u64) -> (u64, u64, u64) {
    // Count from 0000-03-01 so the leap day ends each 4-, 100- and 400-year cycle.
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097; // day of the 400-year era, 0..146096
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // 0..399
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // day of the March-based year
    let mp = (5 * doy + 2) / 153; // March = 0
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = era * 400 + yoe + u64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_formats_known_instants() {
        assert_eq!(utc(0), "1970-01-01T00:00:00.000000Z");
        // 2024-02-29 (leap day) 12:34:56.789012 UTC.
        assert_eq!(utc(1_709_210_096_789_012_345), "2024-02-29T12:34:56.789012Z");
        // 2000-03-01 00:00:00 (after a 400-year leap day).
        assert_eq!(utc(951_868_800_000_000_000), "2000-03-01T00:00:00.000000Z");
        assert!(utc(u64::MAX).ends_with('Z'));
    }

    #[test]
    fn durations_print_milliseconds() {
        assert_eq!(secs(0), "0.000s");
        assert_eq!(secs(1_234_567_890), "1.234s");
    }
}

//! Per-stage latency histograms, recorded on the consumer thread, and their reports.
//!
//! Five stages, each in its own [`Histogram`] of nanoseconds (1 ns to 100 s, three
//! significant digits; recording never allocates):
//!
//! | [`Stage`]              | from → to                                             |
//! |------------------------|-------------------------------------------------------|
//! | `ReceiveToParsed`      | `local_ts` → parsed stamp (decode, book update)        |
//! | `ParsedToPublished`    | parsed → pushed onto the ring                         |
//! | `PublishedToConsumed`  | pushed → popped on the consumer thread (the ring hop) |
//! | `ReceiveToConsumed`    | `local_ts` → popped: the whole feed handler           |
//! | `ExchangeToReceive`    | venue `exch_ts` → `local_ts`: network **and clock skew** |
//!
//! Exchange → receive mixes the venue's clock with ours, so it is kept apart in reports; a
//! negative value (our clock behind the venue's) is counted, not recorded.
//!
//! Outputs: a text table ([`Latency::report`]), one HdrHistogram percentile-distribution
//! file per stage ([`Latency::write_hgrm`], the format HdrHistogram's plotter reads), and a
//! PNG chart ([`chart`](super::chart), feature `charts`).
//!
//! ```
//! use ladderfeed::consumer::{Latency, Stage};
//! use ladderfeed::event::{Bbo, BookState, Event, Stamps};
//!
//! let mut latency = Latency::new();
//! let stamps = Stamps { exch_ts: 1_000, local_ts: 5_000, parsed_ts: 5_400 };
//! let ev = Event::bbo(stamps, 0, BookState::Synced, Bbo::default());
//! latency.record(&ev, 6_000);
//! assert_eq!(latency.histogram(Stage::ReceiveToConsumed).max(), 1_000);
//! let table = latency.report().to_string();
//! assert!(table.contains("p99.99"));
//! let mut hgrm = Vec::new();
//! latency.write_hgrm(Stage::ReceiveToParsed, &mut hgrm).unwrap();
//! assert!(String::from_utf8(hgrm).unwrap().contains("#[Max     ="));
//! ```

use std::fmt;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use hdrhistogram::Histogram;

use crate::event::Event;

/// A latency stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stage {
    /// Receive stamp → parsed stamp.
    ReceiveToParsed,
    /// Parsed stamp → published (pushed) stamp.
    ParsedToPublished,
    /// Published stamp → consumed (popped) stamp.
    PublishedToConsumed,
    /// Receive stamp → consumed stamp.
    ReceiveToConsumed,
    /// Exchange timestamp → receive stamp (includes clock skew).
    ExchangeToReceive,
}

impl Stage {
    /// Every stage, in report order.
    pub const ALL: [Stage; 5] = [
        Stage::ReceiveToParsed,
        Stage::ParsedToPublished,
        Stage::PublishedToConsumed,
        Stage::ReceiveToConsumed,
        Stage::ExchangeToReceive,
    ];

    /// A short label for tables and charts.
    pub const fn label(self) -> &'static str {
        match self {
            Stage::ReceiveToParsed => "receive→parsed",
            Stage::ParsedToPublished => "parsed→published",
            Stage::PublishedToConsumed => "published→consumed",
            Stage::ReceiveToConsumed => "receive→consumed",
            Stage::ExchangeToReceive => "exchange→receive (skew)",
        }
    }

    /// A file-name stem (`recv_to_parsed`, …) for exported files.
    pub const fn file_stem(self) -> &'static str {
        match self {
            Stage::ReceiveToParsed => "recv_to_parsed",
            Stage::ParsedToPublished => "parsed_to_published",
            Stage::PublishedToConsumed => "published_to_consumed",
            Stage::ReceiveToConsumed => "recv_to_consumed",
            Stage::ExchangeToReceive => "exch_to_recv",
        }
    }

    const fn index(self) -> usize {
        self as usize
    }
}

/// The largest latency recorded exactly, ns (larger values saturate to it): 100 s.
pub const MAX_LATENCY_NS: u64 = 100_000_000_000;
/// Significant decimal digits kept by every histogram.
pub const SIGFIG: u8 = 3;

/// Per-stage latency histograms. Allocates in [`Latency::new`] only.
#[derive(Debug, Clone)]
pub struct Latency {
    hists: [Histogram<u64>; 5],
    /// Records whose `exch_ts` was later than `local_ts` (our clock behind the venue's).
    exch_ahead: u64,
    /// Records without an exchange timestamp.
    exch_missing: u64,
}

impl Default for Latency {
    fn default() -> Self {
        Self::new()
    }
}

impl Latency {
    /// Empty histograms, 1 ns ..= [`MAX_LATENCY_NS`], [`SIGFIG`] digits.
    pub fn new() -> Self {
        let hist = || {
            Histogram::new_with_bounds(1, MAX_LATENCY_NS, SIGFIG)
                .unwrap_or_else(|_| unreachable!("constant bounds are valid"))
        };
        Latency { hists: core::array::from_fn(|_| hist()), exch_ahead: 0, exch_missing: 0 }
    }

    /// Records `event`'s stage latencies, with `consumed_ts` (epoch ns, same clock as the
    /// publisher) as the consumed stamp. Never allocates.
    #[inline]
    pub fn record(&mut self, event: &Event, consumed_ts: u64) {
        self.record_replayed(event, consumed_ts, event.local_ts());
    }

    /// [`Latency::record`] for a replayed event: the pipeline stages use the event's stamps
    /// (taken by this replay), exchange → receive uses `recorded_ts`, the receive time the
    /// capture holds (a replay's own receive stamp has nothing to do with the venue's clock).
    #[inline]
    pub fn record_replayed(&mut self, event: &Event, consumed_ts: u64, recorded_ts: u64) {
        let local = event.local_ts();
        let parsed = event.parsed_ts();
        let published = event.published_ts();
        let h = &mut self.hists;
        h[Stage::ReceiveToParsed.index()].saturating_record(parsed - local);
        h[Stage::ParsedToPublished.index()].saturating_record(published.saturating_sub(parsed));
        h[Stage::PublishedToConsumed.index()]
            .saturating_record(consumed_ts.saturating_sub(published));
        h[Stage::ReceiveToConsumed.index()].saturating_record(consumed_ts.saturating_sub(local));
        let exch = event.exch_ts();
        if exch == 0 {
            self.exch_missing += 1;
        } else if exch > recorded_ts {
            self.exch_ahead += 1;
        } else {
            h[Stage::ExchangeToReceive.index()].saturating_record(recorded_ts - exch);
        }
    }

    /// The histogram of `stage`, in ns.
    pub fn histogram(&self, stage: Stage) -> &Histogram<u64> {
        &self.hists[stage.index()]
    }

    /// Records whose exchange timestamp was ahead of the receive stamp (not in the
    /// exchange→receive histogram).
    pub fn exch_ahead(&self) -> u64 {
        self.exch_ahead
    }

    /// Records without an exchange timestamp.
    pub fn exch_missing(&self) -> u64 {
        self.exch_missing
    }

    /// Empties every histogram and counter (no allocation).
    pub fn reset(&mut self) {
        self.hists.iter_mut().for_each(Histogram::reset);
        self.exch_ahead = 0;
        self.exch_missing = 0;
    }

    /// The text report: count, p50, p90, p99, p99.9, p99.99 and max per stage.
    pub fn report(&self) -> LatencyReport<'_> {
        LatencyReport { latency: self }
    }

    /// Writes `stage`'s histogram as an HdrHistogram percentile distribution (`.hgrm`),
    /// values in microseconds. See [`write_hgrm`].
    pub fn write_hgrm(&self, stage: Stage, out: impl Write) -> io::Result<()> {
        write_hgrm(self.histogram(stage), 1_000.0, out)
    }

    /// Writes one `<stem>.hgrm` per stage into `dir` (created if missing) and returns the
    /// paths.
    pub fn write_hgrm_files(&self, dir: &Path) -> io::Result<Vec<PathBuf>> {
        std::fs::create_dir_all(dir)?;
        let mut paths = Vec::with_capacity(Stage::ALL.len());
        for stage in Stage::ALL {
            let path = dir.join(format!("{}.hgrm", stage.file_stem()));
            let mut file = io::BufWriter::new(std::fs::File::create(&path)?);
            self.write_hgrm(stage, &mut file)?;
            file.flush()?;
            paths.push(path);
        }
        Ok(paths)
    }
}

/// Writes `hist` in HdrHistogram's percentile-distribution text format (what Java's
/// `outputPercentileDistribution` prints and the HdrHistogram plotter reads): a
/// `Value Percentile TotalCount 1/(1-Percentile)` table at five steps per halving of the
/// remaining percentile, then the `#[Mean …]`, `#[Max …]` and `#[Buckets …]` footer. Values
/// are divided by `scale` (1000.0 turns ns into µs).
pub fn write_hgrm(hist: &Histogram<u64>, scale: f64, mut out: impl Write) -> io::Result<()> {
    writeln!(
        out,
        "{:>12} {:>14} {:>10} {:>14}\n",
        "Value", "Percentile", "TotalCount", "1/(1-Percentile)"
    )?;
    let mut total = 0u64;
    if !hist.is_empty() {
        for v in hist.iter_quantiles(5) {
            total += v.count_since_last_iteration();
            let value = v.value_iterated_to() as f64 / scale;
            let q = v.quantile_iterated_to();
            if q < 1.0 {
                writeln!(out, "{value:12.3} {q:2.12} {total:10} {:14.2}", 1.0 / (1.0 - q))?;
            } else {
                writeln!(out, "{value:12.3} {q:2.12} {total:10}")?;
            }
        }
    }
    let sub_buckets = (2 * 10u64.pow(u32::from(hist.sigfig()))).next_power_of_two();
    writeln!(
        out,
        "#[Mean    = {:12.3}, StdDeviation   = {:12.3}]",
        hist.mean() / scale,
        hist.stdev() / scale
    )?;
    writeln!(
        out,
        "#[Max     = {:12.3}, Total count    = {:12}]",
        hist.max() as f64 / scale,
        hist.len()
    )?;
    writeln!(out, "#[Buckets = {:12}, SubBuckets     = {:12}]", hist.buckets(), sub_buckets)
}

/// The percentiles in the text report.
pub(crate) const REPORT_QUANTILES: [(f64, &str); 5] =
    [(0.5, "p50"), (0.9, "p90"), (0.99, "p99"), (0.999, "p99.9"), (0.9999, "p99.99")];

/// A nanosecond figure in the unit that keeps it short: `812 ns`, `1.52 µs`, `15.3 ms`.
pub fn format_ns(ns: u64) -> String {
    let n = ns as f64;
    if ns < 1_000 {
        format!("{ns} ns")
    } else if ns < 1_000_000 {
        format!("{:.3} µs", n / 1e3)
    } else if ns < 1_000_000_000 {
        format!("{:.3} ms", n / 1e6)
    } else {
        format!("{:.3} s", n / 1e9)
    }
}

/// The text table from [`Latency::report`]; `Display` renders it.
#[derive(Debug, Clone, Copy)]
pub struct LatencyReport<'a> {
    latency: &'a Latency,
}

impl fmt::Display for LatencyReport<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:<24} {:>10}", "stage", "count")?;
        for (_, name) in REPORT_QUANTILES {
            write!(f, " {name:>11}")?;
        }
        writeln!(f, " {:>11}", "max")?;
        for stage in Stage::ALL {
            let h = self.latency.histogram(stage);
            write!(f, "{:<24} {:>10}", stage.label(), h.len())?;
            for (q, _) in REPORT_QUANTILES {
                let cell =
                    if h.is_empty() { "-".into() } else { format_ns(h.value_at_quantile(q)) };
                write!(f, " {cell:>11}")?;
            }
            let max = if h.is_empty() { "-".into() } else { format_ns(h.max()) };
            writeln!(f, " {max:>11}")?;
        }
        let (ahead, missing) = (self.latency.exch_ahead, self.latency.exch_missing);
        if ahead + missing > 0 {
            writeln!(
                f,
                "exchange→receive left out: {ahead} with exch_ts after local_ts (clock skew), \
                 {missing} without exch_ts"
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hgrm_has_the_standard_shape() {
        let mut h = Histogram::<u64>::new_with_bounds(1, MAX_LATENCY_NS, SIGFIG).unwrap();
        for v in 1..=10_000u64 {
            h.record(v * 100).unwrap();
        }
        let mut out = Vec::new();
        write_hgrm(&h, 1_000.0, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0].split_whitespace().collect::<Vec<_>>(),
            ["Value", "Percentile", "TotalCount", "1/(1-Percentile)"]
        );
        assert_eq!(lines[1], "");
        let first: Vec<&str> = lines[2].split_whitespace().collect();
        assert_eq!(first.len(), 4);
        assert_eq!(first[1], "0.000000000000");
        let last_row: Vec<&str> = lines[lines.len() - 4].split_whitespace().collect();
        assert_eq!(last_row[1], "1.000000000000");
        assert_eq!(last_row[2], "10000");
        assert!(lines[lines.len() - 3].starts_with("#[Mean    ="));
        assert!(lines[lines.len() - 2].starts_with("#[Max     ="));
        assert!(lines[lines.len() - 2].ends_with("Total count    =        10000]"));
        assert!(lines[lines.len() - 1].starts_with("#[Buckets ="));
    }

    #[test]
    fn report_lists_every_stage() {
        let latency = Latency::new();
        let text = latency.report().to_string();
        for stage in Stage::ALL {
            assert!(text.contains(stage.label()));
        }
    }
}

//! The replay summary: a text report for people and `--summary-json` for machines.
//!
//! JSON shape (field names are a contract):
//!
//! ```text
//! { "messages", "bytes", "elapsed_s", "msgs_per_s", "mb_per_s", "errors",
//!   "exch_ahead", "foreign_frames", "derivatives_unknown_symbol", "scanner_fallbacks",
//!   "tls_record_errors", "instrument_requests_failed",   (live only)
//!   "symbols": { "<venue>:<symbol>": { "venue", "symbol", "book_messages", "gaps", "resyncs",
//!       "checksum_ok", "checksum_failed", "checks_waited", "crossed_published", "state",
//!       "bid_px", "bid_qty", "ask_px", "ask_qty", "trades", "tick", "lot",
//!       "instrument_source", "funding", "mark_index", "open_interest", "liquidations" } },
//!   "latency_ns": { "<stage>": { "count", "p50", "p99", "p999", "max" } } }
//! ```
//!
//! Prices and sizes are decimal strings without trailing zeros (`null` for an empty side).
//! The derivatives counts (records the consumer received per book, and entries skipped
//! because their instrument is not one of the connection's) are always in the JSON and in
//! the text only when nonzero. A live run adds the TLS record layer's errors (connections
//! ended by a record that does not authenticate, a fatal alert, a message out of place, an end
//! without `close_notify`: [`tls::record_errors`](ladderfeed::net::tls::record_errors)) and the
//! instrument-list requests that failed or whose answer could not be read (at start and on
//! refresh), in the text and the JSON, zero included; a replay has neither.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result};
use ladderfeed::book::Venue;
use ladderfeed::consumer::{format_ns, Latency, Stage};
use ladderfeed::engine::Engine;
use ladderfeed::event::{BookState, InstrumentId};
use ladderfeed::venue::AnyAdapter;
use serde_json::{json, Value};

use super::sinks::{state_name, Seen};

/// One engine (one venue connection) to summarise.
pub struct EngineReport<'a> {
    /// Its venue.
    pub venue: Venue,
    /// Its first instrument id.
    pub base: InstrumentId,
    /// The engine after the replay.
    pub engine: &'a Engine<AnyAdapter>,
}

/// One book, aggregated over the connections that carried it.
#[derive(Debug, Clone, Default)]
pub struct SymbolSummary {
    /// Venue name.
    pub venue: String,
    /// The symbol as the venue writes it.
    pub symbol: String,
    /// Book messages applied.
    pub book_messages: u64,
    /// Gaps detected.
    pub gaps: u64,
    /// Synced → resyncing transitions.
    pub resyncs: u64,
    /// Checksums verified.
    pub checksum_ok: u64,
    /// Checksums that failed.
    pub checksum_failed: u64,
    /// Failed checks that waited for another line's copy of a lost message (redundant lines
    /// arbitrated by content) instead of invalidating the book.
    pub checks_waited: u64,
    /// Crossed books detected (and invalidated) by the engine.
    pub crossed_detected: u64,
    /// Crossed BBOs the consumer received marked valid: must be 0.
    pub crossed_published: u64,
    /// Trades published.
    pub trades: u64,
    /// Funding records the consumer received.
    pub funding: u64,
    /// Mark and index records the consumer received.
    pub mark_index: u64,
    /// Open interest records the consumer received.
    pub open_interest: u64,
    /// Liquidation records the consumer received.
    pub liquidations: u64,
    /// The book's final state.
    pub state: Option<BookState>,
    /// Final best bid `(price, size)`.
    pub bid: Option<(String, String)>,
    /// Final best ask `(price, size)`.
    pub ask: Option<(String, String)>,
    /// Final spread.
    pub spread: Option<String>,
    /// The venue's own last ticker `(bid, ask)` and whether the book agrees.
    pub venue_ticker: Option<(String, String, bool)>,
    /// The instrument's tick, lot and where they came from (configured, builtin, learned).
    pub steps: Option<(String, String, &'static str)>,
    /// Book messages of the connection the final BBO comes from.
    lead: u64,
}

/// One stage's percentiles, ns.
#[derive(Debug, Clone, Copy)]
pub struct StageSummary {
    /// Samples.
    pub count: u64,
    /// Median.
    pub p50: u64,
    /// 99th percentile.
    pub p99: u64,
    /// 99.9th percentile.
    pub p999: u64,
    /// Maximum.
    pub max: u64,
}

/// The whole replay.
#[derive(Debug, Clone)]
pub struct Summary {
    /// Frames and REST bodies handled.
    pub messages: u64,
    /// Their bytes.
    pub bytes: u64,
    /// First record taken to last record handled.
    pub elapsed: Duration,
    /// Records the adapters rejected.
    pub errors: u64,
    /// Control messages (acks, heartbeats, subscriptions).
    pub control: u64,
    /// Book updates already covered by the book (skipped).
    pub stale: u64,
    /// Book updates that arrived while their book waited for a snapshot.
    pub waiting: u64,
    /// Per book, keyed `venue:symbol`.
    pub symbols: BTreeMap<String, SymbolSummary>,
    /// Per latency stage.
    pub latency: Vec<(Stage, StageSummary)>,
    /// Events whose venue time was later than the capture's receive time (clock skew).
    pub exch_ahead: u64,
    /// Frames that follow another venue's rules (the capture's venue is likely wrong).
    pub foreign_frames: u64,
    /// Derivatives entries skipped because their instrument is not one of the connection's
    /// (an instrument type's whole liquidation stream, data before the book is known).
    pub derivatives_unknown_symbol: u64,
    /// Frames the venue's scanner did not recognise exactly and simd-json read instead.
    pub scanner_fallbacks: u64,
    /// Live only: TLS connections ended by a record-layer error, process-wide.
    pub tls_record_errors: Option<u64>,
    /// Live only: instrument-list requests that failed or whose answer could not be read.
    pub instrument_requests_failed: Option<u64>,
}

impl Summary {
    /// Gathers the summary from the engines, the consumer's per-instrument counts and its
    /// latency histograms.
    pub fn build(
        engines: &[EngineReport<'_>],
        seen: &[Seen],
        latency: &Latency,
        elapsed: Duration,
        errors: u64,
    ) -> Summary {
        let (mut messages, mut bytes, mut control, mut stale, mut waiting) = (0, 0, 0, 0, 0);
        let (mut foreign_frames, mut derivatives_unknown_symbol) = (0, 0);
        let mut scanner_fallbacks = 0;
        let mut symbols: BTreeMap<String, SymbolSummary> = BTreeMap::new();
        for e in engines {
            let st = e.engine.stats();
            messages += st.frames + st.http;
            bytes += st.bytes;
            control += st.control;
            stale += st.stale;
            waiting += st.waiting;
            foreign_frames += st.foreign_frames;
            derivatives_unknown_symbol += st.derivatives_unknown_symbol;
            scanner_fallbacks += st.scanner_fallbacks;
            for (i, info) in e.engine.symbols().list().iter().enumerate() {
                let idx = i as u16;
                let (Some(b), Some(state), Some(bbo)) =
                    (e.engine.book_stats(idx), e.engine.state(idx), e.engine.bbo(idx))
                else {
                    continue;
                };
                let key = format!("{}:{}", e.venue.name(), info.key);
                let s = symbols.entry(key).or_insert_with(|| SymbolSummary {
                    venue: e.venue.name().to_owned(),
                    symbol: info.key.clone(),
                    ..SymbolSummary::default()
                });
                s.book_messages += b.book_messages;
                s.gaps += b.gaps;
                s.resyncs += b.resyncs;
                s.checksum_ok += b.checksum_ok;
                s.checksum_failed += b.checksum_failed;
                s.checks_waited += b.checks_waited;
                s.crossed_detected += b.crossed_detected;
                s.trades += b.trades;
                let id = usize::from(e.base + idx);
                if let Some(seen) = seen.get(id) {
                    s.crossed_published += seen.crossed_published;
                    s.funding += seen.funding;
                    s.mark_index += seen.mark_index;
                    s.open_interest += seen.open_interest;
                    s.liquidations += seen.liquidations;
                }
                // The final book is the one of the connection that carried most of it.
                if s.state.is_none() || b.book_messages > s.lead {
                    s.lead = b.book_messages;
                    s.state = Some(state);
                    let inst = &info.instrument;
                    s.steps =
                        Some((inst.tick.to_string(), inst.lot.to_string(), inst.source.name()));
                    s.bid = (bbo.bid_lots > 0)
                        .then(|| (inst.format_price(bbo.bid_tick), inst.format_qty(bbo.bid_lots)));
                    s.ask = (bbo.ask_lots > 0)
                        .then(|| (inst.format_price(bbo.ask_tick), inst.format_qty(bbo.ask_lots)));
                    s.spread = (bbo.bid_lots > 0 && bbo.ask_lots > 0)
                        .then(|| inst.format_price(bbo.spread_ticks()));
                    s.venue_ticker = info.venue_bbo.map(|v| {
                        (
                            inst.format_price(v.bid_tick),
                            inst.format_price(v.ask_tick),
                            (v.bid_tick, v.ask_tick) == (bbo.bid_tick, bbo.ask_tick),
                        )
                    });
                }
            }
        }
        let latency_rows = Stage::ALL
            .iter()
            .map(|&stage| {
                let h = latency.histogram(stage);
                let q = |p: f64| if h.is_empty() { 0 } else { h.value_at_quantile(p) };
                (
                    stage,
                    StageSummary {
                        count: h.len(),
                        p50: q(0.5),
                        p99: q(0.99),
                        p999: q(0.999),
                        max: if h.is_empty() { 0 } else { h.max() },
                    },
                )
            })
            .collect();
        Summary {
            messages,
            bytes,
            elapsed,
            errors,
            control,
            stale,
            waiting,
            symbols,
            latency: latency_rows,
            exch_ahead: latency.exch_ahead(),
            foreign_frames,
            derivatives_unknown_symbol,
            scanner_fallbacks,
            tls_record_errors: None,
            instrument_requests_failed: None,
        }
    }

    /// Crossed BBOs published as valid, over every book.
    pub fn crossed_published(&self) -> u64 {
        self.symbols.values().map(|s| s.crossed_published).sum()
    }

    fn secs(&self) -> f64 {
        self.elapsed.as_secs_f64().max(1e-9)
    }

    /// Messages per second over the engine's busy span.
    pub fn msgs_per_s(&self) -> f64 {
        self.messages as f64 / self.secs()
    }

    /// MB (10^6 bytes) per second.
    pub fn mb_per_s(&self) -> f64 {
        self.bytes as f64 / 1e6 / self.secs()
    }

    /// The text report.
    pub fn text(&self, files: &[String], wall: Duration) -> String {
        let mut o = String::new();
        let _ = writeln!(o, "capture      {}", files.join(", "));
        let _ = writeln!(
            o,
            "replayed     {} messages, {:.2} MB in {:.1} ms: {:.0} msgs/s, {:.0} MB/s ({:.1} ms wall)",
            self.messages,
            self.bytes as f64 / 1e6,
            self.secs() * 1e3,
            self.msgs_per_s(),
            self.mb_per_s(),
            wall.as_secs_f64() * 1e3
        );
        let _ = writeln!(
            o,
            "counted      {} control, {} stale skipped, {} waiting for a snapshot, {} errors",
            self.control, self.stale, self.waiting, self.errors
        );
        if self.foreign_frames > 0 {
            let _ = writeln!(
                o,
                "WARNING      {} frames follow another venue's rules (Binance USD-M depth updates under the spot rule, or the reverse): the capture's venue is likely wrong (--venue)",
                self.foreign_frames
            );
        }
        if let Some(n) = self.tls_record_errors {
            let _ = writeln!(
                o,
                "tls          {n} record errors (a record that does not authenticate, a fatal alert, a message out of place, an end without close_notify)"
            );
        }
        if let Some(n) = self.instrument_requests_failed {
            let _ =
                writeln!(o, "instruments  {n} requests failed or answered what could not be read");
        }
        if self.scanner_fallbacks > 0 {
            let _ = writeln!(
                o,
                "scanner      {} frames not recognised by the venue's scanner, read by simd-json",
                self.scanner_fallbacks
            );
        }
        if self.derivatives_unknown_symbol > 0 {
            let _ = writeln!(
                o,
                "derivatives  {} entries skipped: their instrument is not one of the connection's",
                self.derivatives_unknown_symbol
            );
        }
        for (key, s) in &self.symbols {
            let state = s.state.map_or("none", state_name);
            let _ = writeln!(
                o,
                "{key}  {state}  messages {}  gaps {}  resyncs {}  checksums {} ok / {} failed  crossed published {}  trades {}",
                s.book_messages,
                s.gaps,
                s.resyncs,
                s.checksum_ok,
                s.checksum_failed,
                s.crossed_published,
                s.trades
            );
            if s.checks_waited > 0 {
                let _ = writeln!(
                    o,
                    "{key}  failed checks that waited for the other line: {}",
                    s.checks_waited
                );
            }
            if s.bid.is_some() || s.ask.is_some() {
                let side = |x: &Option<(String, String)>| {
                    x.as_ref().map_or("-".to_owned(), |(p, q)| format!("{p} x {q}"))
                };
                let _ = writeln!(
                    o,
                    "    best bid {}   best ask {}   spread {}",
                    side(&s.bid),
                    side(&s.ask),
                    s.spread.as_deref().unwrap_or("-")
                );
            }
            if s.funding + s.mark_index + s.open_interest + s.liquidations > 0 {
                let _ = writeln!(
                    o,
                    "    derivatives  funding {}  mark/index {}  open interest {}  liquidations {}",
                    s.funding, s.mark_index, s.open_interest, s.liquidations
                );
            }
            if let Some((bid, ask, same)) = &s.venue_ticker {
                let _ = writeln!(
                    o,
                    "    venue's last ticker {bid} / {ask}: {}",
                    if *same {
                        "matches the book"
                    } else {
                        "differs (the book moved after it, or a fault)"
                    }
                );
            }
        }
        let _ = writeln!(o, "latency (replay pipeline, this machine):");
        for (stage, l) in &self.latency {
            if l.count == 0 {
                continue;
            }
            let _ = writeln!(
                o,
                "    {:<24} n={:<9} p50 {:>9}  p99 {:>9}  p99.9 {:>9}  max {:>9}",
                stage.label(),
                l.count,
                format_ns(l.p50),
                format_ns(l.p99),
                format_ns(l.p999),
                format_ns(l.max)
            );
        }
        if self.exch_ahead > 0 {
            let _ = writeln!(
                o,
                "    exchange→receive: {} events stamped by the venue after the capture received them (clock skew)",
                self.exch_ahead
            );
        }
        o
    }

    /// The JSON document.
    pub fn json(&self) -> Value {
        let side = |x: &Option<(String, String)>, price: bool| -> Value {
            match x {
                Some((p, q)) => Value::String(if price { p.clone() } else { q.clone() }),
                None => Value::Null,
            }
        };
        let symbols: serde_json::Map<String, Value> = self
            .symbols
            .iter()
            .map(|(k, s)| {
                (
                    k.clone(),
                    json!({
                        "venue": s.venue,
                        "symbol": s.symbol,
                        "book_messages": s.book_messages,
                        "gaps": s.gaps,
                        "resyncs": s.resyncs,
                        "checksum_ok": s.checksum_ok,
                        "checksum_failed": s.checksum_failed,
                        "checks_waited": s.checks_waited,
                        "crossed_published": s.crossed_published,
                        "state": s.state.map_or("stale", state_name),
                        "bid_px": side(&s.bid, true),
                        "bid_qty": side(&s.bid, false),
                        "ask_px": side(&s.ask, true),
                        "ask_qty": side(&s.ask, false),
                        "trades": s.trades,
                        "tick": s.steps.as_ref().map(|t| t.0.clone()),
                        "lot": s.steps.as_ref().map(|t| t.1.clone()),
                        "instrument_source": s.steps.as_ref().map(|t| t.2),
                        "funding": s.funding,
                        "mark_index": s.mark_index,
                        "open_interest": s.open_interest,
                        "liquidations": s.liquidations,
                    }),
                )
            })
            .collect();
        let latency: serde_json::Map<String, Value> = self
            .latency
            .iter()
            .map(|(stage, l)| {
                (
                    stage.file_stem().to_owned(),
                    json!({"count": l.count, "p50": l.p50, "p99": l.p99, "p999": l.p999, "max": l.max}),
                )
            })
            .collect();
        let mut doc = json!({
            "messages": self.messages,
            "bytes": self.bytes,
            "elapsed_s": self.elapsed.as_secs_f64(),
            "msgs_per_s": self.msgs_per_s(),
            "mb_per_s": self.mb_per_s(),
            "errors": self.errors,
            "exch_ahead": self.exch_ahead,
            "foreign_frames": self.foreign_frames,
            "derivatives_unknown_symbol": self.derivatives_unknown_symbol,
            "scanner_fallbacks": self.scanner_fallbacks,
            "symbols": symbols,
            "latency_ns": latency,
        });
        for (key, value) in [
            ("tls_record_errors", self.tls_record_errors),
            ("instrument_requests_failed", self.instrument_requests_failed),
        ] {
            if let Some(n) = value {
                doc[key] = json!(n);
            }
        }
        doc
    }
}

/// Writes [`Summary::json`] to `path`.
pub fn write_json(summary: &Summary, path: &Path) -> Result<()> {
    let text = serde_json::to_string_pretty(&summary.json())?;
    std::fs::write(path, text + "\n").with_context(|| format!("writing {}", path.display()))
}

//! Output files written on the consumer thread, off the hot path: BBO changes, top-N depth,
//! trades, derivatives tickers (funding rate, next funding time, mark, index, open interest)
//! and liquidations, as CSV or JSON lines (chosen by the file's extension).
//!
//! The funding file (`--funding-out`) is a derivatives ticker: a row for every funding,
//! mark/index or open-interest record, carrying the instrument's latest known value of each
//! of the five (an empty cell, or `null`, until the venue has sent it), so every row is the
//! whole picture at that moment. `next_funding_ts` is epoch milliseconds. The liquidations file
//! (`--liquidations-out`) has a row per liquidation order: `side` is the order's (`sell`
//! closes a long).
//!
//! Every row carries the capture's own timestamps (the recorded receive time and the venue's
//! time), never the replay's wall clock, so replaying a capture twice writes identical bytes.
//! Prices and sizes are exact decimal text from integer ticks and lots: no floating point.

use std::fmt::Write as _;
use std::fs::File;
use std::io::{BufWriter, Error, ErrorKind, Result, Write};
use std::path::{Path, PathBuf};

use super::{Depth, Instruments};
use crate::book::Instrument;
use crate::book::Step;
use crate::event::{Bbo, BookState, Event, EventKind, InstrumentId, Scaled, Side};

/// The most levels per side `--depth` accepts.
pub const MAX_DEPTH: usize = 50;

/// File encodings, by extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Csv,
    Jsonl,
}

fn encoding(path: &Path) -> Result<Encoding> {
    match path.extension().and_then(|e| e.to_str()) {
        Some("csv") => Ok(Encoding::Csv),
        Some("jsonl") => Ok(Encoding::Jsonl),
        _ => Err(Error::new(
            ErrorKind::InvalidInput,
            format!("{}: the extension must be .csv or .jsonl", path.display()),
        )),
    }
}

fn create(path: &Path) -> Result<BufWriter<File>> {
    let f = File::create(path)
        .map_err(|e| Error::new(e.kind(), format!("creating {}: {e}", path.display())))?;
    Ok(BufWriter::with_capacity(1 << 20, f))
}

/// Spread filters for the BBO file.
#[derive(Debug, Clone, Default)]
pub struct SpreadFilter {
    /// Keep rows whose spread is at least this price (decimal text, per instrument's tick).
    pub min_spread: Option<String>,
    /// Keep rows whose spread is at least this many basis points of the ask.
    pub min_spread_bps: Option<f64>,
}

/// What the sinks write (the command line's `--bbo-out`, `--depth-out`, `--trades-out`).
#[derive(Debug, Clone, Default)]
pub struct SinkOptions {
    /// `--bbo-out`.
    pub bbo: Option<PathBuf>,
    /// `--depth-out`.
    pub depth: Option<PathBuf>,
    /// `--depth`.
    pub depth_levels: usize,
    /// `--trades-out`.
    pub trades: Option<PathBuf>,
    /// `--funding-out`: the derivatives ticker (funding, mark, index, open interest).
    pub funding: Option<PathBuf>,
    /// `--liquidations-out`.
    pub liquidations: Option<PathBuf>,
    /// The BBO file's filters.
    pub filter: SpreadFilter,
}

/// The consumer side of the sinks, shared by `replay` and `live`: instrument definitions and
/// books' top N arrive in-band, on the ring, so every event is written as it comes. The first
/// write error is kept and stops further writes.
pub struct SinkWriter {
    sinks: Sinks,
    names: Instruments,
    depth: Depth,
    error: Option<Error>,
}

impl SinkWriter {
    /// Writes into `sinks`.
    pub fn new(sinks: Sinks) -> SinkWriter {
        SinkWriter { sinks, names: Instruments::default(), depth: Depth::default(), error: None }
    }

    /// One event popped from the ring, with the receive time its rows carry.
    pub fn event(&mut self, ev: &Event, ts: u64) {
        if self.names.observe(ev) || self.error.is_some() {
            return;
        }
        let r = if ev.is_depth() {
            if !self.depth.observe(ev) {
                return;
            }
            let id = ev.instrument();
            let (bids, asks) = (self.depth.bids(id), self.depth.asks(id));
            self.sinks.on_depth(id, ts, bids, asks, &self.names)
        } else {
            self.sinks.on_event(ev, ts, &self.names)
        };
        if let Err(e) = r {
            self.error = Some(e);
        }
    }

    /// Flushes the files; returns the sinks and the first error, if any.
    pub fn finish(mut self) -> (Sinks, Option<Error>) {
        if self.error.is_none() {
            if let Err(e) = self.sinks.finish() {
                self.error = Some(e);
            }
        }
        (self.sinks, self.error)
    }
}

/// Per-instrument bookkeeping of the consumer.
#[derive(Debug, Clone, Copy, Default)]
pub struct Seen {
    /// BBO events received.
    pub bbo: u64,
    /// BBO events received as valid although crossed (must stay 0).
    pub crossed_published: u64,
    /// Trade events received.
    pub trades: u64,
    /// Derivatives records received (funding, mark and index, open interest, liquidations).
    pub derivatives: u64,
    /// Funding records received.
    pub funding: u64,
    /// Mark and index records received.
    pub mark_index: u64,
    /// Open interest records received.
    pub open_interest: u64,
    /// Liquidation records received.
    pub liquidations: u64,
    /// The latest derivatives ticker values (the funding file's row).
    ticker: DerivTicker,
    /// The minimum spread in ticks for the BBO filter (resolved per instrument).
    min_spread_ticks: Option<i64>,
    resolved: bool,
}

/// The consumer side: counts what arrives and writes the files.
pub struct Sinks {
    opts: SinkOptions,
    bbo: Option<(Encoding, BufWriter<File>)>,
    depth: Option<(Encoding, BufWriter<File>)>,
    trades: Option<(Encoding, BufWriter<File>)>,
    funding: Option<(Encoding, BufWriter<File>)>,
    liquidations: Option<(Encoding, BufWriter<File>)>,
    seen: Vec<Seen>,
    line: String,
}

impl Sinks {
    /// Creates the files and writes their headers.
    pub fn create(opts: SinkOptions) -> Result<Sinks> {
        let open = |p: &Option<PathBuf>| -> Result<Option<(Encoding, BufWriter<File>)>> {
            p.as_deref().map(|p| Ok((encoding(p)?, create(p)?))).transpose()
        };
        let mut s = Sinks {
            bbo: open(&opts.bbo)?,
            depth: open(&opts.depth)?,
            trades: open(&opts.trades)?,
            funding: open(&opts.funding)?,
            liquidations: open(&opts.liquidations)?,
            opts,
            seen: Vec::new(),
            line: String::with_capacity(512),
        };
        if let Some((Encoding::Csv, w)) = &mut s.bbo {
            w.write_all(
                b"local_ts,exch_ts,venue,symbol,bid_px,bid_qty,ask_px,ask_qty,spread,spread_bps,state\n",
            )?;
        }
        if let Some((Encoding::Csv, w)) = &mut s.depth {
            w.write_all(b"timestamp,symbol,side,price,quantity,level\n")?;
        }
        if let Some((Encoding::Csv, w)) = &mut s.trades {
            w.write_all(b"event_time,symbol,trade_id,price,quantity,trade_time,buyer_is_maker\n")?;
        }
        if let Some((Encoding::Csv, w)) = &mut s.funding {
            w.write_all(FUNDING_HEADER)?;
        }
        if let Some((Encoding::Csv, w)) = &mut s.liquidations {
            w.write_all(LIQUIDATIONS_HEADER)?;
        }
        Ok(s)
    }

    /// What was seen per instrument id.
    pub fn seen(&self) -> &[Seen] {
        &self.seen
    }

    fn seen_mut(&mut self, id: InstrumentId) -> &mut Seen {
        let i = usize::from(id);
        if self.seen.len() <= i {
            self.seen.resize(i + 1, Seen::default());
        }
        &mut self.seen[i]
    }

    /// Takes one event; `recorded_ts` is the capture's receive time of the message that
    /// produced it.
    pub fn on_event(&mut self, ev: &Event, recorded_ts: u64, names: &Instruments) -> Result<()> {
        let id = ev.instrument();
        match ev.kind() {
            EventKind::Bbo(b) => {
                let valid = ev.state().is_valid();
                let seen = self.seen_mut(id);
                seen.bbo += 1;
                if valid && b.is_crossed() {
                    seen.crossed_published += 1;
                }
                if self.bbo.is_some() {
                    if let Some(name) = names.get(id) {
                        self.bbo_row(Some(b), ev.state(), ev.exch_ts(), recorded_ts, id, name)?;
                    }
                }
            }
            EventKind::BookState { .. } => {
                let filtered = self.opts.filter.min_spread.is_some()
                    || self.opts.filter.min_spread_bps.is_some();
                if self.bbo.is_some() && !filtered {
                    if let Some(name) = names.get(id) {
                        self.bbo_row(None, ev.state(), ev.exch_ts(), recorded_ts, id, name)?;
                    }
                }
            }
            EventKind::Trade(t) => {
                self.seen_mut(id).trades += 1;
                if let (Some((enc, w)), Some(name)) = (&mut self.trades, names.get(id)) {
                    let l = &mut self.line;
                    l.clear();
                    let event_ms = recorded_ts / 1_000_000;
                    let trade_ms = ev.exch_ts() / 1_000_000;
                    let maker = match t.aggressor {
                        Some(Side::Sell) => "true",
                        Some(Side::Buy) => "false",
                        None => "",
                    };
                    let (px, qty) =
                        (name.format_trade_price(t.price_tick), name.lot.format(t.size_lots));
                    let _ = match enc {
                        Encoding::Csv => writeln!(
                            l,
                            "{event_ms},{},{},{px},{qty},{trade_ms},{maker}",
                            name.symbol, t.trade_id
                        ),
                        Encoding::Jsonl => writeln!(
                            l,
                            "{{\"event_time\":{event_ms},\"symbol\":\"{}\",\"trade_id\":{},\"price\":\"{px}\",\"quantity\":\"{qty}\",\"trade_time\":{trade_ms},\"buyer_is_maker\":{}}}",
                            name.symbol,
                            t.trade_id,
                            if maker.is_empty() { "null" } else { maker }
                        ),
                    };
                    w.write_all(l.as_bytes())?;
                }
            }
            EventKind::Funding(f) => {
                let seen = self.seen_mut(id);
                seen.derivatives += 1;
                seen.funding += 1;
                seen.ticker.funding_rate = Some(f.rate);
                seen.ticker.next_funding_ts = Some(f.next_funding_ts);
                self.funding_row(ev, recorded_ts, names)?;
            }
            EventKind::MarkIndex(m) => {
                let seen = self.seen_mut(id);
                seen.derivatives += 1;
                seen.mark_index += 1;
                seen.ticker.mark = m.mark.or(seen.ticker.mark);
                seen.ticker.index = m.index.or(seen.ticker.index);
                self.funding_row(ev, recorded_ts, names)?;
            }
            EventKind::OpenInterest(oi) => {
                let seen = self.seen_mut(id);
                seen.derivatives += 1;
                seen.open_interest += 1;
                seen.ticker.open_interest = Some(oi);
                self.funding_row(ev, recorded_ts, names)?;
            }
            EventKind::Liquidation(liq) => {
                let seen = self.seen_mut(id);
                seen.derivatives += 1;
                seen.liquidations += 1;
                if let (Some((enc, w)), Some(name)) = (&mut self.liquidations, names.get(id)) {
                    let l = &mut self.line;
                    l.clear();
                    let side = match liq.side {
                        Side::Buy => "buy",
                        Side::Sell => "sell",
                    };
                    let px = scaled_text(Some(liq.price), name.tick);
                    let qty = scaled_text(Some(liq.size), name.lot);
                    let (exch_ts, venue, symbol) = (ev.exch_ts(), name.venue, &name.symbol);
                    let _ = match enc {
                        Encoding::Csv => writeln!(
                            l,
                            "{recorded_ts},{exch_ts},{venue},{symbol},{side},{px},{qty},{}",
                            state_name(ev.state())
                        ),
                        Encoding::Jsonl => writeln!(
                            l,
                            "{{\"local_ts\":{recorded_ts},\"exch_ts\":{exch_ts},\"venue\":\"{venue}\",\"symbol\":\"{symbol}\",\"side\":\"{side}\",\"price\":{},\"quantity\":{},\"state\":\"{}\"}}",
                            json_text(&px),
                            json_text(&qty),
                            state_name(ev.state())
                        ),
                    };
                    w.write_all(l.as_bytes())?;
                }
            }
            EventKind::InstrumentHead(_)
            | EventKind::InstrumentText { .. }
            | EventKind::DepthLevel { .. }
            | EventKind::DepthEnd { .. }
            | EventKind::DepthClear
            | EventKind::Unknown(_) => {}
        }
        Ok(())
    }

    /// One row of the funding file: `ev`'s instrument's latest derivatives values.
    fn funding_row(&mut self, ev: &Event, recorded_ts: u64, names: &Instruments) -> Result<()> {
        let id = ev.instrument();
        let (Some((enc, w)), Some(name)) = (&mut self.funding, names.get(id)) else {
            return Ok(());
        };
        let t = self.seen.get(usize::from(id)).map(|s| s.ticker).unwrap_or_default();
        let mark = scaled_text(t.mark, name.tick);
        let index = scaled_text(t.index, name.tick);
        let rate = scaled_text(t.funding_rate, Step::ONE);
        let next = t.next_funding_ts.map_or(String::new(), |ns| (ns / 1_000_000).to_string());
        let oi = scaled_text(t.open_interest, name.lot);
        let (exch_ts, venue, symbol, state) =
            (ev.exch_ts(), name.venue, &name.symbol, state_name(ev.state()));
        let l = &mut self.line;
        l.clear();
        let _ = match enc {
            Encoding::Csv => writeln!(
                l,
                "{recorded_ts},{exch_ts},{venue},{symbol},{mark},{index},{rate},{next},{oi},{state}"
            ),
            Encoding::Jsonl => writeln!(
                l,
                "{{\"local_ts\":{recorded_ts},\"exch_ts\":{exch_ts},\"venue\":\"{venue}\",\"symbol\":\"{symbol}\",\"mark_px\":{},\"index_px\":{},\"funding_rate\":{},\"next_funding_ts\":{},\"open_interest\":{},\"state\":\"{state}\"}}",
                json_text(&mark),
                json_text(&index),
                json_text(&rate),
                if next.is_empty() { "null" } else { &next },
                json_text(&oi)
            ),
        };
        w.write_all(l.as_bytes())
    }

    fn bbo_row(
        &mut self,
        bbo: Option<Bbo>,
        state: BookState,
        exch_ts: u64,
        local_ts: u64,
        id: InstrumentId,
        name: &Instrument,
    ) -> Result<()> {
        let inst = name;
        if let Some(b) = bbo {
            if !self.passes(id, &b, inst) {
                return Ok(());
            }
        }
        let Some((enc, w)) = &mut self.bbo else { return Ok(()) };
        let l = &mut self.line;
        l.clear();
        let state = state_name(state);
        let (mut bid_px, mut bid_qty, mut ask_px, mut ask_qty, mut spread, mut bps) = (
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
        );
        if let Some(b) = bbo {
            if b.bid_lots > 0 {
                bid_px = inst.format_price(b.bid_tick);
                bid_qty = inst.format_qty(b.bid_lots);
            }
            if b.ask_lots > 0 {
                ask_px = inst.format_price(b.ask_tick);
                ask_qty = inst.format_qty(b.ask_lots);
            }
            if b.bid_lots > 0 && b.ask_lots > 0 {
                spread = inst.format_price(b.spread_ticks());
                bps = spread_bps_text(&b);
            }
        }
        let _ = match enc {
            Encoding::Csv => writeln!(
                l,
                "{local_ts},{exch_ts},{},{},{bid_px},{bid_qty},{ask_px},{ask_qty},{spread},{bps},{state}",
                name.venue, name.symbol
            ),
            Encoding::Jsonl => {
                let q = |s: &str| if s.is_empty() { "null".to_owned() } else { format!("\"{s}\"") };
                writeln!(
                    l,
                    "{{\"local_ts\":{local_ts},\"exch_ts\":{exch_ts},\"venue\":\"{}\",\"symbol\":\"{}\",\"bid_px\":{},\"bid_qty\":{},\"ask_px\":{},\"ask_qty\":{},\"spread\":{},\"spread_bps\":{},\"state\":\"{state}\"}}",
                    name.venue,
                    name.symbol,
                    q(&bid_px),
                    q(&bid_qty),
                    q(&ask_px),
                    q(&ask_qty),
                    q(&spread),
                    if bps.is_empty() { "null".to_owned() } else { bps.clone() }
                )
            }
        };
        w.write_all(l.as_bytes())
    }

    /// The spread filters.
    fn passes(&mut self, id: InstrumentId, b: &Bbo, inst: &Instrument) -> bool {
        let f = &self.opts.filter;
        if f.min_spread.is_none() && f.min_spread_bps.is_none() {
            return true;
        }
        if b.bid_lots == 0 || b.ask_lots == 0 {
            return false;
        }
        let min_text = f.min_spread.clone();
        let min_bps = f.min_spread_bps;
        let seen = self.seen_mut(id);
        if !seen.resolved {
            seen.resolved = true;
            // A minimum finer than the tick rounds up to the next whole tick.
            seen.min_spread_ticks = min_text.as_deref().map(|t| min_ticks(t, inst));
        }
        if let Some(min) = seen.min_spread_ticks {
            if b.spread_ticks() < min {
                return false;
            }
        }
        if let Some(min) = min_bps {
            // spread / ask in basis points, compared without dividing.
            let lhs = i128::from(b.spread_ticks()) * 10_000;
            if (lhs as f64) < min * b.ask_tick as f64 {
                return false;
            }
        }
        true
    }

    /// Writes one depth row: `id`'s top N (best first) after the message received at `ts`.
    pub fn on_depth(
        &mut self,
        id: InstrumentId,
        ts: u64,
        bids: &[[i64; 2]],
        asks: &[[i64; 2]],
        names: &Instruments,
    ) -> Result<()> {
        let (Some((enc, w)), Some(name)) = (&mut self.depth, names.get(id)) else {
            return Ok(());
        };
        let inst = name;
        let ms = ts / 1_000_000;
        let l = &mut self.line;
        l.clear();
        match enc {
            Encoding::Csv => {
                for (side, levels) in [("B", bids), ("A", asks)] {
                    for (i, [px, qty]) in levels.iter().enumerate() {
                        let _ = writeln!(
                            l,
                            "{ms},{},{side},{},{},{}",
                            name.symbol,
                            inst.format_price(*px),
                            inst.format_qty(*qty),
                            i + 1
                        );
                    }
                }
            }
            Encoding::Jsonl => {
                let _ = write!(l, "{{\"ts\":{ms},\"symbol\":\"{}\",\"bids\":[", name.symbol);
                write_levels(l, bids, inst);
                l.push_str("],\"asks\":[");
                write_levels(l, asks, inst);
                l.push_str("]}\n");
            }
        }
        w.write_all(l.as_bytes())
    }

    /// Flushes every file.
    pub fn finish(&mut self) -> Result<()> {
        let files = [
            &mut self.bbo,
            &mut self.depth,
            &mut self.trades,
            &mut self.funding,
            &mut self.liquidations,
        ];
        for (_, w) in files.into_iter().flatten() {
            w.flush()?;
        }
        Ok(())
    }

    /// The depth the engine thread must snapshot (0 when no depth file).
    pub fn depth_levels(&self) -> usize {
        if self.depth.is_some() {
            self.opts.depth_levels
        } else {
            0
        }
    }
}

/// The funding file's CSV header.
const FUNDING_HEADER: &[u8] =
    b"local_ts,exch_ts,venue,symbol,mark_px,index_px,funding_rate,next_funding_ts,open_interest,state\n";
/// The liquidations file's CSV header.
const LIQUIDATIONS_HEADER: &[u8] = b"local_ts,exch_ts,venue,symbol,side,price,quantity,state\n";

/// An instrument's latest derivatives values (each `None` until the venue sent it).
#[derive(Debug, Clone, Copy, Default)]
struct DerivTicker {
    mark: Option<Scaled>,
    index: Option<Scaled>,
    funding_rate: Option<Scaled>,
    next_funding_ts: Option<u64>,
    open_interest: Option<Scaled>,
}

/// The exact decimal text of `v` in `step` (empty when absent or not representable).
fn scaled_text(v: Option<Scaled>, step: Step) -> String {
    v.and_then(|v| v.format(step)).unwrap_or_default()
}

/// A decimal as a JSON string (exact text), or `null` when empty.
fn json_text(text: &str) -> String {
    if text.is_empty() {
        "null".to_owned()
    } else {
        format!("\"{text}\"")
    }
}

fn write_levels(l: &mut String, levels: &[[i64; 2]], inst: &Instrument) {
    for (i, [px, qty]) in levels.iter().enumerate() {
        if i > 0 {
            l.push(',');
        }
        // JSON numbers written from exact decimal text.
        let _ = write!(l, "[{},{}]", inst.format_price(*px), inst.format_qty(*qty));
    }
}

/// The smallest whole number of ticks at least `text` (a decimal price).
fn min_ticks(text: &str, inst: &Instrument) -> i64 {
    match inst.price_ticks(text.as_bytes()) {
        Ok(t) => t,
        // Finer than the tick: round up (e.g. 0.005 with a 0.01 tick is 1 tick).
        Err(_) => {
            let v: f64 = text.parse().unwrap_or(0.0);
            let tick: f64 = inst.tick.to_string().parse().unwrap_or(1.0);
            (v / tick).ceil() as i64
        }
    }
}

/// `spread / ask × 10 000` with 4 decimals, from integers.
fn spread_bps_text(b: &Bbo) -> String {
    if b.ask_tick <= 0 {
        return String::new();
    }
    // bps × 10^4, rounded half up.
    let num = i128::from(b.spread_ticks()) * 100_000_000;
    let den = i128::from(b.ask_tick);
    let scaled = (2 * num + den) / (2 * den);
    let neg = scaled < 0;
    let a = scaled.unsigned_abs();
    let mut s = format!("{}{}.{:04}", if neg { "-" } else { "" }, a / 10_000, a % 10_000);
    while s.ends_with('0') {
        s.pop();
    }
    if s.ends_with('.') {
        s.pop();
    }
    s
}

/// The summary's name of a book state.
pub fn state_name(state: BookState) -> &'static str {
    match state {
        BookState::Synced => "synced",
        BookState::Resyncing => "resyncing",
        BookState::Stale => "stale",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_bps_is_exact_decimal() {
        let b = Bbo { bid_tick: 9_990, bid_lots: 1, ask_tick: 10_000, ask_lots: 1 };
        assert_eq!(spread_bps_text(&b), "10");
        let b = Bbo { bid_tick: 6_168_599, bid_lots: 1, ask_tick: 6_168_600, ask_lots: 1 };
        // 1 / 6168600 × 10^4 = 0.0016211…
        assert_eq!(spread_bps_text(&b), "0.0016");
    }
}

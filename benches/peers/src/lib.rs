//! Shared helpers for the peer benchmarks: loading update streams from the fixtures.
//!
//! Everything here runs outside the timed regions: it reads and decodes the captures, and
//! hands the benchmarks plain integer (and, for peers that want them, `f64`) level updates,
//! or generated captures ([`kraken_deep_book`]).

mod kraken_deep;

pub use kraken_deep::{kraken_deep_book, KRAKEN_DEEP_DEPTH};

use std::error::Error;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use flate2::read::GzDecoder;
use ladderfeed::book::{Side, Step};

/// A boxed error for the loaders (bench-only code).
pub type LoadError = Box<dyn Error + Send + Sync>;

/// One level update: `side`, price in ticks, size in lots (`0` deletes the level).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Update {
    /// Bid or ask.
    pub side: Side,
    /// Price, ticks.
    pub px_tick: i64,
    /// New size at that price, lots; `0` removes the level.
    pub qty_lots: i64,
}

/// A depth stream as a feed handler applies it: the REST snapshot's levels, then the diffs
/// that follow it, flattened into level updates.
#[derive(Debug, Clone, Default)]
pub struct DepthStream {
    /// The snapshot's levels (bids then asks), all with `qty_lots > 0`.
    pub snapshot: Vec<Update>,
    /// The level updates of the diffs newer than the snapshot, in order.
    pub diffs: Vec<Update>,
    /// How many diff messages `diffs` came from.
    pub diff_messages: usize,
}

impl DepthStream {
    /// The snapshot followed by the diffs: the whole stream a book sees after a (re)sync.
    pub fn all(&self) -> Vec<Update> {
        let mut v = Vec::with_capacity(self.snapshot.len() + self.diffs.len());
        v.extend_from_slice(&self.snapshot);
        v.extend_from_slice(&self.diffs);
        v
    }
}

/// Absolute path of a file under the repository's `fixtures/` directory.
pub fn fixture_path(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures").join(relative)
}

/// Binance spot tick size and lot size for BTCUSDT.
pub const BINANCE_BTCUSDT_TICK: &str = "0.01";
/// Binance spot lot size (quantity precision) for BTCUSDT.
pub const BINANCE_BTCUSDT_LOT: &str = "0.00000001";

/// The bundled hftbacktest capture of Binance spot BTCUSDT (2024-08-08).
pub const BINANCE_BTCUSDT_FIXTURE: &str = "binance/hftbacktest_spot_btcusdt_20240808.gz";

/// Loads a Binance depth capture in hftbacktest's collector format: gzip, one
/// `<local_ns> <json>` per line, one line without a `stream` key holding the REST snapshot
/// (`{"lastUpdateId":..,"bids":[[px,qty]..],"asks":..}`) and `depthUpdate` diffs on a
/// `...@depth...` stream. Diffs with `u <= lastUpdateId` are skipped (Binance's bridging
/// rule); other streams (trades, bookTicker) are ignored.
pub fn load_binance_depth(path: &Path, tick: Step, lot: Step) -> Result<DepthStream, LoadError> {
    let reader = BufReader::new(GzDecoder::new(File::open(path)?));
    let mut snapshot_id = None;
    let mut out = DepthStream::default();
    // Diffs (with their last update id) until the snapshot is known.
    let mut diffs: Vec<(u64, Vec<Update>)> = Vec::new();
    for line in reader.lines() {
        let line = line?;
        let Some((_, json)) = line.split_once(' ') else { continue };
        let v: serde_json::Value = serde_json::from_str(json)?;
        if let Some(id) = v.get("lastUpdateId").and_then(|x| x.as_u64()) {
            if snapshot_id.is_some() {
                // A second snapshot (a resync in the capture): keep the first book.
                continue;
            }
            snapshot_id = Some(id);
            levels(&v["bids"], Side::Bid, tick, lot, &mut out.snapshot)?;
            levels(&v["asks"], Side::Ask, tick, lot, &mut out.snapshot)?;
            continue;
        }
        let is_depth =
            v.get("stream").and_then(|s| s.as_str()).is_some_and(|s| s.contains("@depth"));
        if !is_depth {
            continue;
        }
        let data = &v["data"];
        let last_id = data["u"].as_u64().ok_or("depthUpdate without u")?;
        let mut ups = Vec::new();
        levels(&data["b"], Side::Bid, tick, lot, &mut ups)?;
        levels(&data["a"], Side::Ask, tick, lot, &mut ups)?;
        diffs.push((last_id, ups));
    }
    let snapshot_id = snapshot_id.ok_or("no snapshot in the capture")?;
    for (last_id, ups) in diffs {
        if last_id <= snapshot_id {
            continue;
        }
        out.diff_messages += 1;
        out.diffs.extend(ups);
    }
    Ok(out)
}

/// Appends `[["px","qty"], ...]` as updates.
fn levels(
    v: &serde_json::Value,
    side: Side,
    tick: Step,
    lot: Step,
    out: &mut Vec<Update>,
) -> Result<(), LoadError> {
    let arr = v.as_array().ok_or("levels are not an array")?;
    for pair in arr {
        let px = pair[0].as_str().ok_or("price is not a string")?;
        let qty = pair[1].as_str().ok_or("qty is not a string")?;
        out.push(Update {
            side,
            px_tick: tick.units(px.as_bytes())?,
            qty_lots: lot.units(qty.as_bytes())?,
        });
    }
    Ok(())
}

/// The bundled Binance BTCUSDT capture as a [`DepthStream`] (ticks of 0.01, lots of 1e-8).
///
/// # Panics
///
/// If the fixture is missing or malformed (bench-only code).
pub fn binance_btcusdt_depth() -> DepthStream {
    let tick = Step::parse(BINANCE_BTCUSDT_TICK).expect("tick step");
    let lot = Step::parse(BINANCE_BTCUSDT_LOT).expect("lot step");
    let path = fixture_path(BINANCE_BTCUSDT_FIXTURE);
    load_binance_depth(&path, tick, lot)
        .unwrap_or_else(|e| panic!("loading {}: {e}", path.display()))
}

/// The bundled Binance BTCUSDT capture as one flat list of updates: the snapshot, then the
/// diffs after it.
pub fn binance_btcusdt_updates() -> Vec<Update> {
    binance_btcusdt_depth().all()
}

/// An update with `f64` price and size, for peers whose books take floats.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct UpdateF64 {
    /// Bid or ask.
    pub side: Side,
    /// Price (`px_tick × tick`).
    pub px: f64,
    /// Size (`qty_lots × lot`).
    pub qty: f64,
}

/// `f64` copies of `updates`, computed once outside the timed loops.
pub fn to_f64(updates: &[Update], tick: f64, lot: f64) -> Vec<UpdateF64> {
    updates
        .iter()
        .map(|u| UpdateF64 {
            side: u.side,
            px: u.px_tick as f64 * tick,
            qty: u.qty_lots as f64 * lot,
        })
        .collect()
}

/// Lowest and highest price tick in `updates` (`(0, 0)` if empty).
pub fn tick_range(updates: &[Update]) -> (i64, i64) {
    let lo = updates.iter().map(|u| u.px_tick).min().unwrap_or(0);
    let hi = updates.iter().map(|u| u.px_tick).max().unwrap_or(0);
    (lo, hi)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loads_the_btcusdt_capture() {
        let s = binance_btcusdt_depth();
        assert!(s.snapshot.len() > 1_000);
        assert!(s.diff_messages > 100);
        assert!(s.snapshot.iter().all(|u| u.qty_lots > 0));
        assert!(s.snapshot.iter().any(|u| u.px_tick == 6_183_763 && u.side == Side::Bid));
    }
}

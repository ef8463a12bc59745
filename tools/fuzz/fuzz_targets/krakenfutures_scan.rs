//! Differential: the Kraken Futures `book` scanner (`venue::scan::flat`), and its walk over
//! the feeds the adapter ignores (`trade_snapshot`, `ticker_lite`, heartbeats), against
//! simd-json's tape on the same bytes. Both must return the same result and the same parsed output for
//! every frame (a frame the scanner does not read exactly falls back to simd-json, which gives
//! that by construction).
//!
//! Input: one byte picks the scanner's dispatch path (AVX2, SSE4.2, portable; skipped when
//! the CPU lacks it), then frames split at `\n`, after a snapshot that makes `PI_ETHUSD` known. Seeds:
//! `tools/fuzz/seeds/krakenfutures_scan` (real frames of the bundled capture).
#![no_main]

#[path = "scan_common.rs"]
mod scan_common;

use ladderfeed::book::InstrumentRegistry;
use ladderfeed::venue::krakenfutures::KrakenFutures;
use libfuzzer_sys::fuzz_target;
use scan_common::Setup;

const SNAPSHOT: &[u8] = br#"{"feed":"book_snapshot","product_id":"PI_ETHUSD","timestamp":1626994925378,"seq":0,"bids":[{"price":2003.9,"qty":4387.0}],"asks":[{"price":2004.6,"qty":600.0}]}"#;

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else { return };
    let Some(kernel) = scan_common::kernel(sel) else { return };
    let (mut scan, mut tape) =
        scan_common::pair(kernel, || KrakenFutures::new(InstrumentRegistry::with_builtins()));
    scan_common::differential(&mut scan, &mut tape, &[Setup::Frame(SNAPSHOT)], None, rest);
});

//! Differential: the Bybit v5 scanner against simd-json's tape on the same bytes. Both must
//! return the same result and the same parsed output for every frame (a frame the scanner does
//! not recognise falls back to simd-json, which gives that by construction).
//!
//! Input: one byte picks the scanner's dispatch path (AVX2, SSE4.2, portable; skipped when
//! the CPU lacks it), then frames split at `\n`, after a seed book snapshot on both adapters
//! so deltas and trades reach their handlers. Seeds: `tools/fuzz/seeds/bybit_scan` (frames of
//! the bundled capture, and trade, control, ticker and liquidation frames of Bybit's documented
//! shapes).
#![no_main]

#[path = "scan_common.rs"]
mod scan_common;

use ladderfeed::book::{InstrumentRegistry, Venue};
use ladderfeed::venue::bybit::Bybit;
use libfuzzer_sys::fuzz_target;
use scan_common::Setup;

const BOOK: &[u8] = br#"{"topic":"orderbook.50.BTCUSDT","type":"snapshot","ts":1672304484978,"data":{"s":"BTCUSDT","b":[["16493.50","0.006"],["16493.00","0.100"]],"a":[["16493.55","0.1"]],"u":10,"seq":7961638724},"cts":1672304484976}"#;

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else { return };
    let Some(kernel) = scan_common::kernel(sel) else { return };
    let (mut scan, mut tape) = scan_common::pair(kernel, || {
        Bybit::new(Venue::BybitLinear, InstrumentRegistry::with_builtins(), 50)
    });
    scan_common::differential(&mut scan, &mut tape, &[Setup::Frame(BOOK)], None, rest);
});

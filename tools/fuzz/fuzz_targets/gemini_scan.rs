//! Differential: the Gemini v2 scanner (`venue::scan::gemini`: `l2_updates` and `trade`
//! messages) against simd-json's tape of the same bytes. Both must return the same result and
//! the same parsed output for every frame (a frame the scanner does not read exactly falls
//! back to simd-json, which gives that by construction).
//!
//! Input: one byte picks the scanner's dispatch path (AVX2, SSE4.2, portable; skipped when
//! the CPU lacks it), then frames split at `\n`, after a full book that makes `BTCGBP` known.
//! Seeds: `tools/fuzz/seeds/gemini_scan` (real frames of the bundled v2 captures).
#![no_main]

#[path = "scan_common.rs"]
mod scan_common;

use ladderfeed::book::InstrumentRegistry;
use ladderfeed::venue::gemini::GeminiV2;
use libfuzzer_sys::fuzz_target;
use scan_common::Setup;

const FULL: &[u8] = br#"{"type":"l2_updates","symbol":"BTCGBP","changes":[["buy","24084.23","0.5"],["buy","24083.10","1.25"],["sell","24113.49","0.04"],["sell","24117.80","0.91"]],"trades":[{"type":"trade","symbol":"BTCGBP","event_id":45465785975,"timestamp":1624493651491,"price":"24100.53","quantity":"0.992143","side":"buy"}],"auction_events":[]}"#;

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else { return };
    let Some(kernel) = scan_common::kernel(sel) else { return };
    let (mut scan, mut tape) =
        scan_common::pair(kernel, || GeminiV2::new(InstrumentRegistry::with_builtins()));
    scan_common::differential(&mut scan, &mut tape, &[Setup::Frame(FULL)], None, rest);
});

//! Differential: the Coinbase Advanced scanner (`venue::scan::advanced`: `l2_data` messages)
//! against simd-json's tape of the same bytes. Both must return the same result and the same
//! parsed output for every frame (a frame the scanner does not read exactly falls back to
//! simd-json, which gives that by construction).
//!
//! Input: one byte picks the scanner's dispatch path (AVX2, SSE4.2, portable; skipped when
//! the CPU lacks it), then frames split at `\n`, after a snapshot (sequence 1) that makes
//! `BTC-USD` known. Seeds: `tools/fuzz/seeds/advanced_scan` (real frames of the bundled
//! capture, renumbered from 2).
#![no_main]

#[path = "scan_common.rs"]
mod scan_common;

use ladderfeed::book::InstrumentRegistry;
use ladderfeed::venue::coinbase::CoinbaseAdvanced;
use libfuzzer_sys::fuzz_target;
use scan_common::Setup;

const SNAPSHOT: &[u8] = br#"{"channel":"l2_data","client_id":"","timestamp":"2026-08-09T21:05:48.2Z","sequence_num":1,"events":[{"type":"snapshot","product_id":"BTC-USD","updates":[{"side":"bid","event_time":"2026-08-09T21:05:48.1Z","price_level":"65086.17","new_quantity":"0.5"},{"side":"offer","event_time":"2026-08-09T21:05:48.1Z","price_level":"65086.18","new_quantity":"1.25"}]}]}"#;

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else { return };
    let Some(kernel) = scan_common::kernel(sel) else { return };
    let (mut scan, mut tape) =
        scan_common::pair(kernel, || CoinbaseAdvanced::new(InstrumentRegistry::with_builtins()));
    scan_common::differential(&mut scan, &mut tape, &[Setup::Frame(SNAPSHOT)], None, rest);
});

//! Differential: the Hyperliquid scanner (`venue::scan::hyperliquid`: `l2Book` and `trades`
//! messages) against simd-json's tape of the same bytes. Both must return the same result and
//! the same parsed output for every frame (a frame the scanner does not read exactly falls
//! back to simd-json, which gives that by construction).
//!
//! Input: one byte picks the scanner's dispatch path (AVX2, SSE4.2, portable; skipped when
//! the CPU lacks it), then frames split at `\n`, after a book that makes `BTC` known. Seeds:
//! `tools/fuzz/seeds/hyperliquid_scan` (real frames of the bundled capture).
#![no_main]

#[path = "scan_common.rs"]
mod scan_common;

use ladderfeed::book::InstrumentRegistry;
use ladderfeed::venue::hyperliquid::Hyperliquid;
use libfuzzer_sys::fuzz_target;
use scan_common::Setup;

const BOOK: &[u8] = br#"{"channel":"l2Book","data":{"coin":"BTC","time":1737918843760,"levels":[[{"px":"105055.0","sz":"3.03622","n":5},{"px":"105054.0","sz":"0.1428","n":1}],[{"px":"105056.0","sz":"6.34472","n":13}]]}}"#;

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else { return };
    let Some(kernel) = scan_common::kernel(sel) else { return };
    let (mut scan, mut tape) =
        scan_common::pair(kernel, || Hyperliquid::new(InstrumentRegistry::with_builtins()));
    scan_common::differential(&mut scan, &mut tape, &[Setup::Frame(BOOK)], None, rest);
});

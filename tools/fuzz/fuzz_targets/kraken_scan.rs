//! Differential: the Kraken v1 scanner against simd-json's tape on the same bytes. Both must
//! return the same result and the same parsed output for every frame (a frame the scanner does
//! not recognise falls back to simd-json, which gives that by construction).
//!
//! Input: one byte picks the scanner's dispatch path (AVX2, SSE4.2, portable; skipped when
//! the CPU lacks it), then frames split at `\n`, after a seed book snapshot on both adapters
//! so updates and trades reach their handlers. Seeds: `tools/fuzz/seeds/kraken_scan` (real
//! frames of the bundled captures).
#![no_main]

#[path = "scan_common.rs"]
mod scan_common;

use ladderfeed::book::InstrumentRegistry;
use ladderfeed::venue::kraken::KrakenV1;
use libfuzzer_sys::fuzz_target;
use scan_common::Setup;

const BOOK: &[u8] = br#"[992,{"as":[["355.00000000","1.00000000","1618678123.481570"],["355.10000000","2.00000000","1618678123.481571"]],"bs":[["354.90000000","3.00000000","1618678097.847309"]]},"book-1000","XMR/USD"]"#;

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else { return };
    let Some(kernel) = scan_common::kernel(sel) else { return };
    let (mut scan, mut tape) =
        scan_common::pair(kernel, || KrakenV1::new(InstrumentRegistry::with_builtins()));
    scan_common::differential(&mut scan, &mut tape, &[Setup::Frame(BOOK)], None, rest);
});

//! Differential: the OKX scanner against simd-json's tape on the same bytes. Both must return
//! the same result and the same parsed output for every frame (a frame the scanner does not
//! recognise falls back to simd-json, which gives that by construction).
//!
//! Input: one byte picks the scanner's dispatch path (AVX2, SSE4.2, portable; skipped when
//! the CPU lacks it), then frames split at `\n`, after a seed book snapshot on both adapters
//! so updates and trades reach their handlers. Seeds: `tools/fuzz/seeds/okx_scan` (real frames
//! of the bundled capture).
#![no_main]

#[path = "scan_common.rs"]
mod scan_common;

use ladderfeed::book::InstrumentRegistry;
use ladderfeed::venue::okx::Okx;
use libfuzzer_sys::fuzz_target;
use scan_common::Setup;

const BOOK: &[u8] = br#"{"arg":{"channel":"books","instId":"BTC-USD-220527"},"action":"snapshot","data":[{"asks":[["30249.4","2","0","1"],["30261","4","0","1"]],"bids":[["30182.6","452","0","1"]],"ts":"1652459225464","checksum":0,"prevSeqId":-1,"seqId":10}]}"#;

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else { return };
    let Some(kernel) = scan_common::kernel(sel) else { return };
    let (mut scan, mut tape) =
        scan_common::pair(kernel, || Okx::new(InstrumentRegistry::with_builtins()));
    scan_common::differential(&mut scan, &mut tape, &[Setup::Frame(BOOK)], None, rest);
});

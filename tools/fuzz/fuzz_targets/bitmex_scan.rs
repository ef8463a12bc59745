//! Differential: the BitMEX scanner (`venue::scan::bitmex`: `orderBookL2` and `trade` table
//! messages) against simd-json's tape of the same bytes with their numbers quoted. Both must
//! return the same result and the same parsed output for every frame (a frame the scanner
//! does not read exactly falls back to simd-json, which gives that by construction).
//!
//! Input: one byte picks the scanner's dispatch path (AVX2, SSE4.2, portable; skipped when
//! the CPU lacks it), then frames split at `\n`, after a partial that makes `XBTUSD` known
//! (level ids 8700000001 to 8700000004). Seeds: `tools/fuzz/seeds/bitmex_scan` (real frames
//! of the bundled capture, their ids moved onto the partial's).
#![no_main]

#[path = "scan_common.rs"]
mod scan_common;

use ladderfeed::book::InstrumentRegistry;
use ladderfeed::venue::bitmex::Bitmex;
use libfuzzer_sys::fuzz_target;
use scan_common::Setup;

const PARTIAL: &[u8] = br#"{"table":"orderBookL2","action":"partial","keys":["symbol","id","side"],"types":{"symbol":"symbol","id":"long","side":"symbol","size":"long","price":"float"},"filter":{"symbol":"XBTUSD"},"data":[{"symbol":"XBTUSD","id":8700000001,"side":"Sell","size":100,"price":32310},{"symbol":"XBTUSD","id":8700000002,"side":"Sell","size":200,"price":32305.5},{"symbol":"XBTUSD","id":8700000003,"side":"Buy","size":300,"price":32300},{"symbol":"XBTUSD","id":8700000004,"side":"Buy","size":400,"price":32299.5}]}"#;

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else { return };
    let Some(kernel) = scan_common::kernel(sel) else { return };
    let (mut scan, mut tape) =
        scan_common::pair(kernel, || Bitmex::new(InstrumentRegistry::with_builtins()));
    scan_common::differential(&mut scan, &mut tape, &[Setup::Frame(PARTIAL)], None, rest);
});

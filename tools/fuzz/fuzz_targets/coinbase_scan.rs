//! Differential: the Coinbase Exchange scanner against simd-json's tape on the same bytes.
//! Both must return the same result and the same parsed output for every frame (a frame the
//! scanner does not recognise falls back to simd-json, which gives that by construction).
//!
//! Input: one byte picks the scanner's dispatch path (AVX2, SSE4.2, portable; skipped when
//! the CPU lacks it), then frames split at `\n`, after seed book snapshots on both adapters
//! (BTC-USD, and two products of the bundled capture, learned from their prices) so updates
//! and matches reach their handlers. Seeds: `tools/fuzz/seeds/coinbase_scan` (real frames of
//! the bundled Coinbase Exchange capture).
#![no_main]

#[path = "scan_common.rs"]
mod scan_common;

use ladderfeed::book::InstrumentRegistry;
use ladderfeed::venue::coinbase::CoinbaseExchange;
use libfuzzer_sys::fuzz_target;
use scan_common::Setup;

const BOOKS: [&[u8]; 3] = [
    br#"{"type":"snapshot","product_id":"BTC-USD","asks":[["30000.01","1.50000000"],["30000.09","0.1"]],"bids":[["29999.99","4.52"]]}"#,
    br#"{"type":"snapshot","product_id":"SKL-BTC","asks":[["0.00001305","4781.0"],["0.00001306","1230.5"]],"bids":[["0.00001300","2500.0"]]}"#,
    br#"{"type":"snapshot","product_id":"SKL-GBP","asks":[["0.5762","2865.9"],["0.5767","6327.2"]],"bids":[["0.5750","100.0"]]}"#,
];

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else { return };
    let Some(kernel) = scan_common::kernel(sel) else { return };
    let (mut scan, mut tape) =
        scan_common::pair(kernel, || CoinbaseExchange::new(InstrumentRegistry::with_builtins()));
    let setup = BOOKS.map(Setup::Frame);
    scan_common::differential(&mut scan, &mut tape, &setup, None, rest);
});

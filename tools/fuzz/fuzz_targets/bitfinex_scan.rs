//! Differential: the Bitfinex v2 scanner against simd-json's tape on the same bytes. Both must
//! return the same result and the same parsed output for every frame (a frame the scanner does
//! not recognise falls back to simd-json, which gives that by construction).
//!
//! Input: one byte picks the scanner's dispatch path (AVX2, SSE4.2, portable; skipped when
//! the CPU lacks it; bits 0-1) and whether the adapter reads merged lines (bit 2: sequence
//! numbers left to the arbiter, snapshots known by their shape), then frames split at `\n`,
//! after the same setup on both adapters: `SEQ_ALL | OB_CHECKSUM`, a book, a trades and a
//! ticker channel, and a book snapshot, so updates, trades, checksums and tickers reach their
//! handlers. Seeds: `tools/fuzz/seeds/bitfinex_scan` (real frames of the bundled captures).
#![no_main]

#[path = "scan_common.rs"]
mod scan_common;

use ladderfeed::book::InstrumentRegistry;
use ladderfeed::venue::bitfinex::Bitfinex;
use libfuzzer_sys::fuzz_target;
use scan_common::Setup;

const SETUP: &[&[u8]] = &[
    br#"{"event":"conf","status":"OK","flags":196608}"#,
    br#"{"event":"subscribed","channel":"book","chanId":17,"symbol":"tBTCUSD","prec":"P0","freq":"F0","len":"25","pair":"BTCUSD"}"#,
    br#"{"event":"subscribed","channel":"trades","chanId":18,"symbol":"tBTCUSD","pair":"BTCUSD"}"#,
    br#"{"event":"subscribed","channel":"ticker","chanId":19,"symbol":"tBTCUSD","pair":"BTCUSD"}"#,
    br#"[17,[[6443,5,5.26056135],[6442.9,2,1.17073057],[6443.1,1,-0.1]],1]"#,
];

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else { return };
    let Some(kernel) = scan_common::kernel(sel) else { return };
    let merged = sel & 4 != 0;
    let (mut scan, mut tape) = scan_common::pair(kernel, || {
        let mut a = Bitfinex::new(InstrumentRegistry::with_builtins());
        a.merged = merged;
        a
    });
    let setup: Vec<Setup<'_>> = SETUP.iter().map(|f| Setup::Frame(f)).collect();
    scan_common::differential(&mut scan, &mut tape, &setup, None, rest);
});

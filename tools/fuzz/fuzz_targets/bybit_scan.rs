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

use ladderfeed::book::{InstrumentRegistry, Venue};
use ladderfeed::venue::bybit::Bybit;
use ladderfeed::venue::scan::{Kernel, KernelKind};
use ladderfeed::venue::{Adapter, Parsed, Parser};
use libfuzzer_sys::fuzz_target;

const BOOK: &[u8] = br#"{"topic":"orderbook.50.BTCUSDT","type":"snapshot","ts":1672304484978,"data":{"s":"BTCUSDT","b":[["16493.50","0.006"],["16493.00","0.100"]],"a":[["16493.55","0.1"]],"u":10,"seq":7961638724},"cts":1672304484976}"#;

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else { return };
    let kind = KernelKind::ALL[usize::from(sel & 3) % 3];
    let Some(kernel) = Kernel::forced(kind) else { return };
    let make = |parser| {
        let mut a = Bybit::new(Venue::BybitLinear, InstrumentRegistry::with_builtins(), 50);
        a.set_parser(parser);
        a.set_scan_kernel(kernel);
        a
    };
    let (mut scan, mut tape) = (make(Parser::Scan), make(Parser::SimdJson));
    let (mut a, mut b) = (Parsed::default(), Parsed::default());
    let _ = scan.handle_frame(BOOK, 0, &mut a);
    let _ = tape.handle_frame(BOOK, 0, &mut b);
    for frame in rest.split(|&c| c == b'\n') {
        a.clear();
        b.clear();
        let ra = scan.handle_frame(frame, 0, &mut a);
        let rb = tape.handle_frame(frame, 0, &mut b);
        assert!(!b.scan_fallback);
        a.scan_fallback = false;
        assert_eq!(ra, rb, "result differs on {:?}", String::from_utf8_lossy(frame));
        assert_eq!(a, b, "parsed output differs on {:?}", String::from_utf8_lossy(frame));
    }
});

//! Differential: the Kraken Futures `book` scanner (`venue::scan::flat`) against simd-json's
//! tape on the same bytes. Both must return the same result and the same parsed output for
//! every frame (a frame the scanner does not read exactly falls back to simd-json, which gives
//! that by construction).
//!
//! Input: frames split at `\n`, after a snapshot that makes `PI_ETHUSD` known. Seeds:
//! `tools/fuzz/seeds/krakenfutures_scan` (real frames of the bundled capture).
#![no_main]

use ladderfeed::book::InstrumentRegistry;
use ladderfeed::venue::krakenfutures::KrakenFutures;
use ladderfeed::venue::{Adapter, Parsed, Parser};
use libfuzzer_sys::fuzz_target;

const SNAPSHOT: &[u8] = br#"{"feed":"book_snapshot","product_id":"PI_ETHUSD","timestamp":1626994925378,"seq":0,"bids":[{"price":2003.9,"qty":4387.0}],"asks":[{"price":2004.6,"qty":600.0}]}"#;

fuzz_target!(|data: &[u8]| {
    let make = |parser| {
        let mut a = KrakenFutures::new(InstrumentRegistry::with_builtins());
        a.set_parser(parser);
        a
    };
    let (mut scan, mut tape) = (make(Parser::Scan), make(Parser::SimdJson));
    let (mut a, mut b) = (Parsed::default(), Parsed::default());
    let _ = scan.handle_frame(SNAPSHOT, 0, &mut a);
    let _ = tape.handle_frame(SNAPSHOT, 0, &mut b);
    for frame in data.split(|&c| c == b'\n') {
        a.clear();
        b.clear();
        let (ra, rb) = (scan.handle_frame(frame, 0, &mut a), tape.handle_frame(frame, 0, &mut b));
        assert!(!b.scan_fallback);
        a.scan_fallback = false;
        assert_eq!(ra, rb, "result differs on {:?}", String::from_utf8_lossy(frame));
        assert_eq!(a, b, "parsed output differs on {:?}", String::from_utf8_lossy(frame));
    }
});

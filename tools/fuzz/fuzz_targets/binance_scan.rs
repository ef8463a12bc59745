//! Differential: the Binance scanner against simd-json's tape on the same bytes. Both must
//! return the same result and the same parsed output for every frame (a frame the scanner
//! does not recognise falls back to simd-json, which gives that by construction).
//!
//! Input: one byte picks the market (spot, USD-M, COIN-M) and the scanner's dispatch path
//! (AVX2, SSE4.2, portable; skipped when the CPU lacks it), then frames split at `\n`; a
//! frame starting with `H` is a REST snapshot body. Seeds: `tools/fuzz/seeds/binance_scan`
//! (real frames of the bundled captures).
#![no_main]

#[path = "scan_common.rs"]
mod scan_common;

use ladderfeed::book::InstrumentRegistry;
use ladderfeed::venue::binance::Binance;
use libfuzzer_sys::fuzz_target;
use scan_common::Setup;

const SNAPSHOTS: [(&str, &[u8]); 3] = [
    ("https://api.binance.com/api/v3/depth?symbol=BTCUSDT", br#"{"lastUpdateId":50093239188,"bids":[["61737.63000000","1.5"],["61730.17000000","2"]],"asks":[["61837.64000000","0.5"],["61839.85000000","3"]]}"#),
    ("https://fapi.binance.com/fapi/v1/depth?symbol=BTCUSDT", br#"{"lastUpdateId":5123107832005,"E":1,"T":1,"bids":[["58710.20","0.014"]],"asks":[["61800.30","3.330"]]}"#),
    ("https://dapi.binance.com/dapi/v1/depth?symbol=BTCUSD_PERP", br#"{"lastUpdateId":1007198631259,"E":1,"T":1,"bids":[["61773.6","1001"]],"asks":[["61801.4","5"]]}"#),
];

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else { return };
    let market = usize::from(sel & 3) % 3;
    let Some(kernel) = scan_common::kernel(sel >> 2) else { return };
    let (mut scan, mut tape) = scan_common::pair(kernel, || {
        let reg = InstrumentRegistry::with_builtins();
        match market {
            0 => Binance::spot(reg),
            1 => Binance::futures(reg),
            _ => Binance::coinm(reg),
        }
    });
    let (url, body) = SNAPSHOTS[market];
    scan_common::differential(&mut scan, &mut tape, &[Setup::Http(url, body)], Some(url), rest);
});

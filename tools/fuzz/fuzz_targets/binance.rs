//! Binance spot and futures: depth, trades, bookTicker, REST snapshots, arbitrary bytes.
#![no_main]

use ladderfeed::book::InstrumentRegistry;
use ladderfeed::engine::Engine;
use ladderfeed::venue::binance::Binance;
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

const SNAPSHOT: &[u8] = br#"{"lastUpdateId":100,"bids":[["61000.00","1.5"],["60999.99","2"]],"asks":[["61000.01","0.5"],["61000.50","3"]]}"#;

fuzz_target!(|data: &[u8]| {
    let (spot, rest) = match data.split_first() {
        Some((b, rest)) => (b & 1 == 0, rest),
        None => return,
    };
    let adapter = if spot {
        Binance::spot(InstrumentRegistry::with_builtins())
    } else {
        Binance::futures(InstrumentRegistry::with_builtins())
    };
    let mut engine = Engine::new(adapter).with_clock(|| 0);
    let mut sink = common::Checked;
    let _ = engine.handle_http(
        "https://api.binance.com/api/v3/depth?symbol=BTCUSDT",
        SNAPSHOT,
        0,
        &mut sink,
    );
    common::run(&mut engine, &[], rest);
});

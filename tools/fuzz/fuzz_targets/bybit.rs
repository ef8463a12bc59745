//! Bybit v5: order book snapshots and deltas, trades, control answers, arbitrary bytes.
#![no_main]

use ladderfeed::book::{InstrumentRegistry, Venue};
use ladderfeed::engine::Engine;
use ladderfeed::venue::bybit::Bybit;
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

const SNAPSHOT: &[u8] = br#"{"topic":"orderbook.50.BTCUSDT","type":"snapshot","ts":1672304484978,"data":{"s":"BTCUSDT","b":[["16493.50","0.006"],["16493.00","0.100"]],"a":[["16611.00","0.029"],["16612.00","0.213"]],"u":18521288,"seq":7961638724},"cts":1672304484976}"#;

fuzz_target!(|data: &[u8]| {
    let mut engine =
        Engine::new(Bybit::new(Venue::BybitLinear, InstrumentRegistry::with_builtins(), 50))
            .with_clock(|| 0);
    common::run(&mut engine, &[SNAPSHOT], data);
});

//! Hyperliquid: whole-book `l2Book` messages, trades, control answers, arbitrary bytes.
#![no_main]

use ladderfeed::book::InstrumentRegistry;
use ladderfeed::engine::Engine;
use ladderfeed::venue::hyperliquid::Hyperliquid;
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

const BOOK: &[u8] = br#"{"channel":"l2Book","data":{"coin":"BTC","time":1737918843760,"levels":[[{"px":"105055.0","sz":"3.03622","n":5}],[{"px":"105056.0","sz":"6.34472","n":13}]]}}"#;

fuzz_target!(|data: &[u8]| {
    let mut engine =
        Engine::new(Hyperliquid::new(InstrumentRegistry::with_builtins())).with_clock(|| 0);
    common::run(&mut engine, &[BOOK], data);
});

//! Kraken Futures: book snapshots, one-level book messages, trades, events, arbitrary bytes.
#![no_main]

use ladderfeed::book::InstrumentRegistry;
use ladderfeed::engine::Engine;
use ladderfeed::venue::krakenfutures::KrakenFutures;
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

const SNAPSHOT: &[u8] = br#"{"feed":"book_snapshot","product_id":"PI_LTCUSD","timestamp":1626994925378,"seq":100,"tickSize":null,"bids":[{"price":119.21,"qty":24508.0}],"asks":[{"price":119.46,"qty":21884.0}]}"#;

fuzz_target!(|data: &[u8]| {
    let mut engine =
        Engine::new(KrakenFutures::new(InstrumentRegistry::with_builtins())).with_clock(|| 0);
    common::run(&mut engine, &[SNAPSHOT], data);
});

//! Coinbase Advanced Trade and Exchange: arbitrary frames after a seed book, through the engine.
#![no_main]

use ladderfeed::book::InstrumentRegistry;
use ladderfeed::engine::Engine;
use ladderfeed::venue::coinbase::{CoinbaseAdvanced, CoinbaseExchange};
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

const ADVANCED_SNAPSHOT: &[u8] = br#"{"channel":"l2_data","timestamp":"2026-08-09T21:05:48.483587501Z","sequence_num":0,"events":[{"type":"snapshot","product_id":"BTC-USD","updates":[{"side":"bid","event_time":"2026-08-09T21:05:48.170326Z","price_level":"65083.66","new_quantity":"0.2"},{"side":"offer","event_time":"2026-08-09T21:05:48.170326Z","price_level":"65083.67","new_quantity":"0.1"}]}]}"#;
const EXCHANGE_SNAPSHOT: &[u8] =
    br#"{"type":"snapshot","product_id":"SKL-USD","asks":[["0.4","10"]],"bids":[["0.3","5"]]}"#;

fuzz_target!(|data: &[u8]| {
    match data.split_first() {
        Some((b, rest)) if b & 1 == 0 => {
            let mut e = Engine::new(CoinbaseAdvanced::new(InstrumentRegistry::with_builtins()))
                .with_clock(|| 0);
            common::run(&mut e, &[ADVANCED_SNAPSHOT], rest);
        }
        Some((_, rest)) => {
            let mut e = Engine::new(CoinbaseExchange::new(InstrumentRegistry::with_builtins()))
                .with_clock(|| 0);
            common::run(&mut e, &[EXCHANGE_SNAPSHOT], rest);
        }
        None => {}
    }
});

//! Kraken v1 and v2: arbitrary frames after a seed book, through the engine.
#![no_main]

use ladderfeed::book::InstrumentRegistry;
use ladderfeed::engine::Engine;
use ladderfeed::venue::kraken::{KrakenV1, KrakenV2};
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

const V1_BOOK: &[u8] = br#"[1,{"as":[["55225.00000","0.50000000","1617640142.435065"]],"bs":[["55224.90000","1.00000000","1617640142.435065"]]},"book-10","XBT/USD"]"#;
const V2_BOOK: &[u8] = br#"{"channel":"book","type":"snapshot","data":[{"symbol":"BTC/USD","bids":[{"price":45283.5,"qty":0.10000000}],"asks":[{"price":45285.2,"qty":0.00100000}],"checksum":0,"timestamp":"2023-10-06T17:35:55.440295Z"}]}"#;

fuzz_target!(|data: &[u8]| {
    match data.split_first() {
        Some((b, rest)) if b & 1 == 0 => {
            let mut e =
                Engine::new(KrakenV1::new(InstrumentRegistry::with_builtins())).with_clock(|| 0);
            common::run(&mut e, &[V1_BOOK], rest);
        }
        Some((_, rest)) => {
            let mut e = Engine::new(KrakenV2::new(InstrumentRegistry::with_builtins(), 10))
                .with_clock(|| 0);
            common::run(&mut e, &[V2_BOOK], rest);
        }
        None => {}
    }
});

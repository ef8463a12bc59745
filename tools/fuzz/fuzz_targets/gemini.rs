//! Gemini v2 and v1: arbitrary frames after a seed book, through the engine.
#![no_main]

use ladderfeed::book::InstrumentRegistry;
use ladderfeed::engine::Engine;
use ladderfeed::venue::gemini::{GeminiV1, GeminiV2};
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

const V2_BOOK: &[u8] = br#"{"auction_events":[],"changes":[["buy","100.00","1"],["sell","100.01","2"]],"symbol":"BTCUSD","trades":[],"type":"l2_updates"}"#;
const V1_BOOK: &[u8] = br#"{"type":"update","eventId":1,"socket_sequence":0,"events":[{"type":"change","reason":"initial","price":"100.00","delta":"1","remaining":"1","side":"bid"},{"type":"change","reason":"initial","price":"100.01","delta":"2","remaining":"2","side":"ask"}]}"#;

fuzz_target!(|data: &[u8]| {
    match data.split_first() {
        Some((b, rest)) if b & 1 == 0 => {
            let mut e =
                Engine::new(GeminiV2::new(InstrumentRegistry::with_builtins())).with_clock(|| 0);
            common::run(&mut e, &[V2_BOOK], rest);
        }
        Some((_, rest)) => {
            let Ok(a) = GeminiV1::new(InstrumentRegistry::with_builtins(), "BTCUSD") else {
                return;
            };
            let mut e = Engine::new(a).with_clock(|| 0);
            common::run(&mut e, &[V1_BOOK], rest);
        }
        None => {}
    }
});

//! Bitfinex v2: arbitrary frames after a seed book, through the engine.
#![no_main]

use ladderfeed::book::InstrumentRegistry;
use ladderfeed::engine::Engine;
use ladderfeed::venue::bitfinex::Bitfinex;
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

const SETUP: &[&[u8]] = &[
    br#"{"event":"conf","status":"OK","flags":196608}"#,
    br#"{"event":"subscribed","channel":"book","chanId":17,"symbol":"tBTCUSD","prec":"P0","freq":"F0","len":"25","pair":"BTCUSD"}"#,
    br#"{"event":"subscribed","channel":"trades","chanId":18,"symbol":"tBTCUSD","pair":"BTCUSD"}"#,
    br#"[17,[[6443,5,5.26056135],[6442.9,2,1.17073057],[6443.1,1,-0.1]],1]"#,
];

fuzz_target!(|data: &[u8]| {
    let mut e = Engine::new(Bitfinex::new(InstrumentRegistry::with_builtins())).with_clock(|| 0);
    common::run(&mut e, SETUP, data);
});

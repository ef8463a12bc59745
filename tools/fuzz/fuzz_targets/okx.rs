//! OKX v5: arbitrary frames after a seed book, through the engine.
#![no_main]

use ladderfeed::book::InstrumentRegistry;
use ladderfeed::engine::Engine;
use ladderfeed::venue::okx::Okx;
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

const BOOK: &[u8] = br#"{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"snapshot","data":[{"asks":[["30001.0","1","0","1"]],"bids":[["30000.0","1","0","1"]],"ts":"1597026383085","checksum":0,"prevSeqId":-1,"seqId":10}]}"#;

fuzz_target!(|data: &[u8]| {
    let mut e = Engine::new(Okx::new(InstrumentRegistry::with_builtins())).with_clock(|| 0);
    common::run(&mut e, &[BOOK], data);
});

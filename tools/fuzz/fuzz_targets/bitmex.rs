//! BitMEX: orderBookL2 partials and id-keyed insert/update/delete rows (with and without
//! prices), trades, quotes, `success`/`error` answers, `pong`, arbitrary bytes.
#![no_main]

use ladderfeed::book::InstrumentRegistry;
use ladderfeed::engine::Engine;
use ladderfeed::venue::bitmex::Bitmex;
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

const PARTIAL: &[u8] = br#"{"table":"orderBookL2","action":"partial","keys":["symbol","id","side"],"filter":{"symbol":"BCHUSD"},"data":[{"symbol":"BCHUSD","id":40199991250,"side":"Sell","size":300,"price":437.5},{"symbol":"BCHUSD","id":40199991255,"side":"Buy","size":2104,"price":437.25}]}"#;

fuzz_target!(|data: &[u8]| {
    let mut engine = Engine::new(Bitmex::new(InstrumentRegistry::with_builtins())).with_clock(|| 0);
    common::run(&mut engine, &[PARTIAL], data);
});

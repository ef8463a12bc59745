//! Deribit v2: book snapshots and changes, trades, tickers, JSON-RPC answers, arbitrary bytes.
#![no_main]

use ladderfeed::book::InstrumentRegistry;
use ladderfeed::engine::Engine;
use ladderfeed::venue::deribit::Deribit;
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

const SNAPSHOT: &[u8] = br#"{"jsonrpc":"2.0","method":"subscription","params":{"channel":"book.BTC-24SEP21-8000-P.raw","data":{"type":"snapshot","timestamp":1626993723632,"instrument_name":"BTC-24SEP21-8000-P","change_id":100,"bids":[["new",0.0005,153.1]],"asks":[["new",0.001,2.6],["new",0.0015,94.7]]}}}"#;

fuzz_target!(|data: &[u8]| {
    let mut engine =
        Engine::new(Deribit::new(InstrumentRegistry::with_builtins())).with_clock(|| 0);
    common::run(&mut engine, &[SNAPSHOT], data);
});

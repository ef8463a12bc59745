//! The venue scanners (`venue::scan`) against simd-json's tape, one module per venue, in one
//! test binary: every frame of the venue's bundled captures on every dispatch path this CPU has,
//! generated frames with free key order, whitespace and number forms, and the frames each
//! scanner must leave to simd-json.

#[path = "../common/mod.rs"]
mod common;

mod binance;
mod bybit;
mod coinbase;
mod kraken;
mod krakenfutures;
mod okx;

//! The venues' instrument answers: every venue's parser on arbitrary bytes (the first byte
//! picks the venue and endpoint). An answer is read or refused with an error, never a panic,
//! and a table that parsed survives its own JSON round trip.
#![no_main]

use ladderfeed::book::Venue;
use ladderfeed::refdata::{parse_body, RefTable};
use libfuzzer_sys::fuzz_target;

const URLS: [(Venue, &str); 13] = [
    (Venue::Binance, "https://api.binance.com/api/v3/exchangeInfo"),
    (Venue::BinanceFutures, "https://fapi.binance.com/fapi/v1/exchangeInfo"),
    (Venue::Coinbase, "https://api.coinbase.com/api/v3/brokerage/market/products"),
    (Venue::CoinbaseExchange, "https://api.exchange.coinbase.com/products"),
    (Venue::Kraken, "https://api.kraken.com/0/public/AssetPairs"),
    (Venue::KrakenV1, "https://api.kraken.com/0/public/AssetPairs"),
    (Venue::Okx, "https://www.okx.com/api/v5/public/instruments?instType=SWAP"),
    (Venue::Bitfinex, "https://api-pub.bitfinex.com/v2/conf/pub:list:pair:exchange"),
    (Venue::Bitfinex, "https://api-pub.bitfinex.com/v2/conf/pub:info:pair"),
    (Venue::Gemini, "https://api.gemini.com/v1/symbols"),
    (Venue::Gemini, "https://api.gemini.com/v1/symbols/details/btcusd"),
    (Venue::GeminiV1, "https://api.gemini.com/v1/symbols/details/ethusd"),
    (Venue::Hyperliquid, "https://api.hyperliquid.xyz/info"),
];

fuzz_target!(|data: &[u8]| {
    let Some((pick, body)) = data.split_first() else { return };
    let (venue, url) = URLS[usize::from(*pick) % URLS.len()];
    let mut table = RefTable::new(venue, "fuzz");
    if parse_body(&mut table, url, body).is_ok() {
        let back = RefTable::from_json(&table.to_json()).expect("a parsed table reads back");
        assert_eq!(back, table);
        let _ = table.to_csv();
    }
});

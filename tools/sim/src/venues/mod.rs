//! One module per venue protocol the simulator speaks, and [`protocol`]: the one place a
//! [`Venue`] is mapped to its protocol. A new venue is a new module here and one arm below.

use ladderfeed::book::Venue;

use crate::protocol::SimProtocol;

pub(crate) mod binance;
pub(crate) mod bitfinex;
pub(crate) mod bitmex;
pub(crate) mod bybit;
pub(crate) mod coinbase;
pub(crate) mod deribit;
pub(crate) mod gemini;
pub(crate) mod hyperliquid;
pub(crate) mod kraken;
pub(crate) mod krakenfutures;
pub(crate) mod okx;

/// The protocol the simulator speaks for `venue`.
pub(crate) fn protocol(venue: Venue) -> &'static dyn SimProtocol {
    match venue {
        Venue::Binance => &binance::Binance { futures: false, depth_path: "/api/v3/depth" },
        Venue::BinanceFutures => &binance::Binance { futures: true, depth_path: "/fapi/v1/depth" },
        Venue::BinanceCoinM => &binance::Binance { futures: true, depth_path: "/dapi/v1/depth" },
        Venue::Coinbase => &coinbase::Advanced,
        Venue::CoinbaseExchange => &coinbase::Exchange,
        Venue::Kraken => &kraken::KrakenV2,
        Venue::KrakenV1 => &kraken::KrakenV1,
        Venue::Okx => &okx::Okx,
        Venue::Bitfinex => &bitfinex::Bitfinex,
        Venue::Gemini => &gemini::GeminiV2,
        Venue::GeminiV1 => &gemini::GeminiV1,
        Venue::BybitSpot | Venue::BybitLinear | Venue::BybitInverse => &bybit::Bybit,
        Venue::Deribit => &deribit::Deribit,
        Venue::Hyperliquid => &hyperliquid::Hyperliquid,
        Venue::KrakenFutures => &krakenfutures::KrakenFutures,
        Venue::Bitmex => &bitmex::Bitmex,
    }
}

/// Whether any venue's protocol says `test` of `frame` (a capture is read before its venue
/// is known: its greetings and acks are recognised as any venue words them).
pub(crate) fn any(test: impl Fn(&dyn SimProtocol) -> bool) -> bool {
    Venue::ALL.into_iter().any(|v| test(protocol(v)))
}

//! A venue's transport facts: where to connect, how to keep the connection alive, how large a
//! message may be, how to ask for a book snapshot over REST, and whether books outlive one
//! connection. The [`Session`](crate::session::Session) decides with them and the network
//! shell carries them out; nothing outside `venue/` needs to know which venue it talks to.
//!
//! Each venue module holds its own [`Protocol`] constant (venues.md is the source);
//! [`Protocol::of`] picks it by [`Venue`].

use std::time::Duration;

use crate::book::Venue;

/// A message the client sends on a timer so the venue keeps the connection open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Keepalive {
    /// The text frame to send (OKX: `ping`, answered by `pong`).
    pub text: &'static str,
    /// How often, counted from the connection's opening.
    pub every: Duration,
    /// The venue's answer (OKX: `pong`): a sign of life, not market data.
    pub reply: &'static str,
}

/// Book snapshots fetched over REST (Binance's depth endpoint).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestSnapshot {
    /// The venue's own REST base (`https://api.binance.com`).
    pub default_base: &'static str,
    /// The path of the depth endpoint (`/api/v3/depth`).
    pub path: &'static str,
    /// The number of levels asked for (the endpoint's largest).
    pub limit: u32,
    /// Symbols are written in upper case in the request.
    pub upper_case: bool,
}

impl RestSnapshot {
    /// The URL that asks for `symbol`'s book from `base`.
    pub fn url(&self, base: &str, symbol: &str) -> String {
        let symbol = if self.upper_case { symbol.to_ascii_uppercase() } else { symbol.to_owned() };
        format!("{}{}?symbol={symbol}&limit={}", base.trim_end_matches('/'), self.path, self.limit)
    }
}

/// How a venue is spoken to, apart from the messages themselves (those are the adapter's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Protocol {
    /// The venue's own WebSocket endpoint, without a path.
    pub endpoint: &'static str,
    /// The path added to an endpoint given without one. `{symbol}` stands for the connection's
    /// only symbol in lower case (Gemini v1 serves one symbol per connection).
    pub path: &'static str,
    /// The largest message accepted, in bytes (a full-depth snapshot can take megabytes).
    pub max_message: usize,
    /// A client ping the venue requires, if any.
    pub keepalive: Option<Keepalive>,
    /// Book snapshots come over REST, not over the WebSocket.
    pub rest_snapshot: Option<RestSnapshot>,
    /// At most this many symbols per connection (Gemini v1: one, named in the URL).
    pub symbols_per_connection: Option<usize>,
    /// Books are sequenced per symbol and their snapshots arrive outside any WebSocket
    /// connection (Binance): a capture's connections then share one set of books, where
    /// other venues keep connection-scoped state (channel ids, connection sequences) apart.
    pub books_span_connections: bool,
    /// A venue that sends whole books on a schedule (Hyperliquid: one per block, about every
    /// half second) has gone quiet for a book after this long without one: the book is marked
    /// `Stale` until the next arrives. `None`: books change only when the market does, and
    /// only a silent connection (`Policy::stale_after`) says anything.
    pub book_quiet_after: Option<std::time::Duration>,
}

/// The defaults most venues share: 4 MiB messages, no keepalive, snapshots on the WebSocket.
pub(crate) const BASE: Protocol = Protocol {
    endpoint: "",
    path: "/",
    max_message: 4 << 20,
    keepalive: None,
    rest_snapshot: None,
    symbols_per_connection: None,
    books_span_connections: false,
    book_quiet_after: None,
};

impl Protocol {
    /// The protocol of `venue`.
    pub fn of(venue: Venue) -> &'static Protocol {
        match venue {
            Venue::Coinbase => &super::coinbase::ADVANCED_PROTOCOL,
            Venue::CoinbaseExchange => &super::coinbase::EXCHANGE_PROTOCOL,
            Venue::Binance => &super::binance::SPOT_PROTOCOL,
            Venue::BinanceFutures => &super::binance::FUTURES_PROTOCOL,
            Venue::BinanceCoinM => &super::binance::COINM_PROTOCOL,
            Venue::Deribit => &super::deribit::PROTOCOL,
            Venue::Hyperliquid => &super::hyperliquid::PROTOCOL,
            Venue::KrakenFutures => &super::krakenfutures::PROTOCOL,
            Venue::Bitmex => &super::bitmex::PROTOCOL,
            Venue::Bitfinex => &super::bitfinex::PROTOCOL,
            Venue::Kraken => &super::kraken::V2_PROTOCOL,
            Venue::KrakenV1 => &super::kraken::V1_PROTOCOL,
            Venue::Okx => &super::okx::PROTOCOL,
            Venue::Gemini => &super::gemini::V2_PROTOCOL,
            Venue::GeminiV1 => &super::gemini::V1_PROTOCOL,
            Venue::BybitSpot => &super::bybit::SPOT_PROTOCOL,
            Venue::BybitLinear => &super::bybit::LINEAR_PROTOCOL,
            Venue::BybitInverse => &super::bybit::INVERSE_PROTOCOL,
        }
    }

    /// The WebSocket URL for `endpoint` (a venue's or a simulator's) carrying `symbols`: an
    /// endpoint that has a path is used as given; one without gets the venue's path.
    pub fn url(&self, endpoint: &str, symbols: &[String]) -> String {
        let base = endpoint.trim_end_matches('/');
        let has_path = base.split_once("://").is_some_and(|(_, rest)| rest.contains('/'));
        if has_path {
            return endpoint.to_owned();
        }
        let symbol = symbols.first().map_or(String::new(), |s| s.to_ascii_lowercase());
        format!("{base}{}", self.path.replace("{symbol}", &symbol))
    }

    /// `symbols` split into the groups one connection each can carry.
    pub fn connection_groups(&self, symbols: &[String]) -> Vec<Vec<String>> {
        match self.symbols_per_connection {
            Some(n) if n > 0 => symbols.chunks(n).map(<[String]>::to_vec).collect(),
            _ => vec![symbols.to_vec()],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_venue_has_an_endpoint_and_a_url() {
        let symbols = vec!["BTCUSD".to_owned()];
        for v in Venue::ALL {
            let p = Protocol::of(v);
            assert!(p.endpoint.starts_with("wss://"), "{v}: {}", p.endpoint);
            let url = p.url(p.endpoint, &symbols);
            assert!(url.starts_with(p.endpoint), "{v}: {url}");
            assert!(url.len() > p.endpoint.len(), "{v}: a path is added: {url}");
        }
    }

    #[test]
    fn a_path_is_added_only_when_missing() {
        let p = Protocol::of(Venue::Okx);
        assert_eq!(p.url("wss://127.0.0.1:9000", &[]), "wss://127.0.0.1:9000/ws/v5/public");
        assert_eq!(p.url("wss://127.0.0.1:9000/x", &[]), "wss://127.0.0.1:9000/x");
        let g = Protocol::of(Venue::GeminiV1);
        assert_eq!(
            g.url("wss://api.gemini.com", &["BTCUSD".to_owned()]),
            "wss://api.gemini.com/v1/marketdata/btcusd?heartbeat=true"
        );
        assert_eq!(g.connection_groups(&["A".into(), "B".into()]).len(), 2);
        assert_eq!(p.connection_groups(&["A".into(), "B".into()]).len(), 1);
    }

    #[test]
    fn binance_snapshot_urls() {
        let spot = Protocol::of(Venue::Binance).rest_snapshot.unwrap();
        assert_eq!(
            spot.url("https://api.binance.com/", "btcusdt"),
            "https://api.binance.com/api/v3/depth?symbol=BTCUSDT&limit=5000"
        );
        let fut = Protocol::of(Venue::BinanceFutures).rest_snapshot.unwrap();
        assert_eq!(
            fut.url(fut.default_base, "ETHUSDT"),
            "https://fapi.binance.com/fapi/v1/depth?symbol=ETHUSDT&limit=1000"
        );
        assert!(Protocol::of(Venue::Okx).rest_snapshot.is_none());
        assert!(Protocol::of(Venue::Binance).books_span_connections);
    }
}

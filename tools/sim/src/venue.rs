//! What the simulator knows of each venue's protocol (../shared/venues.md), by [`Venue`]:
//! which frames greet a new connection, which acknowledge a subscription, how to acknowledge
//! one the capture did not record, the sequence identity of a frame, server pings, and how to
//! damage a book frame on purpose. Each venue's protocol lives in its own module under
//! `venues/`; these functions look it up.

use std::ops::Range;

use ladderfeed::book::Venue;

pub use crate::scan::{find, with_number};
use crate::venues::{self, protocol};

/// Frames a venue sends on connect, before any subscription (Bitfinex `info`, Kraken v1
/// `systemStatus`): as any venue words them.
pub fn is_greeting(frame: &[u8]) -> bool {
    venues::any(|p| p.is_greeting(frame))
}

/// Frames that acknowledge a subscription, as any venue words them.
pub fn is_ack(frame: &[u8]) -> bool {
    venues::any(|p| p.is_ack(frame))
}

/// Whether a connection to `path` must subscribe by message before data flows. Binance
/// combined streams (`/stream?streams=…`) and raw streams (`/ws/<stream>`) and Gemini v1
/// (`/v1/marketdata/<symbol>`) subscribe in the URL.
pub fn subscribes_by_message(venue: Venue, path: &str) -> bool {
    protocol(venue).subscribes_by_message(path)
}

/// Whether a client's text message is a subscription request.
pub fn is_subscribe(msg: &str) -> bool {
    msg.to_ascii_lowercase().contains("subscribe")
}

/// The venue's interval between server pings (WebSocket ping frames), in seconds: Binance
/// pings every 20 s; the others expect the client to ping.
pub fn server_ping_secs(venue: Venue) -> Option<f64> {
    protocol(venue).server_ping_secs()
}

/// A text answer to a client's text keep-alive (OKX: `ping` → `pong`).
pub fn text_pong(venue: Venue, msg: &str) -> Option<&'static str> {
    protocol(venue).text_pong(msg)
}

/// The acknowledgement the venue sends for `msg`, for a capture that did not record one.
/// `None` where an ack must carry identities the capture fixes (Bitfinex and Kraken v1
/// channel ids) or where the venue sends none (Gemini).
pub fn synth_ack(venue: Venue, msg: &str) -> Option<String> {
    protocol(venue).synth_ack(msg)
}

/// The venue's own sequence identity of a frame (what a client chains on), for the
/// reference log: Binance `U`/`u`/`pu`, Coinbase `sequence_num` or `sequence`, OKX
/// `seqId`/`checksum`, Kraken `c`/`checksum`, Gemini v1 `socket_sequence`, Bitfinex the
/// channel id and trailing sequence.
pub fn seq_identity(venue: Venue, frame: &[u8]) -> Option<String> {
    protocol(venue).seq_identity(frame)
}

/// A frame's per-connection sequence number: where its digits are, and its value. Coinbase
/// Advanced: `sequence_num` (every message). Bitfinex with `SEQ_ALL`: the element after the
/// payload (`[CHAN, PAYLOAD, SEQ]`, `[CHAN, "te", TRADE, SEQ]`, `[CHAN, "cs", CRC, SEQ]`,
/// `[CHAN, "hb", SEQ]`); events (objects) carry none. `None` for other venues and frames.
pub fn conn_seq(venue: Venue, frame: &[u8]) -> Option<(Range<usize>, u64)> {
    protocol(venue).conn_seq(frame)
}

/// A Bitfinex channel frame's channel id (`[CHAN, …]`): where its digits are, and its value.
pub fn bitfinex_chan(frame: &[u8]) -> Option<(Range<usize>, u64)> {
    venues::bitfinex::chan_id(frame)
}

/// Changes the size of the first book level in `frame` (its last digit moves by one), so a
/// checksum over the book no longer matches. `None` when the frame holds no level.
pub fn corrupt_level(venue: Venue, frame: &[u8]) -> Option<Vec<u8>> {
    protocol(venue).corrupt_level(frame)
}

/// Prices a bid of `frame` above every ask (its price text becomes `9` followed by its
/// digits: larger than any real ask of the book), so the book crosses. `None` when the frame
/// has no bid level this function can find.
pub fn cross_book(venue: Venue, frame: &[u8]) -> Option<Vec<u8>> {
    protocol(venue).cross_book(frame)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identities_by_venue() {
        let b = br#"{"stream":"x","data":{"e":"depthUpdate","U":10,"u":12,"b":[],"a":[]}}"#;
        assert_eq!(seq_identity(Venue::Binance, b).unwrap(), "U=10 u=12");
        let k = br#"[992,{"b":[["354.15000000","5.00000000","1618678133.365913"]],"c":"2583817756"},"book-1000","XMR/USD"]"#;
        assert_eq!(seq_identity(Venue::KrakenV1, k).unwrap(), "c=2583817756");
        assert_eq!(
            seq_identity(Venue::Bitfinex, b"[146465,[0.46673,1,2231.0474696],19]").unwrap(),
            "chan=146465 seq=19"
        );
        assert_eq!(seq_identity(Venue::Bitfinex, b"[81568,[6433.9,0,1]]").unwrap(), "chan=81568");
    }

    #[test]
    fn corrupts_a_size_and_crosses_a_bid() {
        let k = br#"[992,{"b":[["354.15000000","5.00000000","1618678133.365913"]],"c":"2583817756"},"book-1000","XMR/USD"]"#;
        let c = corrupt_level(Venue::KrakenV1, k).unwrap();
        assert!(find(&c, b"\"5.00000001\"").is_some(), "{}", String::from_utf8_lossy(&c));
        let x = cross_book(Venue::KrakenV1, k).unwrap();
        assert!(find(&x, b"\"9354.15000000\"").is_some());
        let cb = br#"{"type":"l2update","product_id":"SKL-BTC","changes":[["buy","0.00001306","660.5"]],"time":"x"}"#;
        let x = cross_book(Venue::CoinbaseExchange, cb).unwrap();
        assert!(find(&x, b"\"90.00001306\"").is_some(), "{}", String::from_utf8_lossy(&x));
        let c = corrupt_level(Venue::CoinbaseExchange, cb).unwrap();
        assert!(find(&c, b"\"660.6\"").is_some());
        // A heartbeat has no level.
        assert!(corrupt_level(Venue::CoinbaseExchange, br#"{"type":"heartbeat"}"#).is_none());
    }

    #[test]
    fn acks_for_captures_without_them() {
        let a = synth_ack(
            Venue::Binance,
            r#"{"method":"SUBSCRIBE","params":["btcusdt@depth"],"id":7}"#,
        );
        assert_eq!(a.unwrap(), r#"{"id":7,"result":null}"#);
        assert!(synth_ack(Venue::Bitfinex, r#"{"event":"subscribe"}"#).is_none());
        assert!(subscribes_by_message(Venue::Binance, "/ws"));
        assert!(!subscribes_by_message(Venue::Binance, "/stream?streams=btcusdt@depth"));
        assert!(!subscribes_by_message(Venue::Binance, "/ws/btcusdt@depth"));
        assert!(subscribes_by_message(Venue::Binance, "/stream"));
    }

    #[test]
    fn connection_sequence_numbers_are_found_where_each_venue_puts_them() {
        let seq = |v, f: &[u8]| {
            conn_seq(v, f).map(|(r, n)| (String::from_utf8_lossy(&f[r]).into_owned(), n))
        };
        let bfx = Venue::Bitfinex;
        assert_eq!(seq(bfx, b"[146465,[0.46673,1,2231.0474696],19]"), Some(("19".into(), 19)));
        assert_eq!(seq(bfx, b"[146465,[[1,2,3],[4,5,-6]],7]"), Some(("7".into(), 7)));
        assert_eq!(seq(bfx, b"[5,\"hb\",20]"), Some(("20".into(), 20)));
        assert_eq!(seq(bfx, b"[5,\"te\",[1,2,0.5,6443.1],394]"), Some(("394".into(), 394)));
        assert_eq!(seq(bfx, b"[5,\"cs\",-12345,395]"), Some(("395".into(), 395)));
        // Without SEQ_ALL: no number, and a checksum is not taken for one.
        assert_eq!(seq(bfx, b"[81568,[6433.9,0,1]]"), None);
        assert_eq!(seq(bfx, b"[5,\"cs\",12345]"), None);
        assert_eq!(seq(bfx, b"[5,\"hb\"]"), None);
        assert_eq!(seq(bfx, b"{\"event\":\"subscribed\",\"chanId\":5}"), None);
        let cb = br#"{"channel":"l2_data","client_id":"","timestamp":"t","sequence_num":42,"events":[]}"#;
        assert_eq!(seq(Venue::Coinbase, cb), Some(("42".into(), 42)));
        let (r, _) = conn_seq(Venue::Coinbase, cb).unwrap();
        assert!(find(&with_number(cb, r, 1000), b"\"sequence_num\":1000,").is_some());
        let (r, id) = bitfinex_chan(b"[146465,\"hb\",20]").unwrap();
        assert_eq!(id, 146_465);
        assert_eq!(with_number(b"[146465,\"hb\",20]", r, 7), b"[7,\"hb\",20]");
    }
}

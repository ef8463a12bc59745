//! Gemini v2 (`l2` subscriptions by message, `l2_updates` with `event_id`, a full book after a
//! resubscription) and v1 (`/v1/marketdata/<symbol>`: subscribed in the URL, frames chained
//! on `socket_sequence`). Gemini sends no acknowledgement.

use serde_json::Value;

use crate::capture::Capture;
use crate::protocol::{BookRequest, SimProtocol, Streams};
use crate::reference::VenueBooks;
use crate::scan::{self, Num};

/// Gemini market data v2.
#[derive(Debug)]
pub(crate) struct GeminiV2;

/// Gemini market data v1.
#[derive(Debug)]
pub(crate) struct GeminiV1;

impl SimProtocol for GeminiV2 {
    fn seq_identity(&self, frame: &[u8]) -> Option<String> {
        scan::pick(frame, &[("event_id", b"\"event_id\":")])
    }

    fn is_book_frame(&self, frame: &[u8]) -> bool {
        scan::has(frame, b"\"l2_updates\"")
    }

    fn bid_price(&self, frame: &[u8]) -> Option<Num> {
        scan::first_in_array_at(frame, b"[\"buy\"")
    }

    fn resubscribes(&self) -> bool {
        true
    }

    fn book_requests(&self, v: &Value, _capture: &Capture, _streams: &Streams) -> Vec<BookRequest> {
        // One `l2` subscription carries a symbol's book and its trades.
        let subscribe = v["type"] == "subscribe";
        let mut out = Vec::new();
        for sub in v["subscriptions"].as_array().into_iter().flatten() {
            let name = sub["name"].as_str().unwrap_or_default();
            for symbol in sub["symbols"].as_array().into_iter().flatten() {
                out.push(BookRequest {
                    subscribe,
                    symbol: symbol.as_str().unwrap_or_default().to_owned(),
                    book: (name == "l2").then(|| name.to_owned()),
                    capture_channel: None,
                    ack: None,
                });
            }
        }
        out
    }

    /// The book's updates and its trades, which share the subscription.
    fn is_muted(&self, frame: &[u8], streams: &Streams) -> bool {
        (scan::has(frame, b"\"type\":\"l2_updates\"") || scan::has(frame, b"\"type\":\"trade\""))
            && streams
                .muted
                .iter()
                .any(|m| scan::has(frame, format!("\"symbol\":\"{m}\"").as_bytes()))
    }

    /// The first `l2_updates` of a subscription: every level as a change, with the `trades`
    /// and `auction_events` only that first message carries, here empty.
    fn snapshot(
        &self,
        books: &mut VenueBooks,
        request: &BookRequest,
        _channel: &str,
        _seq: Option<u64>,
        _new_channel: Option<u64>,
    ) -> Option<Vec<u8>> {
        let symbol = &request.symbol;
        let book = books.book(symbol)?;
        let changes = book.levels_joined(
            |p, q| format!("[\"buy\",\"{p}\",\"{q}\"]"),
            |p, q| format!("[\"sell\",\"{p}\",\"{q}\"]"),
        );
        Some(
            format!(
                "{{\"type\":\"l2_updates\",\"symbol\":\"{symbol}\",\"changes\":[{changes}],\"trades\":[],\"auction_events\":[]}}"
            )
            .into_bytes(),
        )
    }
}

impl SimProtocol for GeminiV1 {
    fn subscribes_by_message(&self, _path: &str) -> bool {
        false
    }

    fn seq_identity(&self, frame: &[u8]) -> Option<String> {
        scan::pick(frame, &[("socket_sequence", b"\"socket_sequence\":")])
    }

    fn is_book_frame(&self, frame: &[u8]) -> bool {
        scan::has(frame, b"\"remaining\"")
    }
}

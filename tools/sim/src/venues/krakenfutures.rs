//! Kraken Futures v1: `subscribe` events answered per product, `book` messages chained on each
//! product's `seq`, and a `book_snapshot` of the venue's book (carrying the `seq` it reflects)
//! after a resubscription.

use serde_json::{json, Value};

use crate::capture::Capture;
use crate::protocol::{BookRequest, SimProtocol, Streams};
use crate::reference::VenueBooks;
use crate::scan;

/// Kraken Futures.
#[derive(Debug)]
pub(crate) struct KrakenFutures;

impl SimProtocol for KrakenFutures {
    fn is_greeting(&self, frame: &[u8]) -> bool {
        scan::has(frame, b"\"event\":\"info\"")
    }

    fn is_ack(&self, frame: &[u8]) -> bool {
        scan::has(frame, b"\"event\":\"subscribed\"") && scan::has(frame, b"\"product_ids\"")
    }

    fn synth_ack(&self, msg: &str) -> Option<String> {
        let v: Value = serde_json::from_str(msg).ok()?;
        let feed = v["feed"].as_str()?;
        let acks: Vec<String> = v["product_ids"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(|p| json!({ "event": "subscribed", "feed": feed, "product_ids": [p.to_ascii_uppercase()] }).to_string())
            .collect();
        Some(acks.join("\n"))
    }

    fn seq_identity(&self, frame: &[u8]) -> Option<String> {
        scan::pick(frame, &[("seq", b"\"seq\":")])
    }

    fn is_book_frame(&self, frame: &[u8]) -> bool {
        scan::has(frame, b"\"feed\":\"book\"")
    }

    fn resubscribes(&self) -> bool {
        true
    }

    fn book_requests(&self, v: &Value, _capture: &Capture, _streams: &Streams) -> Vec<BookRequest> {
        let event = v["event"].as_str().unwrap_or_default();
        if event != "subscribe" && event != "unsubscribe" {
            return Vec::new();
        }
        let feed = v["feed"].as_str().unwrap_or_default();
        v["product_ids"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(|p| {
                let p = p.to_ascii_uppercase();
                let done = if event == "subscribe" { "subscribed" } else { "unsubscribed" };
                BookRequest {
                    subscribe: event == "subscribe",
                    symbol: p.clone(),
                    book: (feed == "book").then(|| "book".to_owned()),
                    capture_channel: None,
                    ack: Some(
                        json!({ "event": done, "feed": feed, "product_ids": [p] }).to_string(),
                    ),
                }
            })
            .collect()
    }

    fn is_muted(&self, frame: &[u8], streams: &Streams) -> bool {
        scan::has(frame, b"\"feed\":\"book\"")
            && streams
                .muted
                .iter()
                .any(|m| scan::has(frame, format!("\"product_id\":\"{m}\"").as_bytes()))
    }

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
        let seq = books.entry(symbol).map(|(_, slot)| slot.last_id())?;
        let side = |levels: &[(String, String)]| {
            levels
                .iter()
                .map(|(p, q)| format!("{{\"price\":{p},\"qty\":{q}}}"))
                .collect::<Vec<_>>()
                .join(",")
        };
        let ms = crate::log::now_ns() / 1_000_000;
        Some(
            format!(
                "{{\"feed\":\"book_snapshot\",\"product_id\":\"{symbol}\",\"timestamp\":{ms},\"seq\":{seq},\"tickSize\":null,\"bids\":[{}],\"asks\":[{}]}}",
                side(&book.bids),
                side(&book.asks)
            )
            .into_bytes(),
        )
    }
}

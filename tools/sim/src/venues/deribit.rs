//! Deribit v2 (JSON-RPC): `public/subscribe` answered with the channels, `public/test` and
//! `public/set_heartbeat` answered, `book.*` changes chained on `prev_change_id`/`change_id`,
//! and a snapshot of the venue's book (carrying the `change_id` it reflects) after a
//! resubscription, under the capture's own channel name.

use serde_json::{json, Value};

use crate::capture::Capture;
use crate::protocol::{BookRequest, SimProtocol, Streams};
use crate::reference::VenueBooks;
use crate::scan;

/// Deribit.
#[derive(Debug)]
pub(crate) struct Deribit;

impl SimProtocol for Deribit {
    fn is_ack(&self, frame: &[u8]) -> bool {
        scan::has(frame, b"\"jsonrpc\":\"2.0\"") && scan::has(frame, b"\"result\":[")
    }

    fn pong_is_data(&self) -> bool {
        true
    }

    /// The client's keep-alive and heartbeat requests (ladderfeed's ids: 9002 and 9000).
    fn text_pong(&self, msg: &str) -> Option<&'static str> {
        let v: Value = serde_json::from_str(msg).ok()?;
        match v["method"].as_str()? {
            "public/test" => Some(r#"{"jsonrpc":"2.0","id":9002,"result":{"version":"sim"}}"#),
            "public/set_heartbeat" => Some(r#"{"jsonrpc":"2.0","id":9000,"result":"ok"}"#),
            _ => None,
        }
    }

    fn synth_ack(&self, msg: &str) -> Option<String> {
        let v: Value = serde_json::from_str(msg).ok()?;
        Some(
            json!({ "jsonrpc": "2.0", "id": v["id"], "result": v["params"]["channels"] })
                .to_string(),
        )
    }

    fn seq_identity(&self, frame: &[u8]) -> Option<String> {
        scan::pick(
            frame,
            &[("prev_change_id", b"\"prev_change_id\":"), ("change_id", b"\"change_id\":")],
        )
    }

    fn is_book_frame(&self, frame: &[u8]) -> bool {
        scan::has(frame, b"\"type\":\"change\"")
    }

    fn resubscribes(&self) -> bool {
        true
    }

    /// A book request names the capture's own channel for the instrument where it has one
    /// (its interval): the simulator serves the capture's stream.
    fn book_requests(&self, v: &Value, capture: &Capture, _streams: &Streams) -> Vec<BookRequest> {
        let subscribe = v["method"] == "public/subscribe";
        if !subscribe && v["method"] != "public/unsubscribe" {
            return Vec::new();
        }
        let mut out = Vec::new();
        for ch in v["params"]["channels"].as_array().into_iter().flatten().filter_map(Value::as_str)
        {
            let mut parts = ch.split('.');
            let (Some(kind), Some(symbol)) = (parts.next(), parts.next()) else { continue };
            let book = (kind == "book").then(|| {
                let own = |c: &str| c.starts_with(&format!("book.{symbol}."));
                capture.first_string("channel", own).unwrap_or_else(|| ch.to_owned())
            });
            out.push(BookRequest {
                subscribe,
                symbol: symbol.to_owned(),
                book,
                capture_channel: None,
                ack: None,
            });
        }
        out
    }

    fn subscriptions_answer(
        &self,
        requests: &[BookRequest],
        _subscribed: &[String],
        _streams: &mut Streams,
    ) -> Option<String> {
        let channels: Vec<&str> = requests.iter().filter_map(|r| r.book.as_deref()).collect();
        Some(json!({ "jsonrpc": "2.0", "id": 9003, "result": channels }).to_string())
    }

    fn is_muted(&self, frame: &[u8], streams: &Streams) -> bool {
        streams
            .muted
            .iter()
            .any(|m| scan::has(frame, format!("\"channel\":\"book.{m}.").as_bytes()))
    }

    fn snapshot(
        &self,
        books: &mut VenueBooks,
        request: &BookRequest,
        channel: &str,
        _seq: Option<u64>,
        _new_channel: Option<u64>,
    ) -> Option<Vec<u8>> {
        let symbol = &request.symbol;
        let book = books.book(symbol)?;
        let change_id = books.entry(symbol).map(|(_, slot)| slot.last_id())?;
        let side = |levels: &[(String, String)]| {
            levels.iter().map(|(p, q)| format!("[\"new\",{p},{q}]")).collect::<Vec<_>>().join(",")
        };
        let ms = crate::log::now_ns() / 1_000_000;
        Some(
            format!(
                "{{\"jsonrpc\":\"2.0\",\"method\":\"subscription\",\"params\":{{\"channel\":\"{channel}\",\"data\":{{\"type\":\"snapshot\",\"timestamp\":{ms},\"instrument_name\":\"{symbol}\",\"change_id\":{change_id},\"bids\":[{}],\"asks\":[{}]}}}}}}",
                side(&book.bids),
                side(&book.asks)
            )
            .into_bytes(),
        )
    }
}

//! Bybit v5 public (spot, linear, inverse): `subscribe` ops answered once per request, the
//! JSON keep-alive (`{"op":"ping"}` → a `pong` answer), `orderbook.{depth}.{symbol}` deltas
//! chained on `u`, and a snapshot of the venue's book (carrying the `u` it reflects) after a
//! resubscription.

use serde_json::{json, Value};

use crate::capture::Capture;
use crate::protocol::{BookRequest, SimProtocol, Streams};
use crate::reference::VenueBooks;
use crate::scan::{self, Num};

/// Bybit v5.
#[derive(Debug)]
pub(crate) struct Bybit;

const PONG: &str = r#"{"success":true,"ret_msg":"pong","conn_id":"sim","op":"ping"}"#;

impl SimProtocol for Bybit {
    fn is_ack(&self, frame: &[u8]) -> bool {
        scan::has(frame, b"\"op\":\"subscribe\"") && scan::has(frame, b"\"success\":")
    }

    fn text_pong(&self, msg: &str) -> Option<&'static str> {
        let v: Value = serde_json::from_str(msg).ok()?;
        (v["op"] == "ping").then_some(PONG)
    }

    fn synth_ack(&self, msg: &str) -> Option<String> {
        let v: Value = serde_json::from_str(msg).ok()?;
        let op = v["op"].as_str()?;
        Some(json!({ "success": true, "ret_msg": "", "conn_id": "sim", "op": op }).to_string())
    }

    fn seq_identity(&self, frame: &[u8]) -> Option<String> {
        scan::pick(frame, &[("u", b"\"u\":"), ("seq", b"\"seq\":")])
    }

    fn is_book_frame(&self, frame: &[u8]) -> bool {
        scan::has(frame, b"\"type\":\"delta\"")
    }

    fn bid_price(&self, frame: &[u8]) -> Option<Num> {
        scan::first_level_after(frame, b"\"b\":[")
    }

    fn resubscribes(&self) -> bool {
        true
    }

    /// A book request names the capture's own topic for the symbol where it has one: the
    /// simulator serves the capture's stream (its depth), whatever depth the client asked
    /// for, and a snapshot must belong to that stream.
    fn book_requests(&self, v: &Value, capture: &Capture, _streams: &Streams) -> Vec<BookRequest> {
        let op = v["op"].as_str().unwrap_or_default();
        let mut out = Vec::new();
        for topic in v["args"].as_array().into_iter().flatten().filter_map(Value::as_str) {
            let Some((kind, symbol)) = topic.rsplit_once('.') else { continue };
            let book = kind.starts_with("orderbook").then(|| {
                let own =
                    |t: &str| t.starts_with("orderbook.") && t.ends_with(&format!(".{symbol}"));
                capture.first_string("topic", own).unwrap_or_else(|| topic.to_owned())
            });
            out.push(BookRequest {
                subscribe: op == "subscribe",
                symbol: symbol.to_owned(),
                book,
                capture_channel: None,
                ack: None,
            });
        }
        out
    }

    /// One answer per request, as Bybit sends it.
    fn subscriptions_answer(
        &self,
        requests: &[BookRequest],
        _subscribed: &[String],
        _streams: &mut Streams,
    ) -> Option<String> {
        let op = if requests.first()?.subscribe { "subscribe" } else { "unsubscribe" };
        Some(json!({ "success": true, "ret_msg": "", "conn_id": "sim", "op": op }).to_string())
    }

    fn is_muted(&self, frame: &[u8], streams: &Streams) -> bool {
        scan::has(frame, b"\"topic\":\"orderbook.")
            && streams.muted.iter().any(|m| scan::has(frame, format!("\"s\":\"{m}\"").as_bytes()))
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
        let u = books.entry(symbol).map(|(_, slot)| slot.last_id())?;
        let side = |levels: &[(String, String)]| {
            levels.iter().map(|(p, q)| format!("[\"{p}\",\"{q}\"]")).collect::<Vec<_>>().join(",")
        };
        let ms = crate::log::now_ns() / 1_000_000;
        Some(
            format!(
                "{{\"topic\":\"{channel}\",\"type\":\"snapshot\",\"ts\":{ms},\"data\":{{\"s\":\"{symbol}\",\"b\":[{}],\"a\":[{}],\"u\":{u},\"seq\":0}},\"cts\":{ms}}}",
                side(&book.bids),
                side(&book.asks)
            )
            .into_bytes(),
        )
    }
}

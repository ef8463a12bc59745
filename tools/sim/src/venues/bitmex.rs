//! BitMEX `realtime`: the welcome, `subscribe`/`unsubscribe` ops answered per topic with
//! `success`, the text keep-alive (`ping` → `pong`), `orderBookL2` rows keyed by level `id`
//! (no sequence number: a lost row shows as a row of an id the book does not hold), and a
//! `partial` of the venue's book (every level with its `id`) after a resubscription.

use serde_json::{json, Value};

use crate::capture::Capture;
use crate::protocol::{BookRequest, SimProtocol, Streams};
use crate::reference::VenueBooks;
use crate::scan::{self, Num};

/// BitMEX.
#[derive(Debug)]
pub(crate) struct Bitmex;

/// The number token after `key` in `frame[from..]`, before the end of the object it is in.
fn number_in_row(frame: &[u8], from: usize, key: &[u8]) -> Option<Num> {
    let rest = &frame[from..];
    let end = rest.iter().position(|&c| c == b'}').unwrap_or(rest.len());
    let at = from + scan::find(&rest[..end], key)? + key.len();
    let len = frame[at..]
        .iter()
        .position(|c| !(c.is_ascii_digit() || matches!(c, b'.' | b'-' | b'e' | b'E' | b'+')))
        .unwrap_or(frame.len() - at);
    (len > 0).then_some(Num { start: at, end: at + len })
}

/// The start of the row object holding byte `at`.
fn row_start(frame: &[u8], at: usize) -> usize {
    frame[..at].iter().rposition(|&c| c == b'{').unwrap_or(0)
}

impl SimProtocol for Bitmex {
    fn is_greeting(&self, frame: &[u8]) -> bool {
        scan::has(frame, b"\"info\":\"Welcome")
    }

    fn is_ack(&self, frame: &[u8]) -> bool {
        scan::has(frame, b"\"success\":true") && scan::has(frame, b"\"subscribe\":\"")
    }

    fn text_pong(&self, msg: &str) -> Option<&'static str> {
        (msg == "ping").then_some("pong")
    }

    fn synth_ack(&self, msg: &str) -> Option<String> {
        let v: Value = serde_json::from_str(msg).ok()?;
        let op = v["op"].as_str()?;
        let acks: Vec<String> = v["args"]
            .as_array()?
            .iter()
            .map(|a| json!({ "success": true, op: a, "request": v }).to_string())
            .collect();
        Some(acks.join("\n"))
    }

    /// BitMEX numbers nothing: the first level id a frame changes.
    fn seq_identity(&self, frame: &[u8]) -> Option<String> {
        scan::pick(frame, &[("id", b"\"id\":")])
    }

    fn is_book_frame(&self, frame: &[u8]) -> bool {
        scan::has(frame, b"\"table\":\"orderBookL2\"")
            && !scan::has(frame, b"\"action\":\"partial\"")
    }

    /// Changes the first `size` of a book frame's rows (its last digit moves by one).
    fn corrupt_level(&self, frame: &[u8]) -> Option<Vec<u8>> {
        if !self.is_book_frame(frame) {
            return None;
        }
        let key = b"\"size\":";
        let n = number_in_row(frame, scan::find(frame, key)?, key)?;
        let digit = (n.start..n.end).rev().find(|&i| frame[i].is_ascii_digit())?;
        let mut out = frame.to_vec();
        out[digit] = if out[digit] == b'9' { b'8' } else { out[digit] + 1 };
        Some(out)
    }

    /// The price of the first bid row that carries one (2021 captures: `insert` rows only).
    fn bid_price(&self, frame: &[u8]) -> Option<Num> {
        let side = b"\"side\":\"Buy\"";
        let mut from = 0;
        while let Some(at) = scan::find(&frame[from..], side) {
            let row = row_start(frame, from + at);
            if let Some(n) = number_in_row(frame, row, b"\"price\":") {
                return Some(n);
            }
            from += at + side.len();
        }
        None
    }

    fn resubscribes(&self) -> bool {
        true
    }

    fn book_requests(&self, v: &Value, _capture: &Capture, _streams: &Streams) -> Vec<BookRequest> {
        let op = v["op"].as_str().unwrap_or_default();
        if op != "subscribe" && op != "unsubscribe" {
            return Vec::new();
        }
        v["args"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .filter_map(|topic| {
                let (table, symbol) = topic.split_once(':')?;
                Some(BookRequest {
                    subscribe: op == "subscribe",
                    symbol: symbol.to_owned(),
                    book: (table == "orderBookL2").then(|| table.to_owned()),
                    capture_channel: None,
                    ack: Some(json!({ "success": true, op: topic, "request": v }).to_string()),
                })
            })
            .collect()
    }

    fn is_muted(&self, frame: &[u8], streams: &Streams) -> bool {
        scan::has(frame, b"\"table\":\"orderBookL2\"")
            && streams
                .muted
                .iter()
                .any(|m| scan::has(frame, format!("\"symbol\":\"{m}\"").as_bytes()))
    }

    /// A `partial` of the venue's book: every level with the `id` the venue keys it by, asks
    /// then bids, highest price first (as BitMEX orders them).
    fn snapshot(
        &self,
        books: &mut VenueBooks,
        request: &BookRequest,
        _channel: &str,
        _seq: Option<u64>,
        _new_channel: Option<u64>,
    ) -> Option<Vec<u8>> {
        let symbol = &request.symbol;
        let ids = books.bitmex_ids(symbol)?;
        let (inst, slot) = books.entry(symbol)?;
        let mut rows: Vec<(bool, i64, String)> = Vec::new();
        for (id, &(bid, px)) in ids {
            let side = if bid { &slot.book.bids } else { &slot.book.asks };
            let Some(&qty) = side.get(&px) else { continue };
            let row = format!(
                "{{\"symbol\":\"{symbol}\",\"id\":{id},\"side\":\"{}\",\"size\":{},\"price\":{}}}",
                if bid { "Buy" } else { "Sell" },
                inst.format_qty(qty),
                inst.format_price(px)
            );
            rows.push((bid, px, row));
        }
        rows.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
        let data: Vec<String> = rows.into_iter().map(|(_, _, r)| r).collect();
        Some(
            format!(
                "{{\"table\":\"orderBookL2\",\"action\":\"partial\",\"keys\":[\"symbol\",\"id\",\"side\"],\"filter\":{{\"symbol\":\"{symbol}\"}},\"data\":[{}]}}",
                data.join(",")
            )
            .into_bytes(),
        )
    }
}

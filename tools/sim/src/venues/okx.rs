//! OKX v5 public: `subscribe` ops acknowledged per argument, the text keep-alive
//! (`ping` → `pong`), `books` updates chained on `prevSeqId`/`seqId` with a CRC-32 checksum,
//! and a snapshot of the venue's book after a resubscription.

use std::fmt::Write as _;

use serde_json::{json, Value};

use crate::capture::Capture;
use crate::protocol::{BookRequest, SimProtocol, Streams};
use crate::reference::VenueBooks;
use crate::scan::{self, Num};

/// OKX.
#[derive(Debug)]
pub(crate) struct Okx;

impl SimProtocol for Okx {
    fn is_ack(&self, frame: &[u8]) -> bool {
        scan::has(frame, b"\"event\":\"subscribe\"")
    }

    fn text_pong(&self, msg: &str) -> Option<&'static str> {
        (msg == "ping").then_some("pong")
    }

    fn synth_ack(&self, msg: &str) -> Option<String> {
        let v: Value = serde_json::from_str(msg).ok()?;
        let args = v.get("args")?.as_array()?;
        let acks: Vec<String> =
            args.iter().map(|a| json!({ "event": "subscribe", "arg": a }).to_string()).collect();
        Some(acks.join("\n"))
    }

    fn seq_identity(&self, frame: &[u8]) -> Option<String> {
        scan::pick(
            frame,
            &[
                ("prevSeqId", b"\"prevSeqId\":"),
                ("seqId", b"\"seqId\":"),
                ("checksum", b"\"checksum\":"),
            ],
        )
    }

    fn is_book_frame(&self, frame: &[u8]) -> bool {
        scan::has(frame, b"\"action\":\"update\"")
    }

    fn bid_price(&self, frame: &[u8]) -> Option<Num> {
        scan::first_level_after(frame, b"\"bids\":[")
    }

    fn resubscribes(&self) -> bool {
        true
    }

    fn book_requests(&self, v: &Value, _capture: &Capture, _streams: &Streams) -> Vec<BookRequest> {
        let op = v["op"].as_str().unwrap_or_default();
        let mut out = Vec::new();
        for arg in v["args"].as_array().into_iter().flatten() {
            // `liquidation-orders` is subscribed by instrument type (`instType`, no `instId`):
            // answered like any other channel.
            let inst = arg["instId"].as_str().or_else(|| arg["instType"].as_str());
            let (Some(channel), Some(inst)) = (arg["channel"].as_str(), inst) else {
                continue;
            };
            out.push(BookRequest {
                subscribe: op == "subscribe",
                symbol: inst.to_owned(),
                book: channel.starts_with("books").then(|| channel.to_owned()),
                capture_channel: None,
                ack: Some(json!({ "event": op, "arg": arg, "connId": "sim" }).to_string()),
            });
        }
        out
    }

    fn is_muted(&self, frame: &[u8], streams: &Streams) -> bool {
        scan::has(frame, b"\"channel\":\"books")
            && streams
                .muted
                .iter()
                .any(|m| scan::has(frame, format!("\"instId\":\"{m}\"").as_bytes()))
    }

    fn snapshot(
        &self,
        books: &mut VenueBooks,
        request: &BookRequest,
        channel: &str,
        _seq: Option<u64>,
        _new_channel: Option<u64>,
    ) -> Option<Vec<u8>> {
        snapshot(books, channel, &request.symbol)
    }
}

/// An OKX `books` snapshot of `inst_id` from the current book (every level, the checksum of
/// the 25 best interleaved, as OKX computes it), or `None` when there is no book: what OKX
/// sends after a (re)subscription.
fn snapshot(books: &mut VenueBooks, channel: &str, inst_id: &str) -> Option<Vec<u8>> {
    let book = books.book(inst_id)?;
    let mut text = String::new();
    for i in 0..25 {
        for level in [book.bids.get(i), book.asks.get(i)].into_iter().flatten() {
            if !text.is_empty() {
                text.push(':');
            }
            let _ = write!(text, "{}:{}", level.0, level.1);
        }
    }
    let checksum = crc32fast::hash(text.as_bytes()) as i32;
    let side = |levels: &[(String, String)]| {
        let v: Vec<String> =
            levels.iter().map(|(p, q)| format!("[\"{p}\",\"{q}\",\"0\",\"1\"]")).collect();
        v.join(",")
    };
    let ms = crate::log::now_ns() / 1_000_000;
    Some(
        format!(
            "{{\"arg\":{{\"channel\":\"{channel}\",\"instId\":\"{inst_id}\"}},\"action\":\"snapshot\",\"data\":[{{\"asks\":[{}],\"bids\":[{}],\"ts\":\"{ms}\",\"checksum\":{checksum}}}]}}",
            side(&book.asks),
            side(&book.bids)
        )
        .into_bytes(),
    )
}

//! Kraken v2 (`method: subscribe`, `book` channel with a CRC-32 checksum) and v1
//! (`systemStatus` greeting, `subscriptionStatus` acks carrying channel ids the capture fixes,
//! `book-<depth>` frames with a checksum `c`, and a snapshot of the venue's book after a
//! resubscription).

use serde_json::{json, Value};

use crate::capture::Capture;
use crate::protocol::{BookRequest, SimProtocol, Streams};
use crate::reference::VenueBooks;
use crate::scan::{self, Num};

/// Kraken WebSocket v2.
#[derive(Debug)]
pub(crate) struct KrakenV2;

impl SimProtocol for KrakenV2 {
    fn is_ack(&self, frame: &[u8]) -> bool {
        scan::has(frame, b"\"method\":\"subscribe\"")
    }

    fn synth_ack(&self, msg: &str) -> Option<String> {
        let v: Value = serde_json::from_str(msg).ok()?;
        let params = v.get("params")?;
        Some(
            json!({
                "method": "subscribe",
                "result": params,
                "success": true,
                "req_id": v.get("req_id"),
            })
            .to_string(),
        )
    }

    fn seq_identity(&self, frame: &[u8]) -> Option<String> {
        scan::pick(frame, &[("checksum", b"\"checksum\":")])
    }

    fn is_book_frame(&self, frame: &[u8]) -> bool {
        scan::has(frame, b"\"channel\":\"book\"")
    }
}

/// Kraken WebSocket v1.
#[derive(Debug)]
pub(crate) struct KrakenV1;

impl SimProtocol for KrakenV1 {
    fn is_greeting(&self, frame: &[u8]) -> bool {
        scan::has(frame, b"\"event\":\"systemStatus\"")
    }

    fn is_ack(&self, frame: &[u8]) -> bool {
        scan::has(frame, b"\"event\":\"subscriptionStatus\"")
    }

    fn seq_identity(&self, frame: &[u8]) -> Option<String> {
        scan::pick(frame, &[("c", b"\"c\":")])
    }

    fn is_book_frame(&self, frame: &[u8]) -> bool {
        scan::has(frame, b"\"book-")
    }

    fn bid_price(&self, frame: &[u8]) -> Option<Num> {
        scan::first_level_after(frame, b"\"b\":[")
    }

    fn resubscribes(&self) -> bool {
        true
    }

    fn book_requests(&self, v: &Value, capture: &Capture, _streams: &Streams) -> Vec<BookRequest> {
        let event = v["event"].as_str().unwrap_or_default();
        let sub = &v["subscription"];
        let name = sub["name"].as_str().unwrap_or_default();
        let mut out = Vec::new();
        for pair in v["pair"].as_array().into_iter().flatten().filter_map(Value::as_str) {
            let found = if name == "book" { book_channel(capture, pair) } else { None };
            let status = if event == "subscribe" { "subscribed" } else { "unsubscribed" };
            let channel = match found {
                Some((_, d)) => format!("book-{d}"),
                None => name.to_owned(),
            };
            out.push(BookRequest {
                subscribe: event == "subscribe",
                symbol: pair.to_owned(),
                book: found.map(|(id, _)| id.to_string()),
                capture_channel: found,
                ack: Some(
                    json!({
                        "channelID": found.map(|(id, _)| id),
                        "channelName": channel,
                        "event": "subscriptionStatus",
                        "pair": pair,
                        "status": status,
                        "subscription": sub,
                    })
                    .to_string(),
                ),
            });
        }
        out
    }

    fn is_muted(&self, frame: &[u8], streams: &Streams) -> bool {
        scan::has(frame, b",\"book-")
            && streams.muted.iter().any(|m| frame.ends_with(format!("\"{m}\"]").as_bytes()))
    }

    fn snapshot(
        &self,
        books: &mut VenueBooks,
        request: &BookRequest,
        _channel: &str,
        _seq: Option<u64>,
        _new_channel: Option<u64>,
    ) -> Option<Vec<u8>> {
        let (id, depth) = request.capture_channel?;
        snapshot(books, id, depth, &request.symbol)
    }
}

/// The channel id and depth of `pair`'s book in the capture.
fn book_channel(capture: &Capture, pair: &str) -> Option<(u64, usize)> {
    let tail = format!("\",\"{pair}\"]");
    capture.frames().find_map(|f| {
        if !f.ends_with(tail.as_bytes()) || !scan::has(f, b",\"book-") {
            return None;
        }
        let v: Value = serde_json::from_slice(f).ok()?;
        let arr = v.as_array()?;
        let channel = arr.get(arr.len().checked_sub(2)?)?.as_str()?;
        Some((arr.first()?.as_u64()?, channel.strip_prefix("book-")?.parse().ok()?))
    })
}

/// A Kraken v1 book snapshot of `pair` on channel `channel_id` at `depth` from the current
/// book (the best `depth` levels, prices and sizes with the decimals the pair's snapshots
/// print), or `None` when there is no book: what Kraken sends after a (re)subscription.
fn snapshot(books: &mut VenueBooks, channel_id: u64, depth: usize, pair: &str) -> Option<Vec<u8>> {
    let (pd, qd) = books.printed_decimals(pair)?;
    let book = books.book(pair)?.top(depth);
    let now = crate::log::now_ns();
    let ts = format!("{}.{:06}", now / 1_000_000_000, now % 1_000_000_000 / 1000);
    let side = |levels: &[(String, String)]| {
        let v: Vec<String> = levels
            .iter()
            .map(|(p, q)| format!("[\"{}\",\"{}\",\"{ts}\"]", fixed(p, pd), fixed(q, qd)))
            .collect();
        v.join(",")
    };
    Some(
        format!(
            "[{channel_id},{{\"as\":[{}],\"bs\":[{}]}},\"book-{depth}\",\"{pair}\"]",
            side(&book.asks),
            side(&book.bids)
        )
        .into_bytes(),
    )
}

/// `text` (a plain decimal) with exactly `decimals` fraction digits (`"1.5"`, 3: `"1.500"`).
fn fixed(text: &str, decimals: u8) -> String {
    let (int, frac) = text.split_once('.').unwrap_or((text, ""));
    let mut out = int.to_owned();
    if decimals > 0 {
        out.push('.');
        out.push_str(frac);
        for _ in frac.len()..usize::from(decimals) {
            out.push('0');
        }
    }
    out
}

//! Binance spot and USD-M futures: subscription in the URL (combined `/stream?streams=…` or
//! raw `/ws/<stream>`) or by `SUBSCRIBE` message, server pings every 20 s, diff depth events
//! chained on `U`/`u`/`pu`, and the REST depth snapshot (`/api/v3/depth`, `/fapi/v1/depth`)
//! served fresh from the venue's books once the stream has started. A book the capture
//! recorded no snapshot for (a hand-written capture) starts empty at its first update.

use std::fmt::Write as _;
use std::ops::Range;

use ladderfeed::book::Instrument;
use serde_json::Value;

use crate::protocol::{RestDepth, SimProtocol};
use crate::reference::VenueBooks;
use crate::scan::{self, Num};

/// Binance spot, or USD-M or COIN-M futures.
#[derive(Debug)]
pub(crate) struct Binance {
    /// Futures (answers carry `E` and `T`).
    pub futures: bool,
    /// The REST depth path (`/api/v3/depth`, `/fapi/v1/depth`, `/dapi/v1/depth`).
    pub depth_path: &'static str,
}

impl SimProtocol for Binance {
    fn is_ack(&self, frame: &[u8]) -> bool {
        scan::has(frame, b"\"result\":null")
    }

    fn subscribes_by_message(&self, path: &str) -> bool {
        let raw_stream = path.strip_prefix("/ws/").is_some_and(|s| !s.is_empty());
        !(path.contains("streams=") || raw_stream)
    }

    fn server_ping_secs(&self) -> Option<f64> {
        Some(20.0)
    }

    fn synth_ack(&self, msg: &str) -> Option<String> {
        let v: Value = serde_json::from_str(msg).ok()?;
        let id = v.get("id").cloned().unwrap_or(Value::Null);
        Some(serde_json::json!({ "result": null, "id": id }).to_string())
    }

    fn seq_identity(&self, frame: &[u8]) -> Option<String> {
        scan::pick(frame, &[("U", b"\"U\":"), ("u", b"\"u\":"), ("pu", b"\"pu\":")])
    }

    fn is_book_frame(&self, frame: &[u8]) -> bool {
        scan::has(frame, b"\"depthUpdate\"")
    }

    fn bid_price(&self, frame: &[u8]) -> Option<Num> {
        scan::first_level_after(frame, b"\"b\":[")
    }

    fn serves_rest(&self) -> bool {
        true
    }

    fn rest_seeded_symbol(&self, frame: &[u8]) -> Option<String> {
        depth_symbol(frame)
    }

    /// `{"lastUpdateId", "symbol", "bids": [], "asks": []}` at the id the first update
    /// bridges: futures take the first one with `U <= lastUpdateId <= u` (`lastUpdateId = U`),
    /// spot the one with `U <= lastUpdateId + 1 <= u` (`lastUpdateId = U - 1`).
    fn empty_rest_snapshot(&self, frame: &[u8]) -> Option<Vec<u8>> {
        scan::find(frame, b"depthUpdate")?;
        let v: Value = serde_json::from_slice(frame).ok()?;
        let d = v.get("data").unwrap_or(&v);
        let (symbol, first) = (d.get("s")?.as_str()?, d.get("U")?.as_u64()?);
        let id = if self.futures { first } else { first.checked_sub(1)? };
        Some(
            format!(r#"{{"lastUpdateId":{id},"symbol":"{symbol}","bids":[],"asks":[]}}"#)
                .into_bytes(),
        )
    }

    fn rest_symbol(&self, symbol: &str) -> Option<String> {
        Some(symbol.to_ascii_uppercase())
    }

    fn rest_depth(&self, route: &str) -> Option<RestDepth> {
        // Binance's default is 100 levels; spot serves up to 5000, futures 1000.
        let max_limit = if self.futures { 1000 } else { 5000 };
        (route == self.depth_path).then_some(RestDepth { default_limit: 100, max_limit })
    }

    fn rest_snapshot(
        &self,
        books: &VenueBooks,
        symbol: &str,
        limit: usize,
    ) -> Option<(u64, Vec<u8>)> {
        let (inst, slot) = books.entry(symbol)?;
        if !slot.synced() {
            return None;
        }
        let id = slot.last_id();
        let mut out = format!("{{\"lastUpdateId\":{id},");
        if self.futures {
            // Futures answers carry message and transaction times.
            let ms = crate::log::now_ns() / 1_000_000;
            let _ = write!(out, "\"E\":{ms},\"T\":{ms},");
        }
        write_side(&mut out, "bids", inst, &mut slot.book.bids.iter().rev().take(limit));
        out.push(',');
        write_side(&mut out, "asks", inst, &mut slot.book.asks.iter().take(limit));
        out.push('}');
        Some((id, out.into_bytes()))
    }

    fn rest_snapshot_id(&self, body: &[u8]) -> Option<(Range<usize>, u64)> {
        let key = b"\"lastUpdateId\":";
        let at = scan::find(body, key)? + key.len();
        let end =
            at + body[at..].iter().position(|c| !c.is_ascii_digit()).unwrap_or(body.len() - at);
        let id = std::str::from_utf8(&body[at..end]).ok()?.parse().ok()?;
        Some((at..end, id))
    }
}

fn write_side(
    out: &mut String,
    name: &str,
    inst: &Instrument,
    levels: &mut dyn Iterator<Item = (&i64, &i64)>,
) {
    let _ = write!(out, "\"{name}\":[");
    for (i, (p, q)) in levels.enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(out, "[\"{}\",\"{}\"]", inst.format_price(*p), inst.format_qty(*q));
    }
    out.push(']');
}

/// The symbol of a Binance diff depth event (plain or combined stream).
fn depth_symbol(frame: &[u8]) -> Option<String> {
    // Most frames are not depth events: no JSON parse for those.
    scan::find(frame, b"depthUpdate")?;
    let v: Value = serde_json::from_slice(frame).ok()?;
    let d = v.get("data").unwrap_or(&v);
    d.get("s")?.as_str().map(str::to_owned)
}

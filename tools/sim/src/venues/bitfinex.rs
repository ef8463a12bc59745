//! Bitfinex v2: an `info` greeting, `subscribed` events carrying channel ids, channel frames
//! `[CHAN, …]` numbered per connection with `SEQ_ALL` (`[CHAN, PAYLOAD, SEQ]`), and, after a
//! resubscription, the book under a new channel id with a snapshot of the venue's book.

use std::ops::Range;

use serde_json::{json, Value};

use crate::capture::Capture;
use crate::protocol::{BookRequest, SimProtocol, Streams};
use crate::reference::VenueBooks;
use crate::scan::{self, Num};

/// Bitfinex.
#[derive(Debug)]
pub(crate) struct Bitfinex;

impl SimProtocol for Bitfinex {
    fn is_greeting(&self, frame: &[u8]) -> bool {
        scan::has(frame, b"\"event\":\"info\"")
    }

    fn is_ack(&self, frame: &[u8]) -> bool {
        scan::has(frame, b"\"event\":\"subscribed\"")
    }

    fn seq_identity(&self, frame: &[u8]) -> Option<String> {
        let chan = frame.strip_prefix(b"[")?;
        let end = chan.iter().position(|c| !c.is_ascii_digit())?;
        let chan = std::str::from_utf8(&chan[..end]).ok()?;
        // With SEQ_ALL the frame ends in `,<seq>]`.
        let body = frame.strip_suffix(b"]")?;
        let comma = body.iter().rposition(|&c| c == b',')?;
        let tail = &body[comma + 1..];
        let seq = (!tail.is_empty() && tail.iter().all(u8::is_ascii_digit))
            .then(|| std::str::from_utf8(tail).ok())
            .flatten();
        Some(match seq {
            Some(s) => format!("chan={chan} seq={s}"),
            None => format!("chan={chan}"),
        })
    }

    /// With `SEQ_ALL`: the element after the payload (`[CHAN, PAYLOAD, SEQ]`,
    /// `[CHAN, "te", TRADE, SEQ]`, `[CHAN, "cs", CRC, SEQ]`, `[CHAN, "hb", SEQ]`); events
    /// (objects) carry none.
    fn conn_seq(&self, frame: &[u8]) -> Option<(Range<usize>, u64)> {
        let parts = scan::top_level(frame)?;
        let second = &frame[parts.get(1)?.clone()];
        let want = match second {
            b"\"hb\"" => 3,
            [b'"', c, ..] if c.is_ascii_alphabetic() => 4,
            _ => 3,
        };
        if parts.len() != want {
            return None;
        }
        scan::digits_value(frame, parts.last()?.clone())
    }

    fn channel_id(&self, frame: &[u8]) -> Option<(Range<usize>, u64)> {
        chan_id(frame)
    }

    /// `"chanId":N` of an event (`subscribed`, `unsubscribed`).
    fn event_channel_id(&self, frame: &[u8]) -> Option<(Range<usize>, u64)> {
        const KEY: &[u8] = b"\"chanId\":";
        if frame.first() != Some(&b'{') {
            return None;
        }
        let start = scan::find(frame, KEY)? + KEY.len();
        let len = frame[start..].iter().take_while(|c| c.is_ascii_digit()).count();
        scan::digits_value(frame, start..start + len)
    }

    fn is_book_frame(&self, frame: &[u8]) -> bool {
        frame.starts_with(b"[")
            && !scan::has(frame, b"\"hb\"")
            && !scan::has(frame, b"\"te\"")
            && !scan::has(frame, b"\"tu\"")
            && !scan::has(frame, b"\"cs\"")
    }

    /// `[price, count, amount]`: the amount.
    fn level_size(&self, nums: &[Num]) -> Option<Num> {
        nums.last().copied()
    }

    fn bid_price(&self, frame: &[u8]) -> Option<Num> {
        // A level with a positive amount is a bid.
        scan::levels(frame)
            .into_iter()
            .find(|(nums, _, _)| nums.len() == 3 && frame[nums[2].start] != b'-')
            .map(|(nums, _, _)| nums[0])
    }

    fn resubscribes(&self) -> bool {
        true
    }

    fn book_requests(&self, v: &Value, capture: &Capture, streams: &Streams) -> Vec<BookRequest> {
        // Subscribed by symbol, unsubscribed by channel id (this connection's): the
        // capture's book subscription either names.
        let (subscribe, found) = match v["event"].as_str() {
            Some("subscribe") if v["channel"] == "book" => {
                let symbol = v["symbol"].as_str().unwrap_or_default();
                (true, capture_books(capture).find(|(_, s, _)| s == symbol))
            }
            Some("unsubscribe") => {
                let id = streams.capture_channel(v["chanId"].as_u64().unwrap_or_default());
                (false, capture_books(capture).find(|(c, _, _)| *c == id))
            }
            _ => (false, None),
        };
        found
            .map(|(id, symbol, len)| BookRequest {
                subscribe,
                symbol,
                book: Some("book".to_owned()),
                capture_channel: Some((id, len)),
                ack: None,
            })
            .into_iter()
            .collect()
    }

    fn is_muted(&self, frame: &[u8], streams: &Streams) -> bool {
        chan_id(frame).is_some_and(|(_, id)| streams.muted_channels.contains(&id))
    }

    fn unsubscribed(&self, request: &BookRequest, streams: &mut Streams) -> Option<String> {
        let (id, _) = request.capture_channel?;
        let now = streams.channel(id);
        streams.muted_channels.push(id);
        Some(json!({ "event": "unsubscribed", "status": "OK", "chanId": now }).to_string())
    }

    fn resubscribed(
        &self,
        request: &BookRequest,
        streams: &mut Streams,
    ) -> (Option<String>, Option<u64>) {
        let Some((id, len)) = request.capture_channel else { return (None, None) };
        // A new channel id for the new subscription; the book's frames carry it.
        streams.muted_channels.retain(|c| *c != id);
        let now = 900_000_000
            + streams.channel_base
            + streams.conn * 1000
            + streams.renamed_channels.len() as u64;
        streams.renamed_channels.retain(|c| c.0 != id);
        streams.renamed_channels.push((id, now));
        let symbol = &request.symbol;
        let pair = symbol.strip_prefix('t').unwrap_or(symbol);
        let ack = json!({
            "event": "subscribed", "channel": "book", "chanId": now,
            "symbol": symbol, "prec": "P0", "freq": "F0", "len": len.to_string(),
            "pair": pair,
        })
        .to_string();
        (Some(ack), Some(now))
    }

    /// Only a connection that numbers its frames (`SEQ_ALL`, seen in a frame sent).
    fn numbers_snapshots(&self, streams: &Streams) -> bool {
        streams.last_seq.is_some()
    }

    /// The best `len` levels a side, `[PRICE, COUNT, AMOUNT]`, bids then asks with negative
    /// amounts, followed by `seq` when the connection numbers its frames. The venue's books
    /// here keep no order counts: every level says 1 (a count only matters as 0, delete).
    fn snapshot(
        &self,
        books: &mut VenueBooks,
        request: &BookRequest,
        _channel: &str,
        seq: Option<u64>,
        new_channel: Option<u64>,
    ) -> Option<Vec<u8>> {
        let chan_id = new_channel?;
        let (_, len) = request.capture_channel?;
        let book = books.book(&request.symbol)?.top(len);
        let levels =
            book.levels_joined(|p, q| format!("[{p},1,{q}]"), |p, q| format!("[{p},1,-{q}]"));
        let seq = seq.map(|s| format!(",{s}")).unwrap_or_default();
        Some(format!("[{chan_id},[{levels}]{seq}]").into_bytes())
    }
}

/// A channel frame's channel id (`[CHAN, …]`): where its digits are, and its value.
pub(crate) fn chan_id(frame: &[u8]) -> Option<(Range<usize>, u64)> {
    let len = frame.strip_prefix(b"[")?.iter().take_while(|c| c.is_ascii_digit()).count();
    let digits = 1..1 + len;
    let value = std::str::from_utf8(&frame[digits.clone()]).ok()?.parse().ok()?;
    Some((digits, value))
}

/// The capture's book subscriptions (channel id, symbol, `len`).
fn capture_books(capture: &Capture) -> impl Iterator<Item = (u64, String, usize)> + '_ {
    capture.frames().filter_map(|f| {
        if !scan::has(f, b"\"event\":\"subscribed\"") || !scan::has(f, b"\"channel\":\"book\"") {
            return None;
        }
        let v: Value = serde_json::from_slice(f).ok()?;
        let len = v["len"].as_str().and_then(|l| l.parse().ok()).unwrap_or(25);
        Some((v["chanId"].as_u64()?, v["symbol"].as_str()?.to_owned(), len))
    })
}

//! Coinbase Exchange (the legacy feed: `subscriptions` acks, `l2update` chained on
//! `sequence`) and Advanced Trade (the `subscriptions` channel, every frame of a connection
//! numbered by `sequence_num`). Both answer a resubscription with the channels still
//! subscribed and a snapshot of the venue's book.

use serde_json::{json, Value};

use crate::capture::Capture;
use crate::protocol::{BookRequest, SimProtocol, Streams};
use crate::reference::{rfc3339, VenueBooks};
use crate::scan::{self, Num};

/// Coinbase Exchange.
#[derive(Debug)]
pub(crate) struct Exchange;

/// Coinbase Advanced Trade.
#[derive(Debug)]
pub(crate) struct Advanced;

/// Whether `frame` names one of the muted products.
fn names_muted(frame: &[u8], streams: &Streams) -> bool {
    streams.muted.iter().any(|m| scan::has(frame, format!("\"product_id\":\"{m}\"").as_bytes()))
}

/// The book channel names of `requests`, consecutive repeats once.
fn channel_names(requests: &[BookRequest]) -> Vec<&str> {
    let mut names: Vec<&str> = requests.iter().filter_map(|r| r.book.as_deref()).collect();
    names.dedup();
    names
}

impl SimProtocol for Exchange {
    fn is_ack(&self, frame: &[u8]) -> bool {
        scan::has(frame, b"\"type\":\"subscriptions\"")
    }

    fn synth_ack(&self, msg: &str) -> Option<String> {
        let v: Value = serde_json::from_str(msg).ok()?;
        let products = v.get("product_ids").cloned().unwrap_or_default();
        let channels: Vec<Value> = v
            .get("channels")?
            .as_array()?
            .iter()
            .map(|c| match c.as_str() {
                Some(name) => json!({ "name": name, "product_ids": products }),
                None => c.clone(),
            })
            .collect();
        Some(json!({ "type": "subscriptions", "channels": channels }).to_string())
    }

    fn seq_identity(&self, frame: &[u8]) -> Option<String> {
        scan::pick(frame, &[("sequence", b"\"sequence\":")])
    }

    fn is_book_frame(&self, frame: &[u8]) -> bool {
        scan::has(frame, b"\"l2update\"")
    }

    fn bid_price(&self, frame: &[u8]) -> Option<Num> {
        scan::first_in_array_at(frame, b"[\"buy\"")
    }

    fn resubscribes(&self) -> bool {
        true
    }

    fn book_requests(&self, v: &Value, _capture: &Capture, _streams: &Streams) -> Vec<BookRequest> {
        // `channels` holds names (for every product of the message) or
        // `{"name", "product_ids"}` objects.
        let subscribe = v["type"] == "subscribe";
        let products: Vec<&str> =
            v["product_ids"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
        let mut out = Vec::new();
        for c in v["channels"].as_array().into_iter().flatten() {
            let (name, own) = match c.as_str() {
                Some(name) => (name, None),
                None => (c["name"].as_str().unwrap_or_default(), c["product_ids"].as_array()),
            };
            let list: Vec<&str> = match own {
                Some(own) => own.iter().filter_map(Value::as_str).collect(),
                None => products.clone(),
            };
            for product in list {
                out.push(BookRequest {
                    subscribe,
                    symbol: product.to_owned(),
                    book: name.starts_with("level2").then(|| name.to_owned()),
                    capture_channel: None,
                    ack: None,
                });
            }
        }
        out
    }

    fn subscriptions_answer(
        &self,
        requests: &[BookRequest],
        subscribed: &[String],
        _streams: &mut Streams,
    ) -> Option<String> {
        let channels: Vec<Value> = channel_names(requests)
            .iter()
            .map(|n| json!({ "name": n, "product_ids": subscribed }))
            .collect();
        Some(json!({ "type": "subscriptions", "channels": channels }).to_string())
    }

    fn is_muted(&self, frame: &[u8], streams: &Streams) -> bool {
        (scan::has(frame, b"\"type\":\"l2update\"") || scan::has(frame, b"\"type\":\"snapshot\""))
            && names_muted(frame, streams)
    }

    fn snapshot(
        &self,
        books: &mut VenueBooks,
        request: &BookRequest,
        _channel: &str,
        _seq: Option<u64>,
        _new_channel: Option<u64>,
    ) -> Option<Vec<u8>> {
        // Every level, `[price, size]`, best first: what Coinbase sends after a
        // (re)subscription to `level2`/`level2_batch`.
        let product = &request.symbol;
        let book = books.book(product)?;
        let side = |levels: &[(String, String)]| {
            let v: Vec<String> = levels.iter().map(|(p, q)| format!("[\"{p}\",\"{q}\"]")).collect();
            v.join(",")
        };
        Some(
            format!(
                "{{\"type\":\"snapshot\",\"product_id\":\"{product}\",\"asks\":[{}],\"bids\":[{}]}}",
                side(&book.asks),
                side(&book.bids)
            )
            .into_bytes(),
        )
    }
}

impl SimProtocol for Advanced {
    fn is_ack(&self, frame: &[u8]) -> bool {
        scan::has(frame, b"\"channel\":\"subscriptions\"")
    }

    fn synth_ack(&self, msg: &str) -> Option<String> {
        let v: Value = serde_json::from_str(msg).ok()?;
        let channel = v.get("channel")?.as_str()?;
        let products = v.get("product_ids").cloned().unwrap_or_default();
        Some(
            json!({
                "channel": "subscriptions",
                "events": [{ "subscriptions": { channel: products } }],
            })
            .to_string(),
        )
    }

    fn seq_identity(&self, frame: &[u8]) -> Option<String> {
        scan::pick(frame, &[("sequence_num", b"\"sequence_num\":")])
    }

    fn conn_seq(&self, frame: &[u8]) -> Option<(std::ops::Range<usize>, u64)> {
        let at = scan::find(frame, b"\"sequence_num\":")? + 15;
        let len = frame[at..].iter().take_while(|c| c.is_ascii_digit()).count();
        scan::digits_value(frame, at..at + len)
    }

    fn is_book_frame(&self, frame: &[u8]) -> bool {
        scan::has(frame, b"\"l2_data\"")
    }

    fn bid_price(&self, frame: &[u8]) -> Option<Num> {
        let at = scan::find(frame, b"\"side\":\"bid\"")?;
        let key = scan::find(&frame[at..], b"\"price_level\":\"")? + at + 15;
        let end = key + frame[key..].iter().position(|&c| c == b'"')?;
        Some(Num { start: key, end })
    }

    fn resubscribes(&self) -> bool {
        true
    }

    fn book_requests(&self, v: &Value, _capture: &Capture, _streams: &Streams) -> Vec<BookRequest> {
        let subscribe = v["type"] == "subscribe";
        let channel = v["channel"].as_str().unwrap_or_default();
        v["product_ids"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|product| BookRequest {
                subscribe,
                symbol: product.as_str().unwrap_or_default().to_owned(),
                book: (channel == "level2" || channel == "l2_data").then(|| channel.to_owned()),
                capture_channel: None,
                ack: None,
            })
            .collect()
    }

    fn subscriptions_answer(
        &self,
        requests: &[BookRequest],
        subscribed: &[String],
        streams: &mut Streams,
    ) -> Option<String> {
        let map: serde_json::Map<String, Value> =
            channel_names(requests).iter().map(|n| ((*n).to_owned(), json!(subscribed))).collect();
        let at = rfc3339(crate::log::now_ns());
        let seq = streams.next_seq();
        Some(
            json!({
                "channel": "subscriptions",
                "timestamp": at,
                "sequence_num": seq,
                "events": [{ "subscriptions": map }],
            })
            .to_string(),
        )
    }

    fn is_muted(&self, frame: &[u8], streams: &Streams) -> bool {
        scan::has(frame, b"\"channel\":\"l2_data\"") && names_muted(frame, streams)
    }

    fn numbers_snapshots(&self, _streams: &Streams) -> bool {
        true
    }

    fn snapshot(
        &self,
        books: &mut VenueBooks,
        request: &BookRequest,
        _channel: &str,
        seq: Option<u64>,
        _new_channel: Option<u64>,
    ) -> Option<Vec<u8>> {
        // Every level, bids then offers, best first, numbered on the connection: what
        // Coinbase sends after a (re)subscription to `level2`.
        let product = &request.symbol;
        let seq = seq.unwrap_or(0);
        let book = books.book(product)?;
        let at = rfc3339(crate::log::now_ns());
        let level = |side: &str, p: &str, q: &str| {
            format!(
                "{{\"side\":\"{side}\",\"event_time\":\"{at}\",\"price_level\":\"{p}\",\"new_quantity\":\"{q}\"}}"
            )
        };
        let updates = book.levels_joined(|p, q| level("bid", p, q), |p, q| level("offer", p, q));
        Some(
            format!(
                "{{\"channel\":\"l2_data\",\"timestamp\":\"{at}\",\"sequence_num\":{seq},\"events\":[{{\"type\":\"snapshot\",\"product_id\":\"{product}\",\"updates\":[{updates}]}}]}}"
            )
            .into_bytes(),
        )
    }
}

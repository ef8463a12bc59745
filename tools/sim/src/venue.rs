//! What the simulator knows of each venue's protocol (../shared/venues.md): which frames
//! greet a new connection, which acknowledge a subscription, how to acknowledge one the
//! capture did not record, the sequence identity of a frame, server pings, and how to damage
//! a book frame on purpose.

use ladderfeed::book::Venue;

/// Finds `needle` in `hay`.
pub fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || hay.len() < needle.len() {
        return None;
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

fn has(hay: &[u8], needle: &[u8]) -> bool {
    find(hay, needle).is_some()
}

/// Frames a venue sends on connect, before any subscription (Bitfinex `info`, Kraken v1
/// `systemStatus`).
pub fn is_greeting(frame: &[u8]) -> bool {
    has(frame, b"\"event\":\"info\"") || has(frame, b"\"event\":\"systemStatus\"")
}

/// Frames that acknowledge a subscription.
pub fn is_ack(frame: &[u8]) -> bool {
    [
        &b"\"event\":\"subscribed\""[..],
        b"\"event\":\"subscriptionStatus\"",
        b"\"type\":\"subscriptions\"",
        b"\"channel\":\"subscriptions\"",
        b"\"event\":\"subscribe\"",
        b"\"method\":\"subscribe\"",
        b"\"result\":null",
    ]
    .iter()
    .any(|n| has(frame, n))
}

/// Whether a connection to `path` must subscribe by message before data flows. Binance
/// combined streams (`/stream?streams=…`) and raw streams (`/ws/<stream>`) and Gemini v1
/// (`/v1/marketdata/<symbol>`) subscribe in the URL.
pub fn subscribes_by_message(venue: Venue, path: &str) -> bool {
    match venue {
        Venue::Binance | Venue::BinanceFutures => {
            let raw_stream = path.strip_prefix("/ws/").is_some_and(|s| !s.is_empty());
            !(path.contains("streams=") || raw_stream)
        }
        Venue::GeminiV1 => false,
        _ => true,
    }
}

/// Whether a client's text message is a subscription request.
pub fn is_subscribe(msg: &str) -> bool {
    msg.to_ascii_lowercase().contains("subscribe")
}

/// The venue's interval between server pings (WebSocket ping frames), in seconds: Binance
/// pings every 20 s; the others expect the client to ping.
pub fn server_ping_secs(venue: Venue) -> Option<f64> {
    matches!(venue, Venue::Binance | Venue::BinanceFutures).then_some(20.0)
}

/// A text answer to a client's text keep-alive (OKX: `ping` → `pong`).
pub fn text_pong(venue: Venue, msg: &str) -> Option<&'static str> {
    (venue == Venue::Okx && msg == "ping").then_some("pong")
}

/// The acknowledgement the venue sends for `msg`, for a capture that did not record one.
/// `None` where an ack must carry identities the capture fixes (Bitfinex and Kraken v1
/// channel ids) or where the venue sends none (Gemini).
pub fn synth_ack(venue: Venue, msg: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(msg).ok()?;
    match venue {
        Venue::Binance | Venue::BinanceFutures => {
            let id = v.get("id").cloned().unwrap_or(serde_json::Value::Null);
            Some(serde_json::json!({ "result": null, "id": id }).to_string())
        }
        Venue::CoinbaseExchange => {
            let products = v.get("product_ids").cloned().unwrap_or_default();
            let channels: Vec<serde_json::Value> = v
                .get("channels")?
                .as_array()?
                .iter()
                .map(|c| match c.as_str() {
                    Some(name) => serde_json::json!({ "name": name, "product_ids": products }),
                    None => c.clone(),
                })
                .collect();
            Some(serde_json::json!({ "type": "subscriptions", "channels": channels }).to_string())
        }
        Venue::Coinbase => {
            let channel = v.get("channel")?.as_str()?;
            let products = v.get("product_ids").cloned().unwrap_or_default();
            Some(
                serde_json::json!({
                    "channel": "subscriptions",
                    "events": [{ "subscriptions": { channel: products } }],
                })
                .to_string(),
            )
        }
        Venue::Kraken => {
            let params = v.get("params")?;
            Some(
                serde_json::json!({
                    "method": "subscribe",
                    "result": params,
                    "success": true,
                    "req_id": v.get("req_id"),
                })
                .to_string(),
            )
        }
        Venue::Okx => {
            let args = v.get("args")?.as_array()?;
            let acks: Vec<String> = args
                .iter()
                .map(|a| serde_json::json!({ "event": "subscribe", "arg": a }).to_string())
                .collect();
            Some(acks.join("\n"))
        }
        Venue::Bitfinex | Venue::KrakenV1 | Venue::Gemini | Venue::GeminiV1 => None,
    }
}

/// The number after `"key":` (quoted or not), as text.
fn number_after<'a>(frame: &'a [u8], key: &[u8]) -> Option<&'a str> {
    let at = find(frame, key)? + key.len();
    let rest = &frame[at..];
    let rest = rest.strip_prefix(b"\"").unwrap_or(rest);
    let end = rest.iter().position(|c| !(c.is_ascii_digit() || *c == b'-')).unwrap_or(rest.len());
    (end > 0).then(|| std::str::from_utf8(&rest[..end]).ok()).flatten()
}

/// The venue's own sequence identity of a frame (what a client chains on), for the
/// reference log: Binance `U`/`u`/`pu`, Coinbase `sequence_num` or `sequence`, OKX
/// `seqId`/`checksum`, Kraken `c`/`checksum`, Gemini v1 `socket_sequence`, Bitfinex the
/// channel id and trailing sequence.
pub fn seq_identity(venue: Venue, frame: &[u8]) -> Option<String> {
    let pick = |keys: &[(&str, &[u8])]| -> Option<String> {
        let parts: Vec<String> = keys
            .iter()
            .filter_map(|(name, key)| number_after(frame, key).map(|n| format!("{name}={n}")))
            .collect();
        (!parts.is_empty()).then(|| parts.join(" "))
    };
    match venue {
        Venue::Binance | Venue::BinanceFutures => {
            pick(&[("U", b"\"U\":"), ("u", b"\"u\":"), ("pu", b"\"pu\":")])
        }
        Venue::Coinbase => pick(&[("sequence_num", b"\"sequence_num\":")]),
        Venue::CoinbaseExchange => pick(&[("sequence", b"\"sequence\":")]),
        Venue::Okx => pick(&[
            ("prevSeqId", b"\"prevSeqId\":"),
            ("seqId", b"\"seqId\":"),
            ("checksum", b"\"checksum\":"),
        ]),
        Venue::Kraken => pick(&[("checksum", b"\"checksum\":")]),
        Venue::KrakenV1 => pick(&[("c", b"\"c\":")]),
        Venue::GeminiV1 => pick(&[("socket_sequence", b"\"socket_sequence\":")]),
        Venue::Gemini => pick(&[("event_id", b"\"event_id\":")]),
        Venue::Bitfinex => {
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
    }
}

/// The byte ranges of a JSON array frame's top-level elements (strings, nested arrays and
/// objects skipped over), or `None` when the frame is not a complete array.
fn top_level(frame: &[u8]) -> Option<Vec<std::ops::Range<usize>>> {
    if frame.first() != Some(&b'[') {
        return None;
    }
    let mut out = Vec::new();
    let (mut depth, mut in_str, mut escaped, mut start) = (0usize, false, false, 1);
    for (i, &c) in frame.iter().enumerate() {
        if in_str {
            match c {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_str = false,
                _ => {}
            }
            continue;
        }
        match c {
            b'"' => in_str = true,
            b'[' | b'{' => depth += 1,
            b']' | b'}' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    out.push(start..i);
                    return Some(out);
                }
            }
            b',' if depth == 1 => {
                out.push(start..i);
                start = i + 1;
            }
            _ => {}
        }
    }
    None
}

/// A frame's per-connection sequence number: where its digits are, and its value. Coinbase
/// Advanced: `sequence_num` (every message). Bitfinex with `SEQ_ALL`: the element after the
/// payload (`[CHAN, PAYLOAD, SEQ]`, `[CHAN, "te", TRADE, SEQ]`, `[CHAN, "cs", CRC, SEQ]`,
/// `[CHAN, "hb", SEQ]`); events (objects) carry none. `None` for other venues and frames.
pub fn conn_seq(venue: Venue, frame: &[u8]) -> Option<(std::ops::Range<usize>, u64)> {
    let digits = match venue {
        Venue::Coinbase => {
            let at = find(frame, b"\"sequence_num\":")? + 15;
            let len = frame[at..].iter().take_while(|c| c.is_ascii_digit()).count();
            at..at + len
        }
        Venue::Bitfinex => {
            let parts = top_level(frame)?;
            let second = &frame[parts.get(1)?.clone()];
            let want = match second {
                b"\"hb\"" => 3,
                [b'"', c, ..] if c.is_ascii_alphabetic() => 4,
                _ => 3,
            };
            if parts.len() != want {
                return None;
            }
            parts.last()?.clone()
        }
        _ => return None,
    };
    let text = std::str::from_utf8(&frame[digits.clone()]).ok()?;
    let value = text.parse().ok().filter(|_| text.bytes().all(|c| c.is_ascii_digit()))?;
    Some((digits, value))
}

/// A Bitfinex channel frame's channel id (`[CHAN, …]`): where its digits are, and its value.
pub fn bitfinex_chan(frame: &[u8]) -> Option<(std::ops::Range<usize>, u64)> {
    let len = frame.strip_prefix(b"[")?.iter().take_while(|c| c.is_ascii_digit()).count();
    let digits = 1..1 + len;
    let value = std::str::from_utf8(&frame[digits.clone()]).ok()?.parse().ok()?;
    Some((digits, value))
}

/// `frame` with the number at `digits` replaced by `value`.
pub fn with_number(frame: &[u8], digits: std::ops::Range<usize>, value: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(frame.len() + 4);
    out.extend_from_slice(&frame[..digits.start]);
    out.extend_from_slice(value.to_string().as_bytes());
    out.extend_from_slice(&frame[digits.end..]);
    out
}

/// A number token in a frame: its byte range (without quotes).
#[derive(Debug, Clone, Copy)]
struct Num {
    start: usize,
    end: usize,
}

/// The number tokens of the innermost array starting at `open` (a `[`), or `None` when the
/// array holds another array or an object.
fn innermost(frame: &[u8], open: usize) -> Option<(Vec<Num>, usize)> {
    let mut nums = Vec::new();
    let mut i = open + 1;
    while i < frame.len() {
        match frame[i] {
            b']' => return Some((nums, i)),
            b'[' | b'{' => return None,
            b'"' => {
                let s = i + 1;
                let e = s + frame[s..].iter().position(|&c| c == b'"')?;
                let t = &frame[s..e];
                if !t.is_empty() && t.iter().all(|c| c.is_ascii_digit() || *c == b'.' || *c == b'-')
                {
                    nums.push(Num { start: s, end: e });
                }
                i = e + 1;
            }
            c if c.is_ascii_digit() || c == b'-' => {
                let s = i;
                while i < frame.len()
                    && (frame[i].is_ascii_digit()
                        || matches!(frame[i], b'.' | b'-' | b'e' | b'E' | b'+'))
                {
                    i += 1;
                }
                nums.push(Num { start: s, end: i });
                continue;
            }
            _ => i += 1,
        }
    }
    None
}

/// Every level-like array of a frame (an innermost array with at least two numbers).
fn levels(frame: &[u8]) -> Vec<(Vec<Num>, usize, usize)> {
    let mut out = Vec::new();
    for (at, &c) in frame.iter().enumerate() {
        if c == b'[' {
            if let Some((nums, close)) = innermost(frame, at) {
                if nums.len() >= 2 {
                    out.push((nums, at, close));
                }
            }
        }
    }
    out
}

/// Changes the size of the first book level in `frame` (its last digit moves by one), so a
/// checksum over the book no longer matches. `None` when the frame holds no level.
pub fn corrupt_level(venue: Venue, frame: &[u8]) -> Option<Vec<u8>> {
    if !is_book_frame(venue, frame) {
        return None;
    }
    let (nums, _, _) = levels(frame).into_iter().next()?;
    // The size: Bitfinex `[price, count, amount]` → amount; `[side, price, size]` and
    // `[price, size, …]` → the second number.
    let n = if venue == Venue::Bitfinex { *nums.last()? } else { nums[1] };
    let digit = (n.start..n.end).rev().find(|&i| frame[i].is_ascii_digit())?;
    let mut out = frame.to_vec();
    out[digit] = if out[digit] == b'9' { b'8' } else { out[digit] + 1 };
    Some(out)
}

fn is_book_frame(venue: Venue, frame: &[u8]) -> bool {
    match venue {
        Venue::Binance | Venue::BinanceFutures => has(frame, b"\"depthUpdate\""),
        Venue::Coinbase => has(frame, b"\"l2_data\""),
        Venue::CoinbaseExchange => has(frame, b"\"l2update\""),
        Venue::Okx => has(frame, b"\"action\":\"update\""),
        Venue::Kraken => has(frame, b"\"channel\":\"book\""),
        Venue::KrakenV1 => has(frame, b"\"book-"),
        Venue::Gemini => has(frame, b"\"l2_updates\""),
        Venue::GeminiV1 => has(frame, b"\"remaining\""),
        Venue::Bitfinex => {
            frame.starts_with(b"[")
                && !has(frame, b"\"hb\"")
                && !has(frame, b"\"te\"")
                && !has(frame, b"\"tu\"")
                && !has(frame, b"\"cs\"")
        }
    }
}

/// Prices a bid of `frame` above every ask (its price text becomes `9` followed by its
/// digits: larger than any real ask of the book), so the book crosses. `None` when the frame
/// has no bid level this function can find.
pub fn cross_book(venue: Venue, frame: &[u8]) -> Option<Vec<u8>> {
    if !is_book_frame(venue, frame) {
        return None;
    }
    // Where a bid level starts, by venue.
    let price = match venue {
        Venue::Binance | Venue::BinanceFutures => first_level_after(frame, b"\"b\":[")?.0,
        Venue::KrakenV1 => first_level_after(frame, b"\"b\":[")?.0,
        Venue::Okx => first_level_after(frame, b"\"bids\":[")?.0,
        Venue::CoinbaseExchange | Venue::Gemini => {
            let at = find(frame, b"[\"buy\"")?;
            *innermost(frame, at)?.0.first()?
        }
        Venue::Coinbase => {
            let at = find(frame, b"\"side\":\"bid\"")?;
            let key = find(&frame[at..], b"\"price_level\":\"")? + at + 15;
            let end = key + frame[key..].iter().position(|&c| c == b'"')?;
            Num { start: key, end }
        }
        Venue::Bitfinex => {
            // A level with a positive amount is a bid.
            levels(frame)
                .into_iter()
                .find(|(nums, _, _)| nums.len() == 3 && frame[nums[2].start] != b'-')?
                .0[0]
        }
        Venue::Kraken | Venue::GeminiV1 => return None,
    };
    let mut out = Vec::with_capacity(frame.len() + 1);
    out.extend_from_slice(&frame[..price.start]);
    out.push(b'9');
    out.extend_from_slice(&frame[price.start..]);
    // A size of zero would delete the crossed level instead: make sure it is not zero.
    Some(out)
}

/// The price token of the first level array after `key`.
fn first_level_after(frame: &[u8], key: &[u8]) -> Option<(Num, usize)> {
    let at = find(frame, key)? + key.len();
    let open = at + frame[at..].iter().position(|&c| c == b'[')?;
    let (nums, _) = innermost(frame, open)?;
    // Skip levels whose size is zero (a delete stays a delete, it would not cross).
    if nums.len() >= 2 && frame[nums[1].start..nums[1].end].iter().all(|c| *c == b'0' || *c == b'.')
    {
        let next = open + 1 + frame[open + 1..].iter().position(|&c| c == b']')?;
        let rest = &frame[next..];
        let comma = rest.iter().position(|&c| c == b'[')?;
        let open2 = next + comma;
        let (nums2, _) = innermost(frame, open2)?;
        return Some((*nums2.first()?, open2));
    }
    Some((*nums.first()?, open))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identities_by_venue() {
        let b = br#"{"stream":"x","data":{"e":"depthUpdate","U":10,"u":12,"b":[],"a":[]}}"#;
        assert_eq!(seq_identity(Venue::Binance, b).unwrap(), "U=10 u=12");
        let k = br#"[992,{"b":[["354.15000000","5.00000000","1618678133.365913"]],"c":"2583817756"},"book-1000","XMR/USD"]"#;
        assert_eq!(seq_identity(Venue::KrakenV1, k).unwrap(), "c=2583817756");
        assert_eq!(
            seq_identity(Venue::Bitfinex, b"[146465,[0.46673,1,2231.0474696],19]").unwrap(),
            "chan=146465 seq=19"
        );
        assert_eq!(seq_identity(Venue::Bitfinex, b"[81568,[6433.9,0,1]]").unwrap(), "chan=81568");
    }

    #[test]
    fn corrupts_a_size_and_crosses_a_bid() {
        let k = br#"[992,{"b":[["354.15000000","5.00000000","1618678133.365913"]],"c":"2583817756"},"book-1000","XMR/USD"]"#;
        let c = corrupt_level(Venue::KrakenV1, k).unwrap();
        assert!(find(&c, b"\"5.00000001\"").is_some(), "{}", String::from_utf8_lossy(&c));
        let x = cross_book(Venue::KrakenV1, k).unwrap();
        assert!(find(&x, b"\"9354.15000000\"").is_some());
        let cb = br#"{"type":"l2update","product_id":"SKL-BTC","changes":[["buy","0.00001306","660.5"]],"time":"x"}"#;
        let x = cross_book(Venue::CoinbaseExchange, cb).unwrap();
        assert!(find(&x, b"\"90.00001306\"").is_some(), "{}", String::from_utf8_lossy(&x));
        let c = corrupt_level(Venue::CoinbaseExchange, cb).unwrap();
        assert!(find(&c, b"\"660.6\"").is_some());
        // A heartbeat has no level.
        assert!(corrupt_level(Venue::CoinbaseExchange, br#"{"type":"heartbeat"}"#).is_none());
    }

    #[test]
    fn acks_for_captures_without_them() {
        let a = synth_ack(
            Venue::Binance,
            r#"{"method":"SUBSCRIBE","params":["btcusdt@depth"],"id":7}"#,
        );
        assert_eq!(a.unwrap(), r#"{"id":7,"result":null}"#);
        assert!(synth_ack(Venue::Bitfinex, r#"{"event":"subscribe"}"#).is_none());
        assert!(subscribes_by_message(Venue::Binance, "/ws"));
        assert!(!subscribes_by_message(Venue::Binance, "/stream?streams=btcusdt@depth"));
        assert!(!subscribes_by_message(Venue::Binance, "/ws/btcusdt@depth"));
        assert!(subscribes_by_message(Venue::Binance, "/stream"));
    }

    #[test]
    fn connection_sequence_numbers_are_found_where_each_venue_puts_them() {
        let seq = |v, f: &[u8]| {
            conn_seq(v, f).map(|(r, n)| (String::from_utf8_lossy(&f[r]).into_owned(), n))
        };
        let bfx = Venue::Bitfinex;
        assert_eq!(seq(bfx, b"[146465,[0.46673,1,2231.0474696],19]"), Some(("19".into(), 19)));
        assert_eq!(seq(bfx, b"[146465,[[1,2,3],[4,5,-6]],7]"), Some(("7".into(), 7)));
        assert_eq!(seq(bfx, b"[5,\"hb\",20]"), Some(("20".into(), 20)));
        assert_eq!(seq(bfx, b"[5,\"te\",[1,2,0.5,6443.1],394]"), Some(("394".into(), 394)));
        assert_eq!(seq(bfx, b"[5,\"cs\",-12345,395]"), Some(("395".into(), 395)));
        // Without SEQ_ALL: no number, and a checksum is not taken for one.
        assert_eq!(seq(bfx, b"[81568,[6433.9,0,1]]"), None);
        assert_eq!(seq(bfx, b"[5,\"cs\",12345]"), None);
        assert_eq!(seq(bfx, b"[5,\"hb\"]"), None);
        assert_eq!(seq(bfx, b"{\"event\":\"subscribed\",\"chanId\":5}"), None);
        let cb = br#"{"channel":"l2_data","client_id":"","timestamp":"t","sequence_num":42,"events":[]}"#;
        assert_eq!(seq(Venue::Coinbase, cb), Some(("42".into(), 42)));
        let (r, _) = conn_seq(Venue::Coinbase, cb).unwrap();
        assert!(find(&with_number(cb, r, 1000), b"\"sequence_num\":1000,").is_some());
        let (r, id) = bitfinex_chan(b"[146465,\"hb\",20]").unwrap();
        assert_eq!(id, 146_465);
        assert_eq!(with_number(b"[146465,\"hb\",20]", r, 7), b"[7,\"hb\",20]");
    }
}

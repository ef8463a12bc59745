//! `--http ADDR`: a small HTTP/1.1 service on a side thread.
//!
//! - `GET /book?venue=V&symbol=S&depth=N`: the book's top N levels per side (default 10, at
//!   most 1000) as JSON: `{"venue","symbol","state","ts","bids":[[px, qty]…],"asks":[…]}`,
//!   prices and quantities as exact decimal JSON numbers;
//! - `GET /metrics`: Prometheus text format: messages, bytes, gaps, resyncs, checksum
//!   failures, reconnects, REST answers, book state per symbol, ring published and dropped,
//!   latency quantiles per stage;
//! - `GET /health`: `ok` while every connection is open, `503` otherwise.
//!
//! The books live on the network thread: this thread asks it through a channel, and the
//! network thread answers between two polls (it checks for a request every 64 turns; an idle
//! service costs it one empty channel check). Latency quantiles come from the consumer thread,
//! refreshed every second.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result};
use crossbeam_channel::{bounded, Receiver, Sender};
use ladderfeed::book::Side;
use ladderfeed::net::live::{CloseClass, Live};
use ladderfeed::ring::FeedMonitor;

use super::sinks::state_name;

/// What the service asks the network thread.
#[derive(Debug)]
pub enum Query {
    /// The top `depth` of a book.
    Book {
        /// Venue name.
        venue: String,
        /// Symbol as the venue writes it.
        symbol: String,
        /// Levels per side.
        depth: usize,
    },
    /// Counters, in the Prometheus text format.
    Metrics,
    /// Whether every connection is open.
    Health,
}

/// A question and where to send the answer: (status, content type, body).
pub type Request = (Query, Sender<(u16, &'static str, String)>);

/// Answers a query on the network thread.
pub fn answer(live: &Live, q: &Query, ring: &FeedMonitor) -> (u16, &'static str, String) {
    match q {
        Query::Book { venue, symbol, depth } => {
            for link in live.links() {
                if link.venue().name() != venue {
                    continue;
                }
                let engine = link.engine();
                let Some(idx) = engine.symbols().list().iter().position(|s| &s.key == symbol)
                else {
                    continue;
                };
                let info = &engine.symbols().list()[idx];
                let state = engine.state(idx as u16).map_or("unknown", state_name);
                let mut out = format!(
                    "{{\"venue\":\"{venue}\",\"symbol\":{},\"state\":\"{state}\",\"ts\":{}",
                    serde_json::Value::from(symbol.as_str()),
                    ladderfeed::clock::realtime_ns() / 1_000_000
                );
                for (key, side) in [("bids", Side::Bid), ("asks", Side::Ask)] {
                    out.push_str(&format!(",\"{key}\":["));
                    if let Some(book) = engine.book(idx as u16) {
                        let levels: Vec<String> = book
                            .top(side, *depth)
                            .map(|l| {
                                format!(
                                    "[{},{}]",
                                    info.instrument.format_price(l.px_tick),
                                    info.instrument.format_qty(l.qty_lots)
                                )
                            })
                            .collect();
                        out.push_str(&levels.join(","));
                    }
                    out.push(']');
                }
                out.push('}');
                return (200, "application/json", out);
            }
            (404, "application/json", format!("{{\"error\":\"no book {venue}:{symbol}\"}}"))
        }
        Query::Health => {
            let open = live.links().iter().all(|l| l.is_open());
            if open {
                (200, "text/plain", "ok\n".into())
            } else {
                (503, "text/plain", "connecting\n".into())
            }
        }
        Query::Metrics => (200, "text/plain; version=0.0.4", metrics(live, ring)),
    }
}

fn metrics(live: &Live, ring: &FeedMonitor) -> String {
    let mut m = String::new();
    let mut help = |name: &str, kind: &str, text: &str| {
        m.push_str(&format!("# HELP {name} {text}\n# TYPE {name} {kind}\n"));
    };
    help("ladderfeed_messages_total", "counter", "WebSocket messages received.");
    help("ladderfeed_bytes_total", "counter", "Bytes of messages received.");
    help("ladderfeed_errors_total", "counter", "Messages the venue adapter rejected.");
    help("ladderfeed_reconnects_total", "counter", "Open connections lost and remade.");
    help("ladderfeed_closes_total", "counter", "Closes from the server, by class.");
    help("ladderfeed_rest_total", "counter", "REST snapshot answers, by result.");
    help(
        "ladderfeed_records_dropped_total",
        "counter",
        "Records the recorder's queue could not take (missing from the recording).",
    );
    help("ladderfeed_gaps_total", "counter", "Sequence gaps per book.");
    help("ladderfeed_resyncs_total", "counter", "Resyncs per book.");
    help(
        "ladderfeed_resync_actions_total",
        "counter",
        "Books that lost sync, by how they were resynced (resubscribe, reconnect).",
    );
    help("ladderfeed_checksum_failures_total", "counter", "Checksum mismatches per book.");
    help("ladderfeed_book_synced", "gauge", "1 when the book is synced, else 0.");
    help("ladderfeed_ring_events_total", "counter", "Events published onto the ring, and dropped.");
    let mut lines = String::new();
    for link in live.links() {
        let v = link.venue().name();
        let s = link.stats();
        lines.push_str(&format!("ladderfeed_messages_total{{venue=\"{v}\"}} {}\n", s.messages));
        lines.push_str(&format!("ladderfeed_bytes_total{{venue=\"{v}\"}} {}\n", s.bytes));
        lines.push_str(&format!("ladderfeed_errors_total{{venue=\"{v}\"}} {}\n", s.errors));
        lines
            .push_str(&format!("ladderfeed_reconnects_total{{venue=\"{v}\"}} {}\n", s.disconnects));
        for (how, n) in [("resubscribe", s.resync_resubscribes), ("reconnect", s.resync_reconnects)]
        {
            lines.push_str(&format!(
                "ladderfeed_resync_actions_total{{venue=\"{v}\",action=\"{how}\"}} {n}\n"
            ));
        }
        for (c, n) in CloseClass::ALL.iter().zip(s.closes) {
            lines.push_str(&format!(
                "ladderfeed_closes_total{{venue=\"{v}\",class=\"{}\"}} {n}\n",
                c.name()
            ));
        }
        lines.push_str(&format!(
            "ladderfeed_records_dropped_total{{venue=\"{v}\"}} {}\n",
            s.records_dropped
        ));
        for (result, n) in [
            ("ok", s.rest_ok),
            ("throttled", s.rest_throttled),
            ("banned", s.rest_banned),
            ("failed", s.rest_failed),
        ] {
            lines.push_str(&format!(
                "ladderfeed_rest_total{{venue=\"{v}\",result=\"{result}\"}} {n}\n"
            ));
        }
        let engine = link.engine();
        for (i, info) in engine.symbols().list().iter().enumerate() {
            let sym = info.key.replace('"', "\\\"");
            let labels = format!("venue=\"{v}\",symbol=\"{sym}\"");
            if let Some(b) = engine.book_stats(i as u16) {
                lines.push_str(&format!("ladderfeed_gaps_total{{{labels}}} {}\n", b.gaps));
                lines.push_str(&format!("ladderfeed_resyncs_total{{{labels}}} {}\n", b.resyncs));
                lines.push_str(&format!(
                    "ladderfeed_checksum_failures_total{{{labels}}} {}\n",
                    b.checksum_failed
                ));
            }
            let synced = engine.state(i as u16) == Some(ladderfeed::event::BookState::Synced);
            lines.push_str(&format!("ladderfeed_book_synced{{{labels}}} {}\n", u8::from(synced)));
        }
    }
    let r = ring.stats();
    lines.push_str(&format!(
        "ladderfeed_ring_events_total{{result=\"published\"}} {}\n",
        r.produced
    ));
    lines.push_str(&format!("ladderfeed_ring_events_total{{result=\"dropped\"}} {}\n", r.dropped));
    m.push_str(&lines);
    m
}

/// Starts the service thread on `addr`. `latency` holds the consumer's latest quantile lines
/// (Prometheus text), appended to `/metrics`.
pub fn start(
    addr: SocketAddr,
    queries: Sender<Request>,
    latency: Arc<Mutex<String>>,
    stop: Arc<AtomicBool>,
) -> Result<(SocketAddr, std::thread::JoinHandle<()>)> {
    let listener = TcpListener::bind(addr).with_context(|| format!("--http {addr}"))?;
    listener.set_nonblocking(true)?;
    let local = listener.local_addr()?;
    let handle = std::thread::Builder::new().name("http".into()).spawn(move || {
        while !stop.load(Ordering::Relaxed) {
            match listener.accept() {
                Ok((s, _)) => {
                    // One request per connection; an error only loses that answer.
                    let _ = serve(s, &queries, &latency);
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(_) => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    })?;
    Ok((local, handle))
}

fn query_param<'a>(query: &'a str, key: &str) -> Option<&'a str> {
    query.split('&').find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
}

/// Decodes `%XX` and `+` in a query value (`XBT%2FUSD` → `XBT/USD`).
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' if i + 2 < b.len() => match u8::from_str_radix(&s[i + 1..i + 3], 16) {
                Ok(v) => {
                    out.push(v);
                    i += 3;
                    continue;
                }
                Err(_) => out.push(b'%'),
            },
            b'+' => out.push(b' '),
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn serve(s: TcpStream, queries: &Sender<Request>, latency: &Mutex<String>) -> std::io::Result<()> {
    s.set_read_timeout(Some(Duration::from_secs(2)))?;
    s.set_nonblocking(false)?;
    let mut reader = BufReader::new(s.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    // Skip the headers.
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 || h == "\r\n" || h == "\n" {
            break;
        }
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default();
    let target = parts.next().unwrap_or_default();
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let q = match (method, path) {
        ("GET", "/book") => {
            let venue = query_param(query, "venue").map(unescape);
            let symbol = query_param(query, "symbol").map(unescape);
            let depth = query_param(query, "depth").and_then(|d| d.parse().ok()).unwrap_or(10usize);
            match (venue, symbol) {
                (Some(venue), Some(symbol)) => {
                    Some(Query::Book { venue, symbol, depth: depth.clamp(1, 1000) })
                }
                _ => None,
            }
        }
        ("GET", "/metrics") => Some(Query::Metrics),
        ("GET", "/health") => Some(Query::Health),
        _ => None,
    };
    let (status, ctype, mut body) = match q {
        None => (
            404,
            "text/plain",
            "GET /book?venue=V&symbol=S&depth=N, /metrics or /health\n".to_owned(),
        ),
        Some(q) => {
            let metrics = matches!(q, Query::Metrics);
            let (tx, rx): (Sender<(u16, &'static str, String)>, Receiver<_>) = bounded(1);
            if queries.send((q, tx)).is_err() {
                (503, "text/plain", "stopping\n".to_owned())
            } else {
                match rx.recv_timeout(Duration::from_secs(2)) {
                    Ok((st, ct, mut b)) => {
                        if metrics {
                            b.push_str(&latency.lock().unwrap_or_else(|e| e.into_inner()));
                        }
                        (st, ct, b)
                    }
                    Err(_) => (503, "text/plain", "the network thread did not answer\n".to_owned()),
                }
            }
        }
    };
    if !body.ends_with('\n') {
        body.push('\n');
    }
    let reason = match status {
        200 => "OK",
        404 => "Not Found",
        _ => "Service Unavailable",
    };
    let mut out = s;
    write!(
        out,
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_are_unescaped() {
        assert_eq!(unescape("XBT%2FUSD"), "XBT/USD");
        assert_eq!(unescape("a+b"), "a b");
        assert_eq!(unescape("bad%zz"), "bad%zz");
        assert_eq!(unescape("end%2"), "end%2");
        assert_eq!(query_param("venue=okx&symbol=BTC-USDT", "symbol"), Some("BTC-USDT"));
        assert_eq!(query_param("venue=okx", "symbol"), None);
    }
}

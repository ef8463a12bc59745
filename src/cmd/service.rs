//! `--http ADDR`: a small HTTP/1.1 service on a side thread ([tiny_http]).
//!
//! - `GET /book?venue=V&symbol=S&depth=N`: the book's top N levels per side (default 10, at
//!   most 1000) as JSON: `{"venue","symbol","state","ts","bids":[[px, qty]…],"asks":[…]}`,
//!   prices and quantities as exact decimal JSON numbers;
//! - `GET /metrics`: the Prometheus text format (0.0.4), written by the `prometheus-client`
//!   crate's encoder: messages, bytes, gaps, resyncs, checksum failures, reconnects, REST
//!   answers, book state per symbol, ring published and dropped (counters and a gauge), TLS
//!   record-layer errors (a process-wide counter), and
//!   per stage the latency quantiles (a gauge family with a `quantile` label: the crate has no
//!   summary type) and how many latencies were recorded (a counter);
//! - `GET /health`: `ok` while every connection is open, `503` otherwise.
//!
//! The books live on the network thread: this thread asks it through a channel, and the
//! network thread answers between two polls (it checks for a request every 64 turns; an idle
//! service costs it one empty channel check). For `/metrics` the network thread only copies its
//! counters ([`Counters`], numbers); this thread builds the exposition. Latency quantiles come
//! from the consumer thread as numbers ([`StageLatency`]), refreshed every second.
//!
//! tiny_http reads every connection on a thread of its own pool and queues whole requests, which
//! this thread answers one at a time: a client that connects and sends nothing holds only its own
//! pool thread, never another client's request. Connections are kept alive unless the client
//! asks for `Connection: close` (or speaks HTTP/1.0).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result};
use crossbeam_channel::{bounded, Sender};
use ladderfeed::book::Side;
use ladderfeed::consumer::{Latency, Stage};
use ladderfeed::engine::BookStats;
use ladderfeed::event::BookState;
use ladderfeed::net::live::{CloseClass, LinkStats, Live};
use ladderfeed::ring::{FeedMonitor, FeedStats};
use prometheus_client::encoding::{prometheus_text, EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

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
    /// The counters ([`Counters`]).
    Metrics,
    /// Whether every connection is open.
    Health,
}

/// The network thread's answer to a [`Query`].
#[derive(Debug)]
pub enum Answer {
    /// A finished reply: status, content type, body.
    Reply(u16, &'static str, String),
    /// The counters, for `/metrics` (encoded on the service thread).
    Metrics(Counters),
}

/// A question and where to send the answer.
pub type Request = (Query, Sender<Answer>);

/// Answers a query on the network thread.
pub fn answer(live: &Live, q: &Query, ring: &FeedMonitor) -> Answer {
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
                return Answer::Reply(200, "application/json", out);
            }
            let body = format!("{{\"error\":\"no book {venue}:{symbol}\"}}");
            Answer::Reply(404, "application/json", body)
        }
        Query::Health => {
            let open = live.links().iter().all(|l| l.is_open());
            if open {
                Answer::Reply(200, "text/plain", "ok\n".into())
            } else {
                Answer::Reply(503, "text/plain", "connecting\n".into())
            }
        }
        Query::Metrics => Answer::Metrics(Counters::of(live, ring)),
    }
}

/// The network thread's counters, copied for `/metrics`.
#[derive(Debug, Clone, Default)]
pub struct Counters {
    /// One entry per connection, in the order of the feeds.
    pub links: Vec<LinkCounters>,
    /// The ring: events published and dropped.
    pub ring: FeedStats,
    /// TLS connections ended by a record-layer error, process-wide
    /// ([`tls::record_errors`](ladderfeed::net::tls::record_errors)).
    pub tls_record_errors: u64,
}

/// One connection's counters.
#[derive(Debug, Clone)]
pub struct LinkCounters {
    /// The venue's name.
    pub venue: &'static str,
    /// The connection's counters.
    pub stats: LinkStats,
    /// Its books, in the order of its symbols.
    pub books: Vec<BookCounters>,
    /// Redundant connections: each line's counters (empty with one connection).
    pub lines: Vec<ladderfeed::session::LineStats>,
}

/// One book's counters.
#[derive(Debug, Clone)]
pub struct BookCounters {
    /// The symbol as the venue writes it.
    pub symbol: String,
    /// Gaps, resyncs, checksum failures (`None` before the book exists).
    pub stats: Option<BookStats>,
    /// Whether the book is synced.
    pub synced: bool,
}

impl Counters {
    /// Copies the counters of every connection and book, and the ring's.
    pub fn of(live: &Live, ring: &FeedMonitor) -> Counters {
        let links = live
            .links()
            .iter()
            .map(|link| {
                let engine = link.engine();
                let books = engine
                    .symbols()
                    .list()
                    .iter()
                    .enumerate()
                    .map(|(i, info)| BookCounters {
                        symbol: info.key.clone(),
                        stats: engine.book_stats(i as u16).cloned(),
                        synced: engine.state(i as u16) == Some(BookState::Synced),
                    })
                    .collect();
                let session = link.session();
                let lines = if session.lines() > 1 {
                    (0..session.lines()).filter_map(|l| session.line_stats(l)).collect()
                } else {
                    Vec::new()
                };
                LinkCounters {
                    venue: link.venue().name(),
                    stats: link.stats().clone(),
                    books,
                    lines,
                }
            })
            .collect();
        Counters {
            links,
            ring: ring.stats(),
            tls_record_errors: ladderfeed::net::tls::record_errors(),
        }
    }
}

/// The latency quantiles `/metrics` reports, with their `quantile` label values.
const QUANTILES: [(f64, &str); 3] = [(0.5, "0.5"), (0.99, "0.99"), (0.999, "0.999")];

/// One stage's latency, as the consumer thread last saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StageLatency {
    /// The stage ([`Stage::file_stem`]).
    pub stage: &'static str,
    /// Nanoseconds at the quantiles 0.5, 0.99 and 0.999.
    pub quantiles: [u64; 3],
    /// Latencies recorded.
    pub count: u64,
}

/// The latency of every stage, for `/metrics` (called by the consumer thread).
pub fn stage_latency(latency: &Latency) -> Vec<StageLatency> {
    Stage::ALL
        .iter()
        .map(|&stage| {
            let h = latency.histogram(stage);
            StageLatency {
                stage: stage.file_stem(),
                quantiles: QUANTILES.map(|(q, _)| h.value_at_quantile(q)),
                count: h.len(),
            }
        })
        .collect()
}

type Labels = Vec<(&'static str, String)>;

/// One family's samples, in a fixed order (connection by connection, symbol by symbol): the
/// crate's `Family` keeps its label sets in a hash map, whose order would change between
/// scrapes. Rebuilt for every scrape from the copied counters.
#[derive(Debug)]
struct Samples {
    kind: MetricType,
    rows: Vec<(Labels, u64)>,
}

impl Samples {
    fn counter() -> Samples {
        Samples { kind: MetricType::Counter, rows: Vec::new() }
    }

    fn gauge() -> Samples {
        Samples { kind: MetricType::Gauge, rows: Vec::new() }
    }

    fn add(&mut self, labels: Labels, value: u64) {
        self.rows.push((labels, value));
    }
}

impl EncodeMetric for Samples {
    fn encode(&self, mut encoder: MetricEncoder) -> std::fmt::Result {
        for (labels, value) in &self.rows {
            let mut sample = encoder.encode_family(labels)?;
            match self.kind {
                MetricType::Counter => sample.encode_counter::<NoLabelSet, _, u64>(value, None)?,
                _ => sample.encode_gauge(value)?,
            }
        }
        Ok(())
    }

    fn metric_type(&self) -> MetricType {
        self.kind
    }

    fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }
}

/// `/metrics`: the counters and the latency in the Prometheus text format (0.0.4), one
/// family after another (`HELP`, `TYPE`, then its samples). Counters are named `…_total`.
pub fn encode_metrics(c: &Counters, latency: &[StageLatency]) -> Result<String, std::fmt::Error> {
    let mut messages = Samples::counter();
    let mut bytes = Samples::counter();
    let mut errors = Samples::counter();
    let mut reconnects = Samples::counter();
    let mut closes = Samples::counter();
    let mut rest = Samples::counter();
    let mut records_dropped = Samples::counter();
    let mut gaps = Samples::counter();
    let mut resyncs = Samples::counter();
    let mut resync_actions = Samples::counter();
    let mut checksum_failures = Samples::counter();
    let mut checks_waited = Samples::counter();
    let mut book_synced = Samples::gauge();
    let mut ring_events = Samples::counter();
    let mut tls_record_errors = Samples::counter();
    let mut latency_ns = Samples::gauge();
    let mut latency_samples = Samples::counter();
    let mut unfilled = Samples::counter();
    let mut line_messages = Samples::counter();
    let mut line_arbiter = Samples::counter();
    let mut line_advantage = Samples::gauge();
    let mut line_advantage_samples = Samples::counter();
    for link in &c.links {
        let s = &link.stats;
        let venue = || vec![("venue", link.venue.to_owned())];
        let with = |key: &'static str, value: &str| {
            let mut l = venue();
            l.push((key, value.to_owned()));
            l
        };
        messages.add(venue(), s.messages);
        bytes.add(venue(), s.bytes);
        errors.add(venue(), s.errors);
        reconnects.add(venue(), s.disconnects);
        for (how, n) in [("resubscribe", s.resync_resubscribes), ("reconnect", s.resync_reconnects)]
        {
            resync_actions.add(with("action", how), n);
        }
        for (class, n) in CloseClass::ALL.iter().zip(s.closes) {
            closes.add(with("class", class.name()), n);
        }
        records_dropped.add(venue(), s.records_dropped);
        if !link.lines.is_empty() {
            unfilled.add(venue(), s.unfilled_gaps);
        }
        for (j, line) in link.lines.iter().enumerate() {
            let labels = with("line", &j.to_string());
            line_messages.add(labels.clone(), line.messages);
            let a = &line.arbiter;
            for (what, n) in [
                ("won", a.won),
                ("duplicate", a.duplicates),
                ("gap", a.gaps),
                ("gap_filled_by_other", a.filled),
                ("other_line", a.other_line),
                ("found_lost", a.found_lost),
            ] {
                let mut l = labels.clone();
                l.push(("result", what.to_owned()));
                line_arbiter.add(l, n);
            }
            for (q, name) in QUANTILES {
                let mut l = labels.clone();
                l.push(("quantile", name.to_owned()));
                line_advantage.add(l, line.advantage.value_at_quantile(q));
            }
            line_advantage_samples.add(labels, line.advantage.len());
        }
        for (result, n) in [
            ("ok", s.rest_ok),
            ("throttled", s.rest_throttled),
            ("banned", s.rest_banned),
            ("failed", s.rest_failed),
        ] {
            rest.add(with("result", result), n);
        }
        for book in &link.books {
            let labels = with("symbol", &book.symbol);
            if let Some(b) = &book.stats {
                gaps.add(labels.clone(), b.gaps);
                resyncs.add(labels.clone(), b.resyncs);
                checksum_failures.add(labels.clone(), b.checksum_failed);
                checks_waited.add(labels.clone(), b.checks_waited);
            }
            book_synced.add(labels, u64::from(book.synced));
        }
    }
    ring_events.add(vec![("result", "published".to_owned())], c.ring.produced);
    ring_events.add(vec![("result", "dropped".to_owned())], c.ring.dropped);
    tls_record_errors.add(Vec::new(), c.tls_record_errors);
    for l in latency {
        for ((_, q), v) in QUANTILES.iter().zip(l.quantiles) {
            latency_ns.add(vec![("stage", l.stage.to_owned()), ("quantile", (*q).to_owned())], v);
        }
        latency_samples.add(vec![("stage", l.stage.to_owned())], l.count);
    }
    let mut r = Registry::with_prefix("ladderfeed");
    // The crate ends every help text with a full stop.
    r.register("messages", "WebSocket messages received", messages);
    r.register("bytes", "Bytes of messages received", bytes);
    r.register("errors", "Messages the venue adapter rejected", errors);
    r.register("reconnects", "Open connections lost and remade", reconnects);
    r.register("closes", "Closes from the server, by class", closes);
    r.register("rest", "REST snapshot answers, by result", rest);
    r.register(
        "records_dropped",
        "Records the recorder's queue could not take (missing from the recording)",
        records_dropped,
    );
    r.register("gaps", "Sequence gaps per book", gaps);
    r.register("resyncs", "Resyncs per book", resyncs);
    r.register(
        "resync_actions",
        "Books that lost sync, by how they were resynced (resubscribe, reconnect)",
        resync_actions,
    );
    r.register("checksum_failures", "Checksum mismatches per book", checksum_failures);
    r.register(
        "checks_waited",
        "Failed checks (checksum, crossed book) that waited for another line's copy of a lost message",
        checks_waited,
    );
    r.register("book_synced", "1 when the book is synced, else 0", book_synced);
    r.register("ring_events", "Events published onto the ring, and dropped", ring_events);
    r.register(
        "tls_record_errors",
        "TLS connections ended by a record-layer error (a record that does not authenticate, a fatal alert, a message out of place, an end without close_notify), process-wide",
        tls_record_errors,
    );
    r.register(
        "latency_ns",
        "Per-stage latency in nanoseconds at the quantiles 0.5, 0.99 and 0.999",
        latency_ns,
    );
    r.register("latency_samples", "Latencies recorded per stage", latency_samples);
    r.register(
        "unfilled_gaps",
        "Redundant connections: gaps no line filled in time (the book resynced)",
        unfilled,
    );
    r.register("line_messages", "Redundant connections: messages received per line", line_messages);
    r.register(
        "line_arbiter",
        "Redundant connections: per line, messages won (delivered first), duplicates, gaps, gaps filled by another line, data taken from another line, and messages the lines in front had lost (found_lost)",
        line_arbiter,
    );
    r.register(
        "line_advantage_ns",
        "Redundant connections: how much earlier this line's copy was applied than another line's duplicate arrived, in nanoseconds at the quantiles 0.5, 0.99 and 0.999",
        line_advantage,
    );
    r.register(
        "line_advantage_samples",
        "Redundant connections: duplicates timed against this line's earlier copy",
        line_advantage_samples,
    );
    let mut out = String::new();
    prometheus_text::encode(&mut out, &r)?;
    Ok(out)
}

/// Starts the service thread on `addr`. `latency` holds the consumer's latest latency per
/// stage, reported in `/metrics`.
pub fn start(
    addr: SocketAddr,
    queries: Sender<Request>,
    latency: Arc<Mutex<Vec<StageLatency>>>,
    stop: Arc<AtomicBool>,
) -> Result<(SocketAddr, std::thread::JoinHandle<()>)> {
    let server = tiny_http::Server::http(addr)
        .map_err(anyhow::Error::from_boxed)
        .with_context(|| format!("--http {addr}"))?;
    let local = server.server_addr().to_ip().with_context(|| format!("--http {addr}"))?;
    let handle = std::thread::Builder::new().name("http".into()).spawn(move || {
        while !stop.load(Ordering::Relaxed) {
            match server.recv_timeout(Duration::from_millis(50)) {
                Ok(Some(request)) => {
                    let (status, ctype, body) =
                        route(request.method(), request.url(), &queries, &latency);
                    // An error only loses this answer (the client went away).
                    let _ = request.respond(response(status, ctype, body));
                }
                Ok(None) => {}
                Err(_) => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    })?;
    Ok((local, handle))
}

fn response(
    status: u16,
    ctype: &str,
    mut body: String,
) -> tiny_http::Response<std::io::Cursor<Vec<u8>>> {
    if !body.ends_with('\n') {
        body.push('\n');
    }
    let mut r = tiny_http::Response::from_string(body).with_status_code(status);
    if let Ok(h) = tiny_http::Header::from_bytes(&b"Content-Type"[..], ctype.as_bytes()) {
        r.add_header(h);
    }
    r
}

/// The `/book` query: `venue` and `symbol` required (percent-decoded), `depth` 1 to 1000
/// (default 10).
fn book_query(query: &str) -> Option<Query> {
    let (mut venue, mut symbol, mut depth) = (None, None, None);
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        let slot = match &*key {
            "venue" => &mut venue,
            "symbol" => &mut symbol,
            "depth" => &mut depth,
            _ => continue,
        };
        if slot.is_none() {
            *slot = Some(value.into_owned());
        }
    }
    let depth = depth.and_then(|d| d.parse().ok()).unwrap_or(10usize);
    Some(Query::Book { venue: venue?, symbol: symbol?, depth: depth.clamp(1, 1000) })
}

fn route(
    method: &tiny_http::Method,
    url: &str,
    queries: &Sender<Request>,
    latency: &Mutex<Vec<StageLatency>>,
) -> (u16, &'static str, String) {
    let (path, query) = url.split_once('?').unwrap_or((url, ""));
    let q = match (method, path) {
        (tiny_http::Method::Get, "/book") => book_query(query),
        (tiny_http::Method::Get, "/metrics") => Some(Query::Metrics),
        (tiny_http::Method::Get, "/health") => Some(Query::Health),
        _ => None,
    };
    let Some(q) = q else {
        return (
            404,
            "text/plain",
            "GET /book?venue=V&symbol=S&depth=N, /metrics or /health\n".to_owned(),
        );
    };
    let (tx, rx) = bounded(1);
    if queries.send((q, tx)).is_err() {
        return (503, "text/plain", "stopping\n".to_owned());
    }
    match rx.recv_timeout(Duration::from_secs(2)) {
        Ok(Answer::Reply(status, ctype, body)) => (status, ctype, body),
        Ok(Answer::Metrics(counters)) => {
            let latency = latency.lock().unwrap_or_else(|e| e.into_inner()).clone();
            match encode_metrics(&counters, &latency) {
                Ok(text) => (200, prometheus_text::CONTENT_TYPE, text),
                Err(_) => (500, "text/plain", "encoding the metrics failed\n".to_owned()),
            }
        }
        Err(_) => (503, "text/plain", "the network thread did not answer\n".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn book(query: &str) -> Option<(String, String, usize)> {
        match book_query(query)? {
            Query::Book { venue, symbol, depth } => Some((venue, symbol, depth)),
            _ => None,
        }
    }

    #[test]
    fn book_queries_are_decoded() {
        let q = book("venue=kraken&symbol=XBT%2FUSD&depth=3");
        assert_eq!(q, Some(("kraken".into(), "XBT/USD".into(), 3)));
        assert_eq!(book("symbol=a+b&venue=okx").unwrap().1, "a b");
        assert_eq!(book("venue=okx&symbol=bad%zz").unwrap().1, "bad%zz");
        assert_eq!(book("venue=okx&symbol=BTC-USDT&depth=x").unwrap().2, 10);
        assert_eq!(book("venue=okx&symbol=BTC-USDT&depth=0").unwrap().2, 1);
        assert_eq!(book("venue=okx&symbol=BTC-USDT&depth=5000").unwrap().2, 1000);
        assert_eq!(book("venue=okx&symbol=A&symbol=B").unwrap().1, "A");
        assert_eq!(book("venue=okx"), None);
    }

    #[test]
    fn metrics_come_family_by_family() {
        let stats = LinkStats { messages: 7, ..LinkStats::default() };
        let book = |symbol: &str, synced| BookCounters {
            symbol: symbol.into(),
            stats: Some(BookStats { gaps: 2, ..BookStats::default() }),
            synced,
        };
        let c = Counters {
            links: vec![LinkCounters {
                venue: "okx",
                stats,
                books: vec![book("BTC-USDT", true), book("A\"B", false)],
                lines: Vec::new(),
            }],
            ring: FeedStats::default(),
            tls_record_errors: 3,
        };
        let latency = [StageLatency { stage: "recv_to_parsed", quantiles: [10, 20, 30], count: 4 }];
        let text = encode_metrics(&c, &latency).unwrap();
        for family in [
            "# HELP ladderfeed_messages_total WebSocket messages received.\n\
             # TYPE ladderfeed_messages_total counter\n\
             ladderfeed_messages_total{venue=\"okx\"} 7\n",
            "# TYPE ladderfeed_gaps_total counter\n\
             ladderfeed_gaps_total{venue=\"okx\",symbol=\"BTC-USDT\"} 2\n\
             ladderfeed_gaps_total{venue=\"okx\",symbol=\"A\\\"B\"} 2\n",
            "# TYPE ladderfeed_book_synced gauge\n\
             ladderfeed_book_synced{venue=\"okx\",symbol=\"BTC-USDT\"} 1\n\
             ladderfeed_book_synced{venue=\"okx\",symbol=\"A\\\"B\"} 0\n",
            "# TYPE ladderfeed_latency_ns gauge\n\
             ladderfeed_latency_ns{stage=\"recv_to_parsed\",quantile=\"0.5\"} 10\n\
             ladderfeed_latency_ns{stage=\"recv_to_parsed\",quantile=\"0.99\"} 20\n\
             ladderfeed_latency_ns{stage=\"recv_to_parsed\",quantile=\"0.999\"} 30\n",
            "# TYPE ladderfeed_latency_samples_total counter\n\
             ladderfeed_latency_samples_total{stage=\"recv_to_parsed\"} 4\n",
            "# TYPE ladderfeed_tls_record_errors_total counter\n\
             ladderfeed_tls_record_errors_total 3\n",
        ] {
            assert!(text.contains(family), "{family} missing in:\n{text}");
        }
        // Every family is declared once.
        let types: Vec<&str> = text.lines().filter(|l| l.starts_with("# TYPE")).collect();
        assert_eq!(types.len(), 17, "{text}");
    }
}

//! HTTP/1.1 on an accepted connection: the plain or TLS stream, the request head (a
//! WebSocket upgrade or a REST request), and the REST endpoint, whose routes and bodies the
//! venue's protocol gives (Binance's depth snapshot). A request body (Hyperliquid's `POST
//! /info`) is read by its `Content-Length`.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

use crate::faults::Kind;
use crate::instruments;
use crate::protocol::RestError;
use crate::scan;
use crate::shared::Shared;

/// A plain or TLS stream.
pub(crate) enum Conn {
    /// `ws://`.
    Plain(TcpStream),
    /// `wss://`.
    Tls(Box<rustls::StreamOwned<rustls::ServerConnection, TcpStream>>),
}

impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Conn::Plain(s) => s.read(buf),
            Conn::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Conn {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Conn::Plain(s) => s.write(buf),
            Conn::Tls(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Conn::Plain(s) => s.flush(),
            Conn::Tls(s) => s.flush(),
        }
    }
}

/// An HTTP request head.
pub(crate) struct Request {
    /// `GET`, …
    pub method: String,
    /// The path and query.
    pub path: String,
    headers: Vec<(String, String)>,
}

impl Request {
    /// A header's value (the name matched case-insensitively).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// Reads an HTTP request head; returns it and any bytes read past it.
pub(crate) fn read_head(stream: &mut Conn) -> Result<(Request, Vec<u8>)> {
    let mut buf = Vec::with_capacity(2048);
    let mut chunk = [0u8; 2048];
    let end = loop {
        if let Some(at) = scan::find(&buf, b"\r\n\r\n") {
            break at + 4;
        }
        if buf.len() > 16 << 10 {
            bail!("request head larger than 16 KiB");
        }
        let n = stream.read(&mut chunk).context("reading the request")?;
        if n == 0 {
            bail!("connection closed before a request");
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let text = std::str::from_utf8(&buf[..end]).context("request head is not UTF-8")?;
    let mut lines = text.split("\r\n");
    let first = lines.next().unwrap_or_default();
    let mut parts = first.split(' ');
    let method = parts.next().unwrap_or_default().to_owned();
    let path = parts.next().unwrap_or_default().to_owned();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    Ok((Request { method, path, headers }, buf[end..].to_vec()))
}

/// A whole HTTP/1.1 response with a JSON body.
pub(crate) fn http_response(status: &str, extra: &str, body: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n{extra}\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body);
    out
}

/// The largest request body read (Hyperliquid's `{"type":"meta"}` is 15 bytes).
const MAX_REQUEST_BODY: usize = 64 << 10;

/// The request's body: `Content-Length` bytes, starting with `leftover` (read with the head).
fn read_body(stream: &mut Conn, req: &Request, mut leftover: Vec<u8>) -> Result<Vec<u8>> {
    let len = match req.header("content-length") {
        Some(v) => v.trim().parse::<usize>().context("a bad Content-Length")?,
        None => return Ok(Vec::new()),
    };
    if len > MAX_REQUEST_BODY {
        bail!("a request body of {len} bytes");
    }
    let mut chunk = [0u8; 2048];
    while leftover.len() < len {
        let n = stream.read(&mut chunk).context("reading the request body")?;
        if n == 0 {
            bail!("connection closed inside the request body");
        }
        leftover.extend_from_slice(&chunk[..n]);
    }
    leftover.truncate(len);
    Ok(leftover)
}

/// The venue's REST depth snapshot (Binance: `GET /api/v3/depth?symbol=…` (spot) or
/// `/fapi/v1/depth`) or instrument list (a GET, or Hyperliquid's `POST /info`), with the REST
/// faults due.
pub(crate) fn rest(
    sh: &Arc<Shared>,
    mut stream: Conn,
    conn: u64,
    req: &Request,
    leftover: Vec<u8>,
) -> Result<()> {
    let body = read_body(&mut stream, req, leftover)?;
    let n = sh.rest_requests.fetch_add(1, Ordering::Relaxed);
    let faults = sh.due(n, true, conn);
    let (route, query) = req.path.split_once('?').unwrap_or((&req.path, ""));
    let symbol =
        query.split('&').find_map(|kv| kv.strip_prefix("symbol=")).unwrap_or_default().to_owned();
    let proto = sh.proto;
    let depth = proto.rest_depth(route);
    let mut fault_name = Value::Null;
    let mut snapshot = Value::Null;
    for f in &faults {
        if f.kind == Kind::RestSlow {
            fault_name = f.kind.name().into();
            let until = Instant::now() + Duration::from_secs_f64(f.arg);
            while Instant::now() < until && !sh.stopping() {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    }
    let status_fault = faults.iter().find(|f| matches!(f.kind, Kind::Rest429 | Kind::Rest418));
    let stale = faults.iter().find(|f| f.kind == Kind::RestStale);
    let post = (req.method == "POST").then_some(body.as_slice());
    let instruments = instruments::answer(sh, route, query, post);
    let allowed = req.method == "GET" || (post.is_some() && instruments.is_some());
    let (status, response) = if !allowed {
        ("405 Method Not Allowed", http_response("405 Method Not Allowed", "", b"{}"))
    } else if let Some(f) = status_fault {
        fault_name = f.kind.name().into();
        let (status, body) = if f.kind == Kind::Rest429 {
            ("429 Too Many Requests", proto.rest_error(RestError::TooMany))
        } else {
            ("418 I'm a teapot", proto.rest_error(RestError::Banned))
        };
        (status, http_response(status, &format!("Retry-After: {}\r\n", f.arg.ceil() as u64), body))
    } else if let Some(a) = instruments {
        snapshot = json!({ "instruments": route, "synthesized": a.synthesized });
        (a.status, http_response(a.status, "", &a.body))
    } else if let Some(depth) = depth {
        let limit = query
            .split('&')
            .find_map(|kv| kv.strip_prefix("limit="))
            .and_then(|l| l.parse::<usize>().ok())
            .unwrap_or(depth.default_limit)
            .min(depth.max_limit);
        // Fresh from the venue's books once the stream has started; before, the capture's.
        let fresh = sh.venue_books.lock().unwrap_or_else(|e| e.into_inner()).as_ref().and_then(
            |(_, books)| {
                let (id, body) = proto.rest_snapshot(books, &symbol, limit)?;
                Some((body, books.applied().checked_sub(1), id))
            },
        );
        let found = fresh.or_else(|| {
            let body = sh.capture.snapshot(&symbol)?.to_vec();
            let id = proto.rest_snapshot_id(&body).map_or(0, |(_, id)| id);
            Some((body, None, id))
        });
        match found {
            None => (
                "400 Bad Request",
                http_response("400 Bad Request", "", proto.rest_error(RestError::UnknownSymbol)),
            ),
            Some((body, frame, id)) => {
                snapshot = json!({ "frame": frame, "last_update_id": id });
                let body = match stale {
                    Some(f) => {
                        fault_name = f.kind.name().into();
                        snapshot["last_update_id"] = id.saturating_sub(f.arg as u64).into();
                        lower_snapshot_id(sh, &body, f.arg as u64)
                    }
                    None => body,
                };
                ("200 OK", http_response("200 OK", "", &body))
            }
        }
    } else {
        let body = proto.rest_error(RestError::NotFound);
        ("404 Not Found", http_response("404 Not Found", "", body))
    };
    sh.log.push(
        conn,
        "rest",
        json!({
            "method": req.method,
            "path": req.path,
            "status": status.split(' ').next(),
            "bytes": response.len(),
            "fault": fault_name,
            // The book served: `frame` is the last capture frame in it (`null`: the
            // capture's own snapshot), `last_update_id` the id the answer carries.
            "snapshot": snapshot,
        }),
    );
    stream.write_all(&response)?;
    stream.flush()?;
    Ok(())
}

/// The snapshot with its update id lowered by `by` (a snapshot older than the stream).
fn lower_snapshot_id(sh: &Shared, body: &[u8], by: u64) -> Vec<u8> {
    let Some((digits, id)) = sh.proto.rest_snapshot_id(body) else { return body.to_vec() };
    scan::with_number(body, digits, id.saturating_sub(by))
}

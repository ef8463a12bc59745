//! Captured feeds: readers for the formats peers record in, auto-detected.
//!
//! Every reader yields [`Record`]s: the local receive time in epoch nanoseconds, a connection
//! id, what happened (a frame received or sent, a connect, a disconnect, an HTTP response such
//! as a REST depth snapshot), and the payload byte for byte.
//!
//! Formats (see `fixtures/SOURCES.md`):
//!
//! - **tardis raw**: `<ISO timestamp> <message>` lines; an empty line is a disconnect; gzip or
//!   plain.
//! - **hftbacktest collector**: `<ns> <json>` lines, gzip; a line holding a REST depth snapshot
//!   (`lastUpdateId` without a `stream`) is an HTTP record.
//! - **cryptofeed raw**: `<url> <-> <ts>` connect, `<url> <- <ts>: <json>` sent,
//!   `<ts>: <raw>` received, `<url> -> <ts>: <body>` REST body; decimal seconds.
//! - **cryptofeed v3**: zstd JSON lines `{"t":…,"conn":…,"ts":…,"data":"<raw>"}`.
//! - **received lines**: one raw message per line, no timestamps (gzip or plain).
//! - **Marfusios**: gzip text of raw frames separated by `;;`, no timestamps.
//!
//! A compressed file cut short (a crash while recording) yields every record before the cut
//! and then [`CaptureError::Truncated`].

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use crate::book::Venue;

/// What a record is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecordKind {
    /// A WebSocket message received.
    Recv,
    /// A WebSocket message sent (subscriptions).
    Sent,
    /// A connection opened.
    Connect,
    /// A connection closed.
    Disconnect,
    /// An HTTP response body (a REST snapshot, product metadata).
    Http,
}

/// One captured event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Local receive time, epoch ns (0 when the format has none).
    pub local_ts: u64,
    /// Connection id (from the file, or 0).
    pub conn: u32,
    /// What happened.
    pub kind: RecordKind,
    /// The URL of a connect, a sent frame or an HTTP response, when the format says.
    pub url: String,
    /// The exact bytes of the frame or body.
    pub payload: Vec<u8>,
}

/// The capture formats this module reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// tardis.dev raw files.
    TardisRaw,
    /// hftbacktest's collector.
    Hftbacktest,
    /// cryptofeed's raw logs.
    CryptofeedRaw,
    /// cryptofeed v3 `jsonl.zst`.
    CryptofeedV3,
    /// Marfusios' `;;`-separated frames.
    Marfusios,
    /// One raw received message per line.
    RecvLines,
}

/// Why a capture could not be read.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    /// The file could not be opened or read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The compressed stream ends early: records before this point were returned.
    #[error("{path}: compressed stream truncated after line {line}")]
    Truncated {
        /// The file.
        path: String,
        /// Lines read before the cut.
        line: u64,
    },
    /// A line does not fit the format.
    #[error("{path}:{line}: {why}: {excerpt}")]
    BadLine {
        /// The file.
        path: String,
        /// 1-based line number.
        line: u64,
        /// What is wrong.
        why: &'static str,
        /// The start of the line.
        excerpt: String,
    },
    /// The content matches no known format.
    #[error("{0}: unknown capture format")]
    Unknown(String),
}

fn io_err(path: &Path, source: std::io::Error) -> CaptureError {
    CaptureError::Io { path: path.display().to_string(), source }
}

/// Opens a file, transparently decompressing gzip and zstd.
fn open_raw(path: &Path) -> Result<Box<dyn BufRead + Send>, CaptureError> {
    let mut f = File::open(path).map_err(|e| io_err(path, e))?;
    let mut magic = [0u8; 4];
    let n = f.read(&mut magic).map_err(|e| io_err(path, e))?;
    let f = File::open(path).map_err(|e| io_err(path, e))?;
    Ok(if n >= 2 && magic[..2] == [0x1f, 0x8b] {
        Box::new(BufReader::new(flate2::read::MultiGzDecoder::new(f)))
    } else if n == 4 && magic == [0x28, 0xb5, 0x2f, 0xfd] {
        let d = zstd::stream::read::Decoder::new(f).map_err(|e| io_err(path, e))?;
        Box::new(BufReader::new(d))
    } else {
        Box::new(BufReader::with_capacity(1 << 16, f))
    })
}

/// Detects a file's format from its content.
pub fn detect(path: &Path) -> Result<Format, CaptureError> {
    let mut r = open_raw(path)?;
    let mut first = Vec::new();
    r.read_until(b'\n', &mut first).map_err(|e| io_err(path, e))?;
    let line = trim_eol(&first);
    let unknown = || CaptureError::Unknown(path.display().to_string());
    if line.starts_with(b"{\"t\":")
        || (line.starts_with(b"{") && contains(line, b"\"t\":\"header\""))
    {
        return Ok(Format::CryptofeedV3);
    }
    if line.starts_with(b"configuration: ") || is_cryptofeed_line(line) {
        return Ok(Format::CryptofeedRaw);
    }
    if line.len() > 29 && line[28] == b' ' && line[4] == b'-' && line[10] == b'T' {
        return Ok(Format::TardisRaw);
    }
    if let Some(sp) = line.iter().position(|&c| c == b' ') {
        if sp >= 16 && line[..sp].iter().all(u8::is_ascii_digit) {
            return Ok(Format::Hftbacktest);
        }
    }
    if contains(line, b"};;") || contains(line, b"];;") {
        return Ok(Format::Marfusios);
    }
    if line.starts_with(b"{") || line.starts_with(b"[") {
        return Ok(Format::RecvLines);
    }
    Err(unknown())
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

fn trim_eol(l: &[u8]) -> &[u8] {
    let l = l.strip_suffix(b"\n").unwrap_or(l);
    l.strip_suffix(b"\r").unwrap_or(l)
}

fn is_cryptofeed_line(line: &[u8]) -> bool {
    if line.starts_with(b"ws") || line.starts_with(b"http") {
        return contains(line, b" <-> ") || contains(line, b" <- ") || contains(line, b" -> ");
    }
    match line.iter().position(|&c| c == b':') {
        Some(i) => i > 0 && line[..i].iter().all(|c| c.is_ascii_digit() || *c == b'.'),
        None => false,
    }
}

/// Decimal seconds (`1617643606.805714`) to ns, exactly.
fn seconds_ns(text: &[u8]) -> Option<u64> {
    crate::venue::time::decimal_seconds_ns(text)
}

/// A reader over one or several capture files (merged by time).
pub struct Reader {
    records: std::vec::IntoIter<Record>,
    error: Option<CaptureError>,
}

impl std::fmt::Debug for Reader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reader").field("remaining", &self.records.len()).finish()
    }
}

impl Iterator for Reader {
    type Item = Result<Record, CaptureError>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.records.next() {
            Some(r) => Some(Ok(r)),
            None => self.error.take().map(Err),
        }
    }
}

impl Reader {
    /// Moves the next record into `rec`; `Ok(false)` at the end.
    pub fn next_into(&mut self, rec: &mut Record) -> Result<bool, CaptureError> {
        match self.next() {
            Some(Ok(r)) => {
                *rec = r;
                Ok(true)
            }
            Some(Err(e)) => Err(e),
            None => Ok(false),
        }
    }
}

/// Opens one capture file.
pub fn open(path: &Path) -> Result<Reader, CaptureError> {
    open_merged(&[path.to_path_buf()])
}

/// Opens several files and merges their records by receive time (ties keep file order). An
/// error in one file is reported after every record read before it.
pub fn open_merged(paths: &[PathBuf]) -> Result<Reader, CaptureError> {
    let mut all: Vec<(u64, usize, usize, Record)> = Vec::new();
    let mut error = None;
    for (fi, p) in paths.iter().enumerate() {
        let mut recs = Vec::new();
        let r = read_file(p, fi as u32, &mut recs);
        all.extend(recs.into_iter().enumerate().map(|(i, r)| (r.local_ts, fi, i, r)));
        if let Err(e) = r {
            error.get_or_insert(e);
        }
    }
    if paths.len() > 1 {
        all.sort_by_key(|(ts, fi, i, _)| (*ts, *fi, *i));
    }
    Ok(Reader { records: all.into_iter().map(|t| t.3).collect::<Vec<_>>().into_iter(), error })
}

fn read_file(path: &Path, file_index: u32, out: &mut Vec<Record>) -> Result<(), CaptureError> {
    let format = detect(path)?;
    let mut r = open_raw(path)?;
    let name = path.display().to_string();
    let conn = conn_from_name(path).unwrap_or(file_index);
    let mut line = Vec::with_capacity(1 << 16);
    let mut n: u64 = 0;
    if format == Format::Marfusios {
        let mut all = Vec::new();
        if let Err(e) = r.read_to_end(&mut all) {
            return finish_err(&name, n, e, out, marfusios, &all);
        }
        marfusios(&all, out);
        return Ok(());
    }
    loop {
        line.clear();
        match r.read_until(b'\n', &mut line) {
            Ok(0) => return Ok(()),
            Ok(_) => {}
            Err(e) => return Err(truncated_or_io(&name, n, e)),
        }
        n += 1;
        let l = trim_eol(&line);
        let bad = |why: &'static str| CaptureError::BadLine {
            path: name.clone(),
            line: n,
            why,
            excerpt: String::from_utf8_lossy(&l[..l.len().min(80)]).into_owned(),
        };
        let rec = match format {
            Format::Hftbacktest => {
                if l.is_empty() {
                    continue;
                }
                let sp = l.iter().position(|&c| c == b' ').ok_or_else(|| bad("no space"))?;
                let ts = crate::venue::json::parse_u64(&l[..sp]).ok_or_else(|| bad("bad ns"))?;
                let payload = &l[sp + 1..];
                let http =
                    contains(payload, b"\"lastUpdateId\"") && !contains(payload, b"\"stream\"");
                let kind = if http { RecordKind::Http } else { RecordKind::Recv };
                record(ts, conn, kind, "", payload)
            }
            Format::TardisRaw => {
                if l.is_empty() {
                    record(0, conn, RecordKind::Disconnect, "", b"")
                } else {
                    if l.len() < 29 || l[28] != b' ' {
                        return Err(bad("no 28-character timestamp"));
                    }
                    let ts =
                        crate::venue::time::rfc3339_ns(&l[..28]).ok_or_else(|| bad("bad time"))?;
                    record(ts, conn, RecordKind::Recv, "", &l[29..])
                }
            }
            Format::RecvLines => {
                if l.is_empty() {
                    continue;
                }
                record(0, conn, RecordKind::Recv, "", l)
            }
            Format::CryptofeedRaw => {
                if l.is_empty() || (n == 1 && l.starts_with(b"configuration: ")) {
                    continue;
                }
                cryptofeed_line(l, conn).ok_or_else(|| bad("not a cryptofeed log line"))?
            }
            Format::CryptofeedV3 => match v3_line(l) {
                Ok(Some(r)) => r,
                Ok(None) => continue,
                Err(why) => return Err(bad(why)),
            },
            Format::Marfusios => unreachable_format(),
        };
        out.push(rec);
    }
}

/// Never reached: Marfusios files are read whole above. Returns a harmless record.
fn unreachable_format() -> Record {
    record(0, 0, RecordKind::Recv, "", b"")
}

fn finish_err(
    name: &str,
    n: u64,
    e: std::io::Error,
    out: &mut Vec<Record>,
    f: impl Fn(&[u8], &mut Vec<Record>),
    partial: &[u8],
) -> Result<(), CaptureError> {
    f(partial, out);
    Err(truncated_or_io(name, n, e))
}

fn truncated_or_io(name: &str, n: u64, e: std::io::Error) -> CaptureError {
    if e.kind() == std::io::ErrorKind::UnexpectedEof || e.kind() == std::io::ErrorKind::Other {
        CaptureError::Truncated { path: name.to_owned(), line: n }
    } else {
        CaptureError::Io { path: name.to_owned(), source: e }
    }
}

fn record(ts: u64, conn: u32, kind: RecordKind, url: &str, payload: &[u8]) -> Record {
    Record { local_ts: ts, conn, kind, url: url.to_owned(), payload: payload.to_vec() }
}

fn marfusios(all: &[u8], out: &mut Vec<Record>) {
    let text = trim_eol(all);
    let mut start = 0;
    let mut i = 0;
    while i + 1 < text.len() {
        if text[i] == b';' && text[i + 1] == b';' {
            let frame = trim_eol(&text[start..i]);
            if !frame.is_empty() {
                out.push(record(0, 0, RecordKind::Recv, "", frame));
            }
            i += 2;
            start = i;
        } else {
            i += 1;
        }
    }
    let frame = trim_eol(&text[start.min(text.len())..]);
    if !frame.is_empty() {
        out.push(record(0, 0, RecordKind::Recv, "", frame));
    }
}

/// The connection number of a cryptofeed raw file name (`BINANCE.ws.1.0` → 1).
fn conn_from_name(path: &Path) -> Option<u32> {
    let name = path.file_name()?.to_str()?;
    let mut parts = name.rsplit('.');
    let _rotation = parts.next()?;
    let n = parts.next()?.parse().ok()?;
    matches!(parts.next()?, "ws" | "http").then_some(n)
}

fn cryptofeed_line(l: &[u8], conn: u32) -> Option<Record> {
    if l.starts_with(b"ws") || l.starts_with(b"http") {
        let sp = l.iter().position(|&c| c == b' ')?;
        let url = std::str::from_utf8(&l[..sp]).ok()?;
        let rest = &l[sp + 1..];
        if let Some(ts) = rest.strip_prefix(b"<-> ") {
            return Some(record(seconds_ns(ts)?, conn, RecordKind::Connect, url, b""));
        }
        let (kind, rest) = if let Some(r) = rest.strip_prefix(b"<- ") {
            (RecordKind::Sent, r)
        } else if let Some(r) = rest.strip_prefix(b"-> ") {
            (RecordKind::Http, r)
        } else {
            return None;
        };
        let colon = find(rest, b": ")?;
        return Some(record(seconds_ns(&rest[..colon])?, conn, kind, url, &rest[colon + 2..]));
    }
    let colon = find(l, b": ")?;
    Some(record(seconds_ns(&l[..colon])?, conn, RecordKind::Recv, "", &l[colon + 2..]))
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn v3_line(l: &[u8]) -> Result<Option<Record>, &'static str> {
    if l.is_empty() {
        return Ok(None);
    }
    let v: serde_json::Value = serde_json::from_slice(l).map_err(|_| "not JSON")?;
    let t = v.get("t").and_then(|t| t.as_str()).ok_or("no \"t\"")?;
    let kind = match t {
        "header" => return Ok(None),
        "recv" => RecordKind::Recv,
        "send" => RecordKind::Sent,
        "connect" => RecordKind::Connect,
        "disconnect" => RecordKind::Disconnect,
        "http" => RecordKind::Http,
        _ => return Err("unknown record type"),
    };
    let ts = match v.get("ts") {
        Some(serde_json::Value::Number(n)) => {
            seconds_ns(n.to_string().as_bytes()).ok_or("bad ts")?
        }
        _ => 0,
    };
    let conn = v
        .get("conn")
        .and_then(|c| c.as_str())
        .and_then(|c| c.rsplit('.').next()?.parse().ok())
        .unwrap_or(0);
    let url = v.get("url").or_else(|| v.get("addr")).and_then(|u| u.as_str()).unwrap_or("");
    let data = v.get("data").and_then(|d| d.as_str()).unwrap_or("");
    Ok(Some(record(ts, conn, kind, url, data.as_bytes())))
}

/// For a cryptofeed raw `NAME.ws.N.R` file: the `NAME.http.*.*` files beside it.
pub fn companions(path: &Path) -> Vec<PathBuf> {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else { return Vec::new() };
    let Some(at) = name.find(".ws.") else { return Vec::new() };
    let prefix = format!("{}.http.", &name[..at]);
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with(&prefix)))
        .collect();
    out.sort();
    out
}

/// The venue a URL (connect, REST) or a cryptofeed file name points to.
pub fn venue_hint(url_or_name: &str) -> Option<Venue> {
    let s = url_or_name.to_ascii_lowercase();
    let v = if s.contains("advanced-trade-ws.coinbase") || s.contains("api.coinbase.com") {
        Venue::Coinbase
    } else if s.contains("ws-feed") && s.contains("coinbase") || s.contains("coinbase") {
        Venue::CoinbaseExchange
    } else if s.contains("fstream.binance")
        || s.contains("fapi.binance")
        || s.contains("binance_futures")
    {
        Venue::BinanceFutures
    } else if s.contains("binance") {
        Venue::Binance
    } else if s.contains("bitfinex") {
        Venue::Bitfinex
    } else if s.contains("ws.kraken.com/v2") {
        Venue::Kraken
    } else if s.contains("kraken") {
        Venue::KrakenV1
    } else if s.contains("okx") || s.contains("okex") {
        Venue::Okx
    } else if s.contains("gemini.com/v1/marketdata") {
        Venue::GeminiV1
    } else if s.contains("gemini") {
        Venue::Gemini
    } else {
        return None;
    };
    Some(v)
}

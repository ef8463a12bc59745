//! A small non-blocking HTTP/1.1 client over [`NetStream`]: a GET (the Binance REST depth
//! snapshot, driven from the event loop; the venues' instrument lists) or a POST of a JSON body
//! (Hyperliquid's `/info`). `Connection: close`; bodies by `Content-Length`, chunked encoding,
//! or up to the close.

use std::io::{self, Read, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::ClientConfig;

use super::stream::{AddrCache, NetStream};
use super::url::Url;
use super::NetError;

/// The largest response accepted (a 5000-level snapshot is about 250 KB).
const MAX_RESPONSE: usize = 32 << 20;

/// A finished response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Response {
    /// The status code.
    pub status: u16,
    /// `Retry-After` in seconds, when given.
    pub retry_after: Option<u64>,
    /// The body (de-chunked).
    pub body: Vec<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Connecting,
    Handshaking,
    Writing,
    Reading,
}

/// One request (a GET, or a POST of a JSON body) in flight.
pub(crate) struct HttpCall {
    /// The URL asked for.
    pub url: String,
    stream: NetStream,
    phase: Phase,
    request: Vec<u8>,
    written: usize,
    response: Vec<u8>,
    deadline: Instant,
}

impl std::fmt::Debug for HttpCall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpCall").field("url", &self.url).field("phase", &self.phase).finish()
    }
}

impl HttpCall {
    /// Starts a GET of `url` (http or https) that must finish within `timeout`, connecting
    /// to the address `addrs` gives for its host (resolved there once and reused;
    /// [`NetError::Resolving`] while a host name's lookup runs: start again later).
    pub(crate) fn get(
        url: &str,
        addrs: &mut AddrCache,
        tls: &Arc<ClientConfig>,
        timeout: Duration,
    ) -> Result<HttpCall, NetError> {
        HttpCall::start(url, None, addrs, tls, timeout)
    }

    /// Starts a POST of the JSON `body` to `url`, otherwise as [`HttpCall::get`].
    pub(crate) fn post_json(
        url: &str,
        body: &[u8],
        addrs: &mut AddrCache,
        tls: &Arc<ClientConfig>,
        timeout: Duration,
    ) -> Result<HttpCall, NetError> {
        HttpCall::start(url, Some(body), addrs, tls, timeout)
    }

    fn start(
        url: &str,
        body: Option<&[u8]>,
        addrs: &mut AddrCache,
        tls: &Arc<ClientConfig>,
        timeout: Duration,
    ) -> Result<HttpCall, NetError> {
        let u = Url::parse(url)?;
        let addr = addrs.get(&u)?;
        let stream = NetStream::connect(&u, addr, tls)?;
        let host = if (u.tls && u.port == 443) || (!u.tls && u.port == 80) {
            u.host.clone()
        } else {
            u.authority()
        };
        let request = request_bytes(&u.path, &host, body);
        Ok(HttpCall {
            url: url.to_owned(),
            stream,
            phase: Phase::Connecting,
            request,
            written: 0,
            response: Vec::with_capacity(64 << 10),
            deadline: Instant::now() + timeout,
        })
    }

    /// The stream (to register its socket with mio).
    pub(crate) fn stream_mut(&mut self) -> &mut NetStream {
        &mut self.stream
    }

    /// Makes what progress the socket allows: `Some` when the exchange is over.
    pub(crate) fn drive(&mut self) -> Option<Result<Response, NetError>> {
        match self.step() {
            Ok(Some(r)) => Some(Ok(r)),
            Ok(None) if Instant::now() > self.deadline => {
                Some(Err(NetError::Timeout("waiting for the REST answer")))
            }
            Ok(None) => None,
            Err(e) => Some(Err(e)),
        }
    }

    fn step(&mut self) -> Result<Option<Response>, NetError> {
        if self.phase == Phase::Connecting {
            if !self.stream.connected()? {
                return Ok(None);
            }
            self.phase = Phase::Handshaking;
        }
        if self.phase == Phase::Handshaking {
            if !self.stream.handshake()? {
                return Ok(None);
            }
            self.phase = Phase::Writing;
        }
        if self.phase == Phase::Writing {
            while self.written < self.request.len() {
                match self.stream.write(&self.request[self.written..]) {
                    Ok(n) => self.written += n,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(None),
                    Err(e) => return Err(e.into()),
                }
            }
            match self.stream.flush() {
                Ok(()) => self.phase = Phase::Reading,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(None),
                Err(e) => return Err(e.into()),
            }
        }
        let mut chunk = [0u8; 16 << 10];
        loop {
            match self.stream.read(&mut chunk) {
                Ok(0) => return parse(&self.response, true).map(Some),
                Ok(n) => {
                    self.response.extend_from_slice(&chunk[..n]);
                    if self.response.len() > MAX_RESPONSE {
                        return Err(NetError::Protocol("REST answer larger than 32 MiB".into()));
                    }
                    if let Ok(r) = parse(&self.response, false) {
                        return Ok(Some(r));
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(None),
                // A server that closes without TLS close_notify after a complete answer.
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                    return parse(&self.response, true).map(Some)
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
}

/// The request's bytes: a GET of `path`, or with `body` a POST of it as JSON.
fn request_bytes(path: &str, host: &str, body: Option<&[u8]>) -> Vec<u8> {
    let agent = concat!("ladderfeed/", env!("CARGO_PKG_VERSION"));
    let mut out = match body {
        None => format!(
            "GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: {agent}\r\nAccept: application/json\r\nConnection: close\r\n\r\n"
        )
        .into_bytes(),
        Some(b) => format!(
            "POST {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: {agent}\r\nAccept: application/json\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            b.len()
        )
        .into_bytes(),
    };
    out.extend_from_slice(body.unwrap_or_default());
    out
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Parses a response; `Err` while incomplete (or, with `at_end`, when it cannot be whole).
fn parse(data: &[u8], at_end: bool) -> Result<Response, NetError> {
    let incomplete = || NetError::Protocol("incomplete HTTP response".into());
    let head_end = find(data, b"\r\n\r\n").ok_or_else(incomplete)? + 4;
    let head = std::str::from_utf8(&data[..head_end])
        .map_err(|_| NetError::Protocol("HTTP head is not UTF-8".into()))?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status: u16 = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| NetError::Protocol(format!("bad status line {status_line:?}")))?;
    let mut length = None;
    let mut chunked = false;
    let mut retry_after = None;
    for l in lines {
        let Some((k, v)) = l.split_once(':') else { continue };
        let v = v.trim();
        if k.eq_ignore_ascii_case("content-length") {
            length = v.parse::<usize>().ok();
        } else if k.eq_ignore_ascii_case("transfer-encoding") {
            chunked = v.to_ascii_lowercase().contains("chunked");
        } else if k.eq_ignore_ascii_case("retry-after") {
            retry_after = v.parse().ok();
        }
    }
    let raw = &data[head_end..];
    let body = if chunked {
        dechunk(raw).ok_or_else(incomplete)?
    } else if let Some(n) = length {
        if raw.len() < n {
            return Err(incomplete());
        }
        raw[..n].to_vec()
    } else if at_end {
        raw.to_vec()
    } else {
        return Err(incomplete());
    };
    Ok(Response { status, retry_after, body })
}

/// Decodes a complete chunked body; `None` while incomplete.
fn dechunk(mut raw: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = find(raw, b"\r\n")?;
        let size_text = std::str::from_utf8(&raw[..line_end]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        raw = &raw[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        if raw.len() < size + 2 {
            return None;
        }
        out.extend_from_slice(&raw[..size]);
        raw = &raw[size + 2..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_get_has_no_body_and_a_post_carries_its_json_with_its_length() {
        let get = request_bytes("/api/v3/exchangeInfo", "api.binance.com", None);
        let get = String::from_utf8(get).unwrap();
        assert!(get.starts_with("GET /api/v3/exchangeInfo HTTP/1.1\r\nHost: api.binance.com\r\n"));
        assert!(get.ends_with("\r\n\r\n") && !get.contains("Content-Length"), "{get}");
        let body = br#"{"type":"meta"}"#;
        let post = request_bytes("/info", "127.0.0.1:8443", Some(body));
        let post = String::from_utf8(post).unwrap();
        assert!(post.starts_with("POST /info HTTP/1.1\r\nHost: 127.0.0.1:8443\r\n"), "{post}");
        assert!(post.contains("\r\nContent-Type: application/json\r\n"), "{post}");
        assert!(post.contains("\r\nContent-Length: 15\r\n"), "{post}");
        assert!(post.ends_with("\r\n\r\n{\"type\":\"meta\"}"), "{post}");
    }

    #[test]
    fn parses_lengths_chunks_and_retry_after() {
        let r = parse(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}", false).unwrap();
        assert_eq!((r.status, r.body.as_slice()), (200, &b"{}"[..]));
        assert!(parse(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n{}", false).is_err());
        let r =
            parse(b"HTTP/1.1 429 Too Many\r\nRetry-After: 7\r\nContent-Length: 0\r\n\r\n", false)
                .unwrap();
        assert_eq!((r.status, r.retry_after), (429, Some(7)));
        let c = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
        assert_eq!(parse(c, false).unwrap().body, b"abcde");
        assert!(parse(&c[..c.len() - 9], false).is_err());
        let r = parse(b"HTTP/1.1 200 OK\r\n\r\nuntil close", true).unwrap();
        assert_eq!(r.body, b"until close");
        assert!(parse(b"garbage\r\n\r\n", true).is_err());
    }
}

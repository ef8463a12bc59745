//! Streaming readers for the line- and separator-based text formats.

use std::io::BufRead;
use std::path::Path;

use super::{CaptureError, Format, Position, Record, RecordKind};

/// The longest line (or Marfusios frame) read before giving up: a file that is not what its
/// first line promised must not exhaust memory.
const MAX_LINE: u64 = 256 << 20;

/// Detects a text format from the first line of `r` (consumed).
pub(super) fn detect(path: &Path, r: &mut dyn BufRead) -> Result<Format, CaptureError> {
    let mut first = Vec::new();
    let name = path.display().to_string();
    std::io::Read::take(&mut *r, MAX_LINE)
        .read_until(b'\n', &mut first)
        .map_err(|e| truncated_or_io(&name, Position::Line(1), e))?;
    let line = trim_eol(&first);
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
    Err(CaptureError::Unknown(name))
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    find(hay, needle).is_some()
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
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

/// A decompression error that means "the stream ends early".
fn truncated_or_io(name: &str, position: Position, e: std::io::Error) -> CaptureError {
    if e.kind() == std::io::ErrorKind::UnexpectedEof || e.kind() == std::io::ErrorKind::Other {
        CaptureError::Truncated { path: name.to_owned(), position }
    } else {
        CaptureError::Io { path: name.to_owned(), cause: e }
    }
}

/// One text capture, read a line (or a `;;` frame) at a time.
pub(super) struct TextReader {
    name: String,
    format: Format,
    r: Box<dyn BufRead + Send>,
    /// The current line (capacity reused).
    line: Vec<u8>,
    /// Lines read (Marfusios: decompressed bytes read).
    n: u64,
    conn: u32,
    /// The last timestamp seen (a tardis disconnect line has none of its own).
    last_ts: u64,
}

impl TextReader {
    pub(super) fn new(path: &Path, format: Format, r: Box<dyn BufRead + Send>, conn: u32) -> Self {
        TextReader {
            name: path.display().to_string(),
            format,
            r,
            line: Vec::with_capacity(1 << 16),
            n: 0,
            conn,
            last_ts: 0,
        }
    }

    fn bad(&self, why: &'static str) -> CaptureError {
        let l = trim_eol(&self.line);
        CaptureError::BadLine {
            path: self.name.clone(),
            line: self.n,
            why,
            excerpt: String::from_utf8_lossy(&l[..l.len().min(80)]).into_owned(),
        }
    }

    /// Reads the next line into `self.line`; `false` at the end.
    fn read_line(&mut self) -> Result<bool, CaptureError> {
        self.line.clear();
        let got = std::io::Read::take(&mut *self.r, MAX_LINE).read_until(b'\n', &mut self.line);
        match got {
            Ok(0) => Ok(false),
            Ok(_) => {
                self.n += 1;
                if self.line.len() as u64 >= MAX_LINE && self.line.last() != Some(&b'\n') {
                    return Err(self.bad("line longer than 256 MiB"));
                }
                Ok(true)
            }
            Err(e) => Err(truncated_or_io(&self.name, Position::Line(self.n + 1), e)),
        }
    }

    pub(super) fn next_into(&mut self, rec: &mut Record) -> Result<bool, CaptureError> {
        if self.format == Format::Marfusios {
            return self.next_frame(rec);
        }
        loop {
            if !self.read_line()? {
                return Ok(false);
            }
            let l = trim_eol(&self.line);
            let conn = self.conn;
            match self.format {
                Format::Hftbacktest => {
                    if l.is_empty() {
                        continue;
                    }
                    let Some(sp) = l.iter().position(|&c| c == b' ') else {
                        return Err(self.bad("no space"));
                    };
                    let Some(ts) = crate::venue::json::parse_u64(&l[..sp]) else {
                        return Err(self.bad("bad ns"));
                    };
                    let payload = &l[sp + 1..];
                    let http =
                        contains(payload, b"\"lastUpdateId\"") && !contains(payload, b"\"stream\"");
                    let kind = if http { RecordKind::Http } else { RecordKind::Recv };
                    rec.assign(ts, conn, kind, "", payload);
                }
                Format::TardisRaw => {
                    if l.is_empty() {
                        rec.assign(self.last_ts, conn, RecordKind::Disconnect, "", b"");
                    } else {
                        if l.len() < 29 || l[28] != b' ' {
                            return Err(self.bad("no 28-character timestamp"));
                        }
                        let Some(ts) = crate::venue::time::rfc3339_ns(&l[..28]) else {
                            return Err(self.bad("bad time"));
                        };
                        self.last_ts = ts;
                        rec.assign(ts, conn, RecordKind::Recv, "", &l[29..]);
                    }
                }
                Format::RecvLines => {
                    if l.is_empty() {
                        continue;
                    }
                    rec.assign(0, conn, RecordKind::Recv, "", l);
                }
                Format::CryptofeedRaw => {
                    if l.is_empty() || l.starts_with(b"configuration: ") {
                        continue;
                    }
                    if !cryptofeed_line(l, conn, rec) {
                        return Err(self.bad("not a cryptofeed log line"));
                    }
                }
                Format::CryptofeedV3 => match v3_line(l, rec) {
                    Ok(true) => {}
                    Ok(false) => continue,
                    Err(why) => return Err(self.bad(why)),
                },
                Format::Marfusios | Format::Lfc => return Err(self.bad("not a line format")),
            }
            return Ok(true);
        }
    }

    /// The next `;;`-separated frame (trailing end-of-line trimmed, empty frames skipped).
    fn next_frame(&mut self, rec: &mut Record) -> Result<bool, CaptureError> {
        rec.local_ts = 0;
        rec.conn = 0;
        rec.kind = RecordKind::Recv;
        rec.url.clear();
        rec.payload.clear();
        loop {
            let start = self.n;
            let got =
                std::io::Read::take(&mut *self.r, MAX_LINE).read_until(b';', &mut rec.payload);
            let got = got.map_err(|e| truncated_or_io(&self.name, Position::Offset(start), e))?;
            self.n += got as u64;
            if rec.payload.len() as u64 > MAX_LINE {
                return Err(CaptureError::Corrupt {
                    path: self.name.clone(),
                    position: Position::Offset(self.n),
                    why: "frame longer than 256 MiB".into(),
                });
            }
            let at_end = got == 0 || rec.payload.last() != Some(&b';');
            if !at_end {
                let next = self
                    .r
                    .fill_buf()
                    .map_err(|e| truncated_or_io(&self.name, Position::Offset(self.n), e))?;
                if next.first() != Some(&b';') {
                    // A lone `;` inside a frame.
                    continue;
                }
                self.r.consume(1);
                self.n += 1;
                rec.payload.pop();
            } else if got != 0 {
                // The last frame, without a separator: read up to the end.
                continue;
            }
            let len = trim_eol(&rec.payload).len();
            rec.payload.truncate(len);
            if !rec.payload.is_empty() {
                return Ok(true);
            }
            if at_end {
                return Ok(false);
            }
        }
    }
}

/// Parses one cryptofeed raw log line into `rec`; `false` if it is not one.
fn cryptofeed_line(l: &[u8], conn: u32, rec: &mut Record) -> bool {
    if l.starts_with(b"ws") || l.starts_with(b"http") {
        let Some(sp) = l.iter().position(|&c| c == b' ') else { return false };
        let Ok(url) = std::str::from_utf8(&l[..sp]) else { return false };
        let rest = &l[sp + 1..];
        if let Some(ts) = rest.strip_prefix(b"<-> ") {
            let Some(ts) = seconds_ns(ts) else { return false };
            rec.assign(ts, conn, RecordKind::Connect, url, b"");
            return true;
        }
        let (kind, rest) = if let Some(r) = rest.strip_prefix(b"<- ") {
            (RecordKind::Sent, r)
        } else if let Some(r) = rest.strip_prefix(b"-> ") {
            (RecordKind::Http, r)
        } else {
            return false;
        };
        let Some(colon) = find(rest, b": ") else { return false };
        let Some(ts) = seconds_ns(&rest[..colon]) else { return false };
        rec.assign(ts, conn, kind, url, &rest[colon + 2..]);
        return true;
    }
    let Some(colon) = find(l, b": ") else { return false };
    let Some(ts) = seconds_ns(&l[..colon]) else { return false };
    rec.assign(ts, conn, RecordKind::Recv, "", &l[colon + 2..]);
    true
}

/// Parses one cryptofeed v3 line into `rec`; `Ok(false)` for a line that holds no record.
fn v3_line(l: &[u8], rec: &mut Record) -> Result<bool, &'static str> {
    if l.is_empty() {
        return Ok(false);
    }
    // Borrowed fields: a line is read without allocating (the frame is unescaped straight
    // into the record's reused buffer).
    let v: V3Line<'_> = serde_json::from_slice(l).map_err(|_| "not JSON")?;
    let kind = match &*v.t {
        "header" => return Ok(false),
        "recv" => RecordKind::Recv,
        "send" => RecordKind::Sent,
        "connect" => RecordKind::Connect,
        "disconnect" => RecordKind::Disconnect,
        "http" => RecordKind::Http,
        _ => return Err("unknown record type"),
    };
    // The number's own text, as Python wrote it (no round trip through f64).
    let ts = match v.ts {
        Some(t) if t.get() != "null" => seconds_ns(t.get().as_bytes()).ok_or("bad ts")?,
        _ => 0,
    };
    let conn = v.conn.rsplit('.').next().and_then(|c| c.parse().ok()).unwrap_or(0);
    let url = if v.url.is_empty() { &v.addr } else { &v.url };
    rec.assign(ts, conn, kind, url, b"");
    if let Some(data) = v.data {
        unescape_into(data.get(), &mut rec.payload).ok_or("bad \"data\" string")?;
    }
    Ok(true)
}

/// One cryptofeed v3 line, borrowed from the line's bytes; unknown keys are ignored.
#[derive(serde::Deserialize)]
struct V3Line<'a> {
    #[serde(borrow)]
    t: std::borrow::Cow<'a, str>,
    #[serde(borrow, default)]
    ts: Option<&'a serde_json::value::RawValue>,
    // Plain `Cow`s (not in an `Option`, where serde would always copy): missing is empty.
    #[serde(borrow, default)]
    conn: std::borrow::Cow<'a, str>,
    #[serde(borrow, default)]
    url: std::borrow::Cow<'a, str>,
    #[serde(borrow, default)]
    addr: std::borrow::Cow<'a, str>,
    #[serde(borrow, default)]
    data: Option<&'a serde_json::value::RawValue>,
}

/// Appends the text of the JSON value `raw` to `out`: a string is unescaped, `null` is
/// nothing; `None` for anything else or a bad escape. (serde_json has validated the string.)
fn unescape_into(raw: &str, out: &mut Vec<u8>) -> Option<()> {
    if raw == "null" {
        return Some(());
    }
    let body = raw.strip_prefix('"')?.strip_suffix('"')?.as_bytes();
    let mut i = 0;
    while i < body.len() {
        let run = body[i..].iter().position(|b| *b == b'\\').unwrap_or(body.len() - i);
        out.extend_from_slice(&body[i..i + run]);
        i += run;
        if i >= body.len() {
            break;
        }
        let esc = *body.get(i + 1)?;
        i += 2;
        let byte = match esc {
            b'"' => b'"',
            b'\\' => b'\\',
            b'/' => b'/',
            b'b' => 8,
            b'f' => 12,
            b'n' => b'\n',
            b'r' => b'\r',
            b't' => b'\t',
            b'u' => {
                let hex = |at: usize| -> Option<u32> {
                    let h = std::str::from_utf8(body.get(at..at + 4)?).ok()?;
                    u32::from_str_radix(h, 16).ok()
                };
                let mut c = hex(i)?;
                i += 4;
                if (0xD800..0xDC00).contains(&c) && body.get(i..i + 2) == Some(b"\\u") {
                    let lo = hex(i + 2)?;
                    if (0xDC00..0xE000).contains(&lo) {
                        c = 0x10000 + ((c - 0xD800) << 10) + (lo - 0xDC00);
                        i += 6;
                    }
                }
                let ch = char::from_u32(c).unwrap_or(char::REPLACEMENT_CHARACTER);
                let mut buf = [0u8; 4];
                out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                continue;
            }
            _ => return None,
        };
        out.push(byte);
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::unescape_into;

    #[test]
    fn unescaping_agrees_with_serde_json() {
        for s in [
            "",
            "plain",
            r#"{"a":"b\"c","n":[1,2]}"#,
            "tab\tnew\nline\r back\\slash /slash \u{8}\u{c}",
            "é ü € 𝄞 \u{1}",
        ] {
            let raw = serde_json::to_string(s).expect("encode");
            let mut out = Vec::new();
            unescape_into(&raw, &mut out).expect("unescape");
            assert_eq!(out, s.as_bytes(), "{raw}");
        }
        // Escapes serde_json does not write but a file may hold.
        let mut out = Vec::new();
        unescape_into(r#""\u00e9\/\ud834\udd1e""#, &mut out).expect("unescape");
        assert_eq!(out, "é/𝄞".as_bytes());
        assert!(unescape_into(r#""bad \q""#, &mut Vec::new()).is_none());
        assert!(unescape_into("12", &mut Vec::new()).is_none());
        let mut out = Vec::new();
        unescape_into("null", &mut out).expect("null");
        assert!(out.is_empty());
    }
}

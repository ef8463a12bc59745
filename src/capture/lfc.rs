//! `.lfc`, ladderfeed's capture format: byte-exact records in checksummed, zstd-compressed
//! blocks, so that a crash loses at most the block being filled and any damage is found and
//! located.
//!
//! # Byte layout (format version 1)
//!
//! All integers are little-endian. CRC-32 is the IEEE polynomial (as zlib, PNG, gzip).
//!
//! The file is a 16-byte prefix followed by blocks:
//!
//! ```text
//! prefix:  0  8  magic 89 4C 46 43 0D 0A 1A 0A  ("\x89LFC\r\n\x1a\n")
//!          8  2  format version (u16) = 1
//!         10  2  flags (u16) = 0
//!         12  4  reserved (u32) = 0
//! ```
//!
//! Every block is a 32-byte block header followed by `stored_len` body bytes:
//!
//! ```text
//! block:   0  4  block magic "LFCB"
//!          4  1  type: 1 = header, 2 = records, 3 = end
//!          5  1  codec of the body: 0 = none, 1 = zstd (one zstd frame)
//!          6  2  reserved = 0
//!          8  4  index (u32): 0 for the header block, then 1, 2, 3 … with no gaps
//!         12  4  stored_len (u32): body bytes in the file
//!         16  4  raw_len (u32): body bytes after decompression (= stored_len for codec 0)
//!         20  4  count (u32): records in the body (records blocks), else 0
//!         24  4  CRC-32 of the stored body
//!         28  4  CRC-32 of bytes 0..28 of this block header
//! ```
//!
//! The blocks are, in order:
//!
//! 1. one **header** block (index 0, codec 0): a UTF-8 JSON object with the keys
//!    `format_version` (number), `venue` (string, a [`crate::book::Venue`] name or empty),
//!    `symbols` (array of strings), `endpoints` (array of strings, URLs), `software`
//!    (string), `clock` (string: what the receive timestamps are), `created_ns` (number,
//!    epoch ns) and `created` (the same as RFC 3339 text). Readers ignore unknown keys.
//! 2. any number of **records** blocks (codec 1), each holding `count` records back to back,
//!    about 64 KiB before compression (a block holds at least one record, so a larger record
//!    makes a larger block; `raw_len` is at most 256 MiB). A record is a 20-byte header and
//!    two byte strings:
//!
//!    ```text
//!    record:  0  8  local_ts (u64): local receive time, epoch ns
//!             8  4  conn (u32): connection id
//!            12  1  kind: 1 = frame received, 2 = frame sent, 3 = connect,
//!                   4 = disconnect, 5 = HTTP response
//!            13  1  reserved = 0
//!            14  2  url_len (u16)
//!            16  4  payload_len (u32)
//!            20     url (url_len bytes of UTF-8), then payload (payload_len bytes, exact)
//!    ```
//!
//!    The records fill the body exactly (`raw_len` bytes).
//! 3. one **end** block (codec 0) written when the recording is finished: its 8-byte body is
//!    the total number of records in the file (u64). Nothing follows it.
//!
//! A file without an end block was not finished (the recorder crashed or is still writing):
//! readers return every record of the complete blocks and then report
//! [`CaptureError::Truncated`] at the first incomplete block. A block whose checksums,
//! lengths, index, compression or records do not check is reported as
//! [`CaptureError::Corrupt`] after every record of the blocks before it. A block is checked
//! whole before any of its records is returned.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;

use super::{CaptureError, Position, Record, RecordKind};

/// The file magic (the first 8 bytes).
pub const MAGIC: [u8; 8] = *b"\x89LFC\r\n\x1a\n";
/// The format version this module writes and reads.
pub const FORMAT_VERSION: u16 = 1;
/// Length of the file prefix.
const PREFIX_LEN: usize = 16;
/// The magic of every block.
const BLOCK_MAGIC: [u8; 4] = *b"LFCB";
/// Length of a block header.
const BLOCK_HEADER_LEN: usize = 32;
/// Length of a record header.
const RECORD_HEADER_LEN: usize = 20;
/// A records block is closed once its uncompressed body reaches this size.
pub const BLOCK_TARGET: usize = 64 << 10;
/// The largest uncompressed body a reader accepts (and so the largest record a writer takes).
pub const MAX_BLOCK: usize = 256 << 20;
/// zstd level of the records blocks (fast enough for a live recorder).
const ZSTD_LEVEL: i32 = 3;

const TYPE_HEADER: u8 = 1;
const TYPE_RECORDS: u8 = 2;
const TYPE_END: u8 = 3;
const CODEC_NONE: u8 = 0;
const CODEC_ZSTD: u8 = 1;

/// What the receive timestamps of a live recording are.
pub const CLOCK_LIVE: &str = "CLOCK_REALTIME anchored to CLOCK_MONOTONIC";

fn kind_code(kind: RecordKind) -> u8 {
    match kind {
        RecordKind::Recv => 1,
        RecordKind::Sent => 2,
        RecordKind::Connect => 3,
        RecordKind::Disconnect => 4,
        RecordKind::Http => 5,
    }
}

fn kind_from_code(code: u8) -> Option<RecordKind> {
    Some(match code {
        1 => RecordKind::Recv,
        2 => RecordKind::Sent,
        3 => RecordKind::Connect,
        4 => RecordKind::Disconnect,
        5 => RecordKind::Http,
        _ => return None,
    })
}

/// What a capture file says about itself (the header block).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// The format version of the file (the writer always writes [`FORMAT_VERSION`]).
    pub format_version: u16,
    /// The venue ([`crate::book::Venue::name`]), or empty when unknown.
    pub venue: String,
    /// The symbols recorded, when known.
    pub symbols: Vec<String>,
    /// The endpoints (WebSocket and REST URLs) recorded, when known.
    pub endpoints: Vec<String>,
    /// The software that wrote the file (`ladderfeed 0.1.0`).
    pub software: String,
    /// What the receive timestamps are: [`CLOCK_LIVE`] for a live recording,
    /// `converted from <format>` for a conversion.
    pub clock: String,
    /// When the file was created, epoch ns.
    pub created_ns: u64,
}

impl Header {
    /// A header for a recording of `venue` made now by this software, with a live clock.
    pub fn new(venue: &str) -> Header {
        let created_ns = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
        Header {
            format_version: FORMAT_VERSION,
            venue: venue.to_owned(),
            symbols: Vec::new(),
            endpoints: Vec::new(),
            software: concat!("ladderfeed ", env!("CARGO_PKG_VERSION")).to_owned(),
            clock: CLOCK_LIVE.to_owned(),
            created_ns,
        }
    }

    fn to_json(&self) -> Vec<u8> {
        let mut created = [0u8; 28];
        super::tardis::format_ts(self.created_ns, &mut created);
        let v = serde_json::json!({
            "format_version": FORMAT_VERSION,
            "venue": self.venue,
            "symbols": self.symbols,
            "endpoints": self.endpoints,
            "software": self.software,
            "clock": self.clock,
            "created_ns": self.created_ns,
            "created": String::from_utf8_lossy(&created),
        });
        v.to_string().into_bytes()
    }

    fn from_json(body: &[u8], version: u16) -> Result<Header, String> {
        let v: serde_json::Value =
            serde_json::from_slice(body).map_err(|e| format!("header is not JSON: {e}"))?;
        if !v.is_object() {
            return Err("header is not a JSON object".into());
        }
        let text = |key: &str| -> Result<String, String> {
            match v.get(key) {
                None | Some(serde_json::Value::Null) => Ok(String::new()),
                Some(serde_json::Value::String(s)) => Ok(s.clone()),
                Some(_) => Err(format!("header field {key:?} is not a string")),
            }
        };
        let list = |key: &str| -> Result<Vec<String>, String> {
            match v.get(key) {
                None | Some(serde_json::Value::Null) => Ok(Vec::new()),
                Some(serde_json::Value::Array(a)) => a
                    .iter()
                    .map(|s| s.as_str().map(str::to_owned))
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| format!("header field {key:?} holds a non-string")),
                Some(_) => Err(format!("header field {key:?} is not an array")),
            }
        };
        let created_ns = match v.get("created_ns") {
            None | Some(serde_json::Value::Null) => 0,
            Some(n) => n.as_u64().ok_or("header field \"created_ns\" is not a u64")?,
        };
        Ok(Header {
            format_version: version,
            venue: text("venue")?,
            symbols: list("symbols")?,
            endpoints: list("endpoints")?,
            software: text("software")?,
            clock: text("clock")?,
            created_ns,
        })
    }
}

fn put_u16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_le_bytes());
}
fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}
fn get_u16(b: &[u8], at: usize) -> u16 {
    let mut a = [0u8; 2];
    a.copy_from_slice(&b[at..at + 2]);
    u16::from_le_bytes(a)
}
fn get_u32(b: &[u8], at: usize) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(a)
}
fn get_u64(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}

/// A block header as written in the file.
#[derive(Debug, Clone, Copy)]
struct BlockHeader {
    kind: u8,
    codec: u8,
    index: u32,
    stored_len: u32,
    raw_len: u32,
    count: u32,
    body_crc: u32,
}

impl BlockHeader {
    fn encode(&self) -> [u8; BLOCK_HEADER_LEN] {
        let mut b = Vec::with_capacity(BLOCK_HEADER_LEN);
        b.extend_from_slice(&BLOCK_MAGIC);
        b.push(self.kind);
        b.push(self.codec);
        put_u16(&mut b, 0);
        for v in [self.index, self.stored_len, self.raw_len, self.count, self.body_crc] {
            put_u32(&mut b, v);
        }
        let crc = crc32fast::hash(&b);
        put_u32(&mut b, crc);
        let mut out = [0u8; BLOCK_HEADER_LEN];
        out.copy_from_slice(&b);
        out
    }

    fn decode(b: &[u8; BLOCK_HEADER_LEN]) -> Result<BlockHeader, String> {
        if b[..4] != BLOCK_MAGIC {
            return Err("no block magic".into());
        }
        if crc32fast::hash(&b[..28]) != get_u32(b, 28) {
            return Err("block header checksum mismatch".into());
        }
        if get_u16(b, 6) != 0 {
            return Err("reserved block header bytes are not zero".into());
        }
        let h = BlockHeader {
            kind: b[4],
            codec: b[5],
            index: get_u32(b, 8),
            stored_len: get_u32(b, 12),
            raw_len: get_u32(b, 16),
            count: get_u32(b, 20),
            body_crc: get_u32(b, 24),
        };
        if !matches!(h.kind, TYPE_HEADER | TYPE_RECORDS | TYPE_END) {
            return Err(format!("unknown block type {}", h.kind));
        }
        if !matches!(h.codec, CODEC_NONE | CODEC_ZSTD) {
            return Err(format!("unknown codec {}", h.codec));
        }
        if h.raw_len as usize > MAX_BLOCK || h.stored_len as usize > MAX_BLOCK + (1 << 20) {
            return Err(format!("impossible block lengths {} / {}", h.stored_len, h.raw_len));
        }
        if h.codec == CODEC_NONE && h.stored_len != h.raw_len {
            return Err("stored and raw lengths differ in an uncompressed block".into());
        }
        Ok(h)
    }
}

/// Writes an `.lfc` capture.
///
/// Records accumulate in memory until the block reaches [`BLOCK_TARGET`] bytes, then the
/// block is compressed and written. [`Writer::flush`] closes the current block early (a live
/// recorder calls it periodically to bound what a crash can lose); [`Writer::finish`] writes
/// the last block and the end block. A writer dropped without `finish` leaves a file that
/// reads as truncated after its last complete block.
pub struct Writer {
    file: File,
    path: String,
    raw: Vec<u8>,
    stored: Vec<u8>,
    count: u32,
    next_index: u32,
    total: u64,
    compressor: zstd::bulk::Compressor<'static>,
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer").field("path", &self.path).field("records", &self.total).finish()
    }
}

impl Writer {
    /// Creates (or truncates) `path` and writes the prefix and the header block.
    pub fn create(path: &Path, header: &Header) -> Result<Writer, CaptureError> {
        let name = path.display().to_string();
        let io = |e| CaptureError::Io { path: name.clone(), cause: e };
        let file = File::create(path).map_err(io)?;
        let compressor = zstd::bulk::Compressor::new(ZSTD_LEVEL).map_err(io)?;
        let mut w = Writer {
            file,
            path: name.clone(),
            raw: Vec::with_capacity(BLOCK_TARGET * 2),
            stored: Vec::new(),
            count: 0,
            next_index: 0,
            total: 0,
            compressor,
        };
        let mut prefix = Vec::with_capacity(PREFIX_LEN);
        prefix.extend_from_slice(&MAGIC);
        put_u16(&mut prefix, FORMAT_VERSION);
        put_u16(&mut prefix, 0);
        put_u32(&mut prefix, 0);
        w.file.write_all(&prefix).map_err(io)?;
        let body = header.to_json();
        w.write_block(TYPE_HEADER, CODEC_NONE, 0, &body)?;
        Ok(w)
    }

    fn io(&self, e: std::io::Error) -> CaptureError {
        CaptureError::Io { path: self.path.clone(), cause: e }
    }

    fn write_block(
        &mut self,
        kind: u8,
        codec: u8,
        count: u32,
        body: &[u8],
    ) -> Result<(), CaptureError> {
        let too_big = || std::io::Error::new(std::io::ErrorKind::InvalidInput, "block too large");
        let len = u32::try_from(body.len()).map_err(|_| self.io(too_big()))?;
        let h = BlockHeader {
            kind,
            codec,
            index: self.next_index,
            stored_len: len,
            raw_len: if codec == CODEC_NONE { len } else { 0 },
            count,
            body_crc: crc32fast::hash(body),
        };
        self.write_header_and_body(h, body)
    }

    fn write_header_and_body(&mut self, h: BlockHeader, body: &[u8]) -> Result<(), CaptureError> {
        let hb = h.encode();
        self.file.write_all(&hb).map_err(|e| self.io(e))?;
        self.file.write_all(body).map_err(|e| self.io(e))?;
        self.next_index = self.next_index.wrapping_add(1);
        Ok(())
    }

    /// Appends one record.
    pub fn write(&mut self, rec: &Record) -> Result<(), CaptureError> {
        self.write_parts(rec.local_ts, rec.conn, rec.kind, &rec.url, &rec.payload)
    }

    /// Appends one record given by its parts (nothing is allocated in steady state).
    pub fn write_parts(
        &mut self,
        local_ts: u64,
        conn: u32,
        kind: RecordKind,
        url: &str,
        payload: &[u8],
    ) -> Result<(), CaptureError> {
        let invalid = |why: &'static str| CaptureError::Io {
            path: self.path.clone(),
            cause: std::io::Error::new(std::io::ErrorKind::InvalidInput, why),
        };
        let Ok(url_len) = u16::try_from(url.len()) else {
            return Err(invalid("URL longer than 65535 bytes"));
        };
        let size = RECORD_HEADER_LEN + url.len() + payload.len();
        if size > MAX_BLOCK {
            return Err(invalid("record larger than 256 MiB"));
        }
        if !self.raw.is_empty() && self.raw.len() + size > BLOCK_TARGET {
            self.flush()?;
        }
        self.raw.extend_from_slice(&local_ts.to_le_bytes());
        self.raw.extend_from_slice(&conn.to_le_bytes());
        self.raw.push(kind_code(kind));
        self.raw.push(0);
        self.raw.extend_from_slice(&url_len.to_le_bytes());
        // `size <= MAX_BLOCK` so the payload length fits a u32.
        self.raw.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        self.raw.extend_from_slice(url.as_bytes());
        self.raw.extend_from_slice(payload);
        self.count += 1;
        self.total += 1;
        if self.raw.len() >= BLOCK_TARGET {
            self.flush()?;
        }
        Ok(())
    }

    /// Closes the current block (if it holds any record) and writes it to the file.
    pub fn flush(&mut self) -> Result<(), CaptureError> {
        if self.count == 0 {
            return Ok(());
        }
        self.stored.clear();
        self.stored.reserve(zstd::zstd_safe::compress_bound(self.raw.len()));
        self.compressor
            .compress_to_buffer(&self.raw[..], &mut self.stored)
            .map_err(|e| CaptureError::Io { path: self.path.clone(), cause: e })?;
        // Both lengths are bounded by MAX_BLOCK (plus zstd's small overhead).
        let h = BlockHeader {
            kind: TYPE_RECORDS,
            codec: CODEC_ZSTD,
            index: self.next_index,
            stored_len: self.stored.len() as u32,
            raw_len: self.raw.len() as u32,
            count: self.count,
            body_crc: crc32fast::hash(&self.stored),
        };
        let stored = std::mem::take(&mut self.stored);
        let r = self.write_header_and_body(h, &stored);
        self.stored = stored;
        self.raw.clear();
        self.count = 0;
        r?;
        self.file.flush().map_err(|e| self.io(e))
    }

    /// Records written so far.
    pub fn records(&self) -> u64 {
        self.total
    }

    /// Writes the last block and the end block and syncs the file to disk.
    pub fn finish(mut self) -> Result<(), CaptureError> {
        self.flush()?;
        let total = self.total.to_le_bytes();
        self.write_block(TYPE_END, CODEC_NONE, 0, &total)?;
        self.file.sync_all().map_err(|e| self.io(e))
    }
}

/// Reads the header of an `.lfc` file.
pub fn read_header(path: &Path) -> Result<Header, CaptureError> {
    Ok(Reader::open(path)?.header)
}

/// Reads an `.lfc` file one record at a time.
pub struct Reader {
    file: BufReader<File>,
    path: String,
    header: Header,
    /// File offset of the next block.
    offset: u64,
    /// Index of the next block.
    index: u64,
    /// Where the current block started (for errors).
    block: Position,
    stored: Vec<u8>,
    raw: Vec<u8>,
    /// Read position in `raw`.
    pos: usize,
    /// Records left in `raw`.
    left: u32,
    /// Records returned so far.
    total: u64,
    ended: bool,
    decompressor: zstd::bulk::Decompressor<'static>,
}

impl std::fmt::Debug for Reader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("lfc::Reader").field("path", &self.path).field("block", &self.block).finish()
    }
}

impl Reader {
    /// Opens `path` and reads its prefix and header block.
    pub fn open(path: &Path) -> Result<Reader, CaptureError> {
        let name = path.display().to_string();
        let io = |e| CaptureError::Io { path: name.clone(), cause: e };
        let file = File::open(path).map_err(io)?;
        let decompressor = zstd::bulk::Decompressor::new().map_err(io)?;
        let mut r = Reader {
            file: BufReader::with_capacity(super::READ_BUF, file),
            path: name.clone(),
            header: Header::new(""),
            offset: 0,
            index: 0,
            block: Position::Block { index: 0, offset: 0 },
            stored: Vec::new(),
            raw: Vec::new(),
            pos: 0,
            left: 0,
            total: 0,
            ended: false,
            decompressor,
        };
        let mut prefix = [0u8; PREFIX_LEN];
        let got = r.read_full(&mut prefix)?;
        if got < MAGIC.len() || prefix[..MAGIC.len()] != MAGIC {
            if got < MAGIC.len() && prefix[..got] == MAGIC[..got] && got > 0 {
                return Err(r.truncated());
            }
            return Err(CaptureError::Unknown(name));
        }
        if got < PREFIX_LEN {
            return Err(r.truncated());
        }
        let version = get_u16(&prefix, 8);
        if version != FORMAT_VERSION {
            return Err(
                r.corrupt(format!("format version {version}, this reader knows {FORMAT_VERSION}"))
            );
        }
        r.offset = PREFIX_LEN as u64;
        let h = r.read_block()?;
        if h.kind != TYPE_HEADER {
            return Err(r.corrupt("the first block is not a header block".into()));
        }
        r.header = Header::from_json(&r.raw, version).map_err(|why| r.corrupt(why))?;
        r.raw.clear();
        Ok(r)
    }

    /// The file's header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    fn truncated(&self) -> CaptureError {
        CaptureError::Truncated { path: self.path.clone(), position: self.block }
    }

    fn corrupt(&self, why: String) -> CaptureError {
        CaptureError::Corrupt { path: self.path.clone(), position: self.block, why }
    }

    /// Reads up to `buf.len()` bytes; fewer only at the end of the file.
    fn read_full(&mut self, buf: &mut [u8]) -> Result<usize, CaptureError> {
        let mut got = 0;
        while got < buf.len() {
            match self.file.read(&mut buf[got..]) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(CaptureError::Io { path: self.path.clone(), cause: e }),
            }
        }
        Ok(got)
    }

    /// Reads and checks the next block; its body ends up in `self.raw`.
    fn read_block(&mut self) -> Result<BlockHeader, CaptureError> {
        self.block = Position::Block { index: self.index, offset: self.offset };
        let mut hb = [0u8; BLOCK_HEADER_LEN];
        if self.read_full(&mut hb)? < BLOCK_HEADER_LEN {
            return Err(self.truncated());
        }
        let h = BlockHeader::decode(&hb).map_err(|why| self.corrupt(why))?;
        if u64::from(h.index) != self.index {
            return Err(
                self.corrupt(format!("block index {} where {} was due", h.index, self.index))
            );
        }
        let stored_len = h.stored_len as usize;
        self.stored.clear();
        self.stored.resize(stored_len, 0);
        let mut stored = std::mem::take(&mut self.stored);
        let got = self.read_full(&mut stored);
        self.stored = stored;
        if got? < stored_len {
            return Err(self.truncated());
        }
        if crc32fast::hash(&self.stored) != h.body_crc {
            return Err(self.corrupt("block checksum mismatch".into()));
        }
        let raw_len = h.raw_len as usize;
        if h.codec == CODEC_NONE {
            std::mem::swap(&mut self.raw, &mut self.stored);
        } else {
            self.raw.clear();
            self.raw.reserve(raw_len);
            let n = self
                .decompressor
                .decompress_to_buffer(&self.stored[..], &mut self.raw)
                .map_err(|e| self.corrupt(format!("zstd: {e}")))?;
            if n != raw_len {
                return Err(self.corrupt(format!(
                    "block decompresses to {n} bytes, its header says {raw_len}"
                )));
            }
        }
        self.offset += (BLOCK_HEADER_LEN + stored_len) as u64;
        self.index += 1;
        Ok(h)
    }

    /// Checks that `self.raw` holds exactly `count` well-formed records.
    fn check_records(&self, count: u32) -> Result<(), String> {
        let raw = &self.raw[..];
        let mut pos = 0usize;
        for i in 0..count {
            let Some(h) = raw.get(pos..pos + RECORD_HEADER_LEN) else {
                return Err(format!("record {i} of {count} overruns the block"));
            };
            if kind_from_code(h[12]).is_none() || h[13] != 0 {
                return Err(format!("record {i}: bad kind byte {} / reserved {}", h[12], h[13]));
            }
            let url_len = usize::from(get_u16(h, 14));
            let payload_len = get_u32(h, 16) as usize;
            let url_at = pos + RECORD_HEADER_LEN;
            let end = url_at + url_len + payload_len;
            if end > raw.len() {
                return Err(format!("record {i} of {count} overruns the block"));
            }
            if std::str::from_utf8(&raw[url_at..url_at + url_len]).is_err() {
                return Err(format!("record {i}: URL is not UTF-8"));
            }
            pos = end;
        }
        if pos != raw.len() {
            return Err(format!("{} bytes after the last record", raw.len() - pos));
        }
        Ok(())
    }

    /// Loads the next records block; `false` after the end block.
    fn next_block(&mut self) -> Result<bool, CaptureError> {
        loop {
            let h = self.read_block()?;
            match h.kind {
                TYPE_RECORDS => {
                    self.check_records(h.count).map_err(|why| self.corrupt(why))?;
                    self.pos = 0;
                    self.left = h.count;
                    if h.count > 0 {
                        return Ok(true);
                    }
                }
                TYPE_END => {
                    if self.raw.len() != 8 {
                        return Err(self.corrupt("end block body is not 8 bytes".into()));
                    }
                    let total = get_u64(&self.raw, 0);
                    if total != self.total {
                        return Err(self.corrupt(format!(
                            "end block counts {total} records, the blocks held {}",
                            self.total
                        )));
                    }
                    let after = self
                        .file
                        .fill_buf()
                        .map_err(|e| CaptureError::Io { path: self.path.clone(), cause: e })?;
                    if !after.is_empty() {
                        self.block = Position::Block { index: self.index, offset: self.offset };
                        return Err(self.corrupt("data after the end block".into()));
                    }
                    return Ok(false);
                }
                _ => return Err(self.corrupt("a second header block".into())),
            }
        }
    }

    /// Reads the next record into `rec`, reusing its buffers; `Ok(false)` after the last.
    #[inline]
    pub fn next_into(&mut self, rec: &mut Record) -> Result<bool, CaptureError> {
        if self.left == 0 {
            if self.ended {
                return Ok(false);
            }
            match self.next_block() {
                Ok(true) => {}
                Ok(false) => {
                    self.ended = true;
                    return Ok(false);
                }
                Err(e) => {
                    self.ended = true;
                    return Err(e);
                }
            }
        }
        // `check_records` vouched for every length and byte read here.
        let raw = &self.raw[..];
        let p = self.pos;
        rec.local_ts = get_u64(raw, p);
        rec.conn = get_u32(raw, p + 8);
        rec.kind = kind_from_code(raw[p + 12]).unwrap_or_default();
        let url_len = usize::from(get_u16(raw, p + 14));
        let payload_len = get_u32(raw, p + 16) as usize;
        let url_at = p + RECORD_HEADER_LEN;
        let payload_at = url_at + url_len;
        rec.url.clear();
        if url_len > 0 {
            rec.url.push_str(std::str::from_utf8(&raw[url_at..payload_at]).unwrap_or_default());
        }
        rec.payload.clear();
        rec.payload.extend_from_slice(&raw[payload_at..payload_at + payload_len]);
        self.pos = payload_at + payload_len;
        self.left -= 1;
        self.total += 1;
        Ok(true)
    }
}

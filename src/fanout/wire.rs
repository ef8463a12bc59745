//! The wire schema, version 1: how the event stream travels between processes and hosts.
//!
//! One transport message (an iceoryx2 sample, a Zenoh put or query reply) is one **sample**:
//! a 32-byte header, then `count` records of 64 bytes. Everything is little-endian, with no
//! padding and no pointers, so a reader in any language can follow it with fixed offsets
//! (`schema/ladderfeed_wire_v1.h` is the same layout as a C header, and
//! `examples/subscriber.py` reads it in Python).
//!
//! **Header** (bytes):
//!
//! | offset | type | field |
//! |---|---|---|
//! | 0 | `[u8; 4]` | magic `LFW1` |
//! | 4 | `u16` | version (`1`) |
//! | 6 | `u16` | header length (`32`): records start here |
//! | 8 | `u16` | record length (`64`) |
//! | 10 | `u16` | flags: [`FLAG_SNAPSHOT`], [`FLAG_END`] |
//! | 12 | `u32` | `count`: records in this sample |
//! | 16 | `u64` | stream id: a random number per publisher run (a new one means a restart) |
//! | 24 | `u64` | `first_seq`: the stream sequence number of the first record |
//!
//! **Stream sequence numbers** number every record a publisher sends, from 0, without gaps:
//! record `i` of a sample is `first_seq + i`. A subscriber that sees a sample start beyond
//! the number it expected lost the records in between (a slow subscriber loses samples, the
//! publisher never waits). A sample with `count == 0` is a heartbeat (sent after a second
//! without records): its `first_seq` is the number the next record will have.
//!
//! A **snapshot** (flag [`FLAG_SNAPSHOT`]) is the last-value cache a late subscriber asks for:
//! every instrument definition, then each book's last BBO and book state and its top N, as
//! records of the same layout. Its records are not numbered: its `first_seq` is the sequence
//! number of the first stream record *not* reflected in it, so the subscriber applies the
//! snapshot and then stream records from `first_seq` on. [`FLAG_END`] marks the publisher's
//! last sample (it closed the stream).
//!
//! **Record** (bytes): the in-process [`Event`] layout, as documented in [`crate::event`]:
//!
//! | offset | type | field |
//! |---|---|---|
//! | 0 | `u64` | `exch_ts`: the venue's timestamp, epoch ns (`0`: none) |
//! | 8 | `u64` | `local_ts`: the receive time, epoch ns (a replay: the capture's recorded time) |
//! | 16 | `u32` | low 32 bits of the record's stream sequence number (`0` in a snapshot) |
//! | 20 | `u32` | parse time, ns after `local_ts` |
//! | 24 | `u32` | publish time on the feed's ring, ns after `local_ts` |
//! | 28 | `u16` | instrument id (index into the instrument table the definitions build) |
//! | 30 | `u8` | kind: 1 BBO, 2 trade, 3 book state, 4 instrument head, 5 instrument text, 6 depth level, 7 depth end, 8 depth clear, 9 funding, 10 mark/index, 11 open interest, 12 liquidation |
//! | 31 | `u8` | book state: 1 synced, 2 resyncing, 3 stale (only 1 may be acted on) |
//! | 32 | `[u64; 4]` | payload, by kind (see [`crate::event`] and the C header) |
//!
//! Prices are integer ticks and sizes integer lots; the instrument definition records
//! (kind 4, then kind 5 for the rest of a long symbol) give each instrument's venue, symbol,
//! tick and lot as exact decimals (`mantissa × 10^-scale`).

use bytemuck::Zeroable;

use crate::event::Event;

#[cfg(target_endian = "big")]
compile_error!("the wire schema is little-endian and ladderfeed encodes records as they lie in memory: big-endian hosts are not supported");

/// The magic bytes every sample starts with.
pub const MAGIC: [u8; 4] = *b"LFW1";
/// The schema version this build writes and reads.
pub const VERSION: u16 = 1;
/// Bytes in a sample header.
pub const HEADER_BYTES: usize = 32;
/// Bytes in a record.
pub const RECORD_BYTES: usize = 64;
/// Flag: the sample is (part of) a snapshot, not stream records.
pub const FLAG_SNAPSHOT: u16 = 1;
/// Flag: the publisher's last sample (the stream ended).
pub const FLAG_END: u16 = 2;
/// Records a stream sample carries at most (a sample is at most 4 KiB + its header).
pub const MAX_STREAM_RECORDS: usize = 64;

const _: () = assert!(core::mem::size_of::<Event>() == RECORD_BYTES);

/// A decoded sample header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// [`FLAG_SNAPSHOT`], [`FLAG_END`].
    pub flags: u16,
    /// Records in the sample.
    pub count: u32,
    /// The publisher run's random id.
    pub stream_id: u64,
    /// The sequence number of the first record (a snapshot: of the first record after it).
    pub first_seq: u64,
}

impl Header {
    /// `true` for a snapshot sample.
    pub fn is_snapshot(&self) -> bool {
        self.flags & FLAG_SNAPSHOT != 0
    }

    /// `true` for the publisher's last sample.
    pub fn is_end(&self) -> bool {
        self.flags & FLAG_END != 0
    }

    /// Writes the header into the first [`HEADER_BYTES`] of `out`.
    pub fn write(&self, out: &mut [u8; HEADER_BYTES]) {
        out[0..4].copy_from_slice(&MAGIC);
        out[4..6].copy_from_slice(&VERSION.to_le_bytes());
        out[6..8].copy_from_slice(&(HEADER_BYTES as u16).to_le_bytes());
        out[8..10].copy_from_slice(&(RECORD_BYTES as u16).to_le_bytes());
        out[10..12].copy_from_slice(&self.flags.to_le_bytes());
        out[12..16].copy_from_slice(&self.count.to_le_bytes());
        out[16..24].copy_from_slice(&self.stream_id.to_le_bytes());
        out[24..32].copy_from_slice(&self.first_seq.to_le_bytes());
    }
}

/// Why a sample was refused. Counted by the subscriber; never a panic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// Shorter than a header.
    #[error("sample of {0} bytes is shorter than the 32-byte header")]
    Short(usize),
    /// Not `LFW1`.
    #[error("sample does not start with the magic LFW1")]
    Magic,
    /// A version this build does not read.
    #[error("wire schema version {0} (this build reads version 1)")]
    Version(u16),
    /// Header or record length other than version 1's.
    #[error("header length {0} or record length {1} differs from version 1 (32, 64)")]
    Layout(u16, u16),
    /// The length is not the header plus `count` records.
    #[error("sample of {len} bytes cannot hold the {count} records its header announces")]
    Length {
        /// The sample's length.
        len: usize,
        /// The header's count.
        count: u32,
    },
}

/// Reads a sample: its header and its records (copied out: the transport's buffer need not be
/// aligned).
pub fn decode(sample: &[u8]) -> Result<(Header, Records<'_>), WireError> {
    if sample.len() < HEADER_BYTES {
        return Err(WireError::Short(sample.len()));
    }
    let u16_at = |o: usize| u16::from_le_bytes([sample[o], sample[o + 1]]);
    let u32_at = |o: usize| u32::from_le_bytes(sample[o..o + 4].try_into().unwrap_or([0; 4]));
    let u64_at = |o: usize| u64::from_le_bytes(sample[o..o + 8].try_into().unwrap_or([0; 8]));
    if sample[0..4] != MAGIC {
        return Err(WireError::Magic);
    }
    let version = u16_at(4);
    if version != VERSION {
        return Err(WireError::Version(version));
    }
    let (header_len, record_len) = (u16_at(6), u16_at(8));
    if usize::from(header_len) != HEADER_BYTES || usize::from(record_len) != RECORD_BYTES {
        return Err(WireError::Layout(header_len, record_len));
    }
    let header = Header {
        flags: u16_at(10),
        count: u32_at(12),
        stream_id: u64_at(16),
        first_seq: u64_at(24),
    };
    let body = &sample[HEADER_BYTES..];
    if body.len() as u64 != u64::from(header.count) * RECORD_BYTES as u64 {
        return Err(WireError::Length { len: sample.len(), count: header.count });
    }
    Ok((header, Records { body }))
}

/// The records of a decoded sample, in order.
#[derive(Debug, Clone)]
pub struct Records<'a> {
    body: &'a [u8],
}

impl Iterator for Records<'_> {
    type Item = Event;

    fn next(&mut self) -> Option<Event> {
        if self.body.len() < RECORD_BYTES {
            return None;
        }
        let (record, rest) = self.body.split_at(RECORD_BYTES);
        self.body = rest;
        let mut ev = Event::zeroed();
        bytemuck::bytes_of_mut(&mut ev).copy_from_slice(record);
        Some(ev)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.body.len() / RECORD_BYTES;
        (n, Some(n))
    }
}

impl ExactSizeIterator for Records<'_> {}

/// A sample being built: a header and up to `capacity` records in one reused buffer.
#[derive(Debug, Clone)]
pub struct SampleBuf {
    buf: Vec<u8>,
    count: u32,
}

impl SampleBuf {
    /// A buffer for up to `records` records (allocates once).
    pub fn with_capacity(records: usize) -> Self {
        let mut buf = Vec::with_capacity(HEADER_BYTES + records * RECORD_BYTES);
        buf.resize(HEADER_BYTES, 0);
        SampleBuf { buf, count: 0 }
    }

    /// Records held.
    pub fn len(&self) -> usize {
        self.count as usize
    }

    /// `true` when no record is held.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Appends a record as it is, except `local_ts` (the row time: a replay's recorded time)
    /// and the sequence field (the low bits of the stream sequence number `seq`).
    pub fn push(&mut self, ev: &Event, local_ts: u64, seq: u32) {
        let at = self.buf.len();
        self.buf.extend_from_slice(bytemuck::bytes_of(ev));
        self.buf[at + 8..at + 16].copy_from_slice(&local_ts.to_le_bytes());
        self.buf[at + 16..at + 20].copy_from_slice(&seq.to_le_bytes());
        self.count += 1;
    }

    /// Writes the header and returns the whole sample.
    pub fn finish(&mut self, flags: u16, stream_id: u64, first_seq: u64) -> &[u8] {
        let header = Header { flags, count: self.count, stream_id, first_seq };
        let mut bytes = [0u8; HEADER_BYTES];
        header.write(&mut bytes);
        self.buf[..HEADER_BYTES].copy_from_slice(&bytes);
        &self.buf
    }

    /// Empties the buffer for the next sample (keeps its memory).
    pub fn clear(&mut self) {
        self.buf.truncate(HEADER_BYTES);
        self.count = 0;
    }
}

//! Writing tardis.dev raw files: `<timestamp> <message>` lines.
//!
//! The timestamp is 28 characters, `2024-08-08T23:54:13.9370857Z`: UTC, seven fractional
//! digits, so tardis raw keeps receive times to **100 ns**; finer digits are dropped (rounded
//! down) when writing. A disconnect is an empty line. Only received frames and disconnects
//! have a place in the format: sent frames, connects, HTTP responses, empty frames (which
//! would read back as disconnects) and frames holding a line break are counted and skipped.
//! A file name ending in `.gz` is gzip-compressed.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use super::{CaptureError, Record, RecordKind};

/// The length of a tardis raw timestamp.
pub const TS_LEN: usize = 28;

/// Converts days since 1970-01-01 to a proleptic Gregorian (year, month, day).
fn civil_from_days(days: u64) -> (u64, u32, u32) {
    // Shift the epoch to 0000-03-01 so leap days fall at the end of a 400-year era.
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

/// Writes epoch ns as a tardis timestamp (`YYYY-MM-DDTHH:MM:SS.fffffffZ`, 100 ns resolution,
/// rounded down) into `out`.
pub fn format_ts(ns: u64, out: &mut [u8; TS_LEN]) {
    let secs = ns / 1_000_000_000;
    let frac = (ns % 1_000_000_000) / 100;
    let (year, month, day) = civil_from_days(secs / 86_400);
    let sod = secs % 86_400;
    let mut put = |at: usize, width: usize, mut v: u64| {
        for i in (0..width).rev() {
            out[at + i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    // u64 ns end in the year 2554: four digits always suffice.
    put(0, 4, year);
    put(5, 2, u64::from(month));
    put(8, 2, u64::from(day));
    put(11, 2, sod / 3600);
    put(14, 2, sod / 60 % 60);
    put(17, 2, sod % 60);
    put(20, 7, frac);
    out[4] = b'-';
    out[7] = b'-';
    out[10] = b'T';
    out[13] = b':';
    out[16] = b':';
    out[19] = b'.';
    out[27] = b'Z';
}

/// Records a tardis raw file cannot hold, by kind ([`RecordKind::index`]).
pub type Skipped = [u64; 5];

/// The output stream: plain or gzip.
enum Out {
    Plain(BufWriter<File>),
    Gzip(Box<flate2::write::GzEncoder<BufWriter<File>>>),
}

impl Out {
    #[inline]
    fn write_all(&mut self, b: &[u8]) -> std::io::Result<()> {
        match self {
            Out::Plain(w) => w.write_all(b),
            Out::Gzip(w) => w.write_all(b),
        }
    }
}

/// Writes records as a tardis raw file.
pub struct Writer {
    out: Out,
    path: String,
    skipped: Skipped,
    written: u64,
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("tardis::Writer").field("path", &self.path).finish()
    }
}

impl Writer {
    /// Creates `path` (gzip when the name ends in `.gz`).
    pub fn create(path: &Path) -> Result<Writer, CaptureError> {
        let name = path.display().to_string();
        let file =
            File::create(path).map_err(|e| CaptureError::Io { path: name.clone(), cause: e })?;
        let gz = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("gz"));
        let buffered = BufWriter::with_capacity(1 << 18, file);
        let out = if gz {
            Out::Gzip(Box::new(flate2::write::GzEncoder::new(
                buffered,
                flate2::Compression::default(),
            )))
        } else {
            Out::Plain(buffered)
        };
        Ok(Writer { out, path: name, skipped: [0; 5], written: 0 })
    }

    fn io(&self, e: std::io::Error) -> CaptureError {
        CaptureError::Io { path: self.path.clone(), cause: e }
    }

    /// Writes one record; returns `false` (and counts it) when tardis raw cannot hold it.
    pub fn write(&mut self, rec: &Record) -> Result<bool, CaptureError> {
        match rec.kind {
            RecordKind::Recv if !rec.payload.is_empty() && !rec.payload.contains(&b'\n') => {
                let mut ts = [0u8; TS_LEN];
                format_ts(rec.local_ts, &mut ts);
                let r = self
                    .out
                    .write_all(&ts)
                    .and_then(|()| self.out.write_all(b" "))
                    .and_then(|()| self.out.write_all(&rec.payload))
                    .and_then(|()| self.out.write_all(b"\n"));
                r.map_err(|e| self.io(e))?;
            }
            RecordKind::Disconnect => self.out.write_all(b"\n").map_err(|e| self.io(e))?,
            kind => {
                self.skipped[kind.index()] += 1;
                return Ok(false);
            }
        }
        self.written += 1;
        Ok(true)
    }

    /// Records written so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Records skipped so far, by kind.
    pub fn skipped(&self) -> Skipped {
        self.skipped
    }

    /// Finishes the stream (the gzip trailer), flushes and syncs the file; returns the
    /// records skipped, by kind. Every write error surfaces here (dropping a writer instead
    /// would swallow them).
    pub fn finish(self) -> Result<Skipped, CaptureError> {
        let path = self.path;
        let io = |e| CaptureError::Io { path: path.clone(), cause: e };
        let buffered = match self.out {
            Out::Plain(w) => w,
            Out::Gzip(g) => g.finish().map_err(io)?,
        };
        let file = buffered.into_inner().map_err(|e| io(e.into_error()))?;
        file.sync_all().map_err(io)?;
        Ok(self.skipped)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::venue::time::rfc3339_ns;

    #[test]
    fn formats_like_tardis_and_reads_back_to_100ns() {
        let mut b = [0u8; TS_LEN];
        format_ts(0, &mut b);
        assert_eq!(&b, b"1970-01-01T00:00:00.0000000Z");
        let ns = 1_723_161_253_937_085_768;
        format_ts(ns, &mut b);
        assert_eq!(&b, b"2024-08-08T23:54:13.9370857Z");
        assert_eq!(rfc3339_ns(&b), Some(ns / 100 * 100));
        // Leap day, end of a century, far future.
        for ns in [951_782_400_123_456_789u64, 4_102_444_799_999_999_999, u64::MAX] {
            format_ts(ns, &mut b);
            assert_eq!(rfc3339_ns(&b), Some(ns / 100 * 100), "{}", String::from_utf8_lossy(&b));
        }
        format_ts(951_782_400_000_000_000, &mut b);
        assert_eq!(&b[..10], b"2000-02-29");
    }
}

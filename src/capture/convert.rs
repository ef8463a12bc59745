//! Conversions: any readable capture into `.lfc`, and `.lfc` (or anything readable) into
//! tardis raw.
//!
//! A conversion streams: one record at a time from the reader to the writer. When the input
//! is damaged, everything before the damage is written, the output is finished properly (an
//! `.lfc` gets its end block, a gzip its trailer), and the read error is handed back in
//! [`Converted::error`] so the caller can report it and fail.

use std::path::Path;

use super::lfc;
use super::tardis;
use super::{CaptureError, Reader, Record, RecordKind};

/// What a conversion writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// Ours ([`lfc`]): every record kept.
    Lfc,
    /// tardis raw ([`tardis`]): received frames and disconnects only, 100 ns timestamps.
    TardisRaw,
}

impl Target {
    /// The target a file name asks for: `.lfc` is ours, anything else tardis raw (gzip when
    /// the name ends in `.gz`).
    pub fn from_path(path: &Path) -> Target {
        if path.extension().is_some_and(|e| e.eq_ignore_ascii_case("lfc")) {
            Target::Lfc
        } else {
            Target::TardisRaw
        }
    }
}

/// The outcome of a conversion.
#[derive(Debug, Default)]
pub struct Converted {
    /// Records read from the input.
    pub read: u64,
    /// Records written to the output.
    pub written: u64,
    /// Records the target format cannot hold, by kind ([`RecordKind::index`]).
    pub skipped: [u64; 5],
    /// The read error that ended the input early, if any (everything before it was written).
    pub error: Option<CaptureError>,
}

impl Converted {
    /// Total records skipped.
    pub fn skipped_total(&self) -> u64 {
        self.skipped.iter().sum()
    }

    /// A one-line description of the skipped records (`"3 sent, 1 http"`), empty when none.
    pub fn skipped_text(&self) -> String {
        RecordKind::ALL
            .iter()
            .filter(|k| self.skipped[k.index()] > 0)
            .map(|k| format!("{} {}", self.skipped[k.index()], k.name()))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Feeds every record of `reader` to `write` (which says whether it wrote it), counting;
/// a read error ends the input and lands in [`Converted::error`].
fn pump(
    reader: &mut Reader,
    mut write: impl FnMut(&Record) -> Result<bool, CaptureError>,
) -> Result<Converted, CaptureError> {
    let mut done = Converted::default();
    let mut rec = Record::default();
    loop {
        match reader.next_into(&mut rec) {
            Ok(true) => {
                done.read += 1;
                if write(&rec)? {
                    done.written += 1;
                }
            }
            Ok(false) => break,
            Err(e) => {
                done.error = Some(e);
                break;
            }
        }
    }
    Ok(done)
}

/// Streams every record of `reader` into a new `.lfc` file at `out` with `header`.
///
/// `Err` only for a failure to write; a read error ends the input and lands in
/// [`Converted::error`].
pub fn to_lfc(
    reader: &mut Reader,
    out: &Path,
    header: &lfc::Header,
) -> Result<Converted, CaptureError> {
    let mut w = lfc::Writer::create(out, header)?;
    let done = pump(reader, |rec| w.write(rec).map(|()| true))?;
    w.finish()?;
    Ok(done)
}

/// Streams the records of `reader` that tardis raw can hold into `out` (gzip when its name
/// ends in `.gz`), counting the others.
///
/// `Err` only for a failure to write; a read error ends the input and lands in
/// [`Converted::error`].
pub fn to_tardis(reader: &mut Reader, out: &Path) -> Result<Converted, CaptureError> {
    let mut w = tardis::Writer::create(out)?;
    let mut done = pump(reader, |rec| w.write(rec))?;
    done.skipped = w.finish()?;
    Ok(done)
}

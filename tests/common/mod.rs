//! Helpers shared by the venue and engine integration tests: read real captures, feed them
//! through an [`Engine`], collect what it published.
#![allow(dead_code)]

pub mod gen;

use std::path::PathBuf;

use ladderfeed::capture::{self, Record, RecordKind};
use ladderfeed::engine::Engine;
use ladderfeed::event::{Bbo, Event, EventKind};
use ladderfeed::venue::{Adapter, Parsed, SymbolIdx, VenueError};

/// A fixture's path from its name under `fixtures/`.
pub fn fixture(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures").join(rel)
}

/// Every record of the given fixture files, merged by receive time (cryptofeed raw `*.ws.*`
/// files bring their `*.http.*` companions with them).
pub fn records(files: &[&str]) -> Vec<Record> {
    let mut paths = Vec::new();
    for f in files {
        let p = fixture(f);
        paths.extend(capture::companions(&p));
        paths.push(p);
    }
    paths.sort();
    paths.dedup();
    capture::open_merged(&paths)
        .expect("open capture")
        .collect::<Result<Vec<_>, _>>()
        .expect("read capture")
}

/// What a replay did.
#[derive(Debug, Default)]
pub struct Run {
    /// Everything the engine published, in order.
    pub events: Vec<Event>,
    /// Errors returned, with the record index.
    pub errors: Vec<(usize, VenueError)>,
    /// Received frames fed.
    pub frames: usize,
}

impl Run {
    /// BBO events of one instrument id.
    pub fn bbos(&self, id: u16) -> impl Iterator<Item = (&Event, Bbo)> {
        self.events.iter().filter(move |e| e.instrument() == id).filter_map(|e| match e.kind() {
            EventKind::Bbo(b) => Some((e, b)),
            _ => None,
        })
    }

    /// No BBO event published as valid was ever crossed or locked.
    pub fn assert_never_crossed_valid(&self) {
        for e in &self.events {
            if let EventKind::Bbo(b) = e.kind() {
                assert!(
                    !(e.state().is_valid() && b.is_crossed()),
                    "crossed BBO marked valid: {b:?}"
                );
            }
        }
    }
}

/// Feeds `records` to `engine` the way replay does: received frames to `handle_frame`, REST
/// bodies to `handle_http`, a new connection resets the books. Sent frames are skipped.
pub fn feed<A: Adapter>(engine: &mut Engine<A>, records: &[Record]) -> Run {
    let mut run = Run::default();
    let mut connected = false;
    for (i, r) in records.iter().enumerate() {
        let res = match r.kind {
            RecordKind::Recv => {
                run.frames += 1;
                engine.handle_frame(&r.payload, r.local_ts, &mut run.events)
            }
            RecordKind::Http => engine.handle_http(&r.url, &r.payload, r.local_ts, &mut run.events),
            RecordKind::Connect => {
                if connected {
                    engine.disconnected(r.local_ts, &mut run.events);
                }
                connected = true;
                Ok(())
            }
            RecordKind::Disconnect => {
                engine.disconnected(r.local_ts, &mut run.events);
                Ok(())
            }
            RecordKind::Sent => Ok(()),
        };
        if let Err(e) = res {
            run.errors.push((i, e));
        }
    }
    run
}

/// The index of `key` in the engine's symbols.
pub fn symbol<A: Adapter>(engine: &Engine<A>, key: &str) -> SymbolIdx {
    engine.symbols().find(key.as_bytes()).unwrap_or_else(|| panic!("symbol {key} not seen"))
}

/// Feeds one frame to a scanning adapter and a simd-json one; panics if their results,
/// parsed output or symbols (instrument, printed decimals, the venue's own BBO) differ.
/// Whether the scanner read it (no fallback), and the result.
pub fn same_frame<A: Adapter>(
    scan: &mut A,
    tape: &mut A,
    frame: &[u8],
    what: &str,
) -> (bool, Result<(), VenueError>) {
    let (mut a, mut b) = (Parsed::default(), Parsed::default());
    let ra = scan.handle_frame(frame, 0, &mut a);
    let rb = tape.handle_frame(frame, 0, &mut b);
    assert!(!b.scan_fallback, "the simd-json path never counts a fallback");
    let scanned = !a.scan_fallback;
    a.scan_fallback = false;
    assert_eq!(ra, rb, "{what}: {}", String::from_utf8_lossy(frame));
    assert_eq!(a, b, "{what}: {}", String::from_utf8_lossy(frame));
    let (sa, sb) = (scan.symbols().list(), tape.symbols().list());
    assert_eq!(sa, sb, "{what}: symbols after {}", String::from_utf8_lossy(frame));
    (scanned, ra)
}

//! The venue scanners (`venue::scan`) against simd-json's tape, one module per venue, in one
//! test binary: every frame of the venue's bundled captures on every dispatch path this CPU has,
//! generated frames with free key order, whitespace and number forms, and the frames each
//! scanner must leave to simd-json.

#[path = "../common/mod.rs"]
mod common;

mod advanced;
mod binance;
mod bitfinex;
mod bitmex;
mod bybit;
mod coinbase;
mod gemini;
mod hyperliquid;
mod kraken;
mod krakenfutures;
mod okx;

use common::gen::Gen;
use common::{same_frame, Run};
use ladderfeed::capture::{Record, RecordKind};
use ladderfeed::engine::Engine;
use ladderfeed::venue::scan::{Kernel, KernelKind};
use ladderfeed::venue::{Adapter, Parsed, Parser, ScanControls};
use proptest::prelude::*;

/// A scanning adapter on `kind` (if this CPU has it) and a simd-json one, both from `make`.
fn pair<A: Adapter + ScanControls>(make: impl Fn() -> A, kind: KernelKind) -> Option<(A, A)> {
    let kernel = Kernel::forced(kind)?;
    let mut scan = make();
    scan.set_parser(Parser::Scan);
    scan.set_scan_kernel(kernel);
    let mut tape = make();
    tape.set_parser(Parser::SimdJson);
    Some((scan, tape))
}

/// The generated-frames property: after the frames of `setup` (each read by both parsers
/// alike and accepted, scanned or not), every frame gives identical output either way, and a frame entirely in the
/// scanner's subset is never left to simd-json.
fn generated_frames_agree<A: Adapter>(
    (mut scan, mut tape): (A, A),
    setup: &[&[u8]],
    frames: &[Gen],
    kind: KernelKind,
) -> Result<(), TestCaseError> {
    for frame in setup {
        let (_, r) = same_frame(&mut scan, &mut tape, frame, "setup");
        prop_assert!(r.is_ok());
    }
    for f in frames {
        let (scanned, _) = same_frame(&mut scan, &mut tape, f.text.as_bytes(), kind.name());
        if f.plain {
            prop_assert!(scanned, "a frame in the subset fell back: {}", f.text);
        }
    }
    Ok(())
}

/// `recs` through an engine that scans and one that reads with simd-json: the same events
/// and errors, and no fallback counted on the simd-json side. Returns the scanning engine and
/// its run.
fn engines_agree<A: Adapter + ScanControls>(
    make: impl Fn() -> A,
    recs: &[Record],
) -> (Engine<A>, Run) {
    let mut scan = Engine::new(make()).with_clock(|| 0);
    let mut tape = Engine::new({
        let mut a = make();
        a.set_parser(Parser::SimdJson);
        a
    })
    .with_clock(|| 0);
    let (a, b) = (common::feed(&mut scan, recs), common::feed(&mut tape, recs));
    assert_eq!(a.events, b.events);
    assert_eq!(a.errors, b.errors);
    assert_eq!(tape.stats().scanner_fallbacks, 0);
    (scan, a)
}

/// What one capture gave on one dispatch path.
struct Tally {
    /// Frames received.
    frames: usize,
    /// Frames the scanner read.
    scanned: usize,
    /// Frames the caller's `hot` picked (each of them scanned).
    hot: usize,
    /// Frames both parsers refused (with the same error).
    errors: usize,
}

/// Every record of the capture `file` through a scanning adapter on `kind` and a simd-json
/// one, connections reset and HTTP snapshots answered alike: every frame gives the same
/// result and the same parsed output either way, and every frame `hot` picks is scanned.
/// `None` when this CPU lacks `kind`.
fn capture_agrees<A: Adapter + ScanControls>(
    make: impl Fn() -> A,
    file: &str,
    kind: KernelKind,
    hot: impl Fn(&str) -> bool,
) -> Option<Tally> {
    let Some((mut scan, mut tape)) = pair(make, kind) else {
        eprintln!("{file}: {} not on this CPU, skipped", kind.name());
        return None;
    };
    let mut t = Tally { frames: 0, scanned: 0, hot: 0, errors: 0 };
    for r in &common::records(&[file]) {
        match r.kind {
            RecordKind::Recv => {
                t.frames += 1;
                let what = format!("{file} {} frame {}", kind.name(), t.frames);
                let (read, res) = same_frame(&mut scan, &mut tape, &r.payload, &what);
                t.scanned += usize::from(read);
                t.errors += usize::from(res.is_err());
                if hot(&String::from_utf8_lossy(&r.payload)) {
                    t.hot += 1;
                    assert!(read, "{what}: a frame the scanner is for fell back");
                }
            }
            RecordKind::Http => {
                let (mut a, mut b) = (Parsed::default(), Parsed::default());
                let ra = scan.handle_http(&r.url, &r.payload, 0, &mut a);
                let rb = tape.handle_http(&r.url, &r.payload, 0, &mut b);
                a.scan_fallback = false;
                assert_eq!((ra, &a), (rb, &b), "{file}: snapshot {}", r.url);
            }
            RecordKind::Connect => {
                scan.reset_connection();
                tape.reset_connection();
            }
            _ => {}
        }
    }
    eprintln!(
        "{file} {}: {} frames, {} scanned ({} picked), {} fell back, {} refused by both",
        kind.name(),
        t.frames,
        t.scanned,
        t.hot,
        t.frames - t.scanned,
        t.errors
    );
    Some(t)
}

/// After `setup` (accepted by both parsers, and scanned or not as `setup_scanned` says), every
/// frame of `fallbacks` is left to simd-json and gives the same result either way. Returns the
/// pair for any further checks.
fn fallbacks_agree<A: Adapter>(
    (mut scan, mut tape): (A, A),
    setup: &[u8],
    setup_scanned: bool,
    fallbacks: &[&[u8]],
    kind: KernelKind,
) -> (A, A) {
    let (read, r) = same_frame(&mut scan, &mut tape, setup, "setup");
    assert!(read == setup_scanned && r.is_ok());
    for f in fallbacks {
        let (read, _) = same_frame(&mut scan, &mut tape, f, kind.name());
        assert!(!read, "{}: scanned {}", kind.name(), String::from_utf8_lossy(f));
    }
    (scan, tape)
}

//! Shared by the scanner targets: the dispatch path an input byte picks, and the differential
//! loop that runs the scanner and simd-json's tape on the same bytes.

// Each target includes this file as its own module and uses only some of it.
#![allow(dead_code)]

use ladderfeed::venue::scan::{Kernel, KernelKind};
use ladderfeed::venue::{Adapter, Parsed, Parser, ScanControls};

/// The scanner's dispatch path named by the two low bits of `bits` (AVX2, SSE4.2, portable;
/// `None` when the CPU lacks it, and the input is skipped).
pub fn kernel(bits: u8) -> Option<Kernel> {
    Kernel::forced(KernelKind::ALL[usize::from(bits & 3) % 3])
}

/// The two adapters a target compares, both made by `make`: one reading with the scanner on
/// `kernel`, the reference reading with simd-json.
pub fn pair<A: Adapter + ScanControls>(kernel: Kernel, make: impl Fn() -> A) -> (A, A) {
    let mut scan = make();
    scan.set_parser(Parser::Scan);
    scan.set_scan_kernel(kernel);
    let mut tape = make();
    tape.set_parser(Parser::SimdJson);
    tape.set_scan_kernel(kernel);
    (scan, tape)
}

/// One input given to both adapters before the fuzzed lines.
pub enum Setup<'a> {
    /// A WebSocket frame.
    Frame(&'a [u8]),
    /// A REST answer: the URL asked and the body.
    Http(&'a str, &'a [u8]),
}

/// Gives both adapters `setup` (results not compared: it only seeds books and channels), then
/// each line of `data` as a frame, or, when `http_url` is given, a line starting with `H` as
/// the body of a REST answer from that URL. Both adapters must return the same result and
/// the same parsed output for every line; the reference (`tape`) never reports a fallback.
pub fn differential<A: Adapter>(
    scan: &mut A,
    tape: &mut A,
    setup: &[Setup<'_>],
    http_url: Option<&str>,
    data: &[u8],
) {
    let (mut a, mut b) = (Parsed::default(), Parsed::default());
    for input in setup {
        a.clear();
        b.clear();
        match *input {
            Setup::Frame(f) => {
                let _ = scan.handle_frame(f, 0, &mut a);
                let _ = tape.handle_frame(f, 0, &mut b);
            }
            Setup::Http(url, body) => {
                let _ = scan.handle_http(url, body, 0, &mut a);
                let _ = tape.handle_http(url, body, 0, &mut b);
            }
        }
    }
    for line in data.split(|&c| c == b'\n') {
        a.clear();
        b.clear();
        let (ra, rb) = match (line.split_first(), http_url) {
            (Some((b'H', body)), Some(url)) => {
                (scan.handle_http(url, body, 0, &mut a), tape.handle_http(url, body, 0, &mut b))
            }
            _ => (scan.handle_frame(line, 0, &mut a), tape.handle_frame(line, 0, &mut b)),
        };
        assert!(!b.scan_fallback, "the reference parser reported a fallback");
        a.scan_fallback = false;
        assert_eq!(ra, rb, "result differs on {:?}", String::from_utf8_lossy(line));
        assert_eq!(a, b, "parsed output differs on {:?}", String::from_utf8_lossy(line));
        // Tickers set a symbol's venue BBO without any parsed output.
        let (sa, sb) = (scan.symbols().list(), tape.symbols().list());
        assert_eq!(sa, sb, "symbols differ after {:?}", String::from_utf8_lossy(line));
    }
}

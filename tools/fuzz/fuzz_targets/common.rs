//! Shared by every target: feed arbitrary bytes to an engine, as frames and as REST bodies,
//! after a seed snapshot so update paths are reached, and check the invariants that must hold
//! whatever the input.

use ladderfeed::engine::{Engine, Sink};
use ladderfeed::event::{Event, EventKind};
use ladderfeed::venue::Adapter;

/// A sink that checks every event as it is published.
pub struct Checked;

impl Sink for Checked {
    fn publish(&mut self, event: Event) {
        if let EventKind::Bbo(b) = event.kind() {
            assert!(
                !(event.state().is_valid() && b.is_crossed()),
                "crossed BBO published as valid"
            );
        }
    }
}

/// Splits `data` at `\n` into frames and feeds them; a frame starting with `H` goes to the REST
/// path instead (so the fuzzer can reach snapshot bridging).
pub fn run<A: Adapter>(engine: &mut Engine<A>, seed: &[&[u8]], data: &[u8]) {
    let mut sink = Checked;
    for frame in seed {
        let _ = engine.handle_frame(frame, 0, &mut sink);
    }
    for (i, frame) in data.split(|&b| b == b'\n').enumerate() {
        let ts = i as u64;
        match frame.split_first() {
            Some((b'H', body)) => {
                let _ = engine.handle_http("", body, ts, &mut sink);
            }
            _ => {
                let _ = engine.handle_frame(frame, ts, &mut sink);
            }
        }
    }
    for (i, _) in engine.symbols().list().iter().enumerate() {
        let s = i as u16;
        let stats = engine.book_stats(s).expect("book for every symbol");
        assert_eq!(stats.crossed_published, 0);
    }
}

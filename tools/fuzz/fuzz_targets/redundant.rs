//! Redundant lines: arbitrary frames on two lines of one session, for every venue (the arbiter
//! judges each by sequence or by content), with lines lost and back at arbitrary points. Nothing
//! may panic and no crossed book may be published as valid, whatever the lines deliver.
#![no_main]

use ladderfeed::book::{InstrumentRegistry, Venue};
use ladderfeed::engine::Sink;
use ladderfeed::event::{Event, EventKind};
use ladderfeed::session::Session;
use libfuzzer_sys::fuzz_target;

/// Checks every event as it is published.
struct Checked;

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

fuzz_target!(|data: &[u8]| {
    let Some((pick, rest)) = data.split_first() else { return };
    let venue = Venue::ALL[usize::from(*pick) % Venue::ALL.len()];
    let Ok(mut s) =
        Session::recorded_lines(venue, InstrumentRegistry::with_builtins(), None, 0..64, 2)
    else {
        return;
    };
    let mut sink = Checked;
    s.handle_connected_on(0, 0);
    s.handle_connected_on(1, 0);
    // Each frame: a first byte says which line it came on, or that a line closes or returns.
    for (i, frame) in rest.split(|&b| b == b'\n').enumerate() {
        let now = i as u64 * 1_000_000;
        let Some((op, body)) = frame.split_first() else { continue };
        let line = usize::from(op & 1);
        match op >> 1 & 3 {
            0 | 1 => {
                let _ = s.handle_frame_on(line, body, now, &mut sink);
            }
            2 => s.handle_disconnected_on(line, "fuzz", now, &mut sink),
            _ => s.handle_connected_on(line, now),
        }
    }
    let e = s.engine();
    for i in 0..e.symbols().len() {
        if let Some(stats) = e.book_stats(i as u16) {
            assert_eq!(stats.crossed_published, 0);
        }
    }
});

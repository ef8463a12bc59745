//! A ladder's window is resident from the moment it is allocated (a new ladder, or a growable
//! one's larger window at a snapshot): no page of it is first touched (and faulted in) on the
//! hot path when a price first lands there. Measured on the process's own resident memory, so
//! this file holds only these tests (its own process), and they take turns (`TURN`).

use std::sync::Mutex;

use ladderfeed::book::Ladder;

/// One test at a time: each reads the process's resident memory around its allocations.
static TURN: Mutex<()> = Mutex::new(());

/// `VmRSS` of this process in KiB.
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/self/status")
}

#[test]
#[cfg(target_os = "linux")]
fn a_new_ladders_window_is_resident_before_any_level_is_set() {
    let _turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
    let window = 1 << 22;
    let before = rss_kib();
    let ladder = Ladder::with_window(window);
    let after = rss_kib();
    assert_eq!(ladder.window_ticks(), window);
    // Two sides of 2^22 eight-byte slots: 64 MiB, resident at once (a zeroed allocation
    // left untouched would add next to nothing here).
    let expected = 2 * (window as u64) * 8 / 1024;
    let grown = after.saturating_sub(before);
    assert!(
        grown >= expected * 95 / 100,
        "resident memory grew by {grown} KiB making the ladder, expected about {expected} KiB"
    );
    drop(ladder);
}

/// A growable ladder starts with a small window and makes each larger window resident when a
/// snapshot grows it (on an empty book, never on an update): no page of the window it ends
/// with is faulted in later, when a price first lands there.
#[test]
#[cfg(target_os = "linux")]
fn a_grown_window_is_resident_when_it_grows() {
    let _turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
    let max = 1 << 22;
    let before = rss_kib();
    let mut ladder = Ladder::growable(max);
    let small = rss_kib();
    assert_eq!(ladder.window_ticks(), Ladder::GROWABLE_START_TICKS);
    // The small first window: a few pages, nowhere near the maximum's 64 MiB.
    assert!(
        small.saturating_sub(before) < 1024,
        "a new growable ladder took {} KiB",
        small - before
    );
    assert!(ladder.fit_window((max / 4) as u64));
    let after = rss_kib();
    assert_eq!(ladder.window_ticks(), max);
    let expected = 2 * (max as u64) * 8 / 1024;
    let grown = after.saturating_sub(small);
    assert!(
        grown >= expected * 95 / 100,
        "resident memory grew by {grown} KiB growing the window, expected about {expected} KiB"
    );
    drop(ladder);
}

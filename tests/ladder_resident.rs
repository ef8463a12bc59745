//! A ladder's window is resident from the moment the ladder is made: no page of it is first
//! touched (and faulted in) on the hot path when a price first lands there. Measured on the
//! process's own resident memory, so this file holds this one test (its own process).

use ladderfeed::book::Ladder;

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

//! The README's first command: the bundled Binance capture rebuilt into the ladder.
#![cfg(feature = "cli")]

#[test]
fn bundled_capture_rebuilds_and_matches_book_ticker() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ladderfeed")).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    // Figures checked independently in fixtures/SOURCES.md (Binance's documented sync rule).
    assert!(stdout.contains("3449 applied, 2 stale skipped, 0 gaps"), "{stdout}");
    assert!(stdout.contains("best bid     61685.99 x"), "{stdout}");
    assert!(stdout.contains("best ask     61686 x"), "{stdout}");
    assert!(stdout.contains("crossed      0 times"), "{stdout}");
    assert!(stdout.contains("matches the ladder"), "{stdout}");
}

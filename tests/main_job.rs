//! The README's first command: the bundled Binance capture through the real adapter and engine.
#![cfg(feature = "cli")]

use std::process::Command;

#[test]
fn bundled_capture_rebuilds_and_matches_book_ticker() {
    let out = Command::new(env!("CARGO_BIN_EXE_ladderfeed")).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    // Figures checked independently in fixtures/SOURCES.md (Binance's documented sync rule):
    // the snapshot plus 3449 diffs applied, 2 stale, no gap, final BBO = the last bookTicker.
    assert!(stdout.contains("venue        binance\n"), "{stdout}");
    assert!(stdout.contains("2 stale skipped"), "{stdout}");
    assert!(stdout.contains("0 errors"), "{stdout}");
    assert!(stdout.contains("0 crossed BBOs marked valid"), "{stdout}");
    assert!(
        stdout.contains("binance:BTCUSDT  synced  book messages 3450  gaps 0  resyncs 0"),
        "{stdout}"
    );
    assert!(stdout.contains("best bid 61685.99 x"), "{stdout}");
    assert!(stdout.contains("best ask 61686 x"), "{stdout}");
    assert!(stdout.contains("venue's last ticker 61685.99 / 61686: matches the book"), "{stdout}");
}

#[test]
fn any_capture_format_and_venue_is_detected() {
    let root = env!("CARGO_MANIFEST_DIR");
    for (file, venue, line) in [
        ("fixtures/kraken/cryptofeed_KRAKEN.ws.50.0", "kraken-v1", "kraken-v1:XBT/CHF  synced"),
        ("fixtures/okx/cryptofeed_OKX.ws.1.0", "okx", "okx:BTC-USDT  synced"),
        (
            "fixtures/coinbase/cryptofeed-v3_COINBASE.jsonl.zst",
            "coinbase",
            "coinbase:ETH-USD  synced",
        ),
        (
            "fixtures/binance/cryptofeed_BINANCE_FUTURES.ws.1.0",
            "binance-futures",
            "binance-futures:SUSHIUSDT  synced",
        ),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_ladderfeed"))
            .arg(format!("{root}/{file}"))
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{file}: {stdout}\n{}", String::from_utf8_lossy(&out.stderr));
        assert!(stdout.contains(&format!("venue        {venue}\n")), "{file}: {stdout}");
        assert!(stdout.contains(line), "{file}: {stdout}");
        assert!(stdout.contains("0 failed"), "{file}: {stdout}");
        assert!(
            !stdout.lines().any(|l| l.contains(" failed") && !l.contains(" 0 failed")),
            "{stdout}"
        );
    }
    let bad =
        Command::new(env!("CARGO_BIN_EXE_ladderfeed")).args(["--venue", "nope"]).output().unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("unknown venue"));
}

//! The venues' instrument reference data end to end: `ladderfeed instruments` against the
//! simulator (over wss's https side, certificates verified) for every venue; a live run that
//! takes its ticks and lots from the simulator's answers, falls back to its cache when the
//! endpoint fails, and records the answers so that a replay of the recording uses the same
//! instruments.
#![cfg(feature = "cli")]

use std::path::PathBuf;

use ladderfeed_sim::{Config, Sim};

mod cli;
use cli::{ladderfeed, text};

fn tmp(name: &str) -> PathBuf {
    cli::tmp_in("instruments", name)
}

fn sim_with(venue: &str, capture: &str, edit: impl FnOnce(&mut Config)) -> (Sim, PathBuf, String) {
    let (sim, ca) = cli::tls_sim("instruments", venue, capture, edit);
    let rest = format!("https://{}", sim.addr());
    (sim, ca, rest)
}

/// (venue, a capture of it for the simulator, --symbols, a row the table must hold).
const VENUES: [(&str, &str, &str, &str); 15] = [
    (
        "binance",
        "binance/hftbacktest_spot_btcusdt_20240808.gz",
        "",
        "binance,BTCUSDT,spot,0.01,0.000001,0.000001,,,,TRADING",
    ),
    (
        "binance-futures",
        "binance/cryptofeed_BINANCE_FUTURES.ws.1.0",
        "",
        "binance-futures,SUSHIUSDT,perpetual,0.001,1,1,,USDT,,TRADING",
    ),
    (
        "coinbase",
        "coinbase/cryptofeed-v3_COINBASE.jsonl.zst",
        "",
        "coinbase,BTC-USD,spot,0.01,0.00000001,0.00000001,,,,online",
    ),
    (
        "coinbase-exchange",
        "coinbase/cryptofeed_COINBASE.ws.28.0",
        "",
        "coinbase-exchange,SKL-USD,spot,0.0001,0.1,",
    ),
    (
        "bitfinex",
        "bitfinex/cryptofeed_BITFINEX-58bafb.0",
        "",
        "bitfinex,tETHJPY,spot,0.00000001,0.00000001,0.00001,,,,listed",
    ),
    (
        "kraken",
        "kraken/cryptofeed_KRAKEN.ws.50.0",
        "",
        "kraken,BTC/USD,spot,0.1,0.00000001,0.00005,,,,online",
    ),
    (
        "kraken-v1",
        "kraken/cryptofeed_KRAKEN.ws.50.0",
        "",
        "kraken-v1,XBT/USD,spot,0.1,0.00000001,0.00005,,,,online",
    ),
    (
        "okx",
        "okx/cryptofeed_OKX.ws.1.0",
        "BTC-USD-241217-92000-C",
        "okx,BTC-USD-241217-92000-C,option,0.0001,1,1,0.01,BTC,2024-12-17T08:00:00Z,live",
    ),
    (
        "gemini",
        "gemini/cryptofeed-v3_GEMINI.jsonl.zst",
        "BTCUSD,ETHGUSDPERP",
        "gemini,ETHGUSDPERP,perpetual,0.05,0.001,0.001,,GUSD,,open",
    ),
    (
        "gemini-v1",
        "gemini/cryptofeed_GEMINI.ws.1.0",
        "BTCUSD",
        "gemini-v1,BTCUSD,spot,0.01,0.00000001,0.00001,,,,open",
    ),
    (
        "deribit",
        "deribit/cryptofeed_DERIBIT.ws.1.0",
        "BTC-24SEP21-8000-P",
        "deribit,BTC-24SEP21-8000-P,option,0.0005,0.1,0.1,1,BTC,2021-09-24T08:00:00Z,active",
    ),
    (
        "bitmex",
        "bitmex/cryptofeed_BITMEX.ws.1.0",
        "",
        "bitmex,XBTUSD,perpetual,0.5,100,100,-100000000,XBt,,Open",
    ),
    // Hand-written answers in the documented formats (no recorded one was found).
    (
        "bybit-linear",
        "bybit/bybit_history_2024-12-01_XRPUSDT_ob500.data",
        "",
        "bybit-linear,XRPUSDT,perpetual,0.0001,1,1,,USDT,,Trading",
    ),
    (
        "binance-coinm",
        "binance/hftbacktest_cm_btcusd_perp_20240808.gz",
        "",
        "binance-coinm,BTCUSD_PERP,perpetual,0.1,1,1,100,BTC,,TRADING",
    ),
    // Two POSTs to `/info` (`meta`, `spotMeta`): BTC, szDecimals 5.
    (
        "hyperliquid",
        "hyperliquid/hftbacktest_hyperliquid_btcusd_20250126.gz",
        "",
        "hyperliquid,BTC,perpetual,0.1,0.00001,,,,,listed",
    ),
];

#[test]
fn instruments_against_the_simulator_for_every_venue() {
    for (venue, capture, symbols, row) in VENUES {
        let (sim, ca, rest) = sim_with(venue, capture, |_| {});
        let out_csv = tmp(&format!("{venue}.csv"));
        let mut args = vec![
            "instruments",
            "--venue",
            venue,
            "--rest-endpoint",
            &rest,
            "--ca-file",
            ca.to_str().unwrap(),
            "-o",
            out_csv.to_str().unwrap(),
        ];
        if !symbols.is_empty() {
            args.extend(["--symbols", symbols]);
        }
        let out = ladderfeed(&args);
        let log = sim.stop();
        assert!(out.status.success(), "{venue}: {}", text(&out));
        let csv = std::fs::read_to_string(&out_csv).unwrap();
        assert!(
            csv.lines().any(|l| l.starts_with(row)),
            "{venue}: no row {row:?} in\n{}",
            &csv[..csv.len().min(600)]
        );
        // Every request reached the simulator's instrument endpoint.
        let served = log.iter().filter(|e| e["snapshot"]["instruments"].is_string()).count();
        assert!(served >= 1, "{venue}: {log:?}");
        let synthesized = log.iter().any(|e| e["snapshot"]["synthesized"] == true);
        let hand_written =
            matches!(venue, "bitfinex" | "bybit-linear" | "binance-coinm" | "hyperliquid");
        assert_eq!(synthesized, hand_written, "{venue}");
    }
    // JSON by the file's extension.
    let (sim, ca, rest) = sim_with("okx", "okx/cryptofeed_OKX.ws.1.0", |_| {});
    let out_json = tmp("okx.json");
    let out = ladderfeed(&[
        "instruments",
        "--venue",
        "okx",
        "--rest-endpoint",
        &rest,
        "--ca-file",
        ca.to_str().unwrap(),
        "-o",
        out_json.to_str().unwrap(),
    ]);
    sim.stop();
    assert!(out.status.success(), "{}", text(&out));
    let doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&out_json).unwrap()).unwrap();
    assert_eq!(doc["venue"], "okx");
    let swap = doc["instruments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["symbol"] == "BTC-USD-SWAP")
        .unwrap();
    assert_eq!(
        (swap["tick"].as_str(), swap["contract_value"].as_str()),
        (Some("0.1"), Some("100"))
    );
}

#[test]
fn a_failed_fetch_is_an_error_with_its_cause() {
    // Nothing listens there.
    let out =
        ladderfeed(&["instruments", "--venue", "binance", "--rest-endpoint", "http://127.0.0.1:9"]);
    assert!(!out.status.success());
    let t = text(&out);
    assert!(t.contains("GET http://127.0.0.1:9/api/v3/exchangeInfo"), "{t}");
}

fn summary(path: &PathBuf) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

#[test]
fn live_takes_the_served_ticks_and_a_replay_of_its_recording_too() {
    let (sim, ca, rest) =
        sim_with("binance", "binance/hftbacktest_spot_btcusdt_20240808.gz", |c| {
            c.pace = ladderfeed_sim::Pace::Rate(5000.0);
        });
    let cache = tmp("cache-binance");
    let live_bbo = tmp("binance_live_bbo.csv");
    let live_sum = tmp("binance_live.json");
    let recording = tmp("binance.lfc");
    let out = ladderfeed(&[
        "record",
        "--venue",
        "binance",
        "--symbols",
        "BTCUSDT",
        "--endpoint",
        &sim.url(""),
        "--rest-endpoint",
        &rest,
        "--ca-file",
        ca.to_str().unwrap(),
        "--instruments-cache",
        cache.to_str().unwrap(),
        "--duration",
        "3",
        "--no-pin",
        "--no-busy-poll",
        "--bbo-out",
        live_bbo.to_str().unwrap(),
        "--summary-json",
        live_sum.to_str().unwrap(),
        "-o",
        recording.to_str().unwrap(),
    ]);
    sim.stop();
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(
        t.contains(
            "instruments  binance: 1089 from the venue's list, fetched from https://127.0.0.1"
        ),
        "{t}"
    );
    // The served lot (0.000001, the venue's answer of 2020) replaced the built-in 0.00000001.
    let s = summary(&live_sum);
    let btc = &s["symbols"]["binance:BTCUSDT"];
    assert_eq!(btc["instrument_source"], "venue", "{btc}");
    assert_eq!((btc["tick"].as_str(), btc["lot"].as_str()), (Some("0.01"), Some("0.000001")));
    assert_eq!(btc["state"], "synced", "{btc}");
    let rows = std::fs::read_to_string(&live_bbo).unwrap();
    assert!(rows.lines().count() > 100, "{rows}");
    // The table was cached.
    let cached = std::fs::read_to_string(cache.join("instruments-binance.json")).unwrap();
    assert!(cached.contains("\"symbol\":\"BTCUSDT\""));
    // The recording carries the answer: its replay resolves the same way, row for row.
    let again_bbo = tmp("binance_again_bbo.csv");
    let again_sum = tmp("binance_again.json");
    let out = ladderfeed(&[
        "replay",
        recording.to_str().unwrap(),
        "--no-progress",
        "--bbo-out",
        again_bbo.to_str().unwrap(),
        "--summary-json",
        again_sum.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let again = &summary(&again_sum)["symbols"]["binance:BTCUSDT"];
    assert_eq!(again["instrument_source"], "venue");
    assert_eq!(again["lot"], "0.000001");
    assert_eq!(std::fs::read_to_string(&again_bbo).unwrap(), rows);
}

#[test]
fn a_failed_fetch_falls_back_to_the_cache_then_to_the_built_ins() {
    let capture = "kraken/cryptofeed_KRAKEN.ws.50.0";
    let cache = tmp("cache-kraken");
    let _ = std::fs::remove_dir_all(&cache);
    let run = |rest: &str, sim: &Sim, ca: &PathBuf, cache: &PathBuf, sum: &PathBuf| {
        ladderfeed(&[
            "live",
            "--venue",
            "kraken-v1",
            "--symbols",
            "XBT/CHF,ADA/XBT",
            "--endpoint",
            &sim.url(""),
            "--rest-endpoint",
            rest,
            "--ca-file",
            ca.to_str().unwrap(),
            "--instruments-cache",
            cache.to_str().unwrap(),
            "--duration",
            "1.5",
            "--no-pin",
            "--no-busy-poll",
            "--summary-json",
            sum.to_str().unwrap(),
        ])
    };
    // 1. Fetched from the simulator, and cached.
    let (sim, ca, rest) = sim_with("kraken-v1", capture, |_| {});
    let sum = tmp("kraken1.json");
    let out = run(&rest, &sim, &ca, &cache, &sum);
    sim.stop();
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("instruments  kraken-v1: 672 from the venue's list, fetched"),
        "{}",
        text(&out)
    );
    assert_eq!(summary(&sum)["symbols"]["kraken-v1:XBT/CHF"]["instrument_source"], "venue");
    // 1b. Fetched again after a reconnect (the simulator closes the connection at frame 300)
    // and on the schedule.
    let (sim, ca, rest) = sim_with("kraken-v1", capture, |c| {
        c.faults = ladderfeed_sim::faults::parse("close@300").unwrap();
        c.pace = ladderfeed_sim::Pace::Rate(2000.0);
    });
    let out = ladderfeed(&[
        "live",
        "--venue",
        "kraken-v1",
        "--symbols",
        "XBT/CHF,ADA/XBT",
        "--endpoint",
        &sim.url(""),
        "--rest-endpoint",
        &rest,
        "--ca-file",
        ca.to_str().unwrap(),
        "--instruments-cache",
        cache.to_str().unwrap(),
        "--instruments-refresh",
        "1.2",
        "--duration",
        "2",
        "--no-pin",
        "--no-busy-poll",
    ]);
    let log = sim.stop();
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(t.contains("2 connects"), "{t}");
    let served = log.iter().filter(|e| e["snapshot"]["instruments"].is_string()).count();
    assert_eq!(served, 3, "the start, the reconnect and the schedule: {t}");
    assert!(
        t.contains(
            "instruments  refreshed 2 times (1 after a reconnect): 0 changed, 0 added, 0 failed"
        ),
        "{t}"
    );
    // 2. The REST endpoint is down: the cached table, with a warning.
    let (sim, ca, _) = sim_with("kraken-v1", capture, |_| {});
    let out = run("http://127.0.0.1:9", &sim, &ca, &cache, &sum);
    sim.stop();
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(t.contains("fetching instruments failed"), "{t}");
    assert!(t.contains("instruments  kraken-v1: 672 from the venue's list, from the cache"), "{t}");
    assert_eq!(summary(&sum)["symbols"]["kraken-v1:XBT/CHF"]["instrument_source"], "venue");
    // 3. No cache either: built-ins, and the run goes on.
    let (sim, ca, _) = sim_with("kraken-v1", capture, |_| {});
    let empty = tmp("cache-empty");
    let out = run("http://127.0.0.1:9", &sim, &ca, &empty, &sum);
    sim.stop();
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(t.contains("instruments  kraken-v1: 0 from the venue's list, none"), "{t}");
    assert_eq!(summary(&sum)["symbols"]["kraken-v1:XBT/CHF"]["instrument_source"], "builtin");
}

/// `record --venue hyperliquid` (live, and recorded) against the simulator: the instruments come
/// from its answers to `POST /info` (`meta`, `spotMeta`), and a replay of the recording takes
/// them from the recorded answers; answers that cannot be read are a clear warning and a count
/// in the summary, and the feed runs on learned steps.
#[test]
fn live_hyperliquid_takes_its_instruments_from_the_post_answers() {
    let capture = "hyperliquid/hftbacktest_hyperliquid_btcusd_20250126.gz";
    let run = |tag: &str, reference_dir: Option<PathBuf>, symbols: &str| {
        let (sim, ca, rest) = sim_with("hyperliquid", capture, |c| {
            c.pace = ladderfeed_sim::Pace::Rate(200.0);
            c.reference_dir = reference_dir;
        });
        let cache = tmp(&format!("cache-hyperliquid-{tag}"));
        let _ = std::fs::remove_dir_all(&cache);
        let sum = tmp(&format!("hyperliquid-{tag}.json"));
        let recording = tmp(&format!("hyperliquid-{tag}.lfc"));
        let out = ladderfeed(&[
            "record",
            "-o",
            recording.to_str().unwrap(),
            "--venue",
            "hyperliquid",
            "--symbols",
            symbols,
            "--endpoint",
            &sim.url(""),
            "--rest-endpoint",
            &rest,
            "--ca-file",
            ca.to_str().unwrap(),
            "--instruments-cache",
            cache.to_str().unwrap(),
            "--duration",
            "2",
            "--no-pin",
            "--no-busy-poll",
            "--summary-json",
            sum.to_str().unwrap(),
        ]);
        let log = sim.stop();
        let t = text(&out);
        assert!(out.status.success(), "{t}");
        (t, summary(&sum), log, recording)
    };

    // 1. The simulator's answers (hand-written in the documented shapes).
    let (t, s, log, recording) = run("served", None, "BTC");
    assert!(
        t.contains(
            "instruments  hyperliquid: 1 from the venue's list, fetched from https://127.0.0.1"
        ),
        "{t}"
    );
    let posts: Vec<&serde_json::Value> =
        log.iter().filter(|e| e["method"] == "POST" && e["path"] == "/info").collect();
    assert_eq!(posts.len(), 2, "{log:?}");
    assert!(posts.iter().all(|e| e["status"] == "200" && e["snapshot"]["synthesized"] == true));
    let btc = &s["symbols"]["hyperliquid:BTC"];
    // The lot is szDecimals' (0.00001); the book's tick follows five significant figures at
    // 105,055 (1), refined from the venue's 0.1, which the trades count.
    assert_eq!(btc["instrument_source"], "venue", "{btc}");
    assert_eq!((btc["tick"].as_str(), btc["lot"].as_str()), (Some("1"), Some("0.00001")), "{btc}");
    assert_eq!(btc["state"], "synced", "{btc}");
    assert!(btc["book_messages"].as_u64().unwrap() > 0, "{btc}");
    assert_eq!(s["instrument_requests_failed"], 0, "{s}");
    assert!(t.contains("instruments  0 requests failed"), "{t}");
    // The recording holds both answers: its replay resolves BTC the same way.
    let again = tmp("hyperliquid-again.json");
    let out = ladderfeed(&[
        "replay",
        recording.to_str().unwrap(),
        "--no-progress",
        "--summary-json",
        again.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let btc_again = &summary(&again)["symbols"]["hyperliquid:BTC"];
    for k in ["instrument_source", "tick", "lot", "bid_px", "ask_px"] {
        assert_eq!(btc_again[k], btc[k], "{k}: {btc_again} against {btc}");
    }

    // 2. Answers that are not the venue's instrument lists.
    let bad = tmp("refdata-bad");
    std::fs::create_dir_all(bad.join("hyperliquid")).unwrap();
    std::fs::write(bad.join("hyperliquid/meta.json"), b"{\"universe\":[{\"name\":").unwrap();
    std::fs::write(bad.join("hyperliquid/spotMeta.json"), b"null").unwrap();
    let (t, s, _, _) = run("bad", Some(bad), "BTC");
    assert!(t.contains("hyperliquid: instruments: https://127.0.0.1"), "{t}");
    assert!(t.contains("/info: not the venue's instrument list"), "{t}");
    assert!(t.contains("hyperliquid: fetching instruments failed (2 requests)"), "{t}");
    assert!(t.contains("`null`, the answer for a perp dex the venue does not know"), "{t}");
    assert!(t.contains("instruments  hyperliquid: 0 from the venue's list, none"), "{t}");
    assert_eq!(s["instrument_requests_failed"], 2, "{s}");
    assert!(t.contains("instruments  2 requests failed"), "{t}");
    let btc = &s["symbols"]["hyperliquid:BTC"];
    assert_eq!(btc["instrument_source"], "learned", "{btc}");
    assert_eq!(btc["state"], "synced", "{btc}");

    // 3. HIP-3 perpetuals (`dex:COIN`): one more POST per dex named, `{"type":"meta","dex":…}`;
    // the simulator serves `xyz` from its hand-written file and answers `null` for `zzz`, as
    // the venue does for a dex it does not know: that request fails, counted, and the others
    // stand.
    let (t, s, log, _) = run("hip3", None, "BTC,xyz:XYZ100,zzz:FOO");
    let posts: Vec<&serde_json::Value> =
        log.iter().filter(|e| e["method"] == "POST" && e["path"] == "/info").collect();
    assert_eq!(posts.len(), 4, "{log:?}");
    assert!(t.contains("`null`, the answer for a perp dex the venue does not know"), "{t}");
    assert!(t.contains("instruments  1 requests failed"), "{t}");
    assert!(t.contains("instruments  hyperliquid: 3 from the venue's list"), "{t}");
    assert!(t.contains("not listed: zzz:FOO"), "{t}");
    assert_eq!(s["instrument_requests_failed"], 1, "{s}");
    // BTC from the main dex's `meta`, xyz's perpetuals from their dex's (lot 10^-szDecimals,
    // tick 10^-(6 - szDecimals)), in the instrument table the run kept in its cache (the
    // summary lists only the books that had messages: the simulator has no xyz data).
    let cache = tmp("cache-hyperliquid-hip3").join("instruments-hyperliquid.json");
    let table: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&cache).expect("the instruments cache")).unwrap();
    let rows = table["instruments"].as_array().expect("instruments");
    let row = |sym: &str| rows.iter().find(|r| r["symbol"] == sym).cloned();
    let xyz = row("xyz:XYZ100").expect("xyz:XYZ100 in the table");
    assert_eq!(
        (xyz["kind"].as_str(), xyz["tick"].as_str(), xyz["lot"].as_str()),
        (Some("perpetual"), Some("0.01"), Some("0.0001")),
        "{xyz}"
    );
    assert!(row("BTC").is_some() && row("zzz:FOO").is_none(), "{table}");
    let btc = &s["symbols"]["hyperliquid:BTC"];
    assert_eq!(
        (btc["instrument_source"].as_str(), btc["state"].as_str()),
        (Some("venue"), Some("synced")),
        "{btc}"
    );
}

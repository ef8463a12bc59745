//! `ladderfeed replay`, the README's first command: real captures through the engine → ring →
//! consumer pipeline, the summary, the sinks, determinism and bad input.
#![cfg(feature = "cli")]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn fixture(rel: &str) -> String {
    format!("{ROOT}/fixtures/{rel}")
}

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ladderfeed-replay-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn ladderfeed(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ladderfeed")).args(args).output().unwrap()
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn summary(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

#[test]
fn bundled_capture_replays_with_the_documented_summary() {
    let json = tmp("bundled.json");
    let out = ladderfeed(&["replay", "--summary-json", json.to_str().unwrap()]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    // Figures checked independently in fixtures/SOURCES.md (Binance's documented sync rule):
    // the snapshot plus 3449 diffs applied, 2 stale, no gap, final BBO = the last bookTicker.
    assert!(stdout.contains("2 stale skipped"), "{stdout}");
    assert!(stdout.contains("0 errors"), "{stdout}");
    assert!(stdout.contains("venue's last ticker 61685.99 / 61686: matches the book"), "{stdout}");
    let s = summary(&json);
    for field in ["messages", "bytes", "elapsed_s", "msgs_per_s", "symbols", "latency_ns"] {
        assert!(s.get(field).is_some(), "missing {field}: {s}");
    }
    assert_eq!(s["messages"], 41249);
    let b = &s["symbols"]["binance:BTCUSDT"];
    assert_eq!(b["venue"], "binance");
    assert_eq!(b["symbol"], "BTCUSDT");
    assert_eq!(b["book_messages"], 3450);
    assert_eq!(b["gaps"], 0);
    assert_eq!(b["resyncs"], 0);
    assert_eq!(b["checksum_ok"], 0);
    assert_eq!(b["checksum_failed"], 0);
    assert_eq!(b["crossed_published"], 0);
    assert_eq!(b["state"], "synced");
    assert_eq!(b["bid_px"], "61685.99");
    assert_eq!(b["ask_px"], "61686");
    for q in ["bid_qty", "ask_qty"] {
        let t = b[q].as_str().unwrap();
        assert!(!t.ends_with('0') && !t.ends_with('.'), "{q} = {t}");
    }
    let stages = s["latency_ns"].as_object().unwrap();
    for stage in
        ["recv_to_parsed", "parsed_to_published", "published_to_consumed", "recv_to_consumed"]
    {
        let st = &stages[stage];
        for k in ["count", "p50", "p99", "p999", "max"] {
            assert!(st[k].is_u64(), "{stage}.{k}: {st}");
        }
        assert!(st["count"].as_u64().unwrap() > 0, "{stage}");
        assert!(st["p50"].as_u64() <= st["p999"].as_u64(), "{stage}");
        assert!(st["p999"].as_u64() <= st["max"].as_u64(), "{stage}");
    }
    // No subcommand is the same job.
    let plain = ladderfeed(&[]);
    assert!(plain.status.success());
    assert!(text(&plain).0.contains("binance:BTCUSDT  synced  messages 3450  gaps 0"));
}

#[test]
fn every_venue_capture_replays_clean() {
    for (file, key, checksums) in [
        ("kraken/cryptofeed_KRAKEN.ws.50.0", "kraken-v1:XBT/CHF", true),
        ("okx/cryptofeed_OKX.ws.1.0", "okx:BTC-USDT", true),
        ("coinbase/cryptofeed-v3_COINBASE.jsonl.zst", "coinbase:ETH-USD", false),
        ("coinbase/cryptofeed_COINBASE.ws.28.0", "coinbase-exchange:DASH-BTC", false),
        ("gemini/cryptofeed_GEMINI.ws.1.0", "gemini:BTCGBP", false),
        ("binance/cryptofeed_BINANCE_FUTURES.ws.1.0", "binance-futures:SUSHIUSDT", false),
        ("bitfinex/cryptofeed_BITFINEX-58bafb.0", "bitfinex:tETHJPY", false),
        ("bybit/bybit_history_2024-12-01_XRPUSDT_ob500.data", "bybit-linear:XRPUSDT", false),
        ("deribit/cryptofeed_DERIBIT.ws.1.0", "deribit:BTC-24SEP21-8000-P", false),
        ("hyperliquid/hftbacktest_hyperliquid_btcusd_20250126.gz", "hyperliquid:BTC", false),
        ("krakenfutures/cryptofeed_KRAKEN_FUTURES.ws.1.0", "kraken-futures:PI_ETHUSD", false),
        ("bitmex/cryptofeed_BITMEX.ws.1.0", "bitmex:XBTUSD", false),
    ] {
        let json = tmp(&format!("{}.json", key.replace([':', '/'], "_")));
        let out = ladderfeed(&["replay", &fixture(file), "--summary-json", json.to_str().unwrap()]);
        let (stdout, stderr) = text(&out);
        assert!(out.status.success(), "{file}: {stdout}\n{stderr}");
        let s = summary(&json);
        let b = &s["symbols"][key];
        assert_eq!(b["state"], "synced", "{file}: {b}");
        assert!(b["book_messages"].as_u64().unwrap() > 1, "{file}: {b}");
        for (k, v) in s["symbols"].as_object().unwrap() {
            assert_eq!(v["gaps"], 0, "{file} {k}");
            assert_eq!(v["checksum_failed"], 0, "{file} {k}");
            assert_eq!(v["crossed_published"], 0, "{file} {k}");
        }
        if checksums {
            assert!(b["checksum_ok"].as_u64().unwrap() > 0, "{file}: {b}");
        }
    }
}

/// Replays `file` with every sink and returns the files' bytes.
fn sinks(file: &str, tag: &str, extra: &[&str]) -> Vec<Vec<u8>> {
    let names = ["bbo.csv", "bbo.jsonl", "depth.csv", "depth.jsonl", "trades.csv", "trades.jsonl"];
    let paths: Vec<PathBuf> = names.iter().map(|n| tmp(&format!("{tag}-{n}"))).collect();
    let mut out = Vec::new();
    // Two runs: one with the CSV files, one with the JSONL files.
    for first in [0, 1] {
        let p = |i: usize| paths[i].to_str().unwrap().to_owned();
        let (b, d, t) = (p(first), p(2 + first), p(4 + first));
        let mut args = vec![
            "replay".to_owned(),
            file.to_owned(),
            "--bbo-out".into(),
            b,
            "--depth-out".into(),
            d,
            "--depth".into(),
            "5".into(),
            "--trades-out".into(),
            t,
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        let run = Command::new(env!("CARGO_BIN_EXE_ladderfeed")).args(&args).output().unwrap();
        let (stdout, stderr) = text(&run);
        assert!(run.status.success(), "{file}: {stdout}\n{stderr}");
    }
    for p in &paths {
        out.push(std::fs::read(p).unwrap());
    }
    out
}

#[test]
fn replaying_twice_writes_identical_bytes() {
    for file in [
        fixture("binance/hftbacktest_spot_btcusdt_20240808.gz"),
        fixture("kraken/cryptofeed_KRAKEN.ws.50.0"),
        fixture("coinbase/cryptofeed-v3_COINBASE.jsonl.zst"),
    ] {
        let a = sinks(&file, "a", &[]);
        // The second run with another ring size and no pinning: scheduling must not matter.
        let b = sinks(&file, "b", &["--ring", "64", "--no-pin"]);
        for (i, (x, y)) in a.iter().zip(&b).enumerate() {
            // BBO and depth files always have rows; trades only where the capture has some.
            if i < 4 {
                assert!(x.len() > 200, "{file}: sink {i} is (nearly) empty");
            }
            assert!(x == y, "{file}: sink {i} differs between two replays");
        }
    }
}

#[test]
fn sinks_agree_with_the_summary() {
    let file = fixture("binance/hftbacktest_spot_btcusdt_20240808.gz");
    let json = tmp("agree.json");
    let files = sinks(&file, "agree", &["--summary-json", json.to_str().unwrap()]);
    let s = summary(&json);
    let b = &s["symbols"]["binance:BTCUSDT"];
    let text = |i: usize| String::from_utf8(files[i].clone()).unwrap();

    // BBO CSV: header, then rows; the last synced row is the final BBO.
    let bbo = text(0);
    let mut lines = bbo.lines();
    assert_eq!(
        lines.next().unwrap(),
        "local_ts,exch_ts,venue,symbol,bid_px,bid_qty,ask_px,ask_qty,spread,spread_bps,state"
    );
    let last = bbo.lines().rfind(|l| l.ends_with(",synced") && !l.contains(",,")).unwrap();
    let cols: Vec<&str> = last.split(',').collect();
    assert_eq!(cols.len(), 11, "{last}");
    assert_eq!((cols[4], cols[6]), (b["bid_px"].as_str().unwrap(), b["ask_px"].as_str().unwrap()));
    assert_eq!(
        (cols[5], cols[7]),
        (b["bid_qty"].as_str().unwrap(), b["ask_qty"].as_str().unwrap())
    );
    // Receive times never go backwards in a single-file replay.
    let ts: Vec<u64> =
        bbo.lines().skip(1).map(|l| l.split(',').next().unwrap().parse().unwrap()).collect();
    assert!(ts.windows(2).all(|w| w[0] <= w[1]));

    // Depth JSONL: at most 5 levels a side; the last row's top of book is the final BBO.
    let depth = text(3);
    let last: Value = serde_json::from_str(depth.lines().last().unwrap()).unwrap();
    let bids = last["bids"].as_array().unwrap();
    let asks = last["asks"].as_array().unwrap();
    assert!(bids.len() <= 5 && asks.len() <= 5 && !bids.is_empty());
    assert_eq!(bids[0][0].to_string(), b["bid_px"].as_str().unwrap());
    assert_eq!(asks[0][0].to_string(), b["ask_px"].as_str().unwrap());
    for row in depth.lines() {
        let v: Value = serde_json::from_str(row).unwrap();
        let bids = v["bids"].as_array().unwrap();
        let prices: Vec<f64> = bids.iter().map(|l| l[0].as_f64().unwrap()).collect();
        assert!(prices.windows(2).all(|w| w[0] > w[1]), "bids not descending: {row}");
    }
    // Depth CSV: the same changes, one row per level.
    let depth_csv = text(2);
    assert_eq!(depth_csv.lines().next().unwrap(), "timestamp,symbol,side,price,quantity,level");
    let levels: usize = depth
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            v["bids"].as_array().unwrap().len() + v["asks"].as_array().unwrap().len()
        })
        .sum();
    assert_eq!(depth_csv.lines().count() - 1, levels);

    // Trades: one row per trade the summary counted.
    let trades = text(4);
    assert_eq!(trades.lines().count() - 1, b["trades"].as_u64().unwrap() as usize);
    let first = trades.lines().nth(1).unwrap();
    assert_eq!(first.split(',').count(), 7, "{first}");
    assert_eq!(text(5).lines().count(), b["trades"].as_u64().unwrap() as usize);
}

#[test]
fn spread_filters_keep_only_wide_spreads() {
    let file = fixture("coinbase/cryptofeed_COINBASE.ws.28.0");
    let all = tmp("spread-all.csv");
    let wide = tmp("spread-wide.csv");
    let bps = tmp("spread-bps.csv");
    for (out, extra) in [
        (&all, vec![]),
        (&wide, vec!["--min-spread", "0.001"]),
        (&bps, vec!["--min-spread-bps", "20"]),
    ] {
        let mut args = vec!["replay", &file, "--bbo-out", out.to_str().unwrap()];
        args.extend(extra);
        let run = ladderfeed(&args);
        assert!(run.status.success(), "{:?}", text(&run));
    }
    let rows = |p: &Path| -> Vec<Vec<String>> {
        std::fs::read_to_string(p)
            .unwrap()
            .lines()
            .skip(1)
            .map(|l| l.split(',').map(str::to_owned).collect())
            .collect()
    };
    let (all, wide, bps) = (rows(&all), rows(&wide), rows(&bps));
    let priced: Vec<&Vec<String>> = all.iter().filter(|r| !r[8].is_empty()).collect();
    let expect_wide = priced.iter().filter(|r| r[8].parse::<f64>().unwrap() >= 0.001).count();
    let expect_bps = priced.iter().filter(|r| r[9].parse::<f64>().unwrap() >= 20.0 - 1e-9).count();
    assert!(expect_wide > 0 && expect_wide < priced.len(), "{expect_wide} of {}", priced.len());
    assert_eq!(wide.len(), expect_wide);
    assert!(wide.iter().all(|r| r[8].parse::<f64>().unwrap() >= 0.001));
    assert!(expect_bps > 0 && expect_bps < priced.len());
    assert_eq!(bps.len(), expect_bps);
}

#[test]
fn recorded_pace_takes_the_capture_span() {
    // Five Binance bookTicker messages over 400 ms, in the hftbacktest line format.
    let path = tmp("paced.txt");
    let mut body = String::new();
    for i in 0..5u64 {
        let ts = 1_723_161_254_000_000_000 + i * 100_000_000;
        body.push_str(&format!(
            "{ts} {{\"stream\":\"btcusdt@bookTicker\",\"data\":{{\"u\":{},\"s\":\"BTCUSDT\",\"b\":\"61000.0{i}\",\"B\":\"1\",\"a\":\"61001\",\"A\":\"1\"}}}}\n",
            100 + i
        ));
    }
    std::fs::write(&path, body).unwrap();
    let started = std::time::Instant::now();
    let out =
        ladderfeed(&["replay", "--venue", "binance", "--pace", "recorded", path.to_str().unwrap()]);
    let took = started.elapsed();
    assert!(out.status.success(), "{:?}", text(&out));
    assert!(text(&out).0.contains("replayed     5 messages"), "{:?}", text(&out));
    // Paced: the last message cannot be handled before 400 ms of the capture have passed.
    assert!(took.as_millis() >= 400, "{took:?}");
}

#[test]
fn bad_input_names_the_file_and_keeps_what_came_before() {
    // Not a capture.
    let junk = tmp("junk.bin");
    std::fs::write(&junk, [0u8, 159, 146, 150, 1, 2, 3]).unwrap();
    let out = ladderfeed(&["replay", "--venue", "binance", junk.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(text(&out).1.contains("junk.bin"), "{:?}", text(&out));

    // Unknown venue.
    let out = ladderfeed(&["replay", "--venue", "nope"]);
    assert!(!out.status.success());
    assert!(text(&out).1.contains("unknown venue"), "{:?}", text(&out));

    // Missing file.
    let out = ladderfeed(&["replay", "/nonexistent/capture.gz"]);
    assert!(!out.status.success());
    assert!(text(&out).1.contains("/nonexistent/capture.gz"));

    // A gzip capture cut in the middle: what came before is replayed, the error names the
    // file, the exit status is non-zero.
    let full = std::fs::read(fixture("binance/hftbacktest_spot_btcusdt_20240808.gz")).unwrap();
    let cut = tmp("cut_binance.gz");
    std::fs::write(&cut, &full[..full.len() / 2]).unwrap();
    let json = tmp("cut.json");
    let out = ladderfeed(&[
        "replay",
        cut.to_str().unwrap(),
        "--venue",
        "binance",
        "--summary-json",
        json.to_str().unwrap(),
    ]);
    let (stdout, stderr) = text(&out);
    assert!(!out.status.success(), "{stdout}");
    assert!(stderr.contains("cut_binance.gz"), "{stderr}");
    let s = summary(&json);
    let n = s["messages"].as_u64().unwrap();
    assert!(n > 10_000 && n < 41_249, "{n}");
    assert_eq!(s["symbols"]["binance:BTCUSDT"]["crossed_published"], 0);
}

#[test]
fn configured_ticks_reach_the_books_of_replay_and_check() {
    // The built-in tick of Binance BTCUSDT is 0.01; configured 0.001 (finer: every price is
    // still a whole number of ticks) from an instruments file, and from a TOML config.
    let default = tmp("default.json");
    let out = ladderfeed(&["replay", "--summary-json", default.to_str().unwrap()]);
    assert!(out.status.success(), "{:?}", text(&out));
    let b = &summary(&default)["symbols"]["binance:BTCUSDT"];
    assert_eq!(
        (b["tick"].as_str(), b["instrument_source"].as_str()),
        (Some("0.01"), Some("builtin"))
    );

    let list = tmp("instruments.txt");
    std::fs::write(&list, "# a finer tick\nbinance:BTCUSDT 0.001 0.000001\n").unwrap();
    let toml = tmp("config.toml");
    std::fs::write(
        &toml,
        "[[instrument]]\nvenue = \"binance\"\nsymbol = \"BTCUSDT\"\ntick = \"0.001\"\nlot = \"0.000001\"\n",
    )
    .unwrap();
    for (flag, file) in [("--instruments", &list), ("--config", &toml)] {
        let json = tmp("configured.json");
        let bbo = tmp("configured_bbo.csv");
        let out = ladderfeed(&[
            "replay",
            flag,
            file.to_str().unwrap(),
            "--window-ticks",
            "4096",
            "--summary-json",
            json.to_str().unwrap(),
            "--bbo-out",
            bbo.to_str().unwrap(),
        ]);
        let (stdout, stderr) = text(&out);
        assert!(out.status.success(), "{flag}: {stdout}\n{stderr}");
        let s = summary(&json);
        let b = &s["symbols"]["binance:BTCUSDT"];
        assert_eq!(b["tick"], "0.001", "{flag}: {b}");
        assert_eq!(b["lot"], "0.000001", "{flag}: {b}");
        assert_eq!(b["instrument_source"], "configured", "{flag}");
        // The same book: same final BBO, no error, no gap.
        assert_eq!((b["bid_px"].as_str(), b["ask_px"].as_str()), (Some("61685.99"), Some("61686")));
        assert_eq!(s["errors"], 0);
        assert_eq!(b["gaps"], 0);
    }

    // A coarser tick than the venue's prices reaches `check` too: their prices are refused.
    let coarse = tmp("coarse.txt");
    std::fs::write(&coarse, "binance:BTCUSDT 1 0.00001\n").unwrap();
    let bundled = fixture("binance/hftbacktest_spot_btcusdt_20240808.gz");
    let clean = ladderfeed(&["check", &bundled]);
    assert_eq!(clean.status.code(), Some(0), "{:?}", text(&clean));
    let out = ladderfeed(&["check", "--instruments", coarse.to_str().unwrap(), &bundled]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(stdout.contains("number"), "{stdout}");

    // A bad line is a clear error with its place.
    std::fs::write(&coarse, "binance:BTCUSDT 0.01\n").unwrap();
    let out = ladderfeed(&["replay", "--instruments", coarse.to_str().unwrap()]);
    let (_, stderr) = text(&out);
    assert!(!out.status.success());
    assert!(stderr.contains("coarse.txt:1"), "{stderr}");
}

#[test]
fn an_error_reads_once() {
    // A directory where a capture should be: the cause once, the path once.
    let dir = std::env::temp_dir();
    let dir = dir.to_str().unwrap();
    for args in [vec!["replay", dir], vec!["convert", dir, "/nonexistent/out.lfc"]] {
        let out = ladderfeed(&args);
        let (_, stderr) = text(&out);
        assert!(!out.status.success(), "{args:?}");
        assert_eq!(stderr.matches("Is a directory").count(), 1, "{args:?}: {stderr}");
        assert_eq!(stderr.matches(dir).count(), 1, "{args:?}: {stderr}");
    }
}

/// The bundled Binance USD-M capture, one symbol, rewritten in hftbacktest's collector format
/// (`<ns> <json>` lines, the REST snapshot a line of its own, no URL anywhere), gzip.
fn futures_as_hftbacktest(name: &str) -> PathBuf {
    use std::io::Write as _;
    let mut lines: Vec<(u64, Vec<u8>)> = Vec::new();
    for file in
        ["binance/cryptofeed_BINANCE_FUTURES.http.0.0", "binance/cryptofeed_BINANCE_FUTURES.ws.1.0"]
    {
        for r in ladderfeed::capture::open(Path::new(&fixture(file))).unwrap() {
            let r = r.unwrap();
            let keep = match r.kind {
                ladderfeed::capture::RecordKind::Http => r.url.contains("symbol=SUSHIUSDT"),
                ladderfeed::capture::RecordKind::Recv => {
                    r.payload.starts_with(b"{\"stream\":\"sushiusdt@")
                }
                _ => false,
            };
            if keep {
                lines.push((r.local_ts, r.payload.clone()));
            }
        }
    }
    lines.sort_by_key(|(ts, _)| *ts);
    let path = tmp(name);
    let mut gz = flate2::write::GzEncoder::new(
        std::fs::File::create(&path).unwrap(),
        flate2::Compression::fast(),
    );
    for (ts, payload) in &lines {
        gz.write_all(format!("{ts} ").as_bytes()).unwrap();
        gz.write_all(payload).unwrap();
        gz.write_all(b"\n").unwrap();
    }
    gz.finish().unwrap();
    path
}

#[test]
fn content_tells_the_venue_and_a_misleading_name_does_not() {
    // A USD-M capture under a name that says spot, and under one that says nothing.
    for name in ["binance_spot_btcusdt_20240808.gz", "eth_gap.gz"] {
        let path = futures_as_hftbacktest(name);
        let json = tmp(&format!("{name}.json"));
        let out = ladderfeed(&[
            "replay",
            path.to_str().unwrap(),
            "--summary-json",
            json.to_str().unwrap(),
        ]);
        let (stdout, stderr) = text(&out);
        assert!(out.status.success(), "{name}: {stdout}\n{stderr}");
        assert!(
            stdout.contains(
                "venue        binance-futures, told by its messages: depth updates carry `pu`"
            ),
            "{name}: {stdout}"
        );
        let s = summary(&json);
        let b = &s["symbols"]["binance-futures:SUSHIUSDT"];
        assert_eq!(b["state"], "synced", "{name}: {b}");
        assert_eq!(b["gaps"], 0, "{name}: {b}");
        assert!(b["book_messages"].as_u64().unwrap() > 10, "{name}: {b}");
    }
    // Forced to the wrong market, the run says so instead of one silent gap.
    let path = futures_as_hftbacktest("forced.gz");
    let out = ladderfeed(&["replay", "--venue", "binance", path.to_str().unwrap()]);
    let (stdout, _) = text(&out);
    assert!(stdout.contains("frames follow another venue's rules"), "{stdout}");
    let out = ladderfeed(&["check", "--venue", "binance", path.to_str().unwrap()]);
    let (stdout, _) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("frames follow another venue's rules than binance"), "{stdout}");
}

#[test]
fn a_finer_price_late_in_a_learned_okx_book_is_kept_exactly() {
    // The bundled OKX capture, its UNI-USD-SWAP book renamed to an instrument ladderfeed has
    // no tick for (so its tick is learned from the snapshot: 0.001), and the book's last
    // update given one more level with a finer price, 5.1385 (its checksum field dropped: the
    // venue's would cover the new level). Without refinement the frame is refused and the book
    // never comes back; with it the book stays synced and keeps the level exactly.
    let capture = std::fs::read_to_string(fixture("okx/cryptofeed_OKX.ws.1.0")).unwrap();
    let capture = capture.replace("UNI-USD-SWAP", "UNI-USD-220325-5-P");
    let mut lines: Vec<String> = capture.lines().map(str::to_owned).collect();
    let last = lines
        .iter()
        .rposition(|l| {
            l.contains("\"instId\":\"UNI-USD-220325-5-P\"") && l.contains("\"action\":\"update\"")
        })
        .unwrap();
    let l = &lines[last];
    let at = l.find("\"bids\":[").unwrap() + "\"bids\":[".len();
    let mut edited = format!("{}[\"5.1385\",\"7\",\"0\",\"1\"],{}", &l[..at], &l[at..]);
    let ck = edited.find(",\"checksum\":").unwrap();
    let end = ck + edited[ck + 1..].find(['}', ',']).unwrap() + 1;
    edited.replace_range(ck..end, "");
    lines[last] = edited;
    let path = tmp("cryptofeed_OKX.ws.1.0");
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    let json = tmp("okx_refined.json");
    let out =
        ladderfeed(&["replay", path.to_str().unwrap(), "--summary-json", json.to_str().unwrap()]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let s = summary(&json);
    let b = &s["symbols"]["okx:UNI-USD-220325-5-P"];
    assert_eq!(b["state"], "synced", "{b}");
    assert_eq!(
        (b["tick"].as_str(), b["instrument_source"].as_str()),
        (Some("0.0001"), Some("learned")),
        "{b}"
    );
    assert_eq!((b["bid_px"].as_str(), b["bid_qty"].as_str()), (Some("5.1385"), Some("7")), "{b}");
    assert_eq!(b["checksum_failed"], 0, "{b}");
    assert_eq!(b["gaps"], 0, "{b}");
    // The one error is a trade that came before the renamed instrument's first book message
    // (nothing knows its tick yet): no number was refused.
    assert!(!stderr.contains("bad number"), "{stderr}");
    assert!(s["errors"].as_u64().unwrap() <= 1, "{s}");
}

#[test]
fn binance_coinm_stays_synced_across_the_midnight_split() {
    // hftbacktest's collector split one Binance COIN-M session at midnight: the second file
    // has no snapshot and continues the first's `pu` chain. Replayed in order, the book bridges
    // from the first file's REST snapshot and stays synced across the boundary; the venue is
    // told by the messages (`ps`, the contract's pair), not by the file names.
    let first = fixture("binance/hftbacktest_cm_btcusd_perp_20240808.gz");
    let second = fixture("binance/hftbacktest_cm_btcusd_perp_20240809.gz");
    let json = tmp("coinm.json");
    let out = ladderfeed(&[
        "replay",
        &first,
        &second,
        "--no-progress",
        "--summary-json",
        json.to_str().unwrap(),
    ]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("venue        binance-coinm, told by its messages"), "{stdout}");
    let s = summary(&json);
    let b = &s["symbols"]["binance-coinm:BTCUSD_PERP"];
    assert_eq!(
        (b["state"].as_str(), b["gaps"].as_u64(), b["resyncs"].as_u64()),
        (Some("synced"), Some(0), Some(0)),
        "{b}"
    );
    assert!(b["book_messages"].as_u64().unwrap() > 40_000, "{b}");
    // The final book is the venue's: its last bookTicker says the same.
    assert!(stdout.contains("venue's last ticker 61600 / 61600.1: matches the book"), "{stdout}");
    // The second file alone never gets a snapshot: no book starts, and every depth update
    // is counted as waiting for one.
    let json2 = tmp("coinm2.json");
    let out = ladderfeed(&[
        "replay",
        &second,
        "--no-progress",
        "--summary-json",
        json2.to_str().unwrap(),
    ]);
    let (stdout, _) = text(&out);
    assert!(stdout.contains(" 17948 waiting for a snapshot"), "{stdout}");
    assert_eq!(summary(&json2)["symbols"], serde_json::json!({}));
}

#[test]
fn deribit_options_take_their_ticks_from_the_recorded_instrument_answers() {
    // cryptofeed recorded Deribit's `public/get_instruments` answers beside the capture
    // (`cryptofeed_DERIBIT.0`): every option book resolves with the venue's tick (0.0005) and
    // amount step (0.1 BTC, 1 ETH), syncs, and ends on the venue's own last ticker.
    let file = fixture("deribit/cryptofeed_DERIBIT.ws.1.0");
    let json = tmp("deribit.json");
    let out =
        ladderfeed(&["replay", &file, "--no-progress", "--summary-json", json.to_str().unwrap()]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains(
            "instruments  1017 rows of the venue's reference data recorded in the capture"
        ),
        "{stdout}"
    );
    let s = summary(&json);
    let books = s["symbols"].as_object().unwrap();
    assert_eq!(books.len(), 10);
    for (k, b) in books {
        assert_eq!(
            (b["state"].as_str(), b["instrument_source"].as_str()),
            (Some("synced"), Some("venue")),
            "{k}: {b}"
        );
        assert_eq!(b["tick"], "0.0005", "{k}");
        let lot = if k.starts_with("deribit:BTC") { "0.1" } else { "1" };
        assert_eq!(b["lot"], lot, "{k}");
    }
    assert_eq!(
        stdout.matches("venue's last ticker").count(),
        stdout.matches(": matches the book").count()
    );
    assert!(!stdout.contains("differs"), "{stdout}");
}

#[test]
fn bitmex_2021_rows_without_prices_take_them_from_their_level_ids() {
    // cryptofeed's 2021 BitMEX capture: `update` and `delete` rows carry no `price` (the
    // protocol of the time), only the level `id` a `partial` or `insert` row priced. Every book
    // resolves with the venue's tick and lot from the recorded `instrument/active` answer,
    // stays synced, and ends on the book an independent reading of the capture builds (serde
    // values and an id → level map, sizes in contracts).
    let file = fixture("bitmex/cryptofeed_BITMEX.ws.1.0");
    let json = tmp("bitmex.json");
    let out =
        ladderfeed(&["replay", &file, "--no-progress", "--summary-json", json.to_str().unwrap()]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout
            .contains("instruments  34 rows of the venue's reference data recorded in the capture"),
        "{stdout}"
    );
    assert!(stdout.contains(" 0 waiting for a snapshot, 0 errors"), "{stdout}");

    // The independent reading: id → (bid, price, size) per symbol.
    type Levels = std::collections::HashMap<u64, (bool, f64, f64)>;
    let mut books: std::collections::BTreeMap<String, Levels> = Default::default();
    let capture = std::fs::read_to_string(&file).unwrap();
    for line in capture.lines().filter(|l| l.contains(r#""table":"orderBookL2""#)) {
        let v: Value = serde_json::from_str(line.split_once(": ").unwrap().1).unwrap();
        let action = v["action"].as_str().unwrap();
        for r in v["data"].as_array().unwrap() {
            let book = books.entry(r["symbol"].as_str().unwrap().to_owned()).or_default();
            let id = r["id"].as_u64().unwrap();
            let bid = r["side"] == "Buy";
            match action {
                "partial" | "insert" => {
                    let (p, q) = (r["price"].as_f64().unwrap(), r["size"].as_f64().unwrap());
                    assert!(book.insert(id, (bid, p, q)).is_none(), "{line}");
                }
                "update" => {
                    assert!(r.get("price").is_none(), "the 2021 protocol: {line}");
                    book.get_mut(&id).unwrap().2 = r["size"].as_f64().unwrap();
                }
                _ => {
                    book.remove(&id).unwrap();
                }
            }
        }
    }
    let s = summary(&json);
    let got = s["symbols"].as_object().unwrap();
    assert_eq!(got.len(), books.len());
    assert_eq!(books.len(), 10);
    let num = |v: &Value| v.as_str().unwrap().parse::<f64>().unwrap();
    for (sym, levels) in &books {
        let b = &got[&format!("bitmex:{sym}")];
        assert_eq!(
            (b["state"].as_str(), b["instrument_source"].as_str(), b["gaps"].as_u64()),
            (Some("synced"), Some("venue"), Some(0)),
            "{sym}: {b}"
        );
        let best = |want_bid: bool| {
            let side = levels.values().filter(|l| l.0 == want_bid);
            let pick = side.fold(None::<(f64, f64)>, |acc, l| match acc {
                Some(a) if (want_bid && a.0 >= l.1) || (!want_bid && a.0 <= l.1) => Some(a),
                _ => Some((l.1, l.2)),
            });
            pick.unwrap()
        };
        assert_eq!((num(&b["bid_px"]), num(&b["bid_qty"])), best(true), "{sym}: {b}");
        assert_eq!((num(&b["ask_px"]), num(&b["ask_qty"])), best(false), "{sym}: {b}");
    }
    // The venue's tick and lot (contracts) from its reference data.
    let xbt = &got["bitmex:XBTUSD"];
    assert_eq!((xbt["tick"].as_str(), xbt["lot"].as_str()), (Some("0.5"), Some("100")));
}

/// A JSON number as the shortest decimal text that reads back as the same `f64`, without an
/// exponent (Rust's `Display`): the capture's numbers are short decimals, so this is the
/// text the sinks print from the exact wire text.
fn decimal(v: &Value) -> String {
    format!("{}", v.as_f64().unwrap())
}

/// Reads a CSV sink (header, rows) into field lists.
fn csv_rows(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines().map(|l| l.split(',').map(str::to_owned).collect::<Vec<_>>());
    (lines.next().unwrap(), lines.collect())
}

#[test]
fn deribit_tickers_fill_the_funding_file() {
    // The Deribit capture subscribes `ticker.*.raw` for its options: each ticker carries the
    // mark and index prices and the open interest (no funding on options). Every ticker of an
    // instrument the connection knows (its book or trades came first) gives two rows (mark and
    // index, then open interest), each with the instrument's latest values: compared here with
    // the capture's own numbers, read independently with serde_json.
    let file = fixture("deribit/cryptofeed_DERIBIT.ws.1.0");
    let (csv, jsonl) = (tmp("deribit-funding.csv"), tmp("deribit-funding.jsonl"));
    let (liq, bbo_new, bbo_old) =
        (tmp("deribit-liq.csv"), tmp("deribit-bbo-new.csv"), tmp("deribit-bbo-old.csv"));
    for (funding, bbo) in [(&csv, &bbo_new), (&jsonl, &bbo_old)] {
        let out = ladderfeed(&[
            "replay",
            &file,
            "--no-progress",
            "--funding-out",
            funding.to_str().unwrap(),
            "--liquidations-out",
            liq.to_str().unwrap(),
            "--bbo-out",
            bbo.to_str().unwrap(),
        ]);
        let (stdout, stderr) = text(&out);
        assert!(out.status.success(), "{stdout}\n{stderr}");
    }
    let mut known = std::collections::HashSet::new();
    let mut expected = Vec::new();
    let mut last_oi = std::collections::HashMap::new();
    for line in std::fs::read_to_string(&file).unwrap().lines() {
        let Some((_, json)) = line.split_once(": {") else { continue };
        let Ok(v) = serde_json::from_str::<Value>(&format!("{{{json}")) else { continue };
        let (Some(channel), Some(data)) =
            (v["params"]["channel"].as_str(), v.get("params").and_then(|p| p.get("data")))
        else {
            continue;
        };
        if channel.starts_with("book.") {
            known.insert(data["instrument_name"].as_str().unwrap().to_owned());
        } else if channel.starts_with("trades.") {
            for t in data.as_array().unwrap() {
                known.insert(t["instrument_name"].as_str().unwrap().to_owned());
            }
        } else if channel.starts_with("ticker.") {
            let name = data["instrument_name"].as_str().unwrap().to_owned();
            if !known.contains(&name) {
                continue;
            }
            let (mark, index, oi) = (
                decimal(&data["mark_price"]),
                decimal(&data["index_price"]),
                decimal(&data["open_interest"]),
            );
            let before = last_oi.insert(name.clone(), oi.clone()).unwrap_or_default();
            expected.push(vec![name.clone(), mark.clone(), index.clone(), String::new(), before]);
            expected.push(vec![name, mark, index, String::new(), oi]);
        }
    }
    assert!(expected.len() > 50, "the capture has tickers: {}", expected.len());
    let (header, rows) = csv_rows(&csv);
    assert_eq!(
        header,
        [
            "local_ts",
            "exch_ts",
            "venue",
            "symbol",
            "mark_px",
            "index_px",
            "funding_rate",
            "next_funding_ts",
            "open_interest",
            "state"
        ]
    );
    let got: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            assert_eq!(r[2], "deribit");
            assert!(r[7].is_empty(), "options have no funding: {r:?}");
            vec![r[3].clone(), r[4].clone(), r[5].clone(), r[6].clone(), r[8].clone()]
        })
        .collect();
    assert_eq!(got, expected);
    // The JSON lines file carries the same rows.
    let lines = std::fs::read_to_string(&jsonl).unwrap();
    let json: Vec<Value> = lines.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(json.len(), rows.len());
    let cell = |t: &str| if t.is_empty() { Value::Null } else { Value::from(t) };
    for (j, r) in json.iter().zip(&rows) {
        assert_eq!(j["symbol"], r[3].as_str());
        assert_eq!((&j["mark_px"], &j["index_px"]), (&cell(&r[4]), &cell(&r[5])));
        assert_eq!(j["open_interest"], cell(&r[8]));
        assert_eq!(j["funding_rate"], Value::Null);
        assert_eq!(j["local_ts"].as_u64().unwrap().to_string(), r[0]);
    }
    // No liquidations in this capture: a header only. The BBO file does not change with the
    // derivatives files asked for or not.
    assert_eq!(csv_rows(&liq).1.len(), 0);
    assert_eq!(std::fs::read(&bbo_new).unwrap(), std::fs::read(&bbo_old).unwrap());
}

#[test]
fn binance_futures_mark_price_and_liquidations_reach_their_files() {
    // No bundled capture has Binance's `markPrice` or `forceOrder` streams: this capture is
    // hand-written in hftbacktest's format (receive ns, then the frame) from the documented
    // examples of Binance's USD-M futures streams (Mark Price, Liquidation Order), behind a
    // depth update and a REST snapshot that bridge a book for BTCUSDT.
    let frames = [
        r#"{"stream":"btcusdt@depth@0ms","data":{"e":"depthUpdate","E":1562305379990,"T":1562305379990,"s":"BTCUSDT","U":101,"u":102,"pu":100,"b":[["11794.10","5"]],"a":[["11794.20","3"]]}}"#,
        r#"{"lastUpdateId":101,"E":1562305379995,"T":1562305379995,"symbol":"BTCUSDT","bids":[["11794.10","4"]],"asks":[["11794.20","3"]]}"#,
        r#"{"stream":"btcusdt@markPrice@1s","data":{"e":"markPriceUpdate","E":1562305380000,"s":"BTCUSDT","p":"11794.15000000","i":"11784.62659091","P":"11784.25641265","r":"0.00038167","T":1562306400000}}"#,
        r#"{"stream":"btcusdt@forceOrder","data":{"e":"forceOrder","E":1568014460893,"o":{"s":"BTCUSDT","S":"SELL","o":"LIMIT","f":"IOC","q":"0.014","p":"9910","ap":"9910","X":"FILLED","l":"0.014","z":"0.014","T":1568014460893}}}"#,
        r#"{"stream":"ethusdt@forceOrder","data":{"e":"forceOrder","E":1568014460894,"o":{"s":"ETHUSDT","S":"BUY","o":"LIMIT","f":"IOC","q":"1.5","p":"180.1","ap":"180.1","X":"FILLED","l":"1.5","z":"1.5","T":1568014460894}}}"#,
    ];
    let capture = tmp("binance-derivs.hftbacktest");
    let base = 1_562_305_380_000_000_000u64;
    let body: String =
        frames.iter().enumerate().map(|(i, f)| format!("{} {f}\n", base + i as u64)).collect();
    std::fs::write(&capture, body).unwrap();
    let (funding, liq, json) = (tmp("bf-funding.csv"), tmp("bf-liq.jsonl"), tmp("bf.json"));
    let out = ladderfeed(&[
        "replay",
        capture.to_str().unwrap(),
        "--venue",
        "binance-futures",
        "--no-progress",
        "--funding-out",
        funding.to_str().unwrap(),
        "--liquidations-out",
        liq.to_str().unwrap(),
        "--summary-json",
        json.to_str().unwrap(),
    ]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let (_, rows) = csv_rows(&funding);
    let mark_ts = (base + 2).to_string();
    let want_mark = [&mark_ts, "1562305380000000000", "binance-futures", "BTCUSDT"];
    assert_eq!(rows.len(), 2, "{rows:?}");
    for r in &rows {
        assert_eq!(&r[..4], want_mark);
        assert_eq!(r[9], "synced");
    }
    // First the mark and index, then the funding too: every digit the venue sent.
    assert_eq!(rows[0][4..9], ["11794.15", "11784.62659091", "", "", ""]);
    assert_eq!(rows[1][4..9], ["11794.15", "11784.62659091", "0.00038167", "1562306400000", ""]);
    let lines = std::fs::read_to_string(&liq).unwrap();
    let l: Vec<Value> = lines.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    // ETHUSDT is not this connection's: skipped (counted by the engine), not written.
    assert_eq!(l.len(), 1, "{lines}");
    assert_eq!(l[0]["symbol"], "BTCUSDT");
    assert_eq!(l[0]["side"], "sell");
    assert_eq!((l[0]["price"].as_str(), l[0]["quantity"].as_str()), (Some("9910"), Some("0.014")));
    assert_eq!(l[0]["exch_ts"].as_u64(), Some(1_568_014_460_893_000_000));
    assert_eq!(l[0]["local_ts"].as_u64(), Some(base + 3));
    // The summary counts them: one funding, one mark/index, one liquidation; ETHUSDT's skipped.
    let s: Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let b = &s["symbols"]["binance-futures:BTCUSDT"];
    let counts = ["funding", "mark_index", "open_interest", "liquidations"].map(|k| &b[k]);
    assert_eq!(counts, [1, 1, 0, 1].map(Value::from).each_ref(), "{s}");
    assert_eq!(s["derivatives_unknown_symbol"], 1);
    assert!(
        stdout.contains("derivatives  funding 1  mark/index 1  open interest 0  liquidations 1"),
        "{stdout}"
    );
    assert!(stdout.contains("derivatives  1 entries skipped"), "{stdout}");
}

#[test]
fn the_summary_counts_the_derivatives_records() {
    // The Deribit capture's tickers: per instrument the consumer received one mark/index and
    // one open interest record a ticker of an instrument the connection knows (its book or
    // trades came first); the records of the others' tickers are skipped and counted. Both
    // counted here from the capture with serde_json.
    let file = fixture("deribit/cryptofeed_DERIBIT.ws.1.0");
    let mut known = std::collections::HashSet::new();
    let mut tickers: std::collections::BTreeMap<String, u64> = Default::default();
    let mut unknown = 0u64;
    for line in std::fs::read_to_string(&file).unwrap().lines() {
        let Some((_, json)) = line.split_once(": {") else { continue };
        let Ok(v) = serde_json::from_str::<Value>(&format!("{{{json}")) else { continue };
        let (Some(channel), Some(data)) =
            (v["params"]["channel"].as_str(), v.get("params").and_then(|p| p.get("data")))
        else {
            continue;
        };
        let names: Vec<&str> = match data.as_array() {
            Some(a) => a.iter().filter_map(|t| t["instrument_name"].as_str()).collect(),
            None => data["instrument_name"].as_str().into_iter().collect(),
        };
        if channel.starts_with("book.") || channel.starts_with("trades.") {
            known.extend(names.into_iter().map(str::to_owned));
        } else if channel.starts_with("ticker.") {
            for n in names {
                if known.contains(n) {
                    *tickers.entry(format!("deribit:{n}")).or_default() += 1;
                } else {
                    // Each record the ticker would give is one skipped entry: mark and
                    // index, and open interest and funding where the ticker has them.
                    let has = |k: &str| data.get(k).is_some_and(|v| !v.is_null());
                    unknown += 1 + u64::from(has("open_interest")) + u64::from(has("funding_8h"));
                }
            }
        }
    }
    assert!(tickers.len() > 3, "{tickers:?}");
    let json = tmp("deribit-summary.json");
    let out =
        ladderfeed(&["replay", &file, "--no-progress", "--summary-json", json.to_str().unwrap()]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let s: Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(s["derivatives_unknown_symbol"].as_u64(), Some(unknown));
    for (key, sym) in s["symbols"].as_object().unwrap() {
        let n = tickers.get(key).copied().unwrap_or(0);
        let counts: Vec<u64> = ["funding", "mark_index", "open_interest", "liquidations"]
            .iter()
            .map(|k| sym[k].as_u64().unwrap_or_else(|| panic!("{key}: no {k}: {sym}")))
            .collect();
        assert_eq!(counts, [0, n, n, 0], "{key}");
        // The text names the counts of a book that has them, only then.
        let head = format!("{key}  ");
        let block: String = stdout
            .split('\n')
            .skip_while(|l| !l.starts_with(&head))
            .skip(1)
            .take_while(|l| l.starts_with("    "))
            .collect::<Vec<_>>()
            .join("\n");
        let want =
            format!("derivatives  funding 0  mark/index {n}  open interest {n}  liquidations 0");
        assert_eq!(block.contains(&want), n > 0, "{key}: {block}");
    }
    if unknown > 0 {
        let want = format!("derivatives  {unknown} entries skipped");
        assert!(stdout.contains(&want), "{stdout}");
    }
    // A capture without derivatives data: no derivatives line, zeros in the JSON.
    let json = tmp("okx-summary.json");
    let okx = fixture("okx/cryptofeed_OKX.ws.1.0");
    let out =
        ladderfeed(&["replay", &okx, "--no-progress", "--summary-json", json.to_str().unwrap()]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(!stdout.contains("derivatives"), "{stdout}");
    let s: Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(s["derivatives_unknown_symbol"].as_u64(), Some(0));
    assert!(s["symbols"].as_object().unwrap().values().all(|v| v["liquidations"] == 0));
}

/// Every bundled Binance capture (spot, USD-M, COIN-M) replays to the same bytes with the
/// scanner as with simd-json alone: BBO, depth (5 levels) and trades, CSV and JSONL.
#[test]
fn binance_captures_replay_identically_with_the_scanner_and_with_simd_json() {
    for file in [
        "binance/cryptofeed_BINANCE.ws.1.0",
        "binance/cryptofeed_BINANCE_FUTURES.ws.1.0",
        "binance/hftbacktest_spot_btcusdt_20240808.gz",
        "binance/hftbacktest_cm_btcusd_perp_20240808.gz",
        "binance/hftbacktest_cm_btcusd_perp_20240809.gz",
    ] {
        let path = fixture(file);
        let tag = file.replace(['/', '.'], "_");
        let (js, jt) = (tmp(&format!("{tag}-scan.json")), tmp(&format!("{tag}-tape.json")));
        let scan = sinks(
            &path,
            &format!("{tag}-scan"),
            &["--parser", "scan", "--summary-json", js.to_str().unwrap()],
        );
        let tape = sinks(
            &path,
            &format!("{tag}-tape"),
            &["--parser", "simd-json", "--summary-json", jt.to_str().unwrap()],
        );
        // The 20240809 COIN-M capture holds no REST snapshot: no book syncs under either
        // parser (only the sinks' headers are written); its errors and counters still compare.
        if !file.ends_with("20240809.gz") {
            assert!(scan[0].len() > 200 && scan[2].len() > 200, "{file}: BBO or depth empty");
        }
        for (i, (x, y)) in scan.iter().zip(&tape).enumerate() {
            assert!(x == y, "{file}: sink {i} differs between --parser scan and simd-json");
        }
        let (s, t) = (summary(&js), summary(&jt));
        assert_eq!(t["scanner_fallbacks"], 0, "{file}: simd-json alone never falls back");
        let (fallbacks, messages) =
            (s["scanner_fallbacks"].as_u64().unwrap(), s["messages"].as_u64().unwrap());
        assert!(fallbacks < messages, "{file}: every frame fell back ({fallbacks})");
        for key in ["symbols", "messages", "errors", "foreign_frames"] {
            assert_eq!(s[key], t[key], "{file}: {key}");
        }
        eprintln!("{file}: {messages} messages, {fallbacks} scanner fallbacks");
    }
}

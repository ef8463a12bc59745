//! `ladderfeed convert` and `ladderfeed check` on real captures: a peer-format file and its
//! converted copy replay to identical bytes; the check finds problems planted in real
//! captures at the right positions, passes clean ones, and tells unreadable files apart.
#![cfg(feature = "cli")]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use ladderfeed::capture::{self, lfc, Format, Record, RecordKind};
use serde_json::Value;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn fixture(rel: &str) -> String {
    format!("{ROOT}/fixtures/{rel}")
}

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ladderfeed-convert-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn ladderfeed(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ladderfeed")).args(args).output().unwrap()
}

fn text(out: &Output) -> String {
    format!("{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// Replays `file` with the BBO, depth and trade sinks and returns their bytes.
fn sink_bytes(file: &Path, tag: &str) -> Vec<Vec<u8>> {
    let names = ["bbo.csv", "depth.jsonl", "trades.csv"].map(|n| tmp(&format!("{tag}-{n}")));
    let out = ladderfeed(&[
        "replay",
        file.to_str().unwrap(),
        "--no-progress",
        "--bbo-out",
        names[0].to_str().unwrap(),
        "--depth-out",
        names[1].to_str().unwrap(),
        "--depth",
        "5",
        "--trades-out",
        names[2].to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}: {}", file.display(), text(&out));
    names.iter().map(|p| std::fs::read(p).unwrap()).collect()
}

#[test]
fn a_peer_file_and_its_converted_copy_replay_identically() {
    // A tardis raw file made from the Kraken capture (tardis has no sent frames or connects).
    let tardis = tmp("kraken_tardis.txt.gz");
    let out = ladderfeed(&[
        "convert",
        &fixture("kraken/cryptofeed_KRAKEN.ws.50.0"),
        tardis.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("cannot hold 1 sent, 1 connect"), "{}", text(&out));
    assert_eq!(capture::detect(&tardis).unwrap(), Format::TardisRaw);

    for (i, (file, venue, symbol)) in [
        (fixture("binance/hftbacktest_spot_btcusdt_20240808.gz"), "binance", "BTCUSDT"),
        // With its REST snapshots from the companion http file.
        (fixture("binance/cryptofeed_BINANCE_FUTURES.ws.1.0"), "binance-futures", "SUSHIUSDT"),
        (fixture("coinbase/cryptofeed-v3_COINBASE.jsonl.zst"), "coinbase", "ETH-USD"),
        (fixture("okx/cryptofeed_OKX.ws.1.0"), "okx", "BTC-USDT"),
        (tardis.to_str().unwrap().to_owned(), "kraken-v1", "XBT/CHF"),
    ]
    .into_iter()
    .enumerate()
    {
        let converted = tmp(&format!("converted{i}.lfc"));
        let out = ladderfeed(&["convert", &file, converted.to_str().unwrap()]);
        assert!(out.status.success(), "{file}: {}", text(&out));
        let header = lfc::read_header(&converted).unwrap();
        assert_eq!(header.venue, venue, "{file}");
        assert!(header.symbols.iter().any(|s| s == symbol), "{file}: {:?}", header.symbols);
        assert!(header.clock.starts_with("converted from"), "{}", header.clock);
        let a = sink_bytes(Path::new(&file), &format!("peer{i}"));
        let b = sink_bytes(&converted, &format!("lfc{i}"));
        assert!(a[0].len() > 500 && a[1].len() > 500, "{file}: sinks nearly empty");
        for (k, (x, y)) in a.iter().zip(&b).enumerate() {
            assert!(x == y, "{file}: sink {k} differs between the peer file and its .lfc copy");
        }
    }
}

#[test]
fn convert_keeps_what_came_before_damage_and_fails() {
    let full = std::fs::read(fixture("binance/hftbacktest_spot_btcusdt_20240808.gz")).unwrap();
    let cut = tmp("cut.gz");
    std::fs::write(&cut, &full[..full.len() / 3]).unwrap();
    let out_path = tmp("cut.lfc");
    let out = ladderfeed(&["convert", cut.to_str().unwrap(), out_path.to_str().unwrap()]);
    assert!(!out.status.success());
    let msg = text(&out);
    assert!(msg.contains("cut.gz") && msg.contains("truncated at line"), "{msg}");
    // The output is a finished .lfc holding every record read before the cut.
    let n = capture::open(&out_path).unwrap().collect::<Result<Vec<_>, _>>().unwrap().len();
    assert!(n > 5_000 && n < 41_249, "{n}");
    assert!(msg.contains(&format!("holds the {n} records before the damage")), "{msg}");

    // The output may not overwrite the input; a junk input is refused by name.
    let out = ladderfeed(&["convert", cut.to_str().unwrap(), cut.to_str().unwrap()]);
    assert!(!out.status.success() && text(&out).contains("overwrite"), "{}", text(&out));
    let junk = tmp("junk.bin");
    std::fs::write(&junk, [0u8, 1, 2, 3, 255]).unwrap();
    let out = ladderfeed(&["convert", junk.to_str().unwrap(), out_path.to_str().unwrap()]);
    assert!(!out.status.success() && text(&out).contains("junk.bin"), "{}", text(&out));
}

fn check_json(args: &[&str]) -> (i32, Value) {
    let mut all = vec!["check", "--json"];
    all.extend_from_slice(args);
    let out = ladderfeed(&all);
    let v = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&out)));
    (out.status.code().unwrap(), v)
}

#[test]
fn check_passes_clean_captures() {
    for file in [
        "binance/hftbacktest_spot_btcusdt_20240808.gz",
        "kraken/cryptofeed_KRAKEN.ws.50.0",
        "okx/cryptofeed_OKX.ws.1.0",
        "coinbase/cryptofeed_COINBASE.ws.28.0",
    ] {
        // Quiet symbols are not a problem at this threshold.
        let (code, v) = check_json(&["--stale-after", "600", &fixture(file)]);
        assert_eq!(code, 0, "{file}: {v}");
        let f = &v["files"][0];
        assert_eq!(f["status"], "ok", "{file}");
        assert!(f["problems"].as_array().unwrap().is_empty());
        assert!(f["records"].as_u64().unwrap() > 100);
        for s in f["symbols"].as_array().unwrap() {
            assert_eq!(s["gaps"]["count"], 0, "{file}");
            assert_eq!(s["checksums"]["failed"], 0, "{file}");
        }
    }
    // Kraken checks every book message's CRC32.
    let (_, v) = check_json(&[&fixture("kraken/cryptofeed_KRAKEN.ws.50.0")]);
    let ok: u64 = v["files"][0]["symbols"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["checksums"]["ok"].as_u64().unwrap())
        .sum();
    assert!(ok > 1000, "{ok}");
}

/// The records of `file`, as `<ns> <payload>` lines (the hftbacktest collector format).
fn records(file: &str) -> Vec<Record> {
    capture::open(Path::new(&fixture(file))).unwrap().map(|r| r.unwrap()).collect()
}

fn write_hftbacktest(path: &Path, recs: &[Record]) {
    let mut s = Vec::new();
    for r in recs {
        s.extend_from_slice(format!("{} ", r.local_ts).as_bytes());
        s.extend_from_slice(&r.payload);
        s.push(b'\n');
    }
    std::fs::write(path, s).unwrap();
}

#[test]
fn check_finds_planted_problems_where_they_are() {
    let mut recs = records("binance/hftbacktest_spot_btcusdt_20240808.gz");
    let is_depth = |r: &Record| r.payload.windows(13).any(|w| w == b"\"depthUpdate\"");
    // Drop a depth update in the middle: the next one is a gap.
    let dropped = (20_000..).find(|&i| is_depth(&recs[i])).unwrap();
    recs.remove(dropped);
    let gap_at = (dropped..).find(|&i| is_depth(&recs[i])).unwrap();
    // A record stamped earlier than the one before it.
    let back_at = 30_000;
    recs[back_at].local_ts = recs[back_at - 1].local_ts - 5_000_000;
    // A line that is not JSON.
    let junk_at = 35_000;
    recs.insert(
        junk_at,
        Record {
            local_ts: recs[junk_at - 1].local_ts,
            conn: 0,
            kind: RecordKind::Recv,
            url: String::new(),
            payload: b"{\"stream\":\"btcusdt@depth@100ms\",\"data\":{".to_vec(),
        },
    );
    let planted = tmp("planted_binance.txt");
    write_hftbacktest(&planted, &recs);

    let (code, v) = check_json(&["--venue", "binance", planted.to_str().unwrap()]);
    assert_eq!(code, 1, "{v}");
    let f = &v["files"][0];
    assert_eq!(f["status"], "problems");
    let s = &f["symbols"][0];
    assert_eq!(s["symbol"], "BTCUSDT");
    assert_eq!(s["gaps"]["count"], 1, "{s}");
    assert_eq!(s["gaps"]["at"][0]["record"], gap_at as u64, "{s}");
    assert_eq!(s["gaps"]["at"][0]["local_ts"], recs[gap_at].local_ts);
    assert!(s["resyncs"]["count"].as_u64().unwrap() >= 1, "{s}");
    assert_eq!(f["backwards"]["count"], 1, "{f}");
    assert_eq!(f["backwards"]["first"]["record"], back_at as u64);
    assert_eq!(f["malformed"]["count"], 1, "{f}");
    assert_eq!(f["malformed"]["first"][0]["record"], junk_at as u64, "{f}");
    let problems = f["problems"].as_array().unwrap();
    assert!(problems.len() >= 3, "{problems:?}");

    // The text report says the same, and a short stale threshold finds silences.
    let out = ladderfeed(&[
        "check",
        "--venue",
        "binance",
        "--stale-after",
        "2",
        planted.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let t = text(&out);
    assert!(t.contains("PROBLEM") && t.contains(&format!("record {gap_at}")), "{t}");
    assert!(t.contains("stale"), "{t}");
}

#[test]
fn check_finds_a_kraken_checksum_failure() {
    // Drop one book update of the Kraken capture: the next update's CRC32 no longer matches.
    let path = fixture("kraken/cryptofeed_KRAKEN.ws.50.0");
    let content = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = content.lines().collect();
    let victim = (lines.len() / 2..).find(|&i| lines[i].contains("\"c\":\"")).unwrap();
    let mut kept: Vec<&str> = lines.to_vec();
    kept.remove(victim);
    let planted = tmp("KRAKEN.ws.50.0");
    std::fs::write(&planted, kept.join("\n") + "\n").unwrap();
    let (code, v) = check_json(&[planted.to_str().unwrap()]);
    assert_eq!(code, 1, "{v}");
    let failed: u64 = v["files"][0]["symbols"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["checksums"]["failed"].as_u64().unwrap())
        .sum();
    assert!(failed >= 1, "{v}");
}

#[test]
fn check_tells_unreadable_files_apart() {
    let junk = tmp("junk.bin");
    std::fs::write(&junk, [0u8, 159, 146, 150]).unwrap();
    let out = ladderfeed(&["check", junk.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("junk.bin"));
    // A truncated capture: everything before the cut is checked, the cut is a problem.
    let full = std::fs::read(fixture("binance/hftbacktest_spot_btcusdt_20240808.gz")).unwrap();
    let cut = tmp("cut_check.gz");
    std::fs::write(&cut, &full[..full.len() / 2]).unwrap();
    let (code, v) = check_json(&["--venue", "binance", cut.to_str().unwrap()]);
    assert_eq!(code, 1, "{v}");
    let f = &v["files"][0];
    assert!(f["read_error"].is_object() || f["read_error"].is_string(), "{f}");
    assert!(f["records"].as_u64().unwrap() > 10_000);
}

//! The capture layer on real captures: every peer format read, converted to `.lfc` and read
//! back record for record; `.lfc` damage (a cut anywhere, a flipped byte) located and
//! everything before it kept; tardis raw written and read back.

use std::path::{Path, PathBuf};

use ladderfeed::capture::convert::{self, Target};
use ladderfeed::capture::{self, lfc, CaptureError, Format, Position, Record, RecordKind};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ladderfeed-capture-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// Every capture in fixtures/, with the format its provenance (SOURCES.md) gives.
fn fixtures() -> Vec<(PathBuf, Format)> {
    let f = |rel: &str, format| (Path::new(ROOT).join("fixtures").join(rel), format);
    vec![
        f("binance/cryptofeed_BINANCE.http.0.0", Format::CryptofeedRaw),
        f("binance/cryptofeed_BINANCE.ws.1.0", Format::CryptofeedRaw),
        f("binance/cryptofeed_BINANCE_FUTURES.http.0.0", Format::CryptofeedRaw),
        f("binance/cryptofeed_BINANCE_FUTURES.ws.1.0", Format::CryptofeedRaw),
        f("binance/hftbacktest_spot_btcusdt_20240808.gz", Format::Hftbacktest),
        f("bitfinex/cryptofeed_BITFINEX-58bafb.0", Format::CryptofeedRaw),
        f("bitfinex/marfusios_bitfinex_raw_2018-11-12.txt.gz", Format::Marfusios),
        f("coinbase/cryptofeed-v3_COINBASE.jsonl.zst", Format::CryptofeedV3),
        f("coinbase/cryptofeed-v3_COINBASE.ws-recv.jsonl.gz", Format::RecvLines),
        f("coinbase/cryptofeed_COINBASE.0", Format::CryptofeedRaw),
        f("coinbase/cryptofeed_COINBASE.ws.28.0", Format::CryptofeedRaw),
        f("gemini/cryptofeed-v3_GEMINI.jsonl.zst", Format::CryptofeedV3),
        f("gemini/cryptofeed-v3_GEMINI.ws-recv.jsonl", Format::RecvLines),
        f("gemini/cryptofeed_GEMINI.ws.1.0", Format::CryptofeedRaw),
        f("kraken/cryptofeed_KRAKEN.ws.48.0", Format::CryptofeedRaw),
        f("kraken/cryptofeed_KRAKEN.ws.50.0", Format::CryptofeedRaw),
        f("okx/cryptofeed_OKX.ws.1.0", Format::CryptofeedRaw),
    ]
}

fn read_all(path: &Path) -> (Vec<Record>, Option<CaptureError>) {
    let mut out = Vec::new();
    for r in capture::open(path).unwrap() {
        match r {
            Ok(rec) => out.push(rec),
            Err(e) => return (out, Some(e)),
        }
    }
    (out, None)
}

#[test]
fn every_fixture_is_detected_and_read_to_the_end() {
    for (path, format) in fixtures() {
        assert_eq!(capture::detect(&path).unwrap(), format, "{}", path.display());
        let (recs, err) = read_all(&path);
        assert!(err.is_none(), "{}: {err:?}", path.display());
        assert!(!recs.is_empty(), "{}", path.display());
    }
    // Counts from SOURCES.md: the hftbacktest file holds 41248 frames and one REST snapshot,
    // the Marfusios capture 1057704 frames.
    let (recs, _) = read_all(&fixtures()[4].0);
    assert_eq!(recs.len(), 41_249);
    assert_eq!(recs.iter().filter(|r| r.kind == RecordKind::Http).count(), 1);
    let mut marfusios = capture::open(&fixtures()[6].0).unwrap();
    let mut rec = Record::default();
    let mut n = 0;
    while marfusios.next_into(&mut rec).unwrap() {
        assert!(!rec.payload.is_empty() && !rec.payload.ends_with(b";"));
        n += 1;
    }
    assert_eq!(n, 1_057_704);
}

#[test]
fn every_fixture_round_trips_through_lfc_byte_for_byte() {
    for (i, (path, _)) in fixtures().into_iter().enumerate() {
        let out = tmp(&format!("rt{i}.lfc"));
        let mut header = lfc::Header::new("binance");
        header.symbols = vec!["BTCUSDT".into()];
        header.endpoints = vec!["wss://stream.binance.com:9443/stream".into()];
        header.clock = "test".into();
        let mut reader = capture::open(&path).unwrap();
        let done = convert::to_lfc(&mut reader, &out, &header).unwrap();
        assert!(done.error.is_none());
        assert_eq!(done.read, done.written);
        assert_eq!(capture::detect(&out).unwrap(), Format::Lfc);
        let back = lfc::read_header(&out).unwrap();
        assert_eq!(back.format_version, lfc::FORMAT_VERSION);
        assert_eq!(back.venue, "binance");
        assert_eq!(back.symbols, header.symbols);
        assert_eq!(back.endpoints, header.endpoints);
        assert_eq!(back.clock, "test");
        assert!(back.software.starts_with("ladderfeed "));
        // Both files read side by side, record for record.
        let mut a = capture::open(&path).unwrap();
        let mut b = capture::open(&out).unwrap();
        let (mut ra, mut rb) = (Record::default(), Record::default());
        let mut n = 0u64;
        loop {
            let more = a.next_into(&mut ra).unwrap();
            assert_eq!(more, b.next_into(&mut rb).unwrap(), "{}: record {n}", path.display());
            if !more {
                break;
            }
            assert!(ra == rb, "{}: record {n} differs", path.display());
            n += 1;
        }
        assert_eq!(n, done.written);
    }
}

/// Writes `n` synthetic records (every kind, payloads of varied sizes) in small blocks.
fn synthetic(path: &Path, n: u64) -> Vec<Record> {
    let mut w = lfc::Writer::create(path, &lfc::Header::new("okx")).unwrap();
    let mut recs = Vec::new();
    for i in 0..n {
        let kind = RecordKind::ALL[(i % 5) as usize];
        let rec = Record {
            local_ts: 1_700_000_000_000_000_000 + i * 1_000_003,
            conn: (i % 3) as u32,
            kind,
            url: if kind == RecordKind::Recv { String::new() } else { format!("wss://x/{i}") },
            // Some payloads larger than a block, some empty.
            payload: (0..(i * 7919 % 90_000) as usize)
                .map(|j| (j * 31 + i as usize) as u8)
                .collect(),
        };
        w.write(&rec).unwrap();
        if i % 10 == 9 {
            w.flush().unwrap();
        }
        recs.push(rec);
    }
    w.finish().unwrap();
    recs
}

/// The file offsets where each block starts, from the format's documented layout.
fn block_offsets(bytes: &[u8]) -> Vec<(usize, u32)> {
    let mut at = 16;
    let mut out = Vec::new();
    while at + 32 <= bytes.len() {
        assert_eq!(&bytes[at..at + 4], b"LFCB");
        let stored = u32::from_le_bytes(bytes[at + 12..at + 16].try_into().unwrap()) as usize;
        let count = u32::from_le_bytes(bytes[at + 20..at + 24].try_into().unwrap());
        out.push((at, count));
        at += 32 + stored;
    }
    assert_eq!(at, bytes.len());
    out
}

#[test]
fn a_cut_anywhere_keeps_every_complete_block_and_says_where() {
    let full = tmp("synthetic.lfc");
    let recs = synthetic(&full, 60);
    let (back, err) = read_all(&full);
    assert!(err.is_none());
    assert_eq!(back, recs);
    let bytes = std::fs::read(&full).unwrap();
    let blocks = block_offsets(&bytes);
    let cut_file = tmp("cut.lfc");
    // Cut at every block boundary and inside every block (and inside the prefix).
    let mut cuts: Vec<usize> = vec![3, 10];
    for &(at, _) in &blocks {
        cuts.extend([at, at + 5, at + 40]);
    }
    for cut in cuts.into_iter().filter(|&c| c < bytes.len()) {
        std::fs::write(&cut_file, &bytes[..cut]).unwrap();
        // Blocks wholly before the cut; the truncated one is the next (index = that count).
        let ends: Vec<usize> = blocks.iter().skip(1).map(|b| b.0).chain([bytes.len()]).collect();
        let complete = ends.iter().filter(|&&end| end <= cut).count();
        let whole: usize = blocks[..complete].iter().map(|b| b.1 as usize).sum();
        match capture::open(&cut_file) {
            Err(e) => {
                // Only a cut inside the prefix or the header block fails the open.
                assert!(cut < blocks[1].0, "cut {cut}: {e}");
                assert!(e.to_string().contains("cut.lfc"), "{e}");
            }
            Ok(reader) => {
                let mut got = Vec::new();
                let mut error = None;
                for r in reader {
                    match r {
                        Ok(rec) => got.push(rec),
                        Err(e) => error = Some(e),
                    }
                }
                assert_eq!(got.len(), whole, "cut at {cut}");
                assert_eq!(got[..], recs[..whole]);
                match error {
                    Some(CaptureError::Truncated {
                        path,
                        position: Position::Block { index, offset },
                    }) => {
                        assert!(path.ends_with("cut.lfc"));
                        assert_eq!(index as usize, complete);
                        assert_eq!(offset as usize, blocks[complete].0, "cut at {cut}");
                    }
                    other => panic!("cut at {cut}: {other:?}"),
                }
            }
        }
    }
}

#[test]
fn a_flipped_byte_is_found_in_its_block() {
    let full = tmp("flip.lfc");
    let recs = synthetic(&full, 40);
    let bytes = std::fs::read(&full).unwrap();
    let blocks = block_offsets(&bytes);
    let bad = tmp("flipped.lfc");
    // Damage the body, then the header, of the third records block.
    let (at, _) = blocks[3];
    for pos in [at + 32 + 10, at + 13] {
        let mut b = bytes.clone();
        b[pos] ^= 0x40;
        std::fs::write(&bad, &b).unwrap();
        let (got, err) = read_all(&bad);
        let before: usize = blocks[1..3].iter().map(|b| b.1 as usize).sum();
        assert_eq!(got[..], recs[..before]);
        match err {
            Some(CaptureError::Corrupt {
                position: Position::Block { index: 3, offset },
                why,
                ..
            }) => {
                assert_eq!(offset as usize, at);
                assert!(why.contains("checksum"), "{why}");
            }
            other => panic!("{other:?}"),
        }
    }
    // A file that stops after a complete block but has no end block: truncated, not silent.
    let (end_at, _) = *blocks.last().unwrap();
    std::fs::write(&bad, &bytes[..end_at]).unwrap();
    let (got, err) = read_all(&bad);
    assert_eq!(got, recs);
    assert!(matches!(err, Some(CaptureError::Truncated { .. })), "{err:?}");
    // Bytes after the end block.
    let mut extra = bytes.clone();
    extra.extend_from_slice(b"junk");
    std::fs::write(&bad, &extra).unwrap();
    let (got, err) = read_all(&bad);
    assert_eq!(got, recs);
    assert!(matches!(err, Some(CaptureError::Corrupt { .. })), "{err:?}");
}

#[test]
fn a_writer_that_dies_loses_only_its_open_block() {
    let path = tmp("crash.lfc");
    let mut w = lfc::Writer::create(&path, &lfc::Header::new("kraken")).unwrap();
    let rec = |i: u64| Record {
        local_ts: i,
        conn: 1,
        kind: RecordKind::Recv,
        url: String::new(),
        payload: format!("{{\"n\":{i}}}").into_bytes(),
    };
    for i in 0..100 {
        w.write(&rec(i)).unwrap();
    }
    w.flush().unwrap();
    for i in 100..150 {
        w.write(&rec(i)).unwrap();
    }
    // A crash: the process ends without finish (and without the open block).
    std::mem::forget(w);
    let (got, err) = read_all(&path);
    assert_eq!(got, (0..100).map(rec).collect::<Vec<_>>());
    assert!(matches!(err, Some(CaptureError::Truncated { .. })), "{err:?}");
}

#[test]
fn not_a_capture_is_a_clear_error() {
    let junk = tmp("junk.bin");
    std::fs::write(&junk, [0u8, 159, 146, 150, 1, 2, 3, 10]).unwrap();
    let e = capture::open(&junk).unwrap_err();
    assert!(matches!(e, CaptureError::Unknown(_)), "{e}");
    assert!(e.to_string().contains("junk.bin"));
    let e = capture::open(Path::new("/nonexistent/x.lfc")).unwrap_err();
    assert!(e.to_string().contains("/nonexistent/x.lfc"));
    // A tardis raw line with a broken timestamp names the line.
    let bad = tmp("bad.tardis");
    std::fs::write(
        &bad,
        "2024-08-08T23:54:13.9370857Z {\"a\":1}\n2024-08-08T2x:54:13.9370857Z {}\n",
    )
    .unwrap();
    let (got, err) = read_all(&bad);
    assert_eq!(got.len(), 1);
    assert!(matches!(err, Some(CaptureError::BadLine { line: 2, .. })), "{err:?}");
}

#[test]
fn tardis_raw_written_reads_back_to_100ns_with_disconnects() {
    // The Kraken capture: connect, subscribe (sent), frames. Add a disconnect in the middle.
    let src = Path::new(ROOT).join("fixtures/kraken/cryptofeed_KRAKEN.ws.50.0");
    let (mut recs, _) = read_all(&src);
    let mid = recs.len() / 2;
    // A tardis disconnect has no time of its own: it reads back at the previous line's.
    let ts = recs[mid - 1].local_ts;
    recs.insert(
        mid,
        Record {
            local_ts: ts,
            conn: 0,
            kind: RecordKind::Disconnect,
            url: String::new(),
            payload: vec![],
        },
    );
    let lfc_path = tmp("kraken.lfc");
    let mut w = lfc::Writer::create(&lfc_path, &lfc::Header::new("kraken-v1")).unwrap();
    for r in &recs {
        w.write(r).unwrap();
    }
    w.finish().unwrap();
    for name in ["kraken.txt", "kraken.txt.gz"] {
        let out = tmp(name);
        assert_eq!(Target::from_path(&out), Target::TardisRaw);
        let mut reader = capture::open(&lfc_path).unwrap();
        let done = convert::to_tardis(&mut reader, &out).unwrap();
        assert!(done.error.is_none());
        assert_eq!(done.skipped[RecordKind::Sent.index()], 1);
        assert_eq!(done.skipped[RecordKind::Connect.index()], 1);
        assert_eq!(capture::detect(&out).unwrap(), Format::TardisRaw);
        let (back, err) = read_all(&out);
        assert!(err.is_none(), "{err:?}");
        let kept: Vec<&Record> = recs
            .iter()
            .filter(|r| matches!(r.kind, RecordKind::Recv | RecordKind::Disconnect))
            .collect();
        assert_eq!(back.len(), kept.len());
        for (b, r) in back.iter().zip(kept) {
            assert_eq!(b.kind, r.kind);
            assert_eq!(b.payload, r.payload);
            assert_eq!(b.local_ts, r.local_ts / 100 * 100);
        }
    }
}

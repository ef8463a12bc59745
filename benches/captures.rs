//! The captures the producer and the peers' pipeline benchmarks run on, how they are loaded
//! (outside any timed region), and how both benches run ladderfeed over them. Included by path
//! from both benches.

use std::hint::black_box;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use ladderfeed::book::Venue;
use ladderfeed::capture::{self, Record, RecordKind};
use ladderfeed::engine::{Engine, Sink};
use ladderfeed::ring::feed::Subscription;
use ladderfeed::venue::Adapter;

/// One capture: its name in the tables, its venue, its file under `fixtures/`, and how many
/// of its records to keep.
pub struct Case {
    pub name: &'static str,
    pub venue: Venue,
    pub file: &'static str,
    pub limit: usize,
}

/// Every venue's capture: the bundled ones, the largest where there are several.
pub const CASES: &[Case] = &[
    Case {
        name: "binance_spot",
        venue: Venue::Binance,
        file: "binance/hftbacktest_spot_btcusdt_20240808.gz",
        limit: usize::MAX,
    },
    Case {
        name: "binance_futures",
        venue: Venue::BinanceFutures,
        file: "binance/cryptofeed_BINANCE_FUTURES.ws.1.0",
        limit: usize::MAX,
    },
    Case {
        name: "coinbase_advanced",
        venue: Venue::Coinbase,
        file: "coinbase/cryptofeed-v3_COINBASE.jsonl.zst",
        limit: usize::MAX,
    },
    Case {
        name: "coinbase_exchange",
        venue: Venue::CoinbaseExchange,
        file: "coinbase/cryptofeed_COINBASE.ws.28.0",
        limit: usize::MAX,
    },
    Case {
        name: "gemini_v2",
        venue: Venue::Gemini,
        file: "gemini/cryptofeed_GEMINI.ws.1.0",
        limit: usize::MAX,
    },
    Case {
        name: "kraken_v1",
        venue: Venue::KrakenV1,
        file: "kraken/cryptofeed_KRAKEN.ws.50.0",
        limit: usize::MAX,
    },
    Case { name: "okx", venue: Venue::Okx, file: "okx/cryptofeed_OKX.ws.1.0", limit: usize::MAX },
    Case {
        name: "bitfinex",
        venue: Venue::Bitfinex,
        file: "bitfinex/cryptofeed_BITFINEX-58bafb.0",
        limit: usize::MAX,
    },
    Case {
        name: "bitfinex_marfusios",
        venue: Venue::Bitfinex,
        file: "bitfinex/marfusios_bitfinex_raw_2018-11-12.txt.gz",
        limit: 200_000,
    },
    Case {
        name: "binance_coinm",
        venue: Venue::BinanceCoinM,
        file: "binance/hftbacktest_cm_btcusd_perp_20240808.gz",
        limit: usize::MAX,
    },
    Case {
        name: "bybit_linear",
        venue: Venue::BybitLinear,
        file: "bybit/bybit_history_2024-12-01_XRPUSDT_ob500.data",
        limit: usize::MAX,
    },
    Case {
        name: "deribit",
        venue: Venue::Deribit,
        file: "deribit/cryptofeed_DERIBIT.ws.1.0",
        limit: usize::MAX,
    },
    Case {
        name: "hyperliquid",
        venue: Venue::Hyperliquid,
        file: "hyperliquid/hftbacktest_hyperliquid_btcusd_20250126.gz",
        limit: usize::MAX,
    },
    Case {
        name: "bitmex",
        venue: Venue::Bitmex,
        file: "bitmex/cryptofeed_BITMEX.ws.1.0",
        limit: usize::MAX,
    },
    Case {
        name: "kraken_futures",
        venue: Venue::KrakenFutures,
        file: "krakenfutures/cryptofeed_KRAKEN_FUTURES.ws.1.0",
        limit: usize::MAX,
    },
];

/// The received frames and REST bodies of `case` (its companion files included), in order.
pub fn load(fixtures: &Path, case: &Case) -> Vec<Record> {
    let p = fixtures.join(case.file);
    let mut paths = capture::companions(&p);
    paths.push(p);
    paths.sort();
    paths.dedup();
    capture::open_merged(&paths)
        .expect("capture")
        .map(|r| r.expect("record"))
        .filter(|r| matches!(r.kind, RecordKind::Recv | RecordKind::Http))
        .take(case.limit)
        .collect()
}

/// One pass of `engine` over `recs` (frames and REST bodies) into `sink`. The caller ends the
/// connection (`Engine::disconnected`) when the next pass must resync as a replay does.
pub fn engine_pass<A: Adapter>(engine: &mut Engine<A>, recs: &[Record], sink: &mut impl Sink) {
    for r in recs {
        let _ = match r.kind {
            RecordKind::Recv => engine.handle_frame(&r.payload, r.local_ts, sink),
            _ => engine.handle_http(&r.url, &r.payload, r.local_ts, sink),
        };
    }
}

/// A consumer thread popping every event of `sub` until the returned flag is raised; it
/// returns how many it popped.
pub fn drain_in_background(mut sub: Subscription) -> (Arc<AtomicBool>, JoinHandle<u64>) {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    let handle = std::thread::spawn(move || {
        let mut seen = 0u64;
        while !flag.load(Ordering::Relaxed) {
            seen += sub.pop_batch(4096, |e| {
                black_box(e);
            }) as u64;
        }
        seen
    });
    (stop, handle)
}

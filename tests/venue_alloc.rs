//! Zero allocations per message in steady state, for every venue adapter through the engine:
//! after a warm-up over the first part of a real capture (snapshots, first sight of each
//! message shape), handling the rest of the capture allocates nothing. A counting global
//! allocator (`tests/counting`) wraps the system one; this file holds a single test so no
//! other test allocates while it counts.

mod common;
mod counting;

use std::sync::atomic::{AtomicU64, Ordering};

use ladderfeed::book::{InstrumentRegistry, Venue};
use ladderfeed::capture::{Record, RecordKind};
use ladderfeed::engine::{Engine, Sink};
use ladderfeed::event::Event;
use ladderfeed::venue::binance::Binance;
use ladderfeed::venue::bitfinex::Bitfinex;
use ladderfeed::venue::bybit::Bybit;
use ladderfeed::venue::coinbase::{CoinbaseAdvanced, CoinbaseExchange};
use ladderfeed::venue::deribit::Deribit;
use ladderfeed::venue::gemini::GeminiV2;
use ladderfeed::venue::kraken::KrakenV1;
use ladderfeed::venue::krakenfutures::KrakenFutures;
use ladderfeed::venue::okx::Okx;
use ladderfeed::venue::{Adapter, Parser, ScanControls};

static ALLOCS: AtomicU64 = AtomicU64::new(0);

/// A sink that keeps nothing, like a ring that has room.
#[derive(Default)]
struct Discard(u64);

impl Sink for Discard {
    fn publish(&mut self, _event: Event) {
        self.0 += 1;
    }
}

fn feed_range<A: Adapter>(engine: &mut Engine<A>, recs: &[Record], sink: &mut Discard) {
    for r in recs {
        let _ = match r.kind {
            RecordKind::Recv => engine.handle_frame(&r.payload, r.local_ts, sink),
            RecordKind::Http => engine.handle_http(&r.url, &r.payload, r.local_ts, sink),
            _ => Ok(()),
        };
    }
}

/// Warms up on the first `warm` fraction of the records, then counts allocations over the
/// rest. Returns (allocations, messages counted, events published while counting).
fn steady_state<A: Adapter>(mut engine: Engine<A>, files: &[&str], warm: f64) -> (u64, usize, u64) {
    let recs = common::records(files);
    let split = (recs.len() as f64 * warm) as usize;
    let mut sink = Discard::default();
    feed_range(&mut engine, &recs[..split], &mut sink);
    let before = sink.0;
    ALLOCS.store(0, Ordering::Relaxed);
    counting::count_into(Some(&ALLOCS));
    feed_range(&mut engine, &recs[split..], &mut sink);
    counting::count_into(None);
    (ALLOCS.load(Ordering::Relaxed), recs.len() - split, sink.0 - before)
}

#[test]
fn every_adapter_allocates_nothing_per_message_after_warm_up() {
    let reg = InstrumentRegistry::with_builtins;
    let results = [
        (
            "binance spot",
            steady_state(
                Engine::new(Binance::spot(reg())),
                &["binance/hftbacktest_spot_btcusdt_20240808.gz"],
                0.2,
            ),
        ),
        (
            "binance futures",
            steady_state(
                Engine::new(Binance::futures(reg())),
                &["binance/cryptofeed_BINANCE_FUTURES.ws.1.0"],
                0.5,
            ),
        ),
        (
            "coinbase advanced trade",
            steady_state(
                Engine::new(CoinbaseAdvanced::new(reg())),
                &["coinbase/cryptofeed-v3_COINBASE.jsonl.zst"],
                0.5,
            ),
        ),
        (
            // Updates, snapshots and matches read by the Coinbase Exchange scanner (set here,
            // though it is the default), tickers and control frames by simd-json.
            "coinbase exchange",
            steady_state(
                Engine::new({
                    let mut a = CoinbaseExchange::new(reg());
                    a.set_parser(Parser::Scan);
                    a
                }),
                &["coinbase/cryptofeed_COINBASE.ws.28.0"],
                0.5,
            ),
        ),
        (
            "coinbase exchange, simd-json",
            steady_state(
                Engine::new({
                    let mut a = CoinbaseExchange::new(reg());
                    a.set_parser(Parser::SimdJson);
                    a
                }),
                &["coinbase/cryptofeed_COINBASE.ws.28.0"],
                0.5,
            ),
        ),
        (
            "gemini v2",
            steady_state(
                Engine::new(GeminiV2::new(reg())),
                &["gemini/cryptofeed_GEMINI.ws.1.0"],
                0.5,
            ),
        ),
        (
            // Book and trade messages read by the Kraken v1 scanner (set here, though it is
            // the default), tickers and control frames by simd-json.
            "kraken v1",
            steady_state(
                Engine::new({
                    let mut a = KrakenV1::new(reg());
                    a.set_parser(Parser::Scan);
                    a
                }),
                &["kraken/cryptofeed_KRAKEN.ws.50.0"],
                0.5,
            ),
        ),
        (
            // A trade-only capture: every trade message read by the scanner.
            "kraken v1 trades",
            steady_state(
                Engine::new(KrakenV1::new(reg())),
                &["kraken/cryptofeed_KRAKEN.ws.48.0"],
                // Both pairs' first trades (which learn the pairs) in the warm-up.
                0.6,
            ),
        ),
        (
            "kraken v1, simd-json",
            steady_state(
                Engine::new({
                    let mut a = KrakenV1::new(reg());
                    a.set_parser(Parser::SimdJson);
                    a
                }),
                &["kraken/cryptofeed_KRAKEN.ws.50.0"],
                0.5,
            ),
        ),
        (
            // Book and trade pushes read by the OKX scanner (set here, though it is the
            // default), tickers and control frames by simd-json.
            "okx",
            steady_state(
                Engine::new({
                    let mut a = Okx::new(reg());
                    a.set_parser(Parser::Scan);
                    a
                }),
                &["okx/cryptofeed_OKX.ws.1.0"],
                0.5,
            ),
        ),
        (
            "okx, simd-json",
            steady_state(
                Engine::new({
                    let mut a = Okx::new(reg());
                    a.set_parser(Parser::SimdJson);
                    a
                }),
                &["okx/cryptofeed_OKX.ws.1.0"],
                0.5,
            ),
        ),
        (
            // Bybit's order-book history: every frame read by the Bybit scanner (set here,
            // though it is the default).
            "bybit",
            steady_state(
                Engine::new({
                    let mut a = Bybit::new(Venue::BybitLinear, reg(), 500);
                    a.set_parser(Parser::Scan);
                    a
                }),
                &["bybit/bybit_history_2024-12-01_XRPUSDT_ob500.data"],
                0.5,
            ),
        ),
        (
            "bybit, simd-json",
            steady_state(
                Engine::new({
                    let mut a = Bybit::new(Venue::BybitLinear, reg(), 500);
                    a.set_parser(Parser::SimdJson);
                    a
                }),
                &["bybit/bybit_history_2024-12-01_XRPUSDT_ob500.data"],
                0.5,
            ),
        ),
        (
            // Its tickers carry the derivatives records (mark, index, open interest).
            "deribit",
            steady_state(
                Engine::new(Deribit::new(reg())),
                &["deribit/cryptofeed_DERIBIT.ws.1.0"],
                0.5,
            ),
        ),
        (
            // One-level `book` messages read by the flat scanner.
            "kraken futures",
            steady_state(
                Engine::new(KrakenFutures::new(reg())),
                &["krakenfutures/cryptofeed_KRAKEN_FUTURES.ws.1.0"],
                0.5,
            ),
        ),
        (
            // Book levels, trades and heartbeats read by the Bitfinex scanner (set here,
            // though it is the default), snapshots and events by simd-json.
            "bitfinex",
            steady_state(
                Engine::new({
                    let mut a = Bitfinex::new(reg());
                    a.set_parser(Parser::Scan);
                    a
                }),
                &["bitfinex/marfusios_bitfinex_raw_2018-11-12.txt.gz"],
                0.5,
            ),
        ),
        (
            "bitfinex, simd-json",
            steady_state(
                Engine::new({
                    let mut a = Bitfinex::new(reg());
                    a.set_parser(Parser::SimdJson);
                    a
                }),
                &["bitfinex/marfusios_bitfinex_raw_2018-11-12.txt.gz"],
                0.5,
            ),
        ),
    ];
    for (name, (allocs, msgs, published)) in &results {
        eprintln!("{name}: {allocs} allocations over {msgs} messages ({published} events)");
        assert!(*published > 0, "{name}: the counted part published nothing");
    }
    for (name, (allocs, ..)) in &results {
        assert_eq!(*allocs, 0, "{name} allocated in steady state (ALLOC_BACKTRACE=1 shows where)");
    }
}

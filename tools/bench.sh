#!/usr/bin/env bash
# Reproduces the figures in BENCHMARKS.md. Run on a quiet machine:
#   bash tools/bench.sh            # everything
#   bash tools/bench.sh replay     # only the full-speed replay table
#   bash tools/bench.sh producer   # only the producer against the parse floor
#   bash tools/bench.sh peers      # the pipeline side by side with the peers (and cryptofeed)
#   bash tools/bench.sh latency    # end-to-end loopback latency against a tokio-tungstenite client
# Needs python3 (to read the JSON summaries).
set -euo pipefail
cd "$(dirname "$0")/.."
what="${1:-all}"

echo "commit $(git rev-parse --short HEAD)"
lscpu | grep -E '^(Model name|CPU\(s\)|Thread|Core|Socket|CPU max MHz|L2|L3)' || true

cargo build --release --quiet

replay_table() {
  local runs=5
  local out
  out="$(mktemp -d)"
  printf '\n### Full-speed replay (`ladderfeed replay FILE --summary-json`), median of %d runs\n\n' "$runs"
  printf '| capture | messages | MB | msgs/s | MB/s |\n|---|---:|---:|---:|---:|\n'
  # The same captures converted to ours: the reader's share of the job.
  ./target/release/ladderfeed convert fixtures/binance/hftbacktest_spot_btcusdt_20240808.gz \
    "$out/binance_spot.lfc" 2>/dev/null
  ./target/release/ladderfeed convert fixtures/bitfinex/marfusios_bitfinex_raw_2018-11-12.txt.gz \
    "$out/marfusios_bitfinex.lfc" 2>/dev/null
  for f in \
    fixtures/binance/hftbacktest_spot_btcusdt_20240808.gz \
    fixtures/binance/cryptofeed_BINANCE_FUTURES.ws.1.0 \
    fixtures/coinbase/cryptofeed-v3_COINBASE.jsonl.zst \
    fixtures/coinbase/cryptofeed_COINBASE.ws.28.0 \
    fixtures/gemini/cryptofeed_GEMINI.ws.1.0 \
    fixtures/kraken/cryptofeed_KRAKEN.ws.50.0 \
    fixtures/okx/cryptofeed_OKX.ws.1.0 \
    fixtures/bitfinex/cryptofeed_BITFINEX-58bafb.0 \
    fixtures/bitfinex/marfusios_bitfinex_raw_2018-11-12.txt.gz \
    "$out/binance_spot.lfc" "$out/marfusios_bitfinex.lfc"; do
    for i in $(seq "$runs"); do
      ./target/release/ladderfeed replay "$f" --no-progress --summary-json "$out/$i.json" >/dev/null
    done
    python3 - "$f" "$out" "$runs" <<'PY'
import json, statistics, sys
f, out, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
s = [json.load(open(f"{out}/{i}.json")) for i in range(1, runs + 1)]
rate = statistics.median(x["msgs_per_s"] for x in s)
mbs = statistics.median(x["mb_per_s"] for x in s)
name = f.split('/', 1)[1] if f.startswith('fixtures/') else f.rsplit('/', 1)[1] + ' (converted)'
print(f"| {name} | {s[0]['messages']} | {s[0]['bytes'] / 1e6:.2f} | {rate:,.0f} | {mbs:,.0f} |")
PY
  done
  rm -rf "$out"
}

peers_table() {
  # cryptofeed (Python, its own process) first; its figures feed the table's last columns.
  local cf
  cf="$(mktemp)"
  bash tools/bench/cryptofeed.sh "$cf"
  CRYPTOFEED_JSON="$cf" cargo bench -p ladderfeed-peers --bench pipeline
  rm -f "$cf"
}

case "$what" in
  replay) replay_table ;;
  producer) cargo bench --bench producer ;;
  peers) peers_table ;;
  latency) cargo run --release -p ladderfeed-peers --example e2e_latency ;;
  all)
    replay_table
    cargo bench --bench numbers
    cargo bench --bench venues
    cargo bench --bench producer
    cargo bench -p ladderfeed-peers --bench ladder
    cargo bench -p ladderfeed-peers --bench ring
    peers_table
    cargo run --release -p ladderfeed-peers --example e2e_latency
    ;;
  *) echo "usage: tools/bench.sh [all|replay|producer|peers|latency]" >&2; exit 2 ;;
esac

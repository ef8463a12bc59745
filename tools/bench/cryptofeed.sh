#!/usr/bin/env bash
# cryptofeed 2.4.1's own feed handlers over our captures, one line per venue
# (see tools/bench/cryptofeed_playback.py). Run from the repository root:
#   bash tools/bench/cryptofeed.sh [JSON_OUT]
# With JSON_OUT, each venue's result is also appended there as one JSON line (the pipeline
# benchmark reads it through CRYPTOFEED_JSON for its cryptofeed column).
# Kraken v1 and OKX run twice: as cryptofeed runs by default (checksum_validation off) and with
# it on, the work ladderfeed does as users run it (cryptofeed checks those two venues' CRCs).
# Installs cryptofeed==2.4.1 and zstandard with pip when they are not importable.
# stdout: one line per venue; stderr: the first handler error and cryptofeed's log records
# per venue (add 2>/dev/null for the lines alone).
set -uo pipefail
cd "$(dirname "$0")/../.."

if ! python3 -c 'import importlib.metadata as m, sys; sys.exit(m.version("cryptofeed") != "2.4.1")' 2>/dev/null; then
  python3 -m pip install --quiet cryptofeed==2.4.1 || exit 1
fi
if ! python3 -c 'import zstandard' 2>/dev/null; then
  python3 -m pip install --quiet zstandard || exit 1
fi

json_out=()
if [ $# -ge 1 ]; then
  json_out=(--json-out "$1")
fi
status=0
while read -r case venue file extra; do
  # shellcheck disable=SC2086  # $extra holds zero or more options
  python3 tools/bench/cryptofeed_playback.py --venue "$venue" --file "fixtures/$file" --repeat 5 \
    --case "$case" "${json_out[@]}" $extra </dev/null || status=1
done <<'EOF'
binance_spot BINANCE binance/hftbacktest_spot_btcusdt_20240808.gz --symbol BTC-USDT
binance_futures BINANCE_FUTURES binance/cryptofeed_BINANCE_FUTURES.ws.1.0
kraken_v1 KRAKEN kraken/cryptofeed_KRAKEN.ws.50.0
kraken_v1 KRAKEN kraken/cryptofeed_KRAKEN.ws.50.0 --checksum
okx OKX okx/cryptofeed_OKX.ws.1.0
okx OKX okx/cryptofeed_OKX.ws.1.0 --checksum
gemini_v2 GEMINI gemini/cryptofeed_GEMINI.ws.1.0
bitfinex BITFINEX bitfinex/cryptofeed_BITFINEX-58bafb.0
coinbase_advanced COINBASE coinbase/cryptofeed-v3_COINBASE.jsonl.zst
bitmex BITMEX bitmex/cryptofeed_BITMEX.ws.1.0
kraken_futures KRAKEN_FUTURES krakenfutures/cryptofeed_KRAKEN_FUTURES.ws.1.0
deribit DERIBIT deribit/cryptofeed_DERIBIT.ws.1.0
bybit_linear BYBIT bybit/bybit_history_2024-12-01_XRPUSDT_ob500.data
binance_coinm BINANCE_DELIVERY binance/hftbacktest_cm_btcusd_perp_20240808.gz
EOF
exit "$status"

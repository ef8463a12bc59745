#!/usr/bin/env bash
# Soak: `ladderfeed live` against the simulator with faults for SECONDS (default 600), sampling
# the client's resident memory, open file descriptors and threads every 10 s. After a one-minute
# warm-up the three must stay flat: memory within 1%, descriptors and threads unchanged (the
# connection's own socket and epoll come and go with reconnects, so descriptors are compared
# at their maximum). Run from anywhere:
#   bash tools/soak.sh [SECONDS [WARM_UP_SECONDS]]   (defaults 600 and 60)
# Prints the samples, the simulator's and client's counts, and FLAT or NOT FLAT (exit 1).
# With SOAK_ALLOCS=1 (root, perf with uprobes) it also counts the network thread's calls to
# malloc, calloc, realloc, posix_memalign and aligned_alloc from the warm-up to the end, and
# prints them per second (the probes are added if missing, and left for the next run).
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-600}"
warm="${2:-60}"
if [ "$secs" -le "$warm" ]; then
  echo "soak: run longer than the ${warm} s warm-up" >&2
  exit 2
fi

cargo build --release --quiet --bin ladderfeed
cargo build --release --quiet -p ladderfeed-sim
bin="${CARGO_TARGET_DIR:-target}/release"
# SOAK_CLIENT: another build of `ladderfeed` to soak (a before/after comparison).
client="${SOAK_CLIENT:-$bin/ladderfeed}"
tmp="$(mktemp -d)"
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$tmp"' EXIT

# Kraken v1 (checksums on every update) at 2,000 msgs/s; every kind of stream fault, seeded.
# After the capture (or a close/reset) the client reconnects: on a close or reset at once, at
# the end of the capture when the feed goes stale.
faults="close~0.0004,reset~0.0002,corrupt~0.001,crossed~0.0005,drop~0.001,dup~0.001,reorder~0.001,malformed~0.0005"
"$bin/ladderfeed-sim" --venue kraken-v1 \
  --capture fixtures/kraken/cryptofeed_KRAKEN.ws.50.0 --tls --ca-out "$tmp/ca.pem" \
  --pace 2000 --faults "$faults" --seed 7 --max-seconds $((secs + 30)) \
  --max-connections 1000000 >"$tmp/sim.out" 2>&1 &
for _ in $(seq 100); do
  grep -q '^listening on' "$tmp/sim.out" 2>/dev/null && break
  sleep 0.1
done
url="$(sed -n 's/^listening on \(wss:[^ ]*\).*/\1/p' "$tmp/sim.out")"
[ -n "$url" ] || { echo "soak: the simulator did not start" >&2; cat "$tmp/sim.out" >&2; exit 1; }

"$client" live --venue kraken-v1 --symbols XBT/USD --endpoint "$url" \
  --ca-file "$tmp/ca.pem" --no-busy-poll --no-pin --duration "$secs" \
  --summary-json "$tmp/summary.json" >"$tmp/live.out" 2>&1 &
pid=$!

echo "soak: ${secs} s, pid $pid, simulator $url, faults $faults"
if [ -n "${SOAK_ALLOCS:-}" ]; then
  allocs="malloc calloc realloc posix_memalign aligned_alloc"
  for f in $allocs; do
    perf probe -l 2>/dev/null | grep -q "probe_libc:$f " ||
      perf probe -q -x "$(ldd "$client" | awk '/libc.so/ {print $3}')" --add "$f"
  done
  (
    sleep "$warm"
    tid=$(grep -l '^network$' /proc/"$pid"/task/*/comm | head -1 | cut -d/ -f5)
    perf stat -x, -o "$tmp/allocs" $(printf -- '-e probe_libc:%s ' $allocs) -t "$tid" \
      -- sleep $((secs - warm - 5)) 2>/dev/null
  ) &
fi
printf '%8s %10s %6s %8s %10s %10s\n' seconds rss_kb fds threads anon_kb file_kb
start=$(date +%s)
: >"$tmp/samples"
while kill -0 "$pid" 2>/dev/null; do
  rss=$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
  thr=$(awk '/^Threads/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
  anon=$(awk '/^RssAnon/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
  file=$(awk '/^RssFile/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
  fds=$(ls "/proc/$pid/fd" 2>/dev/null | wc -l)
  now=$(($(date +%s) - start))
  if [ -n "$rss" ]; then
    printf '%8s %10s %6s %8s %10s %10s\n' "$now" "$rss" "$fds" "$thr" "$anon" "$file" | tee -a "$tmp/samples"
  fi
  sleep 10
done
wait "$pid" || { echo "soak: ladderfeed live failed" >&2; tail -20 "$tmp/live.out" >&2; exit 1; }

echo "--- client (ladderfeed live's report)"
grep -E '^(connection|ring) ' "$tmp/live.out"
python3 - "$tmp/summary.json" <<'PY'
import json, sys
from collections import Counter
totals = Counter()
def walk(v, key=""):
    if isinstance(v, dict):
        for k, x in v.items():
            walk(x, k)
    elif isinstance(v, list):
        for x in v:
            walk(x, key)
    elif isinstance(v, (int, float)) and not isinstance(v, bool) and key in (
            "messages", "gaps", "resyncs", "checksum_failures", "crossed_published"):
        totals[key] += v
walk(json.load(open(sys.argv[1])))
print("  summary totals over every book: " + ", ".join(f"{k} {v}" for k, v in sorted(totals.items())))
PY
if [ -n "${SOAK_ALLOCS:-}" ]; then
  wait $! 2>/dev/null || true
  awk -F, -v s=$((secs - warm - 5)) '/probe_libc/ {n += $1; printf "  %s %s\n", $3, $1}
    END {printf "network thread allocations after the warm-up: %d in %d s, %.1f/s\n", n, s, n / s}' \
    "$tmp/allocs"
fi
echo "--- simulator"
tail -3 "$tmp/sim.out"

python3 - "$tmp/samples" "$warm" <<'PY'
import sys
rows = [list(map(int, l.split())) for l in open(sys.argv[1]) if l.strip()]
warm = int(sys.argv[2])
steady = [r for r in rows if r[0] >= warm]
if len(steady) < 2:
    print("soak: too few samples after the warm-up"); sys.exit(1)
rss = [r[1] for r in steady]; fds = [r[2] for r in steady]; thr = [r[3] for r in steady]
anon = [r[4] for r in steady]; file = [r[5] for r in steady]
growth = (max(rss) - min(rss)) / min(rss) * 100
print(f"after {warm} s: anonymous {min(anon)}..{max(anon)} kB, file-backed {min(file)}..{max(file)} kB")
print(f"after {warm} s: rss {min(rss)}..{max(rss)} kB ({growth:.2f}% spread), "
      f"fds {min(fds)}..{max(fds)}, threads {min(thr)}..{max(thr)}")
# Memory within 1%; descriptors may differ by the connection's socket and its timer while a
# reconnect is in progress, never grow beyond that; threads never change.
flat = growth <= 1.0 and max(fds) - min(fds) <= 2 and max(thr) == min(thr)
first, last = steady[0], steady[-1]
print(f"first steady sample {first}, last {last}")
print("FLAT" if flat else "NOT FLAT")
sys.exit(0 if flat else 1)
PY

#!/usr/bin/env bash
# bench/metrics.sh - /metrics with a large catalog (issue #14: < 500 ms with
# 10 000 vaults, no memory growth per scrape): VAULTS vaults and BACKUPS
# backups in the SQLite catalog, then SCRAPES scrapes of /metrics on the API
# port with the admin's token. Prints the time of each of the first ten, the
# median and the worst, the answer's size and series count, and the server's
# RSS after the first ten scrapes and after all of them.
#
# Usage: bench/metrics.sh     Env: VAULTS=10000 BACKUPS=100000 SCRAPES=200 WORK=/tmp/bench-metrics
set -euo pipefail
BENCH=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$BENCH/.." && pwd)
WORK=${WORK:-/tmp/bench-metrics}
VAULTS=${VAULTS:-10000}
BACKUPS=${BACKUPS:-100000}
SCRAPES=${SCRAPES:-200}
PORT=${PORT:-18089}
. "$BENCH/serve.sh"
eval "$(python3 "$BENCH/seed_vaults.py" http://127.0.0.1:$PORT "$WORK/data" "$WORK/resources/share" "$VAULTS" "$BACKUPS")"
rss() { awk '/VmRSS/ {print $2}' /proc/$SERVER/status; }
scrape() { curl -sf -o "$WORK/metrics.txt" -w '%{time_total}\n' -H "X-Auth-Token: $TOKEN" http://127.0.0.1:$PORT/metrics; }
: > "$WORK/times.txt"
for _ in $(seq 10); do scrape >> "$WORK/times.txt"; done
RSS10=$(rss)
for _ in $(seq $((SCRAPES - 10))); do scrape >> "$WORK/times.txt"; done
RSSN=$(rss)
echo "vaults $VAULTS, backups $BACKUPS, scrapes $SCRAPES"
echo "first ten (s): $(head -10 "$WORK/times.txt" | tr '\n' ' ')"
sort -n "$WORK/times.txt" | awk '{a[NR]=$1} END {printf "median %.3f s, worst %.3f s\n", a[int((NR+1)/2)], a[NR]}'
echo "answer: $(wc -c < "$WORK/metrics.txt") bytes, $(grep -vc '^#' "$WORK/metrics.txt") samples"
echo "server RSS after 10 scrapes: $((RSS10 / 1024)) MiB, after $SCRAPES: $((RSSN / 1024)) MiB"

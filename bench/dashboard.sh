#!/usr/bin/env bash
# bench/dashboard.sh - the dashboard's read with a large project (issue #14:
# < 200 ms server time with 1 000 vaults and 100 000 backups): VAULTS vaults
# and BACKUPS backups in one project of the SQLite catalog (bench/seed_vaults.py),
# then REQUESTS requests of GET /v3/{project}/coffer/dashboard on loopback, and as
# many of the console's dashboard page (GET /console, the same token as its session
# cookie). Prints the first ten times, the median and the worst, and the answers' sizes.
#
# Usage: bench/dashboard.sh     Env: VAULTS=1000 BACKUPS=100000 REQUESTS=50 WORK=/tmp/bench-dashboard
set -euo pipefail
BENCH=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$BENCH/.." && pwd)
WORK=${WORK:-/tmp/bench-dashboard}
VAULTS=${VAULTS:-1000}
BACKUPS=${BACKUPS:-100000}
REQUESTS=${REQUESTS:-50}
PORT=${PORT:-18090}
. "$BENCH/serve.sh"
eval "$(python3 "$BENCH/seed_vaults.py" http://127.0.0.1:$PORT "$WORK/data" "$WORK/resources/share" "$VAULTS" "$BACKUPS")"
fetch() { curl -sf -o "$WORK/dashboard.json" -w '%{time_total}\n' -H "X-Auth-Token: $TOKEN" "http://127.0.0.1:$PORT/v3/$PROJECT/coffer/dashboard"; }
: > "$WORK/times.txt"
for _ in $(seq "$REQUESTS"); do fetch >> "$WORK/times.txt"; done
echo "vaults $VAULTS, backups $BACKUPS, requests $REQUESTS"
echo "first ten (s): $(head -10 "$WORK/times.txt" | tr '\n' ' ')"
sort -n "$WORK/times.txt" | awk '{a[NR]=$1} END {printf "median %.3f s, worst %.3f s\n", a[int((NR+1)/2)], a[NR]}'
echo "answer: $(wc -c < "$WORK/dashboard.json") bytes, $(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["count"], "vaults,", d["problems"], "with problems")' "$WORK/dashboard.json")"
page() { curl -sf -o "$WORK/console.html" -w '%{time_total}\n' -b "coffer_session=$TOKEN" "http://127.0.0.1:$PORT/console"; }
: > "$WORK/console-times.txt"
for _ in $(seq "$REQUESTS"); do page >> "$WORK/console-times.txt"; done
echo "console page: first ten (s): $(head -10 "$WORK/console-times.txt" | tr '\n' ' ')"
sort -n "$WORK/console-times.txt" | awk '{a[NR]=$1} END {printf "console page: median %.3f s, worst %.3f s\n", a[int((NR+1)/2)], a[NR]}'
echo "console page: $(wc -c < "$WORK/console.html") bytes, $(grep -c 'class="vault-name"' "$WORK/console.html") vault rows"

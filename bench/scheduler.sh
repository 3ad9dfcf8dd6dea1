#!/usr/bin/env bash
# bench/scheduler.sh - the scheduler with a large catalog (issue #11): VAULTS
# vaults bound to POLICIES daily policies, BACKUPS automatic backups (one vault
# holding 10 000). Measures, with the release binary and /usr/bin/time:
#   - scheduler passes: the first after a start (every schedule looked up in the
#     catalog) and the next ones (only schedules due), as `serve` runs them;
#   - retention of the 10 000-backup vault: the first (expiries written, the
#     expired deleted) and a second (steady state);
#   - retention of every bound vault once (what an hour of passes does in total);
# each with its peak RSS. Goal: a pass < 0.6 s (1 % of a core at one pass a minute).
#
# Usage: bench/scheduler.sh   Env: VAULTS=10000 POLICIES=1000 BACKUPS=1000000 WORK=/tmp/bench-scheduler
set -euo pipefail
BENCH=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$BENCH/.." && pwd)
WORK=${WORK:-/tmp/bench-scheduler}
VAULTS=${VAULTS:-10000}
POLICIES=${POLICIES:-1000}
BACKUPS=${BACKUPS:-1000000}
PORT=${PORT:-18089}
[ -x /usr/bin/time ] || apt-get install -y -qq time >/dev/null
. "$BENCH/serve.sh"
echo "seeding $VAULTS vaults, $POLICIES policies, $BACKUPS backups..." >&2
eval "$(python3 "$BENCH/seed_schedules.py" http://127.0.0.1:$PORT "$WORK/data" "$WORK/resources/share" "$VAULTS" "$POLICIES" "$BACKUPS")"
kill $SERVER; wait $SERVER 2>/dev/null || true
trap - EXIT

measure() {  # label, then the coffer arguments
    local label=$1; shift
    /usr/bin/time -f "%e %M" -o "$WORK/time" "$COFFER" admin --data-dir "$WORK/data" "$@" --json > "$WORK/out.json"
    read -r wall rss < "$WORK/time"
    python3 - "$label" "$wall" "$rss" "$WORK/out.json" <<'PY'
import json, sys
label, wall, rss, out = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), json.load(open(sys.argv[4]))
seconds = out["seconds"] if isinstance(out["seconds"], list) else [out["seconds"]]
extra = ("%d schedules, %d occurrences fired" % (out["schedules"], len(out["fired"]))) if "schedules" in out else \
        ("%d vaults, %d backups expired" % (out["vaults"], len(out["deleted"])))
m = out.get("memory", {})
print("%-38s %s  process %.2f s, peak RSS %d MiB (at the end: heap %s MiB, mapped catalog %s MiB)  (%s)"
      % (label, ", ".join("%.3f s" % s for s in seconds), wall, rss // 1024, m.get("anonymous", "?"), m.get("file", "?"), extra))
PY
}
measure "scheduler passes (first, next, next)" scheduler pass --passes 3
measure "retention, 10 000-backup vault" scheduler retention "$LARGE_VAULT"
measure "retention again (steady state)" scheduler retention "$LARGE_VAULT"
measure "retention of every bound vault" scheduler retention --all

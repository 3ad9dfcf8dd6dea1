#!/usr/bin/env bash
# bench/agent.sh - a backup through `coffer agent` over loopback HTTP against
# the same data backed up by the server itself, in one run (issue #13's
# goals: agent throughput >= 90 % of local, unchanged re-backup within 1.2x of
# local, agent peak RSS <= restic's). Initial and unchanged backups, cold page
# cache; the local side is timed from the checkpoint to `available`, the
# agent side is `coffer agent run --once` under /usr/bin/time (it claims the
# queued job, backs up, reports); restic's initial backup of the same data
# gives the RSS bound.
#
# Usage: bench/agent.sh    Env: DATA=/tmp/bench-data (bench/make_dataset.py) WORK=/tmp/bench-agent SCALE=1 COLD=1
#        AGENT_WRAP=heaptrack runs the timed agent runs under a profiler (heaptrack without -o writes one heaptrack.coffer.PID.zst per run in the current directory)
set -u
BENCH=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$BENCH/.." && pwd)
DATA=${DATA:-/tmp/bench-data}
WORK=${WORK:-/tmp/bench-agent}
SCALE=${SCALE:-1}
COLD=${COLD:-1}
PORT=${PORT:-18611}
log() { echo "[$(date +%H:%M:%S)] $*" >&2; }
[ -x /usr/bin/time ] || apt-get install -y -qq time >/dev/null 2>&1
"$ROOT/scripts/ensure-deps.sh"
COFFER=$("$ROOT/scripts/build-release.sh" 2>/dev/null) || { echo "release build failed (run: scripts/build-release.sh)"; exit 2; }
[ -d "$DATA" ] || python3 "$BENCH/make_dataset.py" --dir "$DATA" --scale "$SCALE" --force >/dev/null
DATA=$(cd "$DATA" && pwd -P)
PARENT=$(dirname "$DATA")
rm -rf "$WORK"; mkdir -p "$WORK"
drop_caches() { sync; [ "$COLD" = 1 ] && echo 3 > /proc/sys/vm/drop_caches 2>/dev/null; true; }

"$COFFER" serve --data-dir "$WORK/server" --listen 127.0.0.1:$PORT --resource-root "$PARENT" > "$WORK/server.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null' EXIT
for _ in $(seq 100); do [ -f "$WORK/server/admin-credentials.json" ] && curl -sf http://127.0.0.1:$PORT/health >/dev/null && break; sleep 0.1; done
export COFFER_ENDPOINT=http://127.0.0.1:$PORT
ADMIN=(env COFFER_CREDENTIALS="$WORK/server/admin-credentials.json" "$COFFER")
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))" "$1"; }

# The agent: a credential of role agent, its own state directory.
"${ADMIN[@]}" admin --data-dir "$WORK/server" user create bench-agent --project admin --role agent --json > /dev/null
"${ADMIN[@]}" admin --data-dir "$WORK/server" key create --project admin --user bench-agent --json > "$WORK/agent-key.json"
AGENT=(env COFFER_CREDENTIALS="$WORK/agent-key.json" COFFER_AGENT_STATE="$WORK/agent-state" "$COFFER" agent)
# The timed runs only (a profiler's own output would spoil the setup's JSON).
AGENT_TIMED=(env COFFER_CREDENTIALS="$WORK/agent-key.json" COFFER_AGENT_STATE="$WORK/agent-state" ${AGENT_WRAP:-} "$COFFER" agent)
"${AGENT[@]}" run --once --resource-root "$PARENT" > /dev/null
"${AGENT[@]}" add-path "$DATA" --resource-root "$PARENT" > /dev/null
AGENT_RES=$("${AGENT[@]}" status --json | json 'd["agent"]["paths"][0]["id"]')
LOCAL_RES=$("${ADMIN[@]}" resource add --type turbo --name local --path "$DATA" --json | json 'd["resource"]["id"]')
LOCAL_VAULT=$("${ADMIN[@]}" vault create --name local --type turbo --size 100 --resource "$LOCAL_RES" --json | json 'd["vault"]["id"]')
AGENT_VAULT=$("${ADMIN[@]}" vault create --name agent --type turbo --size 100 --resource "$AGENT_RES" --json | json 'd["vault"]["id"]')

printf 'side\tstep\twall_s\tuser_s\tsys_s\tmaxrss_kb\tserver_cpu_s\n' > "$WORK/results.tsv"
# CPU seconds the server process has used (utime + stime), to see what each step cost it.
server_cpu() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$SERVER/stat"; }
local_backup() {  # step
    drop_caches
    local start end cpu0
    cpu0=$(server_cpu)
    start=$(date +%s.%N)
    "${ADMIN[@]}" checkpoint create --vault "$LOCAL_VAULT" --wait > /dev/null || log "local $1 failed"
    end=$(date +%s.%N)
    printf 'local\t%s\t%.2f\t-\t-\t-\t%.2f\n' "$1" "$(echo "$end - $start" | bc)" "$(echo "$(server_cpu) - $cpu0" | bc)" >> "$WORK/results.tsv"
}
agent_backup() {  # step
    "${ADMIN[@]}" checkpoint create --vault "$AGENT_VAULT" > /dev/null
    drop_caches
    local cpu0
    cpu0=$(server_cpu)
    /usr/bin/time -f '%e\t%U\t%S\t%M' -o "$WORK/time.txt" "${AGENT_TIMED[@]}" run --once --resource-root "$PARENT" > /dev/null 2> "$WORK/agent-$1.log"
    printf 'agent\t%s\t%s\t%.2f\n' "$1" "$(cat "$WORK/time.txt")" "$(echo "$(server_cpu) - $cpu0" | bc)" >> "$WORK/results.tsv"
    "${ADMIN[@]}" backup list --vault "$AGENT_VAULT" --json | python3 -c "import json,sys; b=json.load(sys.stdin)['backups']; assert all(x['status']=='available' for x in b), b" \
        || log "agent $1: a backup is not available"
}
log "local initial"; local_backup initial
log "agent initial"; agent_backup initial
log "local unchanged"; local_backup unchanged
log "agent unchanged"; agent_backup unchanged
if command -v restic >/dev/null; then
    export RESTIC_PASSWORD=bench RESTIC_CACHE_DIR=$WORK/restic-cache
    restic init -r "$WORK/restic" > /dev/null
    drop_caches
    /usr/bin/time -f '%e\t%U\t%S\t%M' -o "$WORK/time.txt" restic -r "$WORK/restic" backup -q "$DATA" > /dev/null
    printf 'restic\tinitial\t%s\t-\n' "$(cat "$WORK/time.txt")" >> "$WORK/results.tsv"
fi
column -t "$WORK/results.tsv"
python3 - "$WORK/results.tsv" <<'EOF'
import csv, sys
rows = {(r["side"], r["step"]): r for r in csv.DictReader(open(sys.argv[1]), delimiter="\t")}
def wall(side, step): return float(rows[(side, step)]["wall_s"])
print("agent throughput vs local (initial): %.0f %% (goal >= 90 %%)" % (100 * wall("local", "initial") / wall("agent", "initial")))
print("agent unchanged re-backup vs local: %.2fx (goal <= 1.2x)" % (wall("agent", "unchanged") / wall("local", "unchanged")))
if ("restic", "initial") in rows:
    a, r = int(rows[("agent", "initial")]["maxrss_kb"]), int(rows[("restic", "initial")]["maxrss_kb"])
    print("agent peak RSS %d MiB vs restic %d MiB: %.2fx (goal <= 1x)" % (a >> 10, r >> 10, a / r))
EOF

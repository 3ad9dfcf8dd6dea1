#!/usr/bin/env bash
# Stops the servers scripts/start-objstore.sh started in DATA_DIR (TERM, then KILL after 10 s).
set -uo pipefail
DATA_DIR=${1:?data directory}
pids=()
for pidfile in "$DATA_DIR"/run/*.pid; do
    [ -e "$pidfile" ] || continue
    pid=$(cat "$pidfile")
    kill -0 "$pid" 2>/dev/null && kill -TERM "$pid" 2>/dev/null && pids+=("$pid")
    rm -f "$pidfile"
done
for _ in $(seq 100); do
    alive=()
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive+=("$pid"); done
    [ ${#alive[@]} -eq 0 ] && exit 0
    sleep 0.1
done
kill -KILL "${alive[@]}" 2>/dev/null
exit 0

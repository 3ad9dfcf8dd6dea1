#!/usr/bin/env bash
# The binary users run, exercised end to end: `swift test` runs debug builds,
# and an optimised build once mis-compiled a task group's results (every
# snapshot id read back as zeros, docs/benchmarks.md, session 18) while every
# debug test passed. Builds the release binary as scripts/serve.sh does, then
# backs up a small tree three times (initial, unchanged, changed), lists,
# restores and checks it, and starts the service once.
set -euo pipefail
cd "$(dirname "$0")/.."
COFFER=$(scripts/build-release.sh)
WORK=$(mktemp -d /tmp/coffer-release-smoke.XXXXXX)
SERVER_PID=""
cleanup() {
    [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT
fail() { echo "release smoke: FAILED: $*" >&2; exit 1; }
export COFFER_PASSWORD=release-smoke COFFER_REPOSITORY="file://$WORK/repo"

SRC=$WORK/src
for d in 0 1 2 3 4 5 6 7; do
    mkdir -p "$SRC/d$d/sub"
    for f in 0 1 2 3 4 5 6 7 8 9; do
        head -c $(( (d * 10 + f) * 997 + 1 )) /dev/urandom > "$SRC/d$d/f$f"
        printf 'text %s %s\n' "$d" "$f" > "$SRC/d$d/sub/t$f.txt"
    done
done
head -c 6000000 /dev/urandom > "$SRC/big"
truncate -s 64M "$SRC/sparse" && printf 'tail' | dd of="$SRC/sparse" bs=1 seek=$((60 << 20)) conv=notrunc status=none
ln -s d0/f1 "$SRC/link"

summary() { "$COFFER" repo backup --json "$SRC" | tail -n 1; }
field() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"; }

"$COFFER" repo init > /dev/null
first=$(summary)
second=$(summary)
[ "$(field "$second" files_unchanged)" = "$(field "$first" files)" ] || fail "unchanged re-backup read files again: $second"
echo changed >> "$SRC/d3/f3"
third=$(summary)
[ "$(field "$third" files_unchanged)" = $(( $(field "$first" files) - 1 )) ] || fail "one changed file: $third"

ids=$("$COFFER" repo snapshots --json | python3 -c 'import json,sys; print(" ".join(s["id"] for s in json.load(sys.stdin)))')
for id in $(field "$first" snapshot_id) $(field "$second" snapshot_id) $(field "$third" snapshot_id); do
    case " $ids " in *" $id "*) ;; *) fail "snapshot $id missing from the listing: $ids" ;; esac
done
[[ $ids != *0000000000000000000000000000000000000000000000000000000000000000* ]] || fail "a zero snapshot id: $ids"

"$COFFER" repo restore latest --target "$WORK/restore" > /dev/null
diff -r --no-dereference "$SRC" "$WORK/restore" || fail "restored tree differs"
"$COFFER" repo check --read-data > /dev/null || fail "check --read-data"

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$COFFER" serve --data-dir "$WORK/service" --listen "127.0.0.1:$PORT" > "$WORK/serve.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 100); do
    curl -fs "http://127.0.0.1:$PORT/health" > /dev/null 2>&1 && break
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/serve.log" >&2; fail "the service exited"; }
    sleep 0.2
done
curl -fs "http://127.0.0.1:$PORT/health" > /dev/null || { cat "$WORK/serve.log" >&2; fail "the service did not answer /health"; }
echo "release smoke: backup, unchanged and changed re-backup, listing, restore, check and the service all good"

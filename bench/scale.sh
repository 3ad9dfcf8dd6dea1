#!/usr/bin/env bash
# bench/scale.sh - issue #15 item 3: does Coffer hold its backup throughput and
# its memory as the source grows? Three trees, each backed up into a fresh
# local repository with a cold page cache, in one run:
#   small  the standard dataset (bench/make_dataset.py at SCALE=1, ~1.9 GiB)
#   large  the same generator at SCALE=10 (~20 GiB; ~15 minutes to generate)
#   many   1 000 000 small files (bench/make_many_files.py; ~1.5 GiB)
# Each: the initial backup (MiB/s, files/s, peak RSS) and an unchanged
# re-backup; for `many` also listing one directory of 1 000 files of the
# snapshot (`coffer repo ls latest listed`), cold and warm, next to opening the
# repository alone (`coffer repo snapshots`). RESTORE=1 also restores `large`.
# Prints each tree's figures as a ratio to `small`'s (goal: throughput within
# 10 %, peak RSS within 1.5x). Trees already generated are reused.
#
# Env: SMALL=/tmp/bench-data LARGE=/tmp/bench-data-10 MANY=/tmp/bench-many
#      WORK=/tmp/bench-scale FILES=1000000 TREES="small large many" RESTORE=0
set -u
BENCH=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$BENCH/.." && pwd)
SMALL=${SMALL:-/tmp/bench-data} LARGE=${LARGE:-/tmp/bench-data-10} MANY=${MANY:-/tmp/bench-many}
WORK=${WORK:-/tmp/bench-scale} FILES=${FILES:-1000000} TREES=${TREES:-"small large many"}
export COFFER_PASSWORD=bench-password
RESULTS=$WORK/results.tsv
mkdir -p "$WORK/logs"
log() { echo "[$(date +%H:%M:%S)] $*" >&2; }
[ -x /usr/bin/time ] || apt-get install -y -qq time >/dev/null 2>&1
"$ROOT/scripts/ensure-deps.sh"
COFFER=$("$ROOT/scripts/build-release.sh" 2>/dev/null) || { echo "release build failed (run: scripts/build-release.sh)"; exit 2; }

drop_caches() { sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || log "cannot drop the page cache"; }
printf 'tree\tstep\twall_s\tuser_s\tsys_s\tmaxrss_kb\trc\tbytes\tfiles\n' > "$RESULTS"
timed() {   # TREE STEP COLD CMD...
    local tree=$1 step=$2 cold=$3; shift 3
    [ "$cold" = 1 ] && drop_caches
    /usr/bin/time -f '%e %U %S %M' -o "$WORK/.time" "$@" > "$WORK/logs/$tree.$step.out" 2> "$WORK/logs/$tree.$step.err"
    local rc=$?
    read -r wall user sys rss < <(tail -n 1 "$WORK/.time")
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$tree" "$step" "$wall" "$user" "$sys" "$rss" "$rc" "${BYTES:-0}" "${NFILES:-0}" >> "$RESULTS"
    log "$tree $step: ${wall}s rss ${rss}KiB rc=$rc"
    [ "$rc" = 0 ] || tail -n 5 "$WORK/logs/$tree.$step.err" >&2
}

for tree in $TREES; do
    case $tree in
        small) dir=$SMALL; [ -d "$dir/src" ] || python3 "$BENCH/make_dataset.py" --dir "$dir" --scale 1 --force >/dev/null ;;
        large) dir=$LARGE; [ -d "$dir/src" ] || { log "generating $dir (SCALE=10)"; python3 "$BENCH/make_dataset.py" --dir "$dir" --scale 10 --force >/dev/null; } ;;
        many) dir=$MANY; [ -d "$dir/listed" ] || { log "generating $dir ($FILES files)"; python3 "$BENCH/make_many_files.py" --dir "$dir" --files "$FILES" --force >/dev/null; } ;;
        *) echo "unknown tree $tree"; exit 2 ;;
    esac
    BYTES=$(du -sb --apparent-size "$dir" | cut -f1) NFILES=$(find "$dir" -type f | wc -l)
    export BYTES NFILES
    repo=$WORK/repo-$tree
    rm -rf "$repo"; "$COFFER" repo init --repo "file://$repo" >/dev/null
    timed "$tree" initial 1 "$COFFER" repo backup --repo "file://$repo" --json --host bench "$dir"
    timed "$tree" nochange 1 "$COFFER" repo backup --repo "file://$repo" --json --host bench "$dir"
    if [ "$tree" = many ]; then
        timed "$tree" open-cold 1 "$COFFER" repo snapshots --repo "file://$repo"
        timed "$tree" ls-dir-cold 1 "$COFFER" repo ls latest listed --repo "file://$repo"
        timed "$tree" open-warm 0 "$COFFER" repo snapshots --repo "file://$repo"
        timed "$tree" ls-dir-warm 0 "$COFFER" repo ls latest listed --repo "file://$repo"
        [ "$(wc -l < "$WORK/logs/many.ls-dir-warm.out")" = 1000 ] || log "many: ls listed printed $(wc -l < "$WORK/logs/many.ls-dir-warm.out") lines, expected 1000"
    fi
    if [ "$tree" = large ] && [ "${RESTORE:-0}" = 1 ]; then
        rm -rf "$WORK/restore"; mkdir -p "$WORK/restore"
        timed "$tree" restore 1 "$COFFER" repo restore latest --repo "file://$repo" --target "$WORK/restore"
        rm -rf "$WORK/restore"
    fi
    du -sb "$repo" | cut -f1 > "$WORK/repo-$tree.bytes"
    rm -rf "$repo"
done

python3 - "$RESULTS" <<'EOF'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
by = {(r["tree"], r["step"]): r for r in rows}
print(f"{'tree':6} {'GiB':>6} {'files':>9} {'initial s':>9} {'MiB/s':>7} {'files/s':>8} {'RSS MiB':>8} {'unchanged s':>11} {'RSS unch.':>9}   vs small: MiB/s  RSS")
base = by.get(("small", "initial"))
for tree in ("small", "large", "many"):
    r = by.get((tree, "initial"))
    if not r:
        continue
    n = by[(tree, "nochange")]
    wall, size, files, rss = float(r["wall_s"]), int(r["bytes"]), int(r["files"]), int(r["maxrss_kb"]) / 1024
    rate = size / 2**20 / wall
    line = f"{tree:6} {size / 2**30:6.1f} {files:9d} {wall:9.1f} {rate:7.0f} {files / wall:8.0f} {rss:8.0f} {float(n['wall_s']):11.1f} {int(n['maxrss_kb']) / 1024:9.0f}"
    if base and tree != "small":
        brate = int(base["bytes"]) / 2**20 / float(base["wall_s"])
        line += f"   {rate / brate:5.2f}x {rss / (int(base['maxrss_kb']) / 1024):5.2f}x"
    print(line)
for step in ("open-cold", "ls-dir-cold", "open-warm", "ls-dir-warm", "restore"):
    for tree in ("many", "large"):
        r = by.get((tree, step))
        if r:
            print(f"{tree} {step}: {float(r['wall_s']):.2f} s, peak RSS {int(r['maxrss_kb']) / 1024:.0f} MiB, rc={r['rc']}")
EOF

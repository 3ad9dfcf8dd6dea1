#!/usr/bin/env bash
# bench/run.sh - Coffer against restic and borg on the same generated data, in
# one run: initial backup, unchanged re-backup, backup after a ~1 % mutation,
# full restore (verified by sha256), check with full data read, repository
# size, each timed by /usr/bin/time (wall, CPU, peak RSS) with a cold page
# cache, then the initial backup and the restore again with a warm cache (WARM=0
# skips them), then the machine's ceilings (bench/ceilings.sh: cold and warm
# read of the data, SHA-256, AES-256-GCM and zstd -3 per core). Prints a table
# with ratios, the goals and Coffer's distance to the ceilings (bench/summarize.py).
#
# Usage: bench/run.sh            (full ~1.9 GiB dataset; ~10-20 minutes)
#        STORE=s3 bench/run.sh   (the repositories in OpenStack Swift's S3 API on
#                                 loopback, from scripts/start-objstore.sh; borg,
#                                 which has no S3 backend, is skipped)
# Env:   DATA=/tmp/bench-data WORK=/tmp/bench-work SCALE=1 COLD=1 STORE=local REPEAT=1
#        TOOLS="coffer restic borg"   (peers run only when installed:
#        apt-get install -y restic borgbackup)
# A dataset already in $DATA (made at the same SCALE) is reused unmutated:
# delete it or pass REGEN=1 to regenerate.
set -u
BENCH=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$BENCH/.." && pwd)
DATA=${DATA:-/tmp/bench-data}
WORK=${WORK:-/tmp/bench-work}
SCALE=${SCALE:-1}
COLD=${COLD:-1}
TOOLS=${TOOLS:-"coffer restic borg"}
STORE=${STORE:-local}
# The short steps that leave the repository as it was (unchanged re-backup, restore) run REPEAT
# times, the tools taking turns; the table shows each tool's median.
REPEAT=${REPEAT:-1}
RESULTS=$WORK/results.tsv
mkdir -p "$WORK/logs" "$WORK/repos"
export RESTIC_PASSWORD=bench-password BORG_PASSPHRASE=bench-password COFFER_PASSWORD=bench-password
export RESTIC_CACHE_DIR=$WORK/restic-cache BORG_BASE_DIR=$WORK/borg-base
export BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK=yes BORG_RELOCATED_REPO_ACCESS_IS_OK=yes
printf 'tool\tstep\twall_s\tuser_s\tsys_s\tmaxrss_kb\trc\trepo_bytes\n' > "$RESULTS"
log() { echo "[$(date +%H:%M:%S)] $*" >&2; }

[ -x /usr/bin/time ] || { apt-get install -y -qq time >/dev/null 2>&1 || { echo "needs /usr/bin/time (apt-get install time)"; exit 2; }; }
"$ROOT/scripts/ensure-deps.sh"
COFFER=$("$ROOT/scripts/build-release.sh" 2>/dev/null) || { echo "release build failed (run: scripts/build-release.sh)"; exit 2; }
echo "$STORE" > "$WORK/store.txt"
OBJSTORE=
# A restore's file system is unmounted however the run ends.
trap 'target_down "$WORK/restore"; [ -z "$OBJSTORE" ] || "$ROOT/scripts/stop-objstore.sh" "$OBJSTORE"' EXIT
if [ "$STORE" = s3 ]; then
    OBJSTORE=${OBJSTORE_DIR:-/dev/shm/coffer-bench-objstore}
    "$ROOT/scripts/stop-objstore.sh" "$OBJSTORE"; rm -rf "$OBJSTORE"
    eval "$("$ROOT/scripts/start-objstore.sh" "$OBJSTORE" "${OBJSTORE_PORT:-18480}")" || { echo "object store did not start"; exit 2; }
    export AWS_ACCESS_KEY_ID=$S3_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$S3_SECRET_KEY AWS_REGION=$S3_REGION AWS_ENDPOINT_URL_S3=$S3_ENDPOINT
    export COFFER_CACHE_DIR=$WORK/coffer-cache
    TOOLS=${TOOLS//borg/}
fi

available=""
for t in $TOOLS; do
    case $t in
        coffer) available="$available coffer" ;;
        restic) command -v restic >/dev/null && available="$available restic" || log "restic not installed: skipped" ;;
        borg) command -v borg >/dev/null && available="$available borg" || log "borg not installed: skipped" ;;
    esac
done

drop_caches() {
    sync
    if [ "$COLD" = 1 ] && ! echo 3 > /proc/sys/vm/drop_caches 2>/dev/null; then
        log "cannot drop the page cache: timings are warm-cache"; COLD=0
    fi
}

repo_of() { echo "$WORK/repos/$1"; }

# Where each tool's repository lives, in its own URL syntax.
url_of() {
    case $STORE-$1 in
        local-coffer) echo "file://$(repo_of coffer)" ;;
        local-*) repo_of "$1" ;;
        s3-coffer) echo "s3://bench-coffer/repo" ;;
        s3-restic) echo "s3:$S3_ENDPOINT/bench-restic/repo" ;;
    esac
}

# Bytes the repository holds: on disk, or in its bucket (Swift's container usage, by tempauth token).
repo_bytes() {
    if [ "$STORE" = local ]; then du -sb "$(repo_of "$1")" | cut -f1; return; fi
    local token
    token=$(curl -s -D - -o /dev/null -H "X-Auth-User: $S3_ACCESS_KEY" -H "X-Auth-Key: $S3_SECRET_KEY" "$S3_ENDPOINT/auth/v1.0" | tr -d '\r' | awk -F': ' 'tolower($1)=="x-auth-token"{print $2}')
    curl -s -I -H "X-Auth-Token: $token" "$S3_ENDPOINT/v1/AUTH_${S3_ACCESS_KEY%%:*}/bench-$1" | tr -d '\r' | awk -F': ' 'tolower($1)=="x-container-bytes-used"{print $2}'
}

timed() {   # TOOL STEP CMD...
    local tool=$1 step=$2; shift 2
    drop_caches
    /usr/bin/time -f '%e %U %S %M' -o "$WORK/.time" "$@" > "$WORK/logs/$tool.$step.out" 2> "$WORK/logs/$tool.$step.err"
    local rc=$?
    read -r wall user sys rss < <(tail -n 1 "$WORK/.time")
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$tool" "$step" "$wall" "$user" "$sys" "$rss" "$rc" \
        "$(repo_bytes "$tool")" >> "$RESULTS"
    log "$tool $step: ${wall}s rss ${rss}KiB rc=$rc"
    [ "$rc" = 0 ] || tail -n 5 "$WORK/logs/$tool.$step.err" >&2
}

init() {
    local repo; repo=$(repo_of "$1"); rm -rf "$repo"
    [ "$1" = coffer ] && rm -rf "$WORK/coffer-cache"
    case $1 in
        coffer) "$COFFER" repo init --repo "$(url_of coffer)" >/dev/null ;;
        restic) restic -r "$(url_of restic)" init --repository-version 2 >/dev/null ;;
        borg) borg init -e repokey-blake2 "$repo" >/dev/null ;;
    esac
}

backup() {   # TOOL STEP
    local repo; repo=$(repo_of "$1")
    case $1 in
        coffer) timed coffer "$2" "$COFFER" repo backup --repo "$(url_of coffer)" --json --host bench "$DATA" ;;
        restic) timed restic "$2" env GOMAXPROCS="$(nproc)" restic -r "$(url_of restic)" backup --json --host bench --compression auto "$DATA" ;;
        borg) timed borg "$2" borg create --json --compression zstd,3 "$repo::$2" "$DATA" ;;
    esac
}

manifest() { (cd "$1" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum); }

# Each restore goes to a freshly made ext4 with a journal, loop-mounted from an image under $WORK
# (RESTORE_FS=0: a plain directory under $WORK). This machine's root file system has no journal, and
# there ext4 passes over every inode freed in the last 5 s (5 min while its inode table block is
# dirty) at each file it creates (`recently_deleted`, 9-16 % of a restore's samples): a restore ran
# slower the sooner it followed a deletion (the previous tool's restore, the dataset's regeneration),
# coffer's S3 restore 3.0-3.3 s on a fresh file system, 3.3-5.1 s in a plain directory.
RESTORE_FS=${RESTORE_FS:-1}
target_down() { mountpoint -q "$1" && umount "$1"; rm -rf "$1" "$WORK/restore.img"; }
target_up() {
    target_down "$1"; mkdir -p "$1"
    [ "$RESTORE_FS" = 1 ] || return 0
    # Twice the dataset's apparent size (dataset.tsv, before the ~1 % mutation) and 1 GiB: a sparse image.
    local size; size=$(( $(cut -f1 "$WORK/dataset.tsv") * 2 + (1 << 30) ))
    # noinit_itable: no kernel thread zeroing inode tables behind the restore.
    if truncate -s "$size" "$WORK/restore.img" && mkfs.ext4 -q -F "$WORK/restore.img" \
        && mount -o loop,noinit_itable "$WORK/restore.img" "$1"; then return 0; fi
    log "no fresh file system for the restore (root and mkfs.ext4 needed; RESTORE_FS=0 skips it): a plain directory"
    RESTORE_FS=0; target_down "$1"; mkdir -p "$1"
}

restore() {   # TOOL [STEP]
    local repo tgt=$WORK/restore step=${2:-restore}; repo=$(repo_of "$1")
    target_up "$tgt"
    case $1 in
        coffer) timed coffer "$step" "$COFFER" repo restore latest --repo "$(url_of coffer)" --target "$tgt$DATA" ;;
        restic) timed restic "$step" env GOMAXPROCS="$(nproc)" restic -r "$(url_of restic)" restore latest --target "$tgt" ;;
        borg) (cd "$tgt" && timed borg "$step" borg extract "$repo::$(borg list --short "$repo" | tail -n 1)") ;;
    esac
    if manifest "$tgt$DATA" | cmp -s - "$WORK/manifest"; then log "$1 restore verified"; echo "$1 OK" >> "$WORK/verify.txt"
    else log "$1 restore MISMATCH"; echo "$1 MISMATCH" >> "$WORK/verify.txt"; fi
    target_down "$tgt"
}

check() {
    local repo; repo=$(repo_of "$1")
    case $1 in
        coffer) timed coffer check "$COFFER" repo check --repo "$(url_of coffer)" --read-data ;;
        restic) timed restic check env GOMAXPROCS="$(nproc)" restic -r "$(url_of restic)" check --read-data ;;
        borg) timed borg check borg check --verify-data "$repo" ;;
    esac
}

if [ "${REGEN:-0}" = 1 ] || [ ! -d "$DATA/src" ] || [ -e "$DATA.mutated" ]; then
    log "generating dataset (scale $SCALE) in $DATA"
    rm -f "$DATA.mutated"
    python3 "$BENCH/make_dataset.py" --dir "$DATA" --scale "$SCALE" --force >/dev/null
fi
: > "$WORK/verify.txt"
# Apparent bytes, files, and the bytes a reader that skips holes must read (the disk image is sparse).
printf '%s\t%s\t%s\n' "$(du -sb --apparent-size "$DATA" | cut -f1)" "$(find "$DATA" -type f | wc -l)" \
    "$(python3 -c 'import os, sys; print(sum(min(s.st_size, s.st_blocks * 512) for d, _, fs in os.walk(sys.argv[1]) for s in (os.lstat(os.path.join(d, f)) for f in fs)))' "$DATA")" \
    > "$WORK/dataset.tsv"
for t in $available; do init "$t"; backup "$t" initial; done
for _ in $(seq "$REPEAT"); do for t in $available; do backup "$t" nochange; done; done
python3 "$BENCH/make_dataset.py" --dir "$DATA" --mutate >/dev/null
manifest "$DATA" > "$WORK/manifest"
for t in $available; do backup "$t" incr; done
for _ in $(seq "$REPEAT"); do for t in $available; do restore "$t"; done; done
for t in $available; do check "$t"; done
# The warm pass (WARM=0 skips it): the same data already read once, nothing dropped; a fresh repository each.
# Not on S3 by default: init there cannot empty the bucket, so the "initial" backup would find the old repository.
if [ "${WARM:-$([ "$STORE" = s3 ] && echo 0 || echo 1)}" = 1 ]; then
    cold=$COLD; COLD=0
    find "$DATA" -type f -print0 | xargs -0 -P 4 -n 256 cat > /dev/null
    for t in $available; do init "$t"; backup "$t" initial-warm; done
    for _ in $(seq "$REPEAT"); do for t in $available; do restore "$t" restore-warm; done; done
    COLD=$cold
fi
# The machine's ceilings in the same run, so a goal that meets a physical limit shows as one.
log "measuring the machine's ceilings"
COLD=$COLD bash "$BENCH/ceilings.sh" "$DATA" "$WORK/ceilings.tsv"
python3 "$BENCH/summarize.py" "$WORK"

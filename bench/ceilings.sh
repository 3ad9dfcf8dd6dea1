#!/usr/bin/env bash
# bench/ceilings.sh DATA OUT - what this machine can do at most, measured in the
# same run as the tools (bench/run.sh calls it): reading the dataset cold and
# warm (4 parallel readers, as the backup tools read), and per core the three
# primitives every byte of a backup passes through: SHA-256 (OpenSSL), AES-256-GCM
# (OpenSSL) and zstd level 3 (zstd's own benchmark on a 64 MiB sample of the data).
# Writes name<TAB>MiB/s lines to OUT.
set -u
DATA=$1
OUT=$2
logical=$(du -sb --apparent-size "$DATA" | cut -f1)
read_all() { find "$DATA" -type f -print0 | xargs -0 -P 4 -n 256 cat > /dev/null; }
rate() { python3 -c "import sys; print('%.1f' % (int(sys.argv[1]) / 2**20 / float(sys.argv[2])))" "$@"; }
seconds() { local s e; s=$(date +%s.%N); "$@"; e=$(date +%s.%N); python3 -c "import sys; print(float(sys.argv[2]) - float(sys.argv[1]))" "$s" "$e"; }
[ "${COLD:-1}" = 1 ] && { sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null; }
cold=$(seconds read_all)
warm=$(seconds read_all)
# OpenSSL's "k" figures are 1000-byte units per second, at 1 MiB blocks, one thread.
openssl_rate() { openssl speed -evp "$1" -bytes 1048576 -seconds 2 2>/dev/null | tail -n 1 | awk '{v=$NF; sub(/k$/, "", v); printf "%.1f\n", v * 1000 / 1048576}'; }
sample=$(mktemp)
# The sample: up to 256 KiB of files spread evenly over the whole tree (its mix of text, binaries and zeros).
python3 - "$DATA" "$sample" <<'PY'
import os, sys
files = sorted(os.path.join(d, f) for d, _, fs in os.walk(sys.argv[1]) for f in fs)
budget, step = 64 << 20, max(1, len(files) // 1024)
with open(sys.argv[2], "wb") as out:
    for path in files[::step]:
        if budget <= 0:
            break
        with open(path, "rb") as f:
            chunk = f.read(min(256 << 10, budget))
        out.write(chunk)
        budget -= len(chunk)
PY
zstd3=$(zstd -b3 -e3 -i3 -T1 "$sample" 2>&1 | tr '\r' '\n' | grep 'MB/s,' | tail -n 1 | sed -E 's/.*\), *([0-9.]+) MB\/s.*/\1/' | awk '{printf "%.1f\n", $1 * 1e6 / 1048576}')
ratio=$(zstd -3 -c -T1 "$sample" | wc -c | awk -v n="$(wc -c < "$sample")" '{printf "%.3f\n", $1 / n}')
rm -f "$sample"
{
    printf 'cold_read\t%s\n' "$(rate "$logical" "$cold")"
    printf 'warm_read\t%s\n' "$(rate "$logical" "$warm")"
    printf 'sha256\t%s\n' "$(openssl_rate sha256)"
    printf 'aes256gcm\t%s\n' "$(openssl_rate aes-256-gcm)"
    printf 'zstd3\t%s\n' "$zstd3"
    printf 'zstd3_ratio\t%s\n' "$ratio"
    printf 'cores\t%s\n' "$(nproc)"
} > "$OUT"

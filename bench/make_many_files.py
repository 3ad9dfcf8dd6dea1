#!/usr/bin/env python3
"""make_many_files.py - a deterministic tree of many small files (default 1 000 000).

Under DIR (default /tmp/bench-many): d000/ .. d999/, each holding FILES/1000
files of 256 B - 4 KiB (mean ~1.5 KiB) of code-like text, every file's
content unique (a numbered header line and lines drawn from a shared pool, so
it compresses like source code), plus one directory `listed/` of 1 000 files
that bench/scale.sh lists. Same seed -> the same tree.

Usage: make_many_files.py [--dir DIR] [--files N] [--seed N] [--force]
"""
import argparse
import os
import random
import shutil
import sys

WORDS = ("let var func return struct enum case guard throw import self for in "
         "while if else switch default break continue where as is try catch "
         "count index value buffer chunk pack tree node blob store key error").split()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", default="/tmp/bench-many")
    ap.add_argument("--files", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=15)
    ap.add_argument("--force", action="store_true")
    a = ap.parse_args()
    if os.path.exists(a.dir):
        if not a.force:
            sys.exit(f"{a.dir} exists (use --force)")
        shutil.rmtree(a.dir)
    rng = random.Random(a.seed)
    pool = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 12))) + "\n" for _ in range(5000)]
    pool = [line.encode() for line in pool]
    dirs = 1000
    per_dir = max(1, (a.files - 1000) // dirs)
    made = 0
    total = 0

    def write_files(path, count, label):
        nonlocal made, total
        os.makedirs(path)
        for i in range(count):
            size = int(256 * 16 ** (rng.random() ** 1.3))
            body = [f"// {label} file {i} {rng.getrandbits(64):016x}\n".encode()]
            n = len(body[0])
            while n < size:
                line = pool[rng.randrange(len(pool))]
                body.append(line)
                n += len(line)
            data = b"".join(body)[:size]
            fd = os.open(os.path.join(path, f"f{i:05d}.txt"), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            os.write(fd, data)
            os.close(fd)
            made += 1
            total += len(data)

    for d in range(dirs):
        write_files(os.path.join(a.dir, f"d{d:03d}"), per_dir, f"d{d:03d}")
    write_files(os.path.join(a.dir, "listed"), 1000, "listed")
    print(f"{made} files, {total} bytes in {a.dir}")


if __name__ == "__main__":
    main()

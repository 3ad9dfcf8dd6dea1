#!/usr/bin/env bash
# Builds the release `coffer` and prints its path: the one way every script
# and bench builds what they run, so all of them measure the same binary.
#
# The Swift runtime and Foundation are linked statically: a cold start of the
# CLI (every `coffer agent run --once`, every `coffer repo` command) went
# from 0.17-0.30 s to 0.09-0.13 s, because the dynamic loader no longer maps
# and relocates libswiftCore, Foundation and ICU (docs/benchmarks.md,
# "Linking the Swift libraries statically").
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product coffer --static-swift-stdlib >&2
echo "$(swift build -c release --static-swift-stdlib --show-bin-path)/coffer"

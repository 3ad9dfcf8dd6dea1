#!/usr/bin/env bash
# The whole test suite, as CI runs it: dependencies, build, every test.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/ensure-deps.sh --test
python3 scripts/check-layers.py
swift build --build-tests
swift test --skip-build 2>&1 | tee .build/test-output.txt
# The optimised binary users run (scripts/serve.sh builds the same one).
bash scripts/release-smoke.sh

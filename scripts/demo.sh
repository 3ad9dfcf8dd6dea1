#!/usr/bin/env bash
# Embedded default demo until `coffer serve` lands: a repository on local disk
# under one data directory (./coffer-data), a backup of this source tree, a
# restore, and a full check.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/ensure-deps.sh
BIN=$(scripts/build-release.sh)
DATA=${COFFER_DATA:-$PWD/coffer-data}
mkdir -p "$DATA"
export COFFER_REPOSITORY="file://$DATA/repository"
export COFFER_PASSWORD=${COFFER_PASSWORD:-demo-passphrase}
[ -f "$DATA/repository/config" ] || "$BIN" repo init
"$BIN" repo backup Sources
"$BIN" repo snapshots
rm -rf "$DATA/restore"
"$BIN" repo restore latest --target "$DATA/restore"
diff -r Sources "$DATA/restore" && echo "restore matches the source"
"$BIN" repo check --read-data

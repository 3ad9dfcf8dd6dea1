#!/usr/bin/env bash
# Starts the service on its embedded default: SQLite catalog and local-disk
# data under one data directory (./coffer-data unless COFFER_DATA_DIR is set),
# listening on 127.0.0.1:8088. On first start it writes the admin credentials
# to coffer-data/admin-credentials.json (mode 0600) and prints where.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/ensure-deps.sh
COFFER=$(scripts/build-release.sh)
exec "$COFFER" serve --data-dir "${COFFER_DATA_DIR:-$PWD/coffer-data}" "$@"

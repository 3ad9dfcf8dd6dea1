#!/usr/bin/env bash
# Stops the cluster scripts/start-postgres.sh started in DATA_DIR (fast shutdown).
set -uo pipefail
DATA_DIR=${1:?data directory}
PGDATA=$DATA_DIR/pgdata
[ -f "$PGDATA/PG_VERSION" ] || exit 0
BIN=/usr/lib/postgresql/$(cat "$PGDATA/PG_VERSION")/bin
OWNER=$(stat -c %U "$PGDATA")
if [ "$(id -u)" = 0 ] && [ "$OWNER" != root ]; then
    runuser -u "$OWNER" -- "$BIN/pg_ctl" -D "$PGDATA" -m fast -w stop >&2 || true
else
    "$BIN/pg_ctl" -D "$PGDATA" -m fast -w stop >&2 || true
fi

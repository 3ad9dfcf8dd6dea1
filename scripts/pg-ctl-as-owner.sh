#!/usr/bin/env bash
# Runs pg_ctl on a data directory as the directory's owner (PostgreSQL refuses
# to run as root), with the binaries of the directory's PG_VERSION.
# Usage: scripts/pg-ctl-as-owner.sh DATA_DIR start|stop|status [pg_ctl options...]
# e.g. start a directory Coffer restored into:  scripts/pg-ctl-as-owner.sh /srv/pg-copy start -o "-p 5433"
set -euo pipefail
DIR=${1:?data directory}
ACTION=${2:?start, stop or status}
shift 2
BIN=/usr/lib/postgresql/$(cat "$DIR/PG_VERSION")/bin
OWNER=$(stat -c %U "$DIR")
LOG=${PG_LOG:-/tmp/pg-$(basename "$DIR").log}
case $ACTION in
    start) ARGS=(-D "$DIR" -l "$LOG" -w -t 120 start "$@") ;;
    stop) ARGS=(-D "$DIR" -m fast -w stop "$@") ;;
    *) ARGS=(-D "$DIR" "$ACTION" "$@") ;;
esac
if [ "$(id -u)" = 0 ] && [ "$OWNER" != root ]; then
    touch "$LOG" && chown "$OWNER" "$LOG"
    exec runuser -u "$OWNER" -- "$BIN/pg_ctl" "${ARGS[@]}"
fi
exec "$BIN/pg_ctl" "${ARGS[@]}"

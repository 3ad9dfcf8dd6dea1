#!/usr/bin/env bash
# Starts a throwaway PostgreSQL on 127.0.0.1 for the RDS tests.
#
# Usage: scripts/start-postgres.sh DATA_DIR PORT
#   DATA_DIR/pgdata is the cluster, DATA_DIR/run its unix socket, DATA_DIR/log its log.
# Env: PG_USER / PG_PASSWORD / PG_DB (default coffer / coffer-secret / app),
#      PG_VERSION (default 15; installed with apt-get when missing and root).
# The cluster runs as the OS user "postgres" when started as root (initdb
# refuses root). Its settings live in the data directory (postgresql.auto.conf),
# so a cluster restored from a base backup starts with a plain `pg_ctl start`.
# The role may log in and replicate over TCP with its password
# (pg_basebackup). Prints shell assignments: PG_URL, PG_DATA, PG_OWNER, PG_BIN.
# Stop with scripts/stop-postgres.sh DATA_DIR.
set -euo pipefail
DATA_DIR=${1:?data directory}
PORT=${2:?port}
PG_VERSION=${PG_VERSION:-15}
DBUSER=${PG_USER:-coffer}
DBPASS=${PG_PASSWORD:-coffer-secret}
DB=${PG_DB:-app}
BIN=/usr/lib/postgresql/$PG_VERSION/bin
log() { echo "[start-postgres] $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

if [ ! -x "$BIN/initdb" ]; then
    [ "$(id -u)" = 0 ] || die "$BIN/initdb missing: apt-get install postgresql-$PG_VERSION"
    log "installing postgresql-$PG_VERSION"
    # No service start from the package (there is no init system here).
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "postgresql-$PG_VERSION" >&2 || { rm -f /usr/sbin/policy-rc.d; die "apt-get install failed"; }
    rm -f /usr/sbin/policy-rc.d
fi
if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
    OWNER=postgres
    as_owner() { runuser -u postgres -- "$@"; }
else
    OWNER=$(id -un)
    as_owner() { "$@"; }
fi

mkdir -p "$DATA_DIR"
DATA_DIR=$(cd "$DATA_DIR" && pwd)
PGDATA=$DATA_DIR/pgdata
SOCK=$DATA_DIR/run
mkdir -p "$SOCK" "$DATA_DIR/log"
[ "$(id -u)" = 0 ] && chown "$OWNER" "$DATA_DIR" "$SOCK" "$DATA_DIR/log"
[ ${#SOCK} -le 90 ] || die "DATA_DIR path too long for a unix socket: $SOCK"

if [ ! -f "$PGDATA/PG_VERSION" ]; then
    as_owner "$BIN/initdb" -D "$PGDATA" -U postgres -E UTF8 --locale=C.UTF-8 --auth-local=trust --auth-host=scram-sha-256 --no-sync \
        > "$DATA_DIR/log/initdb.log" 2>&1 || { cat "$DATA_DIR/log/initdb.log" >&2; die "initdb failed"; }
    # Throwaway data: no fsync. wal_level replica and wal senders are the defaults pg_basebackup needs.
    cat > "$PGDATA/postgresql.auto.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$SOCK'
max_connections = 200
fsync = off
synchronous_commit = off
full_page_writes = off
password_encryption = 'scram-sha-256'
CONF
    [ "$(id -u)" = 0 ] && chown "$OWNER" "$PGDATA/postgresql.auto.conf"
fi
as_owner "$BIN/pg_ctl" -D "$PGDATA" -l "$DATA_DIR/log/postgres.log" -w -t 60 start >&2 || { tail -20 "$DATA_DIR/log/postgres.log" >&2; die "pg_ctl start failed"; }

as_owner "$BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$SOCK" -p "$PORT" -U postgres -d postgres -v u="$DBUSER" -v p="$DBPASS" -v d="$DB" >&2 <<'SQL'
SELECT format('CREATE ROLE %I LOGIN REPLICATION PASSWORD %L', :'u', :'p') WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'u') \gexec
SELECT format('CREATE DATABASE %I OWNER %I', :'d', :'u') WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = :'d') \gexec
-- A login role without REPLICATION (same password): what Coffer must refuse to register.
SELECT format('CREATE ROLE %I LOGIN PASSWORD %L', :'u' || '_plain', :'p') WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'u' || '_plain') \gexec
SQL
PGPASSWORD=$DBPASS "$BIN/psql" -X -q -At -h 127.0.0.1 -p "$PORT" -U "$DBUSER" -d "$DB" -c 'select 1' > /dev/null || die "cannot log in as $DBUSER over TCP"
echo "PG_URL='postgresql://$DBUSER:$DBPASS@127.0.0.1:$PORT/$DB'"
echo "PG_DATA='$PGDATA'"
echo "PG_OWNER='$OWNER'"
echo "PG_BIN='$BIN'"

#!/usr/bin/env bash
# Starts a throwaway OpenStack Swift with its S3 API (s3api + tempauth) on
# 127.0.0.1, for the S3 tests: one proxy and one account, container and
# object server, one replica, one device, no memcached, no syslog.
#
# Usage: scripts/start-objstore.sh DATA_DIR PORT
#   DATA_DIR holds config, rings, objects, logs and pids. Its file system must
#            keep user xattrs (Swift's object metadata): tmpfs (Linux >= 6.6),
#            xfs, btrfs, ext4 (small metadata only).
#   PORT     the proxy (S3 and Swift API); the three servers take PORT+1..PORT+3.
# Env: SWIFT_VERSION (PyPI, default 2.38.3), OBJSTORE_VENV (default
#      .build/objstore-venv-$SWIFT_VERSION in the project), OBJSTORE_ACCESS_KEY
#      (tempauth's account:user, default test:tester), OBJSTORE_SECRET_KEY
#      (default testing).
# Prints shell assignments: S3_ENDPOINT, S3_REGION, S3_ACCESS_KEY, S3_SECRET_KEY.
# Stop with scripts/stop-objstore.sh DATA_DIR.
set -euo pipefail
DATA_DIR=${1:?data directory}
PORT=${2:?port}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SWIFT_VERSION=${SWIFT_VERSION:-2.38.3}
VENV=${OBJSTORE_VENV:-$ROOT/.build/objstore-venv-$SWIFT_VERSION}
ACCESS=${OBJSTORE_ACCESS_KEY:-test:tester}
SECRET=${OBJSTORE_SECRET_KEY:-testing}
HOST=127.0.0.1
log() { echo "[start-objstore] $*" >&2; }
die() { log "ERROR: $*"; exit 1; }
[[ $ACCESS == *:* ]] || die "OBJSTORE_ACCESS_KEY must be tempauth's account:user"
ACCOUNT=${ACCESS%%:*}
SWIFT_USER=${ACCESS#*:}

mkdir -p "$DATA_DIR"
DATA_DIR=$(cd "$DATA_DIR" && pwd)
ETC=$DATA_DIR/etc RUN=$DATA_DIR/run LOGS=$DATA_DIR/log DEVICES=$DATA_DIR/devices
mkdir -p "$ETC" "$RUN" "$LOGS" "$DEVICES/d1"
for pidfile in "$RUN"/*.pid; do
    [ -e "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null && die "already running in $DATA_DIR (stop-objstore.sh first)"
done

# Several tests may ask at once: one installs, the others wait.
mkdir -p "$(dirname "$VENV")"
exec 9>"$VENV.lock"
flock 9
if [ ! -x "$VENV/bin/swift-proxy-server" ]; then
    log "installing OpenStack Swift $SWIFT_VERSION into $VENV"
    python3 -c 'import venv, ensurepip' 2>/dev/null || die "python3-venv missing (scripts/ensure-deps.sh --test installs it)"
    rm -rf "$VENV"
    python3 -m venv "$VENV" >&2
    # Every dependency (eventlet, lxml, xattr, pyeclib, cryptography...) comes as a wheel.
    "$VENV/bin/pip" install -q --disable-pip-version-check "swift==$SWIFT_VERSION" >&2 || die "pip install swift failed"
fi
exec 9>&-

# Rings (rebuilt each start: the ports may differ) and the secrets, in one Python run.
"$VENV/bin/python" - "$ETC" "$DEVICES/d1" "$HOST" "$PORT" >&2 <<'PY' || die "setup failed"
import os, secrets, sys, tempfile
etc, device, host, port = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
fd, probe = tempfile.mkstemp(dir=device)
try:
    os.setxattr(probe, "user.swift.metadata", b"m" * 200)
except OSError as e:
    sys.exit(f"{device}: no user xattrs ({e}); use tmpfs (Linux >= 6.6), xfs, btrfs or ext4")
finally:
    os.close(fd); os.unlink(probe)
for name, make in (("hash.suffix", lambda: secrets.token_hex(8)),
                   ("fernet.key", lambda: __import__("cryptography.fernet").fernet.Fernet.generate_key().decode())):
    path = os.path.join(etc, name)
    if not os.path.exists(path):
        with open(path, "w") as f: f.write(make())
from swift.common.ring import RingBuilder
for offset, kind in enumerate(("account", "container", "object"), start=1):
    builder = RingBuilder(6, 1, 1)
    builder.add_dev({"id": 0, "region": 1, "zone": 1, "ip": host, "port": port + offset, "device": "d1", "weight": 1, "meta": ""})
    builder.rebalance()
    builder.get_ring().save(os.path.join(etc, f"{kind}.ring.gz"))
PY

printf '[swift-hash]\nswift_hash_path_suffix = %s\nswift_hash_path_prefix = coffer\n\n[storage-policy:0]\nname = default\ndefault = yes\n' \
    "$(cat "$ETC/hash.suffix")" > "$ETC/swift.conf"
server_defaults() {
    # workers = 0: one eventlet process each; logs to stderr (-v) into log/, syslog copies dropped on loopback UDP.
    printf '[DEFAULT]\nbind_ip = %s\nbind_port = %s\nworkers = 0\nuser = %s\nswift_dir = %s\ndevices = %s\nmount_check = false\ndisable_fallocate = true\nlog_udp_host = %s\n' \
        "$HOST" "$1" "$(id -un)" "$ETC" "$DEVICES" "$HOST"
}
offset=1
for kind in account container object; do
    { server_defaults $((PORT + offset))
      printf '\n[pipeline:main]\npipeline = healthcheck %s-server\n\n[app:%s-server]\nuse = egg:swift#%s\n\n[filter:healthcheck]\nuse = egg:swift#healthcheck\n' "$kind" "$kind" "$kind"
    } > "$ETC/$kind-server.conf"
    offset=$((offset + 1))
done
{ server_defaults "$PORT"
  cat <<CONF

[pipeline:main]
pipeline = catch_errors gatekeeper healthcheck proxy-logging listing_formats bulk s3api tempauth copy slo dlo proxy-logging proxy-server

[app:proxy-server]
use = egg:swift#proxy
account_autocreate = true
allow_account_management = true
# A single node: never set it aside after one error.
error_suppression_interval = 0

[filter:tempauth]
use = egg:swift#tempauth
user_${ACCOUNT}_${SWIFT_USER} = $SECRET .admin .reseller_admin
fernet_key_1 = $(cat "$ETC/fernet.key")
active_fernet_key_id = 1

[filter:s3api]
use = egg:swift#s3api
location = us-east-1
dns_compliant_bucket_names = true
max_upload_part_num = 10000

[filter:slo]
use = egg:swift#slo
max_manifest_segments = 10000
CONF
  for filter in catch_errors gatekeeper healthcheck listing_formats bulk copy dlo; do
      printf '\n[filter:%s]\nuse = egg:swift#%s\n' "$filter" "$filter"
  done
  printf '\n[filter:proxy-logging]\nuse = egg:swift#proxy_logging\n'
} > "$ETC/proxy-server.conf"

for port in "$PORT" $((PORT + 1)) $((PORT + 2)) $((PORT + 3)); do
    (exec 3<>"/dev/tcp/$HOST/$port") 2>/dev/null && die "port $port on $HOST is in use"
done
for kind in account container object proxy; do
    # Own session: the servers outlive the shell that started them.
    setsid "$VENV/bin/swift-$kind-server" "$ETC/$kind-server.conf" -v < /dev/null >> "$LOGS/$kind.log" 2>&1 &
    echo $! > "$RUN/$kind.pid"
done

# Healthy when every server answers /healthcheck and tempauth serves the account.
if ! "$VENV/bin/python" - "$HOST" "$PORT" "$RUN" "$ACCESS" "$SECRET" >&2 <<'PY'; then
import glob, http.client, os, sys, time
host, port, run, user, key = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
deadline = time.time() + 60
def request(p, method, path, headers={}):
    c = http.client.HTTPConnection(host, p, timeout=5)
    try:
        c.request(method, path, headers=headers); r = c.getresponse(); r.read(); return r
    finally:
        c.close()
def wait(what, ready):
    while True:
        for pidfile in glob.glob(os.path.join(run, "*.pid")):
            try: os.kill(int(open(pidfile).read()), 0)
            except OSError: sys.exit(f"{os.path.basename(pidfile)[:-4]} server died (see log/)")
        try:
            if ready(): return
        except OSError: pass
        if time.time() > deadline: sys.exit(f"{what} not ready within 60 s")
        time.sleep(0.05)
for p in (port, port + 1, port + 2, port + 3):
    wait(f"port {p}", lambda: request(p, "GET", "/healthcheck").status == 200)
def account():
    r = request(port, "GET", "/auth/v1.0", {"X-Auth-User": user, "X-Auth-Key": key})
    if r.status != 200: return False
    path = "/" + r.getheader("X-Storage-Url").split("/", 3)[3]
    return request(port, "HEAD", path, {"X-Auth-Token": r.getheader("X-Auth-Token")}).status in (200, 204)
wait("the account", account)
PY
    "$ROOT/scripts/stop-objstore.sh" "$DATA_DIR" || true
    die "not healthy; see $LOGS"
fi
log "S3 endpoint http://$HOST:$PORT"
echo "S3_ENDPOINT='http://$HOST:$PORT'"
echo "S3_REGION='us-east-1'"
echo "S3_ACCESS_KEY='$ACCESS'"
echo "S3_SECRET_KEY='$SECRET'"

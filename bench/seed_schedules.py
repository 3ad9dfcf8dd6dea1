"""Fills a running server's catalog for bench/scheduler.sh.

Usage: seed_schedules.py ENDPOINT DATA_DIR SHARE_PATH VAULTS POLICIES BACKUPS

Through the API: one directory resource, one vault holding it, two policies
(a daily one keeping 200 backups; a GFS one for the large vault), bound, and
one real automatic-style backup. Then, straight into the SQLite catalog,
rows modelled on those: VAULTS vaults (each with its own resource) bound
round-robin to POLICIES daily policies at different times of day; 30 days of
claims per schedule, the latest the last occurrence at least five minutes
ago (so a pass finds the few due in the last five minutes, as in service);
BACKUPS automatic backups: one vault ("large") gets 10 000 spread over 400
days, the others share the rest. Prints shell assignments (LARGE_VAULT).
"""
import json
import os
import sqlite3
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from coffer_api import Coffer  # noqa: E402

endpoint, data_dir, share = sys.argv[1], sys.argv[2], sys.argv[3]
vault_count, policy_count, backup_count = int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
DAY = 86_400_000
api = Coffer(endpoint, data_dir)
base = api.base
_, r = api.call("POST", base + "/coffer/resources", {"resource": {"type": "OS::Sfs::Turbo", "name": "share", "path": share}})
resource = r["resource"]["id"]
_, v = api.call("POST", base + "/vaults", {"vault": {"name": "large", "billing": {"consistent_level": "crash_consistent", "object_type": "turbo",
                                                                           "protect_type": "backup", "size": 100},
                                                     "resources": [{"id": resource, "type": "OS::Sfs::Turbo"}]}})
large = v["vault"]["id"]


def policy(name, definition, pattern):
    _, p = api.call("POST", base + "/policies", {"policy": {"name": name, "enabled": True, "operation_type": "backup", "operation_definition": definition,
                                                            "trigger": {"properties": {"pattern": [pattern]}}}})
    return p["policy"]["id"]


gfs = policy("gfs", {"max_backups": 5000, "day_backups": 30, "week_backups": 12, "month_backups": 12, "year_backups": 2, "timezone": "UTC+08:00"},
             "FREQ=DAILY;INTERVAL=1;BYHOUR=03;BYMINUTE=00")
daily = policy("daily", {"max_backups": 200, "timezone": "UTC+08:00"}, "FREQ=DAILY;INTERVAL=1;BYHOUR=00;BYMINUTE=00")
api.call("POST", base + "/vaults/%s/associatepolicy" % large, {"policy_id": gfs})
api.checkpoint(large)

db = sqlite3.connect(data_dir + "/catalog.sqlite", timeout=30)
db.row_factory = sqlite3.Row


def model(table, key, value):
    return dict(db.execute("SELECT * FROM %s WHERE %s = ?" % (table, key), (value,)).fetchone())


def insert(table, rows):
    if rows:
        columns = list(rows[0].keys())
        db.executemany("INSERT INTO %s (%s) VALUES (%s)" % (table, ",".join(columns), ",".join("?" * len(columns))),
                       [tuple(row[k] for k in columns) for row in rows])


now = int(time.time() * 1000)
resource_row, vault_row, binding_row = model("resources", "id", resource), model("vaults", "id", large), model("vault_resources", "resource_id", resource)
policy_row, backup_row = model("policies", "id", daily), model("backups", "resource_id", resource)

# Policies: daily at spread times of day (minute of day i * 1440 / POLICIES).
policies = []
for i in range(policy_count):
    minute = i * 1440 // policy_count
    row = dict(policy_row, id=daily if i == 0 else str(uuid.uuid4()), name="daily-%04d" % i,
               patterns=json.dumps(["FREQ=DAILY;INTERVAL=1;BYHOUR=%02d;BYMINUTE=%02d" % (minute // 60, minute % 60)]))
    policies.append((row, minute))
db.execute("DELETE FROM policies WHERE id = ?", (daily,))
insert("policies", [p for p, _ in policies])

# Vaults (the large one first), each with its own resource, bound round-robin.
vaults = [(large, resource, gfs, 180)]
resources, vault_rows, bindings = [], [], []
for i in range(1, vault_count):
    vid, rid = str(uuid.uuid4()), str(uuid.uuid4())
    p, minute = policies[i % policy_count]
    resources.append(dict(resource_row, id=rid, name="share-%05d" % i))
    vault_rows.append(dict(vault_row, id=vid, name="v%05d" % i, policy_id=p["id"]))
    bindings.append(dict(binding_row, resource_id=rid, vault_id=vid))
    vaults.append((vid, rid, p["id"], minute))
insert("resources", resources)
insert("vaults", vault_rows)
insert("vault_resources", bindings)

# Claims: 30 days per schedule, up to the last occurrence at least five minutes ago.
claims = []
for vid, _, pid, minute in vaults:
    latest = (now - 300_000) // DAY * DAY + minute * 60_000
    while latest > now - 300_000:
        latest -= DAY
    for d in range(30):
        claims.append({"policy_id": pid, "vault_id": vid, "project_id": api.project, "occurrence": latest - d * DAY, "outcome": "started",
                       "checkpoint_id": None, "claimed_at": latest - d * DAY})
insert("schedule_claims", claims)

# Backups: 10 000 in the large vault over 400 days, the rest spread over the others (one a day each).
rows = []
large_count = min(10_000, backup_count)
for i in range(large_count):
    at = now - 400 * DAY + i * (400 * DAY // large_count)
    rows.append(dict(backup_row, id=str(uuid.uuid4()), name="autobk_%05d" % i, created_at=at, updated_at=at, protected_at=at,
                     auto_trigger=1, policy_id=gfs, expired_at=None, status="available"))
insert("backups", rows)
rest, per = backup_count - large_count, max(1, (backup_count - large_count) // max(1, vault_count - 1))
batch = []
for n in range(rest):
    vid, rid, pid, minute = vaults[1 + n // per % (vault_count - 1)]
    at = now - (n % per + 1) * DAY
    batch.append(dict(backup_row, id=str(uuid.uuid4()), vault_id=vid, resource_id=rid, checkpoint_id=str(uuid.uuid4()), name="autobk_%d" % n,
                      created_at=at, updated_at=at, protected_at=at, auto_trigger=1, policy_id=pid, expired_at=None, status="available"))
    if len(batch) == 50_000:
        insert("backups", batch)
        batch = []
insert("backups", batch)
db.commit()
db.execute("ANALYZE")
db.close()
print("LARGE_VAULT=%s" % large)

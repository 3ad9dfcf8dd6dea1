"""Fills a running server's catalog for bench/api.sh.

Usage: seed_backups.py ENDPOINT DATA_DIR SHARE_PATH COUNT

Makes one real backup through the API (register the share, vault,
checkpoint, wait), then inserts COUNT backup rows modelled on it straight into
the SQLite catalog: 100 resources with COUNT/100 backups each, spread over a
year. Prints shell assignments (TOKEN, PROJECT, BACKUP, RESOURCE) for eval.
"""
import os
import sqlite3
import sys
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from coffer_api import Coffer  # noqa: E402

endpoint, data_dir, share, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
api = Coffer(endpoint, data_dir)
token, project, base = api.token, api.project, api.base
_, r = api.call("POST", base + "/coffer/resources", {"resource": {"type": "OS::Sfs::Turbo", "name": "share", "path": share}})
resource = r["resource"]["id"]
_, v = api.call("POST", base + "/vaults", {"vault": {"name": "bench", "billing": {"consistent_level": "crash_consistent", "object_type": "turbo",
                                                                          "protect_type": "backup", "size": 100}, "resources": [{"id": resource, "type": "OS::Sfs::Turbo"}]}})
api.checkpoint(v["vault"]["id"])

db = sqlite3.connect(data_dir + "/catalog.sqlite", timeout=30)
db.row_factory = sqlite3.Row
model = dict(db.execute("SELECT * FROM backups WHERE resource_id = ?", (resource,)).fetchone())
resources = [resource] + [str(uuid.uuid4()) for _ in range(99)]
start = model["created_at"] - 365 * 86400 * 1000
columns = list(model.keys())
rows = []
for i in range(count):
    row = dict(model)
    row["id"] = str(uuid.uuid4())
    row["resource_id"] = resources[i % 100]
    row["name"] = "bk_%06d" % i
    row["created_at"] = row["updated_at"] = row["protected_at"] = start + i * (365 * 86400 * 1000 // count)
    rows.append(tuple(row[k] for k in columns))
with db:
    db.executemany("INSERT INTO backups (%s) VALUES (%s)" % (",".join(columns), ",".join("?" * len(columns))), rows)
db.execute("ANALYZE")
db.close()
print("TOKEN=%s PROJECT=%s BACKUP=%s RESOURCE=%s" % (token, project, model["id"], resource))

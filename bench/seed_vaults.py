"""Fills a running server's catalog for bench/metrics.sh.

Usage: seed_vaults.py ENDPOINT DATA_DIR SHARE_PATH VAULTS BACKUPS

Makes one real vault and backup through the API, then inserts VAULTS-1 more
vaults and BACKUPS backup rows (one resource per vault, the newest of each
failed for one vault in ten) modelled on them straight into the SQLite
catalog. Prints shell assignments (TOKEN, PROJECT) for eval.
"""
import os
import sqlite3
import sys
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from coffer_api import Coffer  # noqa: E402

endpoint, data_dir, share, vaults, backups = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
api = Coffer(endpoint, data_dir)
_, r = api.call("POST", api.base + "/coffer/resources", {"resource": {"type": "OS::Sfs::Turbo", "name": "share", "path": share}})
resource = r["resource"]["id"]
_, v = api.call("POST", api.base + "/vaults", {"vault": {"name": "bench", "billing": {"consistent_level": "crash_consistent", "object_type": "turbo",
                                                                               "protect_type": "backup", "size": 100}, "resources": [{"id": resource, "type": "OS::Sfs::Turbo"}]}})
vault = v["vault"]["id"]
api.checkpoint(vault)

db = sqlite3.connect(data_dir + "/catalog.sqlite", timeout=30)
db.row_factory = sqlite3.Row
vault_model = dict(db.execute("SELECT * FROM vaults WHERE id = ?", (vault,)).fetchone())
backup_model = dict(db.execute("SELECT * FROM backups WHERE resource_id = ?", (resource,)).fetchone())


def insert(table, model, rows):
    columns = list(model.keys())
    db.executemany("INSERT INTO %s (%s) VALUES (%s)" % (table, ",".join(columns), ",".join("?" * len(columns))),
                   [tuple(row[k] for k in columns) for row in rows])


vault_rows, targets = [], [(vault, resource)]
for i in range(vaults - 1):
    row = dict(vault_model)
    row["id"] = str(uuid.uuid4())
    row["name"] = "vault_%05d" % i
    vault_rows.append(row)
    targets.append((row["id"], str(uuid.uuid4())))
backup_rows = []
per_vault = max(1, backups // len(targets))
for n, (vault_id, resource_id) in enumerate(targets):
    for i in range(per_vault):
        row = dict(backup_model)
        row["id"] = str(uuid.uuid4())
        row["vault_id"], row["resource_id"] = vault_id, resource_id
        row["name"] = "bk_%05d_%03d" % (n, i)
        row["created_at"] = row["updated_at"] = row["protected_at"] = backup_model["created_at"] - (per_vault - i) * 3_600_000
        if n % 10 == 0 and i == per_vault - 1:
            row["status"], row["protected_at"] = "error", None
        backup_rows.append(row)
with db:
    insert("vaults", vault_model, vault_rows)
    insert("backups", backup_model, backup_rows)
db.execute("ANALYZE")
db.close()
print("TOKEN=%s PROJECT=%s" % (api.token, api.project))

#!/usr/bin/env python3
"""Drives a running `coffer serve` with openstacksdk + otcextensions the way
OTC tools call CSBS: Keystone password auth, the `data-protect` endpoint
discovered from the token's catalog, X-Auth-Token on every call.
check_protectable -> protect -> item listable at once -> wait available ->
list / count / get -> change the disks -> restore -> bytes compared ->
delete until the item is gone.
Usage: csbs_interop.py ENDPOINT ADMIN_CREDENTIALS_JSON RESOURCE_DIR
(RESOURCE_DIR must lie under the server's --resource-root)."""
import json
import os
import sys
import time

import openstack
import requests
from common import check, finish, wait, wait_healthy
from otcextensions import sdk

endpoint, creds_path, resource_dir = sys.argv[1], sys.argv[2], sys.argv[3]
creds = json.load(open(creds_path))
PROVIDER = "fc4d5750-22e7-4798-8a46-f48f62c4c1da"
wait_healthy(endpoint)


conn = openstack.connect(auth_url=endpoint + "/v3", username=creds["user_name"], password=creds["password"], project_id=creds["project_id"],
                         user_domain_name="Default", project_domain_name="Default", region_name="coffer-local")
sdk.register_otc_extensions(conn)
csbs = conn.csbs
check(csbs.get_endpoint().rstrip("/") == "%s/v1/%s" % (endpoint, creds["project_id"]), "data-protect endpoint from the catalog: %s" % csbs.get_endpoint())

# Two disks with content (registering paths is the operator's act, over the CBR inventory extension).
disks = {"root": os.path.join(resource_dir, "csbs-root.img"), "data": os.path.join(resource_dir, "csbs-data.img")}
original = {}
for name, path in disks.items():
    data = os.urandom(1 << 20) + bytes(2 << 20) + (name.encode() * 1000)
    with open(path, "wb") as f:
        f.write(data)
    original[name] = data
token = conn.auth_token
r = requests.post("%s/v3/%s/coffer/resources" % (endpoint, creds["project_id"]), headers={"X-Auth-Token": token},
                  json={"resource": {"type": "OS::Nova::Server", "name": "csbs-vm", "disks": [{"name": "root", "path": disks["root"], "bootable": True},
                                                                                          {"name": "data", "path": disks["data"]}]}})
check(r.status_code == 200, "register server: %s" % r.text)
server = r.json()["resource"]
server_id = server["id"]

r = csbs.post("/providers/%s/resources/action" % PROVIDER, json={"check_protectable": [{"resource_id": server_id, "resource_type": "OS::Nova::Server"}]})
check(r.status_code == 200 and r.json()["protectable"][0]["result"] is True, "check_protectable: %s" % r.text)

r = csbs.post("/providers/%s/resources/%s/action" % (PROVIDER, server_id), json={"protect": {"backup_name": "sdk-backup", "description": "from openstacksdk",
                                                                                             "incremental": True, "tags": [{"key": "k1", "value": "v1"}]}})
check(r.status_code == 200, "protect: %s" % r.text)
checkpoint = r.json()["checkpoint"]
check(checkpoint["status"] == "protecting" and checkpoint["protection_plan"]["resources"][0]["id"] == server_id, "protect answer: %s" % checkpoint)

items = csbs.get("/checkpoint_items", params={"checkpoint_id": checkpoint["id"]}).json()["checkpoint_items"]
check(len(items) == 1, "item listable at once: %s" % items)
item_id = items[0]["id"] if items else ""


def item_status():
    r = csbs.get("/checkpoint_items/%s" % item_id)
    return r.json()["checkpoint_item"]["status"] if r.status_code == 200 else None


check(wait(lambda: item_status() == "available", "backup available") is not None, "backup available")
item = csbs.get("/checkpoint_items/%s" % item_id).json()["checkpoint_item"]
extend = item["extend_info"]
check(extend["progress"] == 100 and len(extend["volume_backups"]) == 2, "item extend_info: %s" % extend)
check(isinstance(extend["size"], int) and all(isinstance(v["source_volume_size"], int) for v in extend["volume_backups"]), "int sizes")
check(item["tags"] == [{"key": "k1", "value": "v1"}], "tags: %s" % item["tags"])
count = csbs.get("/checkpoint_items/count", params={"resource_id": server_id}).json()["count"]
check(count == 1, "count: %s" % count)
listed = csbs.get("/checkpoint_items", params={"resource_type": "OS::Nova::Server", "status": "available", "limit": 10}).json()["checkpoint_items"]
check(any(i["id"] == item_id for i in listed), "list with filters")
quotas = csbs.get("/quotas").json()["quotas"]["resources"]
check(any(q["type"] == "backups" for q in quotas), "quotas: %s" % quotas)

# Change both disks, then restore the server's disks from the backup.
for path in disks.values():
    with open(path, "r+b") as f:
        f.write(b"\xff" * 65536)
        f.seek(2 << 20)
        f.write(b"changed" * 1000)
r = csbs.post("/restores", json={"restore": {"provider_id": PROVIDER, "checkpoint_id": checkpoint["id"],
                                             "parameters": {"checkpoint_item_id": item_id, "power_on": True,
                                                            "targets": {"server_id": server_id, "volumes": [
                                                                {"backup_id": v["id"], "volume_id": v["source_volume_id"]} for v in extend["volume_backups"]]}}}})
check(r.status_code == 200 and r.json()["restore"]["status"] == "in_progress", "restore: %s" % r.text)
check(wait(lambda: item_status() == "available", "restore finished") is not None, "restore finished")
for name, path in disks.items():
    with open(path, "rb") as f:
        check(f.read() == original[name], "disk %s restored byte for byte" % name)

# Delete the way Terraform loops: DELETE until GET answers 404.
deadline = time.time() + 60
while time.time() < deadline:
    if csbs.get("/checkpoint_items/%s" % item_id, raise_exc=False).status_code == 404:
        break
    r = csbs.delete("/providers/%s/checkpoints/%s" % (PROVIDER, checkpoint["id"]), raise_exc=False)
    check(r.status_code in (200, 400, 404, 409), "delete answered %d" % r.status_code)
    time.sleep(0.3)
check(csbs.get("/checkpoint_items/%s" % item_id, raise_exc=False).status_code == 404, "item gone after delete")
finish("csbs interop ok")

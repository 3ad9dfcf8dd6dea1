#!/usr/bin/env python3
"""Drives a running `coffer serve` with the official huaweicloudsdkrds SDK
(AK/SK): create_manual_backup -> list_backups (offset paging to the end) ->
wait COMPLETED -> delete_manual_backup, checking the models.
Usage: rds_interop.py ENDPOINT ADMIN_CREDENTIALS_JSON POSTGRES_URL"""
import json
import sys
import time

import requests
from common import check, finish, wait_healthy
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from huaweicloudsdkrds.v3 import RdsClient
from huaweicloudsdkrds.v3.model import (CreateManualBackupRequest, CreateManualBackupRequestBody, DeleteManualBackupRequest,
                                        ListBackupsRequest)

endpoint, creds_path, pg_url = sys.argv[1], sys.argv[2], sys.argv[3]
creds = json.load(open(creds_path))
pid = creds["project_id"]
wait_healthy(endpoint)

# Registering the instance is the operator's act (Coffer's inventory extension).
token = requests.post(endpoint + "/v3/auth/tokens", json={"auth": {"identity": {"methods": ["password"], "password": {"user": {
    "name": creds["user_name"], "domain": {"name": "Default"}, "password": creds["password"]}}}}}).headers["X-Subject-Token"]
r = requests.post("%s/v3/%s/coffer/resources" % (endpoint, pid), headers={"X-Auth-Token": token},
                  json={"resource": {"type": "rds", "name": "sdk-pg", "engine": "PostgreSQL", "connection": pg_url}})
check(r.status_code == 200, "register: %s" % r.text)
instance = r.json()["resource"]["id"]

client = RdsClient.new_builder().with_credentials(BasicCredentials(creds["access_key"], creds["secret_key"], pid)).with_endpoints([endpoint]).build()

made = []
for name in ["sdk-backup-1", "sdk-backup-2"]:
    resp = client.create_manual_backup(CreateManualBackupRequest(body=CreateManualBackupRequestBody(instance_id=instance, name=name, description="from the sdk")))
    check(resp.backup.status == "BUILDING" and resp.backup.type == "manual" and resp.backup.instance_id == instance, "create: %s" % resp)
    check(resp.backup.id.endswith("br03"), "backup id form: %s" % resp.backup.id)
    made.append(resp.backup.id)

    def completed():
        backups = client.list_backups(ListBackupsRequest(instance_id=instance, backup_id=made[-1])).backups
        return backups and backups[0].status in ("COMPLETED", "FAILED") and backups[0]
    deadline = time.time() + 120
    b = None
    while time.time() < deadline and not b:
        b = completed()
        time.sleep(0.3)
    check(b and b.status == "COMPLETED", "backup completed: %s" % b)
    check(b and b.size > 0 and b.datastore.type == "PostgreSQL", "size and datastore: %s" % b)

try:
    client.create_manual_backup(CreateManualBackupRequest(body=CreateManualBackupRequestBody(instance_id=instance, name="9bad")))
    check(False, "a name starting with a digit was accepted")
except ClientRequestException as e:
    check(e.status_code == 400 and e.error_code == "DBS.200001", "bad name: %s %s" % (e.status_code, e.error_code))

# Paging the way otcextensions does: offset until total_count, empty past the end.
seen, offset = [], 0
while True:
    page = client.list_backups(ListBackupsRequest(instance_id=instance, offset=offset, limit=1))
    check(page.total_count == 2, "total_count: %s" % page.total_count)
    if not page.backups:
        break
    seen += [b.id for b in page.backups]
    offset += len(page.backups)
check(sorted(seen) == sorted(made), "paged ids: %s" % seen)

for backup_id in made:
    client.delete_manual_backup(DeleteManualBackupRequest(backup_id=backup_id))
deadline = time.time() + 60
while time.time() < deadline and client.list_backups(ListBackupsRequest(instance_id=instance)).total_count > 0:
    time.sleep(0.3)
check(client.list_backups(ListBackupsRequest(instance_id=instance)).total_count == 0, "backups deleted")
finish("rds interop ok")

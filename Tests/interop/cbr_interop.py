#!/usr/bin/env python3
"""Drives a running `coffer serve` with the official huaweicloudsdkcbr SDK:
create vault -> checkpoint -> list (paging) / show / update backups -> restore
-> delete, then vault update/delete, checking the returned models.
Usage: cbr_interop.py ENDPOINT ADMIN_CREDENTIALS_JSON RESOURCE_DIR
(RESOURCE_DIR must lie under the server's --resource-root)."""
import json
import os
import sys
import time

import requests
from common import check, failures, finish, wait, wait_healthy
from huaweicloudsdkcbr.v1 import CbrClient
from huaweicloudsdkcbr.v1.model import (BackupRestore, BackupRestoreReq, BackupUpdate, BackupUpdateReq, BillingCreate,
                                        CheckpointParam, CreateCheckpointRequest, CreateVaultRequest, DeleteBackupRequest,
                                        DeleteVaultRequest, ListBackupsRequest, ListOpLogsRequest, ListVaultRequest,
                                        ResourceCreate, RestoreBackupRequest, ShowBackupRequest, ShowCheckpointRequest,
                                        ShowVaultRequest, UpdateBackupRequest, UpdateVaultRequest, VaultBackup, VaultBackupReq,
                                        VaultCreate, VaultCreateReq, VaultUpdate, VaultUpdateReq)
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException

endpoint, creds_path, resource_dir = sys.argv[1], sys.argv[2], sys.argv[3]
creds = json.load(open(creds_path))
pid = creds["project_id"]


wait_healthy(endpoint)

# Register the directory through Coffer's inventory extension (token auth).
tok = requests.post(endpoint + "/v3/auth/tokens", json={"auth": {"identity": {"methods": ["password"], "password": {"user": {
    "name": creds["user_name"], "password": creds["password"], "domain": {"name": "Default"}}}}, "scope": {"project": {"id": pid}}}})
token = tok.headers["X-Subject-Token"]
with open(os.path.join(resource_dir, "hello.txt"), "w") as f:
    f.write("version 1\n")
r = requests.post("%s/v3/%s/coffer/resources" % (endpoint, pid), headers={"X-Auth-Token": token},
                  json={"resource": {"type": "OS::Sfs::Turbo", "name": "share", "path": resource_dir}})
check(r.status_code == 200, "register resource: %s %s" % (r.status_code, r.text))
resource_id = r.json()["resource"]["id"]

client = CbrClient.new_builder().with_credentials(BasicCredentials(creds["access_key"], creds["secret_key"], pid)) \
    .with_endpoints([endpoint]).build()

vault = client.create_vault(CreateVaultRequest(body=VaultCreateReq(vault=VaultCreate(
    name="sdk-vault", billing=BillingCreate(consistent_level="crash_consistent", object_type="turbo", protect_type="backup", size=10),
    resources=[ResourceCreate(id=resource_id, type="OS::Sfs::Turbo")], description="from the SDK")))).vault
check(vault.id and vault.billing.object_type == "turbo" and vault.billing.size == 10, "create_vault model")
check(vault.resources and vault.resources[0].id == resource_id, "vault resources")
check(client.show_vault(ShowVaultRequest(vault_id=vault.id)).vault.name == "sdk-vault", "show_vault")
check(client.list_vault(ListVaultRequest(limit=5)).count >= 1, "list_vault count")
updated = client.update_vault(UpdateVaultRequest(vault_id=vault.id, body=VaultUpdateReq(vault=VaultUpdate(name="sdk-vault-2")))).vault
check(updated.name == "sdk-vault-2", "update_vault")

cp = client.create_checkpoint(CreateCheckpointRequest(body=VaultBackupReq(checkpoint=VaultBackup(
    vault_id=vault.id, parameters=CheckpointParam(name="sdkcp", description="d"))))).checkpoint
check(cp.status == "protecting" and cp.vault.id == vault.id, "create_checkpoint returns protecting: %s" % cp.status)
listed = client.list_backups(ListBackupsRequest(checkpoint_id=cp.id))
check(listed.count == 1 and listed.backups[0].status in ("protecting", "available"), "backups listable at once")


def backup_available():
    b = client.list_backups(ListBackupsRequest(vault_id=vault.id)).backups
    return b[0] if b and b[0].status == "available" else None


backup = wait(backup_available, "backup available")
if backup:
    check(backup.resource_id == resource_id and backup.resource_type == "OS::Sfs::Turbo", "backup resource fields")
    check(backup.provider_id == "3f3c3220-245c-4805-b811-758870015881", "backup provider_id")
    check(backup.extend_info is not None and backup.extend_info.snapshot_id, "backup extend_info.snapshot_id")
    check(client.show_checkpoint(ShowCheckpointRequest(checkpoint_id=cp.id)).checkpoint.status == "available", "checkpoint available")
    shown = client.show_backup(ShowBackupRequest(backup_id=backup.id)).backup
    check(shown.id == backup.id and shown.name == "sdkcp", "show_backup")
    renamed = client.update_backup(UpdateBackupRequest(backup_id=backup.id, body=BackupUpdateReq(backup=BackupUpdate(name="sdk_renamed")))).backup
    check(renamed.name == "sdk_renamed", "update_backup")
    # A second backup, then paging.
    client.create_checkpoint(CreateCheckpointRequest(body=VaultBackupReq(checkpoint=VaultBackup(vault_id=vault.id))))
    wait(lambda: all(b.status == "available" for b in client.list_backups(ListBackupsRequest(vault_id=vault.id)).backups), "second backup")
    page1 = client.list_backups(ListBackupsRequest(vault_id=vault.id, limit=1, offset=0, sort="created_at:asc"))
    page2 = client.list_backups(ListBackupsRequest(vault_id=vault.id, limit=1, offset=1, sort="created_at:asc"))
    check(page1.count == 2 and len(page1.backups) == 1 and page1.backups[0].id != page2.backups[0].id, "paging")
    check(page1.backups[0].id == backup.id, "sort created_at:asc")
    # Restore in place after a change.
    with open(os.path.join(resource_dir, "hello.txt"), "w") as f:
        f.write("version 2\n")
    rr = client.restore_backup(RestoreBackupRequest(backup_id=backup.id, body=BackupRestoreReq(restore=BackupRestore(resource_id=resource_id))))
    check(rr.status_code == 202, "restore 202: %s" % rr.status_code)
    wait(lambda: open(os.path.join(resource_dir, "hello.txt")).read() == "version 1\n", "restored content")
    wait(lambda: client.show_backup(ShowBackupRequest(backup_id=backup.id)).backup.status == "available", "backup available after restore")
    try:
        client.restore_backup(RestoreBackupRequest(backup_id="no-such-backup", body=BackupRestoreReq(restore=BackupRestore())))
        check(False, "restore of unknown backup must fail")
    except ClientRequestException as e:
        check(e.status_code == 404 and e.error_code == "BackupService.6200", "unknown backup 404: %s %s" % (e.status_code, e.error_code))
    # Delete.
    d = client.delete_backup(DeleteBackupRequest(backup_id=backup.id))
    check(d.status_code == 204, "delete 204")

    def gone():
        try:
            client.show_backup(ShowBackupRequest(backup_id=backup.id))
            return False
        except ClientRequestException as e:
            return e.status_code == 404
    wait(gone, "backup deleted")
    logs = client.list_op_logs(ListOpLogsRequest(vault_id=vault.id))
    kinds = sorted(set(l.operation_type for l in logs.operation_logs))
    check(kinds == ["backup", "delete", "restore"], "operation logs: %s" % kinds)

try:
    client.create_vault(CreateVaultRequest(body=VaultCreateReq(vault=VaultCreate(
        name="bad name!", billing=BillingCreate(consistent_level="crash_consistent", object_type="turbo", protect_type="backup", size=10), resources=[]))))
    check(False, "invalid vault name must fail")
except ClientRequestException as e:
    check(e.status_code == 400 and e.error_code == "BackupService.9900" and "vault.name" in e.error_msg, "invalid name 400: %s" % e.error_msg)

wait(lambda: client.delete_vault(DeleteVaultRequest(vault_id=vault.id)).status_code == 204 if not any(
    b.status != "available" for b in client.list_backups(ListBackupsRequest(vault_id=vault.id)).backups) else False, "vault deleted")

finish("cbr interop ok")

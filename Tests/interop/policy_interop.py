#!/usr/bin/env python3
"""CBR policies through both official clients against a running `coffer serve`:
huaweicloudsdkcbr (AK/SK) create/list/show/update/associate/disassociate/delete,
and openstacksdk + otcextensions (Keystone token, catalog type `cbr`)
create/list/get/find/update/bind/unbind/delete, then replays of the
Terraform call sequence (read-back of pattern and full_backup_interval -1,
an idempotent second apply) and of the Ansible `cbr_policy` module's
(opentelekomcloud.cloud 0.15.2: find by name, compare what it would send with
what it reads back, create or update, delete; every second run unchanged). Usage: policy_interop.py ENDPOINT ADMIN_CREDENTIALS_JSON"""
import json
import sys

import openstack
import requests
from common import check, finish, wait_healthy
from huaweicloudsdkcbr.v1 import CbrClient
from huaweicloudsdkcbr.v1.model import (AssociateVaultPolicyRequest, BillingCreate, CreatePolicyRequest, CreateVaultRequest,
                                        DeletePolicyRequest, DeleteVaultRequest, DisassociateVaultPolicyRequest, ListPoliciesRequest,
                                        PolicyCreate, PolicyCreateReq, PolicyoODCreate, PolicyTriggerPropertiesReq, PolicyTriggerReq,
                                        PolicyUpdate, PolicyUpdateReq, ShowPolicyRequest, UpdatePolicyRequest, VaultAssociate,
                                        VaultCreate, VaultCreateReq, VaultDissociate)
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from otcextensions import sdk

endpoint, creds_path = sys.argv[1], sys.argv[2]
creds = json.load(open(creds_path))
pid = creds["project_id"]
wait_healthy(endpoint)

# --- huaweicloudsdkcbr (AK/SK) ---
client = CbrClient.new_builder().with_credentials(BasicCredentials(creds["access_key"], creds["secret_key"], pid)).with_endpoints([endpoint]).build()
weekly = "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR;BYHOUR=06;BYMINUTE=00"
created = client.create_policy(CreatePolicyRequest(body=PolicyCreateReq(policy=PolicyCreate(
    name="sdk-policy", enabled=True, operation_type="backup",
    operation_definition=PolicyoODCreate(max_backups=10, timezone="UTC+08:00", full_backup_interval=-1),
    trigger=PolicyTriggerReq(properties=PolicyTriggerPropertiesReq(pattern=[weekly])))))).policy
check(created.id and created.name == "sdk-policy" and created.operation_type == "backup", "create_policy model")
check(created.trigger.properties.pattern == [weekly], "pattern echoed verbatim: %s" % created.trigger.properties.pattern)
check(created.operation_definition.max_backups == 10 and created.operation_definition.timezone == "UTC+08:00", "operation_definition echoed")
check(client.show_policy(ShowPolicyRequest(policy_id=created.id)).policy.id == created.id, "show_policy")
listed = client.list_policies(ListPoliciesRequest(operation_type="backup"))
check(listed.count >= 1 and any(p.id == created.id for p in listed.policies), "list_policies")
renamed = client.update_policy(UpdatePolicyRequest(policy_id=created.id, body=PolicyUpdateReq(policy=PolicyUpdate(name="sdk-policy-2", enabled=False)))).policy
check(renamed.name == "sdk-policy-2" and renamed.enabled is False and renamed.trigger.properties.pattern == [weekly], "partial update keeps the pattern")

vault = client.create_vault(CreateVaultRequest(body=VaultCreateReq(vault=VaultCreate(
    name="policy-vault", billing=BillingCreate(consistent_level="crash_consistent", object_type="turbo", protect_type="backup", size=10),
    resources=[])))).vault
bound = client.associate_vault_policy(AssociateVaultPolicyRequest(vault_id=vault.id, body=VaultAssociate(policy_id=created.id))).associate_policy
check(bound.vault_id == vault.id and bound.policy_id == created.id, "associate_vault_policy")
by_vault = client.list_policies(ListPoliciesRequest(vault_id=vault.id))
check(by_vault.count == 1 and by_vault.policies[0].associated_vaults[0].vault_id == vault.id, "list_policies by vault with associated_vaults")
unbound = client.disassociate_vault_policy(DisassociateVaultPolicyRequest(vault_id=vault.id, body=VaultDissociate(policy_id=created.id))).dissociate_policy
check(unbound.policy_id == created.id, "disassociate_vault_policy")
try:
    client.create_policy(CreatePolicyRequest(body=PolicyCreateReq(policy=PolicyCreate(
        name="too-close", operation_type="backup", operation_definition=PolicyoODCreate(max_backups=1),
        trigger=PolicyTriggerReq(properties=PolicyTriggerPropertiesReq(pattern=["FREQ=DAILY;BYHOUR=01,02;BYMINUTE=00,30"]))))))
    check(False, "a pattern with executions 30 minutes apart must be refused")
except ClientRequestException as e:
    check(e.status_code == 400 and e.error_code == "BackupService.9900" and "hour" in e.error_msg, "pattern refused: %s" % e.error_msg)
check(client.delete_policy(DeletePolicyRequest(policy_id=created.id)).status_code in (200, 204), "delete_policy")
try:
    client.show_policy(ShowPolicyRequest(policy_id=created.id))
    check(False, "a deleted policy must be gone")
except ClientRequestException as e:
    check(e.status_code == 404 and e.error_code == "BackupService.6000", "deleted policy 404")

# --- openstacksdk + otcextensions (Keystone token, catalog discovery) ---
conn = openstack.connect(auth_url=endpoint + "/v3", username=creds["user_name"], password=creds["password"], project_id=pid,
                         user_domain_name="Default", project_domain_name="Default", region_name="coffer-local")
sdk.register_otc_extensions(conn)
cbr = conn.cbr
p = cbr.create_policy(name="otc-policy", enabled=True, operation_type="backup",
                      operation_definition={"retention_duration_days": 30, "timezone": "UTC+01:00"},
                      trigger={"properties": {"pattern": ["FREQ=DAILY;INTERVAL=2;BYHOUR=03;BYMINUTE=30"]}})
check(p.id and p.name == "otc-policy", "otc create_policy")
check(cbr.get_policy(p.id).name == "otc-policy", "otc get_policy")
check(cbr.find_policy("otc-policy").id == p.id, "otc find_policy by name (GET by name 404, then the listing)")
check(any(x.id == p.id for x in cbr.policies()), "otc policies()")
u = cbr.update_policy(p, name="otc-policy-2")
check(u.name == "otc-policy-2", "otc update_policy")
cbr.bind_policy(vault.id, p.id)
check(requests.get("%s/v3/%s/vaults/%s" % (endpoint, pid, vault.id), headers={"X-Auth-Token": conn.auth_token}).json()["vault"].get("policy_id") == p.id,
      "otc bind_policy")
cbr.unbind_policy(vault.id, p.id)
cbr.delete_policy(p.id)
check(cbr.find_policy(p.id, ignore_missing=True) is None, "otc delete_policy")

# --- Terraform's sequence: create, read back, apply again (no change), update, delete ---
headers = {"X-Auth-Token": conn.auth_token}
base = "%s/v3/%s" % (endpoint, pid)
tf_body = {"policy": {"name": "tf-policy", "enabled": True, "operation_type": "backup",
                      "operation_definition": {"max_backups": -1, "retention_duration_days": -1, "full_backup_interval": -1, "timezone": "UTC+08:00",
                                               "day_backups": 0, "week_backups": 0, "month_backups": 0, "year_backups": 0},
                      "trigger": {"properties": {"pattern": ["FREQ=WEEKLY;BYDAY=MO,TU;BYHOUR=06;BYMINUTE=00", "FREQ=WEEKLY;BYDAY=MO,TU;BYHOUR=18;BYMINUTE=00"]}}}}
r = requests.post(base + "/policies", headers=headers, json=tf_body)
check(r.status_code == 200, "terraform create 200: %s" % r.status_code)
tf = r.json()["policy"]
read = requests.get(base + "/policies/" + tf["id"], headers=headers).json()["policy"]
check(read["trigger"]["properties"]["pattern"] == tf_body["policy"]["trigger"]["properties"]["pattern"], "terraform read-back of the patterns")
od = read["operation_definition"]
check(od["full_backup_interval"] == -1 and od["max_backups"] == -1 and od["retention_duration_days"] == -1 and od["timezone"] == "UTC+08:00",
      "terraform read-back of operation_definition: %s" % od)
again = requests.put(base + "/policies/" + tf["id"], headers=headers, json={"policy": {"name": "tf-policy", "operation_definition": tf_body["policy"]["operation_definition"],
                                                                                     "trigger": tf_body["policy"]["trigger"]}})
check(again.status_code == 200 and again.json()["policy"]["operation_definition"] == od, "a second apply changes nothing")
check(requests.delete(base + "/policies/" + tf["id"], headers=headers).status_code == 204, "terraform delete 204")
check(requests.get(base + "/policies/" + tf["id"], headers=headers).status_code == 404, "terraform sees it gone")


# --- Ansible cbr_policy: the module is not on PyPI (Galaxy only), so its calls through otcextensions are replayed ---
def ansible_changes(policy, params):
    """Whether the module would report a change for an existing policy (its comparison: set of patterns, values exactly)."""
    od = policy.operation_definition
    wanted = {"enabled": params.get("is_enabled"), "day_backups": params.get("count_day_backups"), "max_backups": params.get("count_max_backups"),
              "month_backups": params.get("count_month_backups"), "week_backups": params.get("count_week_backups"),
              "year_backups": params.get("count_year_backups"), "retention_duration_days": params.get("retention_duration_days"),
              "timezone": params.get("timezone")}
    current = dict(od, enabled=policy.enabled)
    return set(params["pattern"]) != set(policy.trigger["properties"]["pattern"]) or \
        any(value is not None and current.get(key) != value for key, value in wanted.items())


def ansible_cbr_policy(params):
    """One run of the module with these parameters: (changed, policy)."""
    policy = cbr.find_policy(params["name"], ignore_missing=True)
    if params.get("state") == "absent":
        if policy:
            cbr.delete_policy(policy.id)
        return policy is not None, None
    definition = {}
    for param, key in (("count_day_backups", "day_backups"), ("count_month_backups", "month_backups"), ("retention_duration_days", "retention_duration_days"),
                       ("count_week_backups", "week_backups"), ("count_year_backups", "year_backups")):
        if params.get(param) is not None:
            definition[key] = params[param]
    if params.get("count_day_backups"):
        definition["max_backups"] = params["count_day_backups"]
    if params.get("timezone"):
        definition["timezone"] = params["timezone"]
    query = {"trigger": {"properties": {"pattern": params["pattern"]}}}
    if params.get("is_enabled") is not None:
        query["enabled"] = params["is_enabled"]
    if policy is None:
        if not params.get("count_day_backups"):
            definition["max_backups"] = -1
        if not params.get("retention_duration_days"):
            definition["retention_duration_days"] = -1
        return True, cbr.create_policy(name=params["name"], operation_type="backup", enabled=params.get("is_enabled", True),
                                       operation_definition=definition, **query)
    if definition:
        query["operation_definition"] = definition
    changed = ansible_changes(policy, params)
    return changed, cbr.update_policy(policy.id, **query)


created_params = {"name": "ansible-policy", "count_day_backups": 0, "count_month_backups": 0, "retention_duration_days": 5, "count_year_backups": 0,
                  "pattern": ["FREQ=WEEKLY;BYHOUR=14;BYDAY=MO,TU,WE,TH,FR,SA,SU;BYMINUTE=00"]}
changed, made = ansible_cbr_policy(created_params)
check(changed and made.id, "ansible: the first run creates the policy")
changed, again = ansible_cbr_policy(created_params)
check(not changed and again.id == made.id and not ansible_changes(cbr.get_policy(made.id), created_params),
      "ansible: a second run with the same parameters changes nothing, and what it reads back still matches")
updated_params = dict(created_params, count_day_backups=5, timezone="UTC+08:00", is_enabled=False)
del updated_params["retention_duration_days"]
changed, updated = ansible_cbr_policy(updated_params)
read = cbr.get_policy(made.id)
check(changed and read.enabled is False and read.operation_definition["day_backups"] == 5 and read.operation_definition["max_backups"] == 5
      and read.operation_definition["timezone"] == "UTC+08:00", "ansible: the update is applied: %s" % read.operation_definition)
changed, _ = ansible_cbr_policy(updated_params)
check(not changed, "ansible: the update run again changes nothing")
changed, _ = ansible_cbr_policy(dict(updated_params, state="absent"))
check(changed and cbr.find_policy("ansible-policy", ignore_missing=True) is None, "ansible: state absent deletes it")
changed, _ = ansible_cbr_policy(dict(updated_params, state="absent"))
check(not changed, "ansible: absent again changes nothing")
client.delete_vault(DeleteVaultRequest(vault_id=vault.id))
finish("policy interop ok")

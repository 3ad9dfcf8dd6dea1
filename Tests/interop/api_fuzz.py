"""Drives a running server with schemathesis against its own /openapi.json.

Usage: api_fuzz.py ENDPOINT CREDENTIALS_JSON RESOURCE_ROOT

First creates real objects (a registered directory, a vault, a finished
backup, operation logs) so that list and show responses are checked against
the schema with content in them, then runs schemathesis: any 5xx, an
undocumented status code, a wrong content type or a response body that does
not match the schema fails the run.
"""
import json
import os
import subprocess
import sys
import time

import requests

from common import check, finish, wait_healthy

endpoint, creds_path, root = sys.argv[1], sys.argv[2], sys.argv[3]
creds = json.load(open(creds_path))
wait_healthy(endpoint)

auth = {"auth": {"identity": {"methods": ["password"], "password": {"user": {"name": creds["user_name"], "domain": {"name": "Default"}, "password": creds["password"]}}},
                 "scope": {"project": {"id": creds["project_id"]}}}}
r = requests.post(endpoint + "/v3/auth/tokens", json=auth)
check(r.status_code == 201, "token: %s" % r.text)
token = r.headers["X-Subject-Token"]
project = creds["project_id"]
base = "%s/v3/%s" % (endpoint, project)
h = {"X-Auth-Token": token}

os.makedirs(root + "/fuzz-share", exist_ok=True)
with open(root + "/fuzz-share/file.txt", "w") as f:
    f.write("fuzz\n")
r = requests.post(base + "/coffer/resources", headers=h, json={"resource": {"type": "OS::Sfs::Turbo", "name": "fuzz-share", "path": root + "/fuzz-share"}})
check(r.status_code == 200, "register: %s" % r.text)
resource = r.json()["resource"]["id"]
r = requests.post(base + "/vaults", headers=h, json={"vault": {"name": "fuzz", "billing": {"consistent_level": "crash_consistent", "object_type": "turbo", "protect_type": "backup", "size": 100},
                                                                "resources": [{"id": resource, "type": "OS::Sfs::Turbo"}]}})
check(r.status_code == 200, "vault: %s" % r.text)
vault = r.json()["vault"]["id"]
r = requests.post(base + "/checkpoints", headers=h, json={"checkpoint": {"vault_id": vault}})
check(r.status_code == 200, "checkpoint: %s" % r.text)
checkpoint = r.json()["checkpoint"]["id"]
deadline = time.time() + 60
while time.time() < deadline:
    if requests.get(base + "/checkpoints/" + checkpoint, headers=h).json()["checkpoint"]["status"] != "protecting":
        break
    time.sleep(0.2)

# A server protected through CSBS, for the checkpoint item routes.
with open(root + "/fuzz-disk.img", "wb") as f:
    f.truncate(1 << 20)
r = requests.post(base + "/coffer/resources", headers=h, json={"resource": {"type": "OS::Nova::Server", "name": "fuzz-vm", "disks": [{"name": "d", "path": root + "/fuzz-disk.img"}]}})
check(r.status_code == 200, "register server: %s" % r.text)
server = r.json()["resource"]["id"]
r = requests.post("%s/v1/%s/providers/fc4d5750-22e7-4798-8a46-f48f62c4c1da/resources/%s/action" % (endpoint, project, server), headers=h, json={"protect": {"backup_name": "fuzz"}})
check(r.status_code == 200, "protect: %s" % r.text)
protected = r.json()["checkpoint"]["id"]
item = None
deadline = time.time() + 60
while time.time() < deadline:
    items = requests.get("%s/v1/%s/checkpoint_items?checkpoint_id=%s" % (endpoint, project, protected), headers=h).json()["checkpoint_items"]
    if items and items[0]["status"] != "protecting":
        item = items[0]["id"]
        break
    time.sleep(0.2)
check(item is not None, "checkpoint item became available")

# A database instance (nothing listens there: its backups fail, which is fine here), for the RDS routes.
r = requests.post(base + "/coffer/resources", headers=h, json={"resource": {"type": "rds", "name": "fuzz-pg", "engine": "PostgreSQL",
                                                                          "connection": "postgresql://u:p@127.0.0.1:1/db"}})
check(r.status_code == 200, "register instance: %s" % r.text)
instance = r.json()["resource"]["id"]

backups = requests.get(base + "/backups?checkpoint_id=" + checkpoint, headers=h).json()["backups"]
check(len(backups) == 1 and backups[0]["status"] == "available", "backup: %s" % backups)
logs = requests.get(base + "/operation-logs", headers=h).json()["operation_logs"]
env = dict(os.environ, COFFER_TOKEN=token, COFFER_PROJECT=project, COFFER_VAULT=vault, COFFER_BACKUP=backups[0]["id"] if backups else "",
           COFFER_CHECKPOINT=checkpoint, COFFER_RESOURCE=resource, COFFER_LOG=logs[0]["id"] if logs else "", COFFER_ITEM=item or "",
           COFFER_INSTANCE=instance)
here = os.path.dirname(os.path.abspath(__file__))
schemathesis = os.path.join(os.path.dirname(sys.executable), "schemathesis")
command = [schemathesis, "--config-file", os.path.join(here, "schemathesis.toml"), "run", endpoint + "/openapi.json",
           "--url", endpoint, "--phases", "examples,coverage,fuzzing",
           "--checks", "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
           "--workers", "2", "--seed", os.environ.get("COFFER_FUZZ_SEED", "1"), "--no-color"]
# Explicit adversarial values for every string query parameter of every GET
# operation (schemathesis draws valid-looking ones far more often): no 5xx,
# only documented statuses, and the server still answers.
ADVERSARIAL = ["", ":", "::", ",", ",,", ":asc", "created_at::asc", "name,name", "-1", "99999999999999999999999", "1e9", "\x00", "a\x00b",
               "%", "%zz", "%00", "' OR 1=1 --", "9999-99-99T99:99:99Z", "99999999-01-01T00:00:00Z", "x" * 5000, "\u202e", "\U0001F600"]
document = requests.get(endpoint + "/openapi.json").json()
ids = {"project_id": project, "vault_id": vault, "backup_id": backups[0]["id"] if backups else "x", "checkpoint_id": checkpoint, "resource_id": resource,
       "operation_log_id": logs[0]["id"] if logs else "x", "checkpoint_item_id": item or "x", "instance_id": instance, "protectable_type": "server",
       "provider_id": "fc4d5750-22e7-4798-8a46-f48f62c4c1da"}
tried = 0
for path, operations in document["paths"].items():
    get = operations.get("get")
    if not get:
        continue
    url = endpoint + path
    for name, value in ids.items():
        url = url.replace("{%s}" % name, value)
    if "{" in url:
        continue
    documented = set(int(code) for code in get["responses"])
    for parameter in get.get("parameters", []):
        if parameter.get("in") != "query" or parameter.get("schema", {}).get("type", "string") != "string":
            continue
        for value in ADVERSARIAL:
            r = requests.get(url, headers=h, params={parameter["name"]: value})
            tried += 1
            check(r.status_code < 500, "GET %s?%s=%r answered %d" % (path, parameter["name"], value[:40], r.status_code))
            check(r.status_code in documented, "GET %s?%s=%r answered undocumented %d: %s" % (path, parameter["name"], value[:40], r.status_code, r.text[:200]))
check(tried > 100, "adversarial query values tried: %d" % tried)
check(requests.get(endpoint + "/health").status_code == 200, "health after adversarial queries")
print("adversarial query values: %d requests" % tried)


def fuzz(seed):
    result = subprocess.run(command[:-2] + [seed, "--no-color"], env=env, cwd=here, capture_output=True, text=True)
    print(result.stdout[-20000:])
    print(result.stderr[-5000:], file=sys.stderr)
    return result

seed = os.environ.get("COFFER_FUZZ_SEED", "1")
result = fuzz(seed)
# schemathesis itself sometimes fails to draw a case ("Runtime Error" inside hypothesis, with no
# response involved, seen as a CPython AST recursion error under two workers). Only such a run,
# with no failure of the server's, is tried once more with another seed.
if result.returncode != 0 and "Runtime Error" in result.stdout and "FAILURES" not in result.stdout:
    print("schemathesis had an internal error and no failures; once more with another seed")
    result = fuzz(str(int(seed) + 1))
check(result.returncode == 0, "schemathesis found failures (exit %d)" % result.returncode)
# The server is still whole afterwards.
check(requests.get(endpoint + "/health").status_code == 200, "health after fuzzing")
finish("api fuzz ok")

"""A minimal client for the bench scripts: JSON calls and a Keystone token
from a data directory's admin credentials (standard library only)."""
import json
import time
import urllib.request


class Coffer:
    def __init__(self, endpoint, data_dir):
        self.endpoint = endpoint
        creds = json.load(open(data_dir + "/admin-credentials.json"))
        self.project = creds["project_id"]
        self.base = "/v3/%s" % self.project
        self.token = None
        headers, _ = self.call("POST", "/v3/auth/tokens", {"auth": {"identity": {"methods": ["password"], "password": {"user": {
            "name": creds["user_name"], "domain": {"name": "Default"}, "password": creds["password"]}}}, "scope": {"project": {"id": self.project}}}})
        self.token = headers["X-Subject-Token"]

    def checkpoint(self, vault_id):
        """A checkpoint of the vault, waited for (up to 30 s)."""
        _, c = self.call("POST", self.base + "/checkpoints", {"checkpoint": {"vault_id": vault_id}})
        for _ in range(300):
            _, s = self.call("GET", self.base + "/checkpoints/" + c["checkpoint"]["id"])
            if s["checkpoint"]["status"] != "protecting":
                return s["checkpoint"]
            time.sleep(0.1)
        raise RuntimeError("checkpoint %s did not finish" % c["checkpoint"]["id"])

    def call(self, method, path, body=None):
        req = urllib.request.Request(self.endpoint + path, method=method, data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Content-Type": "application/json", **({"X-Auth-Token": self.token} if self.token else {})})
        with urllib.request.urlopen(req) as r:
            return r.headers, json.loads(r.read() or b"{}")

#!/usr/bin/env python3
"""Drives a running `coffer serve` with the official clients: huaweicloudsdkcore's
SDK-HMAC-SHA256 signer and keystoneauth1 (password and token auth, catalog
discovery). Usage: identity_interop.py ENDPOINT ADMIN_CREDENTIALS_JSON.
Exits non-zero with a message on the first failed check."""
import datetime
import json
import sys
import time

import requests
from common import check, failures, finish, wait_healthy
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.sdk_request import SdkRequest
from huaweicloudsdkcore.signer.signer import Signer
from keystoneauth1 import session
from keystoneauth1.identity import generic, v3

endpoint, creds_path = sys.argv[1], sys.argv[2]
creds = json.load(open(creds_path))
host = endpoint.split("://", 1)[1]


wait_healthy(endpoint)


def signed(method, path, query=None, body=None, ak=None, sk=None, date=None, tamper=None):
    headers = {"Content-Type": "application/json;charset=utf-8" if body is not None else "application/json",
               "X-Project-Id": creds["project_id"]}
    if date:
        headers["X-Sdk-Date"] = date
    raw = json.dumps(body) if body is not None else ""
    req = SdkRequest(method=method, schema="http", host=host, resource_path=path, uri=path,
                     query_params=query or [], header_params=headers, body=raw)
    Signer(BasicCredentials(ak or creds["access_key"], sk or creds["secret_key"], creds["project_id"])).sign(req)
    url = endpoint + req.uri
    data = req.body or None
    if tamper == "body":
        data = json.dumps({"project": {"name": "tampered"}}).encode()
    elif tamper == "query":
        url = url + ("&" if "?" in url else "?") + "extra=1"
    elif tamper == "path":
        url = url.replace("/v3/projects", "/v3/users")
    elif tamper == "date":
        req.header_params["X-Sdk-Date"] = datetime.datetime.strftime(datetime.datetime.utcnow() - datetime.timedelta(seconds=5), "%Y%m%dT%H%M%SZ")
    return requests.request(method, url, headers=req.header_params, data=data, timeout=10)


# --- AK/SK with the official signer ---
r = signed("GET", "/v3/projects")
check(r.status_code == 200 and any(p["id"] == creds["project_id"] for p in r.json()["projects"]), "signed GET /v3/projects: %s %s" % (r.status_code, r.text))
check(r.headers.get("X-Request-Id"), "X-Request-Id on signed response")
r = signed("GET", "/v3/projects", query=[("name", "a b/c~*+&="), ("id", ["b", "a"]), ("flag", True)])
check(r.status_code == 200, "signed GET with awkward query: %s %s" % (r.status_code, r.text))
r = signed("POST", "/v3/projects", body={"project": {"name": "bad/näme", "description": "ünïcode"}})
check(r.status_code == 400 and "project name" in r.json().get("error_msg", ""), "signed POST with invalid name is a 400 naming the field: %s %s" % (r.status_code, r.text))
r = signed("POST", "/v3/projects", body={"project": {"name": "interop", "description": "ünïcode description"}})
check(r.status_code == 201, "signed POST /v3/projects: %s %s" % (r.status_code, r.text))
for tamper in ("body", "query", "path", "date"):
    r = signed("POST" if tamper == "body" else "GET", "/v3/projects", body={"project": {"name": "x1"}} if tamper == "body" else None, tamper=tamper)
    check(r.status_code == 401 and r.json().get("error_code") == "APIGW.0301", "tampered %s refused: %s %s" % (tamper, r.status_code, r.text))
r = signed("GET", "/v3/projects", sk="wrong" + creds["secret_key"])
check(r.status_code == 401, "wrong secret refused: %s" % r.status_code)
stale = datetime.datetime.strftime(datetime.datetime.utcnow() - datetime.timedelta(minutes=20), "%Y%m%dT%H%M%SZ")
r = signed("GET", "/v3/projects", date=stale)
check(r.status_code == 401 and "15 minutes" in r.json().get("error_msg", ""), "replay with a stale date refused: %s %s" % (r.status_code, r.text))

# --- keystoneauth1 ---
auth = v3.Password(auth_url=endpoint + "/v3", username=creds["user_name"], password=creds["password"],
                   project_name=creds["project_name"], user_domain_name="Default", project_domain_name="Default")
sess = session.Session(auth=auth)
token = sess.get_token()
check(bool(token), "keystoneauth1 v3.Password got a token")
check(auth.get_project_id(sess) == creds["project_id"], "token scoped to the admin project")
dp = sess.get_endpoint(service_type="data-protect", interface="public")
check(dp and dp.endswith("/v1/" + creds["project_id"]), "catalog data-protect endpoint: %s" % dp)
rds = sess.get_endpoint(service_type="rdsv3", interface="public")
check(rds and rds.endswith("/v3/" + creds["project_id"]), "catalog rdsv3 endpoint: %s" % rds)
r = sess.get(endpoint + "/v3/projects", authenticated=True)
check(r.status_code == 200, "token-authenticated GET: %s" % r.status_code)

gen = generic.Password(auth_url=endpoint, username=creds["user_name"], password=creds["password"],
                       project_id=creds["project_id"], user_domain_name="Default")
gsess = session.Session(auth=gen)
check(bool(gsess.get_token()), "generic.Password with version discovery got a token")

tok = v3.Token(auth_url=endpoint + "/v3", token=token, project_id=creds["project_id"])
check(bool(session.Session(auth=tok).get_token()), "v3.Token re-scope got a token")

bad = session.Session(auth=v3.Password(auth_url=endpoint + "/v3", username=creds["user_name"], password="wrong",
                                        project_id=creds["project_id"], user_domain_name="Default"))
try:
    bad.get_token()
    check(False, "wrong password must fail")
except Exception:
    pass

finish("interop ok")

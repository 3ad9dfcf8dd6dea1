"""Shared by the interoperability scripts: failure bookkeeping and waiting for the server."""
import sys
import time

import requests

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what, file=sys.stderr)


def wait_healthy(endpoint, seconds=20):
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            if requests.get(endpoint + "/health", timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    sys.exit("server did not answer /health")


def finish(ok_message):
    if failures:
        sys.exit("%d checks failed" % len(failures))
    print(ok_message)

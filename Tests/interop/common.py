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


def wait(predicate, what, seconds=60):
    """The predicate's first truthy value, polled every 0.2 s; a failed check on timeout."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    check(False, "timed out waiting for " + what)
    return None

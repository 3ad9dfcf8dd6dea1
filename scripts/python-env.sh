#!/usr/bin/env bash
# Creates (once) the Python environment the interoperability tests drive the
# server with: the official Huawei Cloud SDK core (signer) and keystoneauth1,
# pinned in Tests/interop/requirements.txt. Prints the interpreter's path.
set -euo pipefail
cd "$(dirname "$0")/.."
ENV=.build/pyenv
REQ=Tests/interop/requirements.txt
# Tests running in parallel may all ask at once: one builds, the others wait.
mkdir -p .build
exec 9>.build/pyenv.lock
flock 9
if [ ! -x "$ENV/bin/python" ] || ! cmp -s "$REQ" "$ENV/requirements.txt"; then
    python3 -m venv "$ENV" >&2
    "$ENV/bin/pip" install -q --disable-pip-version-check -r "$REQ" >&2
    cp "$REQ" "$ENV/requirements.txt"
fi
echo "$PWD/$ENV/bin/python"

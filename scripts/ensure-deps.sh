#!/usr/bin/env bash
# Installs the system packages Coffer builds against, when missing.
# With --test, also what the test suite starts: PostgreSQL 15 (server and
# client tools; the package's own cluster is not started), python3-venv, and
# Debian's chromium with its chromedriver (the console's browser tests).
set -euo pipefail
need=()
[ -f /usr/include/zstd.h ] || need+=(libzstd-dev)
[ -f /usr/include/openssl/evp.h ] || need+=(libssl-dev)
command -v pkg-config >/dev/null 2>&1 || need+=(pkg-config)
if [ "${1:-}" = --test ]; then
    [ -x /usr/lib/postgresql/15/bin/initdb ] || need+=(postgresql-15)
    python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || need+=(python3-venv)
    [ -x /usr/bin/chromium ] || need+=(chromium)
    [ -x /usr/bin/chromedriver ] || need+=(chromium-driver)
fi
if [ ${#need[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
    echo "installing: ${need[*]}" >&2
    $SUDO apt-get update -qq >/dev/null
    # No service start from packages: there is no init system, and tests start their own clusters.
    added=""
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null && $SUDO chmod +x /usr/sbin/policy-rc.d && added=1
    fi
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
    [ -n "$added" ] && $SUDO rm -f /usr/sbin/policy-rc.d
fi
exit 0

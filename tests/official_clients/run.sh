#!/usr/bin/env bash
# Runs Cloudflare's official Python SDK against `cfsecrets emulator`.
#
# Usage: tests/official_clients/run.sh PATH/TO/cfsecrets
#
# Builds nothing: give it an already built binary. Creates a throwaway venv under a temp dir,
# installs `cloudflare` from PyPI into it (nothing is vendored or committed), starts the
# emulator on a free loopback port (--listen 127.0.0.1:0), runs python_sdk.py, and stops the
# emulator. Needs python3 with venv and network access to PyPI.
set -euo pipefail

bin=${1:?usage: run.sh PATH/TO/cfsecrets}
[ -f "$bin" ] && [ -x "$bin" ] || { echo "run.sh: $bin is not an executable" >&2; exit 2; }
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/cfsecrets-official.XXXXXX")
emu_pid=
cleanup() {
    if [ -n "$emu_pid" ]; then
        kill "$emu_pid" 2>/dev/null || true
        wait "$emu_pid" 2>/dev/null || true
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT

python3 -m venv "$tmp/venv"
# Pinned so CI is repeatable; bump it on purpose to test a newer SDK.
"$tmp/venv/bin/pip" install --quiet --disable-pip-version-check "cloudflare==${CFSECRETS_PY_SDK_VERSION:-5.9.0}"

# A throwaway token for this run only.
# shellcheck source=tests/official_clients/emulator.sh
. "$here/emulator.sh"
start_emulator official-clients

"$tmp/venv/bin/python" "$here/python_sdk.py" "$base" "$token"

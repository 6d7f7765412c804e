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
token="official-clients-$RANDOM$RANDOM"
"$bin" emulator --listen 127.0.0.1:0 --token "$token" >"$tmp/emulator.out" 2>"$tmp/emulator.err" &
emu_pid=$!
base=
for _ in $(seq 1 100); do
    base=$(sed -n 's/^base URL: *//p' "$tmp/emulator.out")
    [ -n "$base" ] && break
    kill -0 "$emu_pid" 2>/dev/null || break
    sleep 0.05
done
if [ -z "$base" ]; then
    echo "run.sh: the emulator did not start" >&2
    cat "$tmp/emulator.err" >&2
    exit 1
fi

"$tmp/venv/bin/python" "$here/python_sdk.py" "$base" "$token"

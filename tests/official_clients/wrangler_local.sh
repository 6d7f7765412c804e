#!/usr/bin/env bash
# Runs `cfsecrets local` against a real wrangler, then proves with `wrangler dev` that a
# Worker's `await env.API_KEY.get()` returns the value cfsecrets put in the local store.
# Last, as the README's emulator section says, wrangler creates a store in `cfsecrets
# emulator` through CLOUDFLARE_API_BASE_URL (`secrets-store store create --remote`).
#
# Usage: tests/official_clients/wrangler_local.sh PATH/TO/cfsecrets
#
# Builds nothing: give it an already built binary. Installs a pinned wrangler from npm into a
# throwaway directory (nothing is vendored or committed; CFSECRETS_WRANGLER_VERSION picks
# another), makes a project with a `dev` account whose API_KEY is sealed with `secret set`,
# fills the local store twice (the second run, after a rotation, must replace the value), then
# starts `wrangler dev` on 127.0.0.1 and fetches the Worker. Needs node and npm, and the npm
# registry. wrangler 4.86.0 is the newest that runs on Node 20.
set -euo pipefail

bin=${1:?usage: wrangler_local.sh PATH/TO/cfsecrets}
for tool in node npm; do
    command -v "$tool" >/dev/null || { echo "wrangler_local.sh: needs $tool (install Node.js 20 or later)" >&2; exit 2; }
done
[ -f "$bin" ] && [ -x "$bin" ] || { echo "wrangler_local.sh: $bin is not an executable" >&2; exit 2; }
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")
here=$(cd "$(dirname "$0")" && pwd)
version=${CFSECRETS_WRANGLER_VERSION:-4.86.0}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/cfsecrets-wrangler.XXXXXX")
dev_pid=
emu_pid=
cleanup() {
    if [ -n "$emu_pid" ]; then
        kill "$emu_pid" 2>/dev/null || true
        wait "$emu_pid" 2>/dev/null || true
    fi
    if [ -n "$dev_pid" ]; then
        # wrangler dev runs workerd beneath it: stop the whole group it leads.
        kill -- "-$dev_pid" 2>/dev/null || true
        wait "$dev_pid" 2>/dev/null || true
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT
started=$SECONDS

export WRANGLER_SEND_METRICS=false
npm install --prefix "$tmp/wr" --no-audit --no-fund --loglevel=error "wrangler@$version" >/dev/null
wrangler="$tmp/wr/node_modules/.bin/wrangler"
echo "wrangler $("$wrangler" --version | tail -n 1) installed in $((SECONDS - started))s"

project="$tmp/project"
mkdir -p "$project/worker"
cd "$project"
"$bin" init --generate-identity me.key --account-id 0123456789abcdef0123456789abcdef \
    >/dev/null 2>"$tmp/init.err" || { cat "$tmp/init.err" >&2; exit 1; }
sed -i 's/^  default:$/  dev:/' cfsecrets.yaml
export CFSECRETS_AGE_KEY_FILE="$project/me.key"
first="dev-value-$RANDOM-one"
second="dev-value-$RANDOM-two"
printf %s "$first" | "$bin" secret set API_KEY --account dev >/dev/null

cat > worker/wrangler.toml <<'EOF'
name = "cfsecrets-local-check"
main = "index.js"
compatibility_date = "2025-06-01"

[[secrets_store_secrets]]
binding = "API_KEY"
store_id = "0123456789abcdef0123456789abcdef"
secret_name = "API_KEY"
EOF
cat > worker/index.js <<'EOF'
export default {
  async fetch(request, env) {
    return new Response(await env.API_KEY.get());
  },
};
EOF

fill() {
    "$bin" local --account dev --wrangler worker --wrangler-bin "$wrangler" >"$tmp/local.out" 2>"$tmp/local.err" || {
        echo "wrangler_local.sh: cfsecrets local failed" >&2
        cat "$tmp/local.out" "$tmp/local.err" >&2
        exit 1
    }
    if grep -q -e "$first" -e "$second" "$tmp/local.out" "$tmp/local.err"; then
        echo "wrangler_local.sh: cfsecrets local printed the value" >&2
        exit 1
    fi
    grep -q "plain text under worker/.wrangler/state" "$tmp/local.err" || {
        echo "wrangler_local.sh: no plain-text warning" >&2
        cat "$tmp/local.err" >&2
        exit 1
    }
}
fill
# A rotation: the second run replaces the local secret.
printf %s "$second" | "$bin" secret set API_KEY --account dev >/dev/null
fill
# The local store keeps the value in plain text, as the README says.
grep -rqF "$second" worker/.wrangler/state/v3/secrets-store/0123456789abcdef0123456789abcdef || {
    echo "wrangler_local.sh: the value is not in the local store" >&2
    exit 1
}
echo "cfsecrets local filled the store in $((SECONDS - started))s"

port=$(node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });')
(cd worker && exec setsid "$wrangler" dev --ip 127.0.0.1 --port "$port" >"$tmp/dev.log" 2>&1) &
dev_pid=$!
got=
for _ in $(seq 1 240); do
    got=$(node -e 'fetch(process.argv[1]).then(r => r.text()).then(t => process.stdout.write(t), () => process.exit(1))' "http://127.0.0.1:$port/" 2>/dev/null) && break
    kill -0 "$dev_pid" 2>/dev/null || break
    sleep 0.25
done
if [ "$got" != "$second" ]; then
    echo "wrangler_local.sh: the Worker did not return the value from the local store" >&2
    tail -n 20 "$tmp/dev.log" >&2
    exit 1
fi
echo "ok: wrangler dev served the value cfsecrets local put in its store ($((SECONDS - started))s in all)"

# wrangler against the emulator, as a remote API.
# shellcheck source=tests/official_clients/emulator.sh
. "$here/emulator.sh"
start_emulator wrangler-remote
CLOUDFLARE_API_BASE_URL="$base" CLOUDFLARE_API_TOKEN="$token" \
    CLOUDFLARE_ACCOUNT_ID=0123456789abcdef0123456789abcdef WRANGLER_LOG_PATH="$tmp/wrangler-logs" \
    "$wrangler" secrets-store store create main --remote >"$tmp/remote.log" 2>&1 || {
    echo "wrangler_local.sh: wrangler could not create a store in the emulator" >&2
    tail -n 20 "$tmp/remote.log" >&2
    exit 1
}
state=$(node -e 'fetch(process.argv[1]).then(r => r.text()).then(t => process.stdout.write(t), () => process.exit(1))' "${base%/client/v4}/__emulator/state")
case "$state" in
    *'"name":"main"'* | *'"name": "main"'*) ;;
    *) echo "wrangler_local.sh: the emulator holds no store named main after wrangler's create" >&2; echo "$state" >&2; exit 1 ;;
esac
echo "ok: wrangler created a store in cfsecrets emulator through CLOUDFLARE_API_BASE_URL"

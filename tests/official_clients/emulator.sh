# Sourced by the official-client scripts: start_emulator starts `cfsecrets emulator` on a free
# loopback port with a throwaway token and sets `base` (its API root), `token` and `emu_pid`
# (for the caller's cleanup trap). Expects `bin` (the binary), `tmp` (a scratch directory)
# and `set -e`. Exits 1, showing the emulator's stderr, if it did not start.
start_emulator() {
    token="$1-$RANDOM$RANDOM"
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
        echo "$(basename "$0"): the emulator did not start" >&2
        cat "$tmp/emulator.err" >&2
        exit 1
    fi
}

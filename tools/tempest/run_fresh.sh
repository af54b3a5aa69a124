#!/usr/bin/env bash
# Start a throw-away onestack from this checkout, run Tempest against it, stop it.
#
# Usage: tools/tempest/run_fresh.sh [REGEX]
#
#   REGEX  passed to run.sh (default: '^tempest.api.identity'; '^tempest.api.image.v2' for the
#          image service)
#
# Environment: TEMPEST_ONESTACK_PORT (default 5071), TEMPEST_ONESTACK_STATE (default
# /tmp/tempest-state; removed and recreated), and whatever run.sh reads (TEMPEST_VENV, ...).
# The server's log is in $TEMPEST_ONESTACK_STATE.log.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
port="${TEMPEST_ONESTACK_PORT:-5071}"
state="${TEMPEST_ONESTACK_STATE:-/tmp/tempest-state}"
log="$state.log"

rm -rf "$state"
ONESTACK_IDENTITY__PASSWORD_HASH_ROUNDS="${ONESTACK_IDENTITY__PASSWORD_HASH_ROUNDS:-4}" \
    "$repo/.venv/bin/onestack" up --port "$port" --state-dir "$state" >"$log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null; wait "$server" 2>/dev/null || true' EXIT

for _ in $(seq 1 100); do
    if grep -q "Uvicorn running" "$log" 2>/dev/null; then
        break
    fi
    if ! kill -0 "$server" 2>/dev/null; then
        echo "run_fresh.sh: onestack exited; its log:" >&2
        cat "$log" >&2
        exit 2
    fi
    sleep 0.2
done

"$here/run.sh" "$state" "${1:-^tempest.api.identity}"

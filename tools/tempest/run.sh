#!/usr/bin/env bash
# Run Tempest's API tests (identity by default; image with '^tempest.api.image') against a
# running onestack.
#
# Usage: tools/tempest/run.sh [STATE_DIR] [REGEX]
#
#   STATE_DIR  the onestack state directory of the running cloud; its clouds.yaml (cloud
#              "onestack") says where the cloud is and the admin credentials.
#              Default: ~/.local/share/onestack
#   REGEX      which tests to run (tempest run --regex). Default: '^tempest.api.identity';
#              '^tempest.api.image.v2' runs the image tests (make_conf.py enables the image
#              service when the cloud's catalog has an image endpoint)
#
# Environment:
#   TEMPEST_VENV        virtualenv holding Tempest; created with `pip install tempest` when
#                       missing (default: /opt/tempest/venv)
#   TEMPEST_WORKSPACE   Tempest workspace: etc/tempest.conf, logs/tempest.log, .stestr
#                       (default: /opt/tempest/ws)
#   TEMPEST_CONCURRENCY test workers (default: the number of cores, at most 4)
#   TEMPEST_EXCLUDE     optional regex of tests to leave out (tempest run --exclude-regex)
#   TEMPEST_SCOPE       "system" (default): admin identity tests use system-scoped tokens, as
#                       with Keystone's enforce_scope = true; "project": project-scoped tokens
#
# Example, against a throw-away cloud:
#   ONESTACK_IDENTITY__PASSWORD_HASH_ROUNDS=4 .venv/bin/onestack up --port 5071 \
#       --state-dir /tmp/tempest-state > /tmp/onestack.log 2>&1 &
#   tools/tempest/run.sh /tmp/tempest-state
#
# Prints tempest's per-test results and summary; the full HTTP trace of every request is in
# $TEMPEST_WORKSPACE/logs/tempest.log. Exits with tempest's status (non-zero if a test failed).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
state_dir="${1:-$HOME/.local/share/onestack}"
regex="${2:-^tempest.api.identity}"
venv="${TEMPEST_VENV:-/opt/tempest/venv}"
workspace="${TEMPEST_WORKSPACE:-/opt/tempest/ws}"
cores="$(nproc 2>/dev/null || echo 2)"
concurrency="${TEMPEST_CONCURRENCY:-$((cores < 4 ? cores : 4))}"

if [[ ! -f "$state_dir/clouds.yaml" ]]; then
    echo "run.sh: no clouds.yaml in $state_dir: start onestack first (onestack up --state-dir ...)" >&2
    exit 2
fi

if [[ ! -x "$venv/bin/tempest" ]]; then
    echo "run.sh: installing tempest into $venv" >&2
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --upgrade pip
    "$venv/bin/pip" install --quiet tempest
fi

if [[ ! -f "$workspace/.stestr.conf" ]]; then
    if [[ -d "$workspace" && -n "$(ls -A "$workspace")" ]]; then
        echo "run.sh: $workspace is not empty and not a tempest workspace; set TEMPEST_WORKSPACE" >&2
        exit 2
    fi
    # Named after its path, so that it never clashes with another registered workspace.
    name="onestack-$(printf '%s' "$workspace" | cksum | cut -d' ' -f1)"
    "$venv/bin/tempest" init --name "$name" "$workspace" >/dev/null 2>&1
fi

"$venv/bin/python" "$here/make_conf.py" --state-dir "$state_dir" --workspace "$workspace" \
    --scope "${TEMPEST_SCOPE:-system}" --output "$workspace/etc/tempest.conf"

# Is the cloud up? Fail early rather than with 138 connection errors.
auth_url="$(grep -E '^uri_v3 = ' "$workspace/etc/tempest.conf" | sed 's/^uri_v3 = //')"
if ! "$venv/bin/python" - "$auth_url" <<'EOF'; then
import sys
import urllib.request

try:
    urllib.request.urlopen(sys.argv[1], timeout=10)
except Exception as e:  # noqa: BLE001
    sys.exit(f"{sys.argv[1]}: {e}")
EOF
    echo "run.sh: onestack is not answering at $auth_url" >&2
    exit 2
fi

cd "$workspace"
rm -f logs/tempest.log
args=(run --regex "$regex" --concurrency "$concurrency")
if [[ -n "${TEMPEST_EXCLUDE:-}" ]]; then
    args+=(--exclude-regex "$TEMPEST_EXCLUDE")
fi
echo "run.sh: $venv/bin/tempest ${args[*]}  (in $workspace)" >&2
status=0
"$venv/bin/tempest" "${args[@]}" || status=$?

echo
failing="$("$venv/bin/stestr" failing --list 2>/dev/null || true)"
echo "run.sh: failed tests:${failing:+$'\n'}${failing:- none}" | sed '2,$s/^/  /'

echo "run.sh: log with every request: $workspace/logs/tempest.log"
exit "$status"

#!/usr/bin/env bash
# Fuzzes a live hookd against its OpenAPI reference with Schemathesis.
#
# Starts the hookd binary (embedded store, API role only, rate limits off so the fuzzer is not
# throttled) with a known root token, creates hooks for the reference's examples and the token
# trigger, then runs every operation of /api/hooks/v1/openapi.json in every phase (examples,
# coverage, fuzzing, stateful) with bearer auth as root (scope `*`). Fails on any 5xx, any
# answer that breaks its schema, status list or headers, and any crash.
#
# Usage: scripts/schemathesis.sh [path to the hookd binary] (default: the debug build)
# Needs HOOKD_TEST_SCHEMATHESIS (set by scripts/services/schemathesis.sh) and
# HOOKD_TEST_RUN_DIR; scripts/test.sh provides both.
# Env: HOOKD_SCHEMATHESIS_EXAMPLES (default 40) test cases per operation and phase.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ $# -gt 0 ]; then
  binary="$1"
else
  cargo build --locked --quiet --bin hookd
  binary="${CARGO_TARGET_DIR:-target}/debug/hookd"
fi
st="${HOOKD_TEST_SCHEMATHESIS:?run through scripts/test.sh, or set it to schemathesis\'s st}"
dir="${HOOKD_TEST_RUN_DIR:?}/schemathesis"
mkdir -p "$dir"

port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
base="http://127.0.0.1:$port"
token="schemathesis-$(python3 -c 'import secrets; print(secrets.token_hex(16))')"

"$binary" serve --listen "127.0.0.1:$port" --data-dir "$dir/data" --roles api \
  --root-access-token "$token" --client-rate-limit 0 --hook-rate-limit 0 \
  >"$dir/hookd.log" 2>&1 &
hookd_pid=$!
trap 'kill "$hookd_pid" 2>/dev/null || true' EXIT

tries=0
until curl -sf "$base/__lbheartbeat__" >/dev/null; do
  tries=$((tries + 1))
  if [ "$tries" -gt 100 ] || ! kill -0 "$hookd_pid" 2>/dev/null; then
    echo "hookd did not start; its log:" >&2
    cat "$dir/hookd.log" >&2
    exit 1
  fi
  sleep 0.1
done

api="$base/api/hooks/v1"
auth="Authorization: Bearer root:$token"
hook_body='{"metadata": {"name": "fuzz", "description": "for the fuzzer", "owner": "ops@example.com"},
  "triggerSchema": {"type": "object"},
  "task": {"provisionerId": "p", "workerType": "w", "payload": {"given": {"$eval": "payload"}}}}'
json_field() { python3 -c "import json, sys; print(json.load(sys.stdin)['$1'])"; }

# The hook the reference's parameter examples name (the fuzzer may delete it), and one the
# token trigger and task lookups are pinned to, so they reach a real fire and a real task.
for hook in example-group/example-hook fixture/token-trigger; do
  curl -sf -X PUT "$api/hooks/$hook" -H "$auth" -H 'Content-Type: application/json' \
    -d "$hook_body" >/dev/null
done
trigger_token="$(curl -sf "$api/hooks/fixture/token-trigger/token" -H "$auth" | json_field token)"
task_id="$(curl -sf -X POST "$api/hooks/fixture/token-trigger/trigger" -H "$auth" | json_field taskId)"
cat >"$dir/schemathesis.toml" <<TOML
[[operations]]
include-name = "POST /api/hooks/v1/hooks/{hookGroupId}/{hookId}/trigger/{token}"
parameters = { hookGroupId = "fixture", hookId = "token-trigger", token = "$trigger_token" }

[[operations]]
include-name = "GET /api/hooks/v1/tasks/{taskId}"
parameters = { taskId = "$task_id" }
TOML

# Every check except two that judge what JSON Schema cannot say or what hookd decides on purpose:
# positive_data_acceptance (a body's hookGroupId must equal the path's, cron patterns must
# parse, continuation tokens are opaque) and unsupported_method (hookd answers an unserved
# method with 404 ResourceNotFound, not 405). One worker: hypothesis's source parsing is not
# thread-safe on Python 3.11 and fails at random with several.
status=0
# Run inside the run dir: Schemathesis keeps its crash cache in the working directory.
(cd "$dir" && timeout 300 "$st" --config-file "$dir/schemathesis.toml" run "$api/openapi.json" \
  --url "$base" \
  --header "$auth" \
  --checks all \
  --exclude-checks positive_data_acceptance,unsupported_method \
  --max-examples "${HOOKD_SCHEMATHESIS_EXAMPLES:-40}" \
  --workers 1 \
  --seed 7 \
  --request-timeout 10 \
  --suppress-health-check too_slow \
  --report junit --report-dir "$dir/report") || status=$?

if ! kill -0 "$hookd_pid" 2>/dev/null; then
  echo "hookd crashed during the run; its log:" >&2
  tail -50 "$dir/hookd.log" >&2
  exit 1
fi
if [ "$status" -ne 0 ]; then
  echo "schemathesis found problems; hookd's log is in $dir/hookd.log" >&2
fi
exit "$status"

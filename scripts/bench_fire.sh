#!/usr/bin/env bash
# The durable token trigger of two hookd builds side by side, beside its ceilings, interleaved
# so that the load of a shared machine touches them alike: bare actix-web
# (examples/bare_actix.rs), then triggerHookWithToken on build A and build B (each on its own
# fresh SQLite data dir, local task sink, rate limits off), round after round, at each
# concurrency; then the bare SQLite commit loop (examples/bench_sqlite_commits.rs) once.
# Prints one line per run (scenario, concurrency, requests/s, p50 ms, p99 ms, non-2xx) and the
# load average before and after. Figures are meant as ratios to the same-run ceiling.
#
# Usage: scripts/bench_fire.sh <hookd A> <hookd B> <bare_actix> <bench_sqlite_commits>
# Env: ROUNDS (default 3), DURATION (oha -z, default 3s), CONCURRENCIES (default "1 64"),
# HOOKD_BENCH_TOOLS (where oha is installed; default ~/.cache/hookd/tools).
set -euo pipefail
cd "$(dirname "$0")/.."

[ $# -eq 4 ] || { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 2; }
A="$1" B="$2" BARE="$3" COMMITS="$4"
OHA="${HOOKD_BENCH_TOOLS:-$HOME/.cache/hookd/tools}/bin/oha"
ROUNDS="${ROUNDS:-3}" DURATION="${DURATION:-3s}"
read -r -a CONCURRENCIES <<<"${CONCURRENCIES:-1 64}"
ROOT_TOKEN="bench-root-token"
WORKERS="$(nproc)"

RUN_DIR="$(mktemp -d -t hookd-bench-fire-XXXXXX)"
STARTED=()
cleanup() {
  local pid
  for pid in "${STARTED[@]}"; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$RUN_DIR"
}
trap cleanup EXIT
HOOKD_TEST_RUN_DIR="$RUN_DIR"
# shellcheck source=scripts/services.sh
source scripts/services.sh

wait_until_up() {
  local _
  for _ in $(seq 1 300); do
    curl -fs -o /dev/null "$1" && return 0
    sleep 0.1
  done
  echo "no answer from $1" >&2
  return 1
}

# Starts build $1 as $2 (a name); sets URL[$2] to the URL that fires its hook with a token.
# Not run in a subshell, so that STARTED keeps its pid for the cleanup.
start_hookd() {
  local binary="$1" name="$2" port api token
  port="$(free_port)"
  "$binary" serve --listen "127.0.0.1:$port" --data-dir "$RUN_DIR/$name" \
    --root-access-token "$ROOT_TOKEN" --workers "$WORKERS" --task-queue local \
    --client-rate-limit 0 --hook-rate-limit 0 >>"$RUN_DIR/$name.log" 2>&1 &
  STARTED+=("$!")
  api="http://127.0.0.1:$port/api/hooks/v1"
  wait_until_up "$api/ping"
  # shellcheck disable=SC2016 # ${now} is JSON-e, for hookd to expand.
  curl -fsS -H "Authorization: Bearer root:$ROOT_TOKEN" -X PUT -H 'Content-Type: application/json' \
    "$api/hooks/bench/trigger" -d '{
    "metadata": {"name": "bench", "description": "bench", "owner": "bench@example.com"},
    "task": {"payload": {"n": "${now}"}}, "triggerSchema": {"type": "object"}}' >/dev/null
  token="$(curl -fsS -H "Authorization: Bearer root:$ROOT_TOKEN" "$api/hooks/bench/trigger/token" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["token"])')"
  URL[$name]="$api/hooks/bench/trigger/trigger/$token"
}

bare_port="$(free_port)"
"$BARE" "127.0.0.1:$bare_port" "$WORKERS" >>"$RUN_DIR/bare.log" 2>&1 &
STARTED+=("$!")
wait_until_up "http://127.0.0.1:$bare_port/"
declare -A URL=([bare]="http://127.0.0.1:$bare_port/trigger")
start_hookd "$A" A
start_hookd "$B" B

run() {
  local scenario="$1" c="$2"
  "$OHA" --no-tui --output-format json -z "$DURATION" -w -c "$c" -m POST -T application/json \
    -d '{"k": 1}' "${URL[$scenario]}" |
    python3 -c '
import json, sys
r = json.load(sys.stdin)
s, p = r["summary"], r["latencyPercentiles"]
bad = sum(n for code, n in r["statusCodeDistribution"].items() if not code.startswith("2"))
print("%-5s c=%-3s %10.0f/s  p50 %7.3f ms  p99 %7.3f ms  non-2xx %d" % (sys.argv[1], sys.argv[2],
      s["requestsPerSec"], p["p50"] * 1000, p["p99"] * 1000, bad))
' "$scenario" "$c"
}

for scenario in bare A B; do
  "$OHA" --no-tui --output-format quiet -z 1s -c 16 -m POST -T application/json -d '{"k": 1}' \
    "${URL[$scenario]}"
done
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
for round in $(seq 1 "$ROUNDS"); do
  for c in "${CONCURRENCIES[@]}"; do
    for scenario in bare A B; do
      echo -n "round $round: "
      run "$scenario" "$c"
    done
  done
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
mkdir -p "$RUN_DIR/disk"
"$COMMITS" "$RUN_DIR/disk" 2

#!/usr/bin/env bash
# The durable token trigger of two hookd builds side by side, beside its ceilings, interleaved
# so that the load of a shared machine touches them alike: bare actix-web
# (examples/bare_actix.rs), then triggerHookWithToken on build A and build B (each on its own
# fresh SQLite data dir, local task sink, rate limits off), round after round, at each
# concurrency; then the bare SQLite commit loop (examples/bench_sqlite_commits.rs) once.
# Prints one line per run (scenario, concurrency, requests/s, p50 ms, p99 ms, non-2xx) and the
# load average before and after. Figures are meant as ratios to the same-run ceiling.
#
# With INSTRUCTIONS=<n>, every server runs under valgrind's callgrind instead, and the script
# prints the user-space instructions each one spent per request over n requests (c=8, after
# 300 to warm up). The count repeats to within a few tenths of a percent however busy the
# machine is, so it shows a change of 1 or 2 % that the rounds' noise hides; it says nothing
# of the kernel's share, nor of waiting. With PROFILES=<dir> as well, each server's profile of
# those n requests is kept there as <name>.callgrind, for callgrind_annotate.
#
# Usage: scripts/bench_fire.sh <hookd A> <hookd B> <bare_actix> <bench_sqlite_commits>
# Env: ROUNDS (default 3), DURATION (oha -z, default 3s), CONCURRENCIES (default "1 64"),
# INSTRUCTIONS (unset), PROFILES (unset), TASK_TEMPLATE (the hook's task template as JSON;
# default a one-field payload), HOOKD_BENCH_TOOLS (where oha is installed; default
# ~/.cache/hookd/tools).
set -euo pipefail
cd "$(dirname "$0")/.."

[ $# -eq 4 ] || { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 2; }
A="$1" B="$2" BARE="$3" COMMITS="$4"
OHA="${HOOKD_BENCH_TOOLS:-$HOME/.cache/hookd/tools}/bin/oha"
ROUNDS="${ROUNDS:-3}" DURATION="${DURATION:-3s}"
read -r -a CONCURRENCIES <<<"${CONCURRENCIES:-1 64}"
INSTRUCTIONS="${INSTRUCTIONS:-}"
# shellcheck disable=SC2016 # ${now} is JSON-e, for hookd to expand.
ONE_FIELD='{"payload": {"n": "${now}"}}'
TASK_TEMPLATE="${TASK_TEMPLATE:-$ONE_FIELD}"
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

# Runs the server command "${@:2}" in the background as $1 (a name), under callgrind when
# counting instructions; sets PID[$1]. Not run in a subshell, so that STARTED keeps the pid
# for the cleanup.
launch() {
  local name="$1"
  shift
  if [ -n "$INSTRUCTIONS" ]; then
    valgrind --tool=callgrind --callgrind-out-file="$RUN_DIR/$name.callgrind" "$@" \
      >>"$RUN_DIR/$name.log" 2>&1 &
  else
    "$@" >>"$RUN_DIR/$name.log" 2>&1 &
  fi
  PID[$name]="$!"
  STARTED+=("$!")
}

# Starts build $1 as $2 (a name); sets URL[$2] to the URL that fires its hook with a token.
start_hookd() {
  local binary="$1" name="$2" port api token
  port="$(free_port)"
  launch "$name" "$binary" serve --listen "127.0.0.1:$port" --data-dir "$RUN_DIR/$name" \
    --root-access-token "$ROOT_TOKEN" --workers "$WORKERS" --task-queue local \
    --client-rate-limit 0 --hook-rate-limit 0
  api="http://127.0.0.1:$port/api/hooks/v1"
  wait_until_up "$api/ping"
  curl -fsS -H "Authorization: Bearer root:$ROOT_TOKEN" -X PUT -H 'Content-Type: application/json' \
    "$api/hooks/bench/trigger" -d '{
    "metadata": {"name": "bench", "description": "bench", "owner": "bench@example.com"},
    "task": '"$TASK_TEMPLATE"', "triggerSchema": {"type": "object"}}' >/dev/null
  token="$(curl -fsS -H "Authorization: Bearer root:$ROOT_TOKEN" "$api/hooks/bench/trigger/token" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["token"])')"
  URL[$name]="$api/hooks/bench/trigger/trigger/$token"
}

declare -A PID
bare_port="$(free_port)"
launch bare "$BARE" "127.0.0.1:$bare_port" "$WORKERS"
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

# Prints the instructions per request of $1's server over INSTRUCTIONS requests: the counts
# are zeroed after the warm-up and dumped (to <name>.callgrind.1) after the last answer.
count_instructions() {
  local scenario="$1" load=(-c 8 -m POST -T application/json -d '{"k": 1}' "${URL[$1]}")
  "$OHA" --no-tui --output-format quiet -n 300 "${load[@]}"
  callgrind_control --zero "${PID[$scenario]}" >/dev/null 2>&1
  "$OHA" --no-tui --output-format quiet -n "$INSTRUCTIONS" "${load[@]}"
  callgrind_control --dump "${PID[$scenario]}" >/dev/null 2>&1
  awk -v name="$scenario" -v n="$INSTRUCTIONS" '/^summary:/ {
    printf "%-5s %9.0f instructions per request (%d requests)\n", name, $2 / n, n }' \
    "$RUN_DIR/$scenario.callgrind.1"
  if [ -n "${PROFILES:-}" ]; then
    mkdir -p "$PROFILES"
    cp "$RUN_DIR/$scenario.callgrind.1" "$PROFILES/$scenario.callgrind"
  fi
}

if [ -n "$INSTRUCTIONS" ]; then
  for scenario in bare A B; do count_instructions "$scenario"; done
  exit 0
fi

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

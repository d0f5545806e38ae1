#!/usr/bin/env bash
# hookd's benchmark harness: starts a release build of hookd on loopback (embedded SQLite store
# in a fresh temp dir, local task sink, rate limits off), loads it with oha, and writes the
# medians into BENCHMARKS.md between the markers of its own section.
#
# Measures
#   - triggerHookWithToken throughput, p50 and p99 at concurrency 1, 16 and 64, and the same
#     against examples/bare_actix.rs (same actix-web, same workers, fixed JSON) as the ceiling,
#     and against the same server doing a durable fire's disk work per request (a task row and
#     a fire row, group-committed) as the durable ceiling;
#   - GET hook and listHooks (a group of 10 hooks) at the same concurrencies;
#   - peak RSS (VmHWM) of a fresh hookd at idle, after createHook of HOOKS hooks over 64
#     connections (examples/bench_load_hooks.rs), and after a restart on those hooks;
#   - the scheduler (benches/scheduler.rs): HOOKS hooks due in the same minute (lateness at the
#     sink, start-up with HOOKS hooks stored), and one hook due every second;
#   - the disk ceiling: bare SQLite commits in hookd's mode (examples/bench_sqlite_commits.rs);
#   - the AMQP relay (benches/amqp_listener.rs): message -> fire -> task published, beside
#     two ceilings: RabbitMQ alone (its cheapest path) and a bare lapin relay doing exactly
#     hookd's broker work per message (the honest one), on a private broker from
#     scripts/services/rabbitmq.sh.
# Every HTTP and memory figure is the median of RUNS runs; the runs of the scenarios are
# interleaved so that a change in the machine's load touches all of them alike. The scheduler,
# disk and AMQP figures are one run each. Not part of scripts/test.sh (minutes).
#
# Usage: scripts/bench.sh [--quick] [--write | --no-write]
#   --quick     one run of 1 s per figure, 10,000 hooks, a one-minute scheduler burst and a
#               15 s every-second run; prints, does not write (unless --write)
#   --no-write  print the section without touching BENCHMARKS.md
# Env: HOOKD_BENCH_HOOKS (hooks for the memory figures), HOOKD_BENCH_TOOLS (where oha is
# installed; default ~/.cache/hookd/tools), CARGO_TARGET_DIR as for cargo.
set -euo pipefail
cd "$(dirname "$0")/.."

OHA_VERSION=1.16.0
TOOLS_DIR="${HOOKD_BENCH_TOOLS:-$HOME/.cache/hookd/tools}"
OHA="$TOOLS_DIR/bin/oha"
COMMAND="scripts/bench.sh${*:+ $*}"
CONCURRENCIES=(1 16 64)
WORKERS="$(nproc)"
ROOT_TOKEN="bench-root-token"

quick=false
write=""
for arg in "$@"; do
  case "$arg" in
    --quick) quick=true ;;
    --write) write=true ;;
    --no-write) write=false ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench.sh: unknown argument $arg" >&2; exit 2 ;;
  esac
done
# BURST_MINUTES must hold one minute boundary and the drain after it; EVERY_SECOND_MINUTES is
# how long the every-second hook runs.
if $quick; then
  RUNS=1 DURATION=1s HOOKS="${HOOKD_BENCH_HOOKS:-10000}" write="${write:-false}"
  BURST_MINUTES=1 EVERY_SECOND_MINUTES=0.25 DISK_SECONDS=1
else
  RUNS=3 DURATION=5s HOOKS="${HOOKD_BENCH_HOOKS:-100000}" write="${write:-true}"
  BURST_MINUTES=2 EVERY_SECOND_MINUTES=1 DISK_SECONDS=5
fi

# A busy machine skews every figure: note how busy it was before anything started.
LOAD_AT_START="$(cut -d' ' -f1-3 /proc/loadavg)"
# hookd must see only the flags below, not an operator's HOOKD_* settings.
# shellcheck disable=SC2046
unset $(compgen -e | grep '^HOOKD_' || true)

log() { echo "bench: $*" >&2; }

install_oha() {
  if [ -x "$OHA" ] && "$OHA" --version | grep -q " $OHA_VERSION\$"; then
    return
  fi
  log "installing oha $OHA_VERSION into $TOOLS_DIR (a few minutes of compiling, once)"
  # oha needs a TLS stack even for plain HTTP; the system's OpenSSL (native-tls) compiles far
  # faster than the default rustls with aws-lc.
  if ! pkg-config --exists openssl 2>/dev/null; then
    apt-get install -y libssl-dev pkg-config
  fi
  cargo install oha --locked --version "$OHA_VERSION" --no-default-features \
    --features native-tls --root "$TOOLS_DIR" --target-dir "$TOOLS_DIR/build"
}

build() {
  log "building hookd and the bench helpers (release)"
  cargo build --release --locked --bin hookd \
    --example bare_actix --example bench_load_hooks --example bench_report \
    --example bench_sqlite_commits
  cargo bench --locked --no-run --bench scheduler --bench amqp_listener
  local target
  target="$(cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')"
  HOOKD="$target/release/hookd"
  BARE="$target/release/examples/bare_actix"
  LOADER="$target/release/examples/bench_load_hooks"
  REPORT="$target/release/examples/bench_report"
  COMMITS="$target/release/examples/bench_sqlite_commits"
}

# Waits (bounded) until a server answers on $1.
wait_until_up() {
  local url="$1" _
  for _ in $(seq 1 300); do
    curl -fs -o /dev/null "$url" && return 0
    sleep 0.1
  done
  log "no answer from $url"
  return 1
}

# Starts hookd on a free port with data dir $1; sets HOOKD_PID and API.
start_hookd() {
  local port
  port="$(free_port)"
  "$HOOKD" serve --listen "127.0.0.1:$port" --data-dir "$1" --root-access-token "$ROOT_TOKEN" \
    --workers "$WORKERS" --task-queue local --client-rate-limit 0 --hook-rate-limit 0 \
    >>"$RUN_DIR/hookd.log" 2>&1 &
  HOOKD_PID=$!
  STARTED+=("$HOOKD_PID")
  API="http://127.0.0.1:$port/api/hooks/v1"
  wait_until_up "$API/ping"
}

stop() {
  kill -TERM "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

peak_rss_kb() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status"; }

api() { curl -fsS -H "Authorization: Bearer root:$ROOT_TOKEN" "$@"; }

# One oha run: oha_run <scenario> <concurrency> <run> <oha args...>
oha_run() {
  local scenario="$1" c="$2" run="$3"
  shift 3
  "$OHA" --no-tui --output-format json -o "$RUN_DIR/oha/$scenario.c$c.r$run.json" \
    -z "$DURATION" -w -c "$c" "$@"
}

# Sets TARGET to the oha arguments of a scenario (the arrays of measure_throughput).
target_of() {
  case "$1" in
    trigger) TARGET=("${trigger[@]}") ;;
    bare) TARGET=("${bare[@]}") ;;
    durable) TARGET=("${durable[@]}") ;;
    get) TARGET=("${get[@]}") ;;
    list) TARGET=("${list[@]}") ;;
  esac
}

measure_throughput() {
  start_hookd "$RUN_DIR/data-throughput"
  # shellcheck disable=SC2016 # ${now} is JSON-e, for hookd to expand.
  api -X PUT -H 'Content-Type: application/json' "$API/hooks/bench/trigger" -d '{
    "metadata": {"name": "bench", "description": "bench", "owner": "bench@example.com"},
    "task": {"payload": {"n": "${now}"}},
    "triggerSchema": {"type": "object"}}' >/dev/null
  local token
  token="$(api "$API/hooks/bench/trigger/token" | python3 -c 'import json, sys; print(json.load(sys.stdin)["token"])')"
  "$LOADER" "$API" "$ROOT_TOKEN" list 10 4 >/dev/null
  local bare_port
  bare_port="$(free_port)"
  "$BARE" "127.0.0.1:$bare_port" "$WORKERS" >>"$RUN_DIR/bare.log" 2>&1 &
  local bare_pid=$!
  STARTED+=("$bare_pid")
  wait_until_up "http://127.0.0.1:$bare_port/"
  local durable_port
  durable_port="$(free_port)"
  mkdir -p "$RUN_DIR/data-durable"
  "$BARE" "127.0.0.1:$durable_port" "$WORKERS" "$RUN_DIR/data-durable" >>"$RUN_DIR/bare.log" 2>&1 &
  local durable_pid=$!
  STARTED+=("$durable_pid")
  wait_until_up "http://127.0.0.1:$durable_port/"

  local trigger=(-m POST -T application/json -d '{"k": 1}' "$API/hooks/bench/trigger/trigger/$token")
  local bare=(-m POST -T application/json -d '{"k": 1}' "http://127.0.0.1:$bare_port/trigger")
  local durable=(-m POST -T application/json -d '{"k": 1}' "http://127.0.0.1:$durable_port/trigger")
  local auth=(-H "Authorization: Bearer root:$ROOT_TOKEN")
  local get=("${auth[@]}" "$API/hooks/list/h0")
  local list=("${auth[@]}" "$API/hooks/list")

  log "warming up"
  local scenario
  for scenario in trigger bare durable get list; do
    target_of "$scenario"
    "$OHA" --no-tui --output-format quiet -z 1s -c 16 "${TARGET[@]}"
  done
  LOAD_AT_MEASURE="$(cut -d' ' -f1-3 /proc/loadavg)"
  local run c
  for run in $(seq 1 "$RUNS"); do
    for c in "${CONCURRENCIES[@]}"; do
      for scenario in trigger bare durable get list; do
        log "run $run/$RUNS: $scenario at concurrency $c"
        target_of "$scenario"
        oha_run "$scenario" "$c" "$run" "${TARGET[@]}"
      done
    done
  done
  stop "$bare_pid"
  stop "$durable_pid"
  stop "$HOOKD_PID"
}

measure_memory() {
  local run data
  for run in $(seq 1 "$RUNS"); do
    data="$RUN_DIR/data-memory-$run"
    log "memory run $run/$RUNS: idle, then $HOOKS hooks"
    start_hookd "$data"
    sleep 1
    printf 'fresh, idle\t%s\n' "$(peak_rss_kb "$HOOKD_PID")" >>"$RUN_DIR/rss.tsv"
    "$LOADER" "$API" "$ROOT_TOKEN" load "$HOOKS" 64 | tee -a "$RUN_DIR/load.txt" >&2
    printf 'after creating %s hooks\t%s\n' "$HOOKS" "$(peak_rss_kb "$HOOKD_PID")" >>"$RUN_DIR/rss.tsv"
    stop "$HOOKD_PID"
    start_hookd "$data"
    sleep 1
    printf 'restarted with %s hooks stored, idle\t%s\n' "$HOOKS" "$(peak_rss_kb "$HOOKD_PID")" >>"$RUN_DIR/rss.tsv"
    stop "$HOOKD_PID"
  done
}

# The scheduler's figures: a burst of HOOKS hooks due in the same minute, one hook every second.
measure_scheduler() {
  # A slot that passes while the bench is still filling its store and starting is caught up
  # late and would be counted with the whole bursts: start one second after a minute, so
  # that filling and starting end well before the next slot.
  local second
  second="$(date +%-S)"
  sleep $(((61 - second) % 60))
  log "scheduler: $HOOKS hooks due in the same minute ($BURST_MINUTES min)"
  cargo bench --locked --bench scheduler -- "$HOOKS" "$BURST_MINUTES" >"$RUN_DIR/scheduler-burst.txt"
  log "scheduler: one hook every second ($EVERY_SECOND_MINUTES min)"
  cargo bench --locked --bench scheduler -- 1 "$EVERY_SECOND_MINUTES" '* * * * * *' \
    >"$RUN_DIR/scheduler-second.txt"
}

measure_disk() {
  log "disk: bare SQLite commits"
  mkdir -p "$RUN_DIR/disk"
  "$COMMITS" "$RUN_DIR/disk" "$DISK_SECONDS" >"$RUN_DIR/disk.txt"
}

# The AMQP relay against RabbitMQ alone and a bare relay, on a private broker of this run.
measure_amqp() {
  rabbitmq_install
  rabbitmq_start
  RABBITMQ_STARTED=true
  log "AMQP: relay and its two ceilings"
  cargo bench --locked --bench amqp_listener >"$RUN_DIR/amqp.txt"
  rabbitmq_stop
  RABBITMQ_STARTED=false
}

# One row of the scheduler table from a benches/scheduler.rs output file.
scheduler_row() {
  local name="$1" file="$2"
  awk -v name="$name" '
    / fires in / { fires = $1 }
    /^lateness ms:/ { p50 = $4; p99 = $6; max = $8 }
    /^cpu:/ { sub(/%/, "", $9); cpu = $9 }
    END { printf "| %s | %s | %s | %s | %s | %s %% |\n", name, fires, p50, p99, max, cpu }
  ' "$file"
}

scheduler_tables() {
  local rabbitmq
  rabbitmq="$(dpkg-query -W -f '${Version}' rabbitmq-server 2>/dev/null || echo unknown)"
  cat <<EOF
### Scheduler (\`benches/scheduler.rs\`, wall clock, one run each)

| scenario | fires | lateness p50 ms | p99 ms | max ms | CPU (of one core) |
|---|---:|---:|---:|---:|---:|
$(scheduler_row "$HOOKS hooks due in the same minute, $BURST_MINUTES min" "$RUN_DIR/scheduler-burst.txt")
$(scheduler_row "one hook every second, $EVERY_SECOND_MINUTES min" "$RUN_DIR/scheduler-second.txt")

Lateness is when the task reached the sink minus its slot time. Start-up with $HOOKS hooks
stored: $(sed -n 's/^start-up: //p' "$RUN_DIR/scheduler-burst.txt"); a resync with nothing
changed: $(sed -n 's/^resync with nothing changed: //p' "$RUN_DIR/scheduler-burst.txt").

### Disk ceiling (\`examples/bench_sqlite_commits.rs\`: bare SQLite, WAL, \`synchronous=FULL\`, $DISK_SECONDS s each)

| rows per commit | commits/s | rows/s |
|---:|---:|---:|
$(awk '{ printf "| %s | %s | %s |\n", $2, $4, $6 }' "$RUN_DIR/disk.txt")

### AMQP relay (\`benches/amqp_listener.rs\`, RabbitMQ $rabbitmq on loopback, one run)

$(cat "$RUN_DIR/amqp.txt")

"RabbitMQ alone" is one publish into a non-durable classic queue and its delivery: far less
broker work than a relay. The bare relay does exactly the broker work hookd does per message
(a persistent publish into one of the quorum queues, its delivery and ack after the task's
confirmed, persistent, mandatory publish, the task's delivery) with nothing else; issue 15's
goal for this row is judged against it.
EOF
}

machine() {
  local cpu ram
  cpu="$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)"
  ram="$(awk '/^MemTotal:/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)"
  echo "$(nproc) CPUs ($cpu), $ram RAM, Linux $(uname -r)"
}

section() {
  cat <<EOF
## HTTP throughput, latency and memory: \`scripts/bench.sh\`

Generated by \`$COMMAND\` on $(date -u '+%Y-%m-%d %H:%M UTC'), commit \`$(git rev-parse --short HEAD)\`$(git diff --quiet HEAD -- src Cargo.toml Cargo.lock || echo ' (with uncommitted changes)').
Machine: $(machine); $(rustc --version | cut -d' ' -f1-2), release build.
Load average (1, 5, 15 min) at the start: $LOAD_AT_START; when the measurements began (after
the build): $LOAD_AT_MEASURE. Above about 0.5 other work shared the cores; treat the figures as
lower bounds then.

Method: hookd (\`--workers $WORKERS\`, embedded SQLite store in a fresh temp dir, \`local\` task
sink, rate limits off) on 127.0.0.1; load from oha $OHA_VERSION on the same machine
(\`-z $DURATION -w -c <concurrency>\`, keep-alive, one warm-up second per target first).
Every figure is the median of $RUNS run(s); the runs of all scenarios are interleaved.
\`failed\` counts non-2xx answers and transport errors over all runs. The ceiling is
\`examples/bare_actix.rs\`: the same actix-web with the same workers, answering every request
with a fixed JSON body; the durable ceiling is the same server given a data dir, answering
each request after one writer thread has committed a task row and a fire row for it (hookd's
tables and indexes, WAL, \`synchronous=FULL\`, whatever is queued in one transaction). A trigger validates the payload, renders the JSON-e task and makes one
durable write (the outbox task and its fire record together).

$("$REPORT" tables "$RUN_DIR")

$(scheduler_tables)

Peak RSS is \`VmHWM\` from \`/proc/<pid>/status\`: 1 s after start ("idle"), right after the
last createHook, and 1 s after a restart on the same data dir (the scheduler has loaded every
hook by then). Hooks were created with \`PUT /hooks/load/h<n>\` over 64 connections by
\`examples/bench_load_hooks.rs\` (each hook has a small task template and a yearly schedule, so
the scheduler plans all of them):
$(sed 's/^/- /' "$RUN_DIR/load.txt")
EOF
}

cleanup() {
  local pid
  for pid in "${STARTED[@]}"; do kill "$pid" 2>/dev/null || true; done
  if $RABBITMQ_STARTED; then rabbitmq_stop || true; fi
  rm -rf "$RUN_DIR"
}

STARTED=()
RABBITMQ_STARTED=false
RUN_DIR="$(mktemp -d -t hookd-bench-XXXXXX)"
trap cleanup EXIT
# For free_port; the test services it also defines are not started.
HOOKD_TEST_RUN_DIR="$RUN_DIR"
# shellcheck source=scripts/services.sh
source scripts/services.sh
mkdir -p "$RUN_DIR/oha"
: >"$RUN_DIR/rss.tsv"
: >"$RUN_DIR/load.txt"

install_oha
build
measure_throughput
measure_memory
measure_disk
measure_scheduler
measure_amqp
section >"$RUN_DIR/section.md"
cat "$RUN_DIR/section.md"
if $write; then
  "$REPORT" splice BENCHMARKS.md "$RUN_DIR/section.md"
  log "wrote the section into BENCHMARKS.md"
fi

#!/usr/bin/env bash
# Times the web UI's heavy pages with curl: the hook page with FIRES fires (first timeline page)
# and the groups, group and service pages with HOOKS hooks. Seeds an embedded SQLite store
# directly (hookd makes one hook and one fire through the API, then sqlite3 copies their rows
# with fresh ids and times; the copies share the original's task id), restarts hookd on it,
# signs in as root and prints each page's median server time (curl's time to first byte; pages
# are rendered whole before the first byte) over RUNS loads. Not part of scripts/test.sh.
#
# With --before PATH, the hookd binary at PATH (an older build) makes the template rows and is
# timed first on the seeded store; then the built hookd starts on the same store (migrating
# it, which an older build cannot read afterwards) and is timed: a before/after under the same
# data and nearly the same load.
#
# --after PATH times the hookd binary at PATH instead of building one.
#
# Usage: scripts/ui_timings.sh [--release] [--before PATH] [--after PATH]   (default: debug)
# Env: FIRES (default 1000000), HOOKS (default 100000), RUNS (default 5), CARGO_TARGET_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."

FIRES="${FIRES:-1000000}"
HOOKS="${HOOKS:-100000}"
RUNS="${RUNS:-5}"
ROOT_TOKEN="ui-timings-root-token"
profile=debug
before=""
after=""
while [ $# -gt 0 ]; do
  case "$1" in
    --release) profile=release ;;
    --before) before="$2"; shift ;;
    --after) after="$2"; shift ;;
    *) echo "ui_timings.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
# hookd must see only the flags below, not an operator's HOOKD_* settings.
# shellcheck disable=SC2046
unset $(compgen -e | grep '^HOOKD_' || true)

log() { echo "ui_timings: $*" >&2; }

if [ -n "$after" ]; then
  BUILT="$after"
elif [ "$profile" = release ]; then
  cargo build --release --locked --bin hookd
  BUILT="${CARGO_TARGET_DIR:-target}/$profile/hookd"
else
  cargo build --locked --bin hookd
  BUILT="${CARGO_TARGET_DIR:-target}/$profile/hookd"
fi
HOOKD="${before:-$BUILT}"

RUN_DIR="$(mktemp -d)"
DATA="$RUN_DIR/data"
JAR="$RUN_DIR/cookies"
HOOKD_PID=""
cleanup() {
  if [ -n "$HOOKD_PID" ]; then
    kill -TERM "$HOOKD_PID" 2>/dev/null || true
    wait "$HOOKD_PID" 2>/dev/null || true
  fi
  rm -rf "$RUN_DIR"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

start_hookd() {
  local port _
  port="$(free_port)"
  "$HOOKD" serve --listen "127.0.0.1:$port" --data-dir "$DATA" --root-access-token "$ROOT_TOKEN" \
    --task-queue local --client-rate-limit 0 --hook-rate-limit 0 >>"$RUN_DIR/hookd.log" 2>&1 &
  HOOKD_PID=$!
  BASE="http://127.0.0.1:$port"
  for _ in $(seq 1 600); do
    curl -fs -o /dev/null "$BASE/api/hooks/v1/ping" && return 0
    sleep 0.1
  done
  log "hookd did not start:"; cat "$RUN_DIR/hookd.log" >&2; exit 1
}

stop_hookd() {
  kill -TERM "$HOOKD_PID"
  wait "$HOOKD_PID" || true
  HOOKD_PID=""
}

api() { curl -fsS -H "Authorization: Bearer root:$ROOT_TOKEN" -H 'Content-Type: application/json' "$@"; }

log "making the template hook and fire ($profile build)"
mkdir -p "$DATA"
start_hookd
hook='{"metadata": {"name": "timed", "description": "UI timings", "owner": "ui@example.com"},
       "task": {"provisionerId": "p", "workerType": "w", "payload": {}, "metadata": {"name": "t"}}}'
api -X PUT -d "$hook" "$BASE/api/hooks/v1/hooks/big/h" >/dev/null
api -X POST -d '{}' "$BASE/api/hooks/v1/hooks/big/h/trigger" >/dev/null
stop_hookd

log "seeding $FIRES fires of big/h and $HOOKS hooks in 100 groups (one fire each, every 50th failed)"
sqlite3 "$DATA/hookd.sqlite3" <<SQL >/dev/null
PRAGMA journal_mode=WAL;
BEGIN;
CREATE TEMP TABLE n(i INTEGER PRIMARY KEY);
WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < max($FIRES, $HOOKS))
INSERT INTO n SELECT i FROM c;
CREATE TEMP TABLE f AS SELECT time_ms, doc FROM fires LIMIT 1;
CREATE TEMP TABLE h AS SELECT version, doc FROM hooks LIMIT 1;
-- Copies of the fire, each one second older than the one before.
INSERT INTO fires (fire_id, hook_group_id, hook_id, time_ms, doc)
  SELECT printf('00000000-0000-4000-8000-%012x', i), 'big', 'h', f.time_ms - i * 1000,
         json_set(f.doc, '\$.fireId', printf('00000000-0000-4000-8000-%012x', i),
                  '\$.taskCreateTime',
                  strftime('%Y-%m-%dT%H:%M:%fZ', (f.time_ms - i * 1000) / 1000.0, 'unixepoch'))
  FROM n, f WHERE i <= $FIRES;
INSERT INTO hooks (hook_group_id, hook_id, version, next_scheduled_ms, doc)
  SELECT printf('g%03d', i % 100), printf('h%06d', i), h.version, NULL,
         json_set(h.doc, '\$.hook.hookGroupId', printf('g%03d', i % 100),
                  '\$.hook.hookId', printf('h%06d', i))
  FROM n, h WHERE i <= $HOOKS;
INSERT INTO fires (fire_id, hook_group_id, hook_id, time_ms, doc)
  SELECT printf('00000000-0000-4000-9000-%012x', i), printf('g%03d', i % 100),
         printf('h%06d', i), f.time_ms,
         json_set(f.doc, '\$.fireId', printf('00000000-0000-4000-9000-%012x', i),
                  '\$.hookGroupId', printf('g%03d', i % 100), '\$.hookId', printf('h%06d', i),
                  '\$.failure', CASE WHEN i % 50 = 0
                    THEN json('{"code": "InsufficientScopes", "message": "seeded failure"}')
                    ELSE NULL END)
  FROM n, f WHERE i <= $HOOKS;
COMMIT;
SQL

# time_page <label> <path>: prints the label, the status and the median time to first byte (ms).
time_page() {
  local label="$1" path="$2" times=() status _
  status="$(curl -s -o /dev/null -w '%{http_code}' -b "$JAR" "$BASE$path")" # warm-up
  for _ in $(seq 1 "$RUNS"); do
    times+=("$(curl -s -o /dev/null -w '%{time_starttransfer}' -b "$JAR" "$BASE$path")")
  done
  printf '%s\n' "${times[@]}" | sort -n |
    awk -v l="$label" -v s="$status" -v p="$path" \
      '{t[NR] = $1} END {printf "| %s | `%s` | %s | %.1f | %.1f | %.1f |\n", l, p, s, t[1] * 1000, t[int((NR + 1) / 2)] * 1000, t[NR] * 1000}'
}

# time_pages <build>: starts $HOOKD on the seeded store, signs in as root and prints the table.
time_pages() {
start_hookd
log "signing in as root"
csrf="$(curl -fsS -c "$JAR" -b "$JAR" "$BASE/ui/sign-in" | sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p' | head -1)"
curl -fsS -o /dev/null -c "$JAR" -b "$JAR" --data-urlencode "csrf=$csrf" \
  --data-urlencode clientId=root --data-urlencode "accessToken=$ROOT_TOKEN" "$BASE/ui/sign-in"

echo "build: $1 ($HOOKD, $profile); fires of big/h: $FIRES; hooks: $HOOKS; runs: $RUNS; load before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "| page | path | status | min ms | median ms | max ms |"
echo "|---|---|---|---|---|---|"
time_page "hook page, first timeline page" "/ui/hooks/big/h"
time_page "hook page, filtered (error: none match, scans 1,000)" "/ui/hooks/big/h?result=error"
time_page "groups page" "/ui"
time_page "groups page, search" "/ui?q=h0999"
time_page "group page (1,000 hooks)" "/ui/groups/g042"
time_page "service page" "/ui/service"
stop_hookd
}

if [ -n "$before" ]; then
  time_pages before
  HOOKD="$BUILT"
fi
time_pages "$([ -n "$before" ] && echo after || echo current)"

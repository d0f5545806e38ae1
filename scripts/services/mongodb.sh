# The MongoDB-wire test server: SecantusDB (PyPI), a separate server process on WiredTiger.
#
# Exports for the tests:
#   HOOKD_TEST_MONGODB_URI  mongodb:// URI of the shared server; each test uses its own database.
#   HOOKD_TEST_SECANTUSD    the server command, for tests that start and stop a private server
#                           (the outage tests) without disturbing the shared one.

MONGODB_SECANTUS_VERSION="0.7.0b3"
# Outside the repository so that reruns reuse the install.
MONGODB_VENV="${HOOKD_SECANTUS_VENV:-$HOME/.cache/hookd/secantus-venv}"

mongodb_install() {
  local have
  have="$("$MONGODB_VENV/bin/pip" show SecantusDB 2>/dev/null | sed -n 's/^Version: //p')" || true
  [ "$have" = "$MONGODB_SECANTUS_VERSION" ] && return 0
  # Debian splits venv's pip bootstrap into python3-venv.
  if ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
    apt-get install -y python3-venv
  fi
  python3 -m venv "$MONGODB_VENV"
  "$MONGODB_VENV/bin/pip" install --quiet "SecantusDB==$MONGODB_SECANTUS_VERSION"
}

# Waits (bounded) until a server answers `ping` on 127.0.0.1:$1.
mongodb_wait_for_ping() {
  "$MONGODB_VENV/bin/python" - "$1" <<'PY'
import sys, time
from pymongo import MongoClient
port = int(sys.argv[1])
deadline = time.monotonic() + 60
while True:
    try:
        MongoClient("127.0.0.1", port, serverSelectionTimeoutMS=500).admin.command("ping")
        break
    except Exception as e:
        if time.monotonic() > deadline:
            sys.exit(f"SecantusDB on port {port} did not answer ping within 60 s: {e}")
        time.sleep(0.2)
PY
}

mongodb_start() {
  local port dir
  port="$(free_port)"
  dir="$HOOKD_TEST_RUN_DIR/mongodb"
  mkdir -p "$dir/data"
  # The launcher reads ./secantusd.toml when present; run from our own empty directory.
  (cd "$dir" && exec "$MONGODB_VENV/bin/secantusd-py" --host 127.0.0.1 --port "$port" \
    --storage-path "$dir/data" --log-level WARNING >"$dir/server.log" 2>&1) &
  echo $! >"$dir/pid"
  if ! mongodb_wait_for_ping "$port"; then
    cat "$dir/server.log" >&2
    return 1
  fi
  export HOOKD_TEST_MONGODB_URI="mongodb://127.0.0.1:$port"
  export HOOKD_TEST_SECANTUSD="$MONGODB_VENV/bin/secantusd-py"
}

mongodb_stop() {
  local pidfile="$HOOKD_TEST_RUN_DIR/mongodb/pid"
  [ -f "$pidfile" ] || return 0
  local pid
  pid="$(cat "$pidfile")"
  kill "$pid" 2>/dev/null || true
  # Reap it, so it is gone before its data dir is removed.
  wait "$pid" 2>/dev/null || true
  rm -f "$pidfile"
}

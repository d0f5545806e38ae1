# A real Matrix homeserver for the ChatOps tests: Synapse from PyPI in a virtualenv, on loopback,
# with SQLite, no federation, no rate limits, and a registration shared secret so that tests
# register their users with Synapse's own `register_new_matrix_user`.
#
# Exports HOOKD_TEST_SYNAPSE_URL (http://127.0.0.1:<port>), HOOKD_TEST_SYNAPSE_SECRET (the
# registration shared secret) and HOOKD_TEST_SYNAPSE_REGISTER (the registration command).

SYNAPSE_VENV="${HOME}/.cache/hookd/synapse-venv"

synapse_install() {
  python_venv_install "$SYNAPSE_VENV" 'matrix-synapse==1.163.2' \
    "$SYNAPSE_VENV/bin/python" -c 'import synapse'
}

synapse_start() {
  local port dir secret
  port=$(free_port)
  dir="$HOOKD_TEST_RUN_DIR/synapse"
  secret="hookd-test-$(python3 -c 'import secrets; print(secrets.token_hex(16))')"
  mkdir -p "$dir"
  (cd "$dir" && "$SYNAPSE_VENV/bin/python" -m synapse.app.homeserver --server-name localhost \
    --config-path "$dir/homeserver.yaml" --data-directory "$dir" \
    --generate-config --report-stats=no >"$dir/generate.log" 2>&1) || {
    cat "$dir/generate.log" >&2
    return 1
  }
  # The generated file keeps its keys and paths; listeners, database, secret and limits are
  # replaced with the test's own.
  SYNAPSE_PORT=$port SYNAPSE_DIR=$dir SYNAPSE_SECRET=$secret "$SYNAPSE_VENV/bin/python" - <<'PY'
import os, yaml
path = os.path.join(os.environ["SYNAPSE_DIR"], "homeserver.yaml")
config = yaml.safe_load(open(path))
unlimited = {"per_second": 1000, "burst_count": 1000}
config.update({
    "listeners": [{"port": int(os.environ["SYNAPSE_PORT"]), "bind_addresses": ["127.0.0.1"],
                   "type": "http", "tls": False, "x_forwarded": False,
                   "resources": [{"names": ["client"], "compress": False}]}],
    "database": {"name": "sqlite3",
                 "args": {"database": os.path.join(os.environ["SYNAPSE_DIR"], "homeserver.db")}},
    "registration_shared_secret": os.environ["SYNAPSE_SECRET"],
    "federation_domain_whitelist": [],
    "trusted_key_servers": [],
    "suppress_key_server_warning": True,
    "rc_message": unlimited, "rc_registration": unlimited,
    "rc_login": {"address": unlimited, "account": unlimited, "failed_attempts": unlimited},
    "rc_joins": {"local": unlimited, "remote": unlimited},
    "rc_invites": {"per_room": unlimited, "per_user": unlimited},
})
yaml.safe_dump(config, open(path, "w"))
PY
  "$SYNAPSE_VENV/bin/python" -m synapse.app.homeserver --config-path "$dir/homeserver.yaml" \
    >"$dir/log" 2>&1 &
  echo $! >"$dir/pid"
  local tries=0
  until curl -sf "http://127.0.0.1:$port/_matrix/client/versions" >/dev/null 2>&1; do
    tries=$((tries + 1))
    if [ "$tries" -gt 600 ]; then
      echo "Synapse did not start; its log:" >&2
      tail -50 "$dir/log" >&2
      return 1
    fi
    sleep 0.1
  done
  export HOOKD_TEST_SYNAPSE_URL="http://127.0.0.1:$port"
  export HOOKD_TEST_SYNAPSE_SECRET="$secret"
  export HOOKD_TEST_SYNAPSE_REGISTER="$SYNAPSE_VENV/bin/register_new_matrix_user"
}

synapse_stop() {
  local pidfile="$HOOKD_TEST_RUN_DIR/synapse/pid"
  [ -f "$pidfile" ] && kill "$(cat "$pidfile")" 2>/dev/null
  return 0
}

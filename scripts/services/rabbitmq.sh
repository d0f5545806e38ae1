# RabbitMQ for the AMQP tests: one private node per test run, on loopback, under
# $HOOKD_TEST_RUN_DIR. Sourced by scripts/services.sh.
#
# Exports:
#   HOOKD_TEST_AMQP_URL        amqp://guest:guest@127.0.0.1:<port>/%2f
#   HOOKD_TEST_RABBITMQ_NODE   the node name, for `rabbitmqctl -n`
#   HOOKD_TEST_RABBITMQ_CTL    a script that runs rabbitmqctl against this node with its env
#                              (tests restart the broker with `stop_app` / `start_app`)

RABBITMQ_SBIN=/usr/lib/rabbitmq/bin

rabbitmq_install() {
  if [ -x "$RABBITMQ_SBIN/rabbitmq-server" ]; then
    return 0
  fi
  # policy-rc.d keeps the package from starting the system-wide node: tests run their own.
  local policy=/usr/sbin/policy-rc.d created_policy=""
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && created_policy=1
  fi
  local install=(env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends
    rabbitmq-server)
  "${install[@]}" >&2 || { apt-get update >&2 && "${install[@]}" >&2; }
  if [ -n "$created_policy" ]; then rm -f "$policy"; fi
}

# Writes the env every rabbitmq command of this node needs into $dir/env.
_rabbitmq_write_env() {
  local dir=$1 node=$2 port=$3 dist_port=$4 epmd_port=$5
  cat >"$dir/env" <<EOF
export HOME='$dir/home'
export RABBITMQ_NODENAME='$node'
export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
export RABBITMQ_NODE_PORT='$port'
export RABBITMQ_DIST_PORT='$dist_port'
export ERL_EPMD_ADDRESS=127.0.0.1
export ERL_EPMD_PORT='$epmd_port'
export RABBITMQ_MNESIA_BASE='$dir/mnesia'
export RABBITMQ_LOG_BASE='$dir/log'
export RABBITMQ_PID_FILE='$dir/rabbitmq.pid'
export RABBITMQ_ENABLED_PLUGINS_FILE='$dir/enabled_plugins'
export RABBITMQ_CONFIG_FILE='$dir/rabbitmq'
export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS='-kernel inet_dist_use_interface {127,0,0,1}'
EOF
}

rabbitmq_start() {
  local dir="$HOOKD_TEST_RUN_DIR/rabbitmq"
  local port dist_port epmd_port
  port=$(free_port)
  dist_port=$(free_port)
  # A private epmd on its own port: it is ours to stop, and no other node sees it.
  epmd_port=$(free_port)
  local node="hookd-test-$port@localhost"
  mkdir -p "$dir/home" "$dir/mnesia" "$dir/log"
  echo '[].' >"$dir/enabled_plugins"
  # The default guest user may only log in over loopback, which is all the tests use.
  echo 'loopback_users.guest = true' >"$dir/rabbitmq.conf"
  _rabbitmq_write_env "$dir" "$node" "$port" "$dist_port" "$epmd_port"

  cat >"$dir/ctl" <<EOF
#!/usr/bin/env bash
# rabbitmqctl against the test node, e.g. \`ctl list_queues\`.
source '$dir/env'
exec $RABBITMQ_SBIN/rabbitmqctl -n '$node' "\$@"
EOF
  cat >"$dir/start" <<EOF
#!/usr/bin/env bash
# Starts the test node (again) in the background and waits until it serves AMQP.
set -euo pipefail
source '$dir/env'
nohup $RABBITMQ_SBIN/rabbitmq-server >>'$dir/log/console.log' 2>&1 &
timeout 120 $RABBITMQ_SBIN/rabbitmqctl -n '$node' wait --timeout 120 '$dir/rabbitmq.pid' >/dev/null
timeout 120 $RABBITMQ_SBIN/rabbitmqctl -n '$node' await_startup --timeout 120 >/dev/null
EOF
  chmod +x "$dir/ctl" "$dir/start"

  "$dir/start" || {
    echo "rabbitmq did not start; its log:" >&2
    tail -n 50 "$dir/log/"*.log >&2 || true
    return 1
  }
  export HOOKD_TEST_AMQP_URL="amqp://guest:guest@127.0.0.1:$port/%2f"
  export HOOKD_TEST_RABBITMQ_NODE="$node"
  export HOOKD_TEST_RABBITMQ_CTL="$dir/ctl"
}

rabbitmq_stop() {
  local dir="$HOOKD_TEST_RUN_DIR/rabbitmq"
  [ -f "$dir/env" ] || return 0
  # shellcheck disable=SC1091
  (
    source "$dir/env"
    timeout 60 "$RABBITMQ_SBIN/rabbitmqctl" -n "$RABBITMQ_NODENAME" stop >/dev/null 2>&1 || true
    # Whatever survived the polite stop: the node (by its pid file) and our private epmd.
    if [ -f "$RABBITMQ_PID_FILE" ]; then
      kill -9 "$(cat "$RABBITMQ_PID_FILE")" 2>/dev/null || true
    fi
    epmd -kill >/dev/null 2>&1 || true
  )
}

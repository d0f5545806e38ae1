# The official JavaScript Taskcluster client (npm `taskcluster-client`) and Taskcluster's scope
# library (npm `taskcluster-lib-scopes`), for the signed-URL and scope-oracle tests
# (tests/api/taskcluster_js.rs, tests/api/scopes_oracle.rs). Not a server: "start" only exports
# where node and the packages are.
#
# taskcluster-client 55.3.2 is the newest release whose `engines` admit Debian's node 20 (later
# ones pin node 18.x, 20.16.0 or 22.x exactly).
#
# Exports: HOOKD_TEST_NODE (the node binary), HOOKD_TEST_NODE_PATH (the node_modules directory).

TASKCLUSTER_JS_CLIENT_VERSION="55.3.2"
TASKCLUSTER_JS_SCOPES_VERSION="11.0.0"

_taskcluster_js_dir() {
  echo "${HOOKD_TASKCLUSTER_JS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/hookd/taskcluster-js-$TASKCLUSTER_JS_CLIENT_VERSION-$TASKCLUSTER_JS_SCOPES_VERSION}"
}

taskcluster_js_install() {
  local dir
  dir="$(_taskcluster_js_dir)"
  if [ -d "$dir/node_modules/taskcluster-client" ] && [ -d "$dir/node_modules/taskcluster-lib-scopes" ]; then
    return 0
  fi
  if ! command -v npm >/dev/null; then
    local install=(env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends
      nodejs npm)
    "${install[@]}" >&2 || { apt-get update >&2 && "${install[@]}" >&2; }
  fi
  mkdir -p "$dir"
  # --prefix keeps the install out of the clone; exact versions keep reruns identical.
  npm install --prefix "$dir" --no-save --no-audit --no-fund --loglevel=error \
    "taskcluster-client@$TASKCLUSTER_JS_CLIENT_VERSION" \
    "taskcluster-lib-scopes@$TASKCLUSTER_JS_SCOPES_VERSION" >&2
}

taskcluster_js_start() {
  HOOKD_TEST_NODE="$(command -v node)"
  HOOKD_TEST_NODE_PATH="$(_taskcluster_js_dir)/node_modules"
  export HOOKD_TEST_NODE HOOKD_TEST_NODE_PATH
}

taskcluster_js_stop() {
  :
}

# Schemathesis (PyPI) in a virtualenv, and curl, for scripts/schemathesis.sh, which fuzzes a
# live hookd against api-reference/openapi.yaml. Not a server: "start" only exports where `st`
# is.
#
# Exports: HOOKD_TEST_SCHEMATHESIS (the venv's `st` command).

SCHEMATHESIS_VERSION="4.32.5"

_schemathesis_venv() {
  echo "${XDG_CACHE_HOME:-$HOME/.cache}/hookd/schemathesis-$SCHEMATHESIS_VERSION"
}

schemathesis_install() {
  local venv
  venv="$(_schemathesis_venv)"
  python_venv_install "$venv" "schemathesis==$SCHEMATHESIS_VERSION" test -x "$venv/bin/st"
  # scripts/schemathesis.sh prepares its fixtures with curl.
  if ! command -v curl >/dev/null; then
    local install=(apt-get install -y --no-install-recommends curl)
    "${install[@]}" >&2 || { apt-get update >&2 && "${install[@]}" >&2; }
  fi
}

schemathesis_start() {
  HOOKD_TEST_SCHEMATHESIS="$(_schemathesis_venv)/bin/st"
  export HOOKD_TEST_SCHEMATHESIS
}

schemathesis_stop() {
  :
}

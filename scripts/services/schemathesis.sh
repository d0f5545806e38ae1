# Schemathesis (PyPI) in a virtualenv, for scripts/schemathesis.sh, which fuzzes a live hookd
# against api-reference/openapi.yaml. Not a server: "start" only exports where `st` is.
#
# Exports: HOOKD_TEST_SCHEMATHESIS (the venv's `st` command).

SCHEMATHESIS_VERSION="4.32.5"

_schemathesis_venv() {
  echo "${XDG_CACHE_HOME:-$HOME/.cache}/hookd/schemathesis-$SCHEMATHESIS_VERSION"
}

schemathesis_install() {
  local venv
  venv="$(_schemathesis_venv)"
  if [ -x "$venv/bin/st" ]; then
    return 0
  fi
  if ! python3 -c 'import ensurepip' 2>/dev/null; then
    apt-get install -y python3-venv >&2
  fi
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet "schemathesis==$SCHEMATHESIS_VERSION" >&2
}

schemathesis_start() {
  HOOKD_TEST_SCHEMATHESIS="$(_schemathesis_venv)/bin/st"
  export HOOKD_TEST_SCHEMATHESIS
}

schemathesis_stop() {
  :
}

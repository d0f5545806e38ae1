# Test services: sourced by scripts/test.sh; defines services_install, services_start and
# services_stop over every scripts/services/<name>.sh.
#
# A service file defines three functions named after the file: <name>_install (idempotent;
# installs packages a fresh machine lacks), <name>_start (starts it under $HOOKD_TEST_RUN_DIR
# and exports the env vars the tests read) and <name>_stop.

HOOKD_TEST_RUN_DIR="${HOOKD_TEST_RUN_DIR:-$(mktemp -d -t hookd-test-XXXXXX)}"
export HOOKD_TEST_RUN_DIR

_service_names() {
  local f
  for f in scripts/services/*.sh; do
    [ -e "$f" ] || continue
    basename "$f" .sh
  done
}

for _f in scripts/services/*.sh; do
  [ -e "$_f" ] || continue
  # shellcheck disable=SC1090
  source "$_f"
done
unset _f

services_install() {
  local name
  for name in $(_service_names); do "${name}_install"; done
}

services_start() {
  local name
  for name in $(_service_names); do
    echo "test services: starting $name" >&2
    "${name}_start"
  done
}

services_stop() {
  local name
  for name in $(_service_names); do "${name}_stop" || true; done
  rm -rf "$HOOKD_TEST_RUN_DIR"
}

# Prints a free TCP port on 127.0.0.1.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# Makes the virtualenv $1 hold the pip requirement $2, unless the command after them (a check
# that the install is there) already succeeds. Installs python3-venv when Python lacks it.
python_venv_install() {
  local venv="$1" requirement="$2"
  shift 2
  if "$@" 2>/dev/null; then
    return 0
  fi
  if ! python3 -c 'import ensurepip' 2>/dev/null; then
    apt-get install -y python3-venv >&2
  fi
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet "$requirement" >&2
}

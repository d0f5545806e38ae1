# The official Python Taskcluster client (PyPI `taskcluster`) in a virtualenv, for the Hawk
# compatibility tests (tests/hawk). Not a server: "start" only exports where the venv's Python is.
#
# Exports: HOOKD_TEST_TASKCLUSTER_PYTHON (the venv's python3).

TASKCLUSTER_PY_VERSION="113.2.0"

_taskcluster_py_venv() {
  echo "${HOOKD_TASKCLUSTER_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/hookd/taskcluster-py-$TASKCLUSTER_PY_VERSION}"
}

taskcluster_py_install() {
  local venv
  venv="$(_taskcluster_py_venv)"
  python_venv_install "$venv" "taskcluster==$TASKCLUSTER_PY_VERSION" \
    "$venv/bin/python" -c 'import taskcluster'
}

taskcluster_py_start() {
  HOOKD_TEST_TASKCLUSTER_PYTHON="$(_taskcluster_py_venv)/bin/python"
  export HOOKD_TEST_TASKCLUSTER_PYTHON
}

taskcluster_py_stop() {
  :
}

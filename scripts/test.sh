#!/usr/bin/env bash
# Runs hookd's whole test suite.
#
# Every file in scripts/services/ describes one service the tests talk to (RabbitMQ, a
# MongoDB-wire server, ...). This script installs what is missing, starts each service on a
# private loopback port with its own temp dir, exports where to reach it, runs `cargo test`,
# and stops the services again, also when the tests fail.
#
# Usage: scripts/test.sh [extra cargo test args]
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=scripts/services.sh
source scripts/services.sh

services_install
trap services_stop EXIT
services_start

cargo test --locked "$@"

# The black-box API tests once more, with the server storing hooks in MongoDB.
HOOKD_TEST_BACKEND=mongodb cargo test --locked --test api "$@"

# Schemathesis against a live hookd (the debug binary the tests above built).
scripts/schemathesis.sh

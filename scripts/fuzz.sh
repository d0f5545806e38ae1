#!/usr/bin/env bash
# Runs every cargo-fuzz target for a bounded time and prints a summary line per target.
#
# Usage: scripts/fuzz.sh [seconds per target, default 60]
#   FUZZ_TARGETS="cron hawk_header" scripts/fuzz.sh 10    # a subset (CI smoke run: 10 s each)
#   FUZZ_SEED=1 scripts/fuzz.sh 10                         # repeatable inputs (CI); default random
#
# cargo-fuzz needs nightly features (sanitizers); on a stable toolchain RUSTC_BOOTSTRAP=1
# unlocks them. Corpora grow under fuzz/corpus/<target> (seeded from fuzz/seeds/<target>);
# crashes land in fuzz/artifacts/<target>. Timeouts (>5 s per input) and inputs over 2 GiB of
# memory count as findings: JSON-e renders are expected to produce some, which is what
# hookd's render deadline is for.
set -uo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-60}"
targets="${FUZZ_TARGETS:-hook_definition cron jsone_render hawk_header}"
export RUSTC_BOOTSTRAP=1

if ! command -v cargo-fuzz >/dev/null; then
  cargo install cargo-fuzz --locked
fi

status=0
for target in $targets; do
  mkdir -p "fuzz/corpus/$target"
  log="$(mktemp)"
  (cd fuzz && cargo fuzz run "$target" "corpus/$target" "seeds/$target" -- \
    -max_total_time="$seconds" -timeout=5 -rss_limit_mb=2048 -print_final_stats=1 \
    -seed="${FUZZ_SEED:-0}") >"$log" 2>&1
  result=$?
  runs="$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)"
  if [ "$result" -eq 0 ]; then
    echo "fuzz $target: ${runs:-?} executions in ${seconds}s, no findings"
  else
    echo "fuzz $target: FINDING after ${runs:-?} executions (exit $result); see fuzz/artifacts/$target"
    grep -E 'ERROR|SUMMARY|panicked|Test unit written' "$log" | head -5
    status=1
  fi
  rm -f "$log"
done
exit "$status"

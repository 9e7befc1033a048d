#!/usr/bin/env bash
# Runs the whole suite N times in a row on a fresh clone of this checkout's HEAD, as CI
# would, and says which tests failed in which run: a test that fails once in twenty runs
# is a bug in the product or the test.
#   tests/repeat.sh [runs, default 10] [ctest -R regex, default: every test]
# Needs what `make test` needs (it installs missing Debian packages). Keeps the clone and
# each run's log under $TMPDIR/keel-repeat-*/ when a run fails; removes it otherwise.
set -euo pipefail
runs=${1:-10}
filter=${2:-}
src=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
work=$(mktemp -d "${TMPDIR:-/tmp}/keel-repeat-XXXXXX")
git clone -q --no-hardlinks "$src" "$work/keel"
cd "$work/keel"
echo "[repeat] $(git log --oneline -1) in $work; building (make build)" >&2
make build >"$work/build.log" 2>&1 || { echo "[repeat] build failed: $work/build.log" >&2; exit 1; }
failed_runs=0
for i in $(seq 1 "$runs"); do
  start=$(date +%s)
  args=(--timeout 600 -j1 --output-on-failure)
  [ -n "$filter" ] && args+=(-R "$filter")
  if (cd build && ctest "${args[@]}") >"$work/run-$i.log" 2>&1; then
    result="pass"
  else
    # The failed tests ctest lists at the end, not those it lists as disabled.
    result="FAIL: $(grep -v '(Disabled)$' "$work/run-$i.log" |
      sed -n 's/^[[:space:]]*[0-9]* - \(.*\) (.*$/\1/p' | paste -sd' ')"
    failed_runs=$((failed_runs + 1))
  fi
  echo "[repeat] run $i/$runs in $(( $(date +%s) - start )) s: $result" >&2
done
if [ "$failed_runs" -eq 0 ]; then
  echo "[repeat] $runs of $runs runs passed" >&2
  rm -rf "$work"
else
  echo "[repeat] $failed_runs of $runs runs failed; logs in $work" >&2
  exit 1
fi

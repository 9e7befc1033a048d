#!/usr/bin/env bash
# Runs libFuzzer targets for a bounded time each, on a copy of their seed corpus (the
# repo's fuzz/corpus stays as committed). Usage: fuzz/run.sh BIN_DIR SECONDS TARGET...
# A crash, leak, hang (> 10 s on one input) or undefined behaviour fails the run; its input
# is kept in BIN_DIR/../fuzz-crashes/TARGET/ (docs/operations.md, "Fuzzing").
set -uo pipefail
bin=$1 seconds=$2
shift 2
# The libraries are built with UBSan's recovering checks: halting makes a finding fail.
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}
repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/keel-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT
crashes=$(cd "$bin/.." && pwd)/fuzz-crashes
failed=()
n=0
for target in "$@"; do
  n=$((n + 1))
  corpus=$work/$target
  mkdir -p "$corpus" "$crashes/$target"
  cp "$repo/fuzz/corpus/$target"/* "$corpus"/
  seeds=$(ls "$corpus" | wc -l)
  printf '[%d/%d] %-14s %3d s from %d seeds ... ' "$n" "$#" "$target" "$seconds" "$seeds"
  # Halts at the first finding; -timeout catches a hang, -rss_limit_mb a blow-up.
  "$bin/fuzz_$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -use_value_profile=1 -print_final_stats=1 -artifact_prefix="$crashes/$target/" \
    "$corpus" >"$work/$target.log" 2>&1
  rc=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/$target.log")
  grown=$(ls "$corpus" | wc -l)
  if [ "$rc" -eq 0 ]; then
    echo "ok: ${runs:-?} inputs, corpus $seeds -> $grown"
  else
    echo "FAILED (exit $rc)"
    grep -E 'ERROR: |SUMMARY: |runtime error: |Test unit written to' "$work/$target.log" | head -8 |
      sed 's/^/    /'
    failed+=("$target")
  fi
done
if [ "${#failed[@]}" -gt 0 ]; then
  echo "fuzzing failed: ${failed[*]}; reproduce with BIN/fuzz_TARGET FILE, then add FILE to" \
    "fuzz/corpus/TARGET with the fix"
  exit 1
fi
echo "fuzzing: no crash in $# targets"

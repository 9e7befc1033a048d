#!/usr/bin/env bash
# examples/bank, an application outside the tree, built and tested against Keel as an
# installed package: `cmake --install` into a prefix, the prefix moved elsewhere, then the
# bank configured with find_package(Keel) and GTest, built, and its tests (on
# Keel::testing) run with ctest, and bank-node (its main on keel::node_main) run under
# concurrent HTTP transfers whose money must add up, also after a kill -9. A failing step
# prints its log; each step prints its time.
#   tests/install/bank_test.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=${1:?build dir}
source=${2:?source dir}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# step NAME COMMAND...: runs COMMAND into $work/NAME.log; on failure prints the log, exits.
step() {
  local name=$1 start=$SECONDS
  shift
  if ! "$@" > "$work/$name.log" 2>&1; then
    echo "bank_test: step '$name' failed: $*" >&2
    cat "$work/$name.log" >&2
    exit 1
  fi
  echo "$name: $((SECONDS - start)) s"
}

step install cmake --install "$build" --prefix "$work/staged"
mv "$work/staged" "$work/moved"
for f in lib/libkeel_testing.a include/keel/testing/test_node.hpp lib/libkeel_node.a \
  include/keel/node/node_main.hpp \
  include/keel/testing/manual_wall_clock.hpp include/keel/runtime/http/gateway.hpp; do
  [ -e "$work/moved/$f" ] || { echo "not installed: $f" >&2; exit 1; }
done
launcher=()
if command -v ccache > /dev/null; then launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache); fi
step configure cmake -S "$source/examples/bank" -B "$work/bank" \
  -DCMAKE_PREFIX_PATH="$work/moved" "${launcher[@]}"
grep -q "Keel 0.1" "$work/configure.log" || { echo "Keel_VERSION not set" >&2; exit 1; }
step build cmake --build "$work/bank" -j2
[ -x "$work/bank/bank_tests" ] || { echo "bank_tests not built (GTest not found?)" >&2; exit 1; }
[ -x "$work/bank/bank-node" ] || { echo "bank-node not built (no Keel::node?)" >&2; exit 1; }
# The nodes' temp dirs go under $work, so nothing is left behind whatever happens.
mkdir -p "$work/tmp"
step test env TMPDIR="$work/tmp" ctest --test-dir "$work/bank" --output-on-failure \
  --no-tests=error -j1
grep -E "tests passed|Total Test time" "$work/test.log" || true
# bank-node, the app's own node on keel::node_main, under concurrent transfers over HTTP.
step bench env TMPDIR="$work/tmp" "$source/examples/bank/bench/transfer_bench.sh" \
  "$work/bank/bank-node" 2 8
cat "$work/bench.log"
echo "installed, moved, found, built and tested the bank"

#!/usr/bin/env bash
# Keel as an installed package: `cmake --install` into a prefix, the prefix moved elsewhere
# (the package must be relocatable), then examples/greeter, an application outside the
# tree, configured with find_package(Keel), built and run: its three greetings across two
# restarts must come back exactly.
#   tests/install/install_test.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=${1:?build dir}
source=${2:?source dir}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cmake --install "$build" --prefix "$work/staged" > "$work/install.log"
mv "$work/staged" "$work/moved"
for f in include/keel/runtime/node_runtime.hpp include/keel/runtime/runtime.pb.h \
  include/keel/runtime/builtin.proto include/keel/cluster/cluster.pb.h \
  lib/libkeel_runtime.a lib/libkeel_cluster.a lib/libkeel_testing.a \
  include/keel/testing/test_node.hpp lib/cmake/Keel/KeelConfig.cmake \
  lib/cmake/Keel/KeelConfigVersion.cmake bin/keel-node bin/keelctl; do
  [ -e "$work/moved/$f" ] || { echo "not installed: $f" >&2; exit 1; }
done
if grep -rq "$work/staged" "$work/moved/lib/cmake/Keel"; then
  echo "the package names the prefix it was installed to: not relocatable" >&2
  exit 1
fi
cmake -S "$source/examples/greeter" -B "$work/app" -DCMAKE_PREFIX_PATH="$work/moved" \
  > "$work/configure.log" 2>&1 || { cat "$work/configure.log" >&2; exit 1; }
grep -q "Keel 0.1" "$work/configure.log" || { echo "Keel_VERSION not set" >&2; exit 1; }
cmake --build "$work/app" > "$work/build.log" 2>&1 || { cat "$work/build.log" >&2; exit 1; }
out=$("$work/app/greeter" "$work/data")
expected=$'Hello, ada (1)\nHello, ada (2)\nHello, ada (3)'
[ "$out" = "$expected" ] || { printf 'greeter printed:\n%s\n' "$out" >&2; exit 1; }
# A version the package does not satisfy is refused.
sed 's/Keel 0.1 CONFIG/Keel 1.0 CONFIG/' "$source/examples/greeter/CMakeLists.txt" \
  > "$work/CMakeLists.txt"
mkdir -p "$work/v1" && cp -r "$source/examples/greeter/." "$work/v1/" &&
  cp "$work/CMakeLists.txt" "$work/v1/CMakeLists.txt"
if cmake -S "$work/v1" -B "$work/v1-build" -DCMAKE_PREFIX_PATH="$work/moved" \
  > "$work/v1.log" 2>&1; then
  echo "find_package(Keel 1.0) accepted Keel 0.1" >&2
  exit 1
fi
echo "installed, moved, found, built and ran the greeter"

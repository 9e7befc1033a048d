#!/usr/bin/env bash
# The Kubernetes manifests of deploy/kubernetes validate offline (validate_manifests.mjs beside
# this script: the Kubernetes API's schemas, unknown fields, the wiring between objects,
# keel-node's variables), and the validator refuses bad_manifests.yaml with every problem
# it plants. Needs npm (Debian: npm), and the npm registry the first time: the checker's
# packages, pinned by package-lock.json, are installed into WORK_DIR/deploy-check.
#
#   tests/deploy/k8s_manifests_test.sh SOURCE_DIR WORK_DIR [KEEL_NODE_BINARY]
#
# Exit 0: passed; 1: failed; 77: skipped (no npm).
set -euo pipefail
src=$(cd "${1:?usage: k8s_manifests_test.sh SOURCE_DIR WORK_DIR [KEEL_NODE]}" && pwd)
work=$(mkdir -p "${2:?usage: k8s_manifests_test.sh SOURCE_DIR WORK_DIR [KEEL_NODE]}/deploy-check" \
  && cd "$2/deploy-check" && pwd)
keel_node=${3:-}
here=$src/tests/deploy

if ! command -v npm >/dev/null || ! command -v node >/dev/null; then
  echo "SKIPPED: npm and node are not installed (Debian: npm)"
  exit 77
fi
# npm ci once, and again when the lock file changes.
if ! cmp -s "$here/package-lock.json" "$work/package-lock.json" || [ ! -d "$work/node_modules" ]; then
  rm -rf "$work/node_modules" "$work/package-lock.json"
  cp "$here/package.json" "$work/"
  cp "$here/package-lock.json" "$work/package-lock.json.new"
  mv "$work/package-lock.json.new" "$work/package-lock.json"
  (cd "$work" && npm ci --no-audit --no-fund --loglevel=error)
fi

keel_flag=()
[ -n "$keel_node" ] && keel_flag=("--keel-node=$keel_node")
failed=0

echo "== deploy/kubernetes validates"
if ! node "$here/validate_manifests.mjs" "${keel_flag[@]}" "$work" \
    "$src"/deploy/kubernetes/kustomization.yaml "$src"/deploy/kubernetes/keel.yaml "$src"/deploy/kubernetes/etcd.yaml; then
  echo "FAILED: deploy/kubernetes does not validate"
  failed=1
fi

echo "== bad_manifests.yaml is refused, for each of its planted mistakes"
out=$(node "$here/validate_manifests.mjs" "${keel_flag[@]}" "$work" "$here/bad_manifests.yaml") \
  && { echo "FAILED: the validator accepted bad_manifests.yaml"; failed=1; }
echo "$out"
markers='^# expect: '
[ -n "$keel_node" ] && markers='^# expect(-keel)?: '
expected=0
while IFS= read -r line; do
  expected=$((expected + 1))
  if ! grep -qF -- "$line" <<<"$out"; then
    echo "FAILED: expected in the validator's output: $line"
    failed=1
  fi
done < <(grep -E "$markers" "$here/bad_manifests.yaml" | sed -E 's/^# expect(-keel)?: //')
found=$(grep -cE '^[^ ]+#[0-9]+ ' <<<"$out" || true)
if [ "$found" != "$expected" ]; then
  echo "FAILED: the validator found $found problems, bad_manifests.yaml expects $expected"
  failed=1
fi
echo "$expected expected problems checked, $found found"

if [ "$failed" = 0 ]; then echo "1 passed, 0 failed"; else echo "0 passed, 1 failed"; fi
exit "$failed"

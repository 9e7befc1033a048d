#!/usr/bin/env bash
# The ride-sharing benchmark (issue 5): rideshare-sim against one keel-node, next to the
# durable-turn ceiling keel-bench measures in the same run. Prints the rides/s, durable
# turns per ride, their product, and its ratio to the ceiling (target >= 0.6).
#   apps/rideshare_sim/rideshare-bench.sh [build/bin] [sim seconds] [sim connections]
# The sim opens 64 connections by default here: as many as the ceiling's writers (keel-bench
# b keeps 64 turns in flight), so both sides are measured at the same concurrency.
set -euo pipefail
bin=${1:-build/bin}
seconds=${2:-10}
connections=${3:-64}
. "$(dirname "$0")/bench-node.sh"

echo "[1/3] durable-turn ceiling: keel-bench --only=b" >&2
ceiling=$("$bin/keel-bench" --only=b --json 2>/dev/null |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["results"][0]["value"])')

echo "[2/3] starting keel-node" >&2
start_node "$bin"

echo "[3/3] rideshare-sim for ${seconds}s over $connections connections" >&2
"$bin/rideshare-sim" --node="127.0.0.1:$port" --duration="${seconds}s" \
  --concurrency="$connections" --json >"$dir/sim.json"

python3 - "$dir/sim.json" "$ceiling" "$connections" <<'PY'
import json, sys
sim = json.load(open(sys.argv[1]))
ceiling = float(sys.argv[2])
print(f"sim connections                 {int(sys.argv[3]):10d}")
rides = sim["rides_per_second"]
per_ride = sim["durable_turns_per_ride"]
product = rides * per_ride
print(f"rides/s                         {rides:10.1f}")
print(f"durable turns per ride          {per_ride:10.2f}")
print(f"durable turns/s under the app   {product:10.0f}")
print(f"durable-turn ceiling (keel-bench b) {ceiling:6.0f}")
print(f"ratio (target >= 0.6)           {product / ceiling:10.3f}")
print(f"invariants                      {'PASS' if sim['pass'] else 'FAIL'}")
PY

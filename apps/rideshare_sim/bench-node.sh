# Sourced by the benchmark scripts here: start_node BIN starts one keel-node on a fresh
# data dir under $dir (made here) and sets $node (its pid) and $port (its HTTP port); the
# node and the dir go when the script exits.
dir=$(mktemp -d)
node=
trap 'if [ -n "$node" ]; then kill "$node" 2>/dev/null || true; wait "$node" 2>/dev/null || true; fi; rm -rf "$dir"' EXIT

start_node() {
  "$1/keel-node" --http-port=0 --data-dir="$dir/data" --log-level=warn >"$dir/out" 2>"$dir/err" &
  node=$!
  for _ in $(seq 100); do grep -q listening "$dir/out" && break; sleep 0.1; done
  port=$(sed -n 's/.*http=[^:]*:\([0-9]*\).*/\1/p' "$dir/out")
  [ -n "$port" ] || { echo "keel-node did not start: $(cat "$dir/err")" >&2; exit 1; }
}

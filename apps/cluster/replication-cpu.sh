#!/usr/bin/env bash
# CPU per durable increment of a 2-node cluster with COPIES copies of each partition (1 or
# 2): etcd and two keel-nodes on loopback, wrk with 32 connections to each node POSTs
# increments of random counters of 2,000 for 8 s after a 2 s warm-up, and the nodes' CPU
# (user + system, from /proc) is divided by the increments answered. Clients outside the
# nodes' processes, so the CPU is the cluster's own. Prints one line:
#   TAG requests N non2xx N rate N/s cpu Ns cpu_us_per_req N
# Usage: apps/cluster/replication-cpu.sh [BIN_DIR, default build/bin] [COPIES, default 2] [TAG]
# Needs etcd and wrk (make deps installs both).
set -uo pipefail
bin=${1:-build/bin}
copies=${2:-2}
tag=${3:-R$copies}
dir=$(mktemp -d "${TMPDIR:-/tmp}/keel-replication-cpu-XXXXXX")
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$dir"
}
trap cleanup EXIT
# Below the kernel's ephemeral ports (32768 on), which outgoing connections take.
port=$((20000 + RANDOM % 12000))
etcd --data-dir "$dir/etcd" --listen-client-urls "http://127.0.0.1:$port" \
  --advertise-client-urls "http://127.0.0.1:$port" \
  --listen-peer-urls "http://127.0.0.1:$((port + 1))" \
  --initial-advertise-peer-urls "http://127.0.0.1:$((port + 1))" \
  --initial-cluster "default=http://127.0.0.1:$((port + 1))" --log-level=error >"$dir/etcd.log" 2>&1 &
pids+=($!)
sleep 1
node_pids=()
for n in 1 2; do
  "$bin/keel-node" --node-id="n$n" --etcd="127.0.0.1:$port" --http-port=$((port + 10 + n)) \
    --cluster-port=0 --data-dir="$dir/n$n" --replication-factor="$copies" --log-level=warn \
    --lease-ttl=2s >"$dir/n$n.log" 2>&1 &
  pids+=($!)
  node_pids+=($!)
done
for n in 1 2; do
  for _ in $(seq 100); do
    curl -sf "http://127.0.0.1:$((port + 10 + n))/readyz" >/dev/null && break
    sleep 0.1
  done
done
cat >"$dir/increment.lua" <<'LUA'
request = function()
  return wrk.format("POST", "/v1/actors/counter/c" .. math.random(2000) .. "/Increment",
                    {["Content-Type"] = "application/json"}, '{"by":1}')
end
LUA
echo "[replication-cpu] warming up (places the partitions)" >&2
for n in 1 2; do
  wrk -t1 -c32 -d2s -s "$dir/increment.lua" "http://127.0.0.1:$((port + 10 + n))" >/dev/null
done
cpu_ticks() {
  local total=0 fields
  for pid in "${node_pids[@]}"; do
    read -r -a fields <"/proc/$pid/stat"
    total=$((total + fields[13] + fields[14]))
  done
  echo "$total"
}
echo "[replication-cpu] measuring for 8 s" >&2
before=$(cpu_ticks)
wrk -t1 -c32 -d8s -s "$dir/increment.lua" "http://127.0.0.1:$((port + 11))" >"$dir/w1" &
first=$!
wrk -t1 -c32 -d8s -s "$dir/increment.lua" "http://127.0.0.1:$((port + 12))" >"$dir/w2"
wait "$first"
after=$(cpu_ticks)
requests=$(awk '/requests in/ {s += $1} END {print s + 0}' "$dir/w1" "$dir/w2")
non2xx=$(awk '/Non-2xx/ {s += $4} END {print s + 0}' "$dir/w1" "$dir/w2")
awk -v tag="$tag" -v r="$requests" -v bad="$non2xx" -v ticks=$((after - before)) \
  -v hz="$(getconf CLK_TCK)" 'BEGIN {
    printf "%s requests %d non2xx %d rate %.0f/s cpu %.2fs cpu_us_per_req %.1f\n",
      tag, r, bad, r / 8, ticks / hz, ticks / hz / r * 1e6 }'

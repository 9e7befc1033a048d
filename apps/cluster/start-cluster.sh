#!/usr/bin/env bash
# Starts a local Keel cluster: one etcd on its own ports (the Debian package's system etcd
# owns 2379) with data in ./data/etcd, and three keel-node processes (KEEL_CLUSTER_NODES
# sets how many) with data in ./data/n1..n3, all on loopback. Stop them with `apps/cluster/stop-cluster.sh` (or
# `make cluster-stop`).
# usage: start-cluster.sh BIN_DIR [DATA_DIR]
set -euo pipefail
bin=${1:?usage: start-cluster.sh BIN_DIR [DATA_DIR]}
data=${2:-./data}
etcd_client=${KEEL_CLUSTER_ETCD_PORT:-23790}
etcd_peer=$((etcd_client + 10))
http_base=${KEEL_CLUSTER_HTTP_BASE:-8081}
cluster_base=${KEEL_CLUSTER_PORT_BASE:-7001}
nodes=${KEEL_CLUSTER_NODES:-3}
mkdir -p "$data"
pids="$data/cluster.pids"
if [ -s "$pids" ] && xargs -r kill -0 < "$pids" 2>/dev/null; then
  echo "a cluster started from $data is still running (pids in $pids): stop it first" >&2
  exit 1
fi
: > "$pids"

echo "starting etcd on 127.0.0.1:$etcd_client (data in $data/etcd, log in $data/etcd.log)"
etcd --name=keel-local --data-dir="$data/etcd" \
  --listen-client-urls="http://127.0.0.1:$etcd_client" \
  --advertise-client-urls="http://127.0.0.1:$etcd_client" \
  --listen-peer-urls="http://127.0.0.1:$etcd_peer" \
  --initial-advertise-peer-urls="http://127.0.0.1:$etcd_peer" \
  --initial-cluster="keel-local=http://127.0.0.1:$etcd_peer" \
  --log-level=warn > "$data/etcd.log" 2>&1 &
echo $! >> "$pids"
for _ in $(seq 100); do
  curl -sf "http://127.0.0.1:$etcd_client/health" | grep -q true && break
  sleep 0.1
done
curl -sf "http://127.0.0.1:$etcd_client/health" | grep -q true ||
  { echo "etcd did not become healthy; see $data/etcd.log" >&2; exit 1; }
# Healthy, but is it ours? Another etcd may hold the port (an earlier cluster left running).
kill -0 "$(head -1 "$pids")" 2>/dev/null ||
  { echo "etcd exited (port $etcd_client in use?); see $data/etcd.log" >&2; exit 1; }

for i in $(seq 1 "$nodes"); do
  port=$((http_base + i - 1))
  echo "starting n$i on http://127.0.0.1:$port (data in $data/n$i, log in $data/n$i.log)"
  "$bin/keel-node" --node-id="n$i" --http-port="$port" --data-dir="$data/n$i" \
    --cluster-port=$((cluster_base + i - 1)) \
    --etcd="127.0.0.1:$etcd_client" > "$data/n$i.out" 2> "$data/n$i.log" &
  echo $! >> "$pids"
done
for i in $(seq 1 "$nodes"); do
  for _ in $(seq 100); do grep -q listening "$data/n$i.out" 2>/dev/null && break; sleep 0.1; done
  grep -q listening "$data/n$i.out" || { echo "n$i did not start; see $data/n$i.log" >&2; exit 1; }
done
echo
"$bin/keelctl" --node="127.0.0.1:$http_base" members
echo
echo "HTTP:  http://127.0.0.1:$http_base ... :$((http_base + nodes - 1))"
echo "state: $bin/keelctl --node=127.0.0.1:$http_base status"
echo "stop:  apps/cluster/stop-cluster.sh $data   (or: make cluster-stop)"

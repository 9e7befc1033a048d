#!/usr/bin/env bash
# Stops what start-cluster.sh started: the nodes first (SIGTERM: they drain and leave the
# cluster), then etcd. Data stays in DATA_DIR.
# usage: stop-cluster.sh [DATA_DIR]
set -uo pipefail
data=${1:-./data}
pids="$data/cluster.pids"
[ -s "$pids" ] || { echo "no cluster pids in $pids"; exit 0; }
mapfile -t all < "$pids"
etcd_pid=${all[0]}
for pid in "${all[@]:1}"; do kill -TERM "$pid" 2>/dev/null; done
for pid in "${all[@]:1}"; do
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
done
kill -TERM "$etcd_pid" 2>/dev/null
: > "$pids"
echo "stopped (data kept in $data)"

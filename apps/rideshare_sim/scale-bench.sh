#!/usr/bin/env bash
# Scale-out (issue 20): the same rideshare-sim load against one keel-node and against
# clusters of N nodes with etcd, all on this host, the sim's connections spread over every
# node. For each size: rides/s, CPU milliseconds per ride summed over the keel-node
# processes and with etcd's added (from /proc), context switches per ride, calls that
# crossed nodes per ride (keel_cluster_calls_sent_total summed over the nodes), and the scaling
# efficiency: CPU per ride on one node / CPU per ride summed over the cluster (and etcd).
# Each size runs a warm-up round first and is measured on the second, as a warm cluster.
#   apps/rideshare_sim/scale-bench.sh [build/bin] [seconds] [connections] [sizes] [rate] [copies]
# sizes: e.g. "1 3 5" (default "1 3"); "3i" is the ceiling of 3: three independent single
# nodes, no etcd, each with its own sim at a third of the connections, the rate, the
# drivers and the riders, so no call crosses nodes and what remains is the cost of
# splitting one host's load over processes; rate: rides/s on a schedule (rideshare-sim --rate),
# 0 (default) for saturation; copies: the clusters' --replication-factor, 1 (default) to
# compare like with like with the single node, which keeps one copy, or 2 to see what the
# second copy costs. The sim's own CPU is not counted. SIM_ARGS adds options to every sim,
# e.g. SIM_ARGS=--follow-owner: rides' and drivers' later requests go to their owner's node.
set -euo pipefail
bin=${1:-build/bin}
seconds=${2:-10}
connections=${3:-64}
sizes=${4:-1 3}
rate=${5:-0}
copies=${6:-1}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
pids=()      # single nodes running
sim_pids=()  # sims running
cleanup() {
  for pid in "${sim_pids[@]}" "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  [ -s "$work/data/cluster.pids" ] && "$here/../cluster/stop-cluster.sh" "$work/data" >/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
tick=$(getconf CLK_TCK)

# CPU ticks (user + system) and context switches (every thread's) of the given processes.
usage_of() {
  local cpu=0 switches=0 pid
  for pid in "$@"; do
    read -r -a stat < "/proc/$pid/stat"
    cpu=$((cpu + stat[13] + stat[14]))
    switches=$((switches + $(cat /proc/"$pid"/task/*/status |
      awk '/ctxt_switches/ {n += $2} END {print n}')))
  done
  echo "$cpu $switches"
}

# Calls and tells the nodes forwarded to other nodes so far (0 on a single node).
crossings() {
  local total=0 node n
  for node in ${nodes//,/ }; do
    n=$(curl -s "http://$node/metrics" | awk '$1 == "keel_cluster_calls_sent_total" {print $2}')
    total=$((total + ${n:-0}))
  done
  echo "$total"
}

# Starts one node without etcd in data dir n<i>; appends it to node_pids and nodes.
start_single() {
  local i=$1
  "$bin/keel-node" --http-port=0 --data-dir="$work/data/n$i" --log-level=warn \
    > "$work/data/out$i" 2> "$work/data/err$i" &
  node_pids+=($!)
  pids+=($!)
  for _ in $(seq 100); do grep -q listening "$work/data/out$i" && break; sleep 0.1; done
  nodes+="${nodes:+,}127.0.0.1:$(sed -n 's/.*http=[^:]*:\([0-9]*\).*/\1/p' "$work/data/out$i")"
}

# Starts `size` nodes (without etcd when size is 1, or Ni: N independent single nodes);
# sets node_pids, etcd_pid, nodes.
start() {
  local size=$1 i
  node_pids=() etcd_pid="" nodes=""
  rm -rf "$work/data"
  mkdir -p "$work/data"
  if [ "$size" = 1 ] || [[ $size == *i ]]; then
    for i in $(seq 1 "${size%i}"); do start_single "$i"; done
    return
  fi
  # Below the kernel's ephemeral ports (32768 on here, ip_local_port_range), which every
  # outgoing connection takes one of: a port picked among them may be in use, and a
  # cluster's start failed now and then.
  local base=$((20000 + RANDOM % 12000))
  KEEL_REPLICATION_FACTOR=$copies KEEL_CLUSTER_NODES=$size KEEL_CLUSTER_ETCD_PORT=$base KEEL_CLUSTER_HTTP_BASE=$((base + 100)) \
    KEEL_CLUSTER_PORT_BASE=$((base + 200)) \
    "$here/../cluster/start-cluster.sh" "$bin" "$work/data" > "$work/data/start.log" 2>&1 ||
    { cat "$work/data/start.log" >&2; exit 1; }
  mapfile -t all < "$work/data/cluster.pids"
  etcd_pid=${all[0]}
  node_pids=("${all[@]:1}")
  local i
  for i in $(seq 1 "$size"); do nodes+="${nodes:+,}127.0.0.1:$((base + 100 + i - 1))"; done
}

stop() {
  if [ -n "$etcd_pid" ]; then
    "$here/../cluster/stop-cluster.sh" "$work/data" > /dev/null
  else
    kill "${node_pids[@]}" 2>/dev/null || true
    wait "${node_pids[@]}" 2>/dev/null || true
    pids=()
  fi
}

# Runs `k` sims at once (one: against every node of `targets`, comma-separated; more: sim i
# against the i-th), each with 1/k of the connections (split exactly), of the rate and of
# the drivers and riders, so k sims make one load between them; prints their reports
# summed into one. Each sim places its drivers within the measured round, as every size's
# does.
sims() {
  local k=$1 targets=$2 i
  sim_pids=()
  for i in $(seq 1 "$k"); do
    local target=$targets
    [ "$k" -gt 1 ] && target=$(cut -d, -f"$i" <<< "$targets")
    "$bin/rideshare-sim" --node="$target" --duration="${seconds}s" \
      --concurrency=$((connections / k + (i <= connections % k ? 1 : 0))) \
      --rate="$(python3 -c "print($rate / $k)")" --drivers=$((200 / k)) --riders=$((1000 / k)) \
      --seed="$i" ${SIM_ARGS:-} --json > "$work/sim$i.json" 2> "$work/sim$i.err" &
    sim_pids+=($!)
  done
  wait "${sim_pids[@]}" || true
  sim_pids=()
  python3 - "$work" "$k" <<'PY'
import json, sys
parts = []
for i in range(1, int(sys.argv[2]) + 1):
    try:
        parts.append(json.load(open(f"{sys.argv[1]}/sim{i}.json")))
    except ValueError:
        print(f"sim {i} failed")
        sys.exit(0)
print(json.dumps({"rides_finished": sum(p["rides_finished"] for p in parts),
                  "rides_per_second": sum(p["rides_per_second"] for p in parts),
                  "pass": all(p["pass"] for p in parts)}))
PY
}

# The load of a size: one sim spread over a cluster's nodes (as a load balancer would), or
# one per independent node.
load() {
  if [[ $1 == *i ]]; then sims "${1%i}" "$nodes"; else sims 1 "$nodes"; fi
}

printf '%-6s %10s %14s %14s %14s %14s %12s %12s %s\n' nodes rides/s "cpu ms/ride" \
  "+etcd ms/ride" "switches/ride" "crossings/ride" efficiency "+etcd" invariants
single_cpu=""
for size in $sizes; do
  echo "[$size node(s)] starting, warm-up round of ${seconds}s" >&2
  start "$size"
  load "$size" > /dev/null || true
  echo "[$size node(s)] measured round of ${seconds}s" >&2
  read -r cpu0 sw0 <<< "$(usage_of "${node_pids[@]}")"
  etcd0=0
  [ -n "$etcd_pid" ] && read -r etcd0 _ <<< "$(usage_of "$etcd_pid")"
  cross0=$(crossings)
  out=$(load "$size") || true
  cross1=$(crossings)
  read -r cpu1 sw1 <<< "$(usage_of "${node_pids[@]}")"
  etcd1=0
  [ -n "$etcd_pid" ] && read -r etcd1 _ <<< "$(usage_of "$etcd_pid")"
  stop
  python3 - "$out" "$size" "$tick" "$cpu0" "$cpu1" "$etcd0" "$etcd1" "$sw0" "$sw1" \
    "${single_cpu:-0}" "$work/single" "$cross0" "$cross1" <<'PY'
import json, sys
out, size, tick = sys.argv[1], sys.argv[2], float(sys.argv[3])
cpu0, cpu1, etcd0, etcd1, sw0, sw1 = (float(x) for x in sys.argv[4:10])
single = float(sys.argv[10])
cross0, cross1 = float(sys.argv[12]), float(sys.argv[13])
try:
    o = json.loads(out)
except ValueError:
    print(f"{size:<6} the sim failed: {out[:200]}")
    sys.exit(0)
rides = max(1, o["rides_finished"])
cpu_ms = (cpu1 - cpu0) / tick * 1000 / rides
all_ms = cpu_ms + (etcd1 - etcd0) / tick * 1000 / rides
if size == "1":
    open(sys.argv[11], "w").write(f"{cpu_ms}")
    single = cpu_ms
eff = single / cpu_ms if single else 0
eff_all = single / all_ms if single else 0
print(f"{size:<6} {o['rides_per_second']:10.0f} {cpu_ms:14.3f} {all_ms:14.3f} "
      f"{(sw1 - sw0) / rides:14.1f} {(cross1 - cross0) / rides:14.1f} {eff:12.2f} {eff_all:12.2f} "
      f"{'PASS' if o['pass'] else 'FAIL'}")
PY
  [ -s "$work/single" ] && single_cpu=$(cat "$work/single")
done

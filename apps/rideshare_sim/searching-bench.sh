#!/usr/bin/env bash
# What rides that find no driver cost (issue 17 item 4): one keel-node, N rides requested in
# an area with no driver, then for a window the node's turns/s and the latency of unrelated
# counter increments, next to the same latency measured before the rides in the same run.
#   apps/rideshare_sim/searching-bench.sh [build/bin] [rides] [window seconds]
set -euo pipefail
bin=${1:-build/bin}
rides=${2:-6000}
window=${3:-10}
. "$(dirname "$0")/bench-node.sh"

echo "[1/2] starting keel-node" >&2
start_node "$bin"

echo "[2/2] $rides searching rides, then a ${window}s window" >&2
python3 - "$port" "$rides" "$window" <<'PY'
import http.client, json, statistics, sys, threading, time
port, rides, window = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])

def conn():
    return http.client.HTTPConnection("127.0.0.1", port, timeout=30)

def call(c, method, path, body=None):
    c.request(method, path, body=body, headers={"Content-Type": "application/json"})
    r = c.getresponse()
    return r.status, r.read()

def metric(name):
    _, text = call(conn(), "GET", "/metrics")
    for line in text.decode().splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return 0.0

def counter_latencies(n):
    c, out = conn(), []
    for i in range(n):
        t = time.perf_counter()
        status, _ = call(c, "POST", f"/v1/actors/counter/probe{i % 16}/Increment", '{"by":1}')
        out.append((time.perf_counter() - t) * 1000)
        assert status == 200, status
        time.sleep(0.02)
    out.sort()
    return out[len(out) // 2], out[int(len(out) * 0.99) - 1]

base_p50, base_p99 = counter_latencies(100)
body = json.dumps({"riderId": "{}", "pickup": {"lat": -40.0, "lng": -120.0},
                   "dropoff": {"lat": -40.01, "lng": -120.01}})
def request(first):
    c = conn()
    for i in range(first, rides, 8):
        status, _ = call(c, "POST", "/v1/rides", body.replace("{}", f"u{i}", 1))
        assert status == 201, status
        if i % 1000 == 0:
            print(f"  requested {i} rides", file=sys.stderr)
threads = [threading.Thread(target=request, args=(t,)) for t in range(8)]
[t.start() for t in threads]; [t.join() for t in threads]
turns0, t0 = metric("keel_turns_total"), time.time()
p50, p99 = counter_latencies(int(window / 0.025))
turns1, t1 = metric("keel_turns_total"), time.time()
rate = (turns1 - turns0) / (t1 - t0)
print(f"searching rides                  {rides:10d}")
print(f"turns/s while they search        {rate:10.0f}")
print(f"turns per searching ride per s   {rate / rides:10.2f}")
print(f"counter p50 ms before / during   {base_p50:7.2f} / {p50:7.2f}")
print(f"counter p99 ms before / during   {base_p99:7.2f} / {p99:7.2f}  (x{p99 / base_p99:.1f})")
PY

#!/usr/bin/env bash
# Concurrent transfers through bank-node's HTTP API (wrk, transfers.lua), then, at rest, a kill -9
# and a restart: the money adds up before and after, to the cent. Prints transfers/s and
# latency; exits 1 on any difference or any answer but 200/202.
#   examples/bank/bench/transfer_bench.sh BANK_NODE [SECONDS] [CONNECTIONS]
set -euo pipefail
node_bin=${1:?path to bank-node}
seconds=${2:-3}
connections=${3:-8}
accounts=8
deposit=10000
work=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill -9 "$pid" 2> /dev/null; rm -rf "$work"' EXIT

start_node() {
  # Gone first: the shell empties it only once the child runs, and the loop below could
  # otherwise read the last node's port.
  rm -f "$work/out"
  "$node_bin" --http-port=0 --data-dir="$work/data" --log-level=warn \
    > "$work/out" 2> "$work/err" &
  pid=$!
  for _ in $(seq 1 100); do
    port=$(sed -n 's/.*listening http=[^:]*:\([0-9]*\).*/\1/p' "$work/out")
    [ -n "$port" ] && return 0
    kill -0 "$pid" 2> /dev/null || break
    sleep 0.1
  done
  echo "bank-node did not start:" >&2
  cat "$work/err" >&2
  exit 1
}

call() {  # METHOD PATH [BODY]
  curl -sS -X "$1" "http://127.0.0.1:$port$2" -H 'Content-Type: application/json' \
    ${3:+-d "$3"}
}

# The sum of every balance; fails while any transfer is still pending.
total() {
  local sum=0 body balance pending
  for a in $(seq 1 $accounts); do
    body=$(call GET "/v1/bank/accounts/a$a")
    balance=$(sed -n 's/.*"balanceCents":"\([0-9]*\)".*/\1/p' <<< "$body")
    pending=$(sed -n 's/.*"pendingOutCents":"\([0-9]*\)".*/\1/p' <<< "$body")
    [ -z "$pending" ] || [ "$pending" = 0 ] || return 1
    sum=$((sum + ${balance:-0}))
  done
  echo "$sum"
}

# The accounts are read one after another, not at one instant: a transfer that ends between
# two reads makes one sum wrong. At rest two sums in a row agree; only such a sum is judged.
check_total() {  # WHEN
  local sum again
  for _ in $(seq 1 50); do
    if sum=$(total) && again=$(total) && [ "$sum" = "$again" ]; then
      [ "$sum" = $((accounts * deposit)) ] && { echo "$1: $sum cents, as deposited"; return; }
      echo "$1: $sum cents, but $((accounts * deposit)) were deposited" >&2
      exit 1
    fi
    sleep 0.2
  done
  echo "$1: transfers still pending after 10 s" >&2
  exit 1
}

start_node
for a in $(seq 1 $accounts); do
  call POST "/v1/bank/accounts/a$a" > /dev/null
  call POST "/v1/bank/accounts/a$a/deposits" "{\"amountCents\": $deposit}" > /dev/null
done
echo "$accounts accounts of $deposit cents; transfers from $connections connections for $seconds s"
wrk -t2 -c"$connections" -d"${seconds}s" -s "$(dirname "$0")/transfers.lua" \
  "http://127.0.0.1:$port" > "$work/wrk"
grep -E "Requests/sec|status|p50" "$work/wrk"
if grep "^status" "$work/wrk" | grep -qv "^status 20[02]:"; then
  echo "a transfer answered neither 200 nor 202" >&2
  exit 1
fi
check_total "after the transfers"
kill -9 "$pid"
wait "$pid" 2> /dev/null || true
start_node
check_total "after kill -9 and a restart"

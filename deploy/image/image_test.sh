#!/usr/bin/env bash
# Tests the images `make image` built, as far as this machine lets them run (`make
# image-test`; root, buildah, curl, unshare):
#
# 1. the keel-node image's configuration: user, entrypoint, KEEL_* defaults, volume,
#    ports, stop signal, healthcheck;
# 2. its root filesystem, mounted with `buildah mount` and entered with chroot as the
#    image's user (10001), with keel-node as PID 1 of a PID namespace of its own (unshare)
#    and the image's environment: every library loads, --help, a single node answers
#    /healthz, /readyz and a counter, keel-healthcheck agrees, SIGTERM ends it with exit 0,
#    and a restart on the same volume keeps the counter;
# 3. a cluster from the two images' root filesystems: etcd from keel-etcd (as its user,
#    10002) and three keel-nodes, joined; a SIGTERM to one is its graceful leave: its
#    partitions move to the others, it exits 0, every counter keeps its value, and it
#    comes back on its data and takes its partitions back;
# 4. `podman run` of the image, where the sandbox allows it (here: with runc, explicit
#    rlimits); where it does not, the refusal is printed and 4 and 5 are skipped;
# 5. a cluster of podman containers as Kubernetes runs pods: each keel-node PID 1 in a
#    network namespace of its own, on a volume of its own, peers by host name; `podman
#    stop` of one is its graceful leave, and it comes back on its volume.
#
#   deploy/image/image_test.sh [KEEL_IMAGE [ETCD_IMAGE]]
#
# KEEL_IMAGE_TEST_KEEP=1 keeps the nodes' logs (printed where);
# KEEL_IMAGE_TEST_CLUSTER_AS_PID1=1 runs 3's nodes as PID 1 too, where they collide.
set -euo pipefail
image=${1:-localhost/keel-node:latest}
etcd_image=${2:-localhost/keel-etcd:latest}
work=$(mktemp -d /tmp/keel-image-test.XXXXXX)
containers=()
passed=0
failed=0

cleanup() {
  # Only this script's own jobs, still unreaped (their PIDs cannot have been reused):
  # unshare --kill-child takes its PID 1 along.
  local j
  for j in $(jobs -p); do kill -KILL "$j" 2>/dev/null || true; done
  wait 2>/dev/null || true
  for c in "${containers[@]}"; do
    buildah umount "$c" >/dev/null 2>&1 || true
    buildah rm "$c" >/dev/null 2>&1 || true
  done
  if [ -n "${KEEL_IMAGE_TEST_KEEP:-}" ]; then echo "logs kept in $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

ok() { echo "ok: $*"; passed=$((passed + 1)); }
fail() { echo "FAILED: $*"; failed=$((failed + 1)); }
check() {  # check DESCRIPTION COMMAND...
  local what=$1; shift
  if "$@"; then ok "$what"; else fail "$what"; fi
}
# A TCP port nothing listens on (nor was handed out before by this script), outside the
# range the kernel hands out for port 0 and outgoing connections.
used_ports=" "
free_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 12000))  # below the ephemeral range (32768-)
    [[ $used_ports == *" $p "* ]] && continue
    ss -Htln "sport = :$p" | grep -q . && continue
    used_ports+="$p "
    echo "$p"
    return
  done
}
now_ms() { echo $(($(date +%s%N) / 1000000)); }
secs_since() { local ms=$(($(now_ms) - $1)); printf '%d.%02d' $((ms / 1000)) $((ms % 1000 / 10)); }
# Reads counters PREFIX1..PREFIX40 through PORT, counter k must hold k: prints each that
# does not and sets `lost` to how many.
read_counters() {  # read_counters PORT PREFIX
  lost=0
  local k got
  for k in $(seq 40); do
    got=$(curl -s -XPOST "127.0.0.1:$1/v1/actors/counter/$2$k/Get" -d '{}')
    grep -q "\"value\":\"$k\"" <<<"$got" || { lost=$((lost + 1)); echo "counter $2$k: $got"; }
  done
}
inspect() { buildah inspect --type image --format "$2" "$1"; }

# A working container of IMAGE, mounted: sets MOUNTED to its root directory.
mount_image() {
  local c
  c=$(buildah from --quiet "$1")
  containers+=("$c")
  MOUNTED=$(buildah mount "$c")
}

# The image's Env as `env` arguments.
image_env() { buildah inspect --type image --format '{{range .OCIv1.Config.Env}}{{println .}}{{end}}' "$1"; }

# start IMAGE ROOT USER LOG VAR=VALUE... -- COMMAND...: COMMAND in ROOT (a mounted
# container of IMAGE) as USER, PID 1 of a new PID namespace with its own /proc (or, with
# START_AS_PID1=0, in this one), with IMAGE's environment plus VAR=VALUE, stdout to LOG
# and stderr to LOG.err. Sets
# STARTED (COMMAND's host PID) and STARTED_JOB (the unshare job: `wait` on it gives
# COMMAND's exit status).
start() {
  local img=$1 root=$2 user=$3 log=$4; shift 4
  local vars=()
  while [ "$1" != -- ]; do vars+=("$1"); shift; done
  shift
  local envs
  mapfile -t envs < <(image_env "$img")
  if [ "${START_AS_PID1:-1}" = 0 ]; then
    chroot --userspec="$user" "$root" /usr/bin/env -i "${envs[@]}" "${vars[@]}" "$@" \
      >"$log" 2>"$log.err" &
    STARTED_JOB=$!
    STARTED=$STARTED_JOB
    return
  fi
  unshare --pid --fork --kill-child --mount --mount-proc="$root/proc" \
    chroot --userspec="$user" "$root" /usr/bin/env -i "${envs[@]}" "${vars[@]}" "$@" \
    >"$log" 2>"$log.err" &
  STARTED_JOB=$!
  # unshare's forked child is the namespace's PID 1; chroot and env exec into COMMAND, so
  # that PID is COMMAND's.
  STARTED=""
  for _ in $(seq 200); do
    STARTED=$(awk '{print $1}' "/proc/$STARTED_JOB/task/$STARTED_JOB/children" 2>/dev/null || true)
    [ -n "$STARTED" ] && break
    sleep 0.05
  done
}

# wait_line FILE PATTERN SECONDS: the first line of FILE matching PATTERN.
wait_line() {
  local i
  for i in $(seq $(($3 * 10))); do
    if grep -m1 -E "$2" "$1" 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  return 1
}
# stop_job JOB PID SECONDS: SIGTERM to PID, then JOB's exit status (PID's), or 124 when it
# is still running after SECONDS (it is killed then).
stop_job() {
  local job=$1 pid=$2 i
  kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq $(($3 * 10))); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    kill -KILL "$pid" 2>/dev/null || true
    wait "$job" 2>/dev/null || true
    return 124
  fi
  local rc=0
  wait "$job" || rc=$?
  return "$rc"
}

echo "== 1. the image's configuration ($image)"
check "runs as user 10001:10001" [ "$(inspect "$image" '{{.OCIv1.Config.User}}')" = 10001:10001 ]
check "entrypoint is keel-node itself, exec form" \
  [ "$(inspect "$image" '{{range .OCIv1.Config.Entrypoint}}[{{.}}]{{end}}')" = '[/usr/local/bin/keel-node]' ]
check "stop signal SIGTERM" [ "$(inspect "$image" '{{.OCIv1.Config.StopSignal}}')" = SIGTERM ]
check "volume /var/lib/keel" \
  [ "$(inspect "$image" '{{range $k, $v := .OCIv1.Config.Volumes}}{{$k}} {{end}}')" = "/var/lib/keel " ]
check "exposes 7001 and 8080" \
  [ "$(inspect "$image" '{{range $k, $v := .OCIv1.Config.ExposedPorts}}{{$k}} {{end}}')" = "7001/tcp 8080/tcp " ]
envs=$(image_env "$image")
for v in KEEL_LISTEN_HOST=0.0.0.0 KEEL_HTTP_PORT=8080 KEEL_CLUSTER_PORT=7001 \
         KEEL_DATA_DIR=/var/lib/keel/data; do
  check "env $v" grep -qx "$v" <<<"$envs"
done
check "HEALTHCHECK runs keel-healthcheck" \
  [ "$(inspect "$image" '{{range .Docker.Config.Healthcheck.Test}}[{{.}}]{{end}}')" = '[CMD][/usr/local/bin/keel-healthcheck]' ]
echo "image size: $(buildah images --format '{{.Size}}' "$image")"


echo "== 2. one node in the image's root filesystem, as PID 1"
mount_image "$image"
root=$MOUNTED
for bin in keel-node keelctl; do
  check "$bin: every shared library is in the image" \
    bash -c "! chroot '$root' ldd /usr/local/bin/$bin | grep 'not found'"
done
check "keel-node --help as user 10001 lists the KEEL_* variables" \
  bash -c "chroot --userspec=10001:10001 '$root' /usr/local/bin/keel-node --help | grep -q KEEL_LISTEN_HOST"
check "/var/lib/keel belongs to keel (10001)" [ "$(stat -c %u:%g "$root/var/lib/keel")" = 10001:10001 ]

port=$(free_port)
start "$image" "$root" 10001:10001 "$work/n.out" KEEL_HTTP_PORT="$port" -- /usr/local/bin/keel-node
job=$STARTED_JOB pid=$STARTED
if line=$(wait_line "$work/n.out" listening 30); then
  ok "the node serves: $line"
else
  fail "the node did not start: $(cat "$work/n.out.err")"
fi
check "keel-node is PID 1 of its PID namespace" grep -qE "^NSpid:\s+$pid\s+1$" "/proc/$pid/status"
check "it runs as uid 10001" grep -qE '^Uid:\s+10001\s' "/proc/$pid/status"
check "it binds 0.0.0.0 (KEEL_LISTEN_HOST)" bash -c "ss -Hltnp 'sport = :$port' | grep -q '0.0.0.0:$port .*pid=$pid,'"
check "GET /healthz is 200" [ "$(curl -s -o /dev/null -w '%{http_code}' "127.0.0.1:$port/healthz")" = 200 ]
check "GET /readyz is 200" [ "$(curl -s -o /dev/null -w '%{http_code}' "127.0.0.1:$port/readyz")" = 200 ]
curl -s -XPOST "127.0.0.1:$port/v1/actors/counter/c1/Increment" -d '{"by":5}' >/dev/null
check "the data is in /var/lib/keel/data, owned by 10001" \
  [ "$(stat -c %u "$root/var/lib/keel/data/CURRENT" 2>/dev/null)" = 10001 ]
check "keel-healthcheck inside the image says healthy" \
  chroot --userspec=10001:10001 "$root" /usr/bin/env KEEL_HEALTHCHECK_PORT="$port" /usr/local/bin/keel-healthcheck
t0=$(now_ms)
stop_job "$job" "$pid" 20 && rc=0 || rc=$?
check "SIGTERM to keel-node as PID 1: exit 0 (status $rc, after $(secs_since "$t0") s)" [ "$rc" = 0 ]
check "keel-healthcheck says unhealthy when no node answers" \
  bash -c "! chroot --userspec=10001:10001 '$root' /usr/bin/env KEEL_HEALTHCHECK_PORT='$port' /usr/local/bin/keel-healthcheck"
start "$image" "$root" 10001:10001 "$work/n2.out" KEEL_HTTP_PORT="$port" -- /usr/local/bin/keel-node
job=$STARTED_JOB pid=$STARTED
wait_line "$work/n2.out" listening 30 >/dev/null || fail "the node did not start again: $(cat "$work/n2.out.err")"
check "restarted on the same volume, the counter kept its value" \
  grep -q '"value":"6"' <<<"$(curl -s -XPOST "127.0.0.1:$port/v1/actors/counter/c1/Increment" -d '{"by":1}')"
stop_job "$job" "$pid" 20 || true
check "a bad KEEL_* value names the variable, exit 2" bash -c "
  chroot --userspec=10001:10001 '$root' /usr/bin/env KEEL_HTTP_PORT=abc /usr/local/bin/keel-node \
    2>&1 >/dev/null | grep -q 'environment variable KEEL_HTTP_PORT'; [ \${PIPESTATUS[0]} = 2 ]"

echo "== 3. a cluster from the images: etcd (keel-etcd) and three keel-nodes"
mount_image "$etcd_image"
etcd_root=$MOUNTED
check "keel-etcd: etcd runs as user 10002" \
  bash -c "chroot --userspec=10002:10002 '$etcd_root' /usr/bin/etcd --version | grep -q 'etcd Version'"
ec=$(free_port)
ep=$(free_port)
start "$etcd_image" "$etcd_root" 10002:10002 "$work/etcd.out" -- /usr/bin/etcd \
  --data-dir=/var/lib/etcd/data \
  --listen-client-urls="http://127.0.0.1:$ec" --advertise-client-urls="http://127.0.0.1:$ec" \
  --listen-peer-urls="http://127.0.0.1:$ep" --initial-advertise-peer-urls="http://127.0.0.1:$ep" \
  --initial-cluster="default=http://127.0.0.1:$ep"
etcd_job=$STARTED_JOB etcd_pid=$STARTED
for _ in $(seq 100); do curl -sf "127.0.0.1:$ec/health" >/dev/null && break; sleep 0.1; done
check "etcd from keel-etcd answers /health" curl -sf "127.0.0.1:$ec/health" -o /dev/null
# Not as PID 1 here: the three nodes share this machine's network namespace, and CAF
# derives its node id from the process id and the machine's MAC addresses, so three
# PID-1 nodes on one network namespace would share one id (docs/operations.md). In
# containers of their own network namespace (Kubernetes pods, podman's default network)
# the addresses differ. KEEL_IMAGE_TEST_CLUSTER_AS_PID1=1 shows what goes wrong.
START_AS_PID1=${KEEL_IMAGE_TEST_CLUSTER_AS_PID1:-0}
jobs_=()
nodes=()
ports=()
roots=()
# start_node I: node n(I+1) on its own container (its own volume), joined to etcd.
start_node() {
  local i=$1 n=$(($1 + 1))
  start "$image" "${roots[$i]}" 10001:10001 "$work/c$n.out" KEEL_NODE_ID="n$n" \
    KEEL_HTTP_PORT="${ports[$i]}" KEEL_CLUSTER_PORT="$(free_port)" KEEL_ADVERTISE_HOST=127.0.0.1 \
    KEEL_ETCD="127.0.0.1:$ec" KEEL_CLUSTER_NAME=imagetest -- /usr/local/bin/keel-node
  jobs_[$i]=$STARTED_JOB
  nodes[$i]=$STARTED
  wait_line "$work/c$n.out" listening 60 >/dev/null || fail "n$n did not join: $(tail -3 "$work/c$n.out.err")"
}
for i in 0 1 2; do
  mount_image "$image"
  roots[$i]=$MOUNTED
  ports[$i]=$(free_port)
  start_node "$i"
done
keelctl() { chroot --userspec=10001:10001 "$root" /usr/local/bin/keelctl --node="127.0.0.1:${ports[0]}" "$@" 2>&1 || true; }
members=$(keelctl members)
echo "$members"
check "keelctl (from the image) lists n1, n2 and n3 up" [ "$(grep -cE '^n[123] +up' <<<"$members")" = 3 ]
failed_writes=0
for k in $(seq 40); do
  got=$(curl -s -XPOST "127.0.0.1:${ports[0]}/v1/actors/counter/k$k/Increment" -d "{\"by\":$k}")
  grep -q "\"value\":\"$k\"" <<<"$got" || { failed_writes=$((failed_writes + 1)); echo "counter k$k: $got"; }
done
check "40 counters written through n1" [ "$failed_writes" = 0 ]
before=$(keelctl partitions)
echo "$before"
n3_parts=$(awk '$1 == "n3" {print $2}' <<<"$before")
t0=$(now_ms)
stop_job "${jobs_[2]}" "${nodes[2]}" 90 && rc=0 || rc=$?
check "SIGTERM to n3: graceful leave, exit 0 (status $rc, after $(secs_since "$t0") s; it held ${n3_parts:-?} partitions)" \
  [ "$rc" = 0 ]
after=$(keelctl partitions)
echo "$after"
n3_after=$(awk '$1 == "n3" {print $2}' <<<"$after")
check "n3 holds no partition after its leave" [ "${n3_after:-0}" = 0 ]
check "n3's log says it moved every partition away" grep -q 'every partition moved away' "$work/c3.out.err"
members=$(keelctl members)
check "n3 is no longer a member" bash -c '! grep -qE "^n3 " <<<"$1"' _ "$members"
read_counters "${ports[1]}" k
check "every counter kept its value through n3's leave (40 counters)" [ "$lost" = 0 ]
# A scale-down then up, or a rolling update: n3 again, on the volume it left with.
: >"$work/c3.out"
t0=$(now_ms)
start_node 2
for _ in $(seq 100); do
  n3_back=$(awk '$1 == "n3" {print $2}' <<<"$(keelctl partitions)")
  [ "${n3_back:-0}" -gt 0 ] && grep -q 'idle' <<<"$(keelctl status)" && break
  sleep 0.2
done
echo "$(keelctl partitions)"
check "n3 restarted on its old volume rejoins and takes ${n3_back:-0} partitions back ($(secs_since "$t0") s)" \
  [ "${n3_back:-0}" -gt 0 ]
read_counters "${ports[2]}" k
check "every counter has its value, read through n3 after its return" [ "$lost" = 0 ]
for i in 2 1 0; do
  stop_job "${jobs_[$i]}" "${nodes[$i]}" 90 && rc=0 || rc=$?
  check "n$((i + 1)) stops on SIGTERM with exit 0 (status $rc)" [ "$rc" = 0 ]
done
stop_job "$etcd_job" "$etcd_pid" 20 || true
START_AS_PID1=1

echo "== 4. podman run"
podman_ok=0
podman_args=()
if ! command -v podman >/dev/null; then
  echo "skipped: podman is not installed"
else
  command -v runc >/dev/null && podman_args+=(--runtime runc)
  # Explicit rlimits: podman's defaults raise RLIMIT_NPROC and RLIMIT_NOFILE, which the
  # sandbox here refuses (crun: setrlimit ... Operation not permitted).
  podman_args+=(--ulimit nofile=4096:4096 --ulimit nproc=1024:1024)
  p=$(free_port)
  name=keel-image-test-$$
  if out=$(timeout 60 podman run -d --name "$name" "${podman_args[@]}" --network host \
      -e KEEL_HTTP_PORT="$p" "$image" 2>&1); then
    podman_ok=1
    for _ in $(seq 100); do curl -sf "127.0.0.1:$p/healthz" >/dev/null && break; sleep 0.1; done
    check "podman run: /healthz is 200" curl -sf "127.0.0.1:$p/healthz" -o /dev/null
    check "podman healthcheck run: healthy" timeout 30 podman healthcheck run "$name"
    t0=$(now_ms)
    timeout 60 podman stop -t 30 "$name" >/dev/null 2>&1 || true
    code=$(podman inspect --format '{{.State.ExitCode}}' "$name" 2>/dev/null || echo "?")
    check "podman stop (SIGTERM): exit 0 (status $code, after $(secs_since "$t0") s)" [ "$code" = 0 ]
  else
    echo "skipped: podman run was refused here: $out"
  fi
  podman rm -f -v "$name" >/dev/null 2>&1 || true
fi

echo "== 5. a cluster of containers, each keel-node PID 1 in a network namespace of its own"
if [ "$podman_ok" = 0 ]; then
  echo "skipped: podman run does not work here"
else
  # As in a Kubernetes pod: its own network namespace and addresses, PID 1, a volume of
  # its own, peers named by host name (here /etc/hosts entries on a network of fixed
  # addresses, there the headless Service's DNS names), configuration by KEEL_*, and
  # keel.yaml's security context.
  net=keel-image-test-$$
  subnet=10.89.$((RANDOM % 200 + 20))
  pods=()
  cleanup_pods() {
    for c in "${pods[@]}"; do podman rm -f -v -t 0 "$c" >/dev/null 2>&1 || true; done
    for c in "${pods[@]}"; do podman volume rm -f "$c" >/dev/null 2>&1 || true; done
    podman network rm -f "$net" >/dev/null 2>&1 || true
  }
  trap 'cleanup_pods; cleanup' EXIT
  podman network create --subnet "$subnet.0/24" "$net" >/dev/null
  hosts=(--add-host "etcd-$$:$subnet.10")
  for n in 1 2 3; do hosts+=(--add-host "n$n-$$:$subnet.1$n"); done
  pods+=("etcd-$$")
  podman run -d --name "etcd-$$" "${podman_args[@]}" --network "$net" --ip "$subnet.10" \
    -v "etcd-$$:/var/lib/etcd" "$etcd_image" --name=etcd --data-dir=/var/lib/etcd/data \
    --listen-client-urls=http://0.0.0.0:2379 --advertise-client-urls="http://etcd-$$:2379" \
    --listen-peer-urls=http://0.0.0.0:2380 --initial-advertise-peer-urls="http://$subnet.10:2380" \
    --initial-cluster="etcd=http://$subnet.10:2380" >/dev/null
  pport=()
  run_pod() {  # run_pod N: keel-node nN in its container, its volume kept across runs
    local n=$1
    podman rm -f -v "n$n-$$" >/dev/null 2>&1 || true
    # As keel.yaml's securityContext: read-only root, no capability, no privilege gain.
    podman run -d --name "n$n-$$" "${podman_args[@]}" --network "$net" --ip "$subnet.1$n" \
      --read-only --cap-drop=ALL --security-opt=no-new-privileges \
      "${hosts[@]}" -p "127.0.0.1:${pport[$n]}:8080" -v "n$n-$$:/var/lib/keel" \
      -e KEEL_NODE_ID="n$n" -e KEEL_ADVERTISE_HOST="n$n-$$" -e KEEL_ETCD="etcd-$$:2379" \
      -e KEEL_CLUSTER_NAME=podtest "$image" >/dev/null
    for _ in $(seq 300); do
      podman logs "n$n-$$" 2>/dev/null | grep -q listening && return 0
      sleep 0.1
    done
    echo "n$n did not start: $(podman logs "n$n-$$" 2>&1 | tail -3)"
    return 1
  }
  for n in 1 2 3; do
    pport[$n]=$(free_port)
    pods+=("n$n-$$")
    run_pod "$n" || fail "container n$n joins"
  done
  pod_ctl() { timeout 30 podman exec "n1-$$" keelctl "$@" 2>&1 || true; }
  members=$(pod_ctl members)
  echo "$members"
  check "three containers joined, each advertising its host name" \
    [ "$(grep -cE "^n[123] +up +n[123]-$$:8080 +n[123]-$$:7001" <<<"$members")" = 3 ]
  check "keel-node is PID 1 in its container" \
    [ "$(podman exec "n2-$$" bash -c 'readlink /proc/1/exe')" = /usr/local/bin/keel-node ]
  failed_writes=0
  for k in $(seq 40); do
    got=$(curl -s -XPOST "127.0.0.1:${pport[1]}/v1/actors/counter/p$k/Increment" -d "{\"by\":$k}")
    grep -q "\"value\":\"$k\"" <<<"$got" || failed_writes=$((failed_writes + 1))
  done
  check "40 counters written through n1's published port" [ "$failed_writes" = 0 ]
  before=$(pod_ctl partitions)
  echo "$before"
  held=$(awk '$1 == "n3" {print $2}' <<<"$before")
  t0=$(now_ms)
  timeout 150 podman stop -t 120 "n3-$$" >/dev/null 2>&1 || true
  code=$(podman inspect --format '{{.State.ExitCode}}' "n3-$$" 2>/dev/null || echo "?")
  took=$(secs_since "$t0")
  check "podman stop n3 (SIGTERM to PID 1): exit 0 after $took s, having held ${held:-?} partitions" \
    [ "$code" = 0 ]
  check "n3's log says it moved every partition away" \
    bash -c "podman logs 'n3-$$' 2>&1 | grep -q 'every partition moved away'"
  after=$(pod_ctl partitions)
  echo "$after"
  n3_after=$(awk '$1 == "n3" {print $2}' <<<"$after")
  check "n3 holds no partition after its leave" [ "${n3_after:-0}" = 0 ]
  read_counters "${pport[2]}" p
  check "every counter kept its value through n3's leave (read through n2)" [ "$lost" = 0 ]
  t0=$(now_ms)
  run_pod 3 || fail "n3 starts again on its volume"
  for _ in $(seq 100); do
    back=$(awk '$1 == "n3" {print $2}' <<<"$(pod_ctl partitions)")
    [ "${back:-0}" -gt 0 ] && grep -q idle <<<"$(pod_ctl status)" && break
    sleep 0.2
  done
  check "n3 back on its volume takes ${back:-0} partitions back ($(secs_since "$t0") s)" [ "${back:-0}" -gt 0 ]
  read_counters "${pport[3]}" p
  check "every counter has its value, read through n3 after its return" [ "$lost" = 0 ]
  for n in 3 2 1; do
    timeout 150 podman stop -t 120 "n$n-$$" >/dev/null 2>&1 || true
    code=$(podman inspect --format '{{.State.ExitCode}}' "n$n-$$" 2>/dev/null || echo "?")
    check "podman stop n$n: exit 0 (status $code)" [ "$code" = 0 ]
  done
  cleanup_pods
fi

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]

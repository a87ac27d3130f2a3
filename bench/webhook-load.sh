#!/usr/bin/env bash
# Webhook load test: zen-watcher against a bare Vert.x route, both driven by wrk on 127.0.0.1.
#
# Needs (build them first, this script builds nothing):
#   watcher/target/zen-watcher.jar and bench/target/benchmarks.jar
#   ->  ./mvnw -B -q -DskipTests package        (from the repository root)
# Installs wrk (Debian package) when it is missing.
#
# What it does, bounded in time (about 2.5 minutes with the defaults), stopping everything it started:
#   1. starts zen-watcher (standalone, SQLite in a temp dir, a free port, LOG_LEVEL=warn) and measures
#      the time from process start to GET /ready answering 200;
#   2. warms it up, then drives POST /ingest/falco with wrk: (i) the same alert repeated (aggregation
#      path), (ii) a new alert every request (a distinct container id: a new Observation, store path);
#      samples the process's RSS (VmRSS, VmHWM) all along;
#   3. stops it, starts io.kubezen.bench.BareServer (a bare Vert.x route answering 200 {}), warms it
#      up and drives it with the same wrk command;
#   4. prints both rates, their ratio, the non-2xx counts, RSS and start-to-ready.
#
# Settings (environment): DURATION (20s), WARMUP (15s: the JIT needs that long on 2 cores), THREADS (2), CONNECTIONS (32),
# JVM_OPTS (see below), KEEP_TMP=1 keeps the temp dir (logs, database, wrk outputs).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WATCHER_JAR="$ROOT/watcher/target/zen-watcher.jar"
BENCH_JAR="$ROOT/bench/target/benchmarks.jar"
DURATION=${DURATION:-20s}
WARMUP=${WARMUP:-15s}
THREADS=${THREADS:-2}
CONNECTIONS=${CONNECTIONS:-32}
# What a JVM sees in a 512 MiB container, with the usual container flag: MaxRAM=512m sizes it as a
# 512 MiB cgroup limit would, MaxRAMPercentage=75 gives the heap at most 384 MiB, and Serial is the
# collector the JVM picks by itself under a limit below 1792 MiB (MaxRAM alone does not make it
# pick it here, as the machine has more memory).
JVM_OPTS=${JVM_OPTS:-"-XX:MaxRAM=512m -XX:MaxRAMPercentage=75 -XX:+UseSerialGC -XX:+ExitOnOutOfMemoryError"}

for jar in "$WATCHER_JAR" "$BENCH_JAR"; do
  if [[ ! -f "$jar" ]]; then
    echo "missing $jar: build first with ./mvnw -B -q -DskipTests package (from $ROOT)" >&2
    exit 2
  fi
done
for tool in java curl; do
  command -v "$tool" >/dev/null || { echo "needs $tool on PATH" >&2; exit 2; }
done
if ! command -v wrk >/dev/null; then
  echo "installing wrk (Debian package)..."
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO=sudo
  $SUDO apt-get install -y -q wrk >/dev/null 2>&1 || { $SUDO apt-get update -q >/dev/null && $SUDO apt-get install -y -q wrk >/dev/null; }
fi

TMP=$(mktemp -d -t zen-load.XXXXXX)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do
    if kill -0 "$pid" 2>/dev/null; then
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -9 "$pid" 2>/dev/null || true
    fi
  done
  if [[ "${KEEP_TMP:-0}" == 1 ]]; then echo "kept $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  local p
  for _ in $(seq 100); do
    p=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return; fi
  done
  echo "no free port found" >&2; exit 1
}

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

# Waits (at most 30 s) for GET /ready to answer 200; prints the milliseconds since $2.
wait_ready() {
  local url=$1 t0=$2 pid=$3
  for _ in $(seq 3000); do
    if [[ $(curl -s -o /dev/null -w '%{http_code}' "$url" 2>/dev/null) == 200 ]]; then
      echo $(( $(now_ms) - t0 )); return 0
    fi
    kill -0 "$pid" 2>/dev/null || { echo "process $pid died before ready" >&2; return 1; }
    sleep 0.01
  done
  echo "not ready after 30 s" >&2; return 1
}

kib() { awk -v k="$1" '/^'"$1"':/ {print $2}' "/proc/$2/status" 2>/dev/null || echo 0; }

# Samples VmRSS of $1 every 200 ms into $2 until the file $3 exists.
sample_rss() {
  local pid=$1 out=$2 stop=$3
  while [[ ! -e "$stop" ]] && kill -0 "$pid" 2>/dev/null; do
    awk '/^VmRSS:/ {print $2}' "/proc/$pid/status" >>"$out" 2>/dev/null || true
    sleep 0.2
  done
}

max_of() { sort -n "$1" | tail -1; }

ALERT_TIME=$(date -u +%Y-%m-%dT%H:%M:%S.000000000Z)
cat >"$TMP/repeated.lua" <<LUA
-- The same Falco alert on every request: after the first, every one is a repeat (aggregation path).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = [[{"hostname":"ip-10-0-12-34.eu-west-1.compute.internal","output":"09:41:02.123456789: Notice A shell was spawned in a container with an attached terminal (evt_type=execve user=root user_uid=0 user_loginuid=-1 process=bash proc_exepath=/usr/bin/bash parent=runc command=bash terminal=34816 exe_flags=EXE_WRITABLE container_id=3a9c1f2b7d4e container_image=docker.io/library/nginx container_image_tag=1.25.3 container_name=nginx k8s_ns=payments k8s_pod_name=checkout-7c9f8d6b5-x2lqp)","output_fields":{"container.id":"3a9c1f2b7d4e","container.image.repository":"docker.io/library/nginx","container.image.tag":"1.25.3","container.name":"nginx","evt.arg.flags":"EXE_WRITABLE","evt.time":1717234862123456789,"evt.type":"execve","k8s.ns.name":"payments","k8s.pod.name":"checkout-7c9f8d6b5-x2lqp","proc.cmdline":"bash","proc.exepath":"/usr/bin/bash","proc.name":"bash","proc.pname":"runc","proc.tty":34816,"user.loginuid":-1,"user.name":"root","user.uid":0},"priority":"Notice","rule":"Terminal shell in container","source":"syscall","tags":["T1059","container","maturity_stable","mitre_execution","shell"],"time":"$ALERT_TIME"}]]
LUA
cat >"$TMP/unique.lua" <<LUA
-- A new container id on every request (run number + thread number + counter, 12 hex digits): each
-- alert is a new Observation. The run number (the script's argument) keeps runs apart.
local threads = 0
local run = 0
function init(args)
  run = tonumber(args[1] or "0")
end
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
local counter = 0
local head = [[{"hostname":"ip-10-0-12-34.eu-west-1.compute.internal","output":"09:41:02.123456789: Notice A shell was spawned in a container with an attached terminal (evt_type=execve user=root user_uid=0 user_loginuid=-1 process=bash proc_exepath=/usr/bin/bash parent=runc command=bash terminal=34816 exe_flags=EXE_WRITABLE container_image=docker.io/library/nginx container_image_tag=1.25.3 container_name=nginx k8s_ns=payments k8s_pod_name=checkout-7c9f8d6b5-x2lqp)","output_fields":{"container.id":"]]
local tail = [[","container.image.repository":"docker.io/library/nginx","container.image.tag":"1.25.3","container.name":"nginx","evt.arg.flags":"EXE_WRITABLE","evt.time":1717234862123456789,"evt.type":"execve","k8s.ns.name":"payments","k8s.pod.name":"checkout-7c9f8d6b5-x2lqp","proc.cmdline":"bash","proc.exepath":"/usr/bin/bash","proc.name":"bash","proc.pname":"runc","proc.tty":34816,"user.loginuid":-1,"user.name":"root","user.uid":0},"priority":"Notice","rule":"Terminal shell in container","source":"syscall","tags":["T1059","container","maturity_stable","mitre_execution","shell"],"time":"$ALERT_TIME"}]]
local headers = { ["Content-Type"] = "application/json" }
function request()
  counter = counter + 1
  local id = string.format("%02x%02x%08x", run, tid or 0, counter)
  return wrk.format("POST", nil, headers, head .. id .. tail)
end
LUA

# Runs wrk; prints "<requests/s> <non-2xx> <socket errors> <p50> <p99>" and keeps the full output.
# $5: the run number given to the Lua script (keeps the unique alerts of two runs apart).
run_wrk() {
  local url=$1 script=$2 duration=$3 out=$4 run=${5:-0}
  wrk -t"$THREADS" -c"$CONNECTIONS" -d"$duration" --timeout 10s --latency -s "$script" "$url" -- "$run" >"$out" 2>&1
  local rps non2xx sock p50 p99
  rps=$(awk '/^Requests\/sec:/ {print $2}' "$out")
  non2xx=$(awk '/Non-2xx or 3xx responses:/ {print $NF}' "$out"); non2xx=${non2xx:-0}
  sock=$(awk '/Socket errors:/ {gsub(",", ""); print $4+$6+$8+$10}' "$out"); sock=${sock:-0}
  p50=$(awk '$1 == "50%" {print $2}' "$out")
  p99=$(awk '$1 == "99%" {print $2}' "$out")
  echo "${rps:-0} $non2xx $sock ${p50:-?} ${p99:-?}"
}

echo "== machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo), $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)"
echo "== load before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== JVM_OPTS: $JVM_OPTS"
echo "== wrk: -t$THREADS -c$CONNECTIONS -d$DURATION (warm-up $WARMUP); wrk shares the $(nproc) cores with the server"

# ---- zen-watcher ------------------------------------------------------------------------------
PORT=$(free_port)
mkdir -p "$TMP/data"
T0=$(now_ms)
# shellcheck disable=SC2086
env -u KUBERNETES_SERVICE_HOST OBSERVATION_STORE=sqlite SQLITE_PATH="$TMP/data/zen-watcher.db" \
  WATCHER_BIND_ADDRESS=127.0.0.1 WATCHER_PORT="$PORT" LOG_LEVEL=warn LOG_FORMAT=text \
  java $JVM_OPTS -jar "$WATCHER_JAR" >"$TMP/zen-watcher.log" 2>&1 &
ZW=$!
PIDS+=("$ZW")
READY_MS=$(wait_ready "http://127.0.0.1:$PORT/ready" "$T0" "$ZW") || { cat "$TMP/zen-watcher.log" >&2; exit 1; }
RSS_IDLE=$(kib VmRSS "$ZW")
echo "zen-watcher (pid $ZW, port $PORT) ready in ${READY_MS} ms; RSS at ready $((RSS_IDLE / 1024)) MiB"

URL="http://127.0.0.1:$PORT/ingest/falco"
first=$(curl -s -X POST -H 'Content-Type: application/json' --data-binary "$(sed -n 's/^wrk.body = \[\[\(.*\)\]\]$/\1/p' "$TMP/repeated.lua")" "$URL")
echo "first alert: $first"

requests_of() { awk '/ requests in / {print $1}' "$1"; }

echo "warm-up $WARMUP (repeated alert, not counted)..."
run_wrk "$URL" "$TMP/repeated.lua" "$WARMUP" "$TMP/warm1.txt" >/dev/null
: >"$TMP/rss-repeated"; : >"$TMP/rss-unique"
sample_rss "$ZW" "$TMP/rss-repeated" "$TMP/stop1" & SAMPLER=$!; PIDS+=("$SAMPLER")
read -r ZW_REP ZW_REP_NON2XX ZW_REP_SOCK ZW_REP_P50 ZW_REP_P99 < <(run_wrk "$URL" "$TMP/repeated.lua" "$DURATION" "$TMP/zw-repeated.txt")
touch "$TMP/stop1"; wait "$SAMPLER" 2>/dev/null || true
echo "zen-watcher, repeated alert: $ZW_REP req/s, non-2xx $ZW_REP_NON2XX, socket errors $ZW_REP_SOCK, p50 $ZW_REP_P50, p99 $ZW_REP_P99"
# Every repeat must be counted: one Observation whose status.count is every request sent so far.
sleep 3 # two flush intervals
SENT=$(( 1 + $(requests_of "$TMP/warm1.txt") + $(requests_of "$TMP/zw-repeated.txt") ))
COUNT=$(curl -s "http://127.0.0.1:$PORT/api/v1/observations?source=falco&limit=5" | grep -o '"count":[0-9]*' | cut -d: -f2 | tr '\n' ' ')
echo "repeated alert: $SENT requests sent, stored status.count: ${COUNT:-?}"

echo "warm-up $WARMUP (unique alerts, not counted)..."
run_wrk "$URL" "$TMP/unique.lua" "$WARMUP" "$TMP/warm2.txt" 1 >/dev/null
sample_rss "$ZW" "$TMP/rss-unique" "$TMP/stop2" & SAMPLER=$!; PIDS+=("$SAMPLER")
read -r ZW_UNI ZW_UNI_NON2XX ZW_UNI_SOCK ZW_UNI_P50 ZW_UNI_P99 < <(run_wrk "$URL" "$TMP/unique.lua" "$DURATION" "$TMP/zw-unique.txt" 2)
touch "$TMP/stop2"; wait "$SAMPLER" 2>/dev/null || true
echo "zen-watcher, unique alerts:  $ZW_UNI req/s, non-2xx $ZW_UNI_NON2XX, socket errors $ZW_UNI_SOCK, p50 $ZW_UNI_P50, p99 $ZW_UNI_P99"

sleep 3
RSS_REP=$(max_of "$TMP/rss-repeated"); RSS_UNI=$(max_of "$TMP/rss-unique")
RSS_AFTER=$(kib VmRSS "$ZW"); HWM=$(kib VmHWM "$ZW")
UNIQUE_SENT=$(( $(requests_of "$TMP/warm2.txt") + $(requests_of "$TMP/zw-unique.txt") ))
CREATED=$(curl -s "http://127.0.0.1:$PORT/metrics" | awk '/^zen_watcher_observations_created_total/ {s+=$2} END {printf "%d", s}')
echo "unique alerts sent: $UNIQUE_SENT; Observations created (metric, includes the repeated one): $CREATED"
kill "$ZW"; wait "$ZW" 2>/dev/null || true

# ---- bare Vert.x route ------------------------------------------------------------------------
BPORT=$(free_port)
B0=$(now_ms)
# shellcheck disable=SC2086
java $JVM_OPTS -cp "$BENCH_JAR" io.kubezen.bench.BareServer 127.0.0.1 "$BPORT" >"$TMP/bare.log" 2>&1 &
BARE=$!
PIDS+=("$BARE")
BARE_READY_MS=$(wait_ready "http://127.0.0.1:$BPORT/ready" "$B0" "$BARE") || { cat "$TMP/bare.log" >&2; exit 1; }
BURL="http://127.0.0.1:$BPORT/ingest/falco"
echo "bare Vert.x route (pid $BARE) ready in ${BARE_READY_MS} ms; warm-up $WARMUP..."
run_wrk "$BURL" "$TMP/repeated.lua" "$WARMUP" "$TMP/warm3.txt" >/dev/null
read -r BARE_REP BARE_NON2XX BARE_SOCK BARE_P50 BARE_P99 < <(run_wrk "$BURL" "$TMP/repeated.lua" "$DURATION" "$TMP/bare-repeated.txt")
BARE_RSS=$(kib VmHWM "$BARE")
echo "bare route, repeated alert:  $BARE_REP req/s, non-2xx $BARE_NON2XX, socket errors $BARE_SOCK, p50 $BARE_P50, p99 $BARE_P99"
kill "$BARE"; wait "$BARE" 2>/dev/null || true

# ---- summary ----------------------------------------------------------------------------------
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
verdict() { awk -v v="$1" -v t="$2" -v op="$3" 'BEGIN { ok = (op == ">=") ? (v >= t) : (v <= t); print ok ? "met" : "NOT met" }'; }
MIB() { echo $(( $1 / 1024 )); }
R_REP=$(ratio "$ZW_REP" "$BARE_REP"); R_UNI=$(ratio "$ZW_UNI" "$BARE_REP")
echo
echo "== results (load after: $(cut -d' ' -f1-3 /proc/loadavg))"
printf '%-34s %12s %8s %8s %9s %9s\n' "run" "req/s" "non-2xx" "sockerr" "p50" "p99"
printf '%-34s %12s %8s %8s %9s %9s\n' "bare Vert.x route" "$BARE_REP" "$BARE_NON2XX" "$BARE_SOCK" "$BARE_P50" "$BARE_P99"
printf '%-34s %12s %8s %8s %9s %9s\n' "zen-watcher, repeated (aggregate)" "$ZW_REP" "$ZW_REP_NON2XX" "$ZW_REP_SOCK" "$ZW_REP_P50" "$ZW_REP_P99"
printf '%-34s %12s %8s %8s %9s %9s\n' "zen-watcher, unique (store)" "$ZW_UNI" "$ZW_UNI_NON2XX" "$ZW_UNI_SOCK" "$ZW_UNI_P50" "$ZW_UNI_P99"
echo "ratio repeated / bare: $R_REP (target >= 0.5: $(verdict "$R_REP" 0.5 '>='))"
echo "ratio unique / bare:   $R_UNI (no target)"
echo "start to ready: ${READY_MS} ms (target <= 3000: $(verdict "$READY_MS" 3000 '<='))"
echo "RSS MiB: at ready $(MIB "$RSS_IDLE"), peak under repeated $(MIB "${RSS_REP:-0}"), peak under unique $(MIB "${RSS_UNI:-0}"), after $(MIB "$RSS_AFTER"), VmHWM $(MIB "$HWM") (target <= 256: $(verdict "$(MIB "$HWM")" 256 '<=')); bare route VmHWM $(MIB "$BARE_RSS")"
COUNT=${COUNT%% }
# wrk counts the requests it saw answered; those in flight when it stops (at most one per connection
# and run) reach the server too. So the server's counts may exceed wrk's by up to 2 x CONNECTIONS.
within() { [[ "$1" -ge "$2" && "$1" -le $(( $2 + 2 * CONNECTIONS )) ]]; }
echo "aggregation: $SENT repeated alerts answered by wrk, stored status.count $COUNT ($(within "${COUNT:-0}" "$SENT" && echo "consistent" || echo "INCONSISTENT"))"
echo "store path: $UNIQUE_SENT unique alerts answered by wrk, $CREATED Observations created incl. the repeated one ($(within "$CREATED" $((UNIQUE_SENT + 1)) && echo "consistent" || echo "INCONSISTENT"))"
FAILS=$(( ZW_REP_NON2XX + ZW_UNI_NON2XX + BARE_NON2XX ))
echo "non-2xx responses in total: $FAILS (must be 0)"
[[ "$FAILS" -eq 0 ]]

#!/usr/bin/env bash
# tokgateway benchmark: requests/s, p50/p99 latency, CPU microseconds per
# request (from /proc) and RSS of gatewayd against a bare hyper forwarder
# measured in the same run. Loopback only. Usage: bench/run.sh [seconds]
set -euo pipefail
cd "$(dirname "$0")/.."
DUR=${1:-${BENCH_SECONDS:-10}}
CONNS=${BENCH_CONNS:-32}
OUT=bench/out
mkdir -p "$OUT"
command -v wrk >/dev/null || { echo "bench needs wrk (apt-get install -y wrk)"; exit 1; }
cargo build --release --locked -q -p tokgateway-gatewayd -p tokgateway-bench
BIN=target/release
TICK=$(getconf CLK_TCK)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

# Starts a command that prints "listening on ADDR" (or gatewayd's start-up
# line) and echoes "PID ADDR".
start() {
  local log="$OUT/$1.log"; shift
  "$@" >"$log" 2>&1 &
  local pid=$!
  PIDS+=("$pid")
  for _ in $(seq 1 100); do
    local addr
    addr=$(grep -oE 'listening on (http://)?[0-9.]+:[0-9]+' "$log" | head -1 | sed -E 's/.*listening on (http:\/\/)?//') || true
    if [ -n "$addr" ]; then echo "$pid $addr"; return; fi
    sleep 0.1
  done
  echo "failed to start $*: $(cat "$log")" >&2; exit 1
}
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
hwm_kib() { awk '/^VmHWM/ {print $2}' "/proc/$1/status"; }

read -r MOCK_PID MOCK <<<"$(start mock "$BIN/mock-upstream" --threads 1)"
read -r FWD_PID FWD <<<"$(start forwarder "$BIN/forwarder" --upstream "http://$MOCK")"
CFG=$(mktemp -d)
cat >"$CFG/setting.ini" <<INI
[provider.mock]
type = openai
base_url = http://$MOCK/v1
models = gpt-bench
[log]
level = warn
INI
export TOKGATEWAY_DATA_DIR="$CFG/data"
read -r GW_PID GW <<<"$(start gatewayd "$BIN/gatewayd" --config "$CFG" --listen 127.0.0.1:0 --set log.level=${BENCH_LOG_LEVEL:-info})"
sleep 0.5
IDLE_RSS=$(rss_kib "$GW_PID")

BODY='{"model":"gpt-bench","messages":[{"role":"user","content":"Say something about foxes."}],"max_tokens":64}'
SBODY='{"model":"gpt-bench","stream":true,"messages":[{"role":"user","content":"Say something about foxes."}],"max_tokens":64}'
LBODY='{"model":"loopback","messages":[{"role":"user","content":"Say something about foxes and dogs and cats."}]}'
LSBODY='{"model":"loopback","stream":true,"messages":[{"role":"user","content":"Say something about foxes and dogs and cats."}]}'

RESULTS=()
# run NAME PID ADDR BODY CONNS
run() {
  local name=$1 pid=$2 addr=$3 body=$4 conns=$5
  BENCH_BODY=$body wrk -t1 -c"$conns" -d1s -s bench/post.lua "http://$addr" >/dev/null 2>&1 || true  # warm-up
  local before; before=$(cpu_ticks "$pid")
  local out; out=$(BENCH_BODY=$body wrk -t1 -c"$conns" -d"${DUR}s" --latency -s bench/post.lua "http://$addr")
  local after; after=$(cpu_ticks "$pid")
  local reqs; reqs=$(echo "$out" | awk '/requests in/ {print $1}')
  local rps; rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  local p50; p50=$(echo "$out" | awk '$1=="50%" {print $2}')
  local p99; p99=$(echo "$out" | awk '$1=="99%" {print $2}')
  local errs; errs=$(echo "$out" | awk '/Non-2xx|Socket errors/ {print}' | tr '\n' ' ')
  local us; us=$(awk -v t=$((after - before)) -v r="$reqs" -v hz="$TICK" 'BEGIN { if (r > 0) printf "%.1f", t * 1000000 / hz / r; else print "n/a" }')
  RESULTS+=("| $name | $conns | $rps | $p50 | $p99 | $us | $(( $(hwm_kib "$pid") / 1024 )) | ${errs:-none} |")
  echo "${RESULTS[-1]}"
}

echo "| target | conns | req/s | p50 | p99 | CPU µs/req | peak RSS MiB | errors |"
echo "|---|---|---|---|---|---|---|---|"
run "forwarder → mock (reference)" "$FWD_PID" "$FWD" "$BODY" "$CONNS"
run "gatewayd → mock" "$GW_PID" "$GW" "$BODY" "$CONNS"
run "forwarder → mock, stream" "$FWD_PID" "$FWD" "$SBODY" "$CONNS"
run "gatewayd → mock, stream" "$GW_PID" "$GW" "$SBODY" "$CONNS"
run "gatewayd loopback" "$GW_PID" "$GW" "$LBODY" 64
run "gatewayd loopback, stream" "$GW_PID" "$GW" "$LSBODY" 64

{
  echo
  echo "## $(date -u +%Y-%m-%d) — $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr), ${DUR}s per row, wrk -t1"
  echo
  echo "gatewayd idle RSS: $((IDLE_RSS / 1024)) MiB. Accounting on, auth off (the ledger is not built yet)."
  echo
  echo "| target | conns | req/s | p50 | p99 | CPU µs/req | peak RSS MiB | errors |"
  echo "|---|---|---|---|---|---|---|---|"
  printf '%s\n' "${RESULTS[@]}"
} >"$OUT/latest.md"
echo
echo "gatewayd idle RSS: $((IDLE_RSS / 1024)) MiB; table written to $OUT/latest.md (append it to bench/RESULTS.md to record it)"

#!/usr/bin/env bash
# tokgateway benchmark: requests/s, p50/p99 latency, CPU microseconds per
# request (from /proc) and RSS of gatewayd against a bare hyper forwarder
# measured in the same run. Loopback only. Usage: bench/run.sh [seconds]
# BENCH_ONLY_LEDGER=1: only the forwarder and the auth/ledger rows.
# BENCH_WORKERS=N (default 1): worker threads of the forwarder and of every
# gatewayd alike, so CPU per request compares code with code; with more
# workers than the machine has spare cores (wrk and the mock run here too),
# both pay for threads stealing work from each other.
set -euo pipefail
cd "$(dirname "$0")/.."
DUR=${1:-${BENCH_SECONDS:-10}}
CONNS=${BENCH_CONNS:-32}
WORKERS=${BENCH_WORKERS:-1}
OUT=bench/out
mkdir -p "$OUT"
command -v wrk >/dev/null || { echo "bench needs wrk (apt-get install -y wrk)"; exit 1; }
cargo build --release --locked -q -p tokgateway-gatewayd -p tokgateway-gateway -p tokgateway-bench
BIN=target/release
TICK=$(getconf CLK_TCK)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

# Starts a command that prints "listening on ADDR" (or gatewayd's start-up
# line) and echoes "PID ADDR". It runs in a command substitution, so the
# caller adds the PID to PIDS (for the cleanup at exit).
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
# CPU ticks of a process and all its descendants (LiteLLM and Portkey run several).
cpu_ticks() {
  local total=0 p
  for p in $1 $(pgrep -P "$1" 2>/dev/null) $(for c in $(pgrep -P "$1" 2>/dev/null); do pgrep -P "$c"; done); do
    [ -r "/proc/$p/stat" ] && total=$((total + $(awk '{print $14 + $15}' "/proc/$p/stat")))
  done
  echo "$total"
}
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
hwm_kib() { awk '/^VmHWM/ {print $2}' "/proc/$1/status"; }

read -r MOCK_PID MOCK <<<"$(start mock "$BIN/mock-upstream" --threads 1)"
PIDS+=("$MOCK_PID")
read -r FWD_PID FWD <<<"$(start forwarder "$BIN/forwarder" --upstream "http://$MOCK" --threads "$WORKERS")"
PIDS+=("$FWD_PID")
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
GW_ARGS=(--listen 127.0.0.1:0 --set "limits.worker_threads=$WORKERS")
read -r GW_PID GW <<<"$(start gatewayd "$BIN/gatewayd" --config "$CFG" "${GW_ARGS[@]}" --set "log.level=${BENCH_LOG_LEVEL:-info}")"
PIDS+=("$GW_PID")
# The same without the ledger: the proxy and its accounting (request log
# lines, metrics), issue 3's target; the ledger's own cost is issue 4's.
NOLEDGER_DIR=$(mktemp -d -p "$CFG"); cp "$CFG/setting.ini" "$NOLEDGER_DIR/setting.ini"
read -r NL_PID NL <<<"$(TOKGATEWAY_DATA_DIR="$NOLEDGER_DIR/data" start gatewayd-no-ledger "$BIN/gatewayd" --config "$NOLEDGER_DIR" "${GW_ARGS[@]}" --set ledger.enabled=false --set "log.level=${BENCH_LOG_LEVEL:-info}")"
PIDS+=("$NL_PID")
sleep 0.5
IDLE_RSS=$(rss_kib "$GW_PID")

BODY='{"model":"gpt-bench","messages":[{"role":"user","content":"Say something about foxes."}],"max_tokens":64}'
SBODY='{"model":"gpt-bench","stream":true,"messages":[{"role":"user","content":"Say something about foxes."}],"max_tokens":64}'
LBODY='{"model":"loopback","messages":[{"role":"user","content":"Say something about foxes and dogs and cats."}]}'
LSBODY='{"model":"loopback","stream":true,"messages":[{"role":"user","content":"Say something about foxes and dogs and cats."}]}'

RESULTS=()
# run NAME PID ADDR BODY CONNS [HEADERS]
run() {
  local name=$1 pid=$2 addr=$3 body=$4 conns=$5
  export BENCH_HEADERS=${6:-}
  BENCH_BODY=$body wrk -t1 -c"$conns" -d1s -s bench/post.lua "http://$addr" >/dev/null 2>&1 || true  # warm-up
  local before; before=$(cpu_ticks "$pid")
  local out; out=$(BENCH_BODY=$body wrk -t1 -c"$conns" -d"${DUR}s" --latency -s bench/post.lua "http://$addr" 2>&1 || true)
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
if [ -z "${BENCH_ONLY_LEDGER:-}" ]; then
run "gatewayd → mock" "$GW_PID" "$GW" "$BODY" "$CONNS"
run "gatewayd → mock, no ledger (request log lines, metrics)" "$NL_PID" "$NL" "$BODY" "$CONNS"
run "forwarder → mock, stream" "$FWD_PID" "$FWD" "$SBODY" "$CONNS"
run "gatewayd → mock, stream" "$GW_PID" "$GW" "$SBODY" "$CONNS"
run "gatewayd → mock, stream, no ledger (request log lines, metrics)" "$NL_PID" "$NL" "$SBODY" "$CONNS"
run "forwarder → mock (reference)" "$FWD_PID" "$FWD" "$BODY" 64
run "gatewayd loopback" "$GW_PID" "$GW" "$LBODY" 64
run "gatewayd loopback, stream" "$GW_PID" "$GW" "$LSBODY" 64
fi

# Auth and the ledger (issue 4's targets): the proxy alone (ledger off, auth
# off), then with a key checked on every request and the ledger in async and
# in sync durability (SQLite), each a fresh gatewayd at 64 connections with
# request log lines off.
ledger_rows() {
  local label setting
  for setting in alone async sync; do
    ADIR="$CFG/ledger-$setting"; mkdir -p "$ADIR"; cp "$CFG/setting.ini" "$ADIR/setting.ini"
    export TOKGATEWAY_DATA_DIR="$ADIR/data"
    local extra=() headers=""
    if [ "$setting" = alone ]; then
      extra=(--set ledger.enabled=false)
      label="gatewayd → mock, proxy alone (no ledger, auth off)"
    else
      "$BIN/gateway" --config "$ADIR" users create bench >/dev/null
      KEY=$("$BIN/gateway" --config "$ADIR" keys create --user bench --quiet)
      extra=(--set auth.enabled=true --set "ledger.durability=$setting")
      headers="Authorization: Bearer $KEY"
      label="gatewayd → mock, auth + ledger $setting"
    fi
    read -r APID AADDR <<<"$(start "gatewayd-ledger-$setting" "$BIN/gatewayd" --config "$ADIR" "${GW_ARGS[@]}" "${extra[@]}" --set "log.level=info,tokgateway::request=warn")"
    PIDS+=("$APID")
    run "$label" "$APID" "$AADDR" "$BODY" 64 "$headers"
    kill "$APID" 2>/dev/null || true
  done
  export TOKGATEWAY_DATA_DIR="$CFG/data"
}
[ -z "${BENCH_ONLY_LEDGER:-}" ] || run "forwarder → mock (reference)" "$FWD_PID" "$FWD" "$BODY" 64
ledger_rows
if [ -n "${BENCH_ONLY_LEDGER:-}" ]; then
  # A quick run of the table rows above only.
  printf '%s\n' "${RESULTS[@]}" >"$OUT/latest.md"
  exit 0
fi

# Other gateways against the same mock, same load (when installed: bench/install-others.sh).
LITELLM=bench/out/venv-litellm/bin/litellm
if [ -x "$LITELLM" ]; then
  cat >"$CFG/litellm.yaml" <<YAML
model_list:
  - model_name: gpt-bench
    litellm_params:
      model: openai/gpt-bench
      api_base: http://$MOCK/v1
      api_key: sk-bench
YAML
  LPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  LITELLM_MASTER_KEY=sk-bench-7f3c9a2e41d84b6f9e0a5c1d2b3e4f50 LITELLM_TELEMETRY=False \
  "$LITELLM" --config "$CFG/litellm.yaml" --host 127.0.0.1 --port "$LPORT" --num_workers 1 >"$OUT/litellm.log" 2>&1 &
  LL_PID=$!; PIDS+=("$LL_PID")
  for _ in $(seq 1 300); do curl -sf "http://127.0.0.1:$LPORT/health/liveliness" >/dev/null 2>&1 && break; sleep 0.2; done
  run "LiteLLM proxy → mock" "$LL_PID" "127.0.0.1:$LPORT" "$BODY" "$CONNS" "Authorization: Bearer sk-bench-7f3c9a2e41d84b6f9e0a5c1d2b3e4f50"
  kill "$LL_PID" 2>/dev/null || true
fi
PORTKEY=bench/out/portkey/node_modules/@portkey-ai/gateway/build/start-server.js
if [ -f "$PORTKEY" ]; then
  PPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  NODE_ENV=production node "$PORTKEY" --port="$PPORT" --headless >"$OUT/portkey.log" 2>&1 &
  PK_PID=$!; PIDS+=("$PK_PID")
  for _ in $(seq 1 100); do curl -s "http://127.0.0.1:$PPORT/" >/dev/null 2>&1 && break; sleep 0.2; done
  run "Portkey gateway → mock" "$PK_PID" "127.0.0.1:$PPORT" "$BODY" "$CONNS" "Authorization: Bearer sk-bench|x-portkey-provider: openai|x-portkey-custom-host: http://$MOCK/v1"
  kill "$PK_PID" 2>/dev/null || true
fi

# Time to first byte, streaming (32 clients): straight from the mock, through
# the bare forwarder (what any proxy hop adds on this machine) and through
# gatewayd; back to back (closed loop: at saturation, latency follows CPU per
# request), and paced at 100 requests/s per client (3,200/s: below saturation).
ttfb() { "$BIN/streams" --url "http://$1/v1/chat/completions" --conns 32 --requests "$2" --body "$SBODY" --threads 1 --rate "$3"; }
TTFB_DIRECT=$(ttfb "$MOCK" 300 0); TTFB_FWD=$(ttfb "$FWD" 300 0); TTFB_GW=$(ttfb "$GW" 300 0)
TTFB_DIRECT_PACED=$(ttfb "$MOCK" 300 100); TTFB_FWD_PACED=$(ttfb "$FWD" 300 100); TTFB_GW_PACED=$(ttfb "$GW" 300 100)
# The same, paced, with gatewayd as users run it: its default worker count
# (one per core), and a forwarder with as many threads.
CORES=$(nproc)
read -r FWDN_PID FWDN <<<"$(start forwarder-cores "$BIN/forwarder" --upstream "http://$MOCK" --threads "$CORES")"
PIDS+=("$FWDN_PID")
CORES_DIR=$(mktemp -d -p "$CFG"); cp "$CFG/setting.ini" "$CORES_DIR/setting.ini"
read -r GWN_PID GWN <<<"$(TOKGATEWAY_DATA_DIR="$CORES_DIR/data" start gatewayd-cores "$BIN/gatewayd" --config "$CORES_DIR" --listen 127.0.0.1:0)"
PIDS+=("$GWN_PID")
ttfb "$GWN" 100 0 >/dev/null  # warm-up
TTFB_FWDN_PACED=$(ttfb "$FWDN" 300 100); TTFB_GWN_PACED=$(ttfb "$GWN" 300 100)
kill "$FWDN_PID" "$GWN_PID" 2>/dev/null || true

# Many slow streams held at once: a loopback provider pausing between chunks.
SLOW_STREAMS=${BENCH_SLOW_STREAMS:-10000}
cat >"$CFG/slow.ini" <<INI
[provider.slow]
type = loopback
models = slow
chunk_delay = 200ms
INI
mkdir -p "$CFG/slow"; cp "$CFG/slow.ini" "$CFG/slow/setting.ini"
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
read -r SLOW_PID SLOW <<<"$(start gatewayd-slow "$BIN/gatewayd" --config "$CFG/slow" "${GW_ARGS[@]}" --set "log.level=info,tokgateway::request=warn")"
PIDS+=("$SLOW_PID")
SLOW_BODY='{"model":"slow","stream":true,"messages":[{"role":"user","content":"one two three four five six seven eight"}]}'
SLOW_RESULT=$("$BIN/streams" --url "http://$SLOW/v1/chat/completions" --conns "$SLOW_STREAMS" --requests 1 --body "$SLOW_BODY" --threads 1)
SLOW_PEAK=$(( $(hwm_kib "$SLOW_PID") / 1024 ))

{
  echo
  echo "## $(date -u +%Y-%m-%d) — $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr), ${DUR}s per row, wrk -t1, $WORKERS worker thread(s) in the forwarder and in gatewayd"
  echo
  echo "gatewayd idle RSS: $((IDLE_RSS / 1024)) MiB. Ledger on (async, SQLite) in every gatewayd row; auth off unless the row says so."
  echo
  echo "Streaming TTFB, 32 clients x 300 requests back to back: straight from the mock: $TTFB_DIRECT; through the forwarder: $TTFB_FWD; through gatewayd: $TTFB_GW"
  echo
  echo "Streaming TTFB, 32 clients x 300 requests at 100/s each: straight from the mock: $TTFB_DIRECT_PACED; through the forwarder: $TTFB_FWD_PACED; through gatewayd: $TTFB_GW_PACED"
  echo
  echo "The same at 100/s each, gatewayd on its default worker count ($CORES, one per core) and the forwarder with $CORES threads: through the forwarder: $TTFB_FWDN_PACED; through gatewayd: $TTFB_GWN_PACED"
  echo
  echo "$SLOW_STREAMS concurrent slow streams (loopback, 200 ms between chunks, ~2 s each): $SLOW_RESULT; gatewayd peak RSS $SLOW_PEAK MiB"
  echo
  echo "| target | conns | req/s | p50 | p99 | CPU µs/req | peak RSS MiB | errors |"
  echo "|---|---|---|---|---|---|---|---|"
  printf '%s\n' "${RESULTS[@]}"
} >"$OUT/latest.md"
echo
echo "gatewayd idle RSS: $((IDLE_RSS / 1024)) MiB"
echo "streaming TTFB back to back: direct $TTFB_DIRECT; forwarder $TTFB_FWD; gatewayd $TTFB_GW"
echo "streaming TTFB at 100/s per client: direct $TTFB_DIRECT_PACED; forwarder $TTFB_FWD_PACED; gatewayd $TTFB_GW_PACED"
echo "streaming TTFB at 100/s per client, $CORES workers: forwarder $TTFB_FWDN_PACED; gatewayd $TTFB_GWN_PACED"
echo "$SLOW_STREAMS slow streams: $SLOW_RESULT; peak RSS $SLOW_PEAK MiB"
echo "table written to $OUT/latest.md (append it to bench/RESULTS.md to record it)"

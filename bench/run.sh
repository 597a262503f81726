#!/usr/bin/env bash
# tokgateway benchmark: requests/s, p50/p99 latency, CPU microseconds per
# request (from /proc) and RSS of gatewayd against a bare hyper forwarder
# measured in the same run. Loopback only. Usage: bench/run.sh [seconds]
# (per row, in BENCH_ROUNDS slices, default 4: the rows take turns).
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

# Rows: NAME, PID, ADDR, BODY, CONNS, HEADERS, and REF, the row a target
# compares this one with ("xN": CPU per request as a multiple of row N's;
# "+N": the extra CPU per request over row N's, in percent; N from 0).
ROWS=()
# Fields are split at the unit separator (a tab, being white space to read,
# would let an empty field vanish).
US=$'\x1f'
row() { ROWS+=("$1$US$2$US$3$US$4$US$5$US${6:-}$US${7:-}"); }
# Auth and the ledger (issue 4's targets): the proxy alone (ledger off, auth
# off), then with a key checked on every request and the ledger in async and
# in sync durability (SQLite), each its own gatewayd at 64 connections with
# request log lines off.
ledger_gatewayd() {
  local setting=$1 dir="$CFG/ledger-$1"; mkdir -p "$dir"; cp "$CFG/setting.ini" "$dir/setting.ini"
  local extra=(--set ledger.enabled=false)
  LEDGER_HEADERS=""
  if [ "$setting" != alone ]; then
    TOKGATEWAY_DATA_DIR="$dir/data" "$BIN/gateway" --config "$dir" users create bench >/dev/null
    local key; key=$(TOKGATEWAY_DATA_DIR="$dir/data" "$BIN/gateway" --config "$dir" keys create --user bench --quiet)
    extra=(--set auth.enabled=true --set "ledger.durability=$setting")
    LEDGER_HEADERS="Authorization: Bearer $key"
  fi
  read -r LEDGER_PID LEDGER_ADDR <<<"$(TOKGATEWAY_DATA_DIR="$dir/data" start "gatewayd-ledger-$setting" "$BIN/gatewayd" --config "$dir" "${GW_ARGS[@]}" "${extra[@]}" --set "log.level=info,tokgateway::request=warn")"
}
if [ -z "${BENCH_ONLY_LEDGER:-}" ]; then
  row "forwarder → mock (reference)" "$FWD_PID" "$FWD" "$BODY" "$CONNS"
  row "gatewayd → mock" "$GW_PID" "$GW" "$BODY" "$CONNS" "" "x0"
  row "gatewayd → mock, no ledger (request log lines, metrics)" "$NL_PID" "$NL" "$BODY" "$CONNS" "" "x0"
  row "forwarder → mock, stream" "$FWD_PID" "$FWD" "$SBODY" "$CONNS"
  row "gatewayd → mock, stream" "$GW_PID" "$GW" "$SBODY" "$CONNS" "" "x3"
  row "gatewayd → mock, stream, no ledger (request log lines, metrics)" "$NL_PID" "$NL" "$SBODY" "$CONNS" "" "x3"
fi
FWD64=${#ROWS[@]}
row "forwarder → mock (reference)" "$FWD_PID" "$FWD" "$BODY" 64
if [ -z "${BENCH_ONLY_LEDGER:-}" ]; then
  row "gatewayd loopback" "$GW_PID" "$GW" "$LBODY" 64 "" "x$FWD64"
  row "gatewayd loopback, stream" "$GW_PID" "$GW" "$LSBODY" 64 "" "x$FWD64"
fi
ALONE=${#ROWS[@]}
ledger_gatewayd alone; PIDS+=("$LEDGER_PID")
row "gatewayd → mock, proxy alone (no ledger, auth off)" "$LEDGER_PID" "$LEDGER_ADDR" "$BODY" 64 "" "x$FWD64"
for setting in async sync; do
  ledger_gatewayd "$setting"; PIDS+=("$LEDGER_PID")
  row "gatewayd → mock, auth + ledger $setting" "$LEDGER_PID" "$LEDGER_ADDR" "$BODY" 64 "$LEDGER_HEADERS" "+$ALONE"
done

# Every row is measured in ROUNDS slices of DUR/ROUNDS seconds, the rows
# taking turns, so a change in the machine's load (it is shared) falls on
# all rows alike instead of on whichever ran at that moment.
ROUNDS=${BENCH_ROUNDS:-4}
SLICE=$(( (DUR + ROUNDS - 1) / ROUNDS ))
declare -a TICKS REQS SECS P50 P99 ERRS ROUND_US
# us_of TICKS REQUESTS: CPU microseconds per request.
us_of() { awk -v t="$1" -v r="$2" -v hz="$TICK" 'BEGIN { if (r > 0) printf "%.1f", t * 1000000 / hz / r; else print "n/a" }'; }
# The median of the numbers on standard input (separated by spaces or lines).
median() { tr ' ' '\n' | grep -E '^[0-9.]+$' | sort -g | awk '{v[NR] = $1} END {if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
slice() {
  local i=$1 name pid addr body conns headers ref
  IFS=$US read -r name pid addr body conns headers ref <<<"${ROWS[$i]}"
  export BENCH_HEADERS=$headers
  if [ -z "${REQS[$i]:-}" ]; then
    BENCH_BODY=$body wrk -t1 -c"$conns" -d1s -s bench/post.lua "http://$addr" >/dev/null 2>&1 || true  # warm-up
  fi
  local before; before=$(cpu_ticks "$pid")
  local out; out=$(BENCH_BODY=$body wrk -t1 -c"$conns" -d"${SLICE}s" --latency -s bench/post.lua "http://$addr" 2>&1 || true)
  local after; after=$(cpu_ticks "$pid")
  local n; n=$(echo "$out" | awk '/requests in/ {print $1; f=1} END {if (!f) print 0}')
  TICKS[$i]=$(( ${TICKS[$i]:-0} + after - before ))
  REQS[$i]=$(( ${REQS[$i]:-0} + n ))
  ROUND_US[$i]="${ROUND_US[$i]:+${ROUND_US[$i]} }$(us_of $((after - before)) "$n")"
  SECS[$i]=$(awk -v a="${SECS[$i]:-0}" -v b="$(echo "$out" | awk '/requests in/ {sub(/s,$/, "", $4); print $4}')" 'BEGIN {print a + b}')
  P50[$i]="${P50[$i]:+${P50[$i]} / }$(echo "$out" | awk '$1=="50%" {print $2}')"
  P99[$i]="${P99[$i]:+${P99[$i]} / }$(echo "$out" | awk '$1=="99%" {print $2}')"
  ERRS[$i]="${ERRS[$i]:-}$(echo "$out" | awk '/Non-2xx|Socket errors/ {print}' | tr '\n' ' ')"
}
for round in $(seq 1 "$ROUNDS"); do
  echo "round $round of $ROUNDS (${#ROWS[@]} rows, ${SLICE}s each)"
  for i in "${!ROWS[@]}"; do slice "$i"; done
done
us_per_req() { us_of "${TICKS[$1]}" "${REQS[$1]}"; }
# result_row I: row I's line of the table.
result_row() {
  local name pid addr body conns headers ref us vs="" rps
  IFS=$US read -r name pid addr body conns headers ref <<<"${ROWS[$1]}"
  us=$(us_per_req "$1")
  if [ -n "$ref" ]; then
    local r=${ref:1} ref_us
    ref_us=$(us_per_req "$r")
    # Also the median over rounds of the ratio within each round: the row
    # and its reference a few seconds apart, so a burst of load from the
    # machine's other tenants moves one round's ratio, not the median.
    local mid
    mid=$(awk -v a="${ROUND_US[$1]}" -v b="${ROUND_US[$r]}" 'BEGIN {
      n = split(a, x, " "); split(b, y, " ")
      for (i = 1; i <= n; i++) if (x[i] ~ /^[0-9.]+$/ && y[i] ~ /^[0-9.]+$/ && y[i] > 0) print x[i] / y[i] }' | median)
    if [ "${ref:0:1}" = "x" ]; then
      vs=$(awk -v a="$us" -v b="$ref_us" -v r="$r" -v m="$mid" 'BEGIN { printf "%.2f× row %d (rounds'"'"' median %.2f×)", a / b, r + 1, m }')
    else
      vs=$(awk -v a="$us" -v b="$ref_us" -v r="$r" -v m="$mid" 'BEGIN { printf "%+.0f%% over row %d (rounds'"'"' median %+.0f%%)", (a / b - 1) * 100, r + 1, (m - 1) * 100 }')
    fi
  fi
  rps=$(awk -v r="${REQS[$1]}" -v s="${SECS[$1]}" 'BEGIN { if (s > 0) printf "%.0f", r / s; else print "n/a" }')
  echo "| $(($1 + 1)) | $name | $conns | $rps | ${P50[$1]} | ${P99[$1]} | $us (${ROUND_US[$1]// / / }) | ${vs:-—} | $(( $(hwm_kib "$pid") / 1024 )) | ${ERRS[$1]:-none} |"
}
RESULTS=()
for i in "${!ROWS[@]}"; do RESULTS+=("$(result_row "$i")"); done
HEADER="| row | target | conns | req/s | p50 (each round) | p99 (each round) | CPU µs/req (each round) | vs | peak RSS MiB | errors |"
RULE="|---|---|---|---|---|---|---|---|---|---|"
printf '%s\n' "$HEADER" "$RULE" "${RESULTS[@]}"
if [ -n "${BENCH_ONLY_LEDGER:-}" ]; then
  # A quick run of the table rows above only.
  printf '%s\n' "$HEADER" "$RULE" "${RESULTS[@]}" >"$OUT/latest.md"
  exit 0
fi

# Other gateways against the same mock, same load (when installed:
# bench/install-others.sh), each followed by the forwarder and gatewayd again
# (rows 1 and 2), so the three compare within one stretch of time.
other() {
  local n=${#ROWS[@]}
  row "$1" "$2" "$3" "$BODY" "$CONNS" "$4" "x$((n + 2))"
  for r in 1 2; do
    IFS=$US read -r name pid addr body conns headers ref <<<"${ROWS[$((r - 1))]}"
    row "$name (again, beside row $((n + 1)))" "$pid" "$addr" "$body" "$conns" "$headers"
  done
  for i in "$n" $((n + 1)) $((n + 2)); do slice "$i"; slice "$i"; done
  for i in "$n" $((n + 1)) $((n + 2)); do
    RESULTS+=("$(result_row "$i")")
    echo "${RESULTS[-1]}"
  done
}
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
  other "LiteLLM proxy → mock" "$LL_PID" "127.0.0.1:$LPORT" "Authorization: Bearer sk-bench-7f3c9a2e41d84b6f9e0a5c1d2b3e4f50"
  kill "$LL_PID" 2>/dev/null || true
fi
PORTKEY=bench/out/portkey/node_modules/@portkey-ai/gateway/build/start-server.js
if [ -f "$PORTKEY" ]; then
  PPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  NODE_ENV=production node "$PORTKEY" --port="$PPORT" --headless >"$OUT/portkey.log" 2>&1 &
  PK_PID=$!; PIDS+=("$PK_PID")
  for _ in $(seq 1 100); do curl -s "http://127.0.0.1:$PPORT/" >/dev/null 2>&1 && break; sleep 0.2; done
  other "Portkey gateway → mock" "$PK_PID" "127.0.0.1:$PPORT" "Authorization: Bearer sk-bench|x-portkey-provider: openai|x-portkey-custom-host: http://$MOCK/v1"
  kill "$PK_PID" 2>/dev/null || true
fi

# Time to first byte, streaming (32 clients): straight from the mock, through
# the bare forwarder (what any proxy hop adds on this machine) and through
# gatewayd; back to back (closed loop: at saturation, latency follows CPU per
# request), and paced at 100 requests/s per client (3,200/s: below saturation).
# Each measured in TTFB_ROUNDS runs, the targets taking turns like the rows
# above; p99 is given for every run and as their median.
ttfb() { "$BIN/streams" --url "http://$1/v1/chat/completions" --conns 32 --requests "$2" --body "$SBODY" --threads 1 --rate "$3"; }
TTFB_ROUNDS=${BENCH_TTFB_ROUNDS:-3}
field() { grep -oE "$1=[0-9.]+" | cut -d= -f2; }
# ttfb_rounds RATE ADDR...: sets TTFB[k] to a summary for the k-th address.
ttfb_rounds() {
  local rate=$1; shift
  local -a p99 p50 errs reqs; local r k out
  for r in $(seq 1 "$TTFB_ROUNDS"); do
    k=0
    for addr in "$@"; do
      out=$(ttfb "$addr" 300 "$rate")
      p99[k]="${p99[k]:+${p99[k]} }$(echo "$out" | field ttfb_p99_ms)"
      p50[k]="${p50[k]:+${p50[k]} }$(echo "$out" | field ttfb_p50_ms)"
      errs[k]=$(( ${errs[k]:-0} + $(echo "$out" | field errors) ))
      reqs[k]=$(( ${reqs[k]:-0} + $(echo "$out" | field requests) ))
      k=$((k + 1))
    done
  done
  TTFB=()
  for k in "${!p99[@]}"; do
    TTFB[k]="p99 ${p99[k]// / / } ms (median $(echo "${p99[k]}" | median)), p50 median $(echo "${p50[k]}" | median) ms, ${reqs[k]} requests, ${errs[k]} errors"
  done
}
ttfb_rounds 0 "$MOCK" "$FWD" "$GW"; TTFB_DIRECT=${TTFB[0]}; TTFB_FWD=${TTFB[1]}; TTFB_GW=${TTFB[2]}
ttfb_rounds 100 "$MOCK" "$FWD" "$GW"; TTFB_DIRECT_PACED=${TTFB[0]}; TTFB_FWD_PACED=${TTFB[1]}; TTFB_GW_PACED=${TTFB[2]}
# The same, paced, with gatewayd as users run it: its default worker count
# (one per core), and a forwarder with as many threads.
CORES=$(nproc)
read -r FWDN_PID FWDN <<<"$(start forwarder-cores "$BIN/forwarder" --upstream "http://$MOCK" --threads "$CORES")"
PIDS+=("$FWDN_PID")
CORES_DIR=$(mktemp -d -p "$CFG"); cp "$CFG/setting.ini" "$CORES_DIR/setting.ini"
read -r GWN_PID GWN <<<"$(TOKGATEWAY_DATA_DIR="$CORES_DIR/data" start gatewayd-cores "$BIN/gatewayd" --config "$CORES_DIR" --listen 127.0.0.1:0 --set "log.level=${BENCH_LOG_LEVEL:-info}")"
PIDS+=("$GWN_PID")
ttfb "$GWN" 100 0 >/dev/null  # warm-up
ttfb_rounds 100 "$FWDN" "$GWN"; TTFB_FWDN_PACED=${TTFB[0]}; TTFB_GWN_PACED=${TTFB[1]}
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
  echo "## $(date -u +%Y-%m-%d) — $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr), ${ROUNDS} rounds of ${SLICE}s per row (rows taking turns), wrk -t1, $WORKERS worker thread(s) in the forwarder and in gatewayd"
  echo
  echo "gatewayd idle RSS: $((IDLE_RSS / 1024)) MiB. Ledger on (async, SQLite) in every gatewayd row; auth off unless the row says so."
  echo
  echo "Streaming TTFB, 32 clients x 300 requests back to back, $TTFB_ROUNDS runs each: straight from the mock: $TTFB_DIRECT; through the forwarder: $TTFB_FWD; through gatewayd: $TTFB_GW"
  echo
  echo "Streaming TTFB, 32 clients x 300 requests at 100/s each, $TTFB_ROUNDS runs each: straight from the mock: $TTFB_DIRECT_PACED; through the forwarder: $TTFB_FWD_PACED; through gatewayd: $TTFB_GW_PACED"
  echo
  echo "The same at 100/s each, gatewayd on its default worker count ($CORES, one per core) and the forwarder with $CORES threads: through the forwarder: $TTFB_FWDN_PACED; through gatewayd: $TTFB_GWN_PACED"
  echo
  echo "$SLOW_STREAMS concurrent slow streams (loopback, 200 ms between chunks, ~2 s each): $SLOW_RESULT; gatewayd peak RSS $SLOW_PEAK MiB"
  echo
  echo "$HEADER"
  echo "$RULE"
  printf '%s\n' "${RESULTS[@]}"
} >"$OUT/latest.md"
echo
echo "gatewayd idle RSS: $((IDLE_RSS / 1024)) MiB"
echo "streaming TTFB back to back: direct $TTFB_DIRECT; forwarder $TTFB_FWD; gatewayd $TTFB_GW"
echo "streaming TTFB at 100/s per client: direct $TTFB_DIRECT_PACED; forwarder $TTFB_FWD_PACED; gatewayd $TTFB_GW_PACED"
echo "streaming TTFB at 100/s per client, $CORES workers: forwarder $TTFB_FWDN_PACED; gatewayd $TTFB_GWN_PACED"
echo "$SLOW_STREAMS slow streams: $SLOW_RESULT; peak RSS $SLOW_PEAK MiB"
echo "table written to $OUT/latest.md (append it to bench/RESULTS.md to record it)"

#!/usr/bin/env bash
# Instructions per proxied request, counted by valgrind (callgrind): unlike
# CPU time, the count is the same from run to run whatever else the machine
# is doing, so it compares two builds or two settings reliably. It counts
# user-space instructions only (no kernel time), one worker thread.
#
# Usage: bench/instructions.sh [REQUESTS]   (needs valgrind; builds the release binaries)
# Each row runs the binary twice, with REQUESTS and 2×REQUESTS requests, and
# reports the difference per request (start-up and shutdown cancel out).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000}
command -v valgrind >/dev/null || { echo "needs valgrind (apt-get install -y valgrind)"; exit 1; }
[ -n "${BENCH_NO_BUILD:-}" ] || cargo build --release --locked -q -p tokgateway-gatewayd -p tokgateway-gateway -p tokgateway-bench
BIN=target/release
WORK=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT
"$BIN/mock-upstream" --threads 1 >"$WORK/mock.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 50); do grep -q 'listening on' "$WORK/mock.log" && break; sleep 0.1; done
MOCK=$(grep -oE '[0-9.]+:[0-9]+' "$WORK/mock.log" | head -1)

BODY='{"model":"gpt-bench","messages":[{"role":"user","content":"Say something about foxes."}],"max_tokens":64}'
SBODY='{"model":"gpt-bench","stream":true,"messages":[{"role":"user","content":"Say something about foxes."}],"max_tokens":64}'
LBODY='{"model":"loopback","messages":[{"role":"user","content":"Say something about foxes and dogs and cats."}]}'

# count N BODY COMMAND...: total instructions of COMMAND serving N requests.
count() {
  local n=$1 body=$2; shift 2
  local d; d=$(mktemp -d -p "$WORK")
  # Both runs of a row start from the same store (a copy of the row's
  # template), so its creation and migrations cancel out like the rest of
  # start-up rather than being counted against the first run only.
  if [ -n "${TEMPLATE:-}" ]; then
    cp -r "$TEMPLATE" "$d/data"
    # Exported, not passed through env(1): valgrind would count env, not gatewayd.
    export TOKGATEWAY_DATA_DIR="$d/data"
  fi
  valgrind --tool=callgrind --callgrind-out-file="$d/cg.out" "$@" >"$d/log" 2>&1 &
  local pid=$!
  for _ in $(seq 1 300); do grep -q 'listening on' "$d/log" && break; sleep 0.1; done
  local addr; addr=$(grep -oE 'listening on (http://)?[0-9.]+:[0-9]+' "$d/log" | head -1 | sed -E 's/.*listening on (http:\/\/)?//')
  "$BIN/streams" --url "http://$addr/v1/chat/completions" --conns 4 --requests $((n / 4)) --body "$body" ${BEARER:+--bearer "$BEARER"} >/dev/null
  kill -TERM "$pid"; wait "$pid" 2>/dev/null || true
  awk '/^summary:/ {print $2}' "$d/cg.out"
}
row() {
  local name=$1 body=$2; shift 2
  local a b
  a=$(count "$N" "$body" "$@"); b=$(count $((N * 2)) "$body" "$@")
  echo "| $name | $(( (b - a) / N )) |"
}
# Sets GW to a gatewayd command line (fresh config) with extra arguments, and
# TEMPLATE (exported as the data directory, so `gateway` commands of the row
# work on it) to a migrated store each run of the row copies (a function,
# not a command substitution: that would run the cleanup trap).
#
# The ledger's batches are flushed by size only (ledger.flush_interval=1h):
# under valgrind gatewayd serves ~50× fewer requests a second, so a 100 ms
# interval would cut batches of a few rows, each paying a transaction, where
# under load (bench/run.sh) batches fill to ledger.batch_size (512).
gatewayd_cmd() {
  local d; d=$(mktemp -d -p "$WORK"); mkdir -p "$d/cfg"
  printf '[provider.mock]\ntype = openai\nbase_url = http://%s/v1\nmodels = gpt-bench\n' "$MOCK" >"$d/cfg/setting.ini"
  TEMPLATE=$d/template
  export TOKGATEWAY_DATA_DIR="$TEMPLATE"
  "$BIN/gateway" --config "$d/cfg" users list >/dev/null
  GW=("$BIN/gatewayd" --config "$d/cfg" --listen 127.0.0.1:0 --set limits.worker_threads=1 --set ledger.flush_interval=1h "$@")
}
QUIET=(--set "log.level=info,tokgateway::request=warn")
echo "| target (one worker thread) | instructions/request |"
echo "|---|---|"
row "forwarder → mock" "$BODY" "$BIN/forwarder" --upstream "http://$MOCK"
row "forwarder → mock, stream" "$SBODY" "$BIN/forwarder" --upstream "http://$MOCK"
gatewayd_cmd; row "gatewayd → mock (defaults: ledger, request log lines)" "$BODY" "${GW[@]}"
gatewayd_cmd --set ledger.enabled=false "${QUIET[@]}"; row "gatewayd → mock, proxy alone (no ledger, no request lines)" "$BODY" "${GW[@]}"
gatewayd_cmd "${QUIET[@]}"; row "gatewayd → mock, ledger, no request lines" "$BODY" "${GW[@]}"
# Auth on: a key made with the CLI in the row's own data directory. Under
# valgrind sha2 takes its portable path (valgrind hides the CPU's SHA
# extensions), so this row counts ~3.5k instructions a real CPU does not run.
gatewayd_cmd --set auth.enabled=true "${QUIET[@]}"
"$BIN/gateway" --config "${GW[2]}" users create bench >/dev/null
BEARER=$("$BIN/gateway" --config "${GW[2]}" keys create --user bench --quiet)
row "gatewayd → mock, auth + ledger, no request lines" "$BODY" "${GW[@]}"
BEARER=
gatewayd_cmd; row "gatewayd → mock, stream (defaults)" "$SBODY" "${GW[@]}"
gatewayd_cmd; row "gatewayd loopback (defaults)" "$LBODY" "${GW[@]}"

# Shared helpers for the packaging scripts (sourced, not run).
# shellcheck shell=bash

# The repository root, whatever the caller's directory.
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export ROOT
# Python tools (maturin, hadolint, check-jsonschema, shellcheck) live in this venv.
DIST_VENV=${DIST_VENV:-$ROOT/.venv-dist}
# Everything `make dist-*` produces goes here.
DIST_OUT=${DIST_OUT:-$ROOT/dist}
export DIST_VENV DIST_OUT

die() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "  ok: $*"; }
note() { echo "  note: $*"; }

# The workspace version (root Cargo.toml [workspace.package]).
workspace_version() {
  python3 -c 'import tomllib,sys; print(tomllib.load(open(sys.argv[1],"rb"))["workspace"]["package"]["version"])' "$ROOT/Cargo.toml"
}

# The cargo-dist version pinned in dist-workspace.toml.
pinned_dist_version() {
  python3 -c 'import tomllib,sys; print(tomllib.load(open(sys.argv[1],"rb"))["dist"]["cargo-dist-version"])' "$ROOT/dist-workspace.toml"
}

host_triple() { rustc -vV | sed -n 's/^host: //p'; }

# `dist` at the pinned version: on PATH or in ~/.cargo/bin.
dist_bin() {
  local d
  for d in "$(command -v dist 2>/dev/null || true)" "${CARGO_HOME:-$HOME/.cargo}/bin/dist"; do
    if [ -n "$d" ] && [ -x "$d" ] && [ "$("$d" --version 2>/dev/null)" = "cargo-dist $(pinned_dist_version)" ]; then
      echo "$d"; return 0
    fi
  done
  return 1
}

# A free-running gatewayd: start_gatewayd LOGFILE CMD... ; sets GW_PID and GW_URL.
# The command must listen on 127.0.0.1:0; the URL is read from its start line.
start_gatewayd() {
  local log=$1; shift
  "$@" >"$log" 2>&1 &
  GW_PID=$!
  GW_URL=
  local _
  for _ in $(seq 1 100); do
    GW_URL=$(grep -o 'http://127\.0\.0\.1:[0-9]*' "$log" | head -n1 || true)
    [ -n "$GW_URL" ] && return 0
    kill -0 "$GW_PID" 2>/dev/null || { cat "$log" >&2; die "gatewayd exited before listening"; }
    sleep 0.1
  done
  cat "$log" >&2
  die "gatewayd did not log its URL within 10s"
}

stop_gatewayd() {
  if [ -n "${GW_PID:-}" ] && kill -0 "$GW_PID" 2>/dev/null; then
    # When the command is a shell function (as_nonroot), GW_PID is the
    # subshell running it and gatewayd its child: stop that too.
    pkill -TERM -P "$GW_PID" 2>/dev/null || true
    kill -TERM "$GW_PID" 2>/dev/null || true
    wait "$GW_PID" || true
  fi
  GW_PID=
}

# Asserts that URL/health answers {"status":"ok","version":VERSION}.
check_health() {
  local url=$1 version=$2 body
  body=$(curl -fsS --max-time 5 "$url/health") || die "GET $url/health failed"
  python3 - "$body" "$version" <<'PY' || die "unexpected /health body: $body"
import json, sys
b = json.loads(sys.argv[1])
assert b == {"status": "ok", "version": sys.argv[2]}, b
PY
}

# The console served at URL/console/ is the bundle in fe/dist (same index.html).
check_console() {
  local url=$1 body
  [ -f "$ROOT/fe/dist/index.html" ] || die "no fe/dist/index.html to compare the console with: run make console"
  body=$(curl -fsS --max-time 5 "$url/console/") || die "GET $url/console/ failed"
  [ "$body" = "$(cat "$ROOT/fe/dist/index.html")" ] || die "$url/console/ is not fe/dist/index.html"
}

# Runs one named step, printing its wall time; the total is kept in STEP_TIMES.
STEP_TIMES=()
step() {
  local name=$1; shift
  local t0 t1
  echo "== $name"
  t0=$(date +%s)
  "$@"
  t1=$(date +%s)
  echo "== $name: $((t1 - t0))s"
  STEP_TIMES+=("$(printf '%-28s %5ss' "$name" "$((t1 - t0))")")
}

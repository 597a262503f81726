#!/usr/bin/env bash
# Image rehearsal, without a Docker engine:
#  - hadolint passes; the Dockerfile pins the toolchain of rust-toolchain.toml
#    on bookworm, runs the shared build script, and its runtime stage is
#    distroless/cc-debian12:nonroot with USER nonroot, EXPOSE 8081,
#    VOLUME /data, ENTRYPOINT gatewayd and ENV live / 0.0.0.0:8081 / /data;
#    .dockerignore lets in every workspace member;
#  - the runtime stage's files (dist/docker/rootfs-linux-<arch>, built by the
#    builder stage's script) hold the binaries, config/ and the data dir;
#  - ldd: the binaries need only glibc and libgcc_s (what distroless/cc has)
#    and no glibc symbol newer than 2.36 (Debian 12);
#  - run from that tree as uid/gid 65532 (setpriv) with the Dockerfile's ENV
#    (paths into the tree, HOME not existing), only data/ writable:
#    `gatewayd check` accepts the image's exact config (live on 0.0.0.0:8081);
#    gatewayd starts (on 127.0.0.1:0 here: loopback only), logs auth on,
#    answers /health, refuses a request without a key (401), serves one with
#    a key made by `gateway keys create` (200), the HEALTHCHECK command
#    passes, and it wrote nothing outside data/;
#  - with auth off (env dev, or auth.enabled=false) on 0.0.0.0 it refuses to
#    start (exit 2), before binding anything;
#  - compose.yaml: gatewayd built from this Dockerfile with PostgreSQL
#    (store.url) and Redis (ratelimit.redis_url), healthchecks, volumes;
#  - every TOKGATEWAY_* name in the Dockerfile, compose.yaml and the systemd
#    unit is a documented configuration variable.
set -euo pipefail
# shellcheck source=packaging/lib.sh
. "$(dirname "$0")/lib.sh"
cd "$ROOT"
"$ROOT/packaging/ensure-tools.sh" >/dev/null
version=$(workspace_version)
case "$(uname -m)" in
  x86_64) arch=amd64 ;;
  aarch64 | arm64) arch=arm64 ;;
  *) die "unsupported machine $(uname -m)" ;;
esac

"$DIST_VENV/bin/hadolint" Dockerfile
ok "hadolint Dockerfile"

tmp=$(mktemp -d)
chmod 755 "$tmp"
trap 'stop_gatewayd; rm -rf "$tmp"' EXIT

# Dockerfile structure; writes the runtime ENV as KEY=VALUE lines.
"$DIST_VENV/bin/python" - "$tmp/image.env" <<'PY'
import json, re, sys, tomllib
text = open("Dockerfile").read().replace("\\\n", " ")
lines = [l.strip() for l in text.splitlines() if l.strip() and not l.strip().startswith("#")]
stages, cur = [], None
for l in lines:
    instr, _, rest = l.partition(" ")
    instr = instr.upper()
    if instr == "FROM":
        cur = {"from": rest, "instr": []}
        stages.append(cur)
    elif cur is not None:
        cur["instr"].append((instr, rest.strip()))
channel = tomllib.load(open("rust-toolchain.toml", "rb"))["toolchain"]["channel"]
args = dict(re.findall(r"^ARG RUST_VERSION=(\S+)", text, re.M) and [("RUST_VERSION", re.findall(r"^ARG RUST_VERSION=(\S+)", text, re.M)[0])])
assert args.get("RUST_VERSION") == channel, f"Dockerfile RUST_VERSION {args.get('RUST_VERSION')} != rust-toolchain.toml {channel}"
assert len(stages) == 2, [s["from"] for s in stages]
builder, runtime = stages
assert re.fullmatch(r"--platform=\$BUILDPLATFORM rust:\$\{RUST_VERSION\}-bookworm AS builder", builder["from"]), builder["from"]
assert any(i == "RUN" and "packaging/docker/build-runtime-tree.sh" in r for i, r in builder["instr"]), "builder does not run build-runtime-tree.sh"
assert runtime["from"] == "gcr.io/distroless/cc-debian12:nonroot", runtime["from"]
ri = runtime["instr"]
get = lambda k: [r for i, r in ri if i == k]
assert get("USER") == ["nonroot"], get("USER")
assert get("EXPOSE") == ["8081"], get("EXPOSE")
assert [json.loads(v) for v in get("VOLUME")] == [["/data"]], get("VOLUME")
assert [json.loads(v) for v in get("ENTRYPOINT")] == [["/usr/local/bin/gatewayd"]], get("ENTRYPOINT")
hc = get("HEALTHCHECK")
assert hc and '"/usr/local/bin/gateway", "status"' in hc[0], hc
assert any("--chown=65532:65532" in r and "/data" in r for r in get("COPY")), "/data not owned by nonroot"
env = {}
for r in get("ENV"):
    env.update(dict(re.findall(r'(\w+)=("[^"]*"|\S+)', r)))
want = {"TOKGATEWAY_ENV": "live", "TOKGATEWAY_SERVER_LISTEN": "0.0.0.0:8081", "TOKGATEWAY_DATA_DIR": "/data"}
for k, v in want.items():
    assert env.get(k) == v, (k, env.get(k))
with open(sys.argv[1], "w") as f:
    for k, v in env.items():
        f.write(f"{k}={v.strip(chr(34))}\n")
ignore = [l.strip() for l in open(".dockerignore") if l.strip() and not l.startswith("#")]
meta = tomllib.load(open("Cargo.toml", "rb"))["workspace"]
needed = ["Cargo.toml", "Cargo.lock", "config/", "packaging/docker/"] + [m.split("/")[0] + "/" for m in meta["members"]]
for n in needed:
    assert f"!{n}" in ignore, f".dockerignore does not let {n} in"
print(f"  ok: Dockerfile: rust {channel} bookworm builder, distroless/cc-debian12:nonroot, USER nonroot, 8081, /data, env {want}")
PY

tree_src="$DIST_OUT/docker/rootfs-linux-$arch"
if [ ! -x "$tree_src/usr/local/bin/gatewayd" ]; then
  note "no $tree_src (make dist-docker): building it"
  tree_src="$tmp/built"
  "$ROOT/packaging/docker/build-runtime-tree.sh" "$arch" "$tree_src"
fi
tree="$tmp/rootfs"
cp -R "$tree_src" "$tree"
chown -R 0:0 "$tree"
chmod -R go-w "$tree"
chown 65532:65532 "$tree/data"
for f in usr/local/bin/gateway usr/local/bin/gatewayd etc/tokgateway/setting.ini etc/tokgateway/live/gateway.ini; do
  [ -e "$tree/$f" ] || die "the runtime tree lacks /$f"
done
diff -r config "$tree/etc/tokgateway" >/dev/null || die "/etc/tokgateway differs from config/"
ok "runtime tree: /usr/local/bin/{gateway,gatewayd}, /etc/tokgateway = config/, /data"

for b in gateway gatewayd; do
  bin="$tree/usr/local/bin/$b"
  bad=$(ldd "$bin" | awk '{print $1}' | sed 's|.*/||' |
    grep -Ev '^(linux-vdso\.so\.1|linux-gate\.so\.1|libc\.so\.6|libm\.so\.6|libgcc_s\.so\.1|libpthread\.so\.0|libdl\.so\.2|librt\.so\.1|ld-linux-x86-64\.so\.2|ld-linux-aarch64\.so\.1)$' || true)
  [ -z "$bad" ] || die "$b needs libraries distroless/cc lacks: $bad"
  newest=$(objdump -T "$bin" | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -n1)
  [ "$(printf '%s\n2.36\n' "$newest" | sort -V | tail -n1)" = "2.36" ] || die "$b needs glibc $newest (> 2.36, Debian 12)"
  ok "$b: libraries $(ldd "$bin" | awk '{print $1}' | sed 's|.*/||' | tr '\n' ' '); newest glibc symbol $newest"
done

# The image's environment, with its absolute paths moved into the tree.
run_env=(HOME=/home/nonroot PATH="$tree/usr/local/bin")
while IFS='=' read -r k v; do
  case "$v" in /*) v="$tree$v" ;; esac
  run_env+=("$k=$v")
done <"$tmp/image.env"
# as_nonroot [NAME=VALUE...] CMD...: runs CMD as 65532:65532 in /data with only that environment.
# `exec`: the subshell becomes the command, so a PID taken of it (start_gatewayd) is gatewayd's own.
as_nonroot() { (cd "$tree/data" && exec setpriv --reuid=65532 --regid=65532 --clear-groups env -i "${run_env[@]}" "$@"); }

out=$(as_nonroot "$tree/usr/local/bin/gatewayd" check) || die "gatewayd check rejects the image's configuration: $out"
case "$out" in *"environment live"*) ;; *) die "gatewayd check: $out" ;; esac
ok "gatewayd check with the image's ENV (live, 0.0.0.0:8081): $out"

touch "$tmp/marker"
sleep 1
start_gatewayd "$tmp/gatewayd.log" as_nonroot "$tree/usr/local/bin/gatewayd" --listen 127.0.0.1:0
if ! { grep -q '"auth":"on"' "$tmp/gatewayd.log" && grep -q '"env":"live"' "$tmp/gatewayd.log"; }; then
  cat "$tmp/gatewayd.log" >&2; die "the start line does not say env live, auth on"
fi
check_health "$GW_URL" "$version"
check_console "$GW_URL"
body='{"model":"loopback","messages":[{"role":"user","content":"hello"}]}'
code=$(curl -s -o /dev/null -w '%{http_code}' -H 'content-type: application/json' -d "$body" "$GW_URL/v1/chat/completions")
[ "$code" = 401 ] || die "a request without a key got $code, not 401"
as_nonroot "$tree/usr/local/bin/gateway" users create rehearsal >"$tmp/users.log" 2>&1 || { cat "$tmp/users.log" >&2; die "gateway users create failed"; }
key=$(as_nonroot "$tree/usr/local/bin/gateway" keys create --user rehearsal --quiet)
case "$key" in tgw_*) ;; *) die "gateway keys create printed '$key'" ;; esac
code=$(curl -s -o "$tmp/chat.json" -w '%{http_code}' -H 'content-type: application/json' \
  -H "authorization: Bearer $key" -d "$body" "$GW_URL/v1/chat/completions")
[ "$code" = 200 ] || die "a request with a key got $code: $(cat "$tmp/chat.json")"
as_nonroot "$tree/usr/local/bin/gateway" status --quiet --url "$GW_URL" >/dev/null || die "the HEALTHCHECK command (gateway status) failed"
stop_gatewayd
[ -f "$tree/data/gateway.db" ] && [ "$(stat -c %u:%g "$tree/data/gateway.db")" = 65532:65532 ] || die "no store in /data owned by 65532"
changed=$(find "$tree" -newer "$tmp/marker" ! -path "$tree/data" ! -path "$tree/data/*" -print)
[ -z "$changed" ] || die "gatewayd wrote outside /data: $changed"
ok "as 65532 with the image's ENV: started (env live, auth on), /health, the console, 401 without a key, 200 with one, HEALTHCHECK ok, writes only in /data"

refuse() { # refuse DESCRIPTION ENV... : gatewayd must exit 2 saying it refuses
  local what=$1 rc=0; shift
  as_nonroot "$@" "$tree/usr/local/bin/gatewayd" >"$tmp/refuse.log" 2>&1 || rc=$?
  if ! { [ "$rc" = 2 ] && grep -q "refusing to listen on 0.0.0.0" "$tmp/refuse.log"; }; then
    cat "$tmp/refuse.log" >&2; die "gatewayd did not refuse ($what): exit $rc"
  fi
}
refuse "env dev" TOKGATEWAY_ENV=dev
refuse "auth.enabled=false" TOKGATEWAY_AUTH_ENABLED=false
ok "auth off on 0.0.0.0:8081 (env dev, or TOKGATEWAY_AUTH_ENABLED=false): refused, exit 2"

"$DIST_VENV/bin/python" - <<'PY'
import re, yaml
c = yaml.safe_load(open("compose.yaml"))
s = c["services"]
assert set(s) >= {"gatewayd", "postgres", "redis"}, s.keys()
g = s["gatewayd"]
assert g["build"] == "." and any(p.endswith(":8081") for p in g["ports"])
env = g["environment"]
assert env["TOKGATEWAY_ENV"] == "live"
assert re.fullmatch(r"postgres://[^:]+:[^@]+@postgres:5432/\w+", env["TOKGATEWAY_STORE_URL"]), env["TOKGATEWAY_STORE_URL"]
assert re.fullmatch(r"redis://redis:6379(/\d+)?", env["TOKGATEWAY_RATELIMIT_REDIS_URL"]), env["TOKGATEWAY_RATELIMIT_REDIS_URL"]
assert any(v.endswith(":/data") for v in g["volumes"])
for dep in ("postgres", "redis"):
    assert g["depends_on"][dep]["condition"] == "service_healthy"
    assert "healthcheck" in s[dep], dep
pg = s["postgres"]["environment"]
user, pw, db = re.match(r"postgres://([^:]+):([^@]+)@postgres:5432/(\w+)", env["TOKGATEWAY_STORE_URL"]).groups()
assert (pg["POSTGRES_USER"], pg["POSTGRES_PASSWORD"], pg["POSTGRES_DB"]) == (user, pw, db), "store.url does not match the postgres service"
print("  ok: compose.yaml: gatewayd (this Dockerfile, live) + postgres (store.url) + redis (ratelimit.redis_url), healthchecks")
PY

python3 - <<'PY'
import re
documented = set(re.findall(r"`(TOKGATEWAY_[A-Z0-9_]+)`", open("docs/configuration.md").read()))
# Chosen by variable rather than a key (docs/configuration.md, crates/core/src/dirs.rs).
documented |= {"TOKGATEWAY_CONFIG_DIR", "TOKGATEWAY_ENV", "TOKGATEWAY_DATA_DIR"}
used = {}
for f in ("Dockerfile", "compose.yaml", "packaging/systemd/gatewayd.service"):
    for name in re.findall(r"\b(TOKGATEWAY_[A-Z0-9_]+)", open(f).read()):
        used.setdefault(name, f)
unknown = {n: f for n, f in used.items() if n not in documented}
assert not unknown, f"undocumented variables: {unknown}"
print(f"  ok: {len(used)} TOKGATEWAY_* variables in Dockerfile, compose.yaml, systemd unit are documented")
PY

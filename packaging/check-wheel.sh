#!/usr/bin/env bash
# Checks dist/python/ (make dist-python):
#  - python-package/ agrees with the workspace: same version, same release
#    and dist profiles, same LICENSE, Cargo.lock seeded from the root one;
#  - the wheel: named tokgateway-<version>-py3-none-<platform>.whl, tag
#    py3-none-*, holding exactly the two executables in .data/scripts/
#    plus metadata (name, version, license, summary);
#  - installed into a fresh venv from dist/python only (--no-index), the
#    venv's bin/gateway and bin/gatewayd run, and that gatewayd answers /health;
#  - the sdist: small, no tests or build output, and its manifest resolves
#    offline with the shipped Cargo.lock (--locked).
set -euo pipefail
# shellcheck source=packaging/lib.sh
. "$(dirname "$0")/lib.sh"
cd "$ROOT"
dir="$DIST_OUT/python"
version=$(workspace_version)

python3 - "$version" <<'PY'
import sys, tomllib
version = sys.argv[1]
root = tomllib.load(open("Cargo.toml", "rb"))
py = tomllib.load(open("python-package/Cargo.toml", "rb"))
assert py["package"]["version"] == version, ("python-package version", py["package"]["version"], version)
for prof in ("release", "dist"):
    assert py["profile"][prof] == root["profile"][prof], (prof, py["profile"][prof], root["profile"][prof])
bins = sorted(b["name"] for b in py["bin"])
assert bins == ["gateway", "gatewayd"], bins
assert "lib" not in py and py["package"].get("autolib") is False, "a lib target would collide with the bin names"
pp = tomllib.load(open("python-package/pyproject.toml", "rb"))
assert pp["tool"]["maturin"]["bindings"] == "bin"
assert pp["project"]["name"] == "tokgateway"
print(f"  ok: python-package: version {version}, profiles, bins gateway+gatewayd, bindings=bin")
PY
cmp -s LICENSE python-package/LICENSE || die "python-package/LICENSE differs from LICENSE"

shopt -s nullglob
wheels=("$dir"/tokgateway-"$version"-py3-none-*.whl)
sdists=("$dir"/tokgateway-"$version".tar.gz)
[ ${#wheels[@]} -eq 1 ] || die "expected one tokgateway-$version-py3-none-*.whl in $dir, found ${#wheels[@]}"
[ ${#sdists[@]} -eq 1 ] || die "expected tokgateway-$version.tar.gz in $dir"
wheel=${wheels[0]}
sdist=${sdists[0]}

python3 - "$wheel" "$version" <<'PY'
import email, sys, zipfile
wheel, version = sys.argv[1], sys.argv[2]
z = zipfile.ZipFile(wheel)
names = z.namelist()
data = f"tokgateway-{version}.data/scripts/"
info = f"tokgateway-{version}.dist-info/"
scripts = sorted(n[len(data):] for n in names if n.startswith(data))
exe = ".exe" if any(s.endswith(".exe") for s in scripts) else ""
assert scripts == [f"gateway{exe}", f"gatewayd{exe}"], scripts
others = [n for n in names if not n.startswith(data) and not n.startswith(info)]
assert not others, f"unexpected files in the wheel: {others}"
for s in scripts:
    mode = z.getinfo(data + s).external_attr >> 16
    assert exe or mode & 0o111, f"{s} is not executable in the wheel ({oct(mode)})"
wh = email.message_from_bytes(z.read(info + "WHEEL"))
tags = wh.get_all("Tag")
assert tags and all(t.startswith("py3-none-") for t in tags), tags
assert wh["Root-Is-Purelib"] == "false"
meta = email.message_from_bytes(z.read(info + "METADATA"))
assert meta["Name"] == "tokgateway" and meta["Version"] == version, (meta["Name"], meta["Version"])
assert meta["License-Expression"] == "Apache-2.0", meta["License-Expression"]
assert meta["Summary"] and meta["Requires-Python"], "summary / requires-python"
assert any(n.startswith(info + "licenses/LICENSE") for n in names), "no LICENSE in dist-info"
print(f"  ok: {wheel.rsplit('/', 1)[-1]}: tags {', '.join(tags)}; scripts {', '.join(scripts)}; metadata")
PY

tmp=$(mktemp -d)
trap 'stop_gatewayd; rm -rf "$tmp"' EXIT
python3 -m venv "$tmp/venv"
"$tmp/venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-index --find-links "$dir" "tokgateway==$version"
for app in gateway gatewayd; do
  [ "$("$tmp/venv/bin/$app" --version)" = "$app $version" ] || die "venv $app --version printed '$("$tmp/venv/bin/$app" --version)'"
done
# On PATH, as an activated venv (or pip --user / uv tool) has it.
[ "$(env PATH="$tmp/venv/bin:/usr/bin:/bin" sh -c 'command -v gatewayd')" = "$tmp/venv/bin/gatewayd" ] || die "gatewayd not on the venv's PATH"
mkdir -p "$tmp/home"
start_gatewayd "$tmp/gatewayd.log" env HOME="$tmp/home" TOKGATEWAY_DATA_DIR="$tmp/data" \
  "$tmp/venv/bin/gatewayd" --listen 127.0.0.1:0
check_health "$GW_URL" "$version"
stop_gatewayd
ok "pip install --no-index into a fresh venv: bin/gateway and bin/gatewayd run; gatewayd answers /health"

size=$(stat -c %s "$sdist")
[ "$size" -lt 1048576 ] || die "the sdist is $size bytes (over 1 MiB)"
tar -tzf "$sdist" >"$tmp/sdist.list"
for f in pyproject.toml Cargo.toml python-package/Cargo.toml python-package/Cargo.lock \
  python-package/src/bin/gateway.rs python-package/src/bin/gatewayd.rs \
  crates/gateway/src/lib.rs crates/gatewayd/src/lib.rs crates/core/src/lib.rs; do
  grep -qx "tokgateway-$version/$f" "$tmp/sdist.list" || die "the sdist lacks $f"
done
if grep -E '/(tests|target|bench|node_modules)/' "$tmp/sdist.list"; then die "the sdist carries tests or build output"; fi
tar -xzf "$sdist" -C "$tmp"
cargo metadata --quiet --format-version 1 --locked --offline \
  --manifest-path "$tmp/tokgateway-$version/python-package/Cargo.toml" >/dev/null ||
  die "the sdist's Cargo manifests do not resolve with its Cargo.lock"
ok "sdist: $((size / 1024)) KiB, $(wc -l <"$tmp/sdist.list") files, sources without tests, resolves --locked --offline"

#!/usr/bin/env bash
# Checks the global artifacts in dist/rust/ (make dist-rust):
#  - shell installers: with dist/rust/ served on 127.0.0.1, each installer
#    (<APP>_DOWNLOAD_URL, <APP>_UNMANAGED_INSTALL, env names from the
#    manifest) downloads its archive, verifies the embedded sha256, installs
#    into a temp dir, and the installed commands run; the documented
#    "both commands" line (gatewayd's then gateway's installer into one
#    prefix, via INSTALLER_DOWNLOAD_URL) gives a working pair;
#  - powershell installers name their Windows zip;
#  - Homebrew formulas: one per app, URLs for the four non-Windows targets
#    under the release's download URL, sha256 equal to the .sha256 files of
#    the archives built here, the binaries installed, the gatewayd formula
#    depending on the gateway one; `ruby -c` when ruby is installed.
set -euo pipefail
# shellcheck source=packaging/lib.sh
. "$(dirname "$0")/lib.sh"
cd "$ROOT"
dir="$DIST_OUT/rust"
version=$(workspace_version)
host=$(host_triple)
[ -f "$dir/dist-manifest.json" ] || die "no $dir/dist-manifest.json: run make dist-rust first"

tmp=$(mktemp -d)
server_pid=
cleanup() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
python3 "$ROOT/packaging/serve-dir.py" "$dir" >"$tmp/server.out" 2>"$tmp/server.log" &
server_pid=$!
for _ in $(seq 1 50); do [ -s "$tmp/server.out" ] && break; sleep 0.1; done
base=$(head -n1 "$tmp/server.out")
[ -n "$base" ] || die "the local file server did not start"

env_var() { # env_var APP KEY -> the installer's environment variable name, from the manifest
  python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); print(next(r["env"][sys.argv[3]] for r in m["releases"] if r["app_name"]==sys.argv[2]))' \
    "$dir/dist-manifest.json" "$1" "$2"
}

for app in gateway gatewayd; do
  id="tokgateway-$app"
  prefix="$tmp/$app-prefix"
  home="$tmp/$app-home"
  mkdir -p "$home"
  env -i PATH="$PATH" HOME="$home" \
    "$(env_var "$id" download_url_env_var)=$base" \
    "$(env_var "$id" unmanaged_dir_env_var)=$prefix" \
    sh "$dir/$id-installer.sh" --quiet >"$tmp/$app-install.log" 2>&1 ||
    { cat "$tmp/$app-install.log" >&2; die "$id-installer.sh failed"; }
  [ "$("$prefix/$app" --version)" = "$app $version" ] || die "installed $app --version is wrong"
  [ -z "$(find "$home" -mindepth 1 -print -quit)" ] || die "$id-installer.sh wrote into HOME: $(find "$home" -mindepth 1)"
  ok "$id-installer.sh from $base: installed $prefix/$app, runs, HOME untouched"
done

# The documented way to get both commands from the installers: both scripts, one prefix.
both="$tmp/both"
for id in tokgateway-gatewayd tokgateway-gateway; do
  env -i PATH="$PATH" HOME="$tmp/both-home" INSTALLER_DOWNLOAD_URL="$base" \
    "$(env_var "$id" unmanaged_dir_env_var)=$both" \
    sh "$dir/$id-installer.sh" --quiet >>"$tmp/both.log" 2>&1 || { cat "$tmp/both.log" >&2; die "$id-installer.sh (INSTALLER_DOWNLOAD_URL) failed"; }
done
"$both/gateway" --version >/dev/null || die "both installers into one prefix: no gateway"
"$both/gatewayd" --version >/dev/null || die "both installers into one prefix: no gatewayd"
ok "both installers into one prefix (INSTALLER_DOWNLOAD_URL): gateway and gatewayd run"

# A tampered archive must be refused by the installer's checksum.
cp -R "$dir" "$tmp/tampered"
printf 'x' >>"$tmp/tampered/tokgateway-gateway-$host.tar.xz"
if env -i PATH="$PATH" HOME="$tmp/t-home" INSTALLER_DOWNLOAD_URL="file://$tmp/tampered" \
  TOKGATEWAY_GATEWAY_UNMANAGED_INSTALL="$tmp/t-prefix" \
  sh "$dir/tokgateway-gateway-installer.sh" >"$tmp/tampered.log" 2>&1; then
  die "the shell installer accepted an archive whose sha256 does not match"
fi
grep -q "checksum mismatch" "$tmp/tampered.log" || { cat "$tmp/tampered.log" >&2; die "the installer failed, but not on the checksum"; }
ok "the shell installer refuses an archive whose sha256 does not match"

for app in gateway gatewayd; do
  grep -q "tokgateway-$app-x86_64-pc-windows-msvc.zip" "$dir/tokgateway-$app-installer.ps1" ||
    die "tokgateway-$app-installer.ps1 does not name its Windows zip"
done
ok "powershell installers name tokgateway-<app>-x86_64-pc-windows-msvc.zip"

python3 - "$dir" "$version" "$host" <<'PY'
import json, pathlib, re, sys
d = pathlib.Path(sys.argv[1]); version = sys.argv[2]; host = sys.argv[3]
m = json.load(open(d / "dist-manifest.json"))
for r in m["releases"]:
    app = r["app_name"]; binary = app.removeprefix("tokgateway-")
    gh = r["hosting"]["github"]
    base = gh["artifact_base_url"] + gh["artifact_download_path"]
    assert base == f"https://github.com/tokgateway/tokgateway/releases/download/v{version}", base
    rb = (d / f"{app}.rb").read_text()
    cls = "".join(p.capitalize() for p in app.split("-"))
    assert f"class {cls} < Formula" in rb, cls
    assert f'version "{version}"' in rb
    assert 'homepage "https://github.com/tokgateway/tokgateway"' in rb
    assert 'license "Apache-2.0"' in rb
    assert re.search(r'^\s*desc "\S.*"$', rb, re.M), "desc"
    urls = re.findall(r'url "([^"]+)"', rb)
    want = [f"{base}/{app}-{t}.tar.xz" for t in
            ("aarch64-apple-darwin", "x86_64-apple-darwin", "aarch64-unknown-linux-gnu", "x86_64-unknown-linux-gnu")]
    assert sorted(urls) == sorted(want), urls
    # The archive built here: its sha256 follows its url line and equals the .sha256 file.
    name = f"{app}-{host}.tar.xz"
    sha_file = (d / f"{name}.sha256").read_text().split()[0]
    mm = re.search(re.escape(f'url "{base}/{name}"') + r'\s*\n\s*sha256 "([0-9a-f]{64})"', rb)
    assert mm, f"{app}.rb has no sha256 for {name}"
    assert mm.group(1) == sha_file, (mm.group(1), sha_file)
    assert f'bin.install "{binary}"' in rb, binary
    if app == "tokgateway-gatewayd":
        assert 'depends_on "tokgateway/tap/tokgateway-gateway"' in rb
    print(f"  ok: {app}.rb: 4 URLs under {base}, sha256 of {name} matches, installs {binary}")
PY
if command -v ruby >/dev/null 2>&1; then
  for f in "$dir"/*.rb; do ruby -c "$f" >/dev/null || die "ruby -c $f"; done
  ok "formulas parse (ruby -c)"
else
  note "ruby not installed: formula syntax not checked"
fi

#!/usr/bin/env bash
# Checks dist/rust/ (make dist-rust):
#  - the plan: two apps at the workspace version, each with an archive and a
#    .sha256 for all five targets, the shell/powershell installers, a Homebrew
#    formula and an MSI, named tokgateway-<app>-<target>.<ext>;
#  - this target's archives: checksum files match, each carries its binary,
#    README.md, LICENSE and config/ (identical to the repo's), gatewayd's
#    also the systemd unit;
#  - unpacked, `gateway --version` and `gatewayd --version` print the version,
#    `gatewayd check` accepts the shipped config/ in every environment, and a
#    gatewayd on the shipped config/ answers /health (and `gateway status`)
#    and serves the console built into it (fe/dist).
set -euo pipefail
# shellcheck source=packaging/lib.sh
. "$(dirname "$0")/lib.sh"
cd "$ROOT"
dir="$DIST_OUT/rust"
version=$(workspace_version)
host=$(host_triple)
[ -f "$dir/dist-manifest.json" ] || die "no $dir/dist-manifest.json: run make dist-rust first"

python3 - "$dir/dist-manifest.json" "$version" <<'PY'
import json, sys
m = json.load(open(sys.argv[1])); version = sys.argv[2]
apps = {r["app_name"]: r for r in m["releases"]}
assert set(apps) == {"tokgateway-gateway", "tokgateway-gatewayd"}, apps.keys()
assert m["announcement_tag"] == f"v{version}", m["announcement_tag"]
targets = ["x86_64-unknown-linux-gnu", "aarch64-unknown-linux-gnu", "x86_64-apple-darwin",
           "aarch64-apple-darwin", "x86_64-pc-windows-msvc"]
for app, r in apps.items():
    assert r["app_version"] == version, (app, r["app_version"])
    arts = set(r["artifacts"])
    want = set()
    for t in targets:
        ext = ".zip" if "windows" in t else ".tar.xz"
        want |= {f"{app}-{t}{ext}", f"{app}-{t}{ext}.sha256"}
    want |= {f"{app}-installer.sh", f"{app}-installer.ps1", f"{app}.rb",
             f"{app}-x86_64-pc-windows-msvc.msi"}
    missing = want - arts
    assert not missing, (app, sorted(missing))
    # Each archive carries exactly its own binary.
    for t in targets:
        ext = ".zip" if "windows" in t else ".tar.xz"
        a = m["artifacts"][f"{app}-{t}{ext}"]
        exes = [x["path"] for x in a["assets"] if x["kind"] == "executable"]
        binary = app.removeprefix("tokgateway-") + (".exe" if "windows" in t else "")
        assert exes == [binary], (a["name"], exes)
        names = {x["name"] for x in a["assets"]}
        assert {"README.md", "LICENSE", "config"} <= names, (a["name"], names)
        if app == "tokgateway-gatewayd":
            assert "gatewayd.service" in names, (a["name"], names)
        else:
            assert "gatewayd.service" not in names, (a["name"], names)
print(f"  ok: plan: 2 apps x 5 targets, installers sh/ps1/homebrew/msi, version {version}")
PY

tmp=$(mktemp -d)
trap 'stop_gatewayd; rm -rf "$tmp"' EXIT
for app in gateway gatewayd; do
  name="tokgateway-$app-$host"
  archive="$dir/$name.tar.xz"
  [ -f "$archive" ] || die "missing $archive"
  want=$(cut -d' ' -f1 "$archive.sha256")
  got=$(sha256sum "$archive" | cut -d' ' -f1)
  [ "$want" = "$got" ] || die "$archive.sha256 says $want, the file hashes to $got"
  tar -xJf "$archive" -C "$tmp"
  root="$tmp/$name"
  for f in "$app" README.md LICENSE CHANGELOG.md config/setting.ini; do
    [ -e "$root/$f" ] || die "$name.tar.xz lacks $f"
  done
  diff -r config "$root/config" >/dev/null || die "$name.tar.xz: config/ differs from the repository's"
  cmp -s LICENSE "$root/LICENSE" || die "$name.tar.xz: LICENSE differs"
  if [ "$app" = gatewayd ]; then
    cmp -s packaging/systemd/gatewayd.service "$root/gatewayd.service" || die "$name.tar.xz: systemd unit missing or different"
  elif [ -e "$root/gatewayd.service" ]; then
    die "$name.tar.xz carries gatewayd.service"
  fi
  [ "$("$root/$app" --version)" = "$app $version" ] || die "$app --version printed '$("$root/$app" --version)'"
  ok "$name.tar.xz: sha256, contents, \`$app --version\` = $app $version"
done

gw="$tmp/tokgateway-gateway-$host/gateway"
gwd="$tmp/tokgateway-gatewayd-$host/gatewayd"
cfg="$tmp/tokgateway-gatewayd-$host/config"
export HOME="$tmp/home" TOKGATEWAY_DATA_DIR="$tmp/data"
mkdir -p "$HOME"
for env in dev test live; do
  "$gwd" --config "$cfg" --env "$env" check >/dev/null || die "gatewayd check rejects the shipped config/ (env $env)"
done
ok "gatewayd check accepts the shipped config/ (dev, test, live)"
start_gatewayd "$tmp/gatewayd.log" "$gwd" --config "$cfg" --listen 127.0.0.1:0
check_health "$GW_URL" "$version"
check_console "$GW_URL"
"$gw" --config "$cfg" status --quiet --url "$GW_URL" >/dev/null || die "gateway status failed against $GW_URL"
stop_gatewayd
ok "unpacked gatewayd on the shipped config/ answers /health at $GW_URL and serves its built-in console; gateway status agrees"

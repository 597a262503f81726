#!/usr/bin/env bash
# Checks packaging/winget/generate.py against dist/rust/dist-manifest.json.
# The Windows zips cannot be built here (MSVC target), so each zip is a
# stand-in laid out as dist's manifest says (flat, <bin>.exe at the root)
# with a .sha256 file in dist's format; the release workflow runs the same
# generator on the real zips. Proves:
#  - two packages, tokgateway.gateway and tokgateway.gatewayd, three
#    manifests each (version, installer, defaultLocale), one version/schema;
#  - InstallerUrl = the release's download URL + the zip's name from the
#    manifest (the same base the Homebrew formulas and installers use);
#  - InstallerSha256 = the .sha256 file = the zip's hash;
#  - NestedInstallerFiles names the executable that is in the zip, aliased to
#    the command name; gatewayd depends on gateway (one install, both commands);
#  - a .sha256 that disagrees with the zip, or no checksum at all, is an error.
set -euo pipefail
# shellcheck source=packaging/lib.sh
. "$(dirname "$0")/lib.sh"
cd "$ROOT"
"$ROOT/packaging/ensure-tools.sh" >/dev/null
manifest="$DIST_OUT/rust/dist-manifest.json"
[ -f "$manifest" ] || die "no $manifest: run make dist-rust first"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/artifacts"

# Stand-in zips, one file per asset the manifest lists.
"$DIST_VENV/bin/python" - "$manifest" "$tmp/artifacts" <<'PY'
import hashlib, json, pathlib, sys, zipfile
m = json.load(open(sys.argv[1])); out = pathlib.Path(sys.argv[2])
for name, a in m["artifacts"].items():
    if name.endswith("-x86_64-pc-windows-msvc.zip"):
        with zipfile.ZipFile(out / name, "w") as z:
            for asset in a["assets"]:
                z.writestr(asset["path"] + ("/README" if asset["name"] == "config" else ""), f"stand-in {asset['name']}\n")
        digest = hashlib.sha256((out / name).read_bytes()).hexdigest()
        (out / f"{name}.sha256").write_text(f"{digest} *{name}\n")
PY

"$DIST_VENV/bin/python" packaging/winget/generate.py --manifest "$manifest" --artifacts "$tmp/artifacts" --out "$tmp/out" >/dev/null
"$DIST_VENV/bin/python" - "$manifest" "$tmp/artifacts" "$tmp/out" "$(workspace_version)" <<'PY'
import json, pathlib, sys, zipfile, yaml
m = json.load(open(sys.argv[1])); arts = pathlib.Path(sys.argv[2]); out = pathlib.Path(sys.argv[3]); version = sys.argv[4]
files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.yaml"))
want = []
for short in ("gateway", "gatewayd"):
    ident = f"tokgateway.{short}"
    for suffix in ("", ".installer", ".locale.en-US"):
        want.append(f"manifests/t/tokgateway/{short}/{version}/{ident}{suffix}.yaml")
assert files == sorted(want), files
releases = {r["app_name"]: r for r in m["releases"]}
for short in ("gateway", "gatewayd"):
    app = f"tokgateway-{short}"; ident = f"tokgateway.{short}"
    d = out / f"manifests/t/tokgateway/{short}/{version}"
    ver = yaml.safe_load((d / f"{ident}.yaml").read_text())
    inst = yaml.safe_load((d / f"{ident}.installer.yaml").read_text())
    loc = yaml.safe_load((d / f"{ident}.locale.en-US.yaml").read_text())
    for doc, kind in ((ver, "version"), (inst, "installer"), (loc, "defaultLocale")):
        assert doc["PackageIdentifier"] == ident and str(doc["PackageVersion"]) == version, doc
        assert doc["ManifestType"] == kind and doc["ManifestVersion"] == "1.9.0", doc
    assert ver["DefaultLocale"] == "en-US" == loc["PackageLocale"]
    zip_name = f"{app}-x86_64-pc-windows-msvc.zip"
    assert zip_name in releases[app]["artifacts"], zip_name
    gh = releases[app]["hosting"]["github"]
    (i,) = inst["Installers"]
    assert i["Architecture"] == "x64"
    assert i["InstallerUrl"] == f"https://github.com/tokgateway/tokgateway/releases/download/v{version}/{zip_name}", i["InstallerUrl"]
    assert i["InstallerUrl"] == gh["artifact_base_url"] + gh["artifact_download_path"] + "/" + zip_name
    sha_file = (arts / f"{zip_name}.sha256").read_text().split()[0]
    assert i["InstallerSha256"] == sha_file.upper(), (i["InstallerSha256"], sha_file)
    assert inst["InstallerType"] == "zip" and inst["NestedInstallerType"] == "portable"
    (nested,) = inst["NestedInstallerFiles"]
    assert nested == {"RelativeFilePath": f"{short}.exe", "PortableCommandAlias": short}, nested
    assert f"{short}.exe" in zipfile.ZipFile(arts / zip_name).namelist()
    assert inst["Commands"] == [short]
    if short == "gatewayd":
        assert inst["Dependencies"]["PackageDependencies"] == [
            {"PackageIdentifier": "tokgateway.gateway", "MinimumVersion": version}], inst.get("Dependencies")
    else:
        assert "Dependencies" not in inst
    assert loc["License"] == "Apache-2.0" and loc["ShortDescription"] and loc["Publisher"]
    print(f"  ok: {ident} {version}: {zip_name}, sha256 {sha_file[:12]}…, {short}.exe -> {short}")
PY

# Disagreeing checksum, then no checksum at all: both refused.
cp -R "$tmp/artifacts" "$tmp/bad"
f=$(find "$tmp/bad" -name 'tokgateway-gateway-*.zip.sha256')
echo "0000000000000000000000000000000000000000000000000000000000000000 *x.zip" >"$f"
if "$DIST_VENV/bin/python" packaging/winget/generate.py --manifest "$manifest" --artifacts "$tmp/bad" --out "$tmp/bad-out" >/dev/null 2>&1; then
  die "generate.py accepted a .sha256 that disagrees with the zip"
fi
if "$DIST_VENV/bin/python" packaging/winget/generate.py --manifest "$manifest" --artifacts "$tmp/empty" --out "$tmp/none-out" >/dev/null 2>&1; then
  die "generate.py wrote manifests without any checksum"
fi
ok "generate.py refuses disagreeing or missing checksums"

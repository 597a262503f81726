#!/usr/bin/env bash
# python-package/Cargo.lock = the root Cargo.lock, pruned by cargo to what the
# python-package workspace uses: the wheel builds the same dependency
# versions as the archives and the image, and nothing is resolved anew.
set -euo pipefail
# shellcheck source=packaging/lib.sh
. "$(dirname "$0")/lib.sh"
cp "$ROOT/Cargo.lock" "$ROOT/python-package/Cargo.lock"
cargo metadata --quiet --format-version 1 --manifest-path "$ROOT/python-package/Cargo.toml" >/dev/null
# Every package version in it must come from the root lock.
python3 - "$ROOT/Cargo.lock" "$ROOT/python-package/Cargo.lock" <<'PY'
import sys, tomllib
root = {(p["name"], p["version"]) for p in tomllib.load(open(sys.argv[1], "rb"))["package"]}
py = [(p["name"], p["version"]) for p in tomllib.load(open(sys.argv[2], "rb"))["package"]]
extra = [p for p in py if p not in root and p[0] != "tokgateway"]
if extra:
    sys.exit(f"python-package/Cargo.lock has versions the root lock lacks: {extra}")
PY

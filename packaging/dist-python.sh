#!/usr/bin/env bash
# make dist-python: the tokgateway wheel for this machine (maturin,
# bindings = "bin": gateway and gatewayd on PATH) and the sdist. Output: dist/python/.
# Built with the `dist` profile and an explicit --target into target/, like
# `dist build`, so the dependencies it compiled are reused.
set -euo pipefail
# shellcheck source=packaging/lib.sh
. "$(dirname "$0")/lib.sh"
cd "$ROOT"

"$ROOT/packaging/ensure-tools.sh" >/dev/null
"$ROOT/packaging/seed-python-lock.sh"
out="$DIST_OUT/python"
rm -rf "$out"
mkdir -p "$out"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
(cd python-package &&
  "$DIST_VENV/bin/maturin" build --profile dist --target "$(host_triple)" --out "$out" &&
  "$DIST_VENV/bin/maturin" sdist --out "$out")
echo "dist-python: $(cd "$out" && ls)"

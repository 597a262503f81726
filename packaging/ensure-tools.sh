#!/usr/bin/env bash
# Installs what the packaging steps need, when missing:
#   - cargo-dist (`dist`) at the version pinned in dist-workspace.toml, from crates.io;
#   - a venv (.venv-dist, or $DIST_VENV) with packaging/requirements-dist.txt, from PyPI.
set -euo pipefail
# shellcheck source=packaging/lib.sh
. "$(dirname "$0")/lib.sh"

want=$(pinned_dist_version)
if d=$(dist_bin); then
  ok "dist $want ($d)"
else
  echo "  installing cargo-dist $want (cargo install, a few minutes)"
  t0=$(date +%s)
  cargo install cargo-dist --locked --version "$want" --quiet
  ok "cargo-dist $want installed in $(( $(date +%s) - t0 ))s"
  dist_bin >/dev/null || die "dist $want is not runnable after install"
fi

stamp="$DIST_VENV/.requirements-dist.txt"
if [ ! -x "$DIST_VENV/bin/python" ]; then
  python3 -m venv "$DIST_VENV"
fi
if ! cmp -s "$ROOT/packaging/requirements-dist.txt" "$stamp"; then
  "$DIST_VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
    -r "$ROOT/packaging/requirements-dist.txt"
  cp "$ROOT/packaging/requirements-dist.txt" "$stamp"
fi
ok "python tools in $DIST_VENV ($("$DIST_VENV/bin/maturin" --version))"

#!/usr/bin/env bash
# The packaging checks, in one go: builds every artifact the way `make
# dist-all` does (the image push aside), then checks each of them. Prints the
# time of every step. The image rehearsal needs root (it switches to uid 65532).
#
#   packaging/check-all.sh          (or: make dist-check)
#
# Needs: cargo (rust-toolchain.toml), python3 with venv, curl, xz, setpriv,
# ldd/objdump (binutils); installs the pinned cargo-dist and the Python tools
# itself (packaging/ensure-tools.sh). Writes dist/, target/, .venv-dist/.
set -euo pipefail
# shellcheck source=packaging/lib.sh
. "$(dirname "$0")/lib.sh"
cd "$ROOT"
# The image rehearsal runs gatewayd as uid 65532 (setpriv) and chowns its data
# dir: it needs root. Elsewhere it is skipped with a note, unless
# TGW_REQUIRE_SERVICES=1 (as .ci/run sets) makes that an error.
as_root=true
if [ "$(id -u)" != 0 ]; then
  [ "${TGW_REQUIRE_SERVICES:-}" = 1 ] && die "run as root: the image rehearsal needs it (TGW_REQUIRE_SERVICES=1)"
  as_root=false
fi
for tool in cargo python3 curl xz setpriv ldd objdump sha256sum; do
  command -v "$tool" >/dev/null || die "missing $tool"
done
export CARGO_TERM_COLOR=never
t_start=$(date +%s)

step "tools (dist, venv)" packaging/ensure-tools.sh
step "make dist-rust" make --no-print-directory dist-rust
step "make dist-python" make --no-print-directory dist-python
step "make dist-frontend" make --no-print-directory dist-frontend
step "make dist-docker" make --no-print-directory dist-docker
step "make dist-sums" make --no-print-directory dist-sums
step "check archives" packaging/check-archives.sh
step "check installers+formulas" packaging/check-installers.sh
step "check wheel+sdist" packaging/check-wheel.sh
if $as_root; then
  step "check image rehearsal" packaging/check-image.sh
else
  note "not root: the image rehearsal (run as uid 65532) is skipped; run make test-dist as root for it"
fi
step "check winget" packaging/check-winget.sh
step "check workflows" packaging/check-workflows.sh

echo "== packaging step times"
printf '  %s\n' "${STEP_TIMES[@]}"
echo "  total: $(( $(date +%s) - t_start ))s"
echo "packaging: ${#STEP_TIMES[@]} passed, 0 failed"

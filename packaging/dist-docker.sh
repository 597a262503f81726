#!/usr/bin/env bash
# make dist-docker: the container image for this machine's architecture,
# saved to dist/docker/ (never pushed: the release workflow pushes).
# Without a Docker engine (as on CI here) it assembles the runtime stage's
# files instead, with the builder stage's own script, into
# dist/docker/rootfs-linux-<arch>/ (packaging/check-image.sh tests them).
set -euo pipefail
# shellcheck source=packaging/lib.sh
. "$(dirname "$0")/lib.sh"
cd "$ROOT"
"$ROOT/packaging/ensure-tools.sh" >/dev/null
"$DIST_VENV/bin/hadolint" Dockerfile
case "$(uname -m)" in
  x86_64) arch=amd64 ;;
  aarch64 | arm64) arch=arm64 ;;
  *) die "unsupported machine $(uname -m)" ;;
esac
version=$(workspace_version)
out="$DIST_OUT/docker"
rm -rf "$out"
mkdir -p "$out"
if docker info >/dev/null 2>&1; then
  docker build --platform "linux/$arch" -t "tokgateway:$version" .
  docker save "tokgateway:$version" | gzip >"$out/tokgateway-$version-linux-$arch.tar.gz"
  echo "dist-docker: image tokgateway:$version saved in ${out#"$ROOT"/}"
else
  note "no Docker engine: assembling the image's runtime files instead"
  "$ROOT/packaging/docker/build-runtime-tree.sh" "$arch" "$out/rootfs-linux-$arch"
fi

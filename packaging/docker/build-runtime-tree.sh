#!/usr/bin/env bash
# Builds gateway and gatewayd for one Linux architecture and lays out the files
# of the container image's runtime stage under OUT:
#   OUT/usr/local/bin/{gateway,gatewayd}
#   OUT/etc/tokgateway/                    the shipped config/ templates
#   OUT/usr/local/share/tokgateway/console the console bundle (fe/dist), when built
#   OUT/data                               the store's volume (empty)
#
# The Dockerfile's builder stage runs this script, and so does the image
# rehearsal (packaging/check-image.sh), so both build the same way.
#
# usage: build-runtime-tree.sh ARCH OUT     (ARCH: amd64 | arm64, Docker's TARGETARCH)
# env:   CARGO_TARGET_DIR (default target), CARGO_PROFILE_NAME (default dist)
set -euo pipefail

arch=${1:?usage: build-runtime-tree.sh ARCH OUT}
out=${2:?usage: build-runtime-tree.sh ARCH OUT}
profile=${CARGO_PROFILE_NAME:-dist}
target_dir=${CARGO_TARGET_DIR:-target}

case "$arch" in
  amd64) triple=x86_64-unknown-linux-gnu; cross_prefix=x86_64-linux-gnu ;;
  arm64) triple=aarch64-unknown-linux-gnu; cross_prefix=aarch64-linux-gnu ;;
  *) echo "build-runtime-tree.sh: unsupported architecture: $arch (amd64, arm64)" >&2; exit 2 ;;
esac

host=$(rustc -vV | sed -n 's/^host: //p')
if [ "$host" != "$triple" ]; then
  # Cross build on the build platform: C parts (bundled SQLite, ring,
  # mimalloc) need Debian's cross gcc for the target (gcc-<prefix>).
  rustup target add "$triple" >/dev/null
  env_triple=$(echo "$triple" | tr 'a-z-' 'A-Z_')
  export "CARGO_TARGET_${env_triple}_LINKER=${cross_prefix}-gcc"
  export "CC_${triple//-/_}=${cross_prefix}-gcc"
  export "AR_${triple//-/_}=${cross_prefix}-ar"
fi

# Exactly the cargo invocation `dist build` makes for this target (a
# --workspace build with the `dist` profile): the image carries the same
# binaries as the archives, and a rehearsal after `dist build` rebuilds nothing.
cargo build --locked --profile "$profile" --target "$triple" --workspace

bin_dir="$target_dir/$triple/$profile"
rm -rf "$out"
install -d "$out/usr/local/bin" "$out/etc/tokgateway" "$out/usr/local/share/tokgateway/console" "$out/data"
install -m 0755 "$bin_dir/gateway" "$bin_dir/gatewayd" "$out/usr/local/bin/"
cp -R config/. "$out/etc/tokgateway/"
if [ -d fe/dist ]; then
  cp -R fe/dist/. "$out/usr/local/share/tokgateway/console/"
fi
echo "runtime tree for $triple in $out"

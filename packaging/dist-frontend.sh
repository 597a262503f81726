#!/usr/bin/env bash
# make dist-frontend: the browser console bundles (fe/: `npm run build` for the
# web, `npm run build:h5` for mobile) as tarballs in dist/frontend/.
# `make console` builds them first.
set -euo pipefail
# shellcheck source=packaging/lib.sh
. "$(dirname "$0")/lib.sh"
cd "$ROOT"
out="$DIST_OUT/frontend"
rm -rf "$out"
[ -f fe/dist/index.html ] || die "no fe/dist: run make console (npm) first"
[ -f fe/dist-h5/index.html ] || die "no fe/dist-h5: run make console (npm) first"
mkdir -p "$out"
version=$(workspace_version)
tar -czf "$out/tokgateway-console-$version.tar.gz" -C fe dist
tar -czf "$out/tokgateway-console-h5-$version.tar.gz" -C fe dist-h5
echo "dist-frontend: $(cd "$out" && ls)"

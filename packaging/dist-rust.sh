#!/usr/bin/env bash
# make dist-rust: cargo-dist archives, checksums and installers for this
# machine's target, as the release workflow makes them per runner
# (a local build per target, then one global build that reads the local
# manifests for the checksums). Output: dist/rust/.
set -euo pipefail
# shellcheck source=packaging/lib.sh
. "$(dirname "$0")/lib.sh"
cd "$ROOT"

"$ROOT/packaging/ensure-tools.sh"
dist=$(dist_bin)
tag="v$(workspace_version)"
host=$(host_triple)
distrib="$ROOT/target/distrib"
out="$DIST_OUT/rust"

rm -rf "$distrib" "$out"
mkdir -p "$out"
# dist plan checks dist-workspace.toml and that release.yml and wix/ are as
# `dist generate` makes them.
"$dist" plan --tag="$tag" --output-format=json >"$out/plan-dist-manifest.json"
"$dist" build --tag="$tag" --artifacts=local --target="$host" --output-format=json >"$out/local.json"
cp "$out/local.json" "$distrib/$host-dist-manifest.json"
"$dist" build --tag="$tag" --artifacts=global --output-format=json >"$out/global.json"
# The full manifest (what the release publishes as dist-manifest.json), for
# the checks and the winget generator.
"$dist" manifest --tag="$tag" --artifacts=all --output-format=json --no-local-paths >"$out/dist-manifest.json"
rm "$out/local.json" "$out/global.json"
find "$distrib" -maxdepth 1 -type f ! -name '*-dist-manifest.json' -exec cp {} "$out/" \;
echo "dist-rust: $(find "$out" -maxdepth 1 -type f | wc -l) files in ${out#"$ROOT"/}"

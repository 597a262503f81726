#!/usr/bin/env bash
# Installs the gateways `make bench` compares against, from PyPI and npm, into
# bench/out (ignored by git): the LiteLLM proxy and the Portkey gateway.
set -euo pipefail
cd "$(dirname "$0")"
mkdir -p out/portkey
[ -x out/venv-litellm/bin/litellm ] || { python3 -m venv out/venv-litellm && out/venv-litellm/bin/pip install --quiet 'litellm[proxy]'; }
[ -f out/portkey/node_modules/@portkey-ai/gateway/build/start-server.js ] || {
  (cd out/portkey && { [ -f package.json ] || npm init -y >/dev/null; } && npm install --no-audit --no-fund @portkey-ai/gateway@1.15.2)
}

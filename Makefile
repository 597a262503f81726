# tokgateway — the two commands a newcomer needs are `make run` and `make test`.
CARGO ?= cargo
RELEASE_BIN := target/release

PYTHON ?= python3
VENV := .venv

.PHONY: build console run test test-rust test-sdk test-console test-dist lint fmt bench bench-instructions clean

# The console (fe/) is built before gatewayd, which embeds fe/dist. Without
# npm, gatewayd is built without it (and /console/ says how to get it).
HAVE_NPM := $(shell command -v npm 2>/dev/null)
FE_SRC := $(shell find fe/src fe/public -type f 2>/dev/null) fe/index.html fe/package.json fe/vite.config.ts

## build: release binaries gateway and gatewayd under target/release, the console built in
build: $(if $(HAVE_NPM),console)
	$(CARGO) build --release --locked -p tokgateway-gateway -p tokgateway-gatewayd

## console: the browser console bundles, fe/dist (web) and fe/dist-h5 (mobile)
console: fe/dist/index.html fe/dist-h5/index.html

fe/node_modules/.package-lock.json: fe/package-lock.json
	cd fe && npm ci --no-audit --no-fund

fe/dist/index.html: fe/node_modules/.package-lock.json $(FE_SRC)
	cd fe && npm run build

fe/dist-h5/index.html: fe/node_modules/.package-lock.json $(FE_SRC)
	cd fe && npm run build:h5

## run: gatewayd on the embedded defaults (loopback model, SQLite, no API key) at http://127.0.0.1:8081
run: build
	$(RELEASE_BIN)/gatewayd

## test: format and lint checks, every Rust test, the official OpenAI/Anthropic SDKs against
## gatewayd, the console (unit and browser tests) and the packaging checks
test: lint test-rust test-sdk test-console test-dist

test-rust:
	$(CARGO) test --workspace --locked

## test-sdk: the official Python SDKs, unchanged, through real gatewayd processes (tests/sdk)
test-sdk: $(VENV)/.installed
	$(CARGO) build --locked -p tokgateway-gatewayd
	GATEWAYD_BIN=target/debug/gatewayd $(VENV)/bin/python -m pytest -q tests/sdk

## test-console: the console's lint, type check and unit tests, then headless Chromium
## against a real gatewayd (fe/e2e; screenshots in fe/test-output/screenshots)
test-console: console
	cd fe && npm run lint && npm run typecheck && npm test
	$(CARGO) build --locked -p tokgateway-gateway -p tokgateway-gatewayd
	cd fe && GATEWAYD_BIN=../target/debug/gatewayd GATEWAY_BIN=../target/debug/gateway npm run e2e

## test-dist: every release channel built and checked here (packaging/check-all.sh; the image rehearsal needs root)
test-dist: console
	packaging/check-all.sh

$(VENV)/.installed: tests/sdk/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet -r tests/sdk/requirements.txt
	touch $@

## lint: formatting and clippy, warnings as errors
lint:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings

## bench: requests/s, latency, CPU µs/request and RSS of gatewayd vs a bare forwarder (needs wrk)
bench:
	bench/install-others.sh
	bench/run.sh

## bench-instructions: instructions per request (callgrind; needs valgrind), the same from run to run
bench-instructions:
	bench/instructions.sh

fmt:
	$(CARGO) fmt --all

clean:
	$(CARGO) clean

include packaging/dist.mk

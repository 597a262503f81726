# tokgateway — the two commands a newcomer needs are `make run` and `make test`.
CARGO ?= cargo
RELEASE_BIN := target/release

PYTHON ?= python3
VENV := .venv

.PHONY: build run test test-rust test-sdk lint fmt bench clean

## build: release binaries gateway and gatewayd under target/release
build:
	$(CARGO) build --release --locked -p tokgateway-gateway -p tokgateway-gatewayd

## run: gatewayd on the embedded defaults (loopback model, SQLite, no API key) at http://127.0.0.1:8081
run: build
	$(RELEASE_BIN)/gatewayd

## test: format and lint checks, every Rust test, and the official OpenAI/Anthropic SDKs against gatewayd
test: lint test-rust test-sdk

test-rust:
	$(CARGO) test --workspace --locked

## test-sdk: the official Python SDKs, unchanged, through real gatewayd processes (tests/sdk)
test-sdk: $(VENV)/.installed
	$(CARGO) build --locked -p tokgateway-gatewayd
	GATEWAYD_BIN=target/debug/gatewayd $(VENV)/bin/python -m pytest -q tests/sdk

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

fmt:
	$(CARGO) fmt --all

clean:
	$(CARGO) clean

# tokgateway — the two commands a newcomer needs are `make run` and `make test`.
CARGO ?= cargo
RELEASE_BIN := target/release

.PHONY: build run test lint fmt bench clean

## build: release binaries gateway and gatewayd under target/release
build:
	$(CARGO) build --release --locked -p tokgateway-gateway -p tokgateway-gatewayd

## run: gatewayd on the embedded defaults (loopback model, SQLite, no API key) at http://127.0.0.1:8081
run: build
	$(RELEASE_BIN)/gatewayd

## test: every test of the workspace, plus format and lint checks
test: lint
	$(CARGO) test --workspace --locked

## lint: formatting and clippy, warnings as errors
lint:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings

## bench: requests/s, latency, CPU µs/request and RSS of gatewayd vs a bare forwarder (needs wrk)
bench:
	bench/run.sh

fmt:
	$(CARGO) fmt --all

clean:
	$(CARGO) clean

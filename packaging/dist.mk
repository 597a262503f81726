# Release artifacts, all under dist/ (included from the Makefile).
#   make dist-all        everything below, then dist/SHA256SUMS
#   make dist-rust       cargo-dist archives + checksums + installers for this machine's target
#   make dist-python     the wheel (gateway + gatewayd on PATH) and the sdist
#   make dist-frontend   the console bundles (web and h5) as tarballs
#   make dist-docker     the container image (or, without a Docker engine, its runtime files)
#   make dist-check      dist-all, then every packaging check (packaging/check-all.sh; as root)
#   make clean-dist      remove dist/ and the intermediate outputs
# The console is built first (`make console`): gatewayd embeds fe/dist.
# Tools (pinned cargo-dist, maturin, hadolint, ...) install on first use:
# packaging/ensure-tools.sh.

.PHONY: dist-all dist-rust dist-python dist-frontend dist-docker dist-sums dist-check clean-dist

dist-rust: $(if $(HAVE_NPM),console)
	packaging/dist-rust.sh

dist-python: $(if $(HAVE_NPM),console)
	packaging/dist-python.sh

dist-frontend: $(if $(HAVE_NPM),console)
	packaging/dist-frontend.sh

dist-docker: $(if $(HAVE_NPM),console)
	packaging/dist-docker.sh

dist-all: dist-rust dist-python dist-frontend dist-docker
	$(MAKE) --no-print-directory dist-sums

# dist/SHA256SUMS over every artifact (not the image rehearsal's file tree).
dist-sums:
	cd dist && find . -type f ! -name SHA256SUMS ! -path './docker/rootfs-*' | LC_ALL=C sort | xargs sha256sum > SHA256SUMS
	@echo "dist-sums: $$(wc -l < dist/SHA256SUMS) files in dist/SHA256SUMS"

dist-check:
	packaging/check-all.sh

clean-dist:
	rm -rf dist target/distrib target/wheels

# syntax=docker/dockerfile:1.7
#
# tokgateway container image: gatewayd (and the gateway CLI) on distroless.
#
#   docker build -t tokgateway .
#   docker run -d -p 8081:8081 -v tokgateway-data:/data tokgateway
#   docker exec <container> gateway users create alice
#   docker exec <container> gateway keys create --user alice
#
# Multi-arch (linux/amd64, linux/arm64): the builder runs on the build
# platform and cross-compiles with Debian's cross gcc, no emulation needed:
#   docker buildx build --platform linux/amd64,linux/arm64 -t tokgateway .

# Keep equal to rust-toolchain.toml (packaging/check-image.sh checks it).
# Bookworm's glibc (2.36) is the one distroless/cc-debian12 ships.
ARG RUST_VERSION=1.95.0

FROM --platform=$BUILDPLATFORM rust:${RUST_VERSION}-bookworm AS builder
ARG RUST_VERSION
ARG TARGETARCH
ARG BUILDARCH
# The toolchain already in the image; rust-toolchain.toml's extra components
# (rustfmt, clippy) are not needed to build.
ENV RUSTUP_TOOLCHAIN=${RUST_VERSION} \
    CARGO_TERM_COLOR=never \
    CARGO_TARGET_DIR=/build/target
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
# Cross gcc only when the target differs from the build machine.
# hadolint ignore=DL3008
RUN if [ "$TARGETARCH" != "$BUILDARCH" ]; then \
      case "$TARGETARCH" in \
        arm64) pkgs=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross) ;; \
        amd64) pkgs=(gcc-x86-64-linux-gnu libc6-dev-amd64-cross) ;; \
        *) echo "unsupported TARGETARCH $TARGETARCH" >&2; exit 1 ;; \
      esac; \
      apt-get update && apt-get install -y --no-install-recommends "${pkgs[@]}" \
        && rm -rf /var/lib/apt/lists/*; \
    fi
WORKDIR /src
COPY . .
# Cache mounts: the registry and the target directory survive between
# builds; the binaries are copied out to /runtime inside the same step.
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/build/target,id=tokgateway-target-${TARGETARCH},sharing=locked \
    packaging/docker/build-runtime-tree.sh "$TARGETARCH" /runtime

FROM gcr.io/distroless/cc-debian12:nonroot
LABEL org.opencontainers.image.title="tokgateway" \
      org.opencontainers.image.description="A self-hosted LLM API gateway speaking the OpenAI and Anthropic APIs" \
      org.opencontainers.image.source="https://github.com/tokgateway/tokgateway" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=builder /runtime/usr/local/ /usr/local/
COPY --from=builder /runtime/etc/tokgateway/ /etc/tokgateway/
# A fresh named volume takes this directory's owner: nonroot (65532).
COPY --from=builder --chown=65532:65532 /runtime/data/ /data/
# Auth on (the `live` overlay), listening on every interface, the SQLite
# store in /data. Any TOKGATEWAY_* variable can be overridden with -e, e.g.
# TOKGATEWAY_STORE_URL=postgres://... (see compose.yaml).
ENV TOKGATEWAY_CONFIG_DIR=/etc/tokgateway \
    TOKGATEWAY_ENV=live \
    TOKGATEWAY_DATA_DIR=/data \
    TOKGATEWAY_SERVER_LISTEN=0.0.0.0:8081 \
    TOKGATEWAY_SERVER_CONSOLE_DIR=/usr/local/share/tokgateway/console
# distroless's /etc/passwd defines nonroot as 65532:65532.
# hadolint ignore=DL3066
USER nonroot
WORKDIR /data
EXPOSE 8081
VOLUME ["/data"]
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["/usr/local/bin/gateway", "status", "--quiet", "--url", "http://127.0.0.1:8081"]
ENTRYPOINT ["/usr/local/bin/gatewayd"]

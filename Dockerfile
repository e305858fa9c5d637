# The switch's one image: the `mojaloop` binary on a slim Debian, run as a non-root user.
# Every deployment runs `mojaloop serve <service> …` (or `sim`, `perf`, `migrate`,
# `kafka-topics`); health checks use `mojaloop health URL`, so the image needs no curl.
#
#   docker build -t mojaloop-rs .
#
# With a binary built already (`cargo build --release -p mojaloop`, on Debian 12 or a system
# with the same glibc and OpenSSL 3), skip the Rust stage: the context is a folder holding only
# that binary, named `mojaloop`:
#
#   docker build --target prebuilt -f Dockerfile -t mojaloop-rs <folder>
#
# RUNTIME_BASE names the Debian 12 image both runtime targets start from (CI builds one with
# debootstrap, since no registry is reachable there).

ARG RUNTIME_BASE=debian:bookworm-slim

FROM rust:1.95-bookworm AS build
WORKDIR /src
# librdkafka (bundled by rdkafka) builds with make and gcc; josekit links the system OpenSSL.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libssl-dev pkg-config \
 && rm -rf /var/lib/apt/lists/*
COPY . .
# Migrations are compiled into the binary (sqlx::migrate!), so the runtime image needs no files.
RUN cargo build --release --locked -p mojaloop \
 && cp target/release/mojaloop /usr/local/bin/mojaloop

FROM ${RUNTIME_BASE} AS base
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates libssl3 \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin mojaloop

FROM base AS prebuilt
COPY mojaloop /usr/local/bin/mojaloop
USER 10001:10001
ENTRYPOINT ["mojaloop"]
CMD ["--help"]

FROM base AS runtime
COPY --from=build /usr/local/bin/mojaloop /usr/local/bin/mojaloop
USER 10001:10001
ENTRYPOINT ["mojaloop"]
CMD ["--help"]

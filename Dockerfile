# The switch's one image: the `mojaloop` binary on a slim Debian, run as a non-root user.
# Every deployment runs `mojaloop serve <service> …` (or `sim`, `perf`, `migrate`); health checks
# use `mojaloop health URL`, so the image needs no curl.
#
#   docker build -t mojaloop-rs .

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

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates libssl3 \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin mojaloop
COPY --from=build /usr/local/bin/mojaloop /usr/local/bin/mojaloop
USER 10001:10001
ENTRYPOINT ["mojaloop"]
CMD ["--help"]

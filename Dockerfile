# syntax=docker/dockerfile:1
# Switchboard image: build with the Rust toolchain, run on a slim Debian of the same release
# (the binary links against that glibc).
#   docker build -t switchboard .        (docker-compose.yml builds and runs it with a config)

FROM rust:1-bookworm AS builder
WORKDIR /src
# Only what the build needs, so a local target/ (often gigabytes) is not sent to the builder.
# Add any new top-level directory the build reads, e.g. migrations/ once sqlx::migrate! embeds it.
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY benches ./benches
COPY migrations ./migrations
# The caches keep the crate registry and compiled dependencies between builds; target/ is a
# cache mount, so the binary is copied out in the same step.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked \
 && cp target/release/switchboard /usr/local/bin/switchboard

FROM debian:bookworm-slim
# ca-certificates: for HTTPS, e.g. webhook deliveries to CRMs.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/*
RUN useradd --system --create-home --home-dir /var/lib/switchboard switchboard
COPY --from=builder /usr/local/bin/switchboard /usr/local/bin/switchboard
USER switchboard
WORKDIR /var/lib/switchboard
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/switchboard"]
CMD ["serve", "--config", "/etc/switchboard/switchboard.toml"]

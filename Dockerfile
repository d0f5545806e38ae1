# Build stage: compile a release binary.
FROM rust:1-slim-bookworm AS build
WORKDIR /src
# Every folder the build reads, and nothing else (.dockerignore lets only these through;
# tests/docker.rs builds this context without Docker and fails when one is missing).
COPY Cargo.toml Cargo.lock ./
# Where askama finds the web UI's templates (src/ui/templates), compiled in.
COPY askama.toml ./
COPY src ./src
# Compiled in (include_str!): the JSON Schemas, the MongoDB migrations, the OpenAPI reference.
COPY schemas ./schemas
COPY migrations ./migrations
COPY api-reference ./api-reference
# Not built here, but Cargo.toml declares them as targets and cargo refuses a manifest whose
# targets are missing.
COPY benches ./benches
COPY examples ./examples
# A workspace member (the test kit): cargo loads every member's manifest, even for one binary.
COPY tests/common ./tests/common
RUN cargo build --release --locked --bin hookd

# Runtime stage: the binary alone, run by an unprivileged user.
FROM debian:bookworm-slim
RUN useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin hookd \
    && mkdir -p /data && chown hookd /data
COPY --from=build /src/target/release/hookd /usr/local/bin/hookd
USER hookd
ENV HOOKD_LISTEN=0.0.0.0:8080 \
    HOOKD_DATA_DIR=/data
VOLUME ["/data"]
EXPOSE 8080
ENTRYPOINT ["hookd"]
CMD ["serve"]

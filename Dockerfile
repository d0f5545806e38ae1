# Build stage: compile a release binary.
FROM rust:1-slim-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY tests/common ./tests/common
COPY schemas ./schemas
# Compiled in: the MongoDB migrations (include_str!).
COPY migrations ./migrations
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

# Gantry: one binary for the server, the worker and the CLI.
#   docker build -t gantry .
#   docker run -p 8080:8080 -v gantry-data:/var/lib/gantry gantry
# See docs/deployment.md (deploy/compose.yaml runs the scale-out topology).

# Build stage: the release binary, with the dependency registry and target dir cached across
# builds.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p gantry \
    && install -m 0755 target/release/gantry /gantry

# Runtime stage: glibc, CA certificates for outbound HTTPS (S3, upstreams, webhooks) and the
# binary; nothing else. The binary links only libc, libm and libgcc_s.
FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 gantry \
    && useradd --system --uid 10001 --gid gantry --home-dir /var/lib/gantry --create-home \
       --shell /usr/sbin/nologin gantry
COPY --from=build /gantry /usr/local/bin/gantry
USER gantry:gantry
WORKDIR /var/lib/gantry
ENV GANTRY_LISTEN=0.0.0.0:8080 \
    GANTRY_DATA_DIR=/var/lib/gantry \
    GANTRY_LOG_FORMAT=json
VOLUME ["/var/lib/gantry"]
EXPOSE 8080
# SIGTERM drains requests, then hands running jobs back after 5 s: give it the time.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/gantry"]
CMD ["server"]

# denocached container: a native binary built with `deno compile`, on a
# distroless base (glibc + libgcc, no shell), running as non-root.
#
#   docker build -t denocached .
#   docker run --rm -p 11211:11211 denocached            # -m 64 by default
#   docker run --rm -p 11211:11211 denocached -m 1024 -c 4096
#
# Arguments after the image name replace CMD and are appended to the
# ENTRYPOINT flags. `docker stop` sends SIGTERM to PID 1: the server stops
# accepting, finishes the replies in flight and exits 0 within a second.
# The binary embeds --allow-net --allow-ffi: epoll is the default transport.
#
# TLS and authentication from mounted files (read-only is enough). A later
# -l replaces the ENTRYPOINT's: TLS for clients on 11212, plain TCP on the
# container's loopback only, where the HEALTHCHECK probes:
#   docker run --rm -p 11212:11212 -v "$PWD/tls:/etc/denocached:ro" denocached \
#     -Z -o ssl_chain_cert=/etc/denocached/cert.pem,ssl_key=/etc/denocached/key.pem \
#     -l notls:127.0.0.1,0.0.0.0:11212
#   docker run --rm -p 11211:11211 -v "$PWD/auth:/etc/denocached:ro" denocached \
#     -Y /etc/denocached/users      # user:password lines; SIGHUP reloads
# Warm restarts: -v denocached-data:/data and --snapshot /data/cache.snap.

ARG DENO_VERSION=2.9.6

# Build on the builder's own platform and cross-compile for the target
# (deno compile --target), so multi-arch builds need no emulation.
FROM --platform=$BUILDPLATFORM docker.io/denoland/deno:${DENO_VERSION} AS build
# Set by buildx; plain `docker build`/podman without it builds for amd64.
ARG TARGETARCH=amd64
WORKDIR /src
COPY deno.json ./
COPY main.ts mod.ts ./
COPY lib/ lib/
COPY scripts/ scripts/
RUN deno task compile --target "linux-${TARGETARCH}" --output /out/denocached \
 && mkdir -p /out/data

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/denocached /usr/local/bin/denocached
# Writable by the nonroot user, for --snapshot /data/cache.snap.
COPY --from=build --chown=65532:65532 /out/data /data
VOLUME /data
# 65532 is distroless's "nonroot"; numeric so runAsNonRoot can verify it.
USER 65532:65532
EXPOSE 11211
# `--probe` sends `version` and exits 0 on a reply: no shell or client
# needed in the image. Kubernetes: exec probe with the same command.
HEALTHCHECK --interval=10s --timeout=5s --start-period=5s --retries=3 \
  CMD ["/usr/local/bin/denocached", "--probe", "127.0.0.1:11211"]
# Inside a container, listen on every interface (the default is loopback).
ENTRYPOINT ["/usr/local/bin/denocached", "-l", "0.0.0.0", "-p", "11211"]
CMD ["-m", "64"]

# vhostd container image: a jlink'd Java runtime + vhostd.jar on Debian bookworm-slim.
#
#   docker build -t vhostd .                      (or: buildah bud -t vhostd .)
#   docker run -d --name vhostd -v /run/vhostd:/run/vhostd -v /var/lib/vhostd:/var/lib/vhostd \
#       vhostd serve --socket /run/vhostd/disk1.sock --backend file:/var/lib/vhostd/disk1.img --size 10G
#
# Without registry access, scripts/container/build-local.sh builds both base images from local
# files and passes them in as BUILD_IMAGE / RUNTIME_IMAGE.
ARG BUILD_IMAGE=maven:3.9-eclipse-temurin-25
ARG RUNTIME_IMAGE=debian:bookworm-slim

FROM ${BUILD_IMAGE} AS build
WORKDIR /src
COPY . .
# The test suite needs QEMU, systemd's tools, io_uring and a scratch root; it runs on a host (CI:
# mvn -B verify), not in the image build. The jar built here is the same artifact. The cache mount
# keeps ~/.m2 between builds (BuildKit and buildah both support it).
RUN --mount=type=cache,target=/root/.m2 mvn -B -q -DskipTests package \
 && test -s daemon/target/vhostd.jar
# The same runtime as the Debian package (packaging/build-deb.sh): only the modules vhostd runs,
# plus jdk.jcmd (thread and heap dumps in production). --strip-java-debug-attributes, not
# --strip-debug: on Linux the latter also strips native symbols with objcopy, which JDK images lack.
RUN jlink --add-modules java.base,java.logging,java.management,jdk.management,jdk.httpserver,jdk.unsupported,jdk.jcmd \
      --strip-java-debug-attributes --no-man-pages --no-header-files --compress=zip-6 --output /opt/vhostd-jre \
 && /opt/vhostd-jre/bin/java -jar daemon/target/vhostd.jar --version

FROM ${RUNTIME_IMAGE}
# A fixed uid/gid so host directories can be chowned to match (chown 10001:10001 /var/lib/vhostd).
RUN groupadd --system --gid 10001 vhostd \
 && useradd --system --uid 10001 --gid vhostd --home-dir /var/lib/vhostd --no-create-home \
      --shell /usr/sbin/nologin vhostd \
 && mkdir -p /run/vhostd /var/lib/vhostd /usr/lib/vhostd \
 && chown vhostd:vhostd /run/vhostd /var/lib/vhostd \
 && chmod 0750 /var/lib/vhostd
# /usr/lib/vhostd/runtime: where the launcher looks first, as in the Debian package.
COPY --from=build /opt/vhostd-jre /usr/lib/vhostd/runtime
COPY --from=build /src/daemon/target/vhostd.jar /usr/lib/vhostd/vhostd.jar
COPY packaging/vhostd /usr/bin/vhostd
COPY packaging/vhost-user-blk /usr/libexec/vhostd/vhost-user-blk
COPY share/qemu/vhost-user/50-vhostd.json /usr/share/qemu/vhost-user/50-vhostd.json
# MaxRAMPercentage sizes the heap from the container's memory limit; guest memory (QEMU's memfds)
# and I/O buffers live outside the heap, so half the limit leaves room for them. Exit on OOM so the
# orchestrator restarts a clean process instead of a half-working one.
# VHOSTD_UMASK=0007: image files vhostd creates are group-accessible, not world-readable. The socket is
# 0660 (vhostd sets it); its group is the host directory's when that directory is setgid (README).
ENV VHOSTD_JAVA_OPTS="-XX:MaxRAMPercentage=50 -XX:+ExitOnOutOfMemoryError" \
    VHOSTD_UMASK=0007
USER vhostd
WORKDIR /var/lib/vhostd
# Sockets for QEMU on the host, and disk images.
VOLUME ["/run/vhostd", "/var/lib/vhostd"]
# Prometheus /metrics and /healthz (--metrics 0.0.0.0:9477).
EXPOSE 9477
# No curl in the image: bash's /dev/tcp speaks just enough HTTP. (OCI image format drops
# HEALTHCHECK; build with --format docker under buildah/podman to keep it.)
# Every 10 s: a wedged vhostd is unhealthy within 30 s (3 misses), and the first verdict comes soon
# after start instead of a full interval later.
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
  CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/9477 && printf 'GET /healthz HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n' >&3 && head -n 1 <&3 | grep -q ' 200 '"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["vhostd"]
CMD ["serve", "--socket", "/run/vhostd/vhostd.sock", "--backend", "memory:1G", "--metrics", "0.0.0.0:9477"]

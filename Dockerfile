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
# A runtime holding only the modules the jar uses (jdeps), plus jdk.unsupported (junixsocket and
# Micrometer probe sun.misc.Unsafe) and jdk.jcmd (thread and heap dumps in production).
# --strip-java-debug-attributes, not --strip-debug: on Linux the latter also strips native symbols
# with objcopy, which JDK images do not ship.
RUN jdeps --multi-release 25 --ignore-missing-deps --print-module-deps daemon/target/vhostd.jar > /tmp/modules \
 && echo "modules: $(cat /tmp/modules)" \
 && jlink --add-modules "$(cat /tmp/modules),jdk.unsupported,jdk.jcmd" \
      --strip-java-debug-attributes --no-man-pages --no-header-files --compress=zip-6 --output /opt/vhostd-jre \
 && /opt/vhostd-jre/bin/java --version

FROM ${RUNTIME_IMAGE}
# A fixed uid/gid so host directories can be chowned to match (chown 10001:10001 /var/lib/vhostd).
RUN groupadd --system --gid 10001 vhostd \
 && useradd --system --uid 10001 --gid vhostd --home-dir /var/lib/vhostd --no-create-home \
      --shell /usr/sbin/nologin vhostd \
 && mkdir -p /run/vhostd /var/lib/vhostd /usr/lib/vhostd \
 && chown vhostd:vhostd /run/vhostd /var/lib/vhostd \
 && chmod 0750 /var/lib/vhostd
COPY --from=build /opt/vhostd-jre /opt/vhostd-jre
COPY --from=build /src/daemon/target/vhostd.jar /usr/lib/vhostd/vhostd.jar
COPY packaging/vhostd /usr/bin/vhostd
COPY packaging/vhost-user-blk /usr/libexec/vhostd/vhost-user-blk
COPY share/qemu/vhost-user/50-vhostd.json /usr/share/qemu/vhost-user/50-vhostd.json
# MaxRAMPercentage sizes the heap from the container's memory limit; guest memory (QEMU's memfds)
# and I/O buffers live outside the heap, so half the limit leaves room for them. Exit on OOM so the
# orchestrator restarts a clean process instead of a half-working one.
# VHOSTD_UMASK=0007: image files vhostd creates are group-accessible, not world-readable. (It does not
# restrict the socket: junixsocket binds it rw-rw-rw- whatever the umask; keep /run/vhostd itself
# closed, or have vhostd chmod the socket, to limit who may connect.)
ENV JAVA_HOME=/opt/vhostd-jre \
    PATH=/opt/vhostd-jre/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    VHOSTD_JAVA_OPTS="-XX:MaxRAMPercentage=50 -XX:+ExitOnOutOfMemoryError" \
    VHOSTD_UMASK=0007
USER vhostd
WORKDIR /var/lib/vhostd
# Sockets for QEMU on the host, and disk images.
VOLUME ["/run/vhostd", "/var/lib/vhostd"]
# Prometheus /metrics and /healthz (--metrics 0.0.0.0:9477).
EXPOSE 9477
# No curl in the image: bash's /dev/tcp speaks just enough HTTP. (OCI image format drops
# HEALTHCHECK; build with --format docker under buildah/podman to keep it.)
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/9477 && printf 'GET /healthz HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n' >&3 && head -n 1 <&3 | grep -q ' 200 '"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["vhostd"]
CMD ["serve", "--socket", "/run/vhostd/vhostd.sock", "--backend", "memory:1G", "--metrics", "0.0.0.0:9477"]

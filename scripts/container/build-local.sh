#!/bin/bash
# Builds the vhostd image with Docker where no image registry is reachable: the two base images the
# Dockerfile names are made from local material, then `docker build` runs the unchanged Dockerfile
# with them as BUILD_IMAGE / RUNTIME_IMAGE. (With a registry, plain `docker build -t vhostd .` uses
# maven:3.9-eclipse-temurin-25 and debian:bookworm-slim instead.)
#
#   localhost/vhostd-base:bookworm-slim   debootstrap --variant=minbase bookworm, docs stripped, from
#                                         scripts/container/base-images.sh (cached tarball)
#   localhost/vhostd-build:jdk25-maven    that + this host's JDK 25 at /opt/java/openjdk + Apache
#                                         Maven from Maven Central, checksum-verified (cached tarball)
#   localhost/vhostd:dev                  the image from ./Dockerfile
#
# Usage: scripts/container/build-local.sh [CONTEXT_DIR]   (default: the repository root)
# Prints the image name as its last line. Needs root, docker.io and debootstrap
# (scripts/install-test-deps.sh); starts dockerd if none answers (scripts/container/dockerd.sh).
# Environment: JDK (default /usr/lib/jvm/temurin-25-jdk-amd64), MAVEN_VERSION (default 3.9.9),
# TAG (default localhost/vhostd:dev), DOCKER (default /usr/bin/docker, Debian's CLI for its daemon).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
context="${1:-$(cd "$here/../.." && pwd)}"
JDK="${JDK:-/usr/lib/jvm/temurin-25-jdk-amd64}"
MAVEN_VERSION="${MAVEN_VERSION:-3.9.9}"
TAG="${TAG:-localhost/vhostd:dev}"
DOCKER="${DOCKER:-/usr/bin/docker}"
export DOCKER
BASE=localhost/vhostd-base:bookworm-slim
BUILD=localhost/vhostd-build:jdk25-maven

die() { echo "build-local: $*" >&2; exit 1; }
[ -x "$JDK/bin/jlink" ] || die "no JDK with jlink at $JDK (set JDK=)"
[ -f "$context/Dockerfile" ] || die "no Dockerfile in $context"
"$here/dockerd.sh"
cache=$("$here/base-images.sh" --import | tail -n 1)

have_image() { "$DOCKER" image inspect "$1" >/dev/null 2>&1; }

if ! have_image "$BUILD"; then
    tarball="$cache/apache-maven-$MAVEN_VERSION-bin.tar.gz"
    url="https://repo.maven.apache.org/maven2/org/apache/maven/apache-maven/$MAVEN_VERSION/apache-maven-$MAVEN_VERSION-bin.tar.gz"
    if [ ! -f "$tarball" ]; then
        curl -fsSL -o "$tarball.part" "$url" || die "cannot download $url"
        want=$(curl -fsSL "$url.sha512" | awk '{print $1}')
        got=$(sha512sum "$tarball.part" | awk '{print $1}')
        [ "$want" = "$got" ] || { rm -f "$tarball.part"; die "checksum mismatch for $url"; }
        mv "$tarball.part" "$tarball"
    fi
    stage=$(mktemp -d "${TMPDIR:-/tmp}/vhostd-build-image.XXXXXX")
    trap 'rm -rf "$stage"' EXIT
    mkdir -p "$stage/opt/java" "$stage/usr/share/maven" "$stage/usr/bin"
    # -L: Debian's JDK packages link lib/security/cacerts to /etc/ssl/certs/java, absent in the image.
    cp -aL "$JDK" "$stage/opt/java/openjdk"
    tar -xzf "$tarball" -C "$stage/usr/share/maven" --strip-components=1
    ln -s /usr/share/maven/bin/mvn "$stage/usr/bin/mvn"
    ctr=$("$DOCKER" create "$BASE" true)
    tar -C "$stage" -c . | "$DOCKER" cp - "$ctr:/"
    "$DOCKER" commit --change 'ENV JAVA_HOME=/opt/java/openjdk' --change 'ENV MAVEN_HOME=/usr/share/maven' \
        --change 'ENV PATH=/opt/java/openjdk/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        "$ctr" "$BUILD" >/dev/null
    "$DOCKER" rm "$ctr" >/dev/null
fi

# BuildKit: the Dockerfile's RUN --mount=type=cache keeps ~/.m2 between builds on this machine.
# --network host: the build stage downloads the build's dependencies from Maven Central.
DOCKER_BUILDKIT=1 "$DOCKER" build --network host --progress plain \
    --build-arg BUILD_IMAGE="$BUILD" --build-arg RUNTIME_IMAGE="$BASE" \
    -t "$TAG" -f "$context/Dockerfile" "$context" >&2
echo "$TAG"

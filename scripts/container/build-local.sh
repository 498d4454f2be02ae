#!/bin/bash
# Builds the vhostd image without any container registry: makes the two base images the Dockerfile
# names from local material, then runs `buildah bud` with them as BUILD_IMAGE / RUNTIME_IMAGE.
#
#   localhost/vhostd-base:bookworm-slim   debootstrap --variant=minbase bookworm, docs stripped
#                                         (stands in for debian:bookworm-slim)
#   localhost/vhostd-build:jdk25-maven    that + this host's JDK 25 at /opt/java/openjdk + Apache
#                                         Maven from Maven Central, checksum-verified
#                                         (stands in for maven:3.9-eclipse-temurin-25)
#   localhost/vhostd:dev                  the image from ./Dockerfile
#
# Usage: scripts/container/build-local.sh [CONTEXT_DIR]   (default: the repository root)
# Needs root, buildah, debootstrap, a Debian mirror (for debootstrap) and Maven Central (for Maven
# and the build's dependencies). Uses the vfs storage driver, which works without overlay support.
# Environment: JDK (default /usr/lib/jvm/temurin-25-jdk-amd64), WORK (default /var/tmp/vhostd-ctr),
# MIRROR (default http://deb.debian.org/debian), MAVEN_VERSION (default 3.9.9), TAG (default
# localhost/vhostd:dev), ISOLATION (default chroot: RUN steps need no OCI runtime features).
set -euo pipefail
# optional-tools: buildah debootstrap (an operator's local image build; the script checks for both)

here="$(cd "$(dirname "$0")" && pwd)"
context="${1:-$(cd "$here/../.." && pwd)}"
JDK="${JDK:-/usr/lib/jvm/temurin-25-jdk-amd64}"
WORK="${WORK:-/var/tmp/vhostd-ctr}"
MIRROR="${MIRROR:-http://deb.debian.org/debian}"
MAVEN_VERSION="${MAVEN_VERSION:-3.9.9}"
TAG="${TAG:-localhost/vhostd:dev}"
ISOLATION="${ISOLATION:-chroot}"
BASE=localhost/vhostd-base:bookworm-slim
BUILD=localhost/vhostd-build:jdk25-maven
bah=(buildah --storage-driver vfs)

die() { echo "build-local: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "run as root (buildah from scratch + mount)"
command -v buildah >/dev/null || die "buildah missing: apt-get install -y buildah"
[ -x "$JDK/bin/jlink" ] || die "no JDK with jlink at $JDK (set JDK=)"
[ -f "$context/Dockerfile" ] || die "no Dockerfile in $context"
mkdir -p "$WORK"

have_image() { "${bah[@]}" inspect --type image "$1" >/dev/null 2>&1; }

if ! have_image "$BASE"; then
    rootfs="$WORK/rootfs-bookworm"
    if [ ! -x "$rootfs/bin/bash" ]; then
        command -v debootstrap >/dev/null || die "debootstrap missing: apt-get install -y debootstrap"
        debootstrap --variant=minbase bookworm "$rootfs" "$MIRROR"
    fi
    ctr=$("${bah[@]}" from scratch)
    mnt=$("${bah[@]}" mount "$ctr")
    cp -a "$rootfs/." "$mnt/"
    # What debian:bookworm-slim leaves out.
    rm -rf "$mnt"/usr/share/doc/* "$mnt"/usr/share/man/* "$mnt"/usr/share/info/* \
           "$mnt"/var/lib/apt/lists/* "$mnt"/var/cache/apt/*.bin "$mnt"/var/cache/apt/archives/*.deb
    "${bah[@]}" umount "$ctr"
    "${bah[@]}" config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        --cmd bash "$ctr"
    "${bah[@]}" commit --rm "$ctr" "$BASE"
fi

if ! have_image "$BUILD"; then
    tarball="$WORK/apache-maven-$MAVEN_VERSION-bin.tar.gz"
    url="https://repo.maven.apache.org/maven2/org/apache/maven/apache-maven/$MAVEN_VERSION/apache-maven-$MAVEN_VERSION-bin.tar.gz"
    if [ ! -f "$tarball" ]; then
        curl -fsSL -o "$tarball.part" "$url"
        mv "$tarball.part" "$tarball"
    fi
    want=$(curl -fsSL "$url.sha512" | awk '{print $1}')
    got=$(sha512sum "$tarball" | awk '{print $1}')
    [ "$want" = "$got" ] || die "checksum mismatch for $tarball"
    ctr=$("${bah[@]}" from "$BASE")
    mnt=$("${bah[@]}" mount "$ctr")
    mkdir -p "$mnt/opt/java" "$mnt/usr/share/maven"
    # -L: Debian's JDK packages link lib/security/cacerts to /etc/ssl/certs/java, absent here.
    cp -aL "$JDK/." "$mnt/opt/java/openjdk/"
    tar -xzf "$tarball" -C "$mnt/usr/share/maven" --strip-components=1
    ln -sf /usr/share/maven/bin/mvn "$mnt/usr/bin/mvn"
    "${bah[@]}" umount "$ctr"
    "${bah[@]}" config --env JAVA_HOME=/opt/java/openjdk --env MAVEN_HOME=/usr/share/maven \
        --env PATH=/opt/java/openjdk/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$ctr"
    "${bah[@]}" commit --rm "$ctr" "$BUILD"
fi

# --network host: the build stage downloads dependencies from Maven Central.
# --format docker keeps HEALTHCHECK, which the OCI image format has no field for.
"${bah[@]}" bud --isolation "$ISOLATION" --network host --format docker \
    --build-arg BUILD_IMAGE="$BUILD" --build-arg RUNTIME_IMAGE="$BASE" \
    -t "$TAG" -f "$context/Dockerfile" "$context"
"${bah[@]}" images

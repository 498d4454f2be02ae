#!/usr/bin/env bash
# Builds the vhostd Debian package: the jar, a jlink'd Java 25 runtime holding only the modules
# vhostd uses, the launcher, systemd units, sysusers.d/tmpfiles.d entries, QEMU's vhost-user
# discovery file and its wrapper, an example configuration (a conffile) and the docs.
#
# Usage: packaging/build-deb.sh [--jar JAR] [--version VERSION] OUTDIR
#        packaging/build-deb.sh --print-version     (the version a build would get, and nothing else)
#   --jar JAR          package this daemon jar (default: build it with `mvn -B -q -DskipTests package`)
#   --version VERSION  package version (default: from the build, see below)
#   --compression xz|gzip|none   dpkg-deb's compressor (default xz; tests use gzip, 10x faster)
# Prints the path of OUTDIR/vhostd_VERSION_amd64.deb as its last line.
#
# Versions: the Maven version is the release version. A release build (pom version without -SNAPSHOT,
# e.g. 0.2.0) makes package 0.2.0. A SNAPSHOT build makes 0.2.0~dev.<commit time>.g<commit>: '~' sorts
# before the release in Debian's order, and the commit time makes later commits upgrade earlier ones.
# The version is stamped into the jar's manifest, so `vhostd --version` and the vhostd_build_info
# metric say what the package says.
# Needs: a JDK 25 with jlink (JDK=, default /usr/lib/jvm/temurin-25-jdk-amd64), dpkg-deb, objcopy
# (binutils: jlink --strip-debug), git for SNAPSHOT versions. No root or fakeroot.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
JDK="${JDK:-/usr/lib/jvm/temurin-25-jdk-amd64}"
# What `jdeps --print-module-deps` finds that the daemon runs (java.sql, java.rmi and java.net.http
# are only reached from optional junixsocket and Micrometer classes vhostd never loads), plus
# java.logging (the log handler) and jdk.unsupported (sun.misc.Unsafe, probed by junixsocket and Micrometer).
MODULES=java.base,java.logging,java.management,jdk.management,jdk.httpserver,jdk.unsupported

jar= version= out= compression=xz print_version=0
while [ $# -gt 0 ]; do
  case "$1" in
    --jar) jar=${2:?--jar needs a file}; shift 2 ;;
    --version) version=${2:?--version needs a version}; shift 2 ;;
    --print-version) print_version=1; shift ;;
    --compression) compression=${2:?--compression needs xz, gzip or none}; shift 2 ;;
    -h|--help) sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "build-deb: unknown option '$1'" >&2; exit 2 ;;
    *) [ -z "$out" ] || { echo "build-deb: one OUTDIR only" >&2; exit 2; }; out=$1; shift ;;
  esac
done
die() { echo "build-deb: $*" >&2; exit 1; }
[ -n "$out" ] || [ "$print_version" = 1 ] || die "usage: packaging/build-deb.sh [--jar JAR] [--version VERSION] OUTDIR"
[ -x "$JDK/bin/jlink" ] || die "no JDK with jlink at $JDK (set JDK=)"
command -v dpkg-deb >/dev/null || die "dpkg-deb missing (apt-get install dpkg)"
command -v objcopy >/dev/null || die "objcopy missing: jlink --strip-debug needs it (apt-get install binutils)"

if [ -z "$version" ]; then
  pom=$(sed -n 's:.*<version>\(.*\)</version>.*:\1:p' "$root/pom.xml" | head -n 1)
  [ -n "$pom" ] || die "cannot read the version from $root/pom.xml"
  case "$pom" in
    *-SNAPSHOT)
      when=$(TZ=UTC git -C "$root" log -1 --format=%cd --date=format-local:%Y%m%d%H%M%S 2>/dev/null) \
        || die "a SNAPSHOT build takes its version from git; pass --version or build from a git checkout"
      version="${pom%-SNAPSHOT}~dev.$when.g$(git -C "$root" rev-parse --short=10 HEAD)" ;;
    *) version=$pom ;;
  esac
fi
[[ "$version" =~ ^[0-9][A-Za-z0-9.+~]*$ ]] || die "'$version' is not a Debian version without a revision"
[[ "$version" != *SNAPSHOT* ]] || die "'$version': a package version never says SNAPSHOT"
if [ "$print_version" = 1 ]; then echo "$version"; exit 0; fi

if [ -z "$jar" ]; then
  echo "build-deb: building the jar (mvn -B -q -DskipTests package)" >&2
  (cd "$root" && mvn -B -q -DskipTests -Djazzer.skip package) >&2 || die "the Maven build failed"
  jar="$root/daemon/target/vhostd.jar"
fi
[ -s "$jar" ] || die "no jar at $jar"


mkdir -p "$out"
out=$(cd "$out" && pwd)
stage=$(mktemp -d "${TMPDIR:-/tmp}/vhostd-deb.XXXXXX")
trap 'rm -rf "$stage"' EXIT
pkg="$stage/root"

install -d "$pkg/usr/lib/vhostd" "$pkg/usr/bin" "$pkg/usr/libexec/vhostd" "$pkg/lib/systemd/system" \
  "$pkg/usr/lib/sysusers.d" "$pkg/usr/lib/tmpfiles.d" "$pkg/usr/share/qemu/vhost-user" \
  "$pkg/etc/vhostd" "$pkg/usr/share/doc/vhostd" "$pkg/DEBIAN"

# The jar says the package's version (Implementation-Version), whatever Maven called it.
install -m0644 "$jar" "$pkg/usr/lib/vhostd/vhostd.jar"
printf 'Implementation-Version: %s\n' "$version" >"$stage/manifest.add"
"$JDK/bin/jar" --update --file "$pkg/usr/lib/vhostd/vhostd.jar" --manifest "$stage/manifest.add" 2>"$stage/jar.err" \
  || { cat "$stage/jar.err" >&2; die "cannot stamp the version into the jar"; }

"$JDK/bin/jlink" --add-modules "$MODULES" --strip-debug --no-header-files --no-man-pages \
  --compress=zip-6 --output "$pkg/usr/lib/vhostd/runtime" || die "jlink failed"
# The runtime must run the jar: a missing module shows up here, not on the operator's machine.
got=$("$pkg/usr/lib/vhostd/runtime/bin/java" -jar "$pkg/usr/lib/vhostd/vhostd.jar" --version 2>&1) \
  || die "the linked runtime cannot run vhostd: $got"
[[ "$got" == *"vhostd $version"* ]] || die "the jar reports '$got', not version $version"

install -m0755 "$root/packaging/vhostd" "$pkg/usr/bin/vhostd"
install -m0755 "$root/packaging/vhost-user-blk" "$pkg/usr/libexec/vhostd/vhost-user-blk"
install -m0644 "$root/share/qemu/vhost-user/50-vhostd.json" "$pkg/usr/share/qemu/vhost-user/50-vhostd.json"
install -m0644 "$root/systemd/vhostd@.service" "$root/systemd/vhostd@.socket" "$pkg/lib/systemd/system/"
install -m0644 "$root/systemd/sysusers.d/vhostd.conf" "$pkg/usr/lib/sysusers.d/vhostd.conf"
install -m0644 "$root/systemd/tmpfiles.d/vhostd.conf" "$pkg/usr/lib/tmpfiles.d/vhostd.conf"
install -m0644 "$root/systemd/examples/example.conf" "$pkg/etc/vhostd/example.conf"
install -m0644 "$root/README.md" "$pkg/usr/share/doc/vhostd/README.md"
install -m0644 "$root/systemd/examples/example.conf" "$pkg/usr/share/doc/vhostd/example.conf"
install -m0644 "$root/monitoring/prometheus/vhostd-alerts.yml" "$pkg/usr/share/doc/vhostd/vhostd-alerts.yml"
install -m0644 "$root/monitoring/grafana/vhostd-dashboard.json" "$pkg/usr/share/doc/vhostd/vhostd-dashboard.json"
printf 'vhostd %s\n\nThe Java runtime in /usr/lib/vhostd/runtime is OpenJDK (GPL-2.0 with the Classpath Exception).\n' \
  "$version" >"$pkg/usr/share/doc/vhostd/copyright"

for s in postinst prerm postrm; do install -m0755 "$root/packaging/debian/$s" "$pkg/DEBIAN/$s"; done
echo /etc/vhostd/example.conf >"$pkg/DEBIAN/conffiles"
size=$(du -sk --exclude=DEBIAN "$pkg" | cut -f1)
sed -e "s/@VERSION@/$version/" -e "s/@SIZE@/$size/" "$root/packaging/debian/control.in" >"$pkg/DEBIAN/control"

deb="$out/vhostd_${version}_amd64.deb"
dpkg-deb --root-owner-group "-Z$compression" --build "$pkg" "$deb" >&2
echo "build-deb: $(du -h "$deb" | cut -f1) package, $((size / 1024)) MB installed" >&2
echo "$deb"

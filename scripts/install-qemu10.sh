#!/usr/bin/env bash
# Installs QEMU 10.0 from bookworm-backports beside Debian 12's QEMU 7.2, without replacing it:
# the .debs are downloaded (apt-get download) and unpacked (dpkg -x) into a private prefix, and
# small wrappers point the binaries at their own firmware and module directories.
#
#   PREFIX/bin/qemu-system-x86_64    QEMU 10.0, with -L PREFIX/usr/share/qemu
#   PREFIX/bin/qemu-storage-daemon   qemu-storage-daemon 10.0
#   PREFIX/bin/qemu-img
#
# Use QEMU 10.0 instead of the system's 7.2 by putting PREFIX/bin first on PATH
# (the test harness does this for VHOSTD_QEMU=10.0).
#
# Usage: scripts/install-qemu10.sh [PREFIX]     (default /opt/vhostd/qemu-10.0; needs root)
# Idempotent: a complete prefix (its stamp names the same version) is left alone.
# Prints the prefix as the last line of stdout.
set -euo pipefail

prefix=${1:-/opt/vhostd/qemu-10.0}
suite=bookworm-backports
packages=(qemu-system-x86 qemu-system-common qemu-system-data qemu-utils seabios qemu-block-extra)
sources=/etc/apt/sources.list.d/vhostd-bookworm-backports.sources

say() { echo "install-qemu10: $*" >&2; }
die() { echo "install-qemu10: error: $*" >&2; exit 1; }

if [ -x "$prefix/bin/qemu-system-x86_64" ] && [ -f "$prefix/.stamp" ] \
    && "$prefix/bin/qemu-system-x86_64" --version 2>/dev/null | grep -q "version 10\."; then
  echo "$prefix"
  exit 0
fi
[ "$(id -u)" -eq 0 ] || die "QEMU 10.0 is not in $prefix yet; run this script as root to install it"

# bookworm-backports from the same Debian archive as the system's sources. Backports have
# priority 100, so nothing is upgraded from it by accident: we only download from it by name.
if ! apt-cache policy qemu-system-x86 2>/dev/null | grep -q "$suite"; then
  if [ ! -f "$sources" ]; then
    uri=$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n 1)
    [ -n "$uri" ] || uri=$(awk '$1 == "deb" && $3 == "bookworm" {print $2; exit}' /etc/apt/sources.list 2>/dev/null)
    [ -n "$uri" ] || die "cannot find the Debian archive in /etc/apt/sources.list*; add $suite by hand"
    say "adding $suite ($uri) to $sources"
    cat >"$sources" <<EOF
Types: deb
URIs: $uri
Suites: $suite
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  fi
  say "apt-get update"
  apt-get -o DPkg::Lock::Timeout=600 update -q >/dev/null || die "apt-get update failed; check the network and $sources"
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
say "downloading ${packages[*]} from $suite"
(cd "$work" && apt-get download -q "${packages[@]/%//$suite}" >/dev/null 2>&1) \
  || (cd "$work" && apt-get download "${packages[@]/%//$suite}") \
  || die "apt-get download from $suite failed"

stage=$prefix.new
rm -rf "$stage"
mkdir -p "$stage"
for deb in "$work"/*.deb; do
  dpkg-deb -x "$deb" "$stage"
done

# qemu-system-data ships the x86 BIOS images as links into seabios' directory; make them
# relative to the prefix so 10.0 boots with its own SeaBIOS (1.16.3), not the system's.
for f in "$stage"/usr/share/seabios/*.bin; do
  ln -sfn "../seabios/$(basename "$f")" "$stage/usr/share/qemu/$(basename "$f")"
done

mkdir -p "$stage/bin"
for tool in qemu-system-x86_64 qemu-storage-daemon qemu-img; do
  extra=""
  [ "$tool" = qemu-system-x86_64 ] && extra=" -L \"\$here/usr/share/qemu\""
  cat >"$stage/bin/$tool" <<EOF
#!/bin/sh
# QEMU 10.0 from $suite, unpacked by scripts/install-qemu10.sh.
here=\$(dirname "\$(dirname "\$(readlink -f "\$0")")")
export QEMU_MODULE_DIR="\$here/usr/lib/x86_64-linux-gnu/qemu"
exec "\$here/usr/bin/$tool"$extra "\$@"
EOF
  chmod 0755 "$stage/bin/$tool"
done

"$stage/bin/qemu-system-x86_64" --version | grep -q "version 10\." \
  || die "the unpacked qemu-system-x86_64 does not run: $("$stage/bin/qemu-system-x86_64" --version 2>&1 | head -n 3)"
"$stage/bin/qemu-storage-daemon" --version >/dev/null || die "the unpacked qemu-storage-daemon does not run"
"$stage/bin/qemu-system-x86_64" --version | head -n 1 >"$stage/.stamp"

rm -rf "$prefix"
mv "$stage" "$prefix"
say "installed $(cat "$prefix/.stamp") in $prefix"
echo "$prefix"

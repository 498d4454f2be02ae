#!/usr/bin/env bash
# Makes the Debian 12 root file systems the container tests and build-local.sh start from, without
# any image registry: debootstrap once, saved as tarballs under ~/.cache/vhostd-images (Docker's own
# image store does not survive a fresh machine; the tarballs do, and `docker import` takes seconds).
#
#   bookworm-minbase.tar   debootstrap --variant=minbase bookworm, docs and apt lists stripped:
#                          stands in for debian:bookworm-slim (the image's runtime stage)
#   bookworm-systemd.tar   minbase + systemd, systemd-sysv: boots /sbin/init as PID 1 (the package test)
#
# Usage: scripts/container/base-images.sh [--import]
#   --import   also `docker import` each tarball whose image is missing, as
#              localhost/vhostd-base:bookworm-slim and localhost/vhostd-systemd:bookworm (run the
#              latter with --stop-signal SIGRTMIN+3: docker import cannot set STOPSIGNAL)
# Prints the cache directory as its last line. Needs root and debootstrap (scripts/install-test-deps.sh).
# Environment: MIRROR (default http://deb.debian.org/debian), VHOSTD_IMAGE_CACHE, DOCKER (docker CLI).
set -euo pipefail

MIRROR="${MIRROR:-http://deb.debian.org/debian}"
cache="${VHOSTD_IMAGE_CACHE:-$HOME/.cache/vhostd-images}"
DOCKER="${DOCKER:-/usr/bin/docker}"
import=0
case "${1:-}" in
  --import) import=1 ;;
  "") ;;
  *) echo "base-images: unknown argument '$1' (usage: base-images.sh [--import])" >&2; exit 2 ;;
esac

die() { echo "base-images: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "run as root (debootstrap needs it)"
mkdir -p "$cache"

# make NAME INCLUDES: one debootstrap into a scratch directory, tarred next to the cache atomically.
make_rootfs() {
  local name=$1 include=$2 out="$cache/$1.tar"
  [ -s "$out" ] && return 0
  command -v debootstrap >/dev/null || die "debootstrap missing: run scripts/install-test-deps.sh"
  local dir; dir=$(mktemp -d "${TMPDIR:-/var/tmp}/vhostd-rootfs.XXXXXX")
  echo "base-images: debootstrap $name (about a minute)" >&2
  if ! debootstrap --variant=minbase ${include:+--include="$include"} bookworm "$dir" "$MIRROR" \
        >"$dir.log" 2>&1; then
    tail -n 20 "$dir.log" >&2; rm -rf "$dir" "$dir.log"; die "debootstrap $name failed (mirror $MIRROR)"
  fi
  # What debian:bookworm-slim leaves out; apt lists are fetched again by whoever needs apt.
  rm -rf "$dir"/usr/share/doc/* "$dir"/usr/share/man/* "$dir"/usr/share/info/* \
         "$dir"/var/lib/apt/lists/* "$dir"/var/cache/apt/*.bin "$dir"/var/cache/apt/archives/*.deb
  tar -C "$dir" --numeric-owner -cf "$out.part" .
  mv "$out.part" "$out"
  rm -rf "$dir" "$dir.log"
}

make_rootfs bookworm-minbase ""
make_rootfs bookworm-systemd systemd,systemd-sysv

if [ "$import" = 1 ]; then
  have() { "$DOCKER" image inspect "$1" >/dev/null 2>&1; }
  have localhost/vhostd-base:bookworm-slim || "$DOCKER" import \
      --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' --change 'CMD ["bash"]' \
      "$cache/bookworm-minbase.tar" localhost/vhostd-base:bookworm-slim >/dev/null
  have localhost/vhostd-systemd:bookworm || "$DOCKER" import \
      --change 'ENV container=docker' --change 'CMD ["/sbin/init"]' \
      "$cache/bookworm-systemd.tar" localhost/vhostd-systemd:bookworm >/dev/null
fi
echo "$cache"

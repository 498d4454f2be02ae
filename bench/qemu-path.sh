#!/usr/bin/env bash
# Resolves which build of a QEMU program the benchmark scripts run, so they can compare Debian 12's
# QEMU 7.2 with QEMU 10.0 from bookworm-backports (unpacked beside it by scripts/install-qemu10.sh).
#
# Usage: bench/qemu-path.sh TOOL SPEC
#   TOOL   qemu-storage-daemon or qemu-system-x86_64
#   SPEC   7.2 (the system's, from PATH), 10.0 (${VHOSTD_QEMU10_PREFIX:-/opt/vhostd/qemu-10.0}/bin),
#          or a path to the program
# Prints one line: PATH<TAB>VERSION (for example "/usr/bin/qemu-storage-daemon	7.2.22").
# Exit status 1, with a line saying how to install it, when that build is not there.
set -euo pipefail

die() { echo "qemu-path.sh: $*" >&2; exit 1; }
[ $# -eq 2 ] || { echo "usage: bench/qemu-path.sh TOOL 7.2|10.0|PATH" >&2; exit 2; }
tool=$1 spec=$2
case "$spec" in
  7.2) path=$(command -v "$tool") || die "$tool (QEMU 7.2) not found; run scripts/install-test-deps.sh" ;;
  10.0)
    path=${VHOSTD_QEMU10_PREFIX:-/opt/vhostd/qemu-10.0}/bin/$tool
    [ -x "$path" ] || die "QEMU 10.0's $tool is not at $path; run scripts/install-qemu10.sh as root" ;;
  */*) path=$spec; [ -x "$path" ] || die "$path is not an executable $tool" ;;
  *) die "expected 7.2, 10.0 or a path to $tool, got '$spec'" ;;
esac
version=$("$path" --version 2>/dev/null | sed -n 's/.* version \([0-9][0-9.]*\).*/\1/p' | head -n 1)
[ -n "$version" ] || die "$path --version did not name a version; is it $tool?"
printf '%s\t%s\n' "$path" "$version"

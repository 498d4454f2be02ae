#!/usr/bin/env bash
# Installs the Debian packages vhostd's tests need beyond the JDK and Maven:
# QEMU (a real vhost-user front end, and qemu-storage-daemon as the reference back end),
# the guest-image ingredients (busybox, fio, util-linux, cpio), and the real peers the
# daemon tests talk to (prometheus, systemd's socket activation tools, curl).
#
# Idempotent: when every package is already installed it returns without touching apt.
# Also unpacks QEMU 10.0 from bookworm-backports into /opt/vhostd/qemu-10.0 (install-qemu10.sh).
# Needs root (or passwordless sudo) only when something is missing. Target: Debian 12.
set -euo pipefail
# optional-tools: sudo (only when not root and sudo is present; CI runs as root)

packages=(
  qemu-system-x86      # qemu-system-x86_64: the guest and its vhost-user-blk-pci front end
  qemu-system-common   # qemu-storage-daemon: the reference vhost-user-blk back end
  qemu-utils           # qemu-img
  fio                  # I/O generator with data verification, runs inside the guest
  busybox-static       # the guest's /init shell and tools
  cpio                 # builds the guest initramfs
  util-linux           # blkdiscard, runs inside the guest
  prometheus           # a real scraper for the metrics endpoint
  systemd              # systemd-analyze, systemd-socket-activate
  curl
  kmod                 # modinfo: scripts/guest/prepare.sh resolves guest module dependencies
  docker.io            # the container image is built and run in the tests (scripts/container/)
  debootstrap          # base images without a registry (scripts/container/base-images.sh)
  binutils             # objcopy: jlink --strip-debug in packaging/build-deb.sh
  git                  # packaging/build-deb.sh: a SNAPSHOT build's package version names its commit
  xz-utils             # xz: prepare.sh unpacks .ko.xz kernel modules
  zstd                 # zstd: prepare.sh unpacks .ko.zst kernel modules
  shfmt                # the shell parser ScriptToolsTest reads these scripts with
  socat                # the control API test speaks to the socket the way the README shows
  ceph-mon             # a single-node Ceph cluster for the rbd: backend's tests (scripts/ceph/)
  ceph-osd
  ceph-common          # the ceph and rbd command-line tools
  librbd1              # what the rbd: backend calls through FFM (with librados2)
  librados2
  qemu-block-extra     # qemu-storage-daemon's driver=rbd, the reference in bench/compare.sh rbd
  linux-perf           # perf stat: bench/metrics-cost.sh counts the daemon's instructions per request
)

missing=()
for p in "${packages[@]}"; do
  # dpkg -s succeeds for removed-but-configured packages too; check the status line.
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
    missing+=("$p")
  fi
done

here=$(cd "$(dirname "$0")" && pwd)
# QEMU 10.0 beside the system's 7.2, for the guest tests and comparisons that run on both.
qemu10() { "$here/install-qemu10.sh" >/dev/null; }

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-test-deps: all ${#packages[@]} packages present"
  qemu10
  exit 0
fi

echo "install-test-deps: installing ${missing[*]}"

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO=(sudo -n)
  else
    echo "install-test-deps: missing packages (${missing[*]}) and not root; run this script as root" >&2
    exit 1
  fi
fi

export DEBIAN_FRONTEND=noninteractive
log=$(mktemp)
trap 'rm -f "$log"' EXIT

apt_install() {
  "${SUDO[@]}" apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends "${missing[@]}" >"$log" 2>&1
}

# Try without refreshing first: on a machine whose lists are current this avoids the
# network round trip. Refresh once and retry when apt cannot find or fetch something.
if ! apt_install; then
  echo "install-test-deps: refreshing package lists (apt-get update)"
  if ! "${SUDO[@]}" apt-get -o DPkg::Lock::Timeout=600 update -q >"$log" 2>&1; then
    echo "install-test-deps: apt-get update failed; check the network and /etc/apt/sources.list*:" >&2
    tail -n 20 "$log" >&2
    exit 1
  fi
  if ! apt_install; then
    echo "install-test-deps: apt-get install of ${missing[*]} failed:" >&2
    tail -n 20 "$log" >&2
    exit 1
  fi
fi

qemu10
echo "install-test-deps: done"

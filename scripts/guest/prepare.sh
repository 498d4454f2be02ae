#!/usr/bin/env bash
# Builds (once, cached) the small Linux guest that vhostd's real-guest tests boot under QEMU:
#   vmlinuz      Debian's cloud kernel, unpacked from its .deb without installing it
#   base.cpio    an uncompressed newc initramfs: busybox, fio and util-linux blkdiscard with their
#                shared libraries, the virtio block modules, and an /init that runs /test.sh
# run.sh appends a second tiny cpio archive carrying /test.sh per run (the kernel unpacks
# concatenated archives in order), so a new test script never rebuilds this image.
#
# Usage: scripts/guest/prepare.sh [--quiet]
# Prints the image directory (holding vmlinuz, base.cpio, manifest) as the last line of stdout.
# Cache: ${VHOSTD_GUEST_CACHE:-$HOME/.cache/vhostd-guest}/<inputs hash>/; rebuilt only when this
# script, the kernel version or a host file copied into the image changes; images unused for two
# days are removed.
set -euo pipefail

quiet=0
for arg in "$@"; do
  case "$arg" in
    --quiet) quiet=1 ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "prepare.sh: unknown argument '$arg' (try --help)" >&2; exit 2 ;;
  esac
done

say() { [ "$quiet" -eq 1 ] || echo "prepare.sh: $*" >&2; }
die() { echo "prepare.sh: error: $*" >&2; exit 1; }

cache_root=${VHOSTD_GUEST_CACHE:-$HOME/.cache/vhostd-guest}

for tool in apt-cache apt-get dpkg dpkg-query cpio ldd modinfo sha256sum flock; do
  command -v "$tool" >/dev/null 2>&1 || die "'$tool' not found; run scripts/install-test-deps.sh as root"
done

# Guest programs taken from the host. busybox must be the static build: it is /init's shell.
busybox=/bin/busybox
fio=$(command -v fio || true)
blkdiscard=$(command -v blkdiscard || echo /usr/sbin/blkdiscard)
[ -x "$busybox" ] || die "$busybox missing; install busybox-static (scripts/install-test-deps.sh)"
if ldd "$busybox" >/dev/null 2>&1; then
  die "$busybox is dynamically linked; install busybox-static instead of busybox"
fi
[ -n "$fio" ] && [ -x "$fio" ] || die "fio missing; install fio (scripts/install-test-deps.sh)"
[ -x "$blkdiscard" ] || die "blkdiscard missing; install util-linux (scripts/install-test-deps.sh)"

# Modules the guest needs for a virtio-blk PCI disk; dependencies are added from modinfo.
wanted_modules=(virtio_pci virtio_blk)

# --- Kernel version: whatever linux-image-cloud-amd64 currently depends on. ------------------
# One apt-cache call (about 1.5 s where apt keeps no binary cache): the metapackage's candidate
# names the ABI-versioned image package in its Depends and carries the upload's version.
meta=$(apt-cache show --no-all-versions linux-image-cloud-amd64 2>/dev/null || true)
kernel_pkg=$(sed -n 's/^Depends:.*\(linux-image-[0-9][^ ,]*-cloud-amd64\).*/\1/p' <<<"$meta" | head -n 1)
kernel_version=$(sed -n 's/^Version: //p' <<<"$meta" | head -n 1)
[ -n "$kernel_pkg" ] && [ -n "$kernel_version" ] || die "cannot resolve the kernel package from \
linux-image-cloud-amd64; is the Debian main archive in /etc/apt/sources.list* and has \
'apt-get update' run?"
kernel_release=${kernel_pkg#linux-image-}

# --- Host files copied into the image: the programs, their libraries and the dynamic loader. --
host_libs() {
  # ldd prints "name => /path (addr)" and "/lib64/ld-linux-x86-64.so.2 (addr)".
  ldd "$1" | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}'
}
mapfile -t libs < <( { host_libs "$fio"; host_libs "$blkdiscard"; } | sort -u)
[ ${#libs[@]} -gt 0 ] || die "ldd found no libraries for $fio"

# --- Cache key: this script, the kernel, and identity (size, mtime) of every host file. -------
inputs_hash=$(
  {
    sha256sum <"$0"   # content only: the same script reached by another path is the same input
    echo "kernel $kernel_pkg $kernel_version"
    echo "modules ${wanted_modules[*]}"
    for f in "$busybox" "$fio" "$blkdiscard" "${libs[@]}"; do
      stat -L -c '%n %s %Y' "$f"
    done
  } | sha256sum | cut -c1-16
)
image_dir=$cache_root/$inputs_hash

if [ -f "$image_dir/manifest" ]; then
  touch "$image_dir/manifest"   # last use, for pruning
  say "cached image $image_dir"
  echo "$image_dir"
  exit 0
fi

mkdir -p "$cache_root"
exec 9>"$cache_root/.lock"
flock 9  # another build (another test JVM, another checkout) may be running
if [ -f "$image_dir/manifest" ]; then
  echo "$image_dir"
  exit 0
fi

work=$(mktemp -d "$cache_root/.build.XXXXXX")
trap 'rm -rf "$work"' EXIT
say "building guest image $inputs_hash (kernel $kernel_pkg $kernel_version)"

# --- Kernel and modules from the .deb, without installing it. ----------------------------------
(
  cd "$work"
  if ! apt-get download "$kernel_pkg" >download.log 2>&1; then
    cat download.log >&2
    die "apt-get download $kernel_pkg failed (network? stale lists? try 'apt-get update')"
  fi
) || exit 1
dpkg -x "$work"/"$kernel_pkg"_*.deb "$work/kernel"
mod_root=$work/kernel/lib/modules/$kernel_release
[ -d "$mod_root" ] || die "no modules at lib/modules/$kernel_release in $kernel_pkg"
cp "$work/kernel/boot/vmlinuz-$kernel_release" "$work/vmlinuz"

root=$work/root
# Merged-/usr layout like the host, so a library resolves whether ldd printed /lib/... or /usr/lib/...
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,usr/lib/modules,usr/lib64,proc,sys,dev,tmp,etc,run}
ln -s usr/lib "$root/lib"
ln -s usr/lib64 "$root/lib64"

module_file() {
  find "$mod_root" -name "$1.ko" -o -name "$1.ko.xz" -o -name "$1.ko.zst" -o -name "$1.ko.gz" \
    | head -n 1
}

# Depth-first: every module after its dependencies (virtio_ring before virtio, and so on).
declare -A placed=()
load_order=()
place_module() {
  local name=$1 file dep
  [ -n "${placed[$name]:-}" ] && return 0
  placed[$name]=1
  file=$(module_file "$name")
  if [ -z "$file" ]; then
    # Built into this kernel: nothing to load. (modules.builtin lists it by path.)
    grep -q "/$name.ko\$" "$mod_root/modules.builtin" 2>/dev/null \
      || die "module $name is neither in $kernel_pkg nor built in"
    return 0
  fi
  for dep in $(modinfo -F depends "$file" | tr ',' ' '); do
    place_module "$dep"
  done
  case "$file" in
    *.ko)     cp "$file" "$root/lib/modules/$name.ko" ;;
    *.ko.xz)  xz -dc "$file" >"$root/lib/modules/$name.ko" ;;
    *.ko.zst) zstd -qdc "$file" >"$root/lib/modules/$name.ko" ;;
    *.ko.gz)  gzip -dc "$file" >"$root/lib/modules/$name.ko" ;;
  esac
  load_order+=("$name")
}
for m in "${wanted_modules[@]}"; do place_module "$m"; done
printf '%s\n' "${load_order[@]}" >"$root/etc/modules.order"

# --- Programs. util-linux blkdiscard goes first in PATH: busybox's applet lacks -z. -------------
cp "$busybox" "$root/bin/busybox"
for applet in $("$busybox" --list); do
  case "$applet" in busybox|blkdiscard) continue ;; esac
  ln -s busybox "$root/bin/$applet"
done
cp "$fio" "$root/usr/bin/fio"
cp "$blkdiscard" "$root/usr/sbin/blkdiscard"
for lib in "${libs[@]}"; do
  # Keep the path ldd reported (the loader and RUNPATHs look there) and copy the real file.
  mkdir -p "$root$(dirname "$lib")"
  cp -L "$lib" "$root$lib"
done
cat >"$root/init" <<'INIT'
#!/bin/sh
# vhostd test guest: mount the basics, load the virtio modules, run /test.sh, report, power off.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
mkdir -p /dev/shm && mount -t tmpfs tmpfs /dev/shm

for m in $(cat /etc/modules.order); do
  insmod "/lib/modules/$m.ko" || echo "VHOSTD-GUEST: insmod $m failed"
done

# The disk appears asynchronously after virtio_blk probes; give it a few seconds.
# Scripts that expect no disk (or a late one) still run, and check for themselves.
i=0
while [ ! -b /dev/vda ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
[ -b /dev/vda ] || echo "VHOSTD-GUEST: no /dev/vda after 5 s"

if [ -f /test.sh ]; then
  sh /test.sh </dev/null
  rc=$?
else
  echo "VHOSTD-GUEST: no /test.sh in the initramfs"
  rc=127
fi
sync
# Own line, so kernel messages interleaved on the console cannot glue onto it.
echo
echo "VHOSTD-GUEST-EXIT=$rc"
poweroff -f
INIT
chmod 0755 "$root/init"

(cd "$root" && find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc --quiet -R 0:0) \
  >"$work/base.cpio"

{
  echo "inputs_hash=$inputs_hash"
  echo "kernel_package=$kernel_pkg"
  echo "kernel_version=$kernel_version"
  echo "modules=${load_order[*]}"
  echo "fio=$(dpkg-query -W -f='${Version}' fio 2>/dev/null || echo unknown)"
  echo "busybox=$(dpkg-query -W -f='${Version}' busybox-static 2>/dev/null || echo unknown)"
  echo "util_linux=$(dpkg-query -W -f='${Version}' util-linux 2>/dev/null || echo unknown)"
  echo "base_cpio_bytes=$(stat -c %s "$work/base.cpio")"
} >"$work/manifest.tmp"

final=$work/final
mkdir "$final"
mv "$work/vmlinuz" "$work/base.cpio" "$final/"
mv "$work/manifest.tmp" "$final/manifest"   # written last: its presence marks a complete image
rm -rf "$image_dir"
mv "$final" "$image_dir"

# Drop images nobody has used for two days. Not simply "every other image": checkouts on other
# branches share this cache, and a test run elsewhere may be about to boot one of them.
find "$cache_root" -mindepth 2 -maxdepth 2 -name manifest -mtime +1 -printf '%h\0' \
  | xargs -0 -r rm -rf
find "$cache_root" -mindepth 1 -maxdepth 1 -name '.build.*' -mtime +1 -exec rm -rf {} +

say "built $image_dir ($(du -sh "$image_dir" | cut -f1))"
echo "$image_dir"

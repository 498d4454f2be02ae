#!/usr/bin/env bash
# Boots the test guest (built by prepare.sh) with one vhost-user-blk-pci disk connected to a
# vhost-user back end's UNIX socket, runs a shell script inside it as /test.sh, and exits with
# that script's exit code.
#
# Usage: scripts/guest/run.sh --socket PATH --script FILE [options]
#   --socket PATH        the back end's vhost-user socket (QEMU connects as the client)
#   --script FILE        shell script run by the guest's busybox sh; the disk is /dev/vda
#   --queues N           virtio-blk request queues (num-queues), default 1
#   --queue-size N       descriptors per queue, default QEMU's (128)
#   --device-opts OPTS   more vhost-user-blk-pci properties, comma-separated (e.g. event_idx=off)
#   --reconnect          let QEMU reconnect (reconnect=1) when the back end goes away, and wait
#                        for the socket at start instead of failing
#   --mem SIZE           guest RAM, shared with the back end (memfd), default 512M
#   --smp N              guest vCPUs, default 2
#   --timeout SECONDS    kill QEMU after this long, default 120
#   --serial-log FILE    write the guest console to FILE (live, while the guest runs) and keep it
#   --image DIR          image from prepare.sh (default: run prepare.sh, cached)
#   --append ARGS        extra kernel command line arguments
#   --quiet              do not copy the console to stdout while the guest runs
#   --qemu VERSION       7.2: Debian 12's qemu-system-x86_64 (the default); 10.0: QEMU 10.0 from
#                        scripts/install-qemu10.sh (/opt/vhostd/qemu-10.0, or VHOSTD_QEMU10_PREFIX);
#                        or a path to a qemu-system-x86_64.
#                        The default comes from VHOSTD_QEMU when that says 7.2 or 10.0.
#   --extra-socket PATH  one more vhost-user-blk-pci disk on another back-end socket (/dev/vdb,
#                        /dev/vdc, ... in order); repeatable
#   --root-ports N       a q35 machine with N free pcie-root-ports (rp1..rpN) for hot-plugging disks
#   --qmp PATH           a QMP socket (server) at PATH, for chardev-add/device_add while the guest runs
#   --incoming URI       start as a live-migration destination (-incoming URI): the guest arrives
#                        from a source QEMU started with the same options and does not boot itself
# Exit status: the guest script's exit code (from its VHOSTD-GUEST-EXIT=<code> console line);
#   124 when the timeout expired; 125 when the guest ended without reporting (QEMU failed to
#   start, the kernel panicked, the back end refused the device...); 2 for bad arguments.
# Always TCG: nested KVM on the CI machines hangs at boot.
set -euo pipefail

usage() { sed -n '2,34p' "$0" | sed 's/^# \{0,1\}//'; }
die() { echo "run.sh: error: $*" >&2; exit 2; }

socket= script= queues=1 queue_size= device_opts= reconnect=0 mem=512M smp=2 timeout_s=120
serial_log= image= append_extra= quiet=0 root_ports=0 qmp= incoming=
extra_sockets=()
qemu_version=7.2
case "${VHOSTD_QEMU:-}" in 7.2|10.0) qemu_version=$VHOSTD_QEMU ;; esac
while [ $# -gt 0 ]; do
  case "$1" in
    --socket) socket=${2:?--socket needs a path}; shift 2 ;;
    --script) script=${2:?--script needs a file}; shift 2 ;;
    --queues) queues=${2:?--queues needs a number}; shift 2 ;;
    --queue-size) queue_size=${2:?--queue-size needs a number}; shift 2 ;;
    --device-opts) device_opts=${2:?--device-opts needs properties}; shift 2 ;;
    --reconnect) reconnect=1; shift ;;
    --mem) mem=${2:?--mem needs a size}; shift 2 ;;
    --smp) smp=${2:?--smp needs a number}; shift 2 ;;
    --timeout) timeout_s=${2:?--timeout needs seconds}; shift 2 ;;
    --serial-log) serial_log=${2:?--serial-log needs a file}; shift 2 ;;
    --image) image=${2:?--image needs a directory}; shift 2 ;;
    --append) append_extra=${2?--append needs arguments}; shift 2 ;;
    --quiet) quiet=1; shift ;;
    --qemu) qemu_version=${2:?--qemu needs 7.2 or 10.0}; shift 2 ;;
    --extra-socket) extra_sockets+=("${2:?--extra-socket needs a path}"); shift 2 ;;
    --root-ports) root_ports=${2:?--root-ports needs a number}; shift 2 ;;
    --qmp) qmp=${2:?--qmp needs a path}; shift 2 ;;
    --incoming) incoming=${2:?--incoming needs a URI}; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument '$1'" ;;
  esac
done

[ -n "$socket" ] || die "--socket is required"
[ -n "$script" ] || die "--script is required"
[ -r "$script" ] || die "script '$script' is not readable"
[[ "$queues" =~ ^[1-9][0-9]*$ ]] || die "--queues must be a positive integer, got '$queues'"
[ -z "$queue_size" ] || [[ "$queue_size" =~ ^[1-9][0-9]*$ ]] \
  || die "--queue-size must be a positive integer, got '$queue_size'"
[[ "$smp" =~ ^[1-9][0-9]*$ ]] || die "--smp must be a positive integer, got '$smp'"
[[ "$timeout_s" =~ ^[1-9][0-9]*$ ]] || die "--timeout must be a positive number of seconds"
[[ "$mem" =~ ^[1-9][0-9]*[MG]$ ]] || die "--mem must look like 512M or 1G, got '$mem'"
# QEMU parses commas in -chardev/-object values as option separators.
[[ "$socket" != *,* ]] || die "socket path must not contain a comma: $socket"
[[ "$serial_log" != *,* ]] || die "serial log path must not contain a comma: $serial_log"
[[ "$root_ports" =~ ^[0-9]+$ ]] || die "--root-ports must be a number, got '$root_ports'"
[[ "$qmp" != *,* ]] || die "QMP path must not contain a comma: $qmp"
for s in "${extra_sockets[@]}"; do
  [[ "$s" != *,* ]] || die "socket path must not contain a comma: $s"
  [ "$reconnect" -eq 1 ] || [ -S "$s" ] || die "no UNIX socket at $s; start the back end first"
done
if [ "$reconnect" -eq 0 ] && [ ! -S "$socket" ]; then
  echo "run.sh: error: no UNIX socket at $socket; start the back end first (or pass --reconnect to wait for it)" >&2
  exit 2
fi
case "$qemu_version" in
  7.2)
    qemu_bin=$(command -v qemu-system-x86_64) || die "qemu-system-x86_64 not found; run scripts/install-test-deps.sh" ;;
  10.0)
    qemu_bin=${VHOSTD_QEMU10_PREFIX:-/opt/vhostd/qemu-10.0}/bin/qemu-system-x86_64
    [ -x "$qemu_bin" ] || die "QEMU 10.0 is not installed at $qemu_bin; run scripts/install-qemu10.sh as root" ;;
  */*)
    qemu_bin=$qemu_version
    [ -x "$qemu_bin" ] || die "--qemu $qemu_bin is not an executable"
    # Below 9.2 only reconnect= exists (see reconnect_opt).
    if "$qemu_bin" --version | head -n 1 | grep -Eq 'version ([1-8]|9\.[01])\.'; then qemu_version=7.2; else qemu_version=10.0; fi ;;
  *) die "--qemu must be 7.2, 10.0 or a path, got '$qemu_version'" ;;
esac

if [ -z "$image" ]; then
  # Its own exit code would be mistaken for the guest script's: report failure as a usage error.
  image=$("$(dirname "$0")/prepare.sh" --quiet | tail -n 1) || die "scripts/guest/prepare.sh failed (see above)"
fi
[ -f "$image/manifest" ] && [ -f "$image/vmlinuz" ] && [ -f "$image/base.cpio" ] \
  || die "'$image' is not a complete guest image; run scripts/guest/prepare.sh"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/vhostd-guest.XXXXXX")
qpid=
cleanup() {
  if [ -n "$qpid" ]; then kill -TERM "$qpid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'echo "run.sh: interrupted, stopping QEMU" >&2; exit 130' INT TERM HUP

# The per-run archive: just /test.sh, appended after the base archive.
mkdir "$tmp/overlay"
cp "$script" "$tmp/overlay/test.sh"
chmod 0755 "$tmp/overlay/test.sh"
# A fixed mtime makes the archive depend on the script alone: a migration destination started
# with the same script then has the very same initrd as its source.
touch -d @0 "$tmp/overlay/test.sh"
(cd "$tmp/overlay" && echo test.sh | cpio -o -H newc --quiet -R 0:0) >"$tmp/test.cpio"
cat "$image/base.cpio" "$tmp/test.cpio" >"$tmp/initrd"

chardev="socket,id=c0,path=$socket"
# QEMU 9.2 deprecated reconnect= for reconnect-ms=; 7.2 knows only the former.
reconnect_opt=reconnect=1
[ "$qemu_version" = 7.2 ] || reconnect_opt=reconnect-ms=1000
[ "$reconnect" -eq 0 ] || chardev+=",$reconnect_opt"
device="vhost-user-blk-pci,chardev=c0,num-queues=$queues"
[ -z "$queue_size" ] || device+=",queue-size=$queue_size"
[ -z "$device_opts" ] || device+=",$device_opts"

# QEMU writes the console straight into --serial-log when given, so callers can follow it live.
console=${serial_log:-$tmp/console.log}
: >"$console" || die "cannot write the console log $console"
qemu_cmd=(
  "$qemu_bin"
  -accel tcg -smp "$smp" -m "$mem"
  -nodefaults -no-user-config -display none -vga none -monitor none -no-reboot
  -serial "file:$console"
  -object "memory-backend-memfd,id=mem,size=$mem,share=on" -numa node,memdev=mem
  -chardev "$chardev"
  -device "$device"
  -kernel "$image/vmlinuz" -initrd "$tmp/initrd"
  -append "console=ttyS0 quiet panic=-1 rdinit=/init $append_extra"
)

# More disks, each on its own socket, in the order given (the guest sees vdb, vdc, ...).
i=1
for s in "${extra_sockets[@]}"; do
  c="socket,id=c$i,path=$s"
  [ "$reconnect" -eq 0 ] || c+=",$reconnect_opt"
  qemu_cmd+=(-chardev "$c" -device "vhost-user-blk-pci,chardev=c$i,num-queues=$queues")
  i=$((i + 1))
done
if [ "$root_ports" -gt 0 ]; then
  # q35 (PCIe): hot-plugging a disk needs a free root port, as on the machines orchestrators drive.
  qemu_cmd+=(-machine q35)
  for ((p = 1; p <= root_ports; p++)); do
    qemu_cmd+=(-device "pcie-root-port,id=rp$p,bus=pcie.0,chassis=$p,slot=$p")
  done
fi
[ -z "$qmp" ] || qemu_cmd+=(-qmp "unix:$qmp,server=on,wait=off")
[ -z "$incoming" ] || qemu_cmd+=(-incoming "$incoming")

echo "run.sh: $("$qemu_bin" --version | head -n 1)" >&2
start=$(date +%s%N)
timeout --kill-after=5 "$timeout_s" "${qemu_cmd[@]}" </dev/null >"$tmp/qemu.out" 2>&1 &
qpid=$!
if [ "$quiet" -eq 0 ]; then
  # Follows the console until QEMU exits, then prints what is left.
  tail -n +1 -f --pid="$qpid" "$console" &
  tail_pid=$!
fi
set +e
wait "$qpid"
qemu_rc=$?
set -e
qpid=
if [ "$quiet" -eq 0 ]; then wait "$tail_pid" 2>/dev/null || true; fi
elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))

if [ "$qemu_rc" -eq 124 ] || [ "$qemu_rc" -eq 137 ]; then
  echo "run.sh: guest timed out after ${timeout_s}s; QEMU killed (console above${serial_log:+, and in $serial_log})" >&2
  if [ ! -s "$console" ]; then
    echo "run.sh: the console is empty: the guest never started; QEMU was probably still waiting to connect to $socket" >&2
  fi
  if [ -s "$tmp/qemu.out" ]; then sed 's/^/run.sh: qemu: /' "$tmp/qemu.out" >&2; fi
  exit 124
fi

marker=$(tr -d '\r' <"$console" | grep -a -o '^VHOSTD-GUEST-EXIT=[0-9]*$' | tail -n 1 || true)
if [ -z "$marker" ]; then
  echo "run.sh: the guest ended without reporting a result (QEMU exit status $qemu_rc after ${elapsed_ms} ms)." >&2
  if [ -s "$tmp/qemu.out" ]; then
    echo "run.sh: QEMU said:" >&2
    sed 's/^/  /' "$tmp/qemu.out" >&2
  fi
  echo "run.sh: check that the back end at $socket is running and accepted the connection, and read the console output above." >&2
  exit 125
fi
if [ -s "$tmp/qemu.out" ]; then
  sed 's/^/run.sh: qemu: /' "$tmp/qemu.out" >&2
fi
echo "run.sh: guest finished in ${elapsed_ms} ms, ${marker}" >&2
exit "${marker#VHOSTD-GUEST-EXIT=}"

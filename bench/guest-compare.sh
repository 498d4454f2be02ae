#!/usr/bin/env bash
# Compare vhostd with qemu-storage-daemon (qsd) under a real guest: boots the test guest of
# scripts/guest/ (TCG) against each back-end in turn, alternating back-ends round by round, and runs
# fio inside it (4k random reads and writes, O_DIRECT, libaio). The host reads each back-end's CPU
# time (utime + stime of /proc/PID/stat) when the guest announces the start and the end of a fio
# job on its console, so CPU per guest I/O covers exactly that job. One boot per back-end and round
# runs every case, then leaves the disk idle for --idle seconds to measure what an attached guest
# that does nothing costs the back-end.
#
# Usage: bench/guest-compare.sh [options]
#   --seconds S       fio runtime per case (default 10)
#   --warmup S        unmeasured random I/O at the start of each boot (default 5)
#   --first-warmup S  the same in each back-end's first boot (default 20): vhostd's request path is
#                     still being compiled by the JVM at first, unlike in a daemon that has served
#                     disks for a while
#   --rounds N        boots per back-end, alternating (default 2)
#   --cases LIST      comma list of case names (default all; see CASES below). qN runs N fio jobs,
#                     one per guest vCPU, so each drives its own virtqueue
#   --storage LIST    comma list of tmpfs,null (default tmpfs): tmpfs is a file on /dev/shm for
#                     each back-end (qsd with aio=io_uring, its fastest engine here); null is
#                     vhostd's null backend against qsd's null-co with read-zeroes
#   --size SIZE       disk size (default 256M)
#   --idle S          seconds of an attached idle guest per boot (default 10; 0 skips)
#   --qsd SPEC        7.2, 10.0, both, or a path to qemu-storage-daemon (default: $QSD, else 7.2).
#                     With both, ratios are against the faster qsd per case, which is named
#   --qemu SPEC       the guest's QEMU: 7.2, 10.0 or a path (default: $QEMU, else 10.0 when
#                     scripts/install-qemu10.sh installed it, else 7.2)
#   --smp N           guest vCPUs (default 2; at least the largest qN of the cases)
#   --mem SIZE        guest RAM (default 512M)
#   --out DIR         keep raw results, consoles and back-end logs here (default: a new /tmp dir)
# Environment: VHOSTD overrides the vhostd command (default "<repo>/vhostd");
#   VHOSTD_SERVE_ARGS adds options to `vhostd serve` (for example "--poll-us 0").
set -euo pipefail

root=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)
seconds=10 warmup=5 first_warmup=20 rounds=2 cases=all storages=tmpfs size=256M idle=10 smp=2 mem=512M out=""
qsd_spec=${QSD:-7.2}
qemu_spec=${QEMU:-}

# name rw depth jobs(=queues)
CASES=(
  "randread-4k-d1-q1   randread  1  1"
  "randread-4k-d32-q1  randread  32 1"
  "randwrite-4k-d1-q1  randwrite 1  1"
  "randwrite-4k-d32-q1 randwrite 32 1"
  "randread-4k-d1-q2   randread  1  2"
  "randread-4k-d32-q2  randread  32 2"
  "randwrite-4k-d1-q2  randwrite 1  2"
  "randwrite-4k-d32-q2 randwrite 32 2"
)

die() { echo "guest-compare.sh: $*" >&2; exit 2; }
# shellcheck source=bench/lib.sh
. "$root/bench/lib.sh"
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds=$2; shift 2 ;;
    --warmup) warmup=$2; shift 2 ;;
    --first-warmup) first_warmup=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --cases) cases=$2; shift 2 ;;
    --storage) storages=$2; shift 2 ;;
    --size) size=$2; shift 2 ;;
    --idle) idle=$2; shift 2 ;;
    --qsd) qsd_spec=$2; shift 2 ;;
    --qemu) qemu_spec=$2; shift 2 ;;
    --smp) smp=$2; shift 2 ;;
    --mem) mem=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option $1 (try --help)" ;;
  esac
done
for n in "$seconds" "$rounds" "$smp"; do [[ "$n" =~ ^[1-9][0-9]*$ ]] || die "--seconds, --rounds and --smp take a positive integer, got '$n'"; done
for n in "$warmup" "$first_warmup" "$idle"; do [[ "$n" =~ ^[0-9]+$ ]] || die "--warmup, --first-warmup and --idle take whole seconds, got '$n'"; done
size_bytes=$(numfmt --from=iec "${size^^}") || die "bad --size $size"

# The selected cases, and the queues the device needs for them.
selected=() queues=1
for c in "${CASES[@]}"; do
  read -r name rw depth jobs <<< "$c"
  if [ "$cases" != all ] && [[ ",$cases," != *",$name,"* ]]; then continue; fi
  selected+=("$c")
  [ "$jobs" -le "$queues" ] || queues=$jobs
done
[ ${#selected[@]} -gt 0 ] || die "no case matches --cases $cases; names: $(printf '%s ' "${CASES[@]}" | awk '{for (i = 1; i <= NF; i += 4) printf "%s ", $i}')"
[ "$smp" -ge "$queues" ] || die "--smp $smp is below the $queues fio jobs of a q$queues case"
for s in ${storages//,/ }; do case "$s" in tmpfs|null) ;; *) die "unknown storage $s (tmpfs or null)" ;; esac; done

# Back-ends: one or two qemu-storage-daemon builds, then vhostd.
qsd_paths=() qsd_labels=()
add_qsd() {
  local line
  line=$("$root/bench/qemu-path.sh" qemu-storage-daemon "$1") || exit 2
  qsd_paths+=("${line%%$'\t'*}"); qsd_labels+=("qsd-${line#*$'\t'}")
}
case "$qsd_spec" in
  both) add_qsd 7.2; add_qsd 10.0 ;;
  *) add_qsd "$qsd_spec" ;;
esac
if [ -z "$qemu_spec" ]; then
  qemu_spec=7.2
  if "$root/bench/qemu-path.sh" qemu-system-x86_64 10.0 >/dev/null 2>&1; then qemu_spec=10.0; fi
fi
qemu_line=$("$root/bench/qemu-path.sh" qemu-system-x86_64 "$qemu_spec") || exit 2
qemu_bin=${qemu_line%%$'\t'*}

read -r -a vhostd_cmd <<< "${VHOSTD:-$root/vhostd}"
read -r -a serve_extra <<< "${VHOSTD_SERVE_ARGS:-}"
"${vhostd_cmd[@]}" --version >/dev/null || die "cannot run ${vhostd_cmd[*]}; build it with: mvn -B package"
image=$("$root/scripts/guest/prepare.sh" --quiet | tail -n 1) || die "scripts/guest/prepare.sh failed"
tick_hz=$(getconf CLK_TCK)

out=${out:-$(mktemp -d /tmp/vhostd-guest-compare.XXXXXX)}
mkdir -p "$out"
work=$(mktemp -d /tmp/vhostd-guest-compare-run.XXXXXX)
results=$out/results.txt idles=$out/idle.txt
: > "$results"; : > "$idles"
echo "raw results, consoles and logs: $out" >&2

pids=() images=() run_pid=""
cleanup() {
  local p
  if [ -n "$run_pid" ]; then kill "$run_pid" 2>/dev/null || true; wait "$run_pid" 2>/dev/null || true; fi
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -f "${images[@]}"
  rm -rf "$work"
}
trap cleanup EXIT
trap 'echo "guest-compare.sh: interrupted" >&2; exit 130' INT TERM HUP

# start_backend LABEL STORAGE SOCKET LOG [QSD_PATH] -> sets $started_pid
start_backend() {
  local label=$1 storage=$2 sock=$3 log=$4 qsd=${5:-} img="" blockdev
  if [ "$storage" = tmpfs ]; then
    img=/dev/shm/vhostd-guest-compare-$$-$label.img
    rm -f "$img"
    # Allocated, so reads hit real pages on every back-end.
    fallocate -l "$size_bytes" "$img" 2>/dev/null || truncate -s "$size_bytes" "$img"
    images+=("$img")
  fi
  rm -f "$sock"
  if [ -n "$qsd" ]; then
    if [ "$storage" = null ]; then
      blockdev="driver=null-co,node-name=d0,size=$size_bytes,read-zeroes=on"
    else
      blockdev="driver=file,node-name=d0,filename=$img,aio=io_uring,cache.direct=off"
    fi
    "$qsd" --blockdev "$blockdev" \
      --export "type=vhost-user-blk,id=e0,node-name=d0,addr.type=unix,addr.path=$sock,writable=on,num-queues=$queues" \
      >>"$log" 2>&1 &
  else
    local backend="file:$img"
    [ "$storage" != null ] || backend="null:$size"
    "${vhostd_cmd[@]}" serve --socket "$sock" --backend "$backend" --queues "$queues" "${serve_extra[@]}" >>"$log" 2>&1 &
  fi
  started_pid=$!
  pids+=("$started_pid")
  await_socket "$started_pid" "$sock" "$log" "$label ($storage)"
}

# The guest's script: warm-up, then each case between console markers the host acts on.
# write_guest_script FILE WARMUP_SECONDS
write_guest_script() {
  local warmup=$2 c name rw depth jobs
  {
    echo 'set -u'
    echo 'mark() { echo; echo "VGC $*"; }'
    echo "common='--filename=/dev/vda --direct=1 --ioengine=libaio --bs=4k --norandommap --randrepeat=0 --time_based'"
    if [ "$warmup" -gt 0 ]; then
      echo "fio --name=warmup \$common --rw=randrw --iodepth=32 --numjobs=$queues --cpus_allowed=0-$((queues - 1)) \
--cpus_allowed_policy=split --runtime=$warmup --minimal >/dev/null 2>/tmp/err || { cat /tmp/err; exit 3; }"
    fi
    for c in "${selected[@]}"; do
      read -r name rw depth jobs <<< "$c"
      echo "mark BEGIN $name"
      echo "fio --name=$name \$common --rw=$rw --iodepth=$depth --numjobs=$jobs --cpus_allowed=0-$((jobs - 1)) \
--cpus_allowed_policy=split --group_reporting --runtime=$seconds --percentile_list=50:99 --minimal --terse-version=3 \
>/tmp/out 2>/tmp/err; rc=\$?"
      echo "mark END $name"
      echo "[ \$rc -eq 0 ] || { cat /tmp/err; exit 4; }"
      echo "mark RESULT $name \$(head -n 1 /tmp/out)"
    done
    if [ "$idle" -gt 0 ]; then
      echo "mark IDLE-BEGIN"
      echo "sleep $idle"
      echo "mark IDLE-END"
    fi
    echo 'exit 0'
  } > "$1"
}
write_guest_script "$work/guest-first.sh" "$first_warmup"
write_guest_script "$work/guest.sh" "$warmup"
boot_timeout=$(( 120 + (warmup > first_warmup ? warmup : first_warmup) + idle + ${#selected[@]} * (seconds + 30) ))

# boot STORAGE LABEL PID SOCKET ROUND: one guest, every case; appends to results and idles.
boot() {
  local storage=$1 label=$2 bpid=$3 sock=$4 round=$5 console line c0=0 c1=0 t0=0 t1=0 i0=0 it0=0 rc
  local guest_script=$work/guest.sh
  [ "$round" != 1 ] || guest_script=$work/guest-first.sh
  console=$out/console-$storage-$label-$round.log
  : > "$console"
  echo "== $storage round $round: $label" >&2
  "$root/scripts/guest/run.sh" --qemu "$qemu_bin" --image "$image" --socket "$sock" --queues "$queues" \
    --smp "$smp" --mem "$mem" --timeout "$boot_timeout" --serial-log "$console" --quiet \
    --script "$guest_script" >"$out/run-$storage-$label-$round.log" 2>&1 &
  run_pid=$!
  while IFS= read -r line; do
    line=${line%$'\r'}
    case "$line" in
      "VGC BEGIN "*) t0=$(date +%s%N); c0=$(cpu_ticks "$bpid") ;;
      "VGC END "*) c1=$(cpu_ticks "$bpid"); t1=$(date +%s%N) ;;
      "VGC RESULT "*)
        read -r _ _ name terse <<< "$line"
        echo "$storage $name $label $round $((c1 - c0)) $(( (t1 - t0) / 1000000 )) $terse" >> "$results" ;;
      "VGC IDLE-BEGIN") it0=$(date +%s%N); i0=$(cpu_ticks "$bpid") ;;
      "VGC IDLE-END")
        echo "$storage $label $round $(( $(cpu_ticks "$bpid") - i0 )) $(( ($(date +%s%N) - it0) / 1000000 ))" >> "$idles" ;;
    esac
  done < <(tail -n +1 -F --pid="$run_pid" "$console" 2>/dev/null)
  rc=0; wait "$run_pid" || rc=$?
  run_pid=""
  if [ "$rc" -ne 0 ]; then
    echo "guest on $label failed (run.sh exit $rc); see $out/run-$storage-$label-$round.log and $console" >&2
    tail -n 5 "$out/run-$storage-$label-$round.log" >&2
    exit 1
  fi
}

for storage in ${storages//,/ }; do
  labels=() bpids=() socks=()
  for i in "${!qsd_paths[@]}"; do
    sock=$work/${qsd_labels[$i]}.sock
    start_backend "${qsd_labels[$i]}" "$storage" "$sock" "$out/${qsd_labels[$i]}-$storage.log" "${qsd_paths[$i]}"
    labels+=("${qsd_labels[$i]}"); bpids+=("$started_pid"); socks+=("$sock")
  done
  sock=$work/vhostd.sock
  start_backend vhostd "$storage" "$sock" "$out/vhostd-$storage.log"
  labels+=(vhostd); bpids+=("$started_pid"); socks+=("$sock")
  for round in $(seq 1 "$rounds"); do
    for i in "${!labels[@]}"; do
      boot "$storage" "${labels[$i]}" "${bpids[$i]}" "${socks[$i]}" "$round"
    done
  done
  for p in "${bpids[@]}"; do stop_backend "$p"; done
done

echo
echo "Guest: $("$qemu_bin" --version | head -n 1) (TCG), $smp vCPUs, $mem; device with $queues queue(s);"
echo "fio 4k O_DIRECT libaio, ${seconds}s per case, $rounds boot(s) per back-end alternating; qN = N jobs on N vCPUs."
echo "lat = fio completion latency (us); CPU = back-end utime+stime per guest I/O (us) and in % of one core."
# Fields of fio's terse v3 line (from field 7 of a results line on): 5 error, 6 read KiB,
# 8 read IOPS, 16 read clat mean, 18-37 read clat percentiles; 47, 49, 57, 59-78 the same for writes.
awk -v hz="$tick_hz" -v ref_names="$(IFS=,; echo "${qsd_labels[*]}")" '
  function pct(lo, hi, want,   j, kv) {
    for (j = lo; j <= hi; j++) if (index(t[j], want "=") == 1) { split(t[j], kv, "="); return kv[2] }
    return -1
  }
  {
    k = $1 " " $2; b = $3
    if (!(k in seen)) { seen[k] = 1; order[++n] = k }
    split($7, t, ";")
    w = (t[47] + 0 > t[6] + 0)
    ios = (t[6] + t[47]) / 4
    cnt[k, b]++
    iops[k, b] += w ? t[49] : t[8]
    lat[k, b] += w ? t[57] : t[16]
    p99[k, b] += w ? pct(59, 78, "99.000000%") : pct(18, 37, "99.000000%")
    cpuus[k, b] += ios > 0 ? $5 * 1e6 / hz / ios : 0
    cpupct[k, b] += $6 > 0 ? $5 * 100000 / hz / $6 : 0
  }
  function m(a, k, b) { return cnt[k, b] ? a[k, b] / cnt[k, b] : -1 }
  function r(x, y) { return (x >= 0 && y > 0) ? sprintf("%.2f", x / y) : "n/a" }
  END {
    nref = split(ref_names, refs, ",")
    printf "%-8s %-20s %-12s %9s %9s %9s %8s %7s\n", "storage", "case", "back-end", "IOPS", "lat mean", "lat p99",
      "CPU", "CPU"
    printf "%-8s %-20s %-12s %9s %9s %9s %8s %7s\n", "", "", "", "", "us", "us", "us/IO", "%core"
    for (i = 1; i <= n; i++) {
      k = order[i]; split(k, p, " ")
      best = ""; bi = -1
      for (j = 1; j <= nref; j++) if (m(iops, k, refs[j]) > bi) { bi = m(iops, k, refs[j]); best = refs[j] }
      for (j = 1; j <= nref + 1; j++) {
        b = (j <= nref) ? refs[j] : "vhostd"
        if (!cnt[k, b]) continue
        line = sprintf("%-8s %-20s %-12s %9.0f %9.1f %9.1f %8.2f %7.1f", p[1], p[2], b, m(iops, k, b), m(lat, k, b),
          m(p99, k, b), m(cpuus, k, b), m(cpupct, k, b))
        if (b == "vhostd" && best != "")
          line = line sprintf("  | vs %s: IOPS %s mean %s p99 %s CPU %s", best, r(m(iops, k, b), m(iops, k, best)),
            r(m(lat, k, b), m(lat, k, best)), r(m(p99, k, b), m(p99, k, best)), r(m(cpuus, k, b), m(cpuus, k, best)))
        print line
      }
    }
  }' "$results"
echo "IOPS ratio > 1: vhostd faster. Latency and CPU ratios < 1: vhostd better."
if [ -s "$idles" ]; then
  # Ticks are 10 ms: "0 ms" means less than one tick over the whole idle time.
  awk -v hz="$tick_hz" -v s="$idle" '
    { k = $1 " " $2; if (!(k in c)) o[++n] = k; c[k]++; ms[k] += $4 * 1000 / hz; wall[k] += $5 }
    END {
      printf "Idle guest attached, %d s per boot, back-end CPU (utime+stime, %d ms ticks):", s, 1000 / hz
      for (i = 1; i <= n; i++) {
        k = o[i]; split(k, p, " ")
        printf "  %s %s %.0f ms in %.1f s (%.3f%% of a core)", p[1], p[2], ms[k], wall[k] / 1000, ms[k] / wall[k] * 100
      }
      printf "\n"
    }' "$idles"
fi

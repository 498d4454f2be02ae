#!/usr/bin/env bash
# Compare vhostd with qemu-storage-daemon (qsd), the reference vhost-user-blk back-end, using
# `vhostd bench` as the front-end. Both back-ends serve the same kind of storage; bench runs
# alternate between them (A B A B ...) so drift on a shared machine hits both alike.
#
# Usage: bench/compare.sh [options]
#   --seconds S       measured seconds per run (default 3)
#   --ramp S          unmeasured warm-up per run (default 2)
#   --runs N          runs per back-end and case (default 2)
#   --storage LIST    comma list of null,tmpfs,localfs,rbd (default: null,tmpfs,localfs). rbd: an RBD
#                     image on a Ceph cluster, vhostd's rbd: backend against qsd's driver=rbd (both
#                     without librbd's cache), the image filled first and created without the
#                     exclusive-lock feature so both back-ends keep it open while runs alternate;
#                     the cases default to the one-queue ones
#   --ceph-conf PATH  the cluster for rbd (default: start a single-node one with scripts/ceph/ in a
#                     private directory, stopped at exit)
#   --rbd-pool POOL   pool for the rbd image (default rbd)
#   --rbd-warmup S    unmeasured 4k random I/O per back-end before the rbd matrix (default 20): a
#                     cluster serves a few thousand requests a second, so without it vhostd's
#                     request path would still be running in the JVM's interpreter and compilers
#                     during the measured runs, unlike a daemon that has served a disk for a while
#   --cases LIST      comma list of case names (default: all; see CASES below)
#   --size SIZE       disk size (default 1G)
#   --localfs-dir D   directory on a local file system for the localfs images (default /var/tmp)
#   --b qsd|vhostd    the second back-end (default vhostd; qsd compares qsd with itself, a noise check)
#   --qsd SPEC        which qemu-storage-daemon: 7.2 (Debian 12's), 10.0 (scripts/install-qemu10.sh),
#                     both, or a path (default: $QSD, else 7.2). With both, each run alternates
#                     7.2, 10.0 and the second back-end; the ratios are against the faster qsd of
#                     each case (named in a last column), and a second table shows both versions
#   --pin             pin the back-end to CPU 1 and the bench to CPU 0 (needs 2+ CPUs and taskset)
#   --notify on|off   also measure guest notifications per request with EVENT_IDX on and off:
#                     a null device with a 50 us service time (null-co latency-ns for qsd), 4k
#                     randread depth 32, front-end sleeping until notified like a guest (default on)
#   --out DIR         keep raw results and back-end logs here (default: a new directory under /tmp)
# Environment: VHOSTD overrides the vhostd command (default: "<repo>/vhostd", which builds the jar);
#   VHOSTD_BENCH overrides the bench command (default: "$VHOSTD bench");
#   BENCH_ARGS adds bench options to every matrix run (for example "--poll-us 20" or "--event-idx off").
set -euo pipefail

root=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)
seconds=3 ramp=2 runs=2 storages=null,tmpfs,localfs cases=all size=1G localfs_dir=/var/tmp b_kind=vhostd pin=0 notify=on out=""
ceph_conf="" rbd_pool=rbd rbd_image="" ceph_dir="" rbd_warmup=20
qsd_spec=${QSD:-7.2}

# name rw bs depth queues
CASES=(
  "randread-4k-d1-q1   randread  4k  1  1"
  "randread-4k-d32-q1  randread  4k  32 1"
  "randwrite-4k-d1-q1  randwrite 4k  1  1"
  "randwrite-4k-d32-q1 randwrite 4k  32 1"
  "randread-4k-d1-q2   randread  4k  1  2"
  "randread-4k-d32-q2  randread  4k  32 2"
  "randwrite-4k-d1-q2  randwrite 4k  1  2"
  "randwrite-4k-d32-q2 randwrite 4k  32 2"
  "read-64k-d32-q1     read      64k 32 1"
)

die() { echo "compare.sh: $*" >&2; exit 2; }
# shellcheck source=bench/lib.sh
. "$root/bench/lib.sh"
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds=$2; shift 2 ;;
    --ramp) ramp=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --storage) storages=$2; shift 2 ;;
    --cases) cases=$2; shift 2 ;;
    --size) size=$2; shift 2 ;;
    --localfs-dir) localfs_dir=$2; shift 2 ;;
    --b) b_kind=$2; shift 2 ;;
    --qsd) qsd_spec=$2; shift 2 ;;
    --pin) pin=1; shift ;;
    --notify) notify=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --ceph-conf) ceph_conf=$2; shift 2 ;;
    --rbd-pool) rbd_pool=$2; shift 2 ;;
    --rbd-warmup) rbd_warmup=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option $1 (try --help)" ;;
  esac
done
case "$b_kind" in qsd|vhostd) ;; *) die "--b must be qsd or vhostd" ;; esac
case "$notify" in on|off) ;; *) die "--notify must be on or off" ;; esac
# The qsd builds: side a, and side c for the second of --qsd both.
qsd_path() { "$root/bench/qemu-path.sh" qemu-storage-daemon "$1" || exit 2; }
if [ "$qsd_spec" = both ]; then
  line_a=$(qsd_path 7.2); line_c=$(qsd_path 10.0)
else
  line_a=$(qsd_path "$qsd_spec"); line_c=""
fi
qsd_a=${line_a%%$'\t'*} version_a=${line_a#*$'\t'}
qsd_c=${line_c%%$'\t'*} version_c=${line_c#*$'\t'}
qsd_sides=(a); [ -z "$line_c" ] || qsd_sides+=(c)
[ "$pin" = 0 ] || command -v taskset >/dev/null || die "--pin needs taskset (util-linux)"

size_bytes=$(numfmt --from=iec "${size^^}") || die "bad --size $size"
read -r -a vhostd_cmd <<< "${VHOSTD:-$root/vhostd}"
read -r -a bench_cmd <<< "${VHOSTD_BENCH:-${vhostd_cmd[*]} bench}"
read -r -a bench_extra <<< "${BENCH_ARGS:-}"
out=${out:-$(mktemp -d /tmp/vhostd-compare.XXXXXX)}
mkdir -p "$out"
work=$(mktemp -d /tmp/vhostd-compare-sock.XXXXXX)
pids=()
images=()

cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -f "${images[@]}"
  if [ -n "$rbd_image" ]; then CEPH_CONF=$ceph_conf rbd rm --no-progress "$rbd_pool/$rbd_image" >/dev/null 2>&1 || true; fi
  if [ -n "$ceph_dir" ]; then "$root/scripts/ceph/stop-cluster.sh" "$ceph_dir" >/dev/null 2>&1 || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

pin_backend=() pin_bench=()
if [ "$pin" = 1 ]; then pin_backend=(taskset -c 1); pin_bench=(taskset -c 0); fi

# make_image PATH: a fully allocated image, so reads hit real pages on both back-ends.
make_image() {
  rm -f "$1"
  fallocate -l "$size_bytes" "$1" 2>/dev/null || truncate -s "$size_bytes" "$1"
  images+=("$1")
}

# setup_rbd: a cluster (given or started here) and a filled image of --size for the rbd storage.
setup_rbd() {
  if [ -z "$ceph_conf" ]; then
    ceph_dir=$work/ceph
    echo "== starting a single-node Ceph cluster in $ceph_dir" >&2
    ceph_conf=$("$root/scripts/ceph/start-cluster.sh" "$ceph_dir" "$rbd_pool") || die "could not start a Ceph cluster"
  fi
  rbd_image=vhostd-compare-$$
  # No exclusive-lock: both back-ends have the image open at once, each writing only in its own runs.
  CEPH_CONF=$ceph_conf rbd create --image-feature layering --size "$((size_bytes >> 20))M" "$rbd_pool/$rbd_image" \
    || die "rbd create failed"
  echo "== filling $rbd_pool/$rbd_image ($size)" >&2
  CEPH_CONF=$ceph_conf rbd bench --io-type write --io-pattern seq --io-size 4M --io-threads 4 \
    --io-total "$size_bytes" "$rbd_pool/$rbd_image" >"$out/rbd-fill.log" 2>&1 || die "filling the image failed; see $out/rbd-fill.log"
}

# start_backend KIND STORAGE SOCKET LOG [QSD] -> sets $started_pid (KIND qsd runs QSD, default side a's)
start_backend() {
  local kind=$1 storage=$2 sock=$3 log=$4 qsd=${5:-$qsd_a} img="" blockdev backend
  case "$storage" in
    null|null50us|rbd) ;;
    tmpfs) img=/dev/shm/vhostd-compare-$kind-$$-$RANDOM.img ;;
    localfs) img=$localfs_dir/vhostd-compare-$kind-$$-$RANDOM.img ;;
    *) die "unknown storage $storage" ;;
  esac
  [ -z "$img" ] || make_image "$img"
  rm -f "$sock"
  if [ "$kind" = qsd ]; then
    if [ "$storage" = null ]; then
      blockdev="driver=null-co,node-name=d0,size=$size_bytes,read-zeroes=on"
    elif [ "$storage" = rbd ]; then
      blockdev="driver=rbd,node-name=d0,pool=$rbd_pool,image=$rbd_image,conf=$ceph_conf,cache.direct=on"
    elif [ "$storage" = null50us ]; then
      blockdev="driver=null-co,node-name=d0,size=$size_bytes,read-zeroes=on,latency-ns=50000"
    else
      blockdev="driver=file,node-name=d0,filename=$img,aio=io_uring,cache.direct=off"
    fi
    "${pin_backend[@]}" "$qsd" --blockdev "$blockdev" \
      --export "type=vhost-user-blk,id=e0,node-name=d0,addr.type=unix,addr.path=$sock,writable=on,num-queues=2" \
      >>"$log" 2>&1 &
  else
    case "$storage" in
      null) backend=(--backend "null:$size") ;;
      null50us) backend=(--backend "null:$size,latency=50us") ;;
      rbd) backend=(--backend "rbd:$rbd_pool/$rbd_image,conf=$ceph_conf") ;;
      *) backend=(--backend "file:$img") ;;
    esac
    "${pin_backend[@]}" "${vhostd_cmd[@]}" serve --socket "$sock" "${backend[@]}" --queues 2 >>"$log" 2>&1 &
  fi
  started_pid=$!
  pids+=("$started_pid")
  await_socket "$started_pid" "$sock" "$log" "$kind ($storage)"
}

# field NAME < RESULT line
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p"; }

# Build the jar (the launcher does it on first use) before anything is timed.
if [ "$b_kind" = vhostd ] || [ -z "${VHOSTD_BENCH:-}" ]; then
  "${vhostd_cmd[@]}" --version >/dev/null || die "cannot run ${vhostd_cmd[*]}; build it with: mvn -B package"
fi

results=$out/results.txt
: > "$results"
echo "raw results and logs: $out" >&2

# bench_one STORAGE NAME RW BS DEPTH QUEUES RUN SIDE SOCK KIND: one measured run, appended to results.
bench_one() {
  local storage=$1 name=$2 rw=$3 bs=$4 depth=$5 queues=$6 run=$7 side=$8 sock=$9 kind=${10} line
  echo "== $storage $name run $run: $kind" >&2
  line=$("${pin_bench[@]}" "${bench_cmd[@]}" --socket "$sock" --rw "$rw" --bs "$bs" --depth "$depth" \
         --queues "$queues" --seconds "$seconds" --ramp "$ramp" "${bench_extra[@]}" 2>>"$out/bench.log" \
         | grep '^RESULT ') \
    || { echo "bench failed for $kind $storage $name; see $out/bench.log" >&2; return 0; }
  echo "$storage $name $side $line" >> "$results"
}

for storage in ${storages//,/ }; do
  sock_a=$work/a.sock sock_b=$work/b.sock
  [ "$storage" != rbd ] || setup_rbd
  start_backend qsd "$storage" "$sock_a" "$out/qsd-$storage.log"; pid_a=$started_pid
  pid_c=""
  if [ -n "$line_c" ]; then
    sock_c=$work/c.sock
    start_backend qsd "$storage" "$sock_c" "$out/qsd-$version_c-$storage.log" "$qsd_c"; pid_c=$started_pid
  fi
  start_backend "$b_kind" "$storage" "$sock_b" "$out/$b_kind-$storage.log"; pid_b=$started_pid
  if [ "$storage" = rbd ] && [ "$rbd_warmup" != 0 ]; then
    for sock in "$sock_a" ${pid_c:+"$sock_c"} "$sock_b"; do
      echo "== rbd warm-up ${rbd_warmup}s on $sock" >&2
      "${pin_bench[@]}" "${bench_cmd[@]}" --socket "$sock" --rw randrw --bs 4k --depth 32 --queues 1 \
        --seconds "$rbd_warmup" --ramp 0 >>"$out/bench.log" 2>&1 || echo "warm-up on $sock failed; see $out/bench.log" >&2
    done
  fi
  for c in "${CASES[@]}"; do
    read -r name rw bs depth queues <<< "$c"
    if [ "$cases" = all ]; then
      # The cluster, not the back-end, limits rbd: one queue is the comparison that matters.
      [ "$storage" != rbd ] || [ "$queues" = 1 ] || continue
    else
      [[ ",$cases," == *",$name,"* ]] || continue
    fi
    for run in $(seq 1 "$runs"); do
      for side in "${qsd_sides[@]}" b; do
        case $side in
          a) sock=$sock_a kind="qsd $version_a" ;;
          c) sock=$sock_c kind="qsd $version_c" ;;
          b) sock=$sock_b kind=$b_kind ;;
        esac
        bench_one "$storage" "$name" "$rw" "$bs" "$depth" "$queues" "$run" "$side" "$sock" "$kind"
      done
    done
  done
  stop_backend "$pid_a"; stop_backend "$pid_b"; [ -z "$pid_c" ] || stop_backend "$pid_c"
done

# Mean over runs per (storage, case, side), then the table. With two qsd builds (sides a and c),
# each case is compared with the faster of the two, named in the last column.
label_b=$b_kind; [ "$b_kind" = qsd ] && label_b="qsd(B)"
echo
if [ -z "$line_c" ]; then
  echo "qsd: qemu-storage-daemon $version_a ($qsd_a)"
else
  echo "qsd: the faster per case of qemu-storage-daemon $version_a ($qsd_a) and $version_c ($qsd_c)"
fi
ref_head="" ref_unit=""
[ -z "$line_c" ] || { ref_head=" qsd"; ref_unit=" ver"; }
printf '%-8s %-20s %10s %10s %5s | %7s %7s %5s | %7s %7s %5s | %6s %6s %5s%s\n' storage case "IOPS qsd" "IOPS $label_b" ratio \
  "p50 qsd" "p50 B" ratio "p99 qsd" "p99 B" ratio "CPU qsd" "CPU B" ratio "$ref_head"
printf '%-8s %-20s %10s %10s %5s | %7s %7s %5s | %7s %7s %5s | %6s %6s %5s%s\n' "" "" "" "" "B/qsd" "us" "us" "B/qsd" "us" "us" \
  "B/qsd" "us/req" "us/req" "B/qsd" "$ref_unit"
awk -v va="$version_a" -v vc="$version_c" '
  function get(line, key,   m) { return match(line, " " key "=[^ ]*") ? substr(line, RSTART + length(key) + 2, RLENGTH - length(key) - 2) : "" }
  {
    k = $1 " " $2; side = $3
    if (!(k in seen)) { seen[k] = 1; order[++n] = k }
    cnt[k, side]++
    iops[k, side] += get($0, "iops"); p50[k, side] += get($0, "lat_p50_us"); p99[k, side] += get($0, "lat_p99_us")
    cpu = get($0, "backend_cpu_us_per_req"); if (cpu >= 0) { cpus[k, side] += cpu; ccnt[k, side]++ }
  }
  function mean(sum, c) { return c ? sum / c : -1 }
  function ratio(b, a) { return (a > 0 && b >= 0) ? sprintf("%.2f", b / a) : "n/a" }
  function num(v, fmt) { return v < 0 ? "n/a" : sprintf(fmt, v) }
  END {
    for (i = 1; i <= n; i++) {
      k = order[i]; split(k, p, " ")
      r = "a"
      if (vc != "" && mean(iops[k, "c"], cnt[k, "c"]) > mean(iops[k, "a"], cnt[k, "a"])) r = "c"
      ia = mean(iops[k, r], cnt[k, r]); ib = mean(iops[k, "b"], cnt[k, "b"])
      ma = mean(p50[k, r], cnt[k, r]); mb = mean(p50[k, "b"], cnt[k, "b"])
      la = mean(p99[k, r], cnt[k, r]); lb = mean(p99[k, "b"], cnt[k, "b"])
      ca = mean(cpus[k, r], ccnt[k, r]); cb = mean(cpus[k, "b"], ccnt[k, "b"])
      printf "%-8s %-20s %10s %10s %5s | %7s %7s %5s | %7s %7s %5s | %6s %6s %5s%s\n", p[1], p[2], num(ia, "%.0f"),
        num(ib, "%.0f"), ratio(ib, ia), num(ma, "%.1f"), num(mb, "%.1f"), ratio(mb, ma), num(la, "%.1f"), num(lb, "%.1f"),
        ratio(lb, la), num(ca, "%.2f"), num(cb, "%.2f"), ratio(cb, ca), vc == "" ? "" : " " (r == "a" ? va : vc)
    }
    if (vc == "") exit
    printf "\nBoth qemu-storage-daemon builds (IOPS, p99 latency in us, back-end CPU us per request)\n"
    printf "%-8s %-20s %12s %12s %13s | %11s %11s | %10s %10s\n", "storage", "case", "IOPS " va, "IOPS " vc, vc "/" va,
      "p99 " va, "p99 " vc, "CPU " va, "CPU " vc
    for (i = 1; i <= n; i++) {
      k = order[i]; split(k, p, " ")
      ia = mean(iops[k, "a"], cnt[k, "a"]); ic = mean(iops[k, "c"], cnt[k, "c"])
      printf "%-8s %-20s %12s %12s %13s | %11s %11s | %10s %10s\n", p[1], p[2], num(ia, "%.0f"), num(ic, "%.0f"), ratio(ic, ia),
        num(mean(p99[k, "a"], cnt[k, "a"]), "%.1f"), num(mean(p99[k, "c"], cnt[k, "c"]), "%.1f"),
        num(mean(cpus[k, "a"], ccnt[k, "a"]), "%.2f"), num(mean(cpus[k, "c"], ccnt[k, "c"]), "%.2f")
    }
  }' "$results"
echo
echo "IOPS ratio > 1: B faster. Latency and CPU ratios < 1: B better. $runs run(s) of ${seconds}s per back-end and case, alternating."

[ "$notify" = on ] || exit 0
# Guest notifications (call eventfd signals) per request, EVENT_IDX on against off. The front-end
# sleeps until notified, as a guest driver does, so suppression shows directly in calls/request.
# The device takes 50 us per request, so completions trickle out as a disk's do: on an instant
# device a back-end that publishes once per batch notifies once per batch either way.
notes=$out/notify.txt
: > "$notes"
sock_a=$work/a.sock sock_b=$work/b.sock
start_backend qsd null50us "$sock_a" "$out/qsd-notify.log"; pid_a=$started_pid
pid_c=""
if [ -n "$line_c" ]; then
  sock_c=$work/c.sock
  start_backend qsd null50us "$sock_c" "$out/qsd-$version_c-notify.log" "$qsd_c"; pid_c=$started_pid
fi
start_backend "$b_kind" null50us "$sock_b" "$out/$b_kind-notify.log"; pid_b=$started_pid
for ei in on off; do
  for run in $(seq 1 "$runs"); do
    for side in "${qsd_sides[@]}" b; do
      case $side in
        a) sock=$sock_a kind="qsd $version_a" ;;
        c) sock=$sock_c kind="qsd $version_c" ;;
        b) sock=$sock_b kind=$b_kind ;;
      esac
      echo "== notifications event-idx=$ei run $run: $kind" >&2
      line=$("${pin_bench[@]}" "${bench_cmd[@]}" --socket "$sock" --rw randread --bs 4k --depth 32 --queues 1 \
             --seconds "$seconds" --ramp "$ramp" --event-idx "$ei" --poll-us 0 2>>"$out/bench.log" | grep '^RESULT ') \
        || { echo "bench failed for $kind event-idx=$ei; see $out/bench.log" >&2; continue; }
      echo "$ei $side $line" >> "$notes"
    done
  done
done
stop_backend "$pid_a"; stop_backend "$pid_b"; [ -z "$pid_c" ] || stop_backend "$pid_c"
printf '\nGuest notifications per request (null device with 50 us latency, 4k randread, depth 32, 1 queue,\nfront-end sleeping until notified)\n'
printf '%-8s %-9s %10s %14s %10s\n' back-end event-idx IOPS "notify/req" "kicks/req"
# Names in the notification table: "qsd" alone, or "qsd-7.2" and "qsd-10.0" with two builds.
label_a=qsd label_c=""
if [ -n "$line_c" ]; then label_a=qsd-${version_a%.*} label_c=qsd-${version_c%.*}; fi
awk -v la="$label_a" -v lc="$label_c" -v lb="$label_b" '
  function get(line, key) { return match(line, " " key "=[^ ]*") ? substr(line, RSTART + length(key) + 2, RLENGTH - length(key) - 2) : "" }
  { k = $2 " " $1; c[k]++; i[k] += get($0, "iops"); n[k] += get($0, "calls_per_req"); q[k] += get($0, "kicks_per_req") }
  END {
    name["a"] = la; name["c"] = lc; name["b"] = lb
    split("a on,a off,c on,c off,b on,b off", keys, ",")
    for (j = 1; j <= 6; j++) {
      k = keys[j]; if (!c[k]) continue; split(k, p, " ")
      printf "%-8s %-9s %10.0f %14.4f %10.4f\n", name[p[1]], p[2], i[k] / c[k], n[k] / c[k], q[k] / c[k]
    }
    split("a c b", sides, " ")
    for (s = 1; s <= 3; s++) {
      side = sides[s]
      if (c[side " on"] && c[side " off"] && n[side " off"] > 0)
        printf "%s: notifications per request with EVENT_IDX = %.2f x without\n", name[side],
          (n[side " on"] / c[side " on"]) / (n[side " off"] / c[side " off"])
    }
  }' "$notes"

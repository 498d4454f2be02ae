#!/usr/bin/env bash
# What recording metrics costs vhostd per request: two `vhostd serve` on the null backend, one
# recording metrics (--metrics on a free loopback port, nobody scraping) and one not
# (--metrics-recording off), driven in turn by the same `vhostd bench` load. `perf stat -p PID`
# counts the daemon's instructions and cycles while the bench runs; divided by the requests the
# bench completed, that gives the cost per request without the noise of IOPS. Where the machine has
# no hardware counters (many VMs), perf's task-clock (CPU time, nanosecond resolution) is measured
# instead, and the output says so; without a usable perf, utime+stime from /proc/PID/stat.
#
# Usage: bench/metrics-cost.sh [options]
#   --seconds S     measured seconds per run (default 10)
#   --rounds N      runs per mode, alternating on/off, the order swapped every round (default 3)
#   --warmup S      unmeasured load on each daemon before the first round (default 10): the JIT
#   --rw MODE       bench workload (default randread)
#   --bs SIZE       request size (default 4k)
#   --depth D       requests in flight per queue (default 32)
#   --queues N      queues (default 1)
#   --modes LIST    comma list of on, off, default (default: on,off). on: --metrics 127.0.0.1:PORT;
#                   off: --metrics-recording off; default: neither (recorded, not served)
#   --no-pin        do not pin (default with 2+ CPUs: daemons on CPU 1, the bench on CPU 0)
#   --out DIR       keep raw results and logs here (default: a new directory under /tmp)
# Environment: VHOSTD overrides the vhostd command (default "<repo>/vhostd"); VHOSTD_SERVE_ARGS adds
#   options to both daemons; BENCH_ARGS replaces the bench's extra options (default "--poll-us 50",
#   a front-end that spins so the daemon, not the wake-ups, is what is measured).
set -euo pipefail

root=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)
seconds=10 rounds=3 warmup=10 rw=randread bs=4k depth=32 queues=1 modes=on,off pin=1 out=""

die() { echo "metrics-cost.sh: $*" >&2; exit 2; }
# shellcheck source=bench/lib.sh
. "$root/bench/lib.sh"
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --warmup) warmup=$2; shift 2 ;;
    --rw) rw=$2; shift 2 ;;
    --bs) bs=$2; shift 2 ;;
    --depth) depth=$2; shift 2 ;;
    --queues) queues=$2; shift 2 ;;
    --modes) modes=$2; shift 2 ;;
    --no-pin) pin=0; shift ;;
    --out) out=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option $1 (try --help)" ;;
  esac
done
[[ "$rounds" =~ ^[1-9][0-9]*$ ]] || die "--rounds takes a positive integer, got '$rounds'"
[[ "$seconds" =~ ^[0-9]+([.][0-9]+)?$ ]] || die "--seconds takes a number, got '$seconds'"
[[ "$warmup" =~ ^[0-9]+([.][0-9]+)?$ ]] || die "--warmup takes a number, got '$warmup'"
for m in ${modes//,/ }; do case "$m" in on|off|default) ;; *) die "unknown mode $m (on, off, default)" ;; esac; done
[ "$(nproc)" -ge 2 ] || pin=0

read -r -a vhostd_cmd <<< "${VHOSTD:-$root/vhostd}"
read -r -a serve_extra <<< "${VHOSTD_SERVE_ARGS:-}"
read -r -a bench_extra <<< "${BENCH_ARGS---poll-us 50}"
pin_daemon=() pin_bench=()
if [ "$pin" = 1 ]; then pin_daemon=(taskset -c 1); pin_bench=(taskset -c 0); fi
"${vhostd_cmd[@]}" --version >/dev/null || die "cannot run ${vhostd_cmd[*]}; build it with: mvn -B package"

# What can count here: hardware counters, perf's software task-clock, or only /proc.
events="" method=""
if command -v perf >/dev/null 2>&1 && probe=$(perf stat -x, -e task-clock,instructions,cycles true 2>&1 >/dev/null); then
  if grep -q '^[0-9][0-9.]*,[^,]*,instructions' <<< "$probe" && grep -q '^[0-9][0-9.]*,[^,]*,cycles' <<< "$probe"; then
    events=task-clock,instructions,cycles
    method="perf stat: hardware instructions and cycles, and task-clock"
  elif grep -q '^[0-9][0-9.]*,[^,]*,task-clock' <<< "$probe"; then
    events=task-clock
    method="perf stat task-clock (CPU time): this machine has no hardware counters (perf says instructions and cycles are <not supported>, as in many VMs)"
  fi
fi
if [ -z "$events" ]; then
  method="utime+stime from /proc/PID/stat (10 ms ticks): perf is missing or may not attach here (see perf_event_paranoid)"
fi

out=${out:-$(mktemp -d /tmp/vhostd-metrics-cost.XXXXXX)}
mkdir -p "$out"
work=$(mktemp -d /tmp/vhostd-metrics-cost-run.XXXXXX)
results=$out/results.txt
: > "$results"
echo "raw results and logs: $out" >&2

pids=() perf_pid=""
cleanup() {
  local p
  if [ -n "$perf_pid" ]; then kill -INT "$perf_pid" 2>/dev/null || true; wait "$perf_pid" 2>/dev/null || true; fi
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'echo "metrics-cost.sh: interrupted" >&2; exit 130' INT TERM HUP

# start_daemon MODE -> sets $started_pid; the socket is $work/MODE.sock
start_daemon() {
  local mode=$1 sock=$work/$1.sock log=$out/vhostd-$1.log opts=() attempt i
  for attempt in 1 2 3 4 5; do
    case "$mode" in
      # A free port: vhostd refuses a port in use at once, before it binds the socket; then retry.
      on) opts=(--metrics "127.0.0.1:$(( 20000 + RANDOM % 40000 ))") ;;
      off) opts=(--metrics-recording off) ;;
      default) opts=() ;;
    esac
    rm -f "$sock"
    "${pin_daemon[@]}" "${vhostd_cmd[@]}" serve --socket "$sock" --backend null:1G --queues "$queues" \
      "${opts[@]}" "${serve_extra[@]}" >>"$log" 2>&1 &
    started_pid=$!
    pids+=("$started_pid")
    for i in $(seq 1 300); do
      [ -S "$sock" ] && return 0
      kill -0 "$started_pid" 2>/dev/null || break
      sleep 0.1
    done
    [ -S "$sock" ] && return 0
    wait "$started_pid" 2>/dev/null || true
    grep -qi "in use" "$log" || { cat "$log" >&2; die "vhostd ($mode) did not start; see $log"; }
  done
  die "vhostd ($mode) found no free metrics port in 5 tries; see $log"
}

# run_bench SOCKET SECONDS -> RESULT line on stdout
run_bench() {
  "${pin_bench[@]}" "${vhostd_cmd[@]}" bench --socket "$1" --rw "$rw" --bs "$bs" --depth "$depth" --queues "$queues" \
    --seconds "$2" --ramp 0 --ramp-max 0 "${bench_extra[@]}" 2>>"$out/bench.log" | grep '^RESULT '
}

declare -A daemon_pid
for m in ${modes//,/ }; do
  start_daemon "$m"
  daemon_pid[$m]=$started_pid
  if [ "$warmup" != 0 ]; then
    echo "== warm-up ${warmup}s: $m" >&2
    run_bench "$work/$m.sock" "$warmup" >/dev/null || die "warm-up bench on $m failed; see $out/bench.log"
  fi
done

read -r -a mode_list <<< "${modes//,/ }"
for round in $(seq 1 "$rounds"); do
  order=("${mode_list[@]}")
  if [ $((round % 2)) = 0 ]; then
    order=(); for ((i = ${#mode_list[@]} - 1; i >= 0; i--)); do order+=("${mode_list[$i]}"); done
  fi
  for m in "${order[@]}"; do
    pid=${daemon_pid[$m]} counts=$work/perf-$m-$round.txt
    echo "== round $round: $m" >&2
    if [ -n "$events" ]; then
      perf stat -x, -o "$counts" -e "$events" -p "$pid" 2>>"$out/perf.log" &
      perf_pid=$!
      # perf prints nothing when attached; the bench JVM's start-up (well over this) covers the rest.
      sleep 0.3
    fi
    t0=$(cpu_ticks "$pid")
    line=$(run_bench "$work/$m.sock" "$seconds") || { echo "bench failed on $m; see $out/bench.log" >&2; line=""; }
    t1=$(cpu_ticks "$pid")
    task_ms=0 instr=0 cycles=0
    if [ -n "$perf_pid" ]; then
      kill -INT "$perf_pid" 2>/dev/null || true; wait "$perf_pid" 2>/dev/null || true; perf_pid=""
      grep -q task-clock "$counts" 2>/dev/null \
        || die "perf stat counted nothing for vhostd ($m, pid $pid); see $out/perf.log (perf_event_paranoid?)"
      task_ms=$(awk -F, '$3 ~ /^task-clock/ {print $1 + 0}' "$counts")
      instr=$(awk -F, '$3 ~ /^instructions/ {print $1 + 0}' "$counts")
      cycles=$(awk -F, '$3 ~ /^cycles/ {print $1 + 0}' "$counts")
    fi
    [ -n "$line" ] || continue
    ops=$(sed -n 's/.* ops=\([0-9]*\).*/\1/p' <<< "$line")
    iops=$(sed -n 's/.* iops=\([0-9.]*\).*/\1/p' <<< "$line")
    echo "$m $round $ops $iops ${task_ms:-0} ${instr:-0} ${cycles:-0} $((t1 - t0))" >> "$results"
  done
done

echo
echo "vhostd on the null backend, bench $rw bs=$bs depth=$depth queues=$queues ${bench_extra[*]}, $rounds x ${seconds}s per mode, alternating"
echo "measured with $method"
awk -v hz="$(getconf CLK_TCK)" -v hw="$([[ "$events" == *instructions* ]] && echo 1 || echo 0)" -v perf="$([ -n "$events" ] && echo 1 || echo 0)" '
  {
    m = $1; if (!(m in c)) o[++n] = m; c[m]++
    iops[m] += $4
    ns = perf ? $5 * 1e6 / $3 : $8 * 1e9 / hz / $3
    cpu[m] += ns; ins[m] += $6 / $3; cyc[m] += $7 / $3; rcpu[$2, m] = ns
    printf "round %-3s %-8s %12.0f IOPS  CPU %8.1f ns/req", $2, m, $4, ns
    if (hw) printf "  instructions %9.0f/req  cycles %9.0f/req  IPC %.2f", $6 / $3, $7 / $3, $7 > 0 ? $6 / $7 : 0
    printf "\n"
  }
  END {
    printf "\n%-8s %12s %14s", "mode", "IOPS", "CPU ns/req"
    if (hw) printf " %14s %14s", "instr/req", "cycles/req"
    printf "\n"
    for (i = 1; i <= n; i++) {
      m = o[i]
      printf "%-8s %12.0f %14.1f", m, iops[m] / c[m], cpu[m] / c[m]
      if (hw) printf " %14.0f %14.0f", ins[m] / c[m], cyc[m] / c[m]
      printf "\n"
    }
    if (("on" in c) && ("off" in c)) {
      # Per round: on against the off run next to it (the machine load both saw is about the same).
      # The median of those ratios resists the odd disturbed run; their spread is the noise.
      k = 0
      for (r in rcpu) { split(r, rk, SUBSEP); if (rk[2] == "on" && ((rk[1], "off") in rcpu)) ratio[++k] = rcpu[r] / rcpu[rk[1], "off"] }
      for (i = 2; i <= k; i++) { v = ratio[i]; for (j = i - 1; j >= 1 && ratio[j] > v; j--) ratio[j + 1] = ratio[j]; ratio[j + 1] = v }
      if (k > 0) {
        med = k % 2 ? ratio[(k + 1) / 2] : (ratio[k / 2] + ratio[k / 2 + 1]) / 2
        q1 = ratio[int((k - 1) * 0.25) + 1]; q3 = ratio[int((k - 1) * 0.75 + 0.5) + 1]
        printf "metrics on/off per round (%d pairs): median %+.1f%%, quartiles %+.1f%% .. %+.1f%%, range %+.1f%% .. %+.1f%%\n",
          k, (med - 1) * 100, (q1 - 1) * 100, (q3 - 1) * 100, (ratio[1] - 1) * 100, (ratio[k] - 1) * 100
      }
      printf "metrics on/off over the means: CPU per request %.3f (%+.1f%%)", (cpu["on"] / c["on"]) / (cpu["off"] / c["off"]),
        ((cpu["on"] / c["on"]) / (cpu["off"] / c["off"]) - 1) * 100
      if (hw) printf ", instructions per request %.3f (%+.1f%%), cycles per request %.3f (%+.1f%%)",
        (ins["on"] / c["on"]) / (ins["off"] / c["off"]), ((ins["on"] / c["on"]) / (ins["off"] / c["off"]) - 1) * 100,
        (cyc["on"] / c["on"]) / (cyc["off"] / c["off"]), ((cyc["on"] / c["on"]) / (cyc["off"] / c["off"]) - 1) * 100
      printf "\n"
    }
  }' "$results"

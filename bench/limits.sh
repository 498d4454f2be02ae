#!/usr/bin/env bash
# Per-disk limits, measured: one vhostd with two null disks (A and B) driven through the control API
# and `vhostd bench`. Prints, each as measured over --seconds:
#   - A under an IOPS limit: achieved IOPS and the ratio to the limit;
#   - A under a bytes/s limit (64k requests): achieved bytes/s and the ratio to the limit;
#   - B unlimited alone, and B unlimited while A runs at its IOPS limit beside it, alternating
#     (B alone, B beside A, ...) --rounds times, with the ratio of the means.
#
# Usage: bench/limits.sh [--iops N] [--bps BYTES] [--seconds S] [--rounds N] [--depth D] [--pollers N]
# Defaults: --iops 5000 --bps 20971520 --seconds 10 --rounds 2 --depth 32 --pollers 2.
set -euo pipefail

iops=5000
bps=$((20 * 1024 * 1024))
seconds=10
rounds=2
depth=32
pollers=2
while [ $# -gt 0 ]; do
  case "$1" in
    --iops) iops=$2; shift 2 ;;
    --bps) bps=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --depth) depth=$2; shift 2 ;;
    --pollers) pollers=$2; shift 2 ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) echo "limits.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
  esac
done

root=$(cd "$(dirname "$0")/.." && pwd)
vhostd=${VHOSTD:-$root/vhostd}
dir=$(mktemp -d)
daemon_pid=""
cleanup() {
  if [ -n "$daemon_pid" ] && kill -0 "$daemon_pid" 2>/dev/null; then
    kill "$daemon_pid"
    wait "$daemon_pid" 2>/dev/null || true
  fi
  rm -rf "$dir"
}
trap cleanup EXIT

ctl() { "$vhostd" ctl --control "$dir/control.sock" "$@" >/dev/null; }

# The value of KEY in the RESULT line a bench run printed.
result() { sed -n 's/^RESULT .*[[:space:]]'"$2"'=\([^[:space:]]*\).*/\1/p' "$1" | tail -n 1; }

# Requests per second with decimals: completed ops over the measured seconds (RESULT's iops is rounded).
rate() { awk -v o="$(result "$1" ops)" -v s="$(result "$1" seconds)" 'BEGIN {printf "%.2f", o / s}'; }

bench() { # SOCKET OUT [extra bench options]
  local sock=$1 out=$2
  shift 2
  "$vhostd" bench --socket "$sock" --depth "$depth" --seconds "$seconds" --ramp 2 --ramp-max 2 "$@" >"$out" 2>"$out.err" \
    || { echo "limits.sh: bench on $sock failed:" >&2; cat "$out.err" "$out" >&2; exit 1; }
}

"$vhostd" serve --control "$dir/control.sock" --pollers "$pollers" >"$dir/vhostd.log" 2>&1 &
daemon_pid=$!
for _ in $(seq 1 600); do
  [ -S "$dir/control.sock" ] && break
  kill -0 "$daemon_pid" 2>/dev/null || { echo "limits.sh: vhostd exited:" >&2; cat "$dir/vhostd.log" >&2; exit 1; }
  sleep 0.1
done
[ -S "$dir/control.sock" ] || { echo "limits.sh: vhostd did not create its control socket" >&2; exit 1; }
ctl disk add A --socket "$dir/a.sock" --backend null:1G
ctl disk add B --socket "$dir/b.sock" --backend null:1G

ctl disk limit A --iops "$iops"
bench "$dir/a.sock" "$dir/a-iops"
got=$(rate "$dir/a-iops")
echo "A, limit $iops IOPS (4k randread, depth $depth, ${seconds} s): $got IOPS, ratio $(awk -v g="$got" -v l="$iops" 'BEGIN {printf "%.4f", g / l}')"

ctl disk limit A --iops 0 --bps "$bps"
bench "$dir/a.sock" "$dir/a-bps" --bs 64k
got_bps=$(awk -v r="$(rate "$dir/a-bps")" 'BEGIN {printf "%.0f", r * 65536}')
echo "A, limit $bps bytes/s (64k randread, depth $depth, ${seconds} s): $got_bps bytes/s, ratio $(awk -v g="$got_bps" -v l="$bps" 'BEGIN {printf "%.4f", g / l}')"

ctl disk limit A --bps 0 --iops "$iops"
alone_sum=0
beside_sum=0
for r in $(seq 1 "$rounds"); do
  bench "$dir/b.sock" "$dir/b-alone-$r"
  alone=$(result "$dir/b-alone-$r" iops)
  bench "$dir/a.sock" "$dir/a-beside-$r" &
  a_pid=$!
  bench "$dir/b.sock" "$dir/b-beside-$r"
  wait "$a_pid"
  beside=$(result "$dir/b-beside-$r" iops)
  a_beside=$(result "$dir/a-beside-$r" iops)
  echo "round $r: B alone $alone IOPS; B beside A (A limited to $iops, got $a_beside) $beside IOPS"
  alone_sum=$((alone_sum + alone))
  beside_sum=$((beside_sum + beside))
done
echo "B beside a limited A / B alone: $(awk -v b="$beside_sum" -v a="$alone_sum" 'BEGIN {printf "%.3f", b / a}')"

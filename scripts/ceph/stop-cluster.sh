#!/usr/bin/env bash
# Stops the cluster scripts/ceph/start-cluster.sh started under DIR: the OSD first (a monitor
# stopped first leaves the OSD waiting ~10 s for it), then the monitor, each by its pid file in
# DIR/run and only if that pid is still a ceph daemon. Leaves DIR in place (the caller removes it).
set -uo pipefail
if [ $# -ne 1 ]; then
  echo "usage: $0 DIR" >&2
  exit 2
fi
dir=$(realpath -m "$1")

stop() {
  local name=$1 pidfile=$dir/run/$1.pid pid
  [ -f "$pidfile" ] || return 0
  pid=$(cat "$pidfile" 2>/dev/null)
  [[ "$pid" =~ ^[0-9]+$ ]] || return 0
  # A recycled pid that is not our daemon any more is left alone.
  if ! grep -q -- "$dir/ceph.conf" "/proc/$pid/cmdline" 2>/dev/null; then
    rm -f "$pidfile"
    return 0
  fi
  kill -TERM "$pid" 2>/dev/null
  for _ in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || { rm -f "$pidfile"; return 0; }
    sleep 0.1
  done
  echo "stop-cluster: $name (pid $pid) ignored SIGTERM for 10 s; sending SIGKILL" >&2
  kill -KILL "$pid" 2>/dev/null
  rm -f "$pidfile"
}

stop osd.0
stop mon.a

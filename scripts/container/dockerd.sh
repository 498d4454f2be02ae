#!/usr/bin/env bash
# Makes sure a Docker daemon answers, starting one by hand where nothing else runs it (CI machines
# have no systemd). The daemon started here writes its pid to /run/vhostd-dockerd.pid and its log to
# /var/log/vhostd-dockerd.log; `scripts/container/dockerd.sh --stop` stops only that one, by pid.
# A daemon that is already running (systemd's docker.service, or an earlier call) is used as it is.
#
# Usage: scripts/container/dockerd.sh [--stop]     Needs root and docker.io (scripts/install-test-deps.sh).
set -euo pipefail

DOCKER="${DOCKER:-/usr/bin/docker}"
pidfile=/run/vhostd-dockerd.pid
log=/var/log/vhostd-dockerd.log
die() { echo "dockerd.sh: $*" >&2; exit 1; }

if [ "${1:-}" = --stop ]; then
  [ -s "$pidfile" ] || exit 0
  pid=$(cat "$pidfile")
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  exit 0
fi

answers() { "$DOCKER" info >/dev/null 2>&1; }
answers && exit 0
[ "$(id -u)" = 0 ] || die "no Docker daemon answers and starting one needs root"
command -v dockerd >/dev/null || die "dockerd missing: run scripts/install-test-deps.sh (docker.io)"

# A pid file left by a daemon that died would make dockerd refuse to start.
if [ -s "$pidfile" ] && ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then rm -f "$pidfile"; fi
if [ ! -s "$pidfile" ]; then
  # setsid + nohup: the daemon outlives the test JVM or shell that started it (later test classes
  # and runs reuse it); containerd is started by dockerd itself.
  setsid nohup dockerd --pidfile "$pidfile" >>"$log" 2>&1 </dev/null &
fi
for _ in $(seq 1 300); do
  answers && exit 0
  sleep 0.1
done
tail -n 30 "$log" >&2
die "dockerd did not answer within 30 s (log: $log)"

# Shared by the bench scripts (sourced, not run). The sourcing script defines die() and keeps the
# pids it started in the array pids, which its cleanup signals.

# await_socket PID SOCKET LOG LABEL: waits up to 30 s for PID to create SOCKET; dies with LOG if
# PID exits first or the socket never appears.
await_socket() {
  local pid=$1 sock=$2 log=$3 label=$4 i
  for i in $(seq 1 300); do
    [ -S "$sock" ] && return 0
    kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; die "$label exited before listening"; }
    sleep 0.1
  done
  die "$label did not create $sock within 30 s; see $log"
}

# stop_backend PID: stops it and forgets it, so cleanup never signals a pid that may since belong
# to someone else.
stop_backend() {
  kill "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
  local keep=() p
  for p in "${pids[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
  pids=("${keep[@]}")
}

# cpu_ticks PID: CPU time of a process so far, in clock ticks (fields 14 and 15 of /proc/PID/stat,
# after the command name, which may itself contain spaces or parentheses).
cpu_ticks() {
  local s f
  s=$(<"/proc/$1/stat") || return 1
  s=${s##*) }
  read -r -a f <<< "$s"
  echo $(( f[11] + f[12] ))
}

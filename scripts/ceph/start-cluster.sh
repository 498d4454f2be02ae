#!/usr/bin/env bash
# Starts a throw-away single-node Ceph cluster (one monitor, one bluestore OSD in a sparse file)
# under DIR, for the rbd: backend's tests and bench/compare.sh rbd. Debian 12 packages: ceph-mon,
# ceph-osd, ceph-common (scripts/install-test-deps.sh installs them).
#
#   scripts/ceph/start-cluster.sh DIR [POOL]     # POOL defaults to rbd
#   CEPH_CONF=DIR/ceph.conf rbd create --size 1G rbd/disk0
#   scripts/ceph/stop-cluster.sh DIR
#
# Everything lives in DIR (config, data, logs, sockets, pid files). auth none (or cephx, below),
# pool size 1, on 127.0.0.1 with a free monitor port; no systemd, no cephadm, no mgr (RBD I/O needs none). The
# daemons are stopped only through DIR's pid files, so clusters of other users on the machine are
# never touched. Memory: about 35 MB for the monitor and 350-400 MB for the OSD (a 128 MB
# bluestore cache without autotuning, small rocksdb write buffers).
#
# Environment: CEPH_OSD_SIZE (sparse block file, default 10G), CEPH_WATCH_TIMEOUT (seconds a dead
# client's watch, and so its exclusive lock, outlives it; Ceph's default is 30, here 10),
# CEPH_AUTH (none, the default, or cephx: keys for the monitor, the OSD and client.admin are made
# under DIR and ceph.conf names client.admin's keyring DIR/keyring, so clients that read it need
# nothing else; users made with 'ceph auth get-or-create' then have only the caps they are given).
# Prints the config path on success; on failure prints the daemons' log tails and exits non-zero
# after stopping what it started.
set -euo pipefail

if [ $# -lt 1 ]; then
  echo "usage: $0 DIR [POOL]" >&2
  exit 2
fi
dir=$(realpath -m "$1")
pool=${2:-rbd}
osd_size=${CEPH_OSD_SIZE:-10G}
watch_timeout=${CEPH_WATCH_TIMEOUT:-10}
auth=${CEPH_AUTH:-none}
case "$auth" in
  none|cephx) ;;
  *) echo "start-cluster: CEPH_AUTH=$auth: none or cephx" >&2; exit 2 ;;
esac

for tool in ceph-mon ceph-osd ceph rbd ceph-authtool python3; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "start-cluster: $tool not found; run scripts/install-test-deps.sh (Debian packages ceph-mon ceph-osd ceph-common)" >&2
    exit 1
  fi
done
if [ -e "$dir/ceph.conf" ]; then
  echo "start-cluster: $dir already holds a cluster; stop it with scripts/ceph/stop-cluster.sh $dir and remove the directory" >&2
  exit 1
fi
mkdir -p "$dir"/{run,log,mon.a,osd.0}

# A free TCP port for the monitor: bind port 0 and read what the kernel chose.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
fsid=$(cat /proc/sys/kernel/random/uuid)
conf=$dir/ceph.conf
if [ "$auth" = cephx ]; then
  client_keyring=$dir/keyring
else
  client_keyring=/dev/null
fi
cat >"$conf" <<CONF
[global]
fsid = $fsid
mon host = v2:127.0.0.1:$port
mon initial members = a
public addr = 127.0.0.1
ms bind ipv6 = false
ms bind msgr1 = false
auth cluster required = $auth
auth service required = $auth
auth client required = $auth
auth allow insecure global id reclaim = true
run dir = $dir/run
pid file = $dir/run/\$name.pid
log file = $dir/log/\$name.log
osd pool default size = 1
osd pool default min size = 1
osd pool default pg autoscale mode = off
mon allow pool size one = true
mon warn on pool no redundancy = false
osd crush chooseleaf type = 0
paxos propose interval = 0.1
osd client watch timeout = $watch_timeout
[client]
keyring = $client_keyring
[mon]
keyring = $dir/mon.\$id/keyring
mon data = $dir/mon.\$id
admin socket = $dir/run/\$name.asok
[mon.a]
public addr = v2:127.0.0.1:$port
[osd]
osd data = $dir/osd.\$id
keyring = $dir/osd.\$id/keyring
admin socket = $dir/run/\$name.asok
osd objectstore = bluestore
bluestore block create = true
bluestore block size = $osd_size
bluestore cache autotune = false
bluestore cache size = 134217728
bluestore rocksdb options = compression=kNoCompression,max_write_buffer_number=2,min_write_buffer_number_to_merge=1,write_buffer_size=16777216
osd memory target = 939524096
osd op num shards = 1
osd op num threads per shard = 2
CONF

export CEPH_CONF=$conf
started=0
fail() {
  echo "start-cluster: $*" >&2
  for f in "$dir"/log/*.log; do
    [ -f "$f" ] && { echo "--- $f" >&2; tail -n 15 "$f" >&2; }
  done
  if [ "$started" = 1 ]; then
    "$(dirname "$0")/stop-cluster.sh" "$dir" >&2 || true
  fi
  exit 1
}

mon_keyring=/dev/null
if [ "$auth" = cephx ]; then
  # The monitor's own key and client.admin's (all caps) go into its database at mkfs; client.admin's
  # keyring is what the ceph/rbd tools and the tests read through ceph.conf.
  mon_keyring=$dir/mon-bootstrap.keyring
  ceph-authtool --create-keyring "$mon_keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
  ceph-authtool --create-keyring "$client_keyring" --gen-key -n client.admin \
    --cap mon 'allow *' --cap osd 'allow *' --cap mgr 'allow *' >/dev/null
  ceph-authtool "$mon_keyring" --import-keyring "$client_keyring" >/dev/null
  chmod 600 "$mon_keyring" "$client_keyring"
fi
ceph-mon --mkfs -i a --fsid "$fsid" --keyring "$mon_keyring" -c "$conf" >"$dir/log/mkfs-mon.out" 2>&1 \
  || fail "ceph-mon --mkfs failed: $(tail -n 3 "$dir/log/mkfs-mon.out")"
ceph-mon -i a -c "$conf" >"$dir/log/mon.out" 2>&1 || fail "ceph-mon did not start"
started=1

# Commands time out rather than hang if the monitor never comes up.
ceph_() { timeout 60 ceph --connect-timeout 30 "$@"; }
ceph_ mon dump >/dev/null 2>&1 || fail "the monitor does not answer on 127.0.0.1:$port"

uuid=$(cat /proc/sys/kernel/random/uuid)
id=$(ceph_ osd new "$uuid") || fail "ceph osd new failed"
[ "$id" = 0 ] || fail "expected osd id 0, got '$id'"
ceph_ osd crush add-bucket "$(hostname -s)" host >/dev/null
ceph_ osd crush move "$(hostname -s)" root=default >/dev/null
ceph_ osd crush add osd.0 1.0 host="$(hostname -s)" >/dev/null
if [ "$auth" = cephx ]; then
  ceph_ auth get-or-create osd.0 mon 'allow profile osd' mgr 'allow profile osd' osd 'allow *' \
    -o "$dir/osd.0/keyring" >/dev/null 2>&1 || fail "ceph auth get-or-create osd.0 failed"
fi
ceph-osd -i 0 --mkfs --osd-uuid "$uuid" -c "$conf" >"$dir/log/mkfs-osd.out" 2>&1 \
  || fail "ceph-osd --mkfs failed: $(tail -n 3 "$dir/log/mkfs-osd.out")"
ceph-osd -i 0 -c "$conf" >"$dir/log/osd.out" 2>&1 || fail "ceph-osd did not start"

deadline=$((SECONDS + 90))
until ceph_ osd dump 2>/dev/null | grep -q '^osd.0 up'; do
  [ $SECONDS -lt $deadline ] || fail "osd.0 not up after 90 s"
  sleep 0.3
done
ceph_ osd pool create "$pool" 8 8 >/dev/null 2>&1 || fail "ceph osd pool create $pool failed"
ceph_ osd pool set "$pool" size 1 --yes-i-really-mean-it >/dev/null 2>&1 || true
timeout 60 rbd pool init "$pool" || fail "rbd pool init $pool failed"
echo "$conf"

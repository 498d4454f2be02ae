#!/bin/sh
# Guest load for live-migration tests (run as /test.sh by scripts/guest/run.sh; disk /dev/vda).
#
# Verified reads and writes keep running until the host writes the word STOP into the disk's last
# 4 KiB (the mailbox), then one more round runs (on the destination) and the result is reported.
#   [0, 16M)   four 4 MiB areas written once, then read back with crc32c verification by four psync
#              readers, each into its own buffer page: pages only the back-end writes, which is what
#              catches a back-end that does not log its writes for the migration.
#   [16M, 32M) a writer: verified random writes (read back as it goes and at the end of a round).
# Prints MIGRATION-LOAD-READY when the readers' data is on disk, then per round "ROUND n ok|FAILED",
# and at the end RESULT rounds=N failed=F.
set -u
disk=/dev/vda
mbox=$(( $(cat /sys/block/vda/size) / 8 - 1 ))
common="--filename=$disk --ioengine=psync --direct=1 --bs=4k --verify=crc32c --output-format=terse"
readers="--name=reader --rw=write --size=4M --numjobs=4 --offset_increment=4M"
writer="--name=writer --rw=randwrite --offset=16M --size=16M --io_size=2M --verify_backlog=64"

if ! fio $common $readers --do_verify=0 >/dev/null 2>/tmp/fio.err; then
  tail -n 5 /tmp/fio.err
  echo "RESULT rounds=0 failed=1 prefill=failed"
  exit 1
fi
echo MIGRATION-LOAD-READY

stopped() {
  blockdev --flushbufs $disk
  dd if=$disk bs=4096 skip=$mbox count=1 2>/dev/null | grep -q STOP
}

rounds=0 failed=0 last=0
while :; do
  [ "$last" = 1 ] || ! stopped || last=1
  rounds=$((rounds + 1))
  if fio $common $readers --verify_only=1 $writer >/dev/null 2>/tmp/fio.err; then
    echo "ROUND $rounds ok"
  else
    failed=$((failed + 1))
    echo "ROUND $rounds FAILED"
    grep -m 5 -i 'verify\|error\|bad' /tmp/fio.err
  fi
  [ "$last" = 0 ] || break
done
echo "RESULT rounds=$rounds failed=$failed"
[ "$failed" -eq 0 ]

# Guest script (run by scripts/guest/run.sh as /test.sh): 4 KiB random read and random write IOPS on
# /dev/vda at queue depth 32, 10 s each, O_DIRECT through libaio, over the first 48 MiB of the disk.
# Prints "RESULT randread_iops=N randwrite_iops=N ..." for the host to collect.
# Under TCG the guest CPU is emulated, so these numbers measure the whole path (guest driver, QEMU,
# back end) on a slow CPU: compare back ends with each other, not with bare-metal figures.
set -u
common="--filename=/dev/vda --direct=1 --ioengine=libaio --bs=4k --iodepth=32 --size=48M \
  --time_based --runtime=10 --ramp_time=2 --minimal --terse-version=3"
# Lay the data down first, so reads hit written blocks on back ends that track allocation.
fio --name=fill --filename=/dev/vda --direct=1 --ioengine=libaio --bs=1M --iodepth=4 --size=48M \
  --rw=write --minimal >/dev/null || exit 1
fio --name=randread --rw=randread $common >/tmp/rr || exit 2
fio --name=randwrite --rw=randwrite $common >/tmp/rw || exit 3
# terse v3: field 5 error, 8 read IOPS, 49 write IOPS.
echo "RESULT randread_iops=$(cut -d';' -f8 /tmp/rr) randread_error=$(cut -d';' -f5 /tmp/rr)"
echo "RESULT randwrite_iops=$(cut -d';' -f49 /tmp/rw) randwrite_error=$(cut -d';' -f5 /tmp/rw)"

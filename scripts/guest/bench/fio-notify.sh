# Guest script (run by scripts/guest/run.sh as /test.sh): 4 KiB random reads on /dev/vda at queue
# depth 32 for 10 s (O_DIRECT, libaio), counting the disk's request interrupts in /proc/interrupts
# around the run. Prints "RESULT ios=N irqs=N irqs_per_io=X iops=N error=N".
# With VIRTIO_RING_F_EVENT_IDX the back end interrupts only when the driver asked (used_event);
# without it, whenever the driver has not set VRING_AVAIL_F_NO_INTERRUPT. Compare with
# --device-opts event_idx=off on the same back end.
set -u
irqs() {
  # The request-queue vectors of the first virtio device: "virtioN-req.Q" (MSI-X) lines.
  awk '/virtio[0-9]+-req/ { for (i = 2; i <= NF && $i ~ /^[0-9]+$/; i++) n += $i } END { print n + 0 }' /proc/interrupts
}
fio --name=fill --filename=/dev/vda --direct=1 --ioengine=libaio --bs=1M --iodepth=4 --size=48M \
  --rw=write --minimal >/dev/null || exit 1
before=$(irqs)
fio --name=randread --rw=randread --filename=/dev/vda --direct=1 --ioengine=libaio --bs=4k --iodepth=32 \
  --size=48M --time_based --runtime=10 --minimal --terse-version=3 >/tmp/rr || exit 2
after=$(irqs)
# terse v3: field 5 error, 6 read KiB, 8 read IOPS.
ios=$(( $(cut -d';' -f6 /tmp/rr) / 4 ))
irq=$((after - before))
echo "RESULT ios=$ios irqs=$irq irqs_per_io=$(awk -v i="$irq" -v n="$ios" 'BEGIN { printf "%.4f", n ? i / n : -1 }') iops=$(cut -d';' -f8 /tmp/rr) error=$(cut -d';' -f5 /tmp/rr)"

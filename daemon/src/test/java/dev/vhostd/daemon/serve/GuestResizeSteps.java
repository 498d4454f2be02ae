package dev.vhostd.daemon.serve;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.time.Duration;

import dev.vhostd.daemon.guest.GuestResult;
import dev.vhostd.daemon.guest.RunningGuest;

/**
 * The guest's half of an online-resize test, shared by the file and RBD guest tests: the disk starts
 * at {@code sizes[0]} and grows to each later size in turn while the guest runs. For step N the guest
 * prints {@code PHASE resize-N} once it has read the old size, the host grows the disk, the guest
 * polls /sys/block/vda/size (bounded) for the change, then fio writes and verifies exactly the part
 * past the old end.
 */
final class GuestResizeSteps {
    private final long[] sizes;

    GuestResizeSteps(long... sizes) {
        if (sizes.length < 2) {
            throw new IllegalArgumentException("an initial size and at least one step");
        }
        this.sizes = sizes.clone();
    }

    /** The guest script (for GuestVm.start). */
    String script() {
        StringBuilder s = new StringBuilder();
        for (int n = 1; n < sizes.length; n++) {
            long old = sizes[n - 1];
            // The change arrives within a second; 60 s leave room for a loaded TCG host.
            s.append("""
                    old=$(cat /sys/block/vda/size)
                    echo "RESULT old_sectors_%1$d=$old"
                    echo "PHASE resize-%1$d"
                    i=0
                    while [ "$(cat /sys/block/vda/size)" = "$old" ] && [ $i -lt 60 ]; do sleep 1; i=$((i+1)); done
                    echo "RESULT new_sectors_%1$d=$(cat /sys/block/vda/size) waited_s_%1$d=$i"
                    dmesg | grep -i 'capacity change\\|new size' | tail -n 1
                    fio --name=beyond%1$d --filename=/dev/vda --direct=1 --ioengine=libaio --rw=randwrite --bs=64k \\
                        --iodepth=8 --offset=%2$d --size=%3$d --verify=crc32c --verify_fatal=1 --do_verify=1 \\
                        --minimal --terse-version=3 >/tmp/fio%1$d.out 2>&1
                    rc=$?
                    t=$(tail -n 1 /tmp/fio%1$d.out)
                    echo "RESULT fio_rc_%1$d=$rc fio_err_%1$d=$(echo "$t" | cut -d';' -f5)"
                    echo "RESULT fio_write_kb_%1$d=$(echo "$t" | cut -d';' -f47) fio_verify_kb_%1$d=$(echo "$t" | cut -d';' -f6)"
                    """.formatted(n, old, sizes[n] - old));
        }
        return s.toString();
    }

    /** Waits until the guest has read the old size of step {@code n} (1-based) and asks for the resize. */
    static void awaitStep(RunningGuest guest, int n) {
        guest.awaitConsoleLine("PHASE resize-" + n, Duration.ofSeconds(300));
    }

    /** Checks every step: the guest saw each new size without a reboot and verified the data past each old end. */
    void assertSeen(GuestResult r, String why) {
        r.requireSuccess();
        for (int n = 1; n < sizes.length; n++) {
            long old = sizes[n - 1];
            long grown = sizes[n] - old;
            assertEquals(old >> 9, r.resultLong("old_sectors_" + n), "step " + n + "\n" + why);
            assertEquals(sizes[n] >> 9, r.resultLong("new_sectors_" + n),
                    "step " + n + ": the guest did not see the new size\n" + why);
            assertEquals(0, r.resultLong("fio_rc_" + n), "step " + n + "\n" + why);
            assertEquals(0, r.resultLong("fio_err_" + n), "step " + n + "\n" + why);
            // fio does nothing, and says so with exit 0, when its range lies past the end it sees.
            assertEquals(grown >> 10, r.resultLong("fio_write_kb_" + n), "step " + n + "\n" + why);
            assertEquals(grown >> 10, r.resultLong("fio_verify_kb_" + n), "step " + n + "\n" + why);
        }
    }
}

package dev.vhostd.daemon.serve;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.vhostd.daemon.guest.GuestResult;
import dev.vhostd.daemon.guest.GuestVm;
import dev.vhostd.daemon.guest.QemuVersion;
import dev.vhostd.daemon.guest.RunningGuest;

/**
 * The representative subset of {@link VhostdGuestTest} on the second QEMU (10.0 when the full set runs
 * on 7.2): verified I/O on two queues with discard and write zeroes, and a kill -9 whose in-flight
 * requests come back from QEMU's inflight area through {@code reconnect-ms}. VHOSTD_QEMU=7.2 or 10.0
 * picks a single QEMU for a quicker run, and this class then has nothing to add.
 */
class VhostdGuestSecondQemuTest {
    private static QemuVersion qemu;

    @TempDir
    Path dir;

    @BeforeAll
    static void image() {
        assumeTrue(QemuVersion.secondary().isPresent(),
                "VHOSTD_QEMU picked one QEMU; VhostdGuestTest runs on " + QemuVersion.primary().label() + " only");
        qemu = QemuVersion.secondary().orElseThrow();
        GuestVm.prepare();
    }

    private VhostdProcess vhostd(String... args) throws IOException {
        return VhostdProcess.serve(dir.resolve("vhostd.sock"), dir.resolve("vhostd.log"), args);
    }

    private static GuestVm.Options options() {
        return GuestVm.Options.defaults().withQemu(qemu).withTimeout(Duration.ofSeconds(300));
    }

    @Test
    void verifiedIoOnTwoQueuesWithDiscardAndWriteZeroes() throws Exception {
        try (VhostdProcess v = vhostd("--backend", "file:" + dir.resolve("disk.img"), "--size", "64M", "--queues", "2")) {
            GuestResult r = GuestVm.run(dir.resolve("vhostd.sock"), """
                    fio --direct=1 --ioengine=libaio --rw=randwrite --bssplit=4k/50:16k/30:64k/20 --iodepth=16 \
                        --size=8M --verify=crc32c --verify_fatal=1 --do_verify=1 --filename=/dev/vda --minimal \
                        --terse-version=3 --name=cpu0 --cpus_allowed=0 --offset=0 --name=cpu1 --cpus_allowed=1 \
                        --offset=16M >/tmp/b.out 2>&1
                    echo "RESULT fio_rc=$? queues=$(ls /sys/block/vda/mq | wc -l)"
                    dd if=/dev/urandom of=/dev/vda bs=1M seek=40 count=2 oflag=direct 2>/dev/null
                    /usr/sbin/blkdiscard -z -o $((40<<20)) -l $((1<<20)) /dev/vda
                    echo "RESULT wz_rc=$? wz_nonzero=$(dd if=/dev/vda bs=1M skip=40 count=1 iflag=direct 2>/dev/null | tr -d '\\000' | wc -c)"
                    /usr/sbin/blkdiscard -o $((41<<20)) -l $((1<<20)) /dev/vda
                    echo "RESULT discard_rc=$? discard_nonzero=$(dd if=/dev/vda bs=1M skip=41 count=1 iflag=direct 2>/dev/null | tr -d '\\000' | wc -c)"
                    """, options().withQueues(2));
            r.requireSuccess();
            assertTrue(r.diagnostics().contains("QEMU emulator version " + qemu.label()), r::describe);
            assertEquals(0, r.resultLong("fio_rc"), r::describe);
            assertEquals(2, r.resultLong("queues"), r::describe);
            assertEquals(0, r.resultLong("wz_rc"), r::describe);
            assertEquals(0, r.resultLong("wz_nonzero"), r::describe);
            assertEquals(0, r.resultLong("discard_rc"), r::describe);
            assertEquals(0, r.resultLong("discard_nonzero"), r::describe);
            assertEquals(0, v.terminate(Duration.ofSeconds(30)), v::log);
        }
    }

    @Test
    void kill9WithRequestsInFlightResubmitsThemAfterReconnect() throws Exception {
        Path socket = dir.resolve("vhostd.sock");
        String backend = "null:64M,latency=100ms";
        VhostdProcess first = vhostd("--backend", backend);
        try (RunningGuest g = GuestVm.start(socket, """
                echo FIO-START
                fio --name=inflight --filename=/dev/vda --direct=1 --ioengine=libaio --rw=randread --bs=4k \
                    --iodepth=16 --size=32M --time_based --runtime=8 --minimal --terse-version=3 >/tmp/i.out 2>&1
                echo "RESULT fio_rc=$? fio_err=$(cut -d';' -f5 /tmp/i.out) fio_kib=$(cut -d';' -f6 /tmp/i.out)"
                """, options().withReconnect(true))) {
            g.awaitConsoleLine("FIO-START", Duration.ofSeconds(120));
            Thread.sleep(3000);
            first.kill9();
            int before = first.log().length();
            try (VhostdProcess second = vhostd("--backend", backend)) {
                GuestResult r = g.await();
                r.requireSuccess();
                assertEquals(0, r.resultLong("fio_rc"), r::describe);
                assertEquals(0, r.resultLong("fio_err"), r::describe);
                assertTrue(r.resultLong("fio_kib") > 0, r::describe);
                String after = second.log().substring(before);
                assertTrue(after.matches("(?s).*queue \\d+: \\d+ requests were in flight when the previous vhostd"
                        + " stopped.*"), "the restarted vhostd found nothing to resubmit:\n" + after);
            }
        } finally {
            first.close();
        }
    }
}

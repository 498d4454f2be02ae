package dev.vhostd.daemon.serve;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.HexFormat;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.vhostd.daemon.guest.GuestResult;
import dev.vhostd.daemon.guest.GuestVm;
import dev.vhostd.daemon.guest.RunningGuest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * vhostd serving a real Linux guest under QEMU (TCG): each case asserts on what the guest reports.
 */
class VhostdGuestTest {
    private static final long MIB = 1L << 20;
    private static final Duration BOOT_LIMIT = Duration.ofSeconds(150);

    @TempDir
    Path dir;

    @BeforeAll
    static void image() {
        GuestVm.prepare();
    }

    private VhostdProcess vhostd(String... args) throws IOException {
        return VhostdProcess.serve(dir.resolve("vhostd.sock"), dir.resolve("vhostd.log"), args);
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    @Test
    void guestSeesSizeBlockSizeQueuesSerialAndFeatures() throws Exception {
        try (VhostdProcess v = vhostd("--backend", "memory:96M", "--queues", "2", "--logical-block-size", "4096",
                "--serial", "vhostd-test-01")) {
            GuestResult r = GuestVm.run(dir.resolve("vhostd.sock"), """
                    b=/sys/block/vda
                    echo "RESULT sectors=$(cat $b/size) lbs=$(cat $b/queue/logical_block_size) \
                    queues=$(ls $b/mq | wc -l) ro=$(cat $b/ro) serial=$(cat $b/serial) \
                    discard=$(cat $b/queue/discard_max_bytes) wz=$(cat $b/queue/write_zeroes_max_bytes)"
                    """, GuestVm.Options.defaults().withQueues(2).withTimeout(BOOT_LIMIT));
            r.requireSuccess();
            assertEquals(96 * MIB / 512, r.resultLong("sectors"), r::describe);
            assertEquals(4096, r.resultLong("lbs"), r::describe);
            assertEquals(2, r.resultLong("queues"), r::describe);
            assertEquals(0, r.resultLong("ro"), r::describe);
            assertEquals("vhostd-test-01", r.result("serial"), r::describe);
            assertTrue(r.resultLong("discard") > 0, r::describe);
            assertTrue(r.resultLong("wz") > 0, r::describe);
            assertTrue(v.log().contains("features negotiated"), v::log);
        }
    }

    @Test
    void readOnlyExportRefusesWrites() throws Exception {
        Path img = dir.resolve("ro.img");
        byte[] data = new byte[(int) MIB];
        new java.util.Random(3).nextBytes(data);
        try (RandomAccessFile f = new RandomAccessFile(img.toFile(), "rw")) {
            f.setLength(32 * MIB);
            f.seek(MIB);
            f.write(data);
        }
        try (VhostdProcess v = vhostd("--backend", "file:" + img, "--read-only")) {
            GuestResult r = GuestVm.run(dir.resolve("vhostd.sock"), """
                    echo "RESULT ro=$(cat /sys/block/vda/ro)"
                    # Bypass the kernel's own read-only check so the device must refuse the write.
                    blockdev --setrw /dev/vda 2>/dev/null
                    dd if=/dev/zero of=/dev/vda bs=4096 count=1 seek=256 oflag=direct 2>/dev/null
                    echo "RESULT write_rc=$?"
                    echo "RESULT sha=$(dd if=/dev/vda bs=1M skip=1 count=1 iflag=direct 2>/dev/null | sha256sum | cut -d' ' -f1)"
                    """, GuestVm.Options.defaults().withTimeout(BOOT_LIMIT));
            r.requireSuccess();
            assertEquals(1, r.resultLong("ro"), r::describe);
            assertNotEquals(0, r.resultLong("write_rc"), r::describe);
            assertEquals(sha256(data), r.result("sha"), r::describe);
        }
        byte[] after = Files.readAllBytes(img);
        assertEquals(sha256(data), sha256(java.util.Arrays.copyOfRange(after, (int) MIB, (int) (2 * MIB))));
    }

    @Test
    void verifiedIoOnTwoQueuesDiscardWriteZeroesAndDataSurvivesARestart() throws Exception {
        Path img = dir.resolve("disk.img");
        int port = freePort();
        String sha;
        try (VhostdProcess v = vhostd("--backend", "file:" + img, "--size", "64M", "--queues", "2",
                "--metrics", "127.0.0.1:" + port)) {
            GuestResult r = GuestVm.run(dir.resolve("vhostd.sock"), """
                    fio --name=mixed --filename=/dev/vda --direct=1 --ioengine=libaio --rw=randwrite \
                        --bssplit=4k/50:16k/30:64k/20 --iodepth=16 --size=16M \
                        --verify=crc32c --verify_fatal=1 --do_verify=1 --minimal --terse-version=3 >/tmp/a.out 2>&1
                    echo "RESULT mixed_rc=$? mixed_err=$(cut -d';' -f5 /tmp/a.out)"
                    fio --direct=1 --ioengine=libaio --rw=randwrite --bs=4k --iodepth=8 --size=8M \
                        --verify=crc32c --verify_fatal=1 --do_verify=1 --filename=/dev/vda --minimal \
                        --name=cpu0 --cpus_allowed=0 --offset=16M --name=cpu1 --cpus_allowed=1 --offset=24M >/tmp/b.out 2>&1
                    echo "RESULT two_rc=$?"
                    # write zeroes: random data first, then blkdiscard -z over 1 MiB of it
                    dd if=/dev/urandom of=/dev/vda bs=1M seek=40 count=2 oflag=direct 2>/dev/null
                    /usr/sbin/blkdiscard -z -o $((40<<20)) -l $((1<<20)) /dev/vda
                    echo "RESULT wz_rc=$?"
                    echo "RESULT wz_nonzero=$(dd if=/dev/vda bs=1M skip=40 count=1 iflag=direct 2>/dev/null | tr -d '\\000' | wc -c)"
                    echo "RESULT after_wz_nonzero=$(dd if=/dev/vda bs=1M skip=41 count=1 iflag=direct 2>/dev/null | tr -d '\\000' | wc -c)"
                    dd if=/dev/urandom of=/dev/vda bs=1M seek=44 count=1 oflag=direct 2>/dev/null
                    /usr/sbin/blkdiscard -o $((44<<20)) -l $((1<<20)) /dev/vda
                    echo "RESULT discard_rc=$?"
                    echo "RESULT discard_nonzero=$(dd if=/dev/vda bs=1M skip=44 count=1 iflag=direct 2>/dev/null | tr -d '\\000' | wc -c)"
                    dd if=/dev/urandom of=/tmp/r bs=1M count=1 2>/dev/null
                    dd if=/tmp/r of=/dev/vda bs=1M seek=50 oflag=direct conv=fsync 2>/dev/null
                    echo "RESULT persist_sha=$(sha256sum /tmp/r | cut -d' ' -f1)"
                    """, GuestVm.Options.defaults().withQueues(2).withTimeout(Duration.ofSeconds(300)));
            r.requireSuccess();
            assertEquals(0, r.resultLong("mixed_rc"), r::describe);
            assertEquals(0, r.resultLong("mixed_err"), r::describe);
            assertEquals(0, r.resultLong("two_rc"), r::describe);
            assertEquals(0, r.resultLong("wz_rc"), r::describe);
            assertEquals(0, r.resultLong("wz_nonzero"), r::describe);
            assertTrue(r.resultLong("after_wz_nonzero") > 0, "write zeroes must stop at its range: " + r.describe());
            assertEquals(0, r.resultLong("discard_rc"), r::describe);
            assertEquals(0, r.resultLong("discard_nonzero"), r::describe);
            sha = r.result("persist_sha");
            // Both queues carried requests (fio jobs pinned to the two guest CPUs).
            double q0 = VhostdProcess.scrape(port, "vhostd_requests_total", "queue=\"0\"");
            double q1 = VhostdProcess.scrape(port, "vhostd_requests_total", "queue=\"1\"");
            assertTrue(q0 > 0 && q1 > 0, "requests per queue: " + q0 + ", " + q1);
            assertEquals(0, VhostdProcess.scrape(port, "vhostd_invalid_guest_input_total"));
            assertEquals(0, v.terminate(Duration.ofSeconds(30)), "SIGTERM must exit 0:\n" + v.log());
            assertFalse(Files.exists(dir.resolve("vhostd.sock")), "socket file removed on exit");
        }
        byte[] onDisk = new byte[(int) MIB];
        try (RandomAccessFile f = new RandomAccessFile(img.toFile(), "r")) {
            f.seek(50 * MIB);
            f.readFully(onDisk);
        }
        assertEquals(sha, sha256(onDisk), "the acknowledged write is in the image file");
        try (VhostdProcess v = vhostd("--backend", "file:" + img)) {
            GuestResult r = GuestVm.run(dir.resolve("vhostd.sock"), """
                    echo "RESULT sha=$(dd if=/dev/vda bs=1M skip=50 count=1 iflag=direct 2>/dev/null | sha256sum | cut -d' ' -f1)"
                    """, GuestVm.Options.defaults().withTimeout(BOOT_LIMIT));
            r.requireSuccess();
            assertEquals(sha, r.result("sha"), "second boot after a restart reads the first boot's data");
        }
    }

    @Test
    void kill9DuringFioAndRestartLetsFioFinishVerified() throws Exception {
        Path img = dir.resolve("crash.img");
        Path socket = dir.resolve("vhostd.sock");
        VhostdProcess first = vhostd("--backend", "file:" + img, "--size", "64M");
        try (RunningGuest g = GuestVm.start(socket, """
                echo FIO-START
                fio --name=crash --filename=/dev/vda --direct=1 --ioengine=libaio --rw=randwrite --bs=4k \
                    --iodepth=8 --size=24M --verify=crc32c --verify_fatal=1 --do_verify=1 \
                    --minimal --terse-version=3 >/tmp/c.out 2>&1
                echo "RESULT fio_rc=$? fio_err=$(cut -d';' -f5 /tmp/c.out)"
                """, GuestVm.Options.defaults().withReconnect(true).withTimeout(Duration.ofSeconds(300)))) {
            g.awaitConsoleLine("FIO-START", Duration.ofSeconds(120));
            Thread.sleep(3000);
            first.kill9();
            try (VhostdProcess second = vhostd("--backend", "file:" + img)) {
                GuestResult r = g.await();
                r.requireSuccess();
                assertEquals(0, r.resultLong("fio_rc"), r::describe);
                assertEquals(0, r.resultLong("fio_err"), r::describe);
                assertTrue(second.log().contains("connected"), second::log);
            }
        } finally {
            first.close();
        }
    }

    /**
     * With a device that takes 100 ms per request, a kill -9 always leaves requests in flight. QEMU
     * keeps the inflight area vhostd gave it (INFLIGHT_SHMFD) and hands it to the restarted vhostd,
     * which processes those requests again before new ones; fio in the guest sees no error.
     */
    @Test
    void kill9WithRequestsInFlightResubmitsThemFromTheInflightArea() throws Exception {
        Path socket = dir.resolve("vhostd.sock");
        String backend = "null:64M,latency=100ms";
        VhostdProcess first = vhostd("--backend", backend);
        try (RunningGuest g = GuestVm.start(socket, """
                echo FIO-START
                fio --name=inflight --filename=/dev/vda --direct=1 --ioengine=libaio --rw=randread --bs=4k \
                    --iodepth=16 --size=32M --time_based --runtime=8 --minimal --terse-version=3 >/tmp/i.out 2>&1
                echo "RESULT fio_rc=$? fio_err=$(cut -d';' -f5 /tmp/i.out) fio_kib=$(cut -d';' -f6 /tmp/i.out)"
                """, GuestVm.Options.defaults().withReconnect(true).withTimeout(Duration.ofSeconds(300)))) {
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

    private static String sha256(byte[] data) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(data));
    }
}

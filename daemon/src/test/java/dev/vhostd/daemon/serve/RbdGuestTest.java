package dev.vhostd.daemon.serve;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.HexFormat;
import java.util.Random;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import com.fasterxml.jackson.databind.JsonNode;

import dev.vhostd.backend.BackendOptions;
import dev.vhostd.backend.BackendQueue;
import dev.vhostd.backend.Backends;
import dev.vhostd.backend.BlockBackend;
import dev.vhostd.backend.CephCluster;
import dev.vhostd.backend.IoOp;
import dev.vhostd.daemon.guest.GuestResult;
import dev.vhostd.daemon.guest.GuestVm;
import dev.vhostd.daemon.guest.RunningGuest;

import static dev.vhostd.daemon.serve.ControlCalls.result;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A real guest (QEMU TCG) on a vhostd disk that lives on a Ceph cluster this class starts: fio with
 * verification survives kill -9 of vhostd (the restarted daemon takes the image's exclusive lock
 * over from the dead one), a snapshot is exported read-only with its own content, and the running
 * guest sees the image grow, through disk_resize (rbd_resize) and through 'rbd resize' outside
 * vhostd picked up by disk_resize without a size.
 */
class RbdGuestTest {
    private static CephCluster ceph;

    @TempDir
    Path dir;

    @BeforeAll
    static void start() throws Exception {
        GuestVm.prepare();
        ceph = CephCluster.start();
    }

    @AfterAll
    static void stop() throws Exception {
        if (ceph != null) {
            ceph.close();
        }
    }

    private String uri(String spec) {
        return "rbd:rbd/" + spec + ",conf=" + ceph.conf();
    }

    @Test
    void kill9DuringVerifiedFioAndARestartThatTakesTheLockOverLosesNothing() throws Exception {
        String image = ceph.newImageName("guest");
        ceph.rbd("create", "--size", "64M", "rbd/" + image);
        Path socket = dir.resolve("vhostd.sock");
        Path log = dir.resolve("vhostd.log");
        VhostdProcess first = VhostdProcess.serve(socket, log, "--backend", uri(image));
        try (RunningGuest g = GuestVm.start(socket, """
                echo "RESULT opt_io=$(cat /sys/block/vda/queue/optimal_io_size) sectors=$(cat /sys/block/vda/size)"
                echo FIO-START
                fio --name=crash --filename=/dev/vda --direct=1 --ioengine=libaio --rw=randwrite --bs=4k \
                    --iodepth=8 --size=16M --verify=crc32c --verify_fatal=1 --do_verify=1 \
                    --minimal --terse-version=3 >/tmp/c.out 2>&1
                echo "RESULT fio_rc=$? fio_err=$(cut -d';' -f5 /tmp/c.out)"
                """, GuestVm.Options.defaults().withReconnect(true).withTimeout(Duration.ofSeconds(400)))) {
            g.awaitConsoleLine("FIO-START", Duration.ofSeconds(150));
            Thread.sleep(3000);
            first.kill9();
            // The dead daemon's lock stays until the OSD drops its watch (10 s on the test cluster):
            // the second daemon may wait for it before it listens.
            try (VhostdProcess second = VhostdProcess.serve(Duration.ofSeconds(90), socket, log, "--backend",
                    uri(image))) {
                GuestResult r = g.await();
                r.requireSuccess();
                assertEquals(4L << 20, r.resultLong("opt_io"), "optimal I/O size is the image's object size");
                assertEquals(64L << 11, r.resultLong("sectors"), r::describe);
                assertEquals(0, r.resultLong("fio_rc"), r::describe);
                assertEquals(0, r.resultLong("fio_err"), r::describe);
                // The restarted daemon holds the image: a dead owner's lock is broken once its watch is gone.
                assertTrue(second.log().contains("connected"), second::log);
            }
        } finally {
            first.close();
        }
    }

    @Test
    void aSnapshotIsExportedReadOnly() throws Exception {
        String image = ceph.newImageName("snap");
        ceph.rbd("create", "--size", "32M", "rbd/" + image);
        byte[] data = new byte[1 << 20];
        new Random(13).nextBytes(data);
        writeThroughTheBackend(uri(image), 1 << 20, data);
        ceph.rbd("snap", "create", "rbd/" + image + "@s1");
        writeThroughTheBackend(uri(image), 1 << 20, new byte[1 << 20]);

        try (VhostdProcess v = VhostdProcess.serve(dir.resolve("vhostd.sock"), dir.resolve("vhostd.log"),
                "--backend", uri(image + "@s1"))) {
            GuestResult r = GuestVm.run(dir.resolve("vhostd.sock"), """
                    echo "RESULT ro=$(cat /sys/block/vda/ro)"
                    blockdev --setrw /dev/vda 2>/dev/null
                    dd if=/dev/zero of=/dev/vda bs=4096 count=1 seek=256 oflag=direct 2>/dev/null
                    echo "RESULT write_rc=$?"
                    echo "RESULT sha=$(dd if=/dev/vda bs=1M skip=1 count=1 iflag=direct 2>/dev/null | sha256sum | cut -d' ' -f1)"
                    """, GuestVm.Options.defaults().withTimeout(Duration.ofSeconds(200)));
            r.requireSuccess();
            assertEquals(1, r.resultLong("ro"), r::describe);
            assertNotEquals(0, r.resultLong("write_rc"), r::describe);
            assertEquals(sha256(data), r.result("sha"), "the snapshot's content, not the head's: " + r.describe());
            assertTrue(v.log().contains("@s1 (read-only)"), v::log);
        }
    }

    @Test
    void theGuestSeesTheImageGrowThroughTheApiAndFromOutside() throws Exception {
        long initial = 64L << 20;
        long byApi = 96L << 20;
        long outside = 160L << 20;
        String image = ceph.newImageName("grow");
        ceph.rbd("create", "--size", "64M", "rbd/" + image);
        Path control = dir.resolve("control.sock");
        Path sock = dir.resolve("disk.sock");
        GuestResizeSteps steps = new GuestResizeSteps(initial, byApi, outside);
        try (VhostdProcess vhostd = VhostdProcess.start(control, dir.resolve("vhostd.log"), "--control",
                control.toString())) {
            result(control, "disk_add", "{\"name\":\"grow\",\"socket\":\"" + sock + "\",\"backend\":\""
                    + uri(image) + "\"}");
            assertEquals(initial, result(control, "disk_get", "{\"name\":\"grow\"}").get("size").asLong());
            try (RunningGuest guest = GuestVm.start(sock, steps.script(),
                    GuestVm.Options.defaults().withTimeout(Duration.ofSeconds(500)))) {
                GuestResizeSteps.awaitStep(guest, 1);
                JsonNode grown = result(control, "disk_resize", "{\"name\":\"grow\",\"size\":" + byApi + "}");
                assertEquals(byApi, grown.get("size").asLong(), grown.toString());
                assertTrue(ceph.rbd("info", "--format", "json", "rbd/" + image).contains("\"size\":" + byApi),
                        "disk_resize grows the image itself (rbd_resize)");

                GuestResizeSteps.awaitStep(guest, 2);
                ceph.rbd("resize", "--size", (outside >> 20) + "M", "rbd/" + image);
                JsonNode pickedUp = result(control, "disk_resize", "{\"name\":\"grow\"}");
                assertEquals(outside, pickedUp.get("size").asLong(), pickedUp.toString());

                GuestResult r = guest.await();
                steps.assertSeen(r, r.describe() + "\n--- vhostd log ---\n" + vhostd.log());
            }
            assertEquals(0, vhostd.terminate(Duration.ofSeconds(60)), vhostd.log());
        }
    }

    private static void writeThroughTheBackend(String uri, long offset, byte[] data) throws Exception {
        try (BlockBackend b = Backends.open(uri, BackendOptions.defaults());
             BackendQueue q = b.openQueue();
             Arena arena = Arena.ofConfined()) {
            MemorySegment buf = arena.allocate(data.length, 4096);
            MemorySegment.copy(data, 0, buf, JAVA_BYTE, 0, data.length);
            IoOp op = new IoOp(1).setData(IoOp.Type.WRITE, offset);
            op.addSegment(buf);
            if (!q.submit(op)) {
                q.drain(done -> { });
            }
            assertEquals(0, op.result());
        }
    }

    private static String sha256(byte[] b) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
    }
}

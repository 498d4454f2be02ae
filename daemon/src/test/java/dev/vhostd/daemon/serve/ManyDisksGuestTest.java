package dev.vhostd.daemon.serve;

import static dev.vhostd.daemon.serve.ControlCalls.call;
import static dev.vhostd.daemon.serve.ControlCalls.ok;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import org.junit.jupiter.api.Test;

import com.fasterxml.jackson.databind.JsonNode;

import dev.vhostd.daemon.guest.GuestResult;
import dev.vhostd.daemon.guest.GuestVm;
import dev.vhostd.daemon.guest.Qmp;
import dev.vhostd.daemon.guest.RunningGuest;

/**
 * One vhostd, one real guest, several disks: two vhost-user-blk disks from the same daemon with
 * verified fio on both at once; then a third disk added through the control API and hot-plugged
 * into the running guest the way orchestrators do it (QMP chardev-add + device_add on a free
 * pcie-root-port), verified, hot-unplugged (device_del, chardev-remove) and removed from vhostd
 * without force.
 */
class ManyDisksGuestTest {
    @Test
    void twoDisksVerifiedThenAThirdHotAddedAndRemoved() throws Exception {
        Path dir = Files.createTempDirectory("vhostd-disks-guest");
        Path control = dir.resolve("control.sock");
        Path qmpSock = dir.resolve("qmp.sock");
        Path sockA = dir.resolve("a.sock");
        Path sockB = dir.resolve("b.sock");
        Path sockC = dir.resolve("c.sock");
        try (java.io.RandomAccessFile f = new java.io.RandomAccessFile(dir.resolve("b.img").toFile(), "rw")) {
            f.setLength(64L << 20);
        }
        try (VhostdProcess vhostd = VhostdProcess.start(control, dir.resolve("vhostd.log"), "--control", control.toString(),
                "--pollers", "2")) {
            ok(call(control, "disk_add", "{\"name\":\"a\",\"socket\":\"" + sockA + "\",\"backend\":\"memory:64M\"}"));
            ok(call(control, "disk_add", "{\"name\":\"b\",\"socket\":\"" + sockB + "\",\"backend\":\"file:"
                    + dir.resolve("b.img") + "\",\"serial\":\"disk-b\"}"));
            String fio = "fio --direct=1 --ioengine=libaio --rw=randwrite --bs=4k --iodepth=8 --size=16M"
                    + " --verify=crc32c --verify_fatal=1 --do_verify=1 --minimal --terse-version=3";
            String script = """
                    %1$s --name=a --filename=/dev/vda >/tmp/a.out 2>&1 &
                    pa=$!
                    %1$s --name=b --filename=/dev/vdb >/tmp/b.out 2>&1 &
                    pb=$!
                    wait $pa; ra=$?
                    wait $pb; rb=$?
                    echo "RESULT a_rc=$ra a_err=$(cut -d';' -f5 /tmp/a.out) b_rc=$rb b_err=$(cut -d';' -f5 /tmp/b.out)"
                    echo "RESULT b_serial=$(cat /sys/block/vdb/serial 2>/dev/null)"
                    echo "PHASE two-disks-done"
                    i=0; while [ ! -b /dev/vdc ] && [ $i -lt 300 ]; do sleep 1; i=$((i+1)); done
                    echo "RESULT c_present=$([ -b /dev/vdc ] && echo 1 || echo 0) c_sectors=$(cat /sys/block/vdc/size 2>/dev/null)"
                    %1$s --name=c --filename=/dev/vdc >/tmp/c.out 2>&1
                    echo "RESULT c_rc=$? c_err=$(cut -d';' -f5 /tmp/c.out)"
                    echo "PHASE hot-added-done"
                    i=0; while [ -b /dev/vdc ] && [ $i -lt 300 ]; do sleep 1; i=$((i+1)); done
                    echo "RESULT c_gone=$([ -b /dev/vdc ] && echo 0 || echo 1)"
                    """.formatted(fio);
            try (RunningGuest guest = GuestVm.start(sockA, script,
                    GuestVm.Options.defaults().withTimeout(Duration.ofSeconds(600)),
                    List.of("--extra-socket", sockB.toString(), "--root-ports", "2", "--qmp", qmpSock.toString()))) {
                guest.awaitConsoleLine("PHASE two-disks-done", Duration.ofSeconds(400));
                JsonNode a = call(control, "disk_get", "{\"name\":\"a\"}").get("result");
                JsonNode b = call(control, "disk_get", "{\"name\":\"b\"}").get("result");
                assertTrue(a.get("connected").asBoolean() && b.get("connected").asBoolean(), a + "\n" + b);
                assertEquals(a.get("frontend_pid"), b.get("frontend_pid"), "one QEMU drives both disks");

                ok(call(control, "disk_add", "{\"name\":\"c\",\"socket\":\"" + sockC + "\",\"backend\":\"memory:32M\"}"));
                try (Qmp qmp = Qmp.connect(qmpSock, Duration.ofSeconds(30))) {
                    qmp.execute("{\"execute\":\"chardev-add\",\"arguments\":{\"id\":\"hotc\",\"backend\":{\"type\":\"socket\","
                            + "\"data\":{\"addr\":{\"type\":\"unix\",\"data\":{\"path\":\"" + sockC + "\"}},\"server\":false}}}}");
                    qmp.execute("{\"execute\":\"device_add\",\"arguments\":{\"driver\":\"vhost-user-blk-pci\","
                            + "\"id\":\"vdiskc\",\"chardev\":\"hotc\",\"bus\":\"rp1\",\"num-queues\":1}}");
                    guest.awaitConsoleLine("PHASE hot-added-done", Duration.ofSeconds(400));
                    JsonNode c = call(control, "disk_get", "{\"name\":\"c\"}").get("result");
                    assertTrue(c.get("connected").asBoolean(), c.toString());
                    // Still attached: removal without force is refused and changes nothing.
                    assertEquals(-32003, call(control, "disk_remove", "{\"name\":\"c\"}").get("error").get("code").asInt());

                    qmp.execute("{\"execute\":\"device_del\",\"arguments\":{\"id\":\"vdiskc\"}}");
                    qmp.awaitEvent("DEVICE_DELETED", Duration.ofSeconds(120));
                    qmp.execute("{\"execute\":\"chardev-remove\",\"arguments\":{\"id\":\"hotc\"}}");
                }
                awaitDisconnected(control, "c");
                ok(call(control, "disk_remove", "{\"name\":\"c\"}"));
                assertFalse(Files.exists(sockC));
                GuestResult r = guest.await();
                r.requireSuccess();
                assertEquals(0, r.resultLong("a_rc"), r::describe);
                assertEquals(0, r.resultLong("a_err"), r::describe);
                assertEquals(0, r.resultLong("b_rc"), r::describe);
                assertEquals(0, r.resultLong("b_err"), r::describe);
                assertEquals("disk-b", r.result("b_serial"), r::describe);
                assertEquals(1, r.resultLong("c_present"), r::describe);
                assertEquals(32L << 20 >> 9, r.resultLong("c_sectors"), r::describe);
                assertEquals(0, r.resultLong("c_rc"), r::describe);
                assertEquals(0, r.resultLong("c_err"), r::describe);
                assertEquals(1, r.resultLong("c_gone"), r::describe);
            }
            assertEquals(0, vhostd.terminate(Duration.ofSeconds(60)), vhostd.log());
        }
    }


    private static void awaitDisconnected(Path control, String name) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (System.nanoTime() < deadline) {
            if (!call(control, "disk_get", "{\"name\":\"" + name + "\"}").get("result").get("connected").asBoolean()) {
                return;
            }
            Thread.sleep(100);
        }
        throw new AssertionError("disk " + name + " still has a front-end 60 s after chardev-remove");
    }

}

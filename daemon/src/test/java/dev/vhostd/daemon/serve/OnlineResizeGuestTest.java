package dev.vhostd.daemon.serve;

import static dev.vhostd.daemon.serve.ControlCalls.call;
import static dev.vhostd.daemon.serve.ControlCalls.ok;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import com.fasterxml.jackson.databind.JsonNode;

import dev.vhostd.daemon.guest.GuestResult;
import dev.vhostd.daemon.guest.GuestVm;
import dev.vhostd.daemon.guest.RunningGuest;

/**
 * Online resize end to end with a real guest (issue 12): a running guest's disk is grown through the
 * control API and the guest sees the new size without a reboot (vhostd sends
 * VHOST_USER_BACKEND_CONFIG_CHANGE_MSG, QEMU re-reads config space and raises the config interrupt),
 * then writes and verifies data past the old end.
 *
 * <p>Synchronisation is the console handshake: the guest prints a PHASE line when it has recorded the
 * old size; the host resizes; the guest polls /sys/block/vda/size (bounded) for the change.
 */
class OnlineResizeGuestTest {
    private static final long OLD_SIZE = 64L << 20;
    private static final long NEW_SIZE = 128L << 20;

    @Test
    void guestSeesTheNewSizeWithoutRebootAndVerifiesDataPastTheOldEnd(@TempDir Path dir) throws Exception {
        Path control = dir.resolve("control.sock");
        Path sock = dir.resolve("disk.sock");
        Path image = dir.resolve("disk.img");
        try (RandomAccessFile f = new RandomAccessFile(image.toFile(), "rw")) {
            f.setLength(OLD_SIZE);
        }
        GuestResizeSteps steps = new GuestResizeSteps(OLD_SIZE, NEW_SIZE);
        try (VhostdProcess vhostd = VhostdProcess.start(control, dir.resolve("vhostd.log"), "--control", control.toString(),
                "--pollers", "1")) {
            ok(call(control, "disk_add", "{\"name\":\"grow\",\"socket\":\"" + sock + "\",\"backend\":\"file:" + image
                    + "\"}"));
            assertEquals(OLD_SIZE, call(control, "disk_get", "{\"name\":\"grow\"}").get("result").get("size").asLong());
            try (RunningGuest guest = GuestVm.start(sock, steps.script(),
                    GuestVm.Options.defaults().withTimeout(Duration.ofSeconds(400)))) {
                GuestResizeSteps.awaitStep(guest, 1);
                JsonNode resized = call(control, "disk_resize", "{\"name\":\"grow\",\"size\":" + NEW_SIZE + "}");
                ok(resized);
                assertEquals(NEW_SIZE, resized.get("result").get("size").asLong(), resized.toString());
                JsonNode disk = call(control, "disk_get", "{\"name\":\"grow\"}").get("result");
                assertEquals(NEW_SIZE, disk.get("size").asLong(), disk.toString());
                assertTrue(disk.get("connected").asBoolean(), disk.toString());
                assertEquals(NEW_SIZE, Files.size(image), "the file backend grows the image");

                GuestResult r = guest.await();
                String why = r.describe() + "\n--- vhostd log ---\n" + vhostd.log();
                steps.assertSeen(r, why);
                assertTrue(anyNonZero(image, OLD_SIZE, NEW_SIZE - OLD_SIZE), "nothing written past the old end\n" + why);
            }
            assertEquals(0, vhostd.terminate(Duration.ofSeconds(60)), vhostd.log());
        }
    }

    /** Whether the image holds any non-zero byte in [offset, offset + length): the guest's writes reached it. */
    private static boolean anyNonZero(Path image, long offset, long length) throws IOException {
        try (FileChannel ch = FileChannel.open(image, StandardOpenOption.READ)) {
            ByteBuffer buf = ByteBuffer.allocate(1 << 20);
            for (long pos = offset; pos < offset + length; pos += buf.capacity()) {
                buf.clear();
                ch.read(buf, pos);
                for (int i = 0; i < buf.position(); i++) {
                    if (buf.get(i) != 0) {
                        return true;
                    }
                }
            }
            return false;
        }
    }


}

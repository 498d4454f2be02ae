package dev.vhostd.daemon.serve;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

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
    private static final ObjectMapper JSON = new ObjectMapper();
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
        // The guest polls for the change itself: it arrives within a second; 60 s leave room for a loaded TCG host.
        String script = """
                old=$(cat /sys/block/vda/size)
                echo "RESULT old_sectors=$old"
                echo "PHASE resize-me"
                i=0
                while [ "$(cat /sys/block/vda/size)" = "$old" ] && [ $i -lt 60 ]; do sleep 1; i=$((i+1)); done
                echo "RESULT new_sectors=$(cat /sys/block/vda/size) waited_s=$i"
                dmesg | grep -i 'capacity change\\|new size' | tail -n 2
                fio --name=beyond --filename=/dev/vda --direct=1 --ioengine=libaio --rw=randwrite --bs=64k \\
                    --iodepth=8 --offset=%d --size=%d --verify=crc32c --verify_fatal=1 --do_verify=1 \\
                    --minimal --terse-version=3 >/tmp/fio.out 2>&1
                rc=$?
                t=$(tail -n 1 /tmp/fio.out)
                echo "RESULT fio_rc=$rc fio_err=$(echo "$t" | cut -d';' -f5)"
                echo "RESULT fio_write_kb=$(echo "$t" | cut -d';' -f47) fio_verify_kb=$(echo "$t" | cut -d';' -f6)"
                """.formatted(OLD_SIZE, NEW_SIZE - OLD_SIZE);
        try (VhostdProcess vhostd = VhostdProcess.start(control, dir.resolve("vhostd.log"), "--control", control.toString(),
                "--pollers", "1")) {
            ok(call(control, "disk_add", "{\"name\":\"grow\",\"socket\":\"" + sock + "\",\"backend\":\"file:" + image
                    + "\"}"));
            assertEquals(OLD_SIZE, call(control, "disk_get", "{\"name\":\"grow\"}").get("result").get("size").asLong());
            try (RunningGuest guest = GuestVm.start(sock, script,
                    GuestVm.Options.defaults().withTimeout(Duration.ofSeconds(400)))) {
                guest.awaitConsoleLine("PHASE resize-me", Duration.ofSeconds(300));
                JsonNode resized = call(control, "disk_resize", "{\"name\":\"grow\",\"size\":" + NEW_SIZE + "}");
                ok(resized);
                assertEquals(NEW_SIZE, resized.get("result").get("size").asLong(), resized.toString());
                JsonNode disk = call(control, "disk_get", "{\"name\":\"grow\"}").get("result");
                assertEquals(NEW_SIZE, disk.get("size").asLong(), disk.toString());
                assertTrue(disk.get("connected").asBoolean(), disk.toString());
                assertEquals(NEW_SIZE, Files.size(image), "the file backend grows the image");

                GuestResult r = guest.await();
                String why = r.describe() + "\n--- vhostd log ---\n" + vhostd.log();
                r.requireSuccess();
                assertEquals(OLD_SIZE >> 9, r.resultLong("old_sectors"), why);
                assertEquals(NEW_SIZE >> 9, r.resultLong("new_sectors"), "the guest did not see the new size\n" + why);
                assertEquals(0, r.resultLong("fio_rc"), why);
                assertEquals(0, r.resultLong("fio_err"), why);
                // fio does nothing, and says so with exit 0, when its range lies past the end it sees.
                assertEquals((NEW_SIZE - OLD_SIZE) >> 10, r.resultLong("fio_write_kb"), why);
                assertEquals((NEW_SIZE - OLD_SIZE) >> 10, r.resultLong("fio_verify_kb"), why);
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

    private static void ok(JsonNode response) {
        assertNull(response.get("error"), response.toString());
    }

    private static JsonNode call(Path control, String method, String params) throws IOException {
        try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            ch.connect(UnixDomainSocketAddress.of(control));
            ByteBuffer out = ByteBuffer.wrap(("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"" + method + "\",\"params\":"
                    + params + "}\n").getBytes(StandardCharsets.UTF_8));
            while (out.hasRemaining()) {
                ch.write(out);
            }
            ByteArrayOutputStream line = new ByteArrayOutputStream();
            ByteBuffer in = ByteBuffer.allocate(1);
            while (ch.read(in.clear()) > 0 && in.get(0) != '\n') {
                line.write(in.get(0));
            }
            return JSON.readTree(line.toByteArray());
        }
    }
}

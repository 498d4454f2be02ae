package dev.vhostd.daemon.guest;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.HexFormat;
import java.util.Random;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Proves the guest harness against qemu-storage-daemon, the reference vhost-user-blk back end: a real
 * Linux guest sees the exported geometry and queues, fio's verified random writes succeed, and
 * write-zeroes reaches the image file. The same scripts then hold vhostd to the same standard.
 */
class GuestHarnessQsdTest {
    private static final long DISK_BYTES = 64L << 20;
    private static final long MIB = 1L << 20;

    @TempDir
    Path dir;

    @BeforeAll
    static void buildImage() {
        GuestVm.prepare();
    }

    @Test
    void guestSeesTheExportedGeometryAndQueues() throws IOException {
        Path image = newImage();
        try (QemuStorageDaemon qsd = QemuStorageDaemon.start(dir.resolve("vhost.sock"),
                new QemuStorageDaemon.Backend.File(image), 2, 4096)) {
            GuestResult r = GuestVm.run(qsd.socket(), """
                    b=/sys/block/vda
                    echo "RESULT sectors=$(cat $b/size) lbs=$(cat $b/queue/logical_block_size) \
                    queues=$(ls $b/mq | wc -l) ro=$(cat $b/ro)"
                    # Not 0: shows the runner reports the script's own exit code.
                    exit 42
                    """, GuestVm.Options.defaults().withQueues(2).withTimeout(Duration.ofSeconds(90)));

            assertEquals(42, r.exitCode(), r::describe);
            // /sys/block/*/size counts 512-byte sectors whatever the logical block size.
            assertEquals(DISK_BYTES / 512, r.resultLong("sectors"), r::describe);
            assertEquals(4096, r.resultLong("lbs"), r::describe);
            assertEquals(2, r.resultLong("queues"), r::describe);
            assertEquals(0, r.resultLong("ro"), r::describe);
        }
    }

    @Test
    void verifiedRandomWritesAndWriteZeroesReachTheImage() throws IOException {
        Path image = newImage();
        // A region the host fills and the guest hashes: proves /dev/vda is this file.
        byte[] hostData = new byte[(int) MIB];
        new Random(7).nextBytes(hostData);
        writeAt(image, 40 * MIB, hostData);

        try (QemuStorageDaemon qsd = QemuStorageDaemon.start(dir.resolve("vhost.sock"),
                new QemuStorageDaemon.Backend.File(image), 1)) {
            GuestResult r = GuestVm.run(qsd.socket(), """
                    fio --name=verify --filename=/dev/vda --direct=1 --ioengine=libaio --rw=randwrite \
                        --bssplit=4k/50:16k/30:64k/20 --iodepth=8 --size=16M \
                        --verify=crc32c --verify_fatal=1 --do_verify=1 \
                        --minimal --terse-version=3 >/tmp/fio.out 2>/tmp/fio.err
                    fio_rc=$?
                    cat /tmp/fio.err
                    # terse v3: field 5 is the error, 6 KiB read (the verify pass), 47 KiB written.
                    echo "RESULT fio_rc=$fio_rc fio_error=$(cut -d';' -f5 /tmp/fio.out) \
                    read_kib=$(cut -d';' -f6 /tmp/fio.out) written_kib=$(cut -d';' -f47 /tmp/fio.out)"

                    host=$(dd if=/dev/vda bs=1M skip=40 count=1 iflag=direct 2>/dev/null | sha256sum | cut -d' ' -f1)
                    echo "RESULT host_region_sha256=$host"

                    # 2 MiB of noise at 32 MiB, then zero the first of them (util-linux: busybox's lacks -z).
                    dd if=/dev/urandom of=/dev/vda bs=1M seek=32 count=2 oflag=direct 2>/dev/null || exit 10
                    /usr/sbin/blkdiscard -z -o $((32 << 20)) -l $((1 << 20)) /dev/vda || exit 11
                    z=$(dd if=/dev/vda bs=1M skip=32 count=1 iflag=direct 2>/dev/null | tr -d '\\000' | wc -c)
                    n=$(dd if=/dev/vda bs=1M skip=33 count=1 iflag=direct 2>/dev/null | tr -d '\\000' | wc -c)
                    echo "RESULT nonzero_in_zeroed=$z nonzero_after=$n"
                    """, GuestVm.Options.defaults().withTimeout(Duration.ofSeconds(180)));

            r.requireSuccess();
            assertEquals(0, r.resultLong("fio_rc"), r::describe);
            assertEquals(0, r.resultLong("fio_error"), r::describe);
            assertEquals(16 * 1024, r.resultLong("written_kib"), r::describe);
            assertEquals(16 * 1024, r.resultLong("read_kib"), "verify pass read everything back\n" + r.describe());
            assertEquals(sha256(hostData), r.result("host_region_sha256"), r::describe);
            assertEquals(0, r.resultLong("nonzero_in_zeroed"), r::describe);
            // Random data has a zero byte 1/256 of the time; the megabyte after the range must keep its noise.
            assertTrue(r.resultLong("nonzero_after") > MIB * 9 / 10, r::describe);
        }

        // The guest's writes are in the file, not only in some cache on the way.
        assertArrayEquals(new byte[(int) MIB], readAt(image, 32 * MIB, (int) MIB), "write-zeroes range in the image");
        byte[] after = readAt(image, 33 * MIB, (int) MIB);
        int nonZero = 0;
        for (byte b : after) {
            nonZero += b != 0 ? 1 : 0;
        }
        assertTrue(nonZero > MIB * 9 / 10, "the guest's noise after the zeroed range is in the image: " + nonZero);
    }

    @Test
    void writesSurviveABackendRestartWithReconnect() throws IOException {
        Path image = newImage();
        Path socket = dir.resolve("vhost.sock");
        QemuStorageDaemon first = QemuStorageDaemon.start(socket, new QemuStorageDaemon.Backend.File(image), 1);
        try (RunningGuest guest = GuestVm.start(socket, """
                dd if=/dev/urandom of=/tmp/data bs=64k count=64 2>/dev/null
                echo "RESULT phase=writing"
                # 4 MiB at 8 MiB, a chunk every 0.25 s for ~8 s: the back end restarts in the middle.
                i=0
                while [ $i -lt 32 ]; do
                  dd if=/tmp/data of=/dev/vda bs=128k skip=$i seek=$((64 + i)) count=1 oflag=direct 2>/dev/null \
                    || echo "RESULT write_failed=$i"
                  i=$((i + 1)); sleep 0.25
                done
                want=$(sha256sum </tmp/data | cut -d' ' -f1)
                got=$(dd if=/dev/vda bs=1M skip=8 count=4 iflag=direct 2>/dev/null | sha256sum | cut -d' ' -f1)
                echo "RESULT want=$want got=$got"
                [ "$want" = "$got" ]
                """, GuestVm.Options.defaults().withReconnect(true).withTimeout(Duration.ofSeconds(150)))) {
            try {
                guest.awaitConsoleLine("RESULT phase=writing", Duration.ofSeconds(90));
                Thread.sleep(2_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError("interrupted", e);
            } finally {
                first.close();
            }
            GuestResult r;
            try (QemuStorageDaemon second = QemuStorageDaemon.start(socket,
                    new QemuStorageDaemon.Backend.File(image), 1)) {
                r = guest.await();
            }
            r.requireSuccess();
            assertEquals(r.result("want"), r.result("got"), r::describe);
            assertTrue(!r.results().containsKey("write_failed"), r::describe);
            assertEquals(r.result("want"), sha256(readAt(image, 8 * MIB, (int) (4 * MIB))), "data in the image");
        }
    }

    private Path newImage() throws IOException {
        Path image = dir.resolve("disk.img");
        try (RandomAccessFile f = new RandomAccessFile(image.toFile(), "rw")) {
            f.setLength(DISK_BYTES);
        }
        return image;
    }

    private static void writeAt(Path file, long offset, byte[] data) throws IOException {
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
            f.seek(offset);
            f.write(data);
        }
    }

    private static byte[] readAt(Path file, long offset, int length) throws IOException {
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "r")) {
            byte[] data = new byte[length];
            f.seek(offset);
            f.readFully(data);
            return data;
        }
    }

    private static String sha256(byte[] data) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(data));
        } catch (NoSuchAlgorithmException e) {
            throw new AssertionError("SHA-256 is a required JDK algorithm", e);
        }
    }
}

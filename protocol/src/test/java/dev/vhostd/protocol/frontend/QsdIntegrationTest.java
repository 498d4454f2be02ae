package dev.vhostd.protocol.frontend;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The front-end against qemu-storage-daemon, the reference vhost-user-blk back-end (Debian qemu-system-common). */
class QsdIntegrationTest {
    private static final long SIZE = 64L << 20;

    @TempDir
    Path dir;

    @Test
    void negotiatesAndReadsZeroesFromNullDisk() throws Exception {
        try (QsdProcess qsd = QsdProcess.nullDisk(dir, SIZE, 2);
                VhostUserBlkFrontend dev = VhostUserBlkFrontend.open(qsd.socket(),
                        new VhostUserBlkFrontend.Options(2, 64, true, 1 << 20))) {
            assertEquals(SIZE, dev.capacityBytes());
            assertEquals(2, dev.backendQueues());
            assertTrue(FeatureBits.has(dev.features(), FeatureBits.RING_EVENT_IDX));
            assertTrue((dev.protocolFeatures() & (1L << FeatureBits.PROTOCOL_REPLY_ACK)) != 0);
            assertEquals(qsd.pid(), dev.connection().peerPid());
            for (int q = 0; q < 2; q++) {
                try (BlockIo io = new BlockIo(dev, q, 4096)) {
                    io.data().fill((byte) 0x5A);
                    assertEquals(VirtioBlkSpec.S_OK, io.read(8 * 100, 4096));
                    assertEquals(4097, io.lastWrittenLength(), "data plus status byte");
                    assertEquals(-1, io.data().asByteBuffer().mismatch(java.nio.ByteBuffer.allocate(4096)),
                            "null-co with read-zeroes=on returns zeroes");
                }
            }
            // Each queue saw exactly one request: GET_VRING_BASE reports where the back-end stopped.
            assertEquals(1, dev.stopQueues()[0]);
        }
    }

    @Test
    void writesAPatternAndReadsItBackFromAFile() throws Exception {
        Path image = dir.resolve("disk.img");
        try (var ch = java.nio.channels.FileChannel.open(image, java.nio.file.StandardOpenOption.CREATE_NEW,
                java.nio.file.StandardOpenOption.WRITE)) {
            ch.truncate(SIZE);
            ch.write(java.nio.ByteBuffer.wrap(new byte[] {1}), SIZE - 1);
        }
        try (QsdProcess qsd = QsdProcess.fileDisk(dir, image, 1);
                VhostUserBlkFrontend dev = VhostUserBlkFrontend.open(qsd.socket(),
                        new VhostUserBlkFrontend.Options(1, 16, false, 1 << 20));
                BlockIo io = new BlockIo(dev, 0, 8192)) {
            assertEquals(SIZE, dev.capacityBytes());
            long[] sectors = {0, 16, 12345, SIZE / 512 - 16};
            for (long s : sectors) {
                fill(io.data(), s);
                assertEquals(VirtioBlkSpec.S_OK, io.write(s, 8192), qsd.log());
            }
            for (long s : sectors) {
                io.data().fill((byte) 0);
                assertEquals(VirtioBlkSpec.S_OK, io.read(s, 8192));
                for (long w = 0; w < 8192 / 8; w++) {
                    assertEquals(s * 1_000_003L + w, io.data().get(JAVA_LONG, w * 8), "sector " + s + " word " + w);
                }
            }
            assertEquals(VirtioBlkSpec.S_OK, io.flush());
            // A read past the end fails with IOERR instead of breaking the device.
            assertEquals(VirtioBlkSpec.S_IOERR, io.read(SIZE / 512, 4096));
            // GET_ID returns the serial (up to 20 bytes) in the data buffer.
            assertEquals(VirtioBlkSpec.S_OK, io.request(VirtioBlkSpec.T_GET_ID, 0, 20, 5_000));
        }
        try (var ch = java.nio.channels.FileChannel.open(image)) {
            java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(8).order(java.nio.ByteOrder.LITTLE_ENDIAN);
            ch.read(b, 12345 * 512L + 8);
            assertEquals(12345 * 1_000_003L + 1, b.getLong(0), "the data reached the file");
        }
        assertTrue(Files.size(image) == SIZE);
    }

    private static void fill(MemorySegment data, long sector) {
        for (long w = 0; w < data.byteSize() / 8; w++) {
            data.set(JAVA_LONG, w * 8, sector * 1_000_003L + w);
        }
    }
}

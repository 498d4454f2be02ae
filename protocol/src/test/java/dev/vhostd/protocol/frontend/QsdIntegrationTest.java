package dev.vhostd.protocol.frontend;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;

import dev.vhostd.sys.EventFd;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
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
            Io io = new Io(dev, 4096);
            for (int q = 0; q < 2; q++) {
                io.data.fill((byte) 0x5A);
                assertEquals(VirtioBlkSpec.S_OK, io.run(q, VirtioBlkSpec.T_IN, 8 * 100));
                assertEquals(-1, io.data.asByteBuffer().mismatch(java.nio.ByteBuffer.allocate(4096)),
                        "null-co with read-zeroes=on returns zeroes");
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
                        new VhostUserBlkFrontend.Options(1, 16, false, 1 << 20))) {
            assertEquals(SIZE, dev.capacityBytes());
            Io io = new Io(dev, 8192);
            long[] sectors = {0, 16, 12345, SIZE / 512 - 16};
            for (long s : sectors) {
                fill(io.data, s);
                assertEquals(VirtioBlkSpec.S_OK, io.run(0, VirtioBlkSpec.T_OUT, s), qsd.log());
            }
            for (long s : sectors) {
                io.data.fill((byte) 0);
                assertEquals(VirtioBlkSpec.S_OK, io.run(0, VirtioBlkSpec.T_IN, s));
                for (long w = 0; w < io.data.byteSize() / 8; w++) {
                    assertEquals(s * 1_000_003L + w, io.data.get(JAVA_LONG, w * 8), "sector " + s + " word " + w);
                }
            }
            assertEquals(VirtioBlkSpec.S_OK, io.run(0, VirtioBlkSpec.T_FLUSH, 0));
            // A read past the end fails with IOERR instead of breaking the device.
            assertEquals(VirtioBlkSpec.S_IOERR, io.run(0, VirtioBlkSpec.T_IN, SIZE / 512));
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

    /** One synchronous request at a time: header, data, status; waits on the call eventfd. */
    private static final class Io {
        final VhostUserBlkFrontend dev;
        final GuestBuffer header;
        final GuestBuffer dataBuf;
        final GuestBuffer status;
        final MemorySegment data;
        final BufferChain chain = new BufferChain(3);
        final EventFd events = new EventFd();
        int completedHead = -1;

        Io(VhostUserBlkFrontend dev, int size) {
            this.dev = dev;
            header = dev.ram().allocate(16, 16);
            dataBuf = dev.ram().allocate(size, 4096);
            status = dev.ram().allocate(1, 1);
            data = dataBuf.segment();
        }

        int run(int q, int type, long sector) throws InterruptedException {
            header.segment().set(JAVA_INT, 0, type);
            header.segment().set(JAVA_INT, 4, 0);
            header.segment().set(JAVA_LONG, 8, sector);
            status.segment().set(JAVA_BYTE, 0, (byte) 0x7F);
            chain.clear().readable(header.guestAddress(), 16);
            if (type == VirtioBlkSpec.T_OUT) {
                chain.readable(dataBuf.guestAddress(), (int) dataBuf.size());
            } else if (type == VirtioBlkSpec.T_IN) {
                chain.writable(dataBuf.guestAddress(), (int) dataBuf.size());
            }
            chain.writable(status.guestAddress(), 1);
            DriverQueue queue = dev.queue(q);
            queue.enableNotifications();
            int head = queue.add(chain);
            queue.kickIfNeeded();
            long deadline = System.nanoTime() + 5_000_000_000L;
            completedHead = -1;
            while (queue.reapUsed((h, len) -> completedHead = h) == 0) {
                if (System.nanoTime() > deadline) {
                    throw new AssertionError("no completion within 5 s on queue " + q);
                }
                events.drain(dev.callFd(q));
                Thread.sleep(1);
            }
            assertEquals(head, completedHead);
            return status.segment().get(JAVA_BYTE, 0);
        }
    }
}

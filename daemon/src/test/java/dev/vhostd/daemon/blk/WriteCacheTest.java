package dev.vhostd.daemon.blk;

import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import dev.vhostd.backend.Aio;
import dev.vhostd.backend.BackendOptions;
import dev.vhostd.backend.Backends;
import dev.vhostd.backend.BlockBackend;
import dev.vhostd.daemon.metrics.VhostdMetrics;
import dev.vhostd.protocol.connection.VhostUserServer;
import dev.vhostd.protocol.engine.VhostUserEngine;
import dev.vhostd.protocol.frontend.BlockIo;
import dev.vhostd.protocol.frontend.BufferChain;
import dev.vhostd.protocol.frontend.DriverQueue;
import dev.vhostd.protocol.frontend.FeatureBits;
import dev.vhostd.protocol.frontend.GuestBuffer;
import dev.vhostd.protocol.frontend.VhostUserBlkFrontend;
import dev.vhostd.protocol.frontend.VirtioBlkSpec;
import dev.vhostd.protocol.poll.PollerGroup;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * virtio-blk write-cache semantics (virtio 1.2 5.2.5) over a file with a page cache, with the
 * backend's fdatasync counter as the witness: a write the driver may believe stable is completed
 * only after an fdatasync that covers it, one fdatasync serves a whole batch, and what one driver
 * set does not carry into the next session.
 */
class WriteCacheTest {
    private static final long FLUSH = FeatureBits.bit(VirtioBlkSpec.F_FLUSH);
    private static final long WCE = FeatureBits.bit(VirtioBlkSpec.F_CONFIG_WCE);
    private static final long BASE = VhostUserBlkFrontend.Options.DEFAULT_BLK_FEATURES & ~FLUSH;

    @TempDir
    Path dir;

    private BlockBackend backend;
    private PollerGroup pollers;
    private VhostUserServer server;
    private Thread serving;
    private Path sock;

    void start(Aio aio) throws Exception {
        backend = Backends.open("file:" + dir.resolve("disk.img"),
                new BackendOptions(16 << 20, false, false, 0, aio, 256));
        VirtioBlkDevice device = new VirtioBlkDevice(backend, new BlkOptions(1, 256, "wc", false),
                VhostdMetrics.disabled().device("wc"));
        pollers = new PollerGroup("wc", 1, 0);
        sock = dir.resolve("wc.sock");
        server = VhostUserServer.bind(sock);
        serving = Thread.ofPlatform().name("wc-serve").start(
                () -> server.serve(() -> new VhostUserEngine("wc", device, pollers, null, null)));
    }

    @AfterEach
    void stop() throws Exception {
        if (server != null) {
            server.close();
            serving.join(10_000);
        }
        if (pollers != null) {
            pollers.close();
        }
        if (backend != null) {
            backend.close();
        }
    }

    private VhostUserBlkFrontend open(long blkFeatures) throws Exception {
        return VhostUserBlkFrontend.open(sock, new VhostUserBlkFrontend.Options(1, 256, true, 4 << 20, blkFeatures));
    }

    private static int writeback(VhostUserBlkFrontend dev) throws Exception {
        return dev.connection().getConfig(VirtioBlkSpec.CONFIG_WRITEBACK, 1).data()[0];
    }

    /** Writes one block and returns how many fdatasyncs completed before its completion was seen. */
    private long syncsForOneWrite(BlockIo io, long sector) {
        long before = backend.dataSyncs();
        io.data().set(JAVA_LONG, 0, sector);
        assertEquals(VirtioBlkSpec.S_OK, io.write(sector, 4096));
        return backend.dataSyncs() - before;
    }

    @ParameterizedTest
    @EnumSource(value = Aio.class, names = {"SYNC", "IO_URING"})
    void withNeitherFlushNorWceEveryWriteIsStableBeforeItCompletes(Aio aio) throws Exception {
        start(aio);
        try (VhostUserBlkFrontend dev = open(BASE); BlockIo io = new BlockIo(dev, 0, 4096)) {
            assertEquals(0, dev.features() & (FLUSH | WCE));
            for (int i = 0; i < 20; i++) {
                assertTrue(syncsForOneWrite(io, i * 8L) >= 1, "write " + i + " completed before any fdatasync");
            }
        }
    }

    @Test
    void writeThroughSyncsOncePerBatchNotOncePerWrite() throws Exception {
        start(Aio.SYNC);
        int n = 64;
        try (VhostUserBlkFrontend dev = open(BASE)) {
            DriverQueue q = dev.queue(0);
            BufferChain chain = new BufferChain(3);
            List<GuestBuffer> status = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                GuestBuffer h = dev.ram().allocate(VirtioBlkSpec.HEADER_SIZE, 16);
                GuestBuffer d = dev.ram().allocate(4096, 4096);
                GuestBuffer s = dev.ram().allocate(1, 1);
                MemorySegment hs = h.segment();
                hs.set(JAVA_INT, 0, VirtioBlkSpec.T_OUT);
                hs.set(JAVA_LONG, 8, i * 8L);
                s.segment().set(JAVA_BYTE, 0, (byte) 0xFF);
                status.add(s);
                chain.clear().readable(h.guestAddress(), VirtioBlkSpec.HEADER_SIZE).readable(d.guestAddress(), 4096)
                        .writable(s.guestAddress(), 1);
                assertTrue(q.add(chain) >= 0);
            }
            long before = backend.dataSyncs();
            q.kickIfNeeded(); // one avail idx store: the device sees all of them at once
            int done = 0;
            long deadline = System.nanoTime() + 30_000_000_000L;
            while (done < n) {
                assertTrue(System.nanoTime() < deadline, done + " of " + n + " writes completed");
                done += q.reapUsed((head, len) -> { });
                Thread.onSpinWait();
            }
            long syncs = backend.dataSyncs() - before;
            assertTrue(syncs >= 1 && syncs <= 4, syncs + " fdatasyncs for " + n + " writes submitted together");
            for (GuestBuffer s : status) {
                assertEquals(VirtioBlkSpec.S_OK, s.segment().get(JAVA_BYTE, 0));
            }
        }
    }

    @Test
    void wceWithoutFlushStartsWriteThroughAndTheDriverMayTurnWritebackOn() throws Exception {
        start(Aio.SYNC);
        try (VhostUserBlkFrontend dev = open(BASE | WCE); BlockIo io = new BlockIo(dev, 0, 4096)) {
            assertEquals(WCE, dev.features() & (FLUSH | WCE));
            assertEquals(0, writeback(dev), "5.2.5.2: writeback must start at 0 when FLUSH is not negotiated");
            assertTrue(syncsForOneWrite(io, 0) >= 1);
            dev.connection().setConfig(VirtioBlkSpec.CONFIG_WRITEBACK, new byte[] {1});
            assertEquals(1, writeback(dev));
            assertEquals(0, syncsForOneWrite(io, 8), "writeback mode: no fdatasync per write");
        }
    }

    @Test
    void flushWithoutWceIsWritebackWithoutPerWriteSyncs() throws Exception {
        start(Aio.SYNC);
        try (VhostUserBlkFrontend dev = open(BASE | FLUSH); BlockIo io = new BlockIo(dev, 0, 4096)) {
            assertEquals(1, writeback(dev));
            for (int i = 0; i < 10; i++) {
                assertEquals(0, syncsForOneWrite(io, i * 8L));
            }
            long before = backend.dataSyncs();
            assertEquals(VirtioBlkSpec.S_OK, io.flush());
            assertEquals(1, backend.dataSyncs() - before, "a FLUSH request is one fdatasync");
        }
    }

    @Test
    void theWritebackByteADriverSetDoesNotSurviveIntoTheNextSession() throws Exception {
        start(Aio.SYNC);
        try (VhostUserBlkFrontend dev = open(BASE | FLUSH | WCE); BlockIo io = new BlockIo(dev, 0, 4096)) {
            assertEquals(1, writeback(dev));
            assertEquals(0, syncsForOneWrite(io, 0));
            dev.connection().setConfig(VirtioBlkSpec.CONFIG_WRITEBACK, new byte[] {0});
            assertEquals(0, writeback(dev));
            assertTrue(syncsForOneWrite(io, 8) >= 1, "write-through after the driver cleared writeback");
        }
        try (VhostUserBlkFrontend dev = open(BASE | FLUSH | WCE); BlockIo io = new BlockIo(dev, 0, 4096)) {
            assertEquals(1, writeback(dev), "a new session starts with the device's default");
            assertEquals(0, syncsForOneWrite(io, 16));
            dev.connection().setConfig(VirtioBlkSpec.CONFIG_WRITEBACK, new byte[] {0});
            assertEquals(0, writeback(dev));
            dev.connection().resetDevice();
            assertEquals(1, writeback(dev), "RESET_DEVICE returns the writeback byte to its default");
        }
    }
}

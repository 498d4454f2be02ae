package dev.vhostd.daemon.blk;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.newsclub.net.unix.AFUNIXSocketChannel;
import org.newsclub.net.unix.AFUNIXSocketPair;
import org.newsclub.net.unix.FileDescriptorCast;

import dev.vhostd.backend.BackendOptions;
import dev.vhostd.backend.Backends;
import dev.vhostd.backend.BlockBackend;
import dev.vhostd.daemon.metrics.DeviceMetrics;
import dev.vhostd.daemon.metrics.VhostdMetrics;
import dev.vhostd.protocol.connection.VhostUserServer;
import dev.vhostd.protocol.device.ConfigNotice;
import dev.vhostd.protocol.device.VirtioFeatures;
import dev.vhostd.protocol.engine.ProtocolFeatures;
import dev.vhostd.protocol.engine.VhostUserEngine;
import dev.vhostd.protocol.frontend.BlockIo;
import dev.vhostd.protocol.frontend.VhostUserBlkFrontend;
import dev.vhostd.protocol.poll.PollerGroup;
import dev.vhostd.protocol.testing.FakeFrontend;
import dev.vhostd.protocol.wire.WireFormat;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Online resize of a virtio-blk disk over a file: the capacity in config space, the
 * CONFIG_CHANGE_MSG to a front-end that reads it again, and the queues serving the new range
 * while a front-end stays attached.
 */
class VirtioBlkResizeTest {
    private static final long MIB = 1 << 20;

    @TempDir
    Path dir;
    Path socket;
    BlockBackend backend;
    VhostdMetrics registry;
    DeviceMetrics metrics;
    VirtioBlkDevice device;
    PollerGroup pollers;
    VhostUserServer server;
    Thread serving;

    @BeforeEach
    void start() throws IOException {
        socket = dir.resolve("vda.sock");
        backend = Backends.open("file:" + dir.resolve("disk.img"), BackendOptions.defaults().withSize(8 * MIB));
        registry = VhostdMetrics.enabled();
        metrics = registry.device("vda");
        device = new VirtioBlkDevice(backend, new BlkOptions(1, 256, "resize", false), metrics);
        pollers = new PollerGroup("test", 1, 20);
        server = VhostUserServer.bind(socket);
        serving = Thread.ofPlatform().name("serve").start(
                () -> server.serve(() -> new VhostUserEngine("vda", device, pollers, null, null)));
    }

    @AfterEach
    void stop() throws InterruptedException {
        server.close();
        serving.join(5000);
        pollers.close();
        backend.close();
        registry.close();
    }

    private static long capacitySectors(FakeFrontend fe) throws IOException {
        byte[] cfg = fe.getConfig(0, 8).data();
        return ByteBuffer.wrap(cfg).order(ByteOrder.LITTLE_ENDIAN).getLong();
    }

    @Test
    void theFrontEndIsToldAndReadsTheNewCapacityBeforeItAcknowledges() throws Exception {
        try (AFUNIXSocketPair<AFUNIXSocketChannel> pair = AFUNIXSocketPair.open();
                FakeFrontend fe = FakeFrontend.connect(socket)) {
            fe.getFeatures();
            fe.setFeatures(VirtioFeatures.bit(VirtioFeatures.VERSION_1)
                    | VirtioFeatures.bit(VirtioFeatures.VHOST_USER_PROTOCOL_FEATURES), false);
            fe.setProtocolFeatures((1L << ProtocolFeatures.REPLY_ACK) | (1L << ProtocolFeatures.BACKEND_REQ)
                    | (1L << ProtocolFeatures.CONFIG), false);
            int end = FileDescriptorCast.using(pair.getSocket2().getFileDescriptor()).as(Integer.class);
            assertEquals(0, fe.setBackendReqFd(end, true).getAsLong());
            assertEquals(8 * MIB / 512, capacitySectors(fe));

            CompletableFuture<Resized> resize = CompletableFuture.supplyAsync(() -> {
                try {
                    return device.resize(24 * MIB);
                } catch (IOException e) {
                    throw new IllegalStateException(e);
                }
            });
            pair.getSocket1().socket().setSoTimeout(10_000);
            InputStream in = pair.getSocket1().socket().getInputStream();
            OutputStream out = pair.getSocket1().socket().getOutputStream();
            ByteBuffer h = ByteBuffer.wrap(in.readNBytes(12)).order(ByteOrder.LITTLE_ENDIAN);
            assertEquals(WireFormat.BACKEND_CONFIG_CHANGE_MSG, h.getInt(0));
            assertEquals(24 * MIB / 512, capacitySectors(fe), "the new capacity is in config space when the message"
                    + " arrives");
            out.write(ByteBuffer.allocate(20).order(ByteOrder.LITTLE_ENDIAN).putInt(WireFormat.BACKEND_CONFIG_CHANGE_MSG)
                    .putInt(WireFormat.VERSION | WireFormat.FLAG_REPLY).putInt(8).putLong(0).array());
            Resized r = resize.get(10, TimeUnit.SECONDS);
            assertEquals(8 * MIB, r.before());
            assertEquals(24 * MIB, r.after());
            assertEquals(ConfigNotice.Outcome.ACKNOWLEDGED, r.notice().outcome(), r.notice().detail());
            assertEquals(24 * MIB, metrics.capacityBytes());
            assertEquals(24 * MIB, Files.size(dir.resolve("disk.img")));
        }
    }

    @Test
    void aRunningQueueServesTheNewRangeAndRefusedItBefore() throws Exception {
        try (VhostUserBlkFrontend fe = VhostUserBlkFrontend.open(socket,
                new VhostUserBlkFrontend.Options(1, 64, true, 1 << 20));
                BlockIo io = new BlockIo(fe, 0, 65536)) {
            long beyond = 8 * MIB / 512 + 8; // sectors past the old end
            io.data().fill((byte) 0x5C);
            assertEquals(1, io.write(beyond, 4096), "IOERR past the end before the resize");
            Resized r = device.resize(16 * MIB);
            assertTrue(r.changed());
            // This front-end (like vhostd bench) offers no back-end channel: it is reported, not waited on.
            assertEquals(ConfigNotice.Outcome.NOT_SUPPORTED, r.notice().outcome(), r.notice().detail());
            assertEquals(0, io.write(beyond, 4096), "the same write succeeds after the resize");
            io.data().fill((byte) 0);
            assertEquals(0, io.read(beyond, 4096));
            assertEquals((byte) 0x5C, io.data().get(java.lang.foreign.ValueLayout.JAVA_BYTE, 4095));
            assertEquals(1, io.read(16 * MIB / 512, 512), "IOERR past the new end");
            assertEquals(16 * MIB / 512, fe.connection().getConfig(0, 8).u64(0));
        }
    }

    @Test
    void shrinkingAndUnchangedSizesTellNobody() throws Exception {
        assertThrows(IllegalArgumentException.class, () -> device.resize(4 * MIB));
        Resized same = device.resize(0);
        assertEquals(8 * MIB, same.after());
        assertNull(same.notice(), "no change, no message");
        Resized grown = device.resize(10 * MIB);
        assertEquals(ConfigNotice.Outcome.NO_FRONTEND, grown.notice().outcome());
        assertEquals(10 * MIB / 512, ByteBuffer.wrap(device.readConfig(0, 8)).order(ByteOrder.LITTLE_ENDIAN).getLong());
    }
}

package dev.vhostd.protocol.engine;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.logging.Handler;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.vhostd.protocol.connection.VhostUserServer;
import dev.vhostd.protocol.device.VirtioFeatures;
import dev.vhostd.protocol.poll.PollerGroup;
import dev.vhostd.protocol.testing.FakeFrontend;
import dev.vhostd.protocol.wire.Message;
import dev.vhostd.sys.EventFd;
import dev.vhostd.sys.Libc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * QEMU with private guest RAM has no memory fd to hand over: rings arrive before any memory table,
 * or a region's fd cannot be mapped shared and writable. The log must name the likely cause and its
 * fix (share=on), not only the symptom.
 */
class SharedMemoryHintTest {
    private static final long FEATURES = VirtioFeatures.bit(VirtioFeatures.VERSION_1)
            | VirtioFeatures.bit(VirtioFeatures.VHOST_USER_PROTOCOL_FEATURES) | EchoDevice.FEATURE_ECHO;

    @TempDir
    Path dir;
    PollerGroup pollers;
    VhostUserServer server;
    Thread serving;
    Path socket;
    final ConcurrentLinkedQueue<String> logged = new ConcurrentLinkedQueue<>();
    final Handler capture = new Handler() {
        @Override
        public void publish(LogRecord r) {
            logged.add(r.getLevel() + " " + new java.util.logging.SimpleFormatter().formatMessage(r));
        }

        @Override
        public void flush() {}

        @Override
        public void close() {}
    };

    @BeforeEach
    void start() throws IOException {
        Logger.getLogger("").addHandler(capture);
        socket = dir.resolve("m.sock");
        pollers = new PollerGroup("hint", 1, 0);
        server = VhostUserServer.bind(socket);
        serving = Thread.ofPlatform().name("serve").start(
                () -> server.serve(() -> new VhostUserEngine("hint", new EchoDevice(), pollers, null, null)));
    }

    @AfterEach
    void stop() throws InterruptedException {
        server.close();
        serving.join(5000);
        pollers.close();
        Logger.getLogger("").removeHandler(capture);
    }

    private static void negotiate(FakeFrontend fe) throws IOException {
        fe.getFeatures();
        fe.setFeatures(FEATURES, false);
        fe.setProtocolFeatures(fe.getProtocolFeatures(), false);
        fe.setOwner(true);
    }

    private boolean loggedWith(String... parts) {
        return logged.stream().anyMatch(l -> List.of(parts).stream().allMatch(l::contains));
    }

    @Test
    void ringsBeforeAnyMemoryTableNameShareOn() throws Exception {
        int kick = EventFd.create();
        try (FakeFrontend fe = FakeFrontend.connect(socket)) {
            negotiate(fe);
            assertEquals(0, fe.setVringNum(0, 64, true).getAsLong());
            assertEquals(0, fe.setVringAddr(0, 0, 0x1000, 0x3000, 0x2000, 0, true).getAsLong());
            assertTrue(loggedWith("WARNING", "SET_VRING_ADDR before any SET_MEM_TABLE", "share=on"), logged.toString());
            fe.setVringEnable(0, true, true);
            assertNotEquals(0, fe.setVringKick(0, kick, true).getAsLong(), "the ring cannot start without memory");
            assertTrue(loggedWith("cannot start before SET_MEM_TABLE", "share=on"), logged.toString());
        } finally {
            Libc.close(kick);
        }
    }

    @Test
    void aRegionFdThatCannotBeMappedSharedNamesShareOn() throws Exception {
        Path file = dir.resolve("ram");
        Files.write(file, new byte[1 << 16]);
        // Read-only: mmap(PROT_READ|PROT_WRITE, MAP_SHARED) of it fails with EACCES.
        int fd = Libc.open(file.toString(), Libc.O_RDONLY | Libc.O_CLOEXEC, 0);
        try (FakeFrontend fe = FakeFrontend.connect(socket)) {
            negotiate(fe);
            long status = fe.setMemTable(List.of(new Message.MemoryRegion(0, 1 << 16, 0x7f00_0000_0000L, 0)),
                    new int[] {fd}, true).getAsLong();
            assertNotEquals(0, status);
            assertTrue(loggedWith("memory table refused", "mmap", "share=on"), logged.toString());
        } finally {
            Libc.close(fd);
        }
    }
}

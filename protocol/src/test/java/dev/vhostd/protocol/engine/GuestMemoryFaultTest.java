package dev.vhostd.protocol.engine;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.logging.Handler;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.vhostd.protocol.connection.VhostUserServer;
import dev.vhostd.protocol.device.VirtioFeatures;
import dev.vhostd.protocol.poll.Liveness;
import dev.vhostd.protocol.poll.PollerGroup;
import dev.vhostd.protocol.testing.FakeDriver;
import dev.vhostd.protocol.testing.FakeDriverQueue;
import dev.vhostd.protocol.testing.FakeFrontend;
import dev.vhostd.protocol.virtq.InflightLog;
import dev.vhostd.sys.Epoll;
import dev.vhostd.sys.ErrnoException;
import dev.vhostd.sys.EventFd;
import dev.vhostd.sys.Libc;
import dev.vhostd.sys.MemFd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A front-end that shrinks shared memory under vhostd's mappings (issue 10 item 1): the access that
 * faults costs that session only; the poller survives and the next front-end is served.
 */
class GuestMemoryFaultTest {
    private static final long FEATURES = VirtioFeatures.bit(VirtioFeatures.VERSION_1)
            | VirtioFeatures.bit(VirtioFeatures.RING_EVENT_IDX)
            | VirtioFeatures.bit(VirtioFeatures.VHOST_USER_PROTOCOL_FEATURES) | EchoDevice.FEATURE_ECHO;
    private static final long MIB = 1 << 20;

    @TempDir
    Path dir;
    Path socket;
    EchoDevice device;
    PollerGroup pollers;
    VhostUserServer server;
    Thread serving;
    int kick;
    int call;
    final List<LogRecord> logged = new CopyOnWriteArrayList<>();
    final Handler capture = new Handler() {
        @Override
        public void publish(LogRecord r) {
            logged.add(r);
        }

        @Override
        public void flush() {}

        @Override
        public void close() {}
    };

    @BeforeEach
    void start() throws IOException {
        Logger.getLogger("dev.vhostd").addHandler(capture);
        socket = dir.resolve("fault.sock");
        device = new EchoDevice();
        // One poller: the session after the fault runs on the very thread that took it.
        pollers = new PollerGroup("fault", 1, 20);
        server = VhostUserServer.bind(socket);
        serving = Thread.ofPlatform().name("serve").start(
                () -> server.serve(() -> new VhostUserEngine("echo", device, pollers, null, null)));
        kick = EventFd.create();
        call = EventFd.create();
    }

    @AfterEach
    void stop() throws InterruptedException {
        Logger.getLogger("dev.vhostd").removeHandler(capture);
        server.close();
        serving.join(5000);
        pollers.close();
        Libc.close(kick);
        Libc.close(call);
    }

    private static void negotiate(FakeFrontend fe) throws IOException {
        fe.getFeatures();
        fe.setFeatures(FEATURES, false);
        fe.setProtocolFeatures(fe.getProtocolFeatures(), false);
        fe.setOwner(true);
    }

    private void startRing(FakeFrontend fe, FakeDriverQueue q) throws IOException {
        assertEquals(0, fe.setVringNum(0, q.size(), true).getAsLong());
        assertEquals(0, fe.setVringAddr(0, 0, q.descUserAddr(), q.usedUserAddr(), q.availUserAddr(), 0, true)
                .getAsLong());
        assertEquals(0, fe.setVringBase(0, 0, true).getAsLong());
        assertEquals(0, fe.setVringCall(0, call, true).getAsLong());
        assertEquals(0, fe.setVringKick(0, kick, true).getAsLong());
        assertEquals(0, fe.setVringEnable(0, true, true).getAsLong());
    }

    private static FakeDriverQueue.Used awaitUsed(FakeDriverQueue q, int callFd) {
        EventFd ev = new EventFd();
        try (Epoll ep = new Epoll(1)) {
            ep.add(callFd, Epoll.EPOLLIN, 0);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (System.nanoTime() < deadline) {
                FakeDriverQueue.Used u = q.pollUsed();
                if (u != null) {
                    return u;
                }
                if (ep.await(100) > 0) {
                    ev.drain(callFd);
                }
            }
        }
        throw new AssertionError("no used entry within 10 s on " + q);
    }

    /** A full session with fresh guest memory: proves the daemon (and its poller) still serves. */
    private void nextFrontEndIsServed() throws IOException {
        try (FakeDriver driver = new FakeDriver(MIB); FakeFrontend fe = FakeFrontend.connect(socket)) {
            negotiate(fe);
            assertEquals(0, fe.setMemTable(driver.memoryRegions(), new int[] {driver.fd(0)}, true).getAsLong());
            FakeDriverQueue q = driver.addQueue(16);
            startRing(fe, q);
            FakeDriver.Buffer in = driver.buffer(4);
            FakeDriver.Buffer out = driver.buffer(4);
            driver.write(in.gpa(), new byte[] {1, 2, 3, 4});
            int head = q.addChain(List.of(in), List.of(out), false);
            new EventFd().signal(kick);
            assertEquals(head, awaitUsed(q, call).head());
            assertEquals(List.of((byte) 2, (byte) 3, (byte) 4, (byte) 5),
                    List.of(box(driver.read(out.gpa(), 4))));
        }
        for (Liveness p : pollers.liveness()) {
            assertNotEquals(Long.MAX_VALUE, p.stalledNanos(System.nanoTime()), p.name() + " died");
        }
    }

    private static Byte[] box(byte[] b) {
        Byte[] out = new Byte[b.length];
        for (int i = 0; i < b.length; i++) {
            out[i] = b[i];
        }
        return out;
    }

    private boolean loggedError(String... parts) {
        return messages().stream().anyMatch(m -> {
            for (String p : parts) {
                if (m == null || !m.contains(p)) {
                    return false;
                }
            }
            return true;
        });
    }

    private List<String> messages() {
        return logged.stream().map(r -> r.getParameters() == null ? r.getMessage()
                : java.text.MessageFormat.format(r.getMessage(), r.getParameters())).toList();
    }

    @Test
    void guestMemoryTruncatedAfterSetMemTableFailsOnlyThatSession() throws Exception {
        try (FakeDriver driver = new FakeDriver(MIB)) {
            try (FakeFrontend fe = FakeFrontend.connect(socket)) {
                negotiate(fe);
                assertEquals(0, fe.setMemTable(driver.memoryRegions(), new int[] {driver.fd(0)}, true).getAsLong());
                FakeDriverQueue q = driver.addQueue(16);
                startRing(fe, q);
                // One request works; then the front-end cuts off the upper half of guest RAM, where the
                // next request's buffer lies (rings and descriptors stay in the lower half).
                FakeDriver.Buffer in = driver.buffer(4);
                FakeDriver.Buffer out = driver.buffer(4);
                q.addChain(List.of(in), List.of(out), false);
                new EventFd().signal(kick);
                awaitUsed(q, call);
                Libc.ftruncate(driver.fd(0), MIB / 2);
                FakeDriver.Buffer lost = FakeDriver.bufferAt(MIB / 2 + 4096, 64);
                q.addChain(List.of(lost), List.of(out), false);
                new EventFd().signal(kick);
                assertTrue(fe.awaitClosedByPeer(), "the session whose memory faulted is closed");
            }
            assertTrue(loggedError("memory faulted", "gpa 0x0", "now holds 524288 bytes"),
                    "the log names the region that shrank: " + messages());
        }
        nextFrontEndIsServed();
    }

    @Test
    void theInflightAreaVhostdHandsOutCannotBeResized() throws Exception {
        try (FakeFrontend fe = FakeFrontend.connect(socket)) {
            negotiate(fe);
            FakeFrontend.Inflight area = fe.getInflightFd(1, 16);
            try {
                assertTrue(area.fd() >= 0);
                ErrnoException e = assertThrows(ErrnoException.class, () -> Libc.ftruncate(area.fd(), 0));
                assertEquals(1, e.errno(), "EPERM: the size is sealed");
                assertThrows(ErrnoException.class, () -> Libc.ftruncate(area.fd(), 1 << 20));
                assertEquals(Libc.F_SEAL_SHRINK | Libc.F_SEAL_GROW | Libc.F_SEAL_SEAL,
                        MemFd.seals(area.fd()) & (Libc.F_SEAL_SHRINK | Libc.F_SEAL_GROW | Libc.F_SEAL_SEAL));
            } finally {
                Libc.close(area.fd());
            }
        }
    }

    @Test
    void anInflightAreaTruncatedBeforeTheRingStartsFailsOnlyThatSession() throws Exception {
        long size = InflightLog.areaSize(16);
        int areaFd = MemFd.create("frontend-inflight", 4096 + size);
        try (FakeDriver driver = new FakeDriver(MIB)) {
            try (FakeFrontend fe = FakeFrontend.connect(socket)) {
                negotiate(fe);
                assertEquals(0, fe.setMemTable(driver.memoryRegions(), new int[] {driver.fd(0)}, true).getAsLong());
                assertEquals(0, fe.setInflightFd(size, 0, 1, 16, areaFd, true).getAsLong());
                Libc.ftruncate(areaFd, 0);
                FakeDriverQueue q = driver.addQueue(16);
                fe.setVringNum(0, 16, true);
                fe.setVringAddr(0, 0, q.descUserAddr(), q.usedUserAddr(), q.availUserAddr(), 0, true);
                fe.setVringBase(0, 0, true);
                fe.setVringCall(0, call, true);
                fe.setVringKick(0, kick, false);
                // Starting the ring reads the area: the fault ends this session.
                fe.setVringEnable(0, true, false);
                assertTrue(fe.awaitClosedByPeer(), "the session whose inflight area faulted is closed");
            }
            assertTrue(loggedError("inflight area", "now holds 0 bytes"),
                    "the log names the inflight area: " + messages());
        } finally {
            Libc.close(areaFd);
        }
        nextFrontEndIsServed();
    }
}

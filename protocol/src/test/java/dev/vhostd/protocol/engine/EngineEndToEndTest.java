package dev.vhostd.protocol.engine;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.OptionalLong;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.vhostd.protocol.connection.VhostUserServer;
import dev.vhostd.protocol.device.VirtioFeatures;
import dev.vhostd.protocol.poll.Poller;
import dev.vhostd.protocol.poll.PollerGroup;
import dev.vhostd.protocol.testing.FakeDriver;
import dev.vhostd.protocol.testing.FakeDriverQueue;
import dev.vhostd.protocol.testing.FakeFrontend;
import dev.vhostd.protocol.virtq.InflightLog;
import dev.vhostd.protocol.wire.Reply;
import dev.vhostd.sys.Epoll;
import dev.vhostd.sys.EventFd;
import dev.vhostd.sys.Libc;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The whole back-end stack in process: a fake front-end over a real socket with real fd passing,
 * guest RAM in two memfd regions, the engine, pollers and a trivial echo device.
 */
class EngineEndToEndTest {
    private static final long FEATURES = VirtioFeatures.bit(VirtioFeatures.VERSION_1)
            | VirtioFeatures.bit(VirtioFeatures.RING_EVENT_IDX)
            | VirtioFeatures.bit(VirtioFeatures.VHOST_USER_PROTOCOL_FEATURES) | EchoDevice.FEATURE_ECHO;

    @TempDir
    Path dir;
    Path socket;
    EchoDevice device;
    PollerGroup pollers;
    VhostUserServer server;
    Thread serving;
    final int[] kick = new int[2];
    final int[] call = new int[2];

    @BeforeEach
    void start() throws IOException {
        socket = dir.resolve("echo.sock");
        device = new EchoDevice();
        pollers = new PollerGroup("test", 2, 20);
        server = VhostUserServer.bind(socket);
        serving = Thread.ofPlatform().name("serve").start(
                () -> server.serve(() -> new VhostUserEngine("echo", device, pollers, null, null)));
        for (int i = 0; i < 2; i++) {
            kick[i] = EventFd.create();
            call[i] = EventFd.create();
        }
    }

    @AfterEach
    void stop() throws InterruptedException {
        server.close();
        serving.join(5000);
        pollers.close();
        for (int i = 0; i < 2; i++) {
            Libc.close(kick[i]);
            Libc.close(call[i]);
        }
    }

    /** Negotiates features and protocol features the way QEMU does. */
    private static void negotiate(FakeFrontend fe) throws IOException {
        long offered = fe.getFeatures();
        assertEquals(FEATURES, offered & FEATURES, "VERSION_1, EVENT_IDX, PROTOCOL_FEATURES and the device bit");
        assertTrue((offered & VirtioFeatures.bit(VirtioFeatures.RING_INDIRECT_DESC)) != 0);
        fe.setFeatures(FEATURES, false);
        long proto = fe.getProtocolFeatures();
        assertEquals(ProtocolFeatures.OFFERED, proto);
        fe.setProtocolFeatures(proto, false);
        fe.setOwner(true);
    }

    private void setUpRing(FakeFrontend fe, FakeDriverQueue q, int i) throws IOException {
        assertEquals(0, fe.setVringNum(i, q.size(), true).getAsLong());
        assertEquals(0, fe.setVringAddr(i, 0, q.descUserAddr(), q.usedUserAddr(), q.availUserAddr(), 0, true)
                .getAsLong());
        assertEquals(0, fe.setVringBase(i, 0, true).getAsLong());
        assertEquals(0, fe.setVringCall(i, call[i], true).getAsLong());
        assertEquals(0, fe.setVringKick(i, kick[i], true).getAsLong());
        assertEquals(0, fe.setVringEnable(i, true, true).getAsLong());
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

    @Test
    void negotiatesMapsTwoRegionsAndRoundTripsRequestsOnTwoRingsWithEventIdx() throws IOException {
        try (FakeDriver driver = new FakeDriver(1 << 20, 1 << 20);
                FakeFrontend fe = FakeFrontend.connect(socket)) {
            negotiate(fe);
            assertEquals(2, fe.getQueueNum());
            int[] fds = {driver.fd(0), driver.fd(1)};
            assertEquals(0, fe.setMemTable(driver.memoryRegions(), fds, true).getAsLong());
            // A buffer that straddles the boundary between the two regions, reused every fifth request.
            FakeDriver.Buffer across = driver.bufferAcrossBoundary(0, 7, 32);
            FakeDriverQueue[] qs = {driver.addQueue(64), driver.addQueue(64)};
            for (int i = 0; i < 2; i++) {
                setUpRing(fe, qs[i], i);
            }
            EventFd kicker = new EventFd();
            int rounds = 0;
            for (int r = 0; r < 50; r++) {
                for (int i = 0; i < 2; i++) {
                    FakeDriver.Buffer in = r % 5 == 0 ? across : driver.buffer(32);
                    FakeDriver.Buffer out = driver.buffer(32);
                    byte[] data = new byte[32];
                    for (int b = 0; b < data.length; b++) {
                        data[b] = (byte) (r * 3 + i + b);
                    }
                    driver.write(in.gpa(), data);
                    int head = qs[i].addChain(List.of(in), List.of(out), r % 2 == 1);
                    kicker.signal(kick[i]);
                    FakeDriverQueue.Used used = awaitUsed(qs[i], call[i]);
                    assertEquals(head, used.head());
                    assertEquals(32, used.len());
                    byte[] echoed = driver.read(out.gpa(), 32);
                    for (int b = 0; b < data.length; b++) {
                        data[b]++;
                    }
                    assertArrayEquals(data, echoed);
                    rounds++;
                    if (r >= 1 && r % 10 == 0) {
                        // After going idle the device re-armed kicks by publishing avail_event.
                        assertNotEquals(-1, qs[i].availEvent());
                    }
                }
            }
            assertEquals(100, rounds);
            assertEquals(100, device.completed.get());
            // Both rings of the device run on one poller (Placement.DISK, the default); the other is free.
            assertEquals(List.of(2, 0), pollers.pollers().stream().map(Poller::attachedQueues).sorted(
                    java.util.Comparator.reverseOrder()).toList());
            Reply.VringState base0 = fe.getVringBase(0);
            assertEquals(50, base0.num(), "GET_VRING_BASE returns the next avail index");
            assertEquals(50, fe.getVringBase(1).num());
        }
    }

    @Test
    void eventIdxSuppressesNotificationsUntilUsedEventIsReached() throws IOException {
        try (FakeDriver driver = new FakeDriver(1 << 20);
                FakeFrontend fe = FakeFrontend.connect(socket)) {
            negotiate(fe);
            fe.setMemTable(driver.memoryRegions(), new int[] {driver.fd(0)}, true);
            FakeDriverQueue q = driver.addQueue(64);
            // The driver wants an interrupt only after the 5th used entry (used_event = 4).
            q.setUsedEvent(4);
            setUpRing(fe, q, 0);
            for (int r = 0; r < 8; r++) {
                FakeDriver.Buffer in = driver.buffer(8);
                FakeDriver.Buffer out = driver.buffer(8);
                q.prepareChain(List.of(in), List.of(out), false);
            }
            for (int h = 0; h < 3; h++) {
                q.offer(h);
                q.publishAvail();
                new EventFd().signal(kick[0]);
                waitUsedIdx(q, h + 1);
            }
            assertEquals(0, new EventFd().drain(call[0]), "used_event=4 not reached: no interrupt");
            for (int h = 3; h < 6; h++) {
                q.offer(h);
            }
            q.publishAvail();
            new EventFd().signal(kick[0]);
            waitUsedIdx(q, 6);
            // The poller signals right after publishing used idx: wait for it rather than race it.
            try (Epoll ep = new Epoll(1)) {
                ep.add(call[0], Epoll.EPOLLIN, 0);
                assertEquals(1, ep.await(5000), "crossing used_event=4 must interrupt");
            }
            assertTrue(new EventFd().drain(call[0]) >= 1);
        }
    }

    private static void waitUsedIdx(FakeDriverQueue q, int idx) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (q.usedIdx() != idx) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("used idx stuck at " + q.usedIdx() + ", expected " + idx);
            }
            Thread.onSpinWait();
        }
    }

    @Test
    void engineRefusesBadRingParametersWithErrorAcks() throws IOException {
        try (FakeDriver driver = new FakeDriver(1 << 20);
                FakeFrontend fe = FakeFrontend.connect(socket)) {
            negotiate(fe);
            fe.setMemTable(driver.memoryRegions(), new int[] {driver.fd(0)}, true);
            assertNotEquals(0, fe.setVringNum(2, 64, true).getAsLong(), "queue index out of range");
            assertNotEquals(0, fe.setVringNum(0, 0, true).getAsLong(), "ring size 0");
            assertNotEquals(0, fe.setVringNum(0, 100, true).getAsLong(), "not a power of two");
            assertNotEquals(0, fe.setVringNum(0, 65536, true).getAsLong(), "above 32768");
            assertNotEquals(0, fe.setVringNum(0, 512, true).getAsLong(), "above the device maximum");
            assertEquals(0, fe.setVringNum(0, 64, true).getAsLong());
            long outside = FakeDriver.USER_BASE + (2 << 20);
            assertNotEquals(0, fe.setVringAddr(0, 0, outside, outside + 4096, outside + 8192, 0, true).getAsLong(),
                    "ring outside guest memory");
            assertNotEquals(0, fe.setVringAddr(0, 0, 0x10, 0x2000, 0x1000, 0, true).getAsLong(),
                    "unmapped user addresses");
            assertNotEquals(0, fe.setVringBase(5, 0, true).getAsLong());
            assertNotEquals(0, fe.setProtocolFeatures(1L << 40, true).getAsLong(), "protocol bit not offered");
            OptionalLong bad = fe.setFeatures(1L << 50, true);
            assertNotEquals(0, bad.getAsLong(), "feature bit not offered");
            Reply.Config cfg = fe.getConfig(0, 8);
            assertArrayEquals(device.config, cfg.data());
            assertNotEquals(0, fe.setConfig(0, 0, new byte[] {9}, true).getAsLong());
            // The session survives all of that.
            assertEquals(2, fe.getQueueNum());
        }
    }

    @Test
    void corruptRingClosesTheConnectionAndTheNextFrontEndIsServed() throws IOException {
        try (FakeDriver driver = new FakeDriver(1 << 20)) {
            try (FakeFrontend fe = FakeFrontend.connect(socket)) {
                negotiate(fe);
                fe.setMemTable(driver.memoryRegions(), new int[] {driver.fd(0)}, true);
                FakeDriverQueue q = driver.addQueue(16);
                setUpRing(fe, q, 0);
                // avail idx 100 ahead of the device's 0 on a 16-entry ring: the queue is broken.
                q.setAvailIdx(100);
                new EventFd().signal(kick[0]);
                assertTrue(fe.awaitClosedByPeer(), "the engine must close a session with a corrupt ring");
            }
            try (FakeFrontend fe = FakeFrontend.connect(socket)) {
                negotiate(fe);
                assertEquals(2, fe.getQueueNum());
            }
        }
    }

    @Test
    void frontEndDropAndReconnectResumesFromTheReturnedBase() throws IOException {
        try (FakeDriver driver = new FakeDriver(1 << 20)) {
            FakeDriverQueue q = driver.addQueue(32);
            FakeFrontend fe = FakeFrontend.connect(socket);
            negotiate(fe);
            fe.setMemTable(driver.memoryRegions(), new int[] {driver.fd(0)}, true);
            setUpRing(fe, q, 0);
            FakeDriver.Buffer in = driver.buffer(4);
            FakeDriver.Buffer out = driver.buffer(4);
            q.addChain(List.of(in), List.of(out), false);
            new EventFd().signal(kick[0]);
            assertNotNull(awaitUsed(q, call[0]));
            fe.close(); // drops without GET_VRING_BASE
            assertTrue(Files.exists(socket));
            try (FakeFrontend again = FakeFrontend.connect(socket)) {
                negotiate(again);
                again.setMemTable(driver.memoryRegions(), new int[] {driver.fd(0)}, true);
                assertEquals(0, again.setVringNum(0, 32, true).getAsLong());
                again.setVringAddr(0, 0, q.descUserAddr(), q.usedUserAddr(), q.availUserAddr(), 0, true);
                again.setVringBase(0, 1, true);
                again.setVringCall(0, call[0], true);
                again.setVringKick(0, kick[0], true);
                again.setVringEnable(0, true, true);
                q.addChain(List.of(in), List.of(out), false);
                new EventFd().signal(kick[0]);
                assertNotNull(awaitUsed(q, call[0]));
                assertEquals(2, device.completed.get());
            }
        }
    }

    @Test
    void inflightAreaLetsTheNextBackEndFinishWhatACrashedOneTook() throws IOException {
        try (FakeDriver driver = new FakeDriver(1 << 20); Arena arena = Arena.ofConfined()) {
            FakeDriverQueue q = driver.addQueue(32);
            FakeDriver.Buffer in = driver.buffer(8);
            FakeDriver.Buffer out = driver.buffer(8);
            FakeFrontend.Inflight area;
            try (FakeFrontend fe = FakeFrontend.connect(socket)) {
                negotiate(fe);
                area = fe.getInflightFd(2, 32);
                assertTrue(area.fd() >= 0, "the area's fd comes with the reply");
                assertEquals(2 * InflightLog.areaSize(32), area.mmapSize());
                assertEquals(0, fe.setInflightFd(area.mmapSize(), area.mmapOffset(), 2, 32, area.fd(), true)
                        .getAsLong());
                fe.setMemTable(driver.memoryRegions(), new int[] {driver.fd(0)}, true);
                setUpRing(fe, q, 0);
                q.addChain(List.of(in), List.of(out), false);
                new EventFd().signal(kick[0]);
                assertNotNull(awaitUsed(q, call[0]));
            }
            MemorySegment shared = Libc.mmap(arena, area.mmapSize(), Libc.PROT_READ | Libc.PROT_WRITE,
                    Libc.MAP_SHARED, area.fd(), 0);
            assertEquals(1, shared.get(ValueLayout.JAVA_SHORT_UNALIGNED, 8), "vhostd initialised queue 0's area");
            // A back-end took one more request and died before completing it: the ring shows it consumed
            // (avail idx 2, used idx 1) and only the area knows it is unfinished.
            driver.write(in.gpa(), new byte[] {1, 2, 3, 4, 5, 6, 7, 8});
            int lost = q.addChain(List.of(in), List.of(out), false);
            long entry = 16 + 16L * lost;
            shared.set(ValueLayout.JAVA_LONG_UNALIGNED, entry + 8, 1000L);
            shared.set(ValueLayout.JAVA_BYTE, entry, (byte) 1);

            try (FakeFrontend again = FakeFrontend.connect(socket)) {
                negotiate(again);
                again.setMemTable(driver.memoryRegions(), new int[] {driver.fd(0)}, true);
                assertEquals(0, again.setInflightFd(area.mmapSize(), 0, 2, 32, area.fd(), true).getAsLong());
                assertEquals(0, again.setVringNum(0, 32, true).getAsLong());
                again.setVringAddr(0, 0, q.descUserAddr(), q.usedUserAddr(), q.availUserAddr(), 0, true);
                // QEMU, unable to ask the dead back-end, rewinds the avail side to the used idx.
                again.setVringBase(0, q.usedIdx(), true);
                again.setVringCall(0, call[0], true);
                again.setVringKick(0, kick[0], true);
                again.setVringEnable(0, true, true);
                FakeDriverQueue.Used used = awaitUsed(q, call[0]);
                assertEquals(lost, used.head(), "the unfinished request is processed again");
                assertArrayEquals(new byte[] {2, 3, 4, 5, 6, 7, 8, 9}, driver.read(out.gpa(), 8));
                assertEquals(2, device.completed.get());
                assertEquals(0, shared.get(ValueLayout.JAVA_BYTE, entry), "and marked done");
                q.addChain(List.of(in), List.of(out), false);
                new EventFd().signal(kick[0]);
                assertNotNull(awaitUsed(q, call[0]));
                assertEquals(3, device.completed.get(), "the next new request, once: the avail side moved past the lost one");
                assertEquals(3, again.getVringBase(0).num());
            } finally {
                Libc.close(area.fd());
            }
        }
    }

    @Test
    void inflightRequestsVhostdCannotServeAreAnsweredOrRefused() throws IOException {
        try (FakeFrontend fe = FakeFrontend.connect(socket)) {
            negotiate(fe);
            FakeFrontend.Inflight none = fe.getInflightFd(9, 32);
            assertEquals(0, none.mmapSize(), "more queues than the device has: no area, QEMU goes on without");
            assertEquals(-1, none.fd());
            FakeFrontend.Inflight ok = fe.getInflightFd(1, 64);
            try {
                assertNotEquals(0, fe.setInflightFd(ok.mmapSize(), 0, 2, 64, ok.fd(), true).getAsLong(),
                        "an area too small for two queues is refused");
                assertNotEquals(0, fe.setInflightFd(ok.mmapSize(), 100, 1, 64, ok.fd(), true).getAsLong(),
                        "an unaligned offset is refused");
                assertEquals(0, fe.setInflightFd(ok.mmapSize(), 0, 1, 64, ok.fd(), true).getAsLong());
            } finally {
                Libc.close(ok.fd());
            }
        }
    }
}

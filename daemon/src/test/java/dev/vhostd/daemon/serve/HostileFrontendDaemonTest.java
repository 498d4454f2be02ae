package dev.vhostd.daemon.serve;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.vhostd.protocol.device.VirtioFeatures;
import dev.vhostd.protocol.testing.FakeDriver;
import dev.vhostd.protocol.testing.FakeDriverQueue;
import dev.vhostd.protocol.testing.FakeFrontend;
import dev.vhostd.sys.EventFd;
import dev.vhostd.sys.Libc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A vhostd process and a front-end that does what QEMU never would (issue 10 items 3 and 7): kick
 * and call fds that are not eventfds, a call eventfd whose counter is full, a status descriptor of
 * length 0. One vhostd serves every case in turn, which also shows that none of them cost more than
 * that front-end's session.
 */
class HostileFrontendDaemonTest {
    private static final long MIB = 1 << 20;
    private static final int T_IN = 0;

    @TempDir
    static Path dir;
    static VhostdProcess vhostd;
    static Path socket;

    @BeforeAll
    static void start() throws IOException {
        socket = dir.resolve("hostile.sock");
        vhostd = VhostdProcess.serve(socket, dir.resolve("vhostd.log"), "--backend", "memory:16M");
    }

    @AfterAll
    static void stop() throws InterruptedException {
        if (vhostd != null) {
            int exit = vhostd.terminate(Duration.ofSeconds(20));
            assertTrue(exit == 0 || exit == 143, "exit " + exit + ":\n" + vhostd.log());
            assertTrue(!vhostd.log().contains("Please report this"), "no internal error:\n" + vhostd.log());
            assertTrue(!vhostd.log().contains("unexpected failure"), "no unexpected failure:\n" + vhostd.log());
        }
    }

    private static void negotiate(FakeFrontend fe) throws IOException {
        long offered = fe.getFeatures();
        fe.setFeatures(offered & (VirtioFeatures.bit(VirtioFeatures.VERSION_1)
                | VirtioFeatures.bit(VirtioFeatures.VHOST_USER_PROTOCOL_FEATURES)), false);
        fe.setProtocolFeatures(fe.getProtocolFeatures(), false);
        fe.setOwner(true);
    }

    private static void ringUp(FakeFrontend fe, FakeDriver driver, FakeDriverQueue q, int kick, int call)
            throws IOException {
        assertEquals(0, fe.setMemTable(driver.memoryRegions(), new int[] {driver.fd(0)}, true).getAsLong());
        assertEquals(0, fe.setVringNum(0, q.size(), true).getAsLong());
        assertEquals(0, fe.setVringAddr(0, 0, q.descUserAddr(), q.usedUserAddr(), q.availUserAddr(), 0, true)
                .getAsLong());
        assertEquals(0, fe.setVringBase(0, 0, true).getAsLong());
        assertEquals(0, fe.setVringCall(0, call, true).getAsLong());
        assertEquals(0, fe.setVringKick(0, kick, true).getAsLong());
        assertEquals(0, fe.setVringEnable(0, true, true).getAsLong());
    }

    private static FakeDriver.Buffer header(FakeDriver driver, int type, long sector) {
        FakeDriver.Buffer h = driver.buffer(16);
        driver.write(h.gpa(), ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN)
                .putInt(type).putInt(0).putLong(sector).array());
        return h;
    }

    private static FakeDriverQueue.Used awaitUsed(FakeDriverQueue q) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (System.nanoTime() < deadline) {
            FakeDriverQueue.Used u = q.pollUsed();
            if (u != null) {
                return u;
            }
            Thread.sleep(1);
        }
        throw new AssertionError("no used entry within 10 s on " + q + ":\n" + vhostd.log());
    }

    /** Item 7: the status byte of a chain ending in a zero-length writable descriptor. */
    @Test
    void statusByteGoesInTheLastWritableByteNotBeforeAZeroLengthDescriptor() throws Exception {
        int kick = EventFd.create();
        int call = EventFd.create();
        try (FakeDriver driver = new FakeDriver(MIB); FakeFrontend fe = FakeFrontend.connect(socket)) {
            negotiate(fe);
            FakeDriverQueue q = driver.addQueue(16);
            ringUp(fe, driver, q, kick, call);
            FakeDriver.Buffer data = driver.buffer(512);
            FakeDriver.Buffer status = driver.buffer(1);
            // A canary, then the zero-length descriptor's address right after it: the old code wrote the
            // status at that address minus one, the canary, outside every device-writable buffer.
            FakeDriver.Buffer canary = driver.buffer(2);
            driver.write(canary.gpa(), new byte[] {0x5a, 0x5a});
            driver.write(status.gpa(), new byte[] {(byte) 0xff});
            driver.write(data.gpa(), new byte[] {1, 1, 1, 1});
            int head = q.addChain(List.of(header(driver, T_IN, 0)),
                    List.of(data, status, FakeDriver.bufferAt(canary.gpa() + 1, 0)), false);
            new EventFd().signal(kick);
            FakeDriverQueue.Used used = awaitUsed(q);
            assertEquals(head, used.head());
            assertEquals(0x5a, driver.read(canary.gpa(), 1)[0], "the canary before the empty descriptor is untouched");
            assertEquals(0, driver.read(status.gpa(), 1)[0], "status OK in the last device-writable byte");
            assertEquals(0, driver.read(data.gpa(), 1)[0], "the 512 data bytes were read from the (zeroed) disk");
            assertEquals(513, used.len(), "used length: 512 data bytes and the status byte");
        } finally {
            Libc.close(kick);
            Libc.close(call);
        }
    }

    /** Item 3: a pipe, a FIFO or a regular file where an eventfd belongs is refused with a failure ack. */
    @Test
    void kickCallAndErrFdsThatAreNotEventfdsAreRefused() throws Exception {
        Path fifo = dir.resolve("fifo");
        assertEquals(0, new ProcessBuilder("mkfifo", fifo.toString()).start().waitFor());
        Path file = dir.resolve("plain-file");
        Files.write(file, new byte[8]);
        int fifoFd = Libc.open(fifo.toString(), Libc.O_RDWR | Libc.O_CLOEXEC, 0);
        int fileFd = Libc.open(file.toString(), Libc.O_RDWR | Libc.O_CLOEXEC, 0);
        int kick = EventFd.create();
        int call = EventFd.create();
        try (FakeDriver driver = new FakeDriver(MIB); FakeFrontend fe = FakeFrontend.connect(socket)) {
            negotiate(fe);
            FakeDriverQueue q = driver.addQueue(16);
            assertNotEquals(0, fe.setVringCall(0, fifoFd, true).getAsLong(), "a FIFO nobody reads as call fd");
            assertNotEquals(0, fe.setVringKick(0, fileFd, true).getAsLong(), "a regular file as kick fd");
            assertNotEquals(0, fe.setVringKick(0, fifoFd, true).getAsLong(), "a FIFO as kick fd");
            assertNotEquals(0, fe.setVringErr(0, fileFd, true).getAsLong(), "a regular file as err fd");
            // The session goes on, and with eventfds the ring works.
            ringUp(fe, driver, q, kick, call);
            FakeDriver.Buffer status = driver.buffer(1);
            int head = q.addChain(List.of(header(driver, T_IN, 0)), List.of(driver.buffer(512), status), false);
            new EventFd().signal(kick);
            assertEquals(head, awaitUsed(q).head());
            assertTrue(vhostd.log().contains("not an eventfd"), vhostd::log);
        } finally {
            Libc.close(fifoFd);
            Libc.close(fileFd);
            Libc.close(kick);
            Libc.close(call);
        }
    }

    /**
     * Item 3: a call eventfd that is blocking and whose counter is already at its maximum. A write
     * to it would block the poller for good; vhostd's writes never block (the notification is
     * pending anyway), so every request still completes.
     */
    @Test
    void aCallFdThatWouldBlockDoesNotWedgeThePoller() throws Exception {
        int kick = EventFd.create();
        int call = Libc.eventfd(0, Libc.EFD_CLOEXEC); // blocking
        try (Arena a = Arena.ofConfined()) {
            MemorySegment v = a.allocate(ValueLayout.JAVA_LONG);
            v.set(ValueLayout.JAVA_LONG, 0, 0xffff_ffff_ffff_fffeL);
            assertEquals(8, Libc.write(call, v, 8), "counter at its maximum: the next write would block");
        }
        try (FakeDriver driver = new FakeDriver(MIB); FakeFrontend fe = FakeFrontend.connect(socket)) {
            negotiate(fe);
            FakeDriverQueue q = driver.addQueue(16);
            ringUp(fe, driver, q, kick, call);
            for (int i = 0; i < 50; i++) {
                int head = q.addChain(List.of(header(driver, T_IN, i)), List.of(driver.buffer(512), driver.buffer(1)),
                        false);
                new EventFd().signal(kick);
                assertEquals(head, awaitUsed(q).head(), "request " + i);
            }
            // Stopping the ring needs the poller too: it answers.
            assertEquals(50, fe.getVringBase(0).num());
        } finally {
            Libc.close(kick);
            Libc.close(call);
        }
    }
}

package dev.vhostd.daemon.serve;

import java.lang.foreign.MemorySegment;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.time.Duration;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.vhostd.protocol.frontend.BufferChain;
import dev.vhostd.protocol.frontend.DriverQueue;
import dev.vhostd.protocol.frontend.GuestBuffer;
import dev.vhostd.protocol.frontend.VhostUserBlkFrontend;
import dev.vhostd.protocol.frontend.VirtioBlkSpec;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Signals against the real vhostd process. SIGTERM with requests in flight: the front-end must find
 * every one of them in the used ring by the time it sees the socket close (a front-end without the
 * inflight area rebuilds its position from used idx and would otherwise run them twice). SIGHUP
 * must neither kill vhostd nor leave its socket behind.
 */
class ShutdownOrderTest {
    private static final int REQUESTS = 8;

    @TempDir
    Path dir;

    @Test
    void sigtermPublishesEveryInFlightRequestBeforeTheSocketCloses() throws Exception {
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        Path sock = dir.resolve("d.sock");
        // Each request takes 10 s in the device (the null device's longest): SIGTERM arrives while
        // all are in flight even on a loaded machine.
        try (VhostdProcess vhostd = VhostdProcess.serve(sock, dir.resolve("vhostd.log"),
                "--backend", "null:64M,latency=10s", "--metrics", "127.0.0.1:" + port);
                VhostUserBlkFrontend dev = VhostUserBlkFrontend.open(sock,
                        new VhostUserBlkFrontend.Options(1, 64, true, 1 << 20))) {
            DriverQueue q = dev.queue(0);
            GuestBuffer[] status = new GuestBuffer[REQUESTS];
            BufferChain chain = new BufferChain(3);
            for (int i = 0; i < REQUESTS; i++) {
                GuestBuffer header = dev.ram().allocate(VirtioBlkSpec.HEADER_SIZE, 16);
                GuestBuffer data = dev.ram().allocate(4096, 4096);
                status[i] = dev.ram().allocate(1, 1);
                MemorySegment h = header.segment();
                h.set(JAVA_INT, 0, VirtioBlkSpec.T_IN);
                h.set(JAVA_INT, 4, 0);
                h.set(JAVA_LONG, 8, i * 8L);
                status[i].segment().set(JAVA_BYTE, 0, (byte) 0xFF);
                chain.clear().readable(header.guestAddress(), VirtioBlkSpec.HEADER_SIZE)
                        .writable(data.guestAddress(), 4096).writable(status[i].guestAddress(), 1);
                assertTrue(q.add(chain) >= 0);
            }
            q.kickIfNeeded();
            long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (VhostdProcess.scrape(port, "vhostd_requests_in_flight") < REQUESTS) {
                assertTrue(System.nanoTime() < deadline, "the requests never got in flight (used idx " + q.usedIdx()
                        + ", requests " + VhostdProcess.scrape(port, "vhostd_requests_total") + ", kicks "
                        + VhostdProcess.scrape(port, "vhostd_kicks_total") + ", invalid "
                        + VhostdProcess.scrape(port, "vhostd_invalid_guest_input_total") + "):\n" + vhostd.log());
                Thread.sleep(20);
            }
            assertEquals(0, q.usedIdx(), "completed before the 10 s latency");

            vhostd.signal("TERM");
            assertTrue(dev.connection().awaitClose(30_000), "vhostd did not close the connection:\n" + vhostd.log());
            int usedAtClose = q.usedIdx();
            assertEquals(REQUESTS, usedAtClose, "used idx when the front-end saw the close:\n" + vhostd.log());
            for (int i = 0; i < REQUESTS; i++) {
                assertEquals(VirtioBlkSpec.S_OK, status[i].segment().get(JAVA_BYTE, 0), "status of request " + i);
            }
            assertEquals(0, vhostd.awaitExit(Duration.ofSeconds(30)), vhostd.log());
            assertFalse(Files.exists(sock), "socket file left behind");
        }
    }

    @Test
    void sighupIsLoggedAndIgnored() throws Exception {
        Path sock = dir.resolve("h.sock");
        // A parent that ignores SIGHUP (nohup, some CI runners) passes SIG_IGN on, and the JVM then never
        // sees the signal: env --default-signal restores the default disposition an operator's shell gives.
        try (VhostdProcess vhostd = VhostdProcess.serve(List.of("env", "--default-signal=HUP"), sock,
                dir.resolve("vhostd.log"), "--backend", "memory:1M")) {
            vhostd.signal("HUP");
            assertTrue(vhostd.awaitLog("SIGHUP received and ignored", Duration.ofSeconds(10)), vhostd.log());
            Thread.sleep(200);
            assertTrue(vhostd.isAlive(), "SIGHUP killed vhostd:\n" + vhostd.log());
            assertTrue(Files.exists(sock));
            // Still serving: a front-end can attach.
            try (VhostUserBlkFrontend dev = VhostUserBlkFrontend.open(sock,
                    new VhostUserBlkFrontend.Options(1, 64, true, 1 << 16))) {
                assertEquals(1 << 20, dev.capacityBytes());
            }
            assertEquals(0, vhostd.terminate(Duration.ofSeconds(30)), vhostd.log());
            assertFalse(Files.exists(sock), "socket file left behind");
        }
    }

    @Test
    void aSecondFrontEndIsLoggedWhenItConnects() throws Exception {
        Path sock = dir.resolve("s.sock");
        try (VhostdProcess vhostd = VhostdProcess.serve(sock, dir.resolve("vhostd.log"), "--backend", "memory:1M");
                VhostUserBlkFrontend first = VhostUserBlkFrontend.open(sock,
                        new VhostUserBlkFrontend.Options(1, 64, true, 1 << 16));
                var second = org.newsclub.net.unix.AFUNIXSocket.connectTo(
                        org.newsclub.net.unix.AFUNIXSocketAddress.of(sock))) {
            assertTrue(vhostd.awaitLog("another front-end is connecting", Duration.ofSeconds(10)), vhostd.log());
        }
    }
}

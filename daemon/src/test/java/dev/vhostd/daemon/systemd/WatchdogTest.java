package dev.vhostd.daemon.systemd;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.newsclub.net.unix.AFUNIXSocketAddress;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicBoolean;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class WatchdogTest {
    private static final long PID = 777;

    @TempDir
    Path dir;

    @Test
    void intervalFromEnvironment() {
        assertEquals(Optional.of(Duration.ofSeconds(30)), Watchdog.interval(Map.of("WATCHDOG_USEC", "30000000"), PID));
        assertEquals(Optional.of(Duration.ofMillis(200)),
                Watchdog.interval(Map.of("WATCHDOG_USEC", "200000", "WATCHDOG_PID", "777"), PID));
        assertEquals(Optional.empty(), Watchdog.interval(Map.of(), PID));
        assertEquals(Optional.empty(), Watchdog.interval(Map.of("WATCHDOG_USEC", "200000", "WATCHDOG_PID", "778"), PID));
        assertEquals(Optional.empty(), Watchdog.interval(Map.of("WATCHDOG_USEC", "0"), PID));
        assertEquals(Optional.empty(), Watchdog.interval(Map.of("WATCHDOG_USEC", "30s"), PID));
        assertEquals(Optional.empty(), Watchdog.interval(Map.of("WATCHDOG_USEC", "-5"), PID));
    }

    @Test
    void pingsEveryHalfIntervalWhileHealthy() throws Exception {
        Path sock = dir.resolve("wd.sock");
        AtomicBoolean healthy = new AtomicBoolean(true);
        Map<String, String> env = Map.of("NOTIFY_SOCKET", sock.toString(), "WATCHDOG_USEC", "200000");
        try (DatagramReceiver rx = new DatagramReceiver(AFUNIXSocketAddress.of(sock));
             SdNotify n = SdNotify.fromEnvironment(env)) {
            long start = System.nanoTime();
            Watchdog w = Watchdog.start(env, PID, n, healthy::get).orElseThrow();
            try {
                assertEquals(Duration.ofMillis(100), w.period());
                for (int i = 0; i < 4; i++) {
                    assertEquals("WATCHDOG=1", rx.receive());
                }
                long elapsedMs = (System.nanoTime() - start) / 1_000_000;
                // First ping at once, then one per 100 ms: four pings take at least ~300 ms.
                assertTrue(elapsedMs >= 250, "four pings after only " + elapsedMs + " ms");
                // The counter is bumped just after the send returns: allow the thread a moment.
                for (int i = 0; i < 50 && w.pings() < 4; i++) {
                    Thread.sleep(2);
                }
                assertTrue(w.pings() >= 4, "pings counted: " + w.pings());

                healthy.set(false);
                // Drain at most one ping already in flight, then silence while unhealthy.
                rx.anyWithin(150);
                assertFalse(rx.anyWithin(400), "pinged while the health check fails");

                healthy.set(true);
                assertEquals("WATCHDOG=1", rx.receive());
            } finally {
                w.close();
            }
            rx.anyWithin(150);
            assertFalse(rx.anyWithin(400), "pinged after close");
        }
    }

    @Test
    void throwingHealthCheckCountsAsUnhealthy() throws Exception {
        Path sock = dir.resolve("wd2.sock");
        Map<String, String> env = Map.of("NOTIFY_SOCKET", sock.toString(), "WATCHDOG_USEC", "100000");
        try (DatagramReceiver rx = new DatagramReceiver(AFUNIXSocketAddress.of(sock));
             SdNotify n = SdNotify.fromEnvironment(env);
             Watchdog w = Watchdog.start(env, PID, n, () -> {
                 throw new IllegalStateException("accept loop gone");
             }).orElseThrow()) {
            assertFalse(rx.anyWithin(400));
            assertEquals(0, w.pings());
        }
    }

    @Test
    void notStartedWithoutWatchdogOrNotifySocket() {
        try (SdNotify off = SdNotify.fromEnvironment(Map.of())) {
            assertTrue(Watchdog.start(Map.of("WATCHDOG_USEC", "100000"), PID, off, () -> true).isEmpty());
        }
        try (SdNotify on = SdNotify.fromEnvironment(Map.of("NOTIFY_SOCKET", dir.resolve("x.sock").toString()))) {
            assertTrue(Watchdog.start(Map.of(), PID, on, () -> true).isEmpty());
            assertTrue(Watchdog.start(Map.of("WATCHDOG_USEC", "100000", "WATCHDOG_PID", "1"), PID, on, () -> true)
                    .isEmpty());
        }
    }
}

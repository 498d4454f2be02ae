package dev.vhostd.daemon.systemd;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.newsclub.net.unix.AFUNIXSocketAddress;

import dev.vhostd.daemon.serve.VhostdProcess;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

/** vhostd under a (stand-in) service manager with WatchdogSec= set: it pings from the start, quietly. */
class WatchdogProcessTest {
    @TempDir
    Path dir;

    @Test
    void startsPingingWithoutASpuriousHealthFailure() throws Exception {
        Path notifySocket = dir.resolve("notify.sock");
        try (DatagramReceiver rx = new DatagramReceiver(AFUNIXSocketAddress.of(notifySocket));
                VhostdProcess vhostd = VhostdProcess.serve(dir.resolve("wd.sock"), dir.resolve("vhostd.log"),
                        Map.of("NOTIFY_SOCKET", notifySocket.toString(), "WATCHDOG_USEC", "1000000"),
                        "--backend", "null:16M")) {
            int pings = 0;
            long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (pings < 3 && System.nanoTime() < deadline) {
                if (rx.receive(30_000).contains("WATCHDOG=1")) {
                    pings++;
                }
            }
            assertEquals(3, pings, vhostd::log);
            assertFalse(vhostd.log().contains("health check failed"), vhostd::log);
            assertFalse(vhostd.log().contains("SEVERE"), vhostd::log);
        }
    }
}

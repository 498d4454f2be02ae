package dev.vhostd.daemon.systemd;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.newsclub.net.unix.AFUNIXSocketAddress;

import dev.vhostd.protocol.testing.FakeFrontend;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Real socket activation of the daemon: systemd-socket-activate (systemd package) binds the socket,
 * sets LISTEN_FDS/LISTEN_PID/LISTEN_FDNAMES and NOTIFY_SOCKET, and execs {@code vhostd serve} with
 * neither --socket nor --fd. A front-end connects through the activator's socket and negotiates;
 * vhostd reports READY=1, and on SIGTERM STOPPING=1, exits 0 and leaves the unit's socket in place.
 */
class SocketActivationTest {
    @TempDir
    Path dir;

    @Test
    void vhostdServesTheSocketPassedBySystemdAndSpeaksTheNotifyProtocol() throws Exception {
        Path sock = dir.resolve("vhostd.sock");
        Path notifySock = dir.resolve("notify.sock");
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        String classPath = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        ProcessBuilder pb = new ProcessBuilder(List.of("systemd-socket-activate",
                "--listen=" + sock, "--fdname=vhostd", "--setenv=NOTIFY_SOCKET=" + notifySock,
                java, "--enable-native-access=ALL-UNNAMED", "-cp", classPath,
                "dev.vhostd.daemon.Main", "serve", "--name", "vm7-root", "--backend", "memory:16M", "--queues", "2"));
        pb.redirectErrorStream(true);
        pb.redirectOutput(dir.resolve("child.log").toFile());
        try (DatagramReceiver notify = new DatagramReceiver(AFUNIXSocketAddress.of(notifySock))) {
            Process p = pb.start();
            try {
                for (int i = 0; i < 100 && !Files.exists(sock); i++) {
                    Thread.sleep(50);
                }
                assertTrue(Files.exists(sock), () -> "socket never appeared; log:\n" + log());
                // systemd-socket-activate execs vhostd when the first client connects; the client
                // waits in the backlog until vhostd accepts.
                try (FakeFrontend fe = FakeFrontend.connect(sock)) {
                    String ready = notify.receive(60_000);
                    assertTrue(ready.startsWith("READY=1"), ready + "\n" + log());
                    assertTrue((fe.getFeatures() & (1L << 32)) != 0, "VERSION_1 offered");
                    assertEquals(2, fe.getQueueNum());
                }
                // The child is the JVM itself (systemd-socket-activate execs), so this is SIGTERM to vhostd.
                p.destroy();
                assertEquals("STOPPING=1", notify.receive(30_000), this::log);
                assertTrue(p.waitFor(30, TimeUnit.SECONDS), "vhostd did not exit");
                assertEquals(0, p.exitValue(), this::log);
                assertTrue(log().contains("front-end"), this::log);
                // The unit passes its instance name (--name %i): logs name the disk by it, never by fd.
                assertTrue(log().contains("disk vm7-root: front-end pid"), this::log);
                assertFalse(log().contains("fd3"), this::log);
                assertTrue(Files.exists(sock), "the socket unit's path must survive vhostd's exit");
            } finally {
                p.destroyForcibly();
            }
        }
    }

    private String log() {
        try {
            return Files.readString(dir.resolve("child.log"));
        } catch (java.io.IOException e) {
            return "(no child log: " + e + ")";
        }
    }
}

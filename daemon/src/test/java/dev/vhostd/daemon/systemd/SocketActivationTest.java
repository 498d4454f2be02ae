package dev.vhostd.daemon.systemd;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.newsclub.net.unix.AFUNIXSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Real socket activation: systemd-socket-activate (from the systemd package) binds the socket, sets
 * LISTEN_FDS/LISTEN_PID/LISTEN_FDNAMES and execs a JVM running {@link SocketActivatedEcho}.
 */
class SocketActivationTest {
    @TempDir
    Path dir;

    @Test
    void adoptsTheSocketPassedBySystemdSocketActivate() throws Exception {
        Path sock = dir.resolve("vhostd.sock");
        Path notifySock = dir.resolve("notify.sock");
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        String classPath = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        ProcessBuilder pb = new ProcessBuilder(List.of("systemd-socket-activate",
                "--listen=" + sock, "--fdname=vhostd", "--setenv=NOTIFY_SOCKET=" + notifySock,
                java, "--enable-native-access=ALL-UNNAMED", "-cp", classPath,
                SocketActivatedEcho.class.getName(), sock.toString()));
        pb.redirectErrorStream(true);
        pb.redirectOutput(dir.resolve("child.log").toFile());
        try (DatagramReceiver notify = new DatagramReceiver(AFUNIXSocketAddress.of(notifySock))) {
            Process p = pb.start();
            try {
                // systemd-socket-activate binds before it waits for a connection; poll for the path.
                for (int i = 0; i < 100 && !Files.exists(sock); i++) {
                    Thread.sleep(50);
                }
                assertTrue(Files.exists(sock), () -> "socket never appeared; child log:\n" + log());
                // systemd-socket-activate execs the program only once a client connects.
                try (AFUNIXSocket c = AFUNIXSocket.connectTo(AFUNIXSocketAddress.of(sock))) {
                    c.setSoTimeout(30_000);
                    BufferedReader in = new BufferedReader(
                            new InputStreamReader(c.getInputStream(), StandardCharsets.UTF_8));
                    String ready;
                    try {
                        ready = notify.receive(60_000);
                    } catch (java.net.SocketTimeoutException e) {
                        throw new AssertionError("no READY=1 within 60 s; child log:\n" + log(), e);
                    }
                    assertEquals("READY=1\nSTATUS=adopted fd 3", ready);
                    assertEquals("fd=3 name=vhostd fds=1 bound=" + AFUNIXSocketAddress.of(sock), in.readLine(),
                            this::log);
                    c.getOutputStream().write("ping\n".getBytes(StandardCharsets.UTF_8));
                    assertEquals("echo ping", in.readLine());
                    assertEquals("path-exists-after-close=true", in.readLine(),
                            "closing the adopted socket unlinked the socket unit's path");
                }
                assertEquals("STOPPING=1", notify.receive(30_000), this::log);
                assertTrue(p.waitFor(30, TimeUnit.SECONDS), "child did not exit");
                assertEquals(0, p.exitValue(), this::log);
                assertTrue(Files.exists(sock), "socket path was removed");
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

package dev.vhostd.daemon.systemd;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.newsclub.net.unix.AFUNIXSocketAddress;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SdNotifyTest {
    @TempDir
    Path dir;

    private static String abstractName() {
        return "vhostd-test-notify-" + ProcessHandle.current().pid() + "-" + System.nanoTime();
    }

    @Test
    void sendsExactDatagramsToAPath() throws Exception {
        Path sock = dir.resolve("notify.sock");
        try (DatagramReceiver rx = new DatagramReceiver(AFUNIXSocketAddress.of(sock));
             SdNotify n = SdNotify.fromEnvironment(Map.of("NOTIFY_SOCKET", sock.toString()))) {
            assertTrue(n.isEnabled());
            assertTrue(n.ready());
            assertEquals("READY=1", rx.receive());
            assertTrue(n.status("serving memory:1G on /run/vhostd/a.sock"));
            assertEquals("STATUS=serving memory:1G on /run/vhostd/a.sock", rx.receive());
            assertTrue(n.watchdog());
            assertEquals("WATCHDOG=1", rx.receive());
            assertTrue(n.mainPid(1234));
            assertEquals("MAINPID=1234", rx.receive());
            assertTrue(n.ready("up"));
            assertEquals("READY=1\nSTATUS=up", rx.receive());
            assertTrue(n.stopping());
            assertEquals("STOPPING=1", rx.receive());
        }
    }

    @Test
    void sendsToAnAbstractAddress() throws Exception {
        String name = abstractName();
        try (DatagramReceiver rx = new DatagramReceiver(AFUNIXSocketAddress.inAbstractNamespace(name));
             SdNotify n = SdNotify.fromEnvironment(Map.of("NOTIFY_SOCKET", "@" + name))) {
            assertTrue(n.ready());
            assertEquals("READY=1", rx.receive());
            assertTrue(n.stopping());
            assertEquals("STOPPING=1", rx.receive());
        }
    }

    /**
     * The abstract address must be encoded exactly as libsystemd encodes it (NUL, name, no padding,
     * address length covering just those bytes), or systemd's socket never sees our datagrams. The
     * receiver here is bound with junixsocket's encoding; systemd-notify, which uses libsystemd's
     * sd_notify, must reach it, and so must SdNotify.
     */
    @Test
    void abstractAddressMatchesLibsystemd() throws Exception {
        String name = abstractName();
        try (DatagramReceiver rx = new DatagramReceiver(AFUNIXSocketAddress.inAbstractNamespace(name));
             SdNotify n = SdNotify.fromEnvironment(Map.of("NOTIFY_SOCKET", "@" + name))) {
            ProcessBuilder pb = new ProcessBuilder("systemd-notify", "--no-block", "--status=from libsystemd");
            pb.environment().put("NOTIFY_SOCKET", "@" + name);
            pb.redirectErrorStream(true);
            Process p = pb.start();
            assertTrue(p.waitFor(10, TimeUnit.SECONDS), "systemd-notify hung");
            assertEquals("STATUS=from libsystemd", rx.receive(),
                    "systemd-notify (libsystemd) did not reach a junixsocket-bound abstract socket");
            assertTrue(n.status("from vhostd"));
            assertEquals("STATUS=from vhostd", rx.receive());
        }
    }

    @Test
    void unsetSocketIsANoOp() {
        try (SdNotify n = SdNotify.fromEnvironment(Map.of())) {
            assertFalse(n.isEnabled());
            assertFalse(n.ready());
            assertFalse(n.watchdog());
        }
    }

    @Test
    void unusableSocketValuesDisableNotification() {
        for (String bad : new String[] {"relative/path", "@", "vsock:2:1234", "/" + "x".repeat(200)}) {
            try (SdNotify n = SdNotify.fromEnvironment(Map.of("NOTIFY_SOCKET", bad))) {
                assertFalse(n.isEnabled(), bad);
                assertFalse(n.ready(), bad);
            }
        }
    }

    @Test
    void missingReceiverIsReportedNotThrown() {
        Path absent = dir.resolve("nobody-listens.sock");
        assertFalse(Files.exists(absent));
        try (SdNotify n = SdNotify.fromEnvironment(Map.of("NOTIFY_SOCKET", absent.toString()))) {
            assertTrue(n.isEnabled());
            assertFalse(n.ready());
        }
    }

    @Test
    void statusCannotInjectAnotherAssignment() throws Exception {
        Path sock = dir.resolve("inject.sock");
        try (DatagramReceiver rx = new DatagramReceiver(AFUNIXSocketAddress.of(sock));
             SdNotify n = SdNotify.fromEnvironment(Map.of("NOTIFY_SOCKET", sock.toString()))) {
            assertThrows(IllegalArgumentException.class, () -> n.status("ok\nMAINPID=1"));
            assertThrows(IllegalArgumentException.class, () -> n.send("READY=1\0"));
            assertThrows(IllegalArgumentException.class, () -> n.mainPid(0));
            assertFalse(rx.anyWithin(200), "a rejected notification was sent anyway");
        }
    }

    @Test
    void closedNotifierSendsNothing() throws Exception {
        Path sock = dir.resolve("closed.sock");
        try (DatagramReceiver rx = new DatagramReceiver(AFUNIXSocketAddress.of(sock))) {
            SdNotify n = SdNotify.fromEnvironment(Map.of("NOTIFY_SOCKET", sock.toString()));
            assertTrue(n.ready());
            assertEquals("READY=1", rx.receive());
            n.close();
            assertFalse(n.stopping());
            assertFalse(rx.anyWithin(200));
        }
    }
}

package dev.vhostd.daemon.systemd;

import dev.vhostd.sys.Libc;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.newsclub.net.unix.AFUNIXDatagramSocket;
import org.newsclub.net.unix.AFUNIXServerSocket;
import org.newsclub.net.unix.AFUNIXSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;
import org.newsclub.net.unix.FileDescriptorCast;

import java.io.FileDescriptor;
import java.io.IOException;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** --fd may carry a listening socket (systemd) or a connected one (libvirt); both are told apart. */
class InheritedSocketsTest {
    @TempDir
    Path dir;

    private static int dupOf(FileDescriptor fd) throws IOException {
        return Libc.dupCloexec(FileDescriptorCast.using(fd).as(Integer.class));
    }

    @Test
    void connectedSocketIsServedAsOneConnection() throws Exception {
        Path path = dir.resolve("c.sock");
        try (AFUNIXServerSocket server = AFUNIXServerSocket.bindOn(AFUNIXSocketAddress.of(path), true);
             AFUNIXSocket client = AFUNIXSocket.connectTo(AFUNIXSocketAddress.of(path));
             AFUNIXSocket accepted = server.accept()) {
            int passed = dupOf(accepted.getFileDescriptor());
            assertFalse(InheritedSockets.isListening(passed));
            try (AFUNIXSocket conn = InheritedSockets.adoptConnected(passed)) {
                client.getOutputStream().write(42);
                assertEquals(42, conn.getInputStream().read());
                conn.getOutputStream().write(43);
                assertEquals(43, client.getInputStream().read());
            }
        }
    }

    @Test
    void listeningSocketIsNotAConnection() throws Exception {
        try (AFUNIXServerSocket server = AFUNIXServerSocket.bindOn(AFUNIXSocketAddress.of(dir.resolve("l.sock")), true)) {
            int passed = dupOf(server.getFileDescriptor());
            try {
                assertTrue(InheritedSockets.isListening(passed));
                IOException e = assertThrows(IOException.class, () -> InheritedSockets.adoptConnected(passed));
                assertTrue(e.getMessage().contains("listening socket"), e.getMessage());
            } finally {
                Libc.close(passed);
            }
        }
    }

    @Test
    void datagramSocketIsRejected() throws Exception {
        try (AFUNIXDatagramSocket d = AFUNIXDatagramSocket.newInstance()) {
            int passed = dupOf(d.getFileDescriptor());
            try {
                IOException e = assertThrows(IOException.class, () -> InheritedSockets.checkUnixStream(passed));
                assertTrue(e.getMessage().contains("SOCK_STREAM"), e.getMessage());
            } finally {
                Libc.close(passed);
            }
        }
    }
}

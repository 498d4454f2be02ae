package dev.vhostd.protocol.connection;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.newsclub.net.unix.AFUNIXServerSocket;
import org.newsclub.net.unix.AFUNIXSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;
import org.newsclub.net.unix.FileDescriptorCast;

import dev.vhostd.protocol.testing.FakeFrontend;
import dev.vhostd.sys.Libc;
import dev.vhostd.sys.MemFd;

import static org.junit.jupiter.api.Assertions.*;

class VhostUserServerTest {
    @TempDir
    Path dir;

    @Test
    void livePathIsBusy() throws Exception {
        Path p = dir.resolve("busy.sock");
        try (ServerFixture first = ServerFixture.bind(p)) {
            IOException e = assertThrows(IOException.class, () -> VhostUserServer.bind(p));
            assertEquals("socket path busy: another process is listening on " + p
                    + "; stop it or choose another --socket", e.getMessage());
            // The first server is untouched and still serves.
            try (FakeFrontend fe = FakeFrontend.connect(p)) {
                first.nextHandler();
                assertEquals(RecordingHandler.FEATURES, fe.getFeatures());
            }
        }
    }

    @Test
    void staleSocketFileIsReplaced() throws Exception {
        Path p = dir.resolve("stale.sock");
        AFUNIXServerSocket dead = AFUNIXServerSocket.newInstance();
        dead.bind(AFUNIXSocketAddress.of(p));
        dead.setDeleteOnClose(false);
        dead.close();
        assertTrue(Files.exists(p), "setup: the stale socket file should remain");
        try (ServerFixture f = ServerFixture.bind(p); FakeFrontend fe = FakeFrontend.connect(p)) {
            f.nextHandler();
            assertEquals(RecordingHandler.FEATURES, fe.getFeatures());
        }
        assertFalse(Files.exists(p), "close() should remove the socket file it created");
    }

    @Test
    void regularFileIsNotReplaced() throws Exception {
        Path p = dir.resolve("data.img");
        Files.writeString(p, "precious");
        IOException e = assertThrows(IOException.class, () -> VhostUserServer.bind(p));
        assertTrue(e.getMessage().contains("not a socket"), e.getMessage());
        assertEquals("precious", Files.readString(p));
    }

    @Test
    void missingDirectoryIsReported() {
        Path p = dir.resolve("nope/vhost.sock");
        IOException e = assertThrows(IOException.class, () -> VhostUserServer.bind(p));
        assertTrue(e.getMessage().contains("does not exist"), e.getMessage());
    }

    @Test
    void permissionsCanBeSet() throws Exception {
        Path p = dir.resolve("perm.sock");
        try (VhostUserServer s = VhostUserServer.bind(p)) {
            s.setPermissions(PosixFilePermissions.fromString("rw-rw----"));
            assertEquals("rw-rw----", PosixFilePermissions.toString(Files.getPosixFilePermissions(p)));
        }
    }

    @Test
    void adoptsAnInheritedListeningSocket() throws Exception {
        Path p = dir.resolve("inherited.sock");
        // Play systemd: create and bind the listening socket, hand over a duplicate of its fd.
        AFUNIXServerSocket original = AFUNIXServerSocket.newInstance();
        original.bind(AFUNIXSocketAddress.of(p));
        original.setDeleteOnClose(false);
        // junixsocket's close() would shutdown(2) the shared socket, so "systemd" keeps its copy open.
        int inherited = Libc.dupCloexec(FileDescriptorCast.using(original.getFileDescriptor()).as(Integer.class));
        try (ServerFixture f = new ServerFixture(VhostUserServer.adopt(inherited))) {
            assertEquals(p, f.path);
            for (int i = 0; i < 2; i++) {
                try (FakeFrontend fe = FakeFrontend.connect(p)) {
                    f.nextHandler();
                    assertEquals(RecordingHandler.FEATURES, fe.getFeatures());
                }
            }
        }
        assertTrue(Files.exists(p), "the socket file belongs to whoever created it");
        // ... and the socket itself still listens for its owner: adopt again, as systemd would after a restart.
        int again = Libc.dupCloexec(FileDescriptorCast.using(original.getFileDescriptor()).as(Integer.class));
        try (ServerFixture f = new ServerFixture(VhostUserServer.adopt(again)); FakeFrontend fe = FakeFrontend.connect(p)) {
            f.nextHandler();
            assertEquals(RecordingHandler.FEATURES, fe.getFeatures());
        }
        // The fd numbers we adopted were detached, not left dangling, and nothing else is shut down.
        try (AFUNIXSocket probe = AFUNIXSocket.connectTo(AFUNIXSocketAddress.of(p))) {
            assertTrue(probe.isConnected(), "the owner's listening socket must survive our close()");
        } finally {
            original.close();
        }
    }

    @Test
    void adoptRefusesWhatIsNotAListeningSocket() throws Exception {
        int memfd = MemFd.create("not-a-socket", 4096);
        try {
            IOException e = assertThrows(IOException.class, () -> VhostUserServer.adopt(memfd));
            assertTrue(e.getMessage().contains("not a socket"), e.getMessage());
        } finally {
            Libc.close(memfd);
        }
        IOException closed = assertThrows(IOException.class, () -> VhostUserServer.adopt(987));
        assertTrue(closed.getMessage().contains("EBADF"), closed.getMessage());

        Path p = dir.resolve("conn.sock");
        try (ServerFixture f = ServerFixture.bind(p); AFUNIXSocket client = AFUNIXSocket.connectTo(AFUNIXSocketAddress.of(p))) {
            int connected = FileDescriptorCast.using(client.getFileDescriptor()).as(Integer.class);
            IOException e = assertThrows(IOException.class, () -> VhostUserServer.adopt(connected));
            assertTrue(e.getMessage().contains("listening AF_UNIX socket"), e.getMessage());
        }
    }

    @Test
    void closeWithoutServeRemovesTheFile() throws Exception {
        Path p = dir.resolve("idle.sock");
        VhostUserServer s = VhostUserServer.bind(p);
        assertTrue(Files.exists(p));
        s.close();
        assertFalse(Files.exists(p));
        s.serve(RecordingHandler::new); // returns at once: the server is closed
    }
}

package dev.vhostd.daemon.systemd;

import dev.vhostd.sys.Libc;
import dev.vhostd.sys.MemFd;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.newsclub.net.unix.AFUNIXServerSocket;
import org.newsclub.net.unix.AFUNIXSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;
import org.newsclub.net.unix.FileDescriptorCast;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.net.SocketException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The socket unit keeps its own copy of the listening socket across restarts. Here the "unit" is a
 * server socket this test binds; vhostd's copy is a dup of its fd.
 */
class InheritedListenerTest {
    @TempDir
    Path dir;

    @Test
    void closingTheAdoptedSocketLeavesTheUnitsSocketWorking() throws Exception {
        Path path = dir.resolve("unit.sock");
        try (AFUNIXServerSocket unit = AFUNIXServerSocket.bindOn(AFUNIXSocketAddress.of(path), true)) {
            int unitFd = FileDescriptorCast.using(unit.getFileDescriptor()).as(Integer.class);
            int inherited = Libc.dupCloexec(unitFd);
            InheritedListener adopted = InheritedListener.adopt(inherited);
            assertEquals(AFUNIXSocketAddress.of(path), adopted.address());
            try (AFUNIXSocket c = AFUNIXSocket.connectTo(AFUNIXSocketAddress.of(path));
                 AFUNIXSocket s = adopted.accept()) {
                c.getOutputStream().write(7);
                assertEquals(7, s.getInputStream().read());
            }
            adopted.close();
            assertTrue(Files.exists(path), "adopted socket's close unlinked the unit's path");
            // The next instance (here: the unit's own fd) still accepts on the same socket.
            try (AFUNIXSocket c = AFUNIXSocket.connectTo(AFUNIXSocketAddress.of(path));
                 AFUNIXSocket s = unit.accept()) {
                c.getOutputStream().write(9);
                assertEquals(9, s.getInputStream().read());
            }
        }
    }

    @Test
    void closeWakesABlockedAcceptWithoutBreakingTheUnitsSocket() throws Exception {
        Path path = dir.resolve("unit2.sock");
        try (AFUNIXServerSocket unit = AFUNIXServerSocket.bindOn(AFUNIXSocketAddress.of(path), true)) {
            int unitFd = FileDescriptorCast.using(unit.getFileDescriptor()).as(Integer.class);
            InheritedListener adopted = InheritedListener.adopt(Libc.dupCloexec(unitFd));
            CompletableFuture<Throwable> acceptor = CompletableFuture.supplyAsync(() -> {
                try {
                    adopted.accept().close();
                    return null;
                } catch (Throwable t) {
                    return t;
                }
            });
            Thread.sleep(2 * InheritedListener.ACCEPT_POLL_MILLIS);
            long start = System.nanoTime();
            adopted.close();
            Throwable t = acceptor.get(5, TimeUnit.SECONDS);
            long ms = (System.nanoTime() - start) / 1_000_000;
            assertTrue(t instanceof SocketException, "accept ended with " + t);
            assertTrue(ms < 4L * InheritedListener.ACCEPT_POLL_MILLIS, "close took " + ms + " ms");
            assertThrows(SocketException.class, adopted::accept);
            adopted.close();
            try (AFUNIXSocket c = AFUNIXSocket.connectTo(AFUNIXSocketAddress.of(path));
                 AFUNIXSocket s = unit.accept()) {
                c.getOutputStream().write(3);
                assertEquals(3, s.getInputStream().read());
            }
        }
    }

    @Test
    void rejectsAnFdThatIsNotASocket() throws Exception {
        int memfd = MemFd.create("not-a-socket", 4096);
        try {
            IOException e = assertThrows(IOException.class, () -> InheritedListener.adopt(memfd));
            assertTrue(e.getMessage().contains("not a socket"), e.getMessage());
        } finally {
            Libc.close(memfd);
        }
    }

    @Test
    void rejectsAClosedFd() throws Exception {
        // Above any RLIMIT_NOFILE, so no fd of that number can be open (a closed small number could be reused).
        int fd = 1 << 30;
        IOException e = assertThrows(IOException.class, () -> InheritedListener.adopt(fd));
        assertTrue(e.getMessage().contains("not open"), e.getMessage());
    }
}

package dev.vhostd.protocol.testing;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;

import dev.vhostd.sys.ErrnoException;
import dev.vhostd.sys.Errno;
import dev.vhostd.sys.Libc;

/** Looks at this process's fd table, to prove that fds handed to vhostd get closed. */
public final class OpenFds {
    private OpenFds() {}

    /** How many open fds point at something whose /proc/self/fd link contains {@code target}. */
    public static long count(String target) {
        try (Stream<Path> fds = Files.list(Path.of("/proc/self/fd"))) {
            return fds.filter(fd -> {
                try {
                    return Files.readSymbolicLink(fd).toString().contains(target);
                } catch (IOException e) {
                    return false; // closed while we looked (e.g. the listing's own directory fd)
                }
            }).count();
        } catch (IOException e) {
            throw new IllegalStateException("cannot list /proc/self/fd", e);
        }
    }

    /** Open eventfds in this process (only tests create them here). */
    public static long eventfds() {
        return count("[eventfd]");
    }

    /** True if {@code fd} is not an open descriptor (fcntl fails with EBADF). */
    public static boolean isClosed(int fd) {
        try {
            Libc.fcntl(fd, Libc.F_GETFL, 0);
            return false;
        } catch (ErrnoException e) {
            if (e.errno() == Errno.EBADF) {
                return true;
            }
            throw e;
        }
    }
}

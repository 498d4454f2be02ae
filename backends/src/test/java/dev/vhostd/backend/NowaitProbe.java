package dev.vhostd.backend;

import dev.vhostd.sys.Errno;
import dev.vhostd.sys.IoVec;
import dev.vhostd.sys.Libc;
import dev.vhostd.sys.OwnedFd;

import java.lang.foreign.Arena;
import java.nio.file.Path;

/** What the kernel says of RWF_NOWAIT on a file of a given directory, asked directly (for tests). */
final class NowaitProbe {
    private NowaitProbe() {}

    /** Whether a buffered read or write with RWF_NOWAIT is refused with EOPNOTSUPP on {@code dir}'s file system. */
    static boolean unsupported(Path dir, boolean write) {
        Path file = dir.resolve("nowait-probe-" + System.nanoTime());
        try (Arena a = Arena.ofConfined();
             OwnedFd fd = new OwnedFd(Libc.open(file.toString(), Libc.O_RDWR | Libc.O_CREAT | Libc.O_CLOEXEC, 0600))) {
            Libc.ftruncate(fd.fd(), 4096);
            IoVec iov = new IoVec(a, 1);
            iov.add(a.allocate(4096, 4096));
            return iov.transfer2(write, fd.fd(), 0, Libc.RWF_NOWAIT) == -Errno.EOPNOTSUPP;
        } finally {
            file.toFile().delete();
        }
    }
}

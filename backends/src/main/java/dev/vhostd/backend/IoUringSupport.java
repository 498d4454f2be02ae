package dev.vhostd.backend;

import dev.vhostd.sys.Errno;
import dev.vhostd.sys.ErrnoException;
import dev.vhostd.sys.EventFd;
import dev.vhostd.sys.IoUring;
import dev.vhostd.sys.Libc;

/** Whether this process may use io_uring, probed once with a tiny ring and an eventfd registration. */
final class IoUringSupport {
    private static volatile String unavailableReason;
    private static volatile boolean probed;

    private IoUringSupport() {}

    /** Null when io_uring works, else why not, in words for an operator. */
    static String unavailableReason() {
        if (!probed) {
            synchronized (IoUringSupport.class) {
                if (!probed) {
                    unavailableReason = probe();
                    probed = true;
                }
            }
        }
        return unavailableReason;
    }

    static boolean available() {
        return unavailableReason() == null;
    }

    private static String probe() {
        // A queue also registers an eventfd: a filter may allow setup yet refuse io_uring_register.
        try (IoUring ring = IoUring.setup(2)) {
            int efd = EventFd.create();
            try {
                ring.registerEventFd(efd);
            } finally {
                Libc.close(efd);
            }
            return null;
        } catch (ErrnoException e) {
            String hint = switch (e.errno()) {
                case Errno.ENOSYS -> " (the kernel has no io_uring)";
                case Errno.EPERM, Errno.EACCES ->
                        " (disabled by sysctl kernel.io_uring_disabled or by a seccomp filter, as in many containers)";
                case Errno.ENOMEM -> " (locked-memory limit too low; raise ulimit -l)";
                default -> "";
            };
            return e.getMessage() + hint;
        } catch (RuntimeException | LinkageError e) {
            return "io_uring setup failed: " + e;
        }
    }
}

package dev.vhostd.backend;

import dev.vhostd.sys.Errno;
import dev.vhostd.sys.ErrnoException;
import dev.vhostd.sys.IoUring;

/** Whether this process may use io_uring, probed once by setting up and closing a tiny ring. */
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
        try (IoUring ring = IoUring.setup(2)) {
            return ring.sqEntries() > 0 ? null : "io_uring_setup returned an empty ring";
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

package dev.vhostd.sys;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * Signals and drains an eventfd by number. Each instance owns an 8-byte buffer, so use one per
 * thread (a poller keeps its own). It does not own the fd: whoever created or received it closes it.
 */
public final class EventFd {
    private final MemorySegment buffer = Arena.ofAuto().allocate(JAVA_LONG);

    /** Creates a new non-blocking, close-on-exec eventfd owned by the caller. */
    public static int create() {
        return Libc.eventfd(0, Libc.EFD_NONBLOCK | Libc.EFD_CLOEXEC);
    }

    /** Adds 1 to the counter: wakes whoever waits on {@code fd}. */
    public void signal(int fd) {
        buffer.set(JAVA_LONG, 0, 1L);
        Libc.write(fd, buffer, 8);
    }

    /**
     * What {@code fd} is, as /proc/self/fd shows it: "anon_inode:[eventfd]" for an eventfd,
     * "pipe:[123]", "socket:[456]" or a path otherwise.
     */
    public static String describe(int fd) {
        try {
            return java.nio.file.Files.readSymbolicLink(java.nio.file.Path.of("/proc/self/fd/" + fd)).toString();
        } catch (java.io.IOException | UnsupportedOperationException e) {
            return "unknown (" + e.getMessage() + ")";
        }
    }

    /** True if {@code fd} is an eventfd (and nothing else: a pipe, socket or file is not). */
    public static boolean isEventFd(int fd) {
        return describe(fd).equals("anon_inode:[eventfd]");
    }

    /**
     * Reads and resets the counter. Returns the value, or 0 if nothing was pending (the fd must be
     * non-blocking for that; a blocking fd with nothing pending would wait).
     */
    public long drain(int fd) {
        long r = Libc.read(fd, buffer, 8);
        return r == 8 ? buffer.get(JAVA_LONG, 0) : 0;
    }
}

package dev.vhostd.sys;

/**
 * A file descriptor this process owns and must close exactly once. Fds received over the socket are
 * duplicated (close-on-exec) into an OwnedFd so they outlive the message that carried them.
 */
public final class OwnedFd implements AutoCloseable {
    private int fd;

    public OwnedFd(int fd) {
        if (fd < 0) {
            throw new IllegalArgumentException("invalid fd " + fd);
        }
        this.fd = fd;
    }

    /** The fd number; valid until {@link #close()} or {@link #release()}. */
    public synchronized int fd() {
        if (fd < 0) {
            throw new IllegalStateException("fd already closed");
        }
        return fd;
    }

    public synchronized boolean isOpen() {
        return fd >= 0;
    }

    /** Gives up ownership: the caller now closes the returned fd. */
    public synchronized int release() {
        int f = fd();
        fd = -1;
        return f;
    }

    @Override
    public synchronized void close() {
        if (fd >= 0) {
            int f = fd;
            fd = -1;
            Libc.close(f);
        }
    }

    @Override
    public synchronized String toString() {
        return fd >= 0 ? "fd " + fd : "closed fd";
    }
}

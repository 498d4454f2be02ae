package dev.vhostd.sys;

/** memfd helpers: anonymous shared memory that can be passed to another process as an fd. */
public final class MemFd {
    private MemFd() {}

    /** A close-on-exec memfd of {@code size} bytes, owned by the caller. */
    public static int create(String name, long size) {
        int fd = Libc.memfdCreate(name, Libc.MFD_CLOEXEC);
        try {
            Libc.ftruncate(fd, size);
        } catch (RuntimeException e) {
            Libc.close(fd);
            throw e;
        }
        return fd;
    }
}

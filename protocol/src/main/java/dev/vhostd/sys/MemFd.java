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

    /**
     * A close-on-exec memfd of {@code size} bytes whose size is sealed (F_SEAL_SHRINK, F_SEAL_GROW,
     * then F_SEAL_SEAL): whoever we hand it to can write it but never truncate it, so our mapping
     * of it can never fault.
     */
    public static int createSealed(String name, long size) {
        int fd = Libc.memfdCreate(name, Libc.MFD_CLOEXEC | Libc.MFD_ALLOW_SEALING);
        try {
            Libc.ftruncate(fd, size);
            Libc.fcntl(fd, Libc.F_ADD_SEALS, Libc.F_SEAL_SHRINK | Libc.F_SEAL_GROW | Libc.F_SEAL_SEAL);
        } catch (RuntimeException e) {
            Libc.close(fd);
            throw e;
        }
        return fd;
    }

    /** The seals on {@code fd} (F_GET_SEALS), or 0 for a file that cannot carry seals. */
    public static int seals(int fd) {
        try {
            return Libc.fcntl(fd, Libc.F_GET_SEALS, 0);
        } catch (ErrnoException e) {
            return 0; // EINVAL: not a memfd/shmem file, so nothing stops a truncate
        }
    }

    /**
     * True if a shared mapping of {@code fd} within its current size can never fault: the size is
     * sealed against shrinking and the pages are not hugetlb pages (which can fail to fault in,
     * SIGBUS, when the huge page pool runs dry).
     */
    public static boolean mappingCannotFault(int fd) {
        if ((seals(fd) & Libc.F_SEAL_SHRINK) == 0) {
            return false;
        }
        try {
            return Libc.fstatfsType(fd) != Libc.HUGETLBFS_MAGIC;
        } catch (ErrnoException e) {
            return false;
        }
    }
}

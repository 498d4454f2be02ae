package dev.vhostd.sys;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The libc calls vhostd makes, as FFM downcalls. This package is the only place that touches
 * Linker, SymbolLookup or raw addresses. Each wrapper checks the result and throws
 * {@link ErrnoException} carrying errno, captured per call with {@code captureCallState}.
 * Wrappers that may be interrupted by signals retry on EINTR.
 */
public final class Libc {
    // mmap(2)
    public static final int PROT_READ = 0x1;
    public static final int PROT_WRITE = 0x2;
    public static final int MAP_SHARED = 0x01;
    public static final int MAP_PRIVATE = 0x02;
    public static final int MAP_ANONYMOUS = 0x20;
    public static final int MAP_NORESERVE = 0x4000;
    public static final int MAP_POPULATE = 0x8000;
    // madvise(2)
    public static final int MADV_DONTNEED = 4;
    // ioctl(2) on block devices (linux/fs.h)
    public static final long BLKSSZGET = 0x1268L;
    public static final long BLKDISCARD = 0x1277L;
    // open(2)
    public static final int O_RDONLY = 0;
    public static final int O_WRONLY = 1;
    public static final int O_RDWR = 2;
    public static final int O_CREAT = 0x40;
    public static final int O_EXCL = 0x80;
    public static final int O_NONBLOCK = 0x800;
    public static final int O_DIRECT = 0x4000;
    public static final int O_CLOEXEC = 0x80000;
    // eventfd(2)
    public static final int EFD_NONBLOCK = 0x800;
    public static final int EFD_CLOEXEC = 0x80000;
    // timerfd_create(2)
    public static final int CLOCK_MONOTONIC = 1;
    public static final int TFD_NONBLOCK = 0x800;
    public static final int TFD_CLOEXEC = 0x80000;
    public static final int TFD_TIMER_ABSTIME = 1;
    // memfd_create(2)
    public static final int MFD_CLOEXEC = 0x1;
    public static final int MFD_ALLOW_SEALING = 0x2;
    // fcntl(2)
    public static final int F_GETFL = 3;
    /** memfd seals (fcntl(2) F_ADD_SEALS / F_GET_SEALS, linux/fcntl.h). */
    public static final int F_ADD_SEALS = 1033;
    public static final int F_GET_SEALS = 1034;
    public static final int F_SEAL_SEAL = 0x1;
    public static final int F_SEAL_SHRINK = 0x2;
    public static final int F_SEAL_GROW = 0x4;
    /** statfs f_type of hugetlbfs (linux/magic.h): its pages can fail to fault in (SIGBUS) even when sealed. */
    public static final long HUGETLBFS_MAGIC = 0x958458f6L;
    public static final int F_SETFL = 4;
    public static final int F_DUPFD_CLOEXEC = 1030;
    public static final int F_GETFD = 1;
    public static final int F_SETFD = 2;
    public static final int FD_CLOEXEC = 1;
    // getsockopt(2), socket(7)
    public static final int SOL_SOCKET = 1;
    public static final int SO_TYPE = 3;
    public static final int SO_ACCEPTCONN = 30;
    public static final int SO_DOMAIN = 39;
    public static final int AF_UNIX = 1;
    public static final int SOCK_STREAM = 1;
    // getrusage(2): the calling thread only; struct rusage on x86-64 is two timevals and 14 longs
    public static final int RUSAGE_THREAD = 1;
    public static final long RUSAGE_SIZE = 144;
    /** ru_nivcsw, the involuntary context switches: the last of the 14 longs. */
    public static final long RUSAGE_NIVCSW_OFFSET = 136;
    // fallocate(2)
    public static final int FALLOC_FL_KEEP_SIZE = 0x01;
    public static final int FALLOC_FL_PUNCH_HOLE = 0x02;
    public static final int FALLOC_FL_ZERO_RANGE = 0x10;
    // preadv2(2)/pwritev2(2): fail with EAGAIN rather than block; EOPNOTSUPP where unsupported
    public static final int RWF_NOWAIT = 0x8;
    // lseek(2)
    public static final int SEEK_SET = 0;
    public static final int SEEK_END = 2;
    // stat st_mode
    public static final int S_IFMT = 0xF000;
    public static final int S_IFREG = 0x8000;
    public static final int S_IFBLK = 0x6000;
    public static final int S_IFSOCK = 0xC000;

    private static final Linker LINKER = Linker.nativeLinker();
    private static final SymbolLookup LIBC = LINKER.defaultLookup();
    private static final StructLayout CALL_STATE = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO =
            CALL_STATE.varHandle(MemoryLayout.PathElement.groupElement("errno"));
    private static final Linker.Option CAPTURE = Linker.Option.captureCallState("errno");

    /** One errno capture buffer per thread, so a call allocates nothing. */
    private static final ThreadLocal<MemorySegment> STATE =
            ThreadLocal.withInitial(() -> Arena.global().allocate(CALL_STATE));

    private static final MethodHandle MMAP = downcall("mmap",
            FunctionDescriptor.of(ADDRESS, ADDRESS, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_LONG));
    private static final MethodHandle MUNMAP = downcall("munmap",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG));
    private static final MethodHandle CLOSE = downcall("close", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
    private static final MethodHandle READ = downcall("read",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG));
    private static final MethodHandle WRITE = downcall("write",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG));
    private static final MethodHandle PREAD = downcall("pread64",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_LONG));
    private static final MethodHandle PWRITE = downcall("pwrite64",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_LONG));
    private static final MethodHandle PREADV = downcall("preadv",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT, JAVA_LONG));
    private static final MethodHandle PWRITEV = downcall("pwritev",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT, JAVA_LONG));
    private static final MethodHandle PREADV2 = downcall("preadv2",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT, JAVA_LONG, JAVA_INT));
    private static final MethodHandle PWRITEV2 = downcall("pwritev2",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT, JAVA_LONG, JAVA_INT));
    /** memset is a plain function: no errno, and short enough to run without a thread-state change. */
    private static final MethodHandle MEMSET = LINKER.downcallHandle(LIBC.find("memset").orElseThrow(),
            FunctionDescriptor.of(ADDRESS, ADDRESS, JAVA_INT, JAVA_LONG), Linker.Option.critical(false));
    private static final MethodHandle TIMERFD_CREATE = downcall("timerfd_create",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT));
    private static final MethodHandle TIMERFD_SETTIME = downcall("timerfd_settime",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS));
    private static final MethodHandle EVENTFD = downcall("eventfd",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT));
    private static final MethodHandle MEMFD_CREATE = downcall("memfd_create",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
    private static final MethodHandle FTRUNCATE = downcall("ftruncate",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG));
    private static final MethodHandle LSEEK = downcall("lseek",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, JAVA_LONG, JAVA_INT));
    private static final MethodHandle OPEN = downcall("open",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT), Linker.Option.firstVariadicArg(2));
    private static final MethodHandle GETSOCKOPT = downcall("getsockopt",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS));
    private static final MethodHandle DUP3 = downcall("dup3",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT));
    private static final MethodHandle FCNTL = downcall("fcntl",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT), Linker.Option.firstVariadicArg(2));
    private static final MethodHandle FALLOCATE = downcall("fallocate",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_LONG));
    private static final MethodHandle FDATASYNC = downcall("fdatasync", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
    private static final MethodHandle FSTAT = downcall("fstat", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS));
    private static final MethodHandle FSTATFS = downcall("fstatfs", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS));
    private static final MethodHandle IOCTL = downcall("ioctl",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, ADDRESS), Linker.Option.firstVariadicArg(2));
    private static final MethodHandle MADVISE = downcall("madvise",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT));
    private static final MethodHandle EPOLL_CREATE1 = downcall("epoll_create1",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT));
    private static final MethodHandle EPOLL_CTL = downcall("epoll_ctl",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS));
    private static final MethodHandle EPOLL_WAIT = downcall("epoll_wait",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT));
    private static final MethodHandle GETRUSAGE = downcall("getrusage",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS));
    private static final MethodHandle GETPID = LINKER.downcallHandle(
            LIBC.find("getpid").orElseThrow(), FunctionDescriptor.of(JAVA_INT));
    private static final MethodHandle SYSCALL6 = downcall("syscall",
            FunctionDescriptor.of(JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG,
                    JAVA_LONG), Linker.Option.firstVariadicArg(1));
    private static final MethodHandle STRERROR = LINKER.downcallHandle(
            LIBC.find("strerror").orElseThrow(), FunctionDescriptor.of(ADDRESS, JAVA_INT));

    /** struct stat on x86-64: st_mode at 24, st_size at 48, 144 bytes in all. */
    private static final long STAT_SIZE = 144;
    private static final long STAT_MODE_OFFSET = 24;
    private static final long STAT_SIZE_OFFSET = 48;
    private static final long BLKGETSIZE64 = 0x80081272L;

    private Libc() {}

    private static MethodHandle downcall(String name, FunctionDescriptor fd, Linker.Option... extra) {
        Linker.Option[] options = new Linker.Option[extra.length + 1];
        options[0] = CAPTURE;
        System.arraycopy(extra, 0, options, 1, extra.length);
        MemorySegment symbol = LIBC.find(name)
                .orElseThrow(() -> new UnsatisfiedLinkError("libc has no symbol " + name));
        // The handle takes the capture segment as its first argument.
        return LINKER.downcallHandle(symbol, fd, options);
    }

    private static MemorySegment state() {
        return STATE.get();
    }

    private static int errno(MemorySegment state) {
        return (int) ERRNO.get(state, 0L);
    }

    private static RuntimeException rethrow(Throwable t) {
        if (t instanceof RuntimeException r) {
            return r;
        }
        if (t instanceof Error e) {
            throw e;
        }
        return new IllegalStateException(t);
    }

    static String strerror(int errno) {
        try {
            MemorySegment s = (MemorySegment) STRERROR.invokeExact(errno);
            // SAFETY: strerror returns a NUL-terminated static string; 256 bytes bounds the scan.
            return s.reinterpret(256).getString(0);
        } catch (Throwable t) {
            return "errno " + errno;
        }
    }

    /** getrusage(2) into {@code buf} (a struct rusage, {@link #RUSAGE_SIZE} bytes). */
    public static void getrusage(int who, MemorySegment buf) {
        checkBounds(buf, RUSAGE_SIZE);
        MemorySegment st = state();
        int r;
        try {
            r = (int) GETRUSAGE.invokeExact(st, who, buf);
        } catch (Throwable t) {
            throw rethrow(t);
        }
        if (r != 0) {
            throw new ErrnoException("getrusage", errno(st), "who " + who);
        }
    }

    public static int getpid() {
        try {
            return (int) GETPID.invokeExact();
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /**
     * Maps {@code length} bytes of {@code fd} at {@code offset}. The returned segment is bound to
     * {@code arena}: closing the arena unmaps it.
     */
    public static MemorySegment mmap(Arena arena, long length, int prot, int flags, int fd, long offset) {
        MemorySegment st = state();
        MemorySegment addr;
        try {
            addr = (MemorySegment) MMAP.invokeExact(st, MemorySegment.NULL, length, prot, flags, fd, offset);
        } catch (Throwable t) {
            throw rethrow(t);
        }
        if (addr.address() == -1L) {
            throw new ErrnoException("mmap", errno(st), "length " + length + " offset " + offset + " fd " + fd);
        }
        long raw = addr.address();
        // SAFETY: mmap returned a mapping of exactly `length` bytes at `raw`; it is unmapped only by the
        // arena's cleanup, after which the segment is no longer accessible.
        return addr.reinterpret(length, arena, s -> munmapQuietly(raw, length));
    }

    private static void munmapQuietly(long address, long length) {
        try {
            int r = (int) MUNMAP.invokeExact(state(), MemorySegment.ofAddress(address), length);
            if (r != 0) {
                System.getLogger("dev.vhostd.sys").log(System.Logger.Level.WARNING,
                        "munmap of " + length + " bytes failed: errno " + errno(state()));
            }
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public static void close(int fd) {
        MemorySegment st = state();
        int r;
        try {
            r = (int) CLOSE.invokeExact(st, fd);
        } catch (Throwable t) {
            throw rethrow(t);
        }
        // Linux releases the descriptor even when close reports EINTR: never retry.
        if (r != 0 && errno(st) != Errno.EINTR) {
            throw new ErrnoException("close", errno(st), "fd " + fd);
        }
    }

    /** read(2), retrying EINTR. Returns bytes read, or -1 for EAGAIN on a non-blocking fd. */
    public static long read(int fd, MemorySegment buf, long len) {
        checkBounds(buf, len);
        MemorySegment st = state();
        while (true) {
            long r;
            try {
                r = (long) READ.invokeExact(st, fd, buf, len);
            } catch (Throwable t) {
                throw rethrow(t);
            }
            if (r >= 0) {
                return r;
            }
            int e = errno(st);
            if (e == Errno.EINTR) {
                continue;
            }
            if (e == Errno.EAGAIN) {
                return -1;
            }
            throw new ErrnoException("read", e, "fd " + fd);
        }
    }

    /** write(2), retrying EINTR. Returns bytes written, or -1 for EAGAIN on a non-blocking fd. */
    public static long write(int fd, MemorySegment buf, long len) {
        checkBounds(buf, len);
        MemorySegment st = state();
        while (true) {
            long r;
            try {
                r = (long) WRITE.invokeExact(st, fd, buf, len);
            } catch (Throwable t) {
                throw rethrow(t);
            }
            if (r >= 0) {
                return r;
            }
            int e = errno(st);
            if (e == Errno.EINTR) {
                continue;
            }
            if (e == Errno.EAGAIN) {
                return -1;
            }
            throw new ErrnoException("write", e, "fd " + fd);
        }
    }

    /** pread(2) into {@code buf}, retrying EINTR; short reads are returned as they are. */
    public static long pread(int fd, MemorySegment buf, long len, long offset) {
        checkBounds(buf, len);
        MemorySegment st = state();
        while (true) {
            long r;
            try {
                r = (long) PREAD.invokeExact(st, fd, buf, len, offset);
            } catch (Throwable t) {
                throw rethrow(t);
            }
            if (r >= 0) {
                return r;
            }
            int e = errno(st);
            if (e != Errno.EINTR) {
                throw new ErrnoException("pread", e, "fd " + fd + " offset " + offset + " length " + len);
            }
        }
    }

    /** pwrite(2) from {@code buf}, retrying EINTR; short writes are returned as they are. */
    public static long pwrite(int fd, MemorySegment buf, long len, long offset) {
        checkBounds(buf, len);
        MemorySegment st = state();
        while (true) {
            long r;
            try {
                r = (long) PWRITE.invokeExact(st, fd, buf, len, offset);
            } catch (Throwable t) {
                throw rethrow(t);
            }
            if (r >= 0) {
                return r;
            }
            int e = errno(st);
            if (e != Errno.EINTR) {
                throw new ErrnoException("pwrite", e, "fd " + fd + " offset " + offset + " length " + len);
            }
        }
    }

    /**
     * preadv(2). {@code iov} holds {@code iovcnt} struct iovec (16 bytes each) built with
     * {@link IoVec}; every base/length pair in it must come from a live segment.
     */
    public static long preadv(int fd, MemorySegment iov, int iovcnt, long offset) {
        checkIov(iov, iovcnt);
        MemorySegment st = state();
        while (true) {
            long r;
            try {
                r = (long) PREADV.invokeExact(st, fd, iov, iovcnt, offset);
            } catch (Throwable t) {
                throw rethrow(t);
            }
            if (r >= 0) {
                return r;
            }
            int e = errno(st);
            if (e != Errno.EINTR) {
                throw new ErrnoException("preadv", e, "fd " + fd + " offset " + offset);
            }
        }
    }

    /** pwritev(2); see {@link #preadv}. */
    public static long pwritev(int fd, MemorySegment iov, int iovcnt, long offset) {
        checkIov(iov, iovcnt);
        MemorySegment st = state();
        while (true) {
            long r;
            try {
                r = (long) PWRITEV.invokeExact(st, fd, iov, iovcnt, offset);
            } catch (Throwable t) {
                throw rethrow(t);
            }
            if (r >= 0) {
                return r;
            }
            int e = errno(st);
            if (e != Errno.EINTR) {
                throw new ErrnoException("pwritev", e, "fd " + fd + " offset " + offset);
            }
        }
    }

    /**
     * preadv2(2) or pwritev2(2) with {@code flags} (such as {@link #RWF_NOWAIT}). Unlike the other
     * wrappers it returns a negative errno instead of throwing: with RWF_NOWAIT, EAGAIN is an
     * expected answer, not a failure. Retries on EINTR.
     */
    public static long preadwritev2(boolean write, int fd, MemorySegment iov, int iovcnt, long offset, int flags) {
        checkIov(iov, iovcnt);
        MemorySegment st = state();
        while (true) {
            long r;
            try {
                r = write ? (long) PWRITEV2.invokeExact(st, fd, iov, iovcnt, offset, flags)
                        : (long) PREADV2.invokeExact(st, fd, iov, iovcnt, offset, flags);
            } catch (Throwable t) {
                throw rethrow(t);
            }
            if (r >= 0) {
                return r;
            }
            int e = errno(st);
            if (e != Errno.EINTR) {
                return -e;
            }
        }
    }

    /**
     * Sets every byte of {@code segment} to {@code value} with libc's memset, which is markedly
     * faster than {@link MemorySegment#fill} on large buffers (measured: 64 KiB in cache, 1.5-2x).
     * The segment's scope is held for the call; a read-only segment is refused, not written.
     * Only for memory that cannot fault (our own, or a front-end's sealed against shrinking): a
     * fault inside a native call is a SIGBUS that kills the JVM.
     */
    public static void memset(MemorySegment segment, int value) {
        if (segment.isReadOnly()) {
            throw new UnsupportedOperationException("read-only segment");
        }
        if (!segment.isNative()) {
            segment.fill((byte) value);
            return;
        }
        // A critical call holds off safepoints: bound each one to a chunk that takes microseconds.
        long size = segment.byteSize();
        try {
            if (size <= MEMSET_CHUNK) {
                MemorySegment ignored = (MemorySegment) MEMSET.invokeExact(segment, value, size);
                return;
            }
            for (long at = 0; at < size; at += MEMSET_CHUNK) {
                long n = Math.min(MEMSET_CHUNK, size - at);
                MemorySegment ignored = (MemorySegment) MEMSET.invokeExact(segment.asSlice(at, n), value, n);
            }
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    private static final long MEMSET_CHUNK = 1 << 20;

    /** timerfd_create(CLOCK_MONOTONIC, flags): the clock System.nanoTime reads on Linux. */
    public static int timerfdCreate(int flags) {
        MemorySegment st = state();
        int r;
        try {
            r = (int) TIMERFD_CREATE.invokeExact(st, CLOCK_MONOTONIC, flags);
        } catch (Throwable t) {
            throw rethrow(t);
        }
        if (r < 0) {
            throw new ErrnoException("timerfd_create", errno(st));
        }
        return r;
    }

    /** timerfd_settime(fd, flags, spec, NULL); {@code spec} is a 32-byte struct itimerspec. */
    public static void timerfdSettime(int fd, int flags, MemorySegment spec) {
        checkBounds(spec, 32);
        MemorySegment st = state();
        int r;
        try {
            r = (int) TIMERFD_SETTIME.invokeExact(st, fd, flags, spec, MemorySegment.NULL);
        } catch (Throwable t) {
            throw rethrow(t);
        }
        if (r < 0) {
            throw new ErrnoException("timerfd_settime", errno(st), "fd " + fd);
        }
    }

    public static int eventfd(int initval, int flags) {
        MemorySegment st = state();
        int r;
        try {
            r = (int) EVENTFD.invokeExact(st, initval, flags);
        } catch (Throwable t) {
            throw rethrow(t);
        }
        if (r < 0) {
            throw new ErrnoException("eventfd", errno(st));
        }
        return r;
    }

    public static int memfdCreate(String name, int flags) {
        MemorySegment st = state();
        int r;
        try (Arena a = Arena.ofConfined()) {
            r = (int) MEMFD_CREATE.invokeExact(st, a.allocateFrom(name), flags);
        } catch (Throwable t) {
            throw rethrow(t);
        }
        if (r < 0) {
            throw new ErrnoException("memfd_create", errno(st), name);
        }
        return r;
    }

    public static void ftruncate(int fd, long length) {
        MemorySegment st = state();
        int r;
        try {
            r = (int) FTRUNCATE.invokeExact(st, fd, length);
        } catch (Throwable t) {
            throw rethrow(t);
        }
        if (r != 0) {
            throw new ErrnoException("ftruncate", errno(st), "fd " + fd + " length " + length);
        }
    }

    public static long lseek(int fd, long offset, int whence) {
        MemorySegment st = state();
        long r;
        try {
            r = (long) LSEEK.invokeExact(st, fd, offset, whence);
        } catch (Throwable t) {
            throw rethrow(t);
        }
        if (r < 0) {
            throw new ErrnoException("lseek", errno(st), "fd " + fd);
        }
        return r;
    }

    /** open(2), retrying EINTR; returns the new fd (callers normally add O_CLOEXEC). */
    public static int open(String path, int flags, int mode) {
        MemorySegment st = state();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment cpath = a.allocateFrom(path);
            while (true) {
                int r = (int) OPEN.invokeExact(st, cpath, flags, mode);
                if (r >= 0) {
                    return r;
                }
                int e = errno(st);
                if (e != Errno.EINTR) {
                    throw new ErrnoException("open", e, path);
                }
            }
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public static int fcntl(int fd, int cmd, int arg) {
        MemorySegment st = state();
        int r;
        try {
            r = (int) FCNTL.invokeExact(st, fd, cmd, arg);
        } catch (Throwable t) {
            throw rethrow(t);
        }
        if (r < 0) {
            throw new ErrnoException("fcntl", errno(st), "fd " + fd + " cmd " + cmd);
        }
        return r;
    }

    /** A close-on-exec duplicate of {@code fd}, owned by the caller. */
    public static int dupCloexec(int fd) {
        return fcntl(fd, F_DUPFD_CLOEXEC, 0);
    }

    /**
     * dup3(2): makes {@code newfd} refer to what {@code oldfd} refers to, atomically closing what
     * {@code newfd} referred to before (without shutting a socket down). Retries EINTR.
     */
    public static void dup3(int oldfd, int newfd, int flags) {
        MemorySegment st = state();
        while (true) {
            int r;
            try {
                r = (int) DUP3.invokeExact(st, oldfd, newfd, flags);
            } catch (Throwable t) {
                throw rethrow(t);
            }
            if (r >= 0) {
                return;
            }
            int e = errno(st);
            if (e != Errno.EINTR) {
                throw new ErrnoException("dup3", e, "oldfd " + oldfd + " newfd " + newfd);
            }
        }
    }

    /** getsockopt(2) for an int-valued option (SO_TYPE, SO_DOMAIN, SO_ACCEPTCONN, ...). */
    public static int getsockoptInt(int fd, int level, int option) {
        MemorySegment st = state();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment value = a.allocate(JAVA_INT);
            MemorySegment len = a.allocate(JAVA_INT);
            len.set(JAVA_INT, 0, (int) JAVA_INT.byteSize());
            int r = (int) GETSOCKOPT.invokeExact(st, fd, level, option, value, len);
            if (r != 0) {
                throw new ErrnoException("getsockopt", errno(st), "fd " + fd + " level " + level + " option " + option);
            }
            return value.get(JAVA_INT, 0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public static void setNonBlocking(int fd) {
        int flags = fcntl(fd, F_GETFL, 0);
        fcntl(fd, F_SETFL, flags | O_NONBLOCK);
    }

    /** fallocate(2), retrying EINTR. Throws ErrnoException (EOPNOTSUPP where the fs cannot). */
    public static void fallocate(int fd, int mode, long offset, long length) {
        MemorySegment st = state();
        while (true) {
            int r;
            try {
                r = (int) FALLOCATE.invokeExact(st, fd, mode, offset, length);
            } catch (Throwable t) {
                throw rethrow(t);
            }
            if (r == 0) {
                return;
            }
            int e = errno(st);
            if (e != Errno.EINTR) {
                throw new ErrnoException("fallocate", e, "mode " + mode + " offset " + offset + " length " + length);
            }
        }
    }

    public static void fdatasync(int fd) {
        MemorySegment st = state();
        while (true) {
            int r;
            try {
                r = (int) FDATASYNC.invokeExact(st, fd);
            } catch (Throwable t) {
                throw rethrow(t);
            }
            if (r == 0) {
                return;
            }
            int e = errno(st);
            if (e != Errno.EINTR) {
                throw new ErrnoException("fdatasync", e, "fd " + fd);
            }
        }
    }

    /** File type and size: regular files report st_size, block devices their BLKGETSIZE64. */
    public record FileStat(int mode, long size) {
        public boolean isRegular() {
            return (mode & S_IFMT) == S_IFREG;
        }

        public boolean isBlockDevice() {
            return (mode & S_IFMT) == S_IFBLK;
        }

        public boolean isSocket() {
            return (mode & S_IFMT) == S_IFSOCK;
        }
    }

    public static FileStat fstat(int fd) {
        MemorySegment st = state();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment buf = a.allocate(STAT_SIZE, 8);
            int r = (int) FSTAT.invokeExact(st, fd, buf);
            if (r != 0) {
                throw new ErrnoException("fstat", errno(st), "fd " + fd);
            }
            int mode = buf.get(JAVA_INT, STAT_MODE_OFFSET);
            long size = buf.get(JAVA_LONG, STAT_SIZE_OFFSET);
            if ((mode & S_IFMT) == S_IFBLK) {
                MemorySegment out = a.allocate(JAVA_LONG);
                ioctl(fd, BLKGETSIZE64, out);
                size = out.get(JAVA_LONG, 0);
            }
            return new FileStat(mode, size);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** struct statfs on x86-64 is 120 bytes; f_type is its first field (a long). */
    private static final long STATFS_SIZE = 120;

    /** fstatfs(2)'s f_type: which file system {@code fd} lives on (e.g. {@link #HUGETLBFS_MAGIC}). */
    public static long fstatfsType(int fd) {
        MemorySegment st = state();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment buf = a.allocate(STATFS_SIZE, 8);
            int r = (int) FSTATFS.invokeExact(st, fd, buf);
            if (r != 0) {
                throw new ErrnoException("fstatfs", errno(st), "fd " + fd);
            }
            return buf.get(JAVA_LONG, 0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /**
     * ioctl(2) with a pointer argument: {@code arg} is the in/out buffer the request expects
     * (BLKSSZGET: int; BLKDISCARD: two u64 start/length). Returns the ioctl's non-negative result.
     */
    public static int ioctl(int fd, long request, MemorySegment arg) {
        if (!arg.isNative()) {
            throw new IllegalArgumentException("ioctl argument must be native memory");
        }
        MemorySegment st = state();
        while (true) {
            int r;
            try {
                r = (int) IOCTL.invokeExact(st, fd, request, arg);
            } catch (Throwable t) {
                throw rethrow(t);
            }
            if (r >= 0) {
                return r;
            }
            int e = errno(st);
            if (e != Errno.EINTR) {
                throw new ErrnoException("ioctl", e, "fd " + fd + " request 0x" + Long.toHexString(request));
            }
        }
    }

    /** Logical sector size of a block device (ioctl BLKSSZGET). */
    public static int blockDeviceSectorSize(int fd) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(JAVA_INT);
            ioctl(fd, BLKSSZGET, out);
            return out.get(JAVA_INT, 0);
        }
    }

    /**
     * madvise(2) over the whole of {@code segment}, which must start on a page boundary (mmap
     * hands out such segments; slices of them at page-aligned offsets qualify).
     */
    public static void madvise(MemorySegment segment, int advice) {
        if (!segment.isNative()) {
            throw new IllegalArgumentException("madvise needs native memory");
        }
        MemorySegment st = state();
        int r;
        try {
            r = (int) MADVISE.invokeExact(st, segment, segment.byteSize(), advice);
        } catch (Throwable t) {
            throw rethrow(t);
        }
        if (r != 0) {
            throw new ErrnoException("madvise", errno(st), "length " + segment.byteSize() + " advice " + advice);
        }
    }

    public static int epollCreate() {
        MemorySegment st = state();
        int r;
        try {
            r = (int) EPOLL_CREATE1.invokeExact(st, O_CLOEXEC);
        } catch (Throwable t) {
            throw rethrow(t);
        }
        if (r < 0) {
            throw new ErrnoException("epoll_create1", errno(st));
        }
        return r;
    }

    /** epoll_ctl with a caller-provided 12-byte event buffer (packed struct epoll_event). */
    public static void epollCtl(int epfd, int op, int fd, MemorySegment event) {
        MemorySegment st = state();
        int r;
        try {
            r = (int) EPOLL_CTL.invokeExact(st, epfd, op, fd, event);
        } catch (Throwable t) {
            throw rethrow(t);
        }
        if (r != 0) {
            throw new ErrnoException("epoll_ctl", errno(st), "op " + op + " fd " + fd);
        }
    }

    /** epoll_wait; returns 0 when interrupted by a signal (callers loop anyway). */
    public static int epollWait(int epfd, MemorySegment events, int maxEvents, int timeoutMs) {
        if (events.byteSize() < (long) maxEvents * Epoll.EVENT_SIZE) {
            throw new IndexOutOfBoundsException("epoll event buffer too small for " + maxEvents);
        }
        MemorySegment st = state();
        int r;
        try {
            r = (int) EPOLL_WAIT.invokeExact(st, epfd, events, maxEvents, timeoutMs);
        } catch (Throwable t) {
            throw rethrow(t);
        }
        if (r < 0) {
            int e = errno(st);
            if (e == Errno.EINTR) {
                return 0;
            }
            throw new ErrnoException("epoll_wait", e, "epfd " + epfd);
        }
        return r;
    }

    /** A raw syscall with up to six arguments (for io_uring, which libc does not wrap). */
    public static long syscall(long number, long a1, long a2, long a3, long a4, long a5, long a6) {
        MemorySegment st = state();
        long r;
        try {
            r = (long) SYSCALL6.invokeExact(st, number, a1, a2, a3, a4, a5, a6);
        } catch (Throwable t) {
            throw rethrow(t);
        }
        if (r < 0) {
            return -errno(st);
        }
        return r;
    }

    private static void checkBounds(MemorySegment buf, long len) {
        if (len < 0 || len > buf.byteSize()) {
            throw new IndexOutOfBoundsException("length " + len + " exceeds buffer of " + buf.byteSize());
        }
    }

    private static void checkIov(MemorySegment iov, int iovcnt) {
        if (iovcnt < 0 || (long) iovcnt * IoVec.IOVEC_SIZE > iov.byteSize()) {
            throw new IndexOutOfBoundsException("iovec count " + iovcnt + " exceeds its buffer");
        }
    }

    /** Address of a native segment, for building iovecs and io_uring SQEs. */
    static long addressOf(MemorySegment segment) {
        if (!segment.isNative()) {
            throw new IllegalArgumentException("not a native segment");
        }
        return segment.address();
    }

}

package dev.vhostd.sys;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

/**
 * An io_uring instance driven by raw syscalls (liburing's helpers are inline C, not callable).
 * One thread owns it: it fills submission queue entries, pushes a batch with one
 * io_uring_enter, and walks the completion queue. No SQPOLL: the kernel reads the SQ only inside
 * io_uring_enter, so the owner may rewind SQEs the kernel has not consumed.
 *
 * <p>Layouts are the x86-64 uapi ones from linux/io_uring.h: struct io_uring_params (120 bytes),
 * io_uring_sqe (64 bytes), io_uring_cqe (16 bytes).
 */
public final class IoUring implements AutoCloseable {
    static final long SYS_IO_URING_SETUP = 425;
    static final long SYS_IO_URING_ENTER = 426;
    static final long SYS_IO_URING_REGISTER = 427;

    public static final byte OP_READV = 1;
    public static final byte OP_WRITEV = 2;
    public static final byte OP_FSYNC = 3;
    public static final byte OP_FALLOCATE = 17;
    public static final int FSYNC_DATASYNC = 1;

    private static final int SETUP_CLAMP = 1 << 4;
    private static final int FEAT_SINGLE_MMAP = 1;
    private static final int ENTER_GETEVENTS = 1;
    private static final int REGISTER_EVENTFD = 4;
    private static final long OFF_SQ_RING = 0L;
    private static final long OFF_CQ_RING = 0x8000000L;
    private static final long OFF_SQES = 0x10000000L;
    private static final long PARAMS_SIZE = 120;
    private static final long SQE_SIZE = 64;
    private static final long CQE_SIZE = 16;

    /** Ring indices are u32 shared with the kernel: acquire what it writes, release what we write. */
    private static final VarHandle U32 = JAVA_INT.varHandle().withInvokeExactBehavior();

    private final Arena arena = Arena.ofShared();
    private final OwnedFd ringFd;
    private final MemorySegment sqRing;
    private final MemorySegment cqRing;
    private final MemorySegment sqes;
    private final long sqHeadOff;
    private final long sqTailOff;
    private final long cqHeadOff;
    private final long cqTailOff;
    private final long cqesOff;
    private final int sqMask;
    private final int sqEntries;
    private final int cqMask;
    private final int cqEntries;
    /** Our copy of the SQ tail (entries filled) and of how far the kernel has been told. */
    private int sqTail;
    private int submittedTail;
    private int cqHead;
    private long enterCalls;

    /** Receives one completion: the SQE's user_data and the result (bytes or a negative errno). */
    @FunctionalInterface
    public interface CompletionHandler {
        void completed(long userData, int result);
    }

    private IoUring(int entries) {
        int fd;
        long sqArrayOff;
        int features;
        try (Arena setup = Arena.ofConfined()) {
            MemorySegment p = setup.allocate(PARAMS_SIZE, 8);
            p.set(JAVA_INT, 8, SETUP_CLAMP);
            // SAFETY: p is a live 120-byte buffer, the size of struct io_uring_params the kernel fills.
            long r = Libc.syscall(SYS_IO_URING_SETUP, entries, Libc.addressOf(p), 0, 0, 0, 0);
            if (r < 0) {
                throw new ErrnoException("io_uring_setup", (int) -r, entries + " entries");
            }
            fd = (int) r;
            sqEntries = p.get(JAVA_INT, 0);
            cqEntries = p.get(JAVA_INT, 4);
            features = p.get(JAVA_INT, 20);
            sqHeadOff = Integer.toUnsignedLong(p.get(JAVA_INT, 40));
            sqTailOff = Integer.toUnsignedLong(p.get(JAVA_INT, 44));
            long sqMaskOff = Integer.toUnsignedLong(p.get(JAVA_INT, 48));
            sqArrayOff = Integer.toUnsignedLong(p.get(JAVA_INT, 64));
            cqHeadOff = Integer.toUnsignedLong(p.get(JAVA_INT, 80));
            cqTailOff = Integer.toUnsignedLong(p.get(JAVA_INT, 84));
            long cqMaskOff = Integer.toUnsignedLong(p.get(JAVA_INT, 88));
            cqesOff = Integer.toUnsignedLong(p.get(JAVA_INT, 100));
            ringFd = new OwnedFd(fd);
            try {
                long sqSize = sqArrayOff + 4L * sqEntries;
                long cqSize = cqesOff + CQE_SIZE * cqEntries;
                int prot = Libc.PROT_READ | Libc.PROT_WRITE;
                int flags = Libc.MAP_SHARED | Libc.MAP_POPULATE;
                if ((features & FEAT_SINGLE_MMAP) != 0) {
                    sqRing = Libc.mmap(arena, Math.max(sqSize, cqSize), prot, flags, fd, OFF_SQ_RING);
                    cqRing = sqRing;
                } else {
                    sqRing = Libc.mmap(arena, sqSize, prot, flags, fd, OFF_SQ_RING);
                    cqRing = Libc.mmap(arena, cqSize, prot, flags, fd, OFF_CQ_RING);
                }
                sqes = Libc.mmap(arena, SQE_SIZE * sqEntries, prot, flags, fd, OFF_SQES);
            } catch (RuntimeException e) {
                arena.close();
                ringFd.close();
                throw e;
            }
            sqMask = sqRing.get(JAVA_INT, sqMaskOff);
            cqMask = cqRing.get(JAVA_INT, cqMaskOff);
        }
        // SQE i always sits in array slot i, so the owner only ever advances the tail.
        for (int i = 0; i < sqEntries; i++) {
            sqRing.set(JAVA_INT, sqArrayOff + 4L * i, i);
        }
        sqTail = (int) U32.getAcquire(sqRing, sqTailOff);
        submittedTail = sqTail;
        cqHead = (int) U32.getAcquire(cqRing, cqHeadOff);
    }

    /**
     * Creates a ring of at least {@code entries} submission entries (the kernel rounds up to a
     * power of two and clamps to its maximum). Throws ErrnoException when io_uring is unavailable:
     * ENOSYS (old kernel), EPERM (disabled by sysctl or a seccomp filter).
     */
    public static IoUring setup(int entries) {
        if (entries < 1) {
            throw new IllegalArgumentException("io_uring needs at least one entry, got " + entries);
        }
        return new IoUring(entries);
    }

    public int sqEntries() {
        return sqEntries;
    }

    public int cqEntries() {
        return cqEntries;
    }

    /** How many io_uring_enter calls this ring has made (for tests and metrics). */
    public long enterCalls() {
        return enterCalls;
    }

    /** Free submission entries. */
    public int sqSpace() {
        int head = (int) U32.getAcquire(sqRing, sqHeadOff);
        return sqEntries - (sqTail - head);
    }

    /** Entries filled but not yet passed to the kernel by {@link #submit}. */
    public int unsubmitted() {
        return sqTail - submittedTail;
    }

    /**
     * Queues a readv of {@code iov} at {@code offset}; false if the submission queue is full.
     * SAFETY: the kernel keeps the raw addresses of the iovec array and of every buffer it lists
     * until the completion is reaped; the caller keeps all of them alive and untouched till then.
     */
    public boolean prepReadv(int fd, IoVec iov, long offset, long userData) {
        return prep(OP_READV, fd, offset, Libc.addressOf(iov.segment()), iov.count(), 0, userData);
    }

    /** Queues a writev of {@code iov} at {@code offset}; false if the queue is full. SAFETY: as {@link #prepReadv}. */
    public boolean prepWritev(int fd, IoVec iov, long offset, long userData) {
        return prep(OP_WRITEV, fd, offset, Libc.addressOf(iov.segment()), iov.count(), 0, userData);
    }

    /** Queues an fsync ({@link #FSYNC_DATASYNC} for fdatasync); false if the queue is full. */
    public boolean prepFsync(int fd, int fsyncFlags, long userData) {
        return prep(OP_FSYNC, fd, 0, 0, 0, fsyncFlags, userData);
    }

    /** Queues fallocate(fd, mode, offset, length); false if the queue is full. */
    public boolean prepFallocate(int fd, int mode, long offset, long length, long userData) {
        // uapi: the length travels in addr and the mode in len.
        return prep(OP_FALLOCATE, fd, offset, length, mode, 0, userData);
    }

    private boolean prep(byte opcode, int fd, long off, long addr, int len, int opFlags, long userData) {
        if (sqSpace() == 0) {
            return false;
        }
        long b = SQE_SIZE * (sqTail & sqMask);
        sqes.set(JAVA_BYTE, b, opcode);
        sqes.set(JAVA_BYTE, b + 1, (byte) 0);
        sqes.set(JAVA_SHORT, b + 2, (short) 0);
        sqes.set(JAVA_INT, b + 4, fd);
        sqes.set(JAVA_LONG, b + 8, off);
        sqes.set(JAVA_LONG, b + 16, addr);
        sqes.set(JAVA_INT, b + 24, len);
        sqes.set(JAVA_INT, b + 28, opFlags);
        sqes.set(JAVA_LONG, b + 32, userData);
        sqes.set(JAVA_LONG, b + 40, 0L);
        sqes.set(JAVA_LONG, b + 48, 0L);
        sqes.set(JAVA_LONG, b + 56, 0L);
        sqTail++;
        // Publish the SQE contents before the tail the kernel reads.
        U32.setRelease(sqRing, sqTailOff, sqTail);
        return true;
    }

    /**
     * Passes every unsubmitted entry to the kernel in one io_uring_enter. Returns how many it
     * took, or a negative errno (EAGAIN, EBUSY: nothing was taken, the entries stay queued).
     */
    public int submit() {
        return enter(0, 0);
    }

    /** Submits what is queued and blocks until at least {@code minComplete} completions exist. */
    public int submitAndWait(int minComplete) {
        return enter(minComplete, ENTER_GETEVENTS);
    }

    private int enter(int minComplete, int flags) {
        int toSubmit = sqTail - submittedTail;
        if (toSubmit == 0 && minComplete == 0) {
            return 0;
        }
        while (true) {
            enterCalls++;
            long r = Libc.syscall(SYS_IO_URING_ENTER, ringFd.fd(), toSubmit, minComplete, flags, 0, 8);
            if (r == -Errno.EINTR) {
                continue;
            }
            if (r < 0) {
                return (int) r;
            }
            submittedTail += (int) r;
            return (int) r;
        }
    }

    /**
     * Takes back entries the kernel never consumed (after {@link #submit} failed) and hands their
     * user_data to {@code handler} with result -ECANCELED, so the owner can complete them itself.
     */
    public int cancelUnsubmitted(CompletionHandler handler) {
        int head = (int) U32.getAcquire(sqRing, sqHeadOff);
        int n = sqTail - head;
        for (int i = head; i != sqTail; i++) {
            long userData = sqes.get(JAVA_LONG, SQE_SIZE * (i & sqMask) + 32);
            handler.completed(userData, -Errno.ECANCELED);
        }
        sqTail = head;
        submittedTail = head;
        U32.setRelease(sqRing, sqTailOff, sqTail);
        return n;
    }

    /** Hands every available completion to {@code handler}; returns how many. Never blocks. */
    public int reap(CompletionHandler handler) {
        int tail = (int) U32.getAcquire(cqRing, cqTailOff);
        int n = 0;
        while (cqHead != tail) {
            long c = cqesOff + CQE_SIZE * (cqHead & cqMask);
            long userData = cqRing.get(JAVA_LONG, c);
            int res = cqRing.get(JAVA_INT, c + 8);
            cqHead++;
            // Return the slot to the kernel before running the handler, which may submit more.
            U32.setRelease(cqRing, cqHeadOff, cqHead);
            handler.completed(userData, res);
            n++;
        }
        return n;
    }

    /** Has the kernel signal {@code eventFd} whenever it posts a completion. */
    public void registerEventFd(int eventFd) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment arg = a.allocate(JAVA_INT);
            arg.set(JAVA_INT, 0, eventFd);
            // SAFETY: the kernel reads the one int at arg during the call and keeps no pointer to it.
            long r = Libc.syscall(SYS_IO_URING_REGISTER, ringFd.fd(), REGISTER_EVENTFD, Libc.addressOf(arg), 1, 0, 0);
            if (r < 0) {
                throw new ErrnoException("io_uring_register(EVENTFD)", (int) -r, "eventfd " + eventFd);
            }
        }
    }

    /** Unmaps the rings and closes the ring fd. The owner must have reaped every in-flight entry. */
    @Override
    public void close() {
        if (ringFd.isOpen()) {
            arena.close();
            ringFd.close();
        }
    }
}

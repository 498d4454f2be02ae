package dev.vhostd.backend;

import dev.vhostd.sys.Errno;
import dev.vhostd.sys.ErrnoException;
import dev.vhostd.sys.EventFd;
import dev.vhostd.sys.IoUring;
import dev.vhostd.sys.IoVec;
import dev.vhostd.sys.Libc;

import java.lang.System.Logger.Level;
import java.lang.foreign.Arena;

/**
 * aio=io_uring: one ring per queue, owned by one thread. {@link #submit} fills an SQE (the slot
 * index is its user_data), {@link #flushSubmissions} passes the batch with one io_uring_enter,
 * {@link #reap} walks the completion ring. The ring signals an eventfd on each completion.
 *
 * <p>Slots (op, iovec) are preallocated per queue; an op finding every slot busy, a misaligned
 * O_DIRECT buffer and a block-device discard (an ioctl) complete synchronously instead. Short
 * transfers and unsupported fallocate modes are finished synchronously when they are reaped.
 *
 * <p>With aio=auto, reads and writes of a buffered (page-cache) regular file learn their path from
 * the first one: it is tried with RWF_NOWAIT on this thread. If the file system can do that (ext4
 * and XFS reads, XFS and btrfs writes), io_uring does the same non-blocking attempt inline for a
 * whole batch per io_uring_enter, so later ones go to the ring. If it answers EOPNOTSUPP (tmpfs
 * reads and writes, ext4 writes), io_uring could only hand each one to a kernel worker thread,
 * costing two context switches per request (measured: 3-5x slower than a direct call on this
 * kind of machine), so they run here instead, like a page-cache copy would anyway. Such an inline
 * call can still block (dirty-page throttling, a journal commit, a read-modify-write miss): one
 * that takes longer than {@code stallNanos} sends that direction through the ring for a while
 * (growing while stalls repeat), so a stalled disk delays this queue now and then, not on every
 * request.
 *
 * <p>On a file system with writeback (ext4 writes) such a call may wait for dirty-page throttling,
 * the journal or a frozen file system, so it runs on this queue's {@link OffloadWorker} whenever
 * anything else of the queue is in flight or came in the same batch: nothing waits behind it on
 * this thread. A lone one (first of its batch, nothing in flight) runs here (a guest at depth 1 keeps the page cache's speed) unless a recent lone one took longer
 * than {@link #LONE_STALL_NANOS}.
 *
 * <p>Where RWF_NOWAIT works (ext4 and XFS reads of cached pages), a lone op of that direction
 * (first of its batch, nothing of this queue in flight: a guest at depth 1) is one preadv2 or
 * pwritev2 with RWF_NOWAIT here rather than an SQE, an io_uring_enter, the ring's eventfd signal
 * and a CQE reaped on the next pass. It cannot block; when it would (pages not cached) it goes to
 * the ring after all, and lone ops of that direction use the ring for {@link #LONE_BACKOFF_NANOS}.
 */
final class UringFileQueue implements BackendQueue {
    private static final System.Logger LOG = System.getLogger("dev.vhostd.backend");
    private static final int MIN_IOVECS = 8;
    /** Per direction: not yet known, through the ring, or run inline on this thread. */
    private static final byte LEARN = 0;
    private static final byte RING = 1;
    private static final byte INLINE = 2;
    /** On this queue's {@link OffloadWorker} thread: the call may block (page-cache writeback). */
    private static final byte WORKER = 3;
    /** RWF_NOWAIT attempts answered EAGAIN (cache misses) before giving up on learning. */
    private static final int LEARN_ATTEMPTS = 16;
    /** An inline read or write that takes longer than this has blocked on the storage. */
    static final long DEFAULT_STALL_NANOS = 1_000_000L;
    /**
     * After a stall the direction uses the ring for 10 ms, doubling while the next inline attempt
     * stalls again, up to a second. Short first: a slow call may also be this thread being
     * preempted (measured here: a 1-10 ms gap about once a second on a shared core).
     */
    static final long FIRST_BACKOFF_NANOS = 10_000_000L;
    static final long MAX_BACKOFF_NANOS = 1_000_000_000L;
    /**
     * A write that may block runs inline only when it is alone (nothing else of this queue in
     * flight, so nothing of this queue waits behind it) and this fast; a slower one has met
     * writeback throttling or the journal, and the queue's writes then all go to the worker for
     * {@link #LONE_BACKOFF_NANOS}, doubling while it repeats, up to {@link #MAX_BACKOFF_NANOS}.
     */
    static final long LONE_STALL_NANOS = 1_000_000L;
    static final long LONE_BACKOFF_NANOS = 100_000_000L;

    private final FileBackend backend;
    private final int fd;
    private final FileIo io;
    private final IoUring ring;
    private final int eventFd;
    private final EventFd eventFdAccess = new EventFd();
    private final Arena arena = Arena.ofShared();
    private final IoOp[] slotOp;
    private final IoVec[] slotIov;
    private final int[] free;
    private int freeCount;
    /** Slots whose SQE the kernel refused, completed here and handed out by the next reap. */
    private final int[] local;
    private int localCount;
    private int inFlight;
    private CompletionSink sink;
    private final IoUring.CompletionHandler onCompletion = this::completed;
    private final IoUring.CompletionHandler onRefused = this::refused;
    private boolean closed;
    /** Index 0 for reads, 1 for writes. */
    private final byte[] mode = new byte[2];
    private final int[] learnLeft = {LEARN_ATTEMPTS, LEARN_ATTEMPTS};
    private final boolean[] backingOff = new boolean[2];
    /** Per direction: the file system did a RWF_NOWAIT transfer, so lone ops may try one here. */
    private final boolean[] nowaitWorks = new boolean[2];
    /** Per direction: lone ops use the ring until this time (nanoTime) after one would have blocked. */
    private final long[] nowaitUntil = new long[2];
    private long loneNowait;
    private final long[] ringUntil = new long[2];
    private final long[] backoff = new long[2];
    private final long stallNanos;
    private final long loneStallNanos;
    /** Ops submitted since the last flushSubmissions: a lone write is the first of its batch. */
    private int batchOps;
    private final long loneBackoffNanos;
    private final long firstBackoffNanos;
    private long inlineStalls;
    /** Created with the first op that goes to it. */
    private OffloadWorker worker;
    private final int depth;

    /**
     * {@code learn}: whether reads and writes may run inline (aio=auto on a buffered regular file);
     * otherwise every one goes through the ring. {@code stallNanos} and {@code firstBackoffNanos}:
     * see the class comment (tests change them).
     */
    UringFileQueue(FileBackend backend, int depth, boolean learn, long stallNanos, long firstBackoffNanos) {
        this.backend = backend;
        this.depth = depth;
        this.stallNanos = stallNanos;
        // Long.MAX_VALUE: no stall limit at all (tests that must not depend on timing).
        this.loneStallNanos = stallNanos == Long.MAX_VALUE ? Long.MAX_VALUE : Math.min(stallNanos, LONE_STALL_NANOS);
        // Tests pass their own back-off; the default one for lone writes is longer than the ring's.
        this.loneBackoffNanos = firstBackoffNanos == FIRST_BACKOFF_NANOS ? LONE_BACKOFF_NANOS : firstBackoffNanos;
        this.firstBackoffNanos = firstBackoffNanos;
        java.util.Arrays.fill(mode, learn ? LEARN : RING);
        this.fd = backend.fd();
        this.io = new FileIo(backend);
        try {
            this.ring = IoUring.setup(depth);
        } catch (ErrnoException e) {
            io.close();
            throw new IllegalStateException("cannot create an io_uring of " + depth + " entries for "
                    + backend.describe() + ": " + e.getMessage() + "; use aio=sync or a smaller queue depth", e);
        }
        int efd;
        try {
            efd = EventFd.create();
            try {
                ring.registerEventFd(efd);
            } catch (RuntimeException e) {
                Libc.close(efd);
                throw e;
            }
        } catch (RuntimeException e) {
            ring.close();
            io.close();
            throw e;
        }
        this.eventFd = efd;
        // Never more slots than SQ entries, so a free slot always finds a free SQE.
        int slots = Math.min(depth, ring.sqEntries());
        this.slotOp = new IoOp[slots];
        this.slotIov = new IoVec[slots];
        this.free = new int[slots];
        this.local = new int[slots];
        for (int i = 0; i < slots; i++) {
            free[i] = slots - 1 - i;
        }
        this.freeCount = slots;
    }

    @Override
    public boolean submit(IoOp op) {
        if (OpCheck.refused(op, backend, closed)) {
            return true;
        }
        batchOps++;
        if (freeCount == 0 || !asynchronous(op)) {
            op.complete(io.execute(op));
            return true;
        }
        if (op.type() == IoOp.Type.READ || op.type() == IoOp.Type.WRITE) {
            byte m = mode[direction(op)];
            if (m != RING && m != WORKER && ranInline(op)) {
                return true;
            }
            if (mode[direction(op)] == RING && nowaitWorks[direction(op)] && batchOps == 1 && inFlight() == 0
                    && ranNowait(op)) {
                return true;
            }
            // Rings full cannot happen while the owner keeps at most depth ops in flight; if it
            // does, the io_uring path below still keeps the call off this thread.
            if (mode[direction(op)] == WORKER) {
                if (batchOps == 1 && inFlight() == 0 && ranAlone(op)) {
                    return true;
                }
                if (worker().offer(op)) {
                    return false;
                }
            }
        }
        int slot = free[--freeCount];
        boolean queued;
        try {
            queued = prepare(op, slot);
        } catch (IllegalStateException | IllegalArgumentException e) {
            // A segment that is unmapped or not native memory: FileIo reports it properly.
            queued = false;
        }
        if (!queued) {
            free[freeCount++] = slot;
            op.complete(io.execute(op));
            return true;
        }
        slotOp[slot] = op;
        inFlight++;
        return false;
    }

    private static int direction(IoOp op) {
        return op.type() == IoOp.Type.WRITE ? 1 : 0;
    }

    /** Runs a read or write on this thread if that is its path; false if it belongs on the ring. */
    private boolean ranInline(IoOp op) {
        int d = direction(op);
        boolean write = d == 1;
        if (mode[d] == LEARN) {
            int r = io.tryNowait(op, write);
            if (r == -Errno.EAGAIN) {
                // Would block (not cached): the ring is the right place for this one.
                if (--learnLeft[d] == 0) {
                    mode[d] = RING;
                }
                return false;
            }
            if (r != -Errno.EOPNOTSUPP) {
                // Done without blocking: io_uring will do the same, a batch per system call.
                // An I/O error teaches nothing; the next op tries again.
                if (r == 0) {
                    mode[d] = RING;
                    nowaitWorks[d] = true;
                }
                op.complete(r);
                return true;
            }
            if (backend.writebackMayBlock()) {
                // The call can wait for writeback throttling or the journal for milliseconds (or
                // for good, on a frozen file system): never on the poller. Nothing was transferred.
                mode[d] = WORKER;
                backend.runsOnWorker(write);
                return false;
            }
            mode[d] = INLINE;
            backend.runsInline(write);
        }
        return ranTimed(op, d, false);
    }

    /**
     * A lone op tried once with RWF_NOWAIT here (see the class comment); false if it belongs on the
     * ring: its direction is backing off, or the kernel would have had to wait.
     */
    private boolean ranNowait(IoOp op) {
        int d = direction(op);
        long until = nowaitUntil[d];
        if (until != 0) {
            if (System.nanoTime() - until < 0) {
                return false;
            }
            nowaitUntil[d] = 0;
        }
        int r = io.nowaitOnce(op, d == 1);
        if (r == -Errno.EAGAIN) {
            nowaitUntil[d] = System.nanoTime() + loneBackoffNanos;
            return false;
        }
        loneNowait++;
        op.complete(r);
        return true;
    }

    /**
     * A read or write whose call may block, first of its batch with nothing else of this queue in
     * flight: runs here
     * (no hand-off, no context switch: a guest at depth 1 gets the page cache's speed) unless a
     * recent one was slow. False if it belongs on the worker.
     */
    private boolean ranAlone(IoOp op) {
        return ranTimed(op, direction(op), true);
    }

    /**
     * Runs {@code op} here unless its direction is backing off after a stall (false: it belongs on
     * the ring, or on the worker for a {@code lone} one). A call slower than the stall limit starts
     * or doubles the back-off: the ring's for inline ops, the worker's for lone ones.
     */
    private boolean ranTimed(IoOp op, int d, boolean lone) {
        long start = System.nanoTime();
        if (backingOff[d]) {
            if (start - ringUntil[d] < 0) {
                return false;
            }
            backingOff[d] = false;
        }
        op.complete(io.execute(op));
        long took = System.nanoTime() - start;
        if (took <= (lone ? loneStallNanos : stallNanos)) {
            backoff[d] = 0;
            return true;
        }
        inlineStalls++;
        long wait = backoff[d] = lone
                ? Math.min(Math.max(MAX_BACKOFF_NANOS, loneBackoffNanos), Math.max(loneBackoffNanos, 2 * backoff[d]))
                : Math.min(Math.max(MAX_BACKOFF_NANOS, firstBackoffNanos), Math.max(firstBackoffNanos, 2 * backoff[d]));
        backingOff[d] = true;
        ringUntil[d] = start + took + wait;
        if (LOG.isLoggable(Level.DEBUG)) { // a capturing supplier would allocate on every stall
            String kind = d == 1 ? "write" : "read";
            LOG.log(Level.DEBUG, backend.describe() + (lone ? ": a lone inline " : ": an inline ") + kind + " took "
                    + took / 1000 + " us; " + (lone ? "the worker thread takes them all" : kind + "s go through io_uring")
                    + " for the next " + wait / 1_000_000 + " ms");
        }
        return true;
    }

    /** Ops that go to the ring; the others are cheap or impossible there and run synchronously. */
    private boolean asynchronous(IoOp op) {
        return switch (op.type()) {
            case READ, WRITE -> op.length() > 0 && io.directlyUsable(op);
            case FLUSH -> true;
            case DISCARD -> !backend.blockDevice() && op.length() > 0;
            case WRITE_ZEROES -> op.length() > 0;
        };
    }

    private boolean prepare(IoOp op, int slot) {
        return switch (op.type()) {
            case READ -> ring.prepReadv(fd, iovec(slot, op), op.offset(), slot);
            case WRITE -> ring.prepWritev(fd, iovec(slot, op), op.offset(), slot);
            case FLUSH -> ring.prepFsync(fd, IoUring.FSYNC_DATASYNC, slot);
            case DISCARD -> ring.prepFallocate(fd, FileBackend.PUNCH_HOLE, op.offset(), op.length(), slot);
            case WRITE_ZEROES -> ring.prepFallocate(fd, FileBackend.ZERO_RANGE, op.offset(), op.length(), slot);
        };
    }

    /** The slot's iovec filled with the op's segments; grown (rarely, then kept) when too small. */
    private IoVec iovec(int slot, IoOp op) {
        int needed = Math.min(op.segmentCount(), FileIo.IOV_MAX);
        IoVec v = slotIov[slot];
        if (v == null || v.capacity() < needed) {
            int cap = Math.max(MIN_IOVECS, Integer.highestOneBit(Math.max(1, needed - 1)) << 1);
            v = new IoVec(arena, Math.min(cap, FileIo.IOV_MAX));
            slotIov[slot] = v;
        }
        // Ops with more than IOV_MAX segments transfer the rest when the short completion is reaped.
        FileIo.fill(v, op, 0);
        return v;
    }

    private OffloadWorker worker() {
        if (worker == null) {
            worker = new OffloadWorker(backend, depth, eventFd, "vhostd-io-" + backend.shortName());
        }
        return worker;
    }

    @Override
    public void flushSubmissions() {
        batchOps = 0;
        if (worker != null) {
            worker.wake();
        }
        if (ring.unsubmitted() == 0) {
            return;
        }
        int r = ring.submit();
        if (r < 0 || ring.unsubmitted() > 0) {
            // EAGAIN/EBUSY (kernel short of memory): run what the kernel did not take ourselves, and
            // wake the owner so that its next reap collects them.
            LOG.log(Level.DEBUG, "io_uring_enter took " + r + "; completing the rest synchronously");
            if (ring.cancelUnsubmitted(onRefused) > 0) {
                eventFdAccess.signal(eventFd);
            }
        }
    }

    private void refused(long userData, int ignored) {
        int slot = (int) userData;
        IoOp op = slotOp[slot];
        op.complete(io.execute(op));
        local[localCount++] = slot;
    }

    @Override
    public int reap(CompletionSink sink) {
        int n = 0;
        while (localCount > 0) {
            int slot = local[--localCount];
            sink.completed(release(slot));
            n++;
        }
        if (worker != null && worker.inFlight() > 0) {
            n += worker.reap(sink);
        }
        this.sink = sink;
        try {
            n += ring.reap(onCompletion);
        } finally {
            this.sink = null;
        }
        return n;
    }

    private void completed(long userData, int res) {
        if (userData < 0 || userData >= slotOp.length || slotOp[(int) userData] == null) {
            LOG.log(Level.ERROR, "io_uring completion for unknown slot " + userData + " ignored");
            return;
        }
        int slot = (int) userData;
        IoOp op = slotOp[slot];
        op.complete(finish(op, res));
        sink.completed(release(slot));
    }

    private IoOp release(int slot) {
        IoOp op = slotOp[slot];
        slotOp[slot] = null;
        free[freeCount++] = slot;
        inFlight--;
        return op;
    }

    /** The op's result from the kernel's: finishes short transfers and refused fallocate modes. */
    private int finish(IoOp op, int res) {
        return switch (op.type()) {
            case READ, WRITE -> {
                if (res < 0) {
                    yield res;
                }
                if (res < op.length()) {
                    yield io.transfer(op, op.type() == IoOp.Type.WRITE, res);
                }
                yield 0;
            }
            case FLUSH -> {
                if (res >= 0) {
                    backend.dataSynced();
                }
                yield Math.min(res, 0);
            }
            case DISCARD -> res == -Errno.ENOTTY ? -Errno.EOPNOTSUPP : Math.min(res, 0);
            case WRITE_ZEROES -> FileIo.unsupported(-res) ? io.writeZeroesWithoutZeroRange(op) : Math.min(res, 0);
        };
    }

    @Override
    public int inFlight() {
        return worker == null ? inFlight : inFlight + worker.inFlight();
    }

    @Override
    public int completionFd() {
        return eventFd;
    }

    /** For tests: "learn", "ring" or "inline" for reads or writes. */
    String path(boolean write) {
        return switch (mode[write ? 1 : 0]) {
            case LEARN -> "learn";
            case RING -> "ring";
            case WORKER -> "worker";
            default -> "inline";
        };
    }

    /** Lone ops done here with RWF_NOWAIT instead of through the ring. */
    long loneNowait() {
        return loneNowait;
    }

    /** Inline reads or writes that blocked longer than the stall limit. */
    long inlineStalls() {
        return inlineStalls;
    }

    /** The ring, for tests that count io_uring_enter calls. */
    IoUring ring() {
        return ring;
    }

    long bounced() {
        return io.bounced();
    }

    @Override
    public void drain(CompletionSink sink) {
        while (inFlight > 0) {
            flushSubmissions();
            reap(sink);
            if (inFlight > 0 && localCount == 0) {
                int r = ring.submitAndWait(1);
                if (r < 0 && r != -Errno.EAGAIN && r != -Errno.EBUSY) {
                    throw new IllegalStateException("waiting for io_uring completions of " + backend.describe()
                            + " failed: " + Errno.name(-r));
                }
            }
        }
        if (worker != null) {
            worker.drain(sink);
        }
        eventFdAccess.drain(eventFd);
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        if (inFlight() > 0) {
            // The kernel may still write into guest memory: wait rather than unmap under it.
            LOG.log(Level.WARNING, "closing a queue of " + backend.describe() + " with " + inFlight()
                    + " operations in flight; waiting for them");
            drain(op -> { });
        }
        closed = true;
        if (worker != null) {
            worker.close();
        }
        ring.close();
        Libc.close(eventFd);
        io.close();
        arena.close();
        backend.queueClosed();
    }
}

package dev.vhostd.backend;

import dev.vhostd.sys.Errno;
import dev.vhostd.sys.EventFd;
import dev.vhostd.sys.IoVec;
import dev.vhostd.sys.Libc;
import dev.vhostd.sys.Librbd;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.locks.LockSupport;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * One poller's queue on an RBD image. {@link #submit} starts an rbd_aio call whose completion
 * carries (queue id, slot) as its opaque argument; {@link #reap} polls the image's finished
 * completions with rbd_poll_io_events, a batch per call, and finishes the ops.
 *
 * <p>librbd signals one eventfd per image, and rbd_poll_io_events hands out the image's completions
 * to whoever asks first. With one queue that is simply this queue's completion fd. With several,
 * every queue waits on its own duplicate of that eventfd (one open file, so every poller wakes), a
 * completion polled by another queue is passed to its owner through a small inbox and the eventfd is
 * signalled again so the owner wakes, and a queue reports the image's outstanding requests as in
 * flight, so whichever poller drains the eventfd also polls.
 */
final class RbdQueue implements BackendQueue {
    private static final int POLL_BATCH = 64;
    /** sizeof(struct iovec). */
    private static final long IOVEC_SIZE = 16;

    private final RbdBackend backend;
    private final int id;
    private final long image;
    private final int completionFd;
    /** Drains this queue's completion fd in {@link #drain}. */
    private final EventFd drainer = new EventFd();
    /** Signals this queue's completion fd from other queues' threads; used under its own lock. */
    private final EventFd handOverSignal = new EventFd();
    private final Arena arena = Arena.ofShared();
    private final MemorySegment completionOut;
    private final MemorySegment polled;
    private IoOp[] slotOp;
    private IoVec[] slotIov;
    /**
     * Per-slot staging buffers for ops whose guest memory may fault (not sealed against shrinking):
     * librbd copies to and from the iovecs on its own native threads, where a fault is a SIGBUS
     * that kills the JVM, so such data goes through our own memory and is copied from Java.
     */
    private MemorySegment[] slotBounce;
    private boolean[] slotBounced;
    private int[] slotPending;
    private int[] slotError;
    private long[] slotStart;
    private int[] free;
    private int freeCount;
    private int inFlight;
    /** (slot << 32 | result as unsigned int) handed over by other queues' threads; guarded by itself. */
    private final long[][] inbox = {new long[64]};
    private int inboxCount;
    private volatile boolean inboxNonEmpty;
    private boolean closed;

    RbdQueue(RbdBackend backend, int id) {
        this.backend = backend;
        this.id = id;
        this.image = backend.image();
        this.completionOut = arena.allocate(JAVA_LONG);
        this.polled = arena.allocate(JAVA_LONG, POLL_BATCH);
        this.completionFd = Libc.dupCloexec(backend.imageEventFd());
        grow(64);
    }

    int id() {
        return id;
    }

    private void grow(int slots) {
        int old = slotOp == null ? 0 : slotOp.length;
        slotOp = slotOp == null ? new IoOp[slots] : java.util.Arrays.copyOf(slotOp, slots);
        slotIov = slotIov == null ? new IoVec[slots] : java.util.Arrays.copyOf(slotIov, slots);
        slotBounce = slotBounce == null ? new MemorySegment[slots] : java.util.Arrays.copyOf(slotBounce, slots);
        slotBounced = slotBounced == null ? new boolean[slots] : java.util.Arrays.copyOf(slotBounced, slots);
        slotPending = slotPending == null ? new int[slots] : java.util.Arrays.copyOf(slotPending, slots);
        slotError = slotError == null ? new int[slots] : java.util.Arrays.copyOf(slotError, slots);
        slotStart = slotStart == null ? new long[slots] : java.util.Arrays.copyOf(slotStart, slots);
        int[] f = new int[slots];
        System.arraycopy(free == null ? new int[0] : free, 0, f, 0, freeCount);
        for (int i = slots - 1; i >= old; i--) {
            f[freeCount++] = i;
        }
        free = f;
    }

    @Override
    public boolean submit(IoOp op) {
        if (OpCheck.refused(op, backend, closed)) {
            return true;
        }
        IoOp.Type type = op.type();
        if ((type == IoOp.Type.READ || type == IoOp.Type.WRITE || type == IoOp.Type.DISCARD
                || type == IoOp.Type.WRITE_ZEROES) && op.length() == 0) {
            op.complete(0);
            return true;
        }
        if (freeCount == 0) {
            // A ring larger than any seen so far: rare, so growing here is fine.
            grow(slotOp.length * 2);
        }
        int slot = free[--freeCount];
        slotOp[slot] = op;
        slotError[slot] = 0;
        slotPending[slot] = 0;
        slotStart[slot] = System.nanoTime();
        int r = switch (type) {
            case READ, WRITE -> startData(op, slot, type == IoOp.Type.WRITE);
            case FLUSH -> start(slot, 0, 0, 0);
            case DISCARD -> start(slot, 1, op.offset(), op.length());
            case WRITE_ZEROES -> start(slot, 2, op.offset(), op.length());
        };
        if (slotPending[slot] == 0) {
            // Nothing reached librbd: finish here.
            slotOp[slot] = null;
            free[freeCount++] = slot;
            op.complete(r < 0 ? r : -Errno.EIO);
            return true;
        }
        if (r < 0) {
            slotError[slot] = r;
        }
        inFlight++;
        return false;
    }

    /** Flush (0), discard (1) or write-zeroes (2) as one librbd call. */
    private int start(int slot, int kind, long offset, long length) {
        long c = newCompletion(slot);
        if (c == 0) {
            return -Errno.ENOMEM;
        }
        int r = switch (kind) {
            case 0 -> Librbd.aioFlush(image, c);
            case 1 -> Librbd.aioDiscard(image, offset, length, c);
            default -> Librbd.aioWriteZeroes(image, offset, length, c);
        };
        return submitted(slot, c, r);
    }

    /**
     * A read or write: the op's segments become the slot's iovec array, which librbd reads until the
     * completion is polled. librbd takes at most IOV_MAX entries per call, so a longer op is split
     * into several calls sharing the slot.
     */
    private int startData(IoOp op, int slot, boolean write) {
        int n = op.segmentCount();
        IoVec iov = slotIov[slot];
        if (iov == null || iov.capacity() < n) {
            iov = new IoVec(arena, Math.max(n, 16));
            slotIov[slot] = iov;
        }
        iov.clear();
        slotBounced[slot] = !op.segmentsCannotFault();
        try {
            if (slotBounced[slot]) {
                MemorySegment b = bounce(slot, op.length());
                if (write) {
                    copy(op, b, true); // a fault here is an InternalError on the poller, before librbd sees anything
                }
                iov.add(b);
                n = 1;
            } else {
                for (int i = 0; i < n; i++) {
                    iov.add(op.segment(i));
                }
            }
        } catch (IllegalArgumentException | IllegalStateException e) {
            // A segment that is not native memory or no longer mapped.
            return -Errno.EFAULT;
        }
        if (n <= Librbd.MAX_IOVECS) {
            long c = newCompletion(slot);
            if (c == 0) {
                return -Errno.ENOMEM;
            }
            return submitted(slot, c, Librbd.aioReadWritev(write, image, iov.segment(), n, op.offset(), c));
        }
        long offset = op.offset();
        for (int first = 0; first < n; first += Librbd.MAX_IOVECS) {
            int count = Math.min(Librbd.MAX_IOVECS, n - first);
            long c = newCompletion(slot);
            if (c == 0) {
                return -Errno.ENOMEM;
            }
            MemorySegment part = iov.segment().asSlice((long) first * IOVEC_SIZE, (long) count * IOVEC_SIZE);
            int r = submitted(slot, c, Librbd.aioReadWritev(write, image, part, count, offset, c));
            if (r < 0) {
                return r;
            }
            for (int i = first; i < first + count; i++) {
                offset += op.segment(i).byteSize();
            }
        }
        return 0;
    }

    /** The slot's staging buffer, at least {@code length} bytes (kept for the slot's next ops). */
    private MemorySegment bounce(int slot, long length) {
        MemorySegment b = slotBounce[slot];
        if (b == null || b.byteSize() < length) {
            // Freed by the GC once replaced; the slot holds it while librbd may still use it.
            b = Arena.ofAuto().allocate(Math.max(length, 64 * 1024), 4096);
            slotBounce[slot] = b;
        }
        return b.asSlice(0, length);
    }

    /** Copies between the op's segments and {@code buffer}, in Java so that a fault is catchable. */
    private static void copy(IoOp op, MemorySegment buffer, boolean fromOp) {
        long at = 0;
        for (int i = 0, n = op.segmentCount(); i < n; i++) {
            MemorySegment s = op.segment(i);
            if (fromOp) {
                MemorySegment.copy(s, 0, buffer, at, s.byteSize());
            } else {
                MemorySegment.copy(buffer, at, s, 0, s.byteSize());
            }
            at += s.byteSize();
        }
    }

    private long newCompletion(int slot) {
        // The argument is a number librbd hands back untouched, never dereferenced.
        int r = Librbd.aioCreateCompletion(((long) id << 32) | slot, completionOut);
        return r < 0 ? 0 : completionOut.get(JAVA_LONG, 0);
    }

    /** Counts a started call; releases the completion of one librbd refused (it will never fire). */
    private int submitted(int slot, long completion, int r) {
        if (r < 0) {
            Librbd.aioRelease(completion);
            return r;
        }
        slotPending[slot]++;
        backend.outstanding.incrementAndGet();
        return 0;
    }

    @Override
    public int reap(CompletionSink sink) {
        int n = 0;
        if (inboxNonEmpty) {
            n += takeInbox(sink);
        }
        while (true) {
            int got = Librbd.pollIoEvents(image, polled, POLL_BATCH);
            if (got <= 0) {
                break;
            }
            long now = System.nanoTime();
            for (int i = 0; i < got; i++) {
                long c = polled.getAtIndex(JAVA_LONG, i);
                long arg = Librbd.aioGetArg(c);
                long ret = Librbd.aioGetReturnValue(c);
                Librbd.aioRelease(c);
                backend.outstanding.decrementAndGet();
                int result = ret < 0 ? (int) Math.max(ret, Integer.MIN_VALUE) : 0;
                int owner = (int) (arg >>> 32);
                int slot = (int) arg;
                if (owner == id) {
                    n += finish(slot, result, now, sink);
                } else {
                    RbdQueue q = backend.queue(owner);
                    if (q != null) {
                        q.handOver(slot, result);
                    }
                }
            }
            if (got < POLL_BATCH) {
                break;
            }
        }
        return n;
    }

    /** Called on another queue's thread: one of this queue's completions, to be finished here. */
    private void handOver(int slot, int result) {
        synchronized (inbox) {
            if (inboxCount == inbox[0].length) {
                inbox[0] = java.util.Arrays.copyOf(inbox[0], inboxCount * 2);
            }
            inbox[0][inboxCount++] = ((long) slot << 32) | (result & 0xFFFF_FFFFL);
            inboxNonEmpty = true;
        }
        // Every queue's completion fd is the same eventfd: this wakes the owner's poller.
        synchronized (handOverSignal) {
            handOverSignal.signal(completionFd);
        }
    }

    private int takeInbox(CompletionSink sink) {
        int n = 0;
        long now = System.nanoTime();
        while (true) {
            long entry;
            synchronized (inbox) {
                if (inboxCount == 0) {
                    inboxNonEmpty = false;
                    return n;
                }
                entry = inbox[0][--inboxCount];
            }
            n += finish((int) (entry >>> 32), (int) entry, now, sink);
        }
    }

    /** One librbd call of {@code slot} finished; hands the op to {@code sink} when its last one did. */
    private int finish(int slot, int result, long now, CompletionSink sink) {
        if (slot < 0 || slot >= slotOp.length || slotOp[slot] == null) {
            throw new IllegalStateException("librbd completed an unknown request slot " + slot + " of queue " + id);
        }
        if (result < 0 && slotError[slot] == 0) {
            slotError[slot] = result;
        }
        if (--slotPending[slot] > 0) {
            return 0;
        }
        IoOp op = slotOp[slot];
        slotOp[slot] = null;
        free[freeCount++] = slot;
        inFlight--;
        backend.latencyRecorder().record(now - slotStart[slot]);
        int error = slotError[slot];
        if (error == 0 && slotBounced[slot] && op.type() == IoOp.Type.READ) {
            // After the bookkeeping: a fault here (InternalError) leaves this queue consistent.
            copy(op, slotBounce[slot].asSlice(0, op.length()), false);
        }
        op.complete(error);
        sink.completed(op);
        return 1;
    }

    @Override
    public int inFlight() {
        if (inFlight == 0 && backend.openQueues() > 1) {
            // Another queue's completions may sit behind the eventfd this queue's poller drains.
            return backend.outstanding.get() > 0 || inboxNonEmpty ? 1 : 0;
        }
        return inFlight;
    }

    @Override
    public int completionFd() {
        return completionFd;
    }

    @Override
    public void drain(CompletionSink sink) {
        long pause = 10_000;
        while (inFlight > 0) {
            if (reap(sink) == 0) {
                // librbd finishes them on its own threads; rados_osd_op_timeout bounds the wait.
                LockSupport.parkNanos(pause);
                pause = Math.min(pause * 2, 5_000_000);
            } else {
                pause = 10_000;
            }
        }
        drainer.drain(completionFd);
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        if (inFlight > 0) {
            drain(op -> { });
        }
        closed = true;
        backend.queueClosed(this);
        Libc.close(completionFd);
        arena.close();
    }
}

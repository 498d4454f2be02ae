package dev.vhostd.backend;

import dev.vhostd.sys.EventFd;

import java.lang.System.Logger.Level;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.concurrent.locks.LockSupport;

/**
 * One thread that runs a queue's reads or writes which may block (buffered writes that the page
 * cache may throttle, a journal commit, a frozen file system), so that the queue's owner, a poller
 * serving many rings, never waits in such a call itself. Requests behind a blocked one on the same
 * file wait anyway (the kernel serialises buffered writes to one inode on its lock, as io_uring's
 * worker threads do by hashing them per inode), but the poller keeps serving reads, flushes and
 * other rings meanwhile.
 *
 * <p>Two single-producer single-consumer rings of op references, sized at construction: the owner
 * {@link #offer}s ops and {@link #wake}s the thread once per batch (an unpark only when it is
 * parked); the thread runs them in order, publishes each result at once (the owner, while busy,
 * reaps them without any signal) and writes the completion eventfd at most once per
 * {@value #SIGNAL_EVERY} completions or when it runs out of work, and only when the owner has
 * already looked at what the previous signal announced. Nothing is allocated per op.
 *
 * <p>The thread starts with the first op and ends at {@link #close}, after the owner drained it.
 * Ops must have native segments: kernel calls into guest memory return EFAULT on a fault, whereas
 * a Java copy could not be fenced off on this thread.
 */
final class OffloadWorker implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger("dev.vhostd.backend");
    /** At most this many completions wait for an eventfd write while the thread keeps running. */
    static final int SIGNAL_EVERY = 8;
    private static final VarHandle ARRAY = MethodHandles.arrayElementVarHandle(IoOp[].class);

    private final FileIo io;
    private final int eventFd;
    /** Used by the thread only (each EventFd owns a buffer). */
    private final EventFd eventFdAccess = new EventFd();
    private final String name;
    private final IoOp[] submitted;
    private final IoOp[] completed;
    private final int mask;
    /** Owner-written: ops offered; thread-read. */
    private volatile long tail;
    /** Thread-written: ops taken. */
    private volatile long head;
    /** Thread-written: ops completed and published in {@link #completed}. */
    private volatile long published;
    /** Owner-written: how far the owner has reaped; the thread reads it to skip redundant signals. */
    private volatile long consumed;
    /** Thread-only: {@link #published} at the last eventfd write. */
    private long signalled;
    /** Thread-written: true while the thread is (about to be) parked for lack of work. */
    private volatile boolean parked;
    private volatile boolean stopping;
    private Thread thread;
    /** Owner-only. */
    private long offered;
    private long reaped;
    /** Ops whose kernel call threw instead of returning an errno (a bug, logged once). */
    private volatile boolean failureLogged;

    /** {@code capacity}: the most ops in flight at once (rounded up to a power of two). */
    OffloadWorker(FileBackend backend, int capacity, int eventFd, String name) {
        int size = Integer.highestOneBit(Math.max(2, capacity - 1)) << 1;
        this.submitted = new IoOp[size];
        this.completed = new IoOp[size];
        this.mask = size - 1;
        this.eventFd = eventFd;
        this.name = name;
        this.io = new FileIo(backend);
    }

    /** Owner: queues {@code op}; false if the rings are full (the owner runs it itself then). */
    boolean offer(IoOp op) {
        if (offered - reaped > mask) {
            return false;
        }
        if (thread == null) {
            start();
        }
        long t = offered++;
        ARRAY.setRelease(submitted, (int) (t & mask), op);
        tail = offered;
        return true;
    }

    private void start() {
        Thread t = new Thread(this::run, name);
        t.setDaemon(true);
        thread = t;
        t.start();
    }

    /** Owner, once per batch: unparks the thread if it waits for work. */
    void wake() {
        // tail (volatile) was written before this read of parked (volatile): the thread either sees
        // the new tail before parking or is seen parked here (the run loop does the mirror image).
        if (thread != null && parked) {
            LockSupport.unpark(thread);
        }
    }

    /** Owner: ops offered and not yet reaped. */
    int inFlight() {
        return (int) (offered - reaped);
    }

    /** Owner: hands completed ops to {@code sink}; never blocks. */
    int reap(BackendQueue.CompletionSink sink) {
        int n = 0;
        while (true) {
            long p = published;
            while (reaped < p) {
                int i = (int) (reaped & mask);
                IoOp op = (IoOp) ARRAY.getAcquire(completed, i);
                reaped++;
                n++;
                sink.completed(op);
            }
            consumed = reaped;
            // Volatile write then volatile read: if the thread published more after our read of
            // published and decided not to signal (it saw the old consumed), we see it here.
            if (published == p) {
                return n;
            }
        }
    }

    /** Owner: waits until every offered op has completed and hands them to {@code sink}. */
    void drain(BackendQueue.CompletionSink sink) {
        wake();
        while (inFlight() > 0) {
            if (reap(sink) == 0) {
                LockSupport.parkNanos(20_000L);
            }
        }
    }

    private void run() {
        long h = head;
        while (true) {
            if (h == tail) {
                signal(true);
                if (stopping) {
                    return;
                }
                parked = true;
                // Volatile write then read of tail: see the owner's wake() comment.
                if (h == tail && !stopping) {
                    LockSupport.park(this);
                }
                parked = false;
                continue;
            }
            int i = (int) (h & mask);
            IoOp op = (IoOp) ARRAY.getAcquire(submitted, i);
            head = ++h;
            op.complete(execute(op));
            long p = published;
            ARRAY.setRelease(completed, (int) (p & mask), op);
            published = p + 1;
            signal(false);
        }
    }

    private int execute(IoOp op) {
        try {
            return io.execute(op);
        } catch (RuntimeException | Error e) {
            // FileIo turns errors into errnos; anything else must cost this op, not the thread.
            if (!failureLogged) {
                failureLogged = true;
                LOG.log(Level.ERROR, name + ": an operation failed unexpectedly; the guest gets an I/O error", e);
            }
            return -dev.vhostd.sys.Errno.EIO;
        }
    }

    /** Writes the eventfd if completions are unannounced and the owner has seen the last signal. */
    private void signal(boolean idle) {
        long p = published;
        if (p == signalled || (!idle && p - signalled < SIGNAL_EVERY)) {
            return;
        }
        // consumed < signalled: the owner has a wake-up pending or is reaping; it will see p.
        if (consumed >= signalled) {
            eventFdAccess.signal(eventFd);
        }
        signalled = p;
    }

    /** Owner, after {@link #drain}: ends the thread and frees the buffers. */
    @Override
    public void close() {
        Thread t = thread;
        if (t != null) {
            stopping = true;
            LockSupport.unpark(t);
            boolean interrupted = false;
            while (t.isAlive()) {
                try {
                    t.join();
                } catch (InterruptedException e) {
                    interrupted = true;
                }
            }
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
        io.close();
    }
}

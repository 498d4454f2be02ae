package dev.vhostd.backend;

import dev.vhostd.sys.EventFd;
import dev.vhostd.sys.TimerFd;

import java.util.concurrent.locks.LockSupport;

/**
 * A queue that completes each operation a fixed time after it was submitted, in submission order,
 * like a device with a constant service time (null:SIZE,latency=...; QEMU's null-co latency-ns).
 * Completions trickle out one by one as their time comes, which is what a real disk does to the
 * notification pattern and what a benchmark of notification suppression needs.
 *
 * <p>A timerfd on the earliest deadline is the completion fd: it is re-armed when the queue goes
 * from empty to busy and after a reap that leaves operations waiting, so a batch costs one
 * timerfd_settime, not one per operation.
 */
final class DelayedQueue implements BackendQueue {
    private final BlockBackend backend;
    private final SyncQueue.Executor executor;
    private final long latencyNanos;
    private final TimerFd timer = new TimerFd();
    private final EventFd drainer = new EventFd();
    private IoOp[] ops = new IoOp[256];
    private long[] due = new long[256];
    private int head;
    private int count;
    private boolean closed;

    DelayedQueue(BlockBackend backend, SyncQueue.Executor executor, long latencyNanos) {
        this.backend = backend;
        this.executor = executor;
        this.latencyNanos = latencyNanos;
    }

    @Override
    public boolean submit(IoOp op) {
        if (OpCheck.refused(op, backend, closed)) {
            return true;
        }
        if (count == ops.length) {
            grow();
        }
        long at = System.nanoTime() + latencyNanos;
        int slot = (head + count) & (ops.length - 1);
        ops[slot] = op;
        due[slot] = at;
        if (count++ == 0) {
            timer.armAt(at);
        }
        return false;
    }

    private void grow() {
        IoOp[] o = new IoOp[ops.length * 2];
        long[] d = new long[o.length];
        for (int i = 0; i < count; i++) {
            int from = (head + i) & (ops.length - 1);
            o[i] = ops[from];
            d[i] = due[from];
        }
        ops = o;
        due = d;
        head = 0;
    }

    @Override
    public int reap(CompletionSink sink) {
        if (count == 0) {
            return 0;
        }
        long now = System.nanoTime();
        int n = 0;
        while (count > 0 && due[head] - now <= 0) {
            IoOp op = ops[head];
            ops[head] = null;
            head = (head + 1) & (ops.length - 1);
            count--;
            // The data side happens at completion, as a device's DMA would.
            op.complete(executor.execute(op));
            sink.completed(op);
            n++;
        }
        if (n > 0 && count > 0) {
            timer.armAt(due[head]);
        }
        return n;
    }

    @Override
    public int inFlight() {
        return count;
    }

    @Override
    public int completionFd() {
        return timer.fd();
    }

    @Override
    public void drain(CompletionSink sink) {
        while (count > 0) {
            long wait = due[head] - System.nanoTime();
            if (wait > 0) {
                LockSupport.parkNanos(wait);
            }
            reap(sink);
        }
        drainer.drain(timer.fd());
    }

    @Override
    public void close() {
        if (!closed) {
            if (count > 0) {
                drain(op -> { });
            }
            closed = true;
            timer.close();
        }
    }
}

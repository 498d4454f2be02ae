package dev.vhostd.backend;

/**
 * A queue whose backend completes every operation on the caller's thread (memory, null): submit
 * always returns true and nothing is ever in flight.
 */
final class SyncQueue implements SynchronousQueue {
    /** Runs one validated operation; returns 0 or a negative errno. */
    @FunctionalInterface
    interface Executor {
        int execute(IoOp op);
    }

    private final BlockBackend backend;
    private final Executor executor;
    private boolean closed;

    SyncQueue(BlockBackend backend, Executor executor) {
        this.backend = backend;
        this.executor = executor;
    }

    @Override
    public boolean submit(IoOp op) {
        if (!OpCheck.refused(op, backend, closed)) {
            op.complete(executor.execute(op));
        }
        return true;
    }

    @Override
    public void close() {
        closed = true;
    }
}

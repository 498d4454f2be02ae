package dev.vhostd.backend;

/**
 * One thread's submission queue to a backend. Not thread-safe: one poller owns it.
 *
 * <p>{@link #submit} either completes the operation at once (returns true, result in the op) or
 * takes it in flight (returns false); in-flight operations are handed back by {@link #reap}, which
 * the owner calls from its loop, and {@link #completionFd()} becomes readable when some are ready.
 */
public interface BackendQueue extends AutoCloseable {
    /**
     * Submits {@code op}. Returns true if it completed now ({@link IoOp#result()} is set), false if
     * it is in flight. The op and its segments must stay untouched until it completes.
     */
    boolean submit(IoOp op);

    /**
     * Pushes any batched submissions to the kernel (io_uring submit). Called once per batch of
     * {@link #submit} calls; a no-op for synchronous backends.
     */
    default void flushSubmissions() {}

    /** Hands completed in-flight ops to {@code sink}; returns how many. Never blocks. */
    int reap(CompletionSink sink);

    /** Number of ops submitted and not yet reaped. */
    int inFlight();

    /**
     * An eventfd (or similar) that is readable when in-flight ops have completed, or -1 if this
     * queue always completes synchronously. The owner waits on it alongside the kick fds and drains
     * it with EventFd.drain before calling {@link #reap}.
     */
    int completionFd();

    /** Waits for every in-flight op and reaps them into {@code sink} (used on stop and shutdown). */
    void drain(CompletionSink sink);

    @Override
    void close();

    @FunctionalInterface
    interface CompletionSink {
        void completed(IoOp op);
    }
}

package dev.vhostd.protocol.device;

/**
 * Serves one started queue on one poller thread. The poller calls {@link #doWork()} in its loop and
 * then publishes the used ring and notifies the guest once for the whole batch.
 */
public interface QueueHandler {
    /**
     * Pops new requests, submits them, reaps completions and adds used entries (without publishing).
     * Returns how much it did (0 when idle). Throws
     * {@link dev.vhostd.protocol.virtq.QueueBrokenException} when the ring itself is corrupt.
     */
    int doWork();

    /** An fd that becomes readable when asynchronous completions are ready, or -1. */
    int completionFd();

    /** Called when {@link #completionFd()} was readable: clear it (the next doWork reaps). */
    default void completionSignalled() {}

    /**
     * The {@link System#nanoTime()} before which this queue will not take requests from its avail
     * ring (its disk is over a rate limit and left them there), or 0 when it is not held back. The
     * poller neither spins nor waits for a kick on a held queue: it sleeps until the earliest such
     * time among its queues, unless other work comes first.
     */
    default long heldUntil() {
        return 0;
    }

    /** Number of requests popped and not yet completed. */
    int inFlight();

    /** Waits for every in-flight request and adds its used entry (the queue is being stopped). */
    void drain();

    /** Releases resources; called on the poller thread after {@link #drain()}. */
    void close();
}

package dev.vhostd.daemon.blk;

/** Per-queue request accounting hooks (metrics). Called on the queue's poller thread only. */
public interface BlkQueueObserver {
    enum Kind { READ, WRITE, FLUSH, DISCARD, WRITE_ZEROES, GET_ID, UNSUPPORTED }

    /** The hooks for one queue. */
    QueueObserver forQueue(int queueIndex);

    interface QueueObserver {
        default void started() {}

        /** A request completed: status is one of VirtioBlk.S_*. */
        default void completed(Kind kind, byte status, long bytes, long latencyNanos) {}

        default void invalidChain() {}

        default void badAddress() {}

        default void backendError() {}

        QueueObserver NONE = new QueueObserver() {};
    }

    BlkQueueObserver NONE = q -> QueueObserver.NONE;
}

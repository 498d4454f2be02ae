package dev.vhostd.protocol.poll;

/**
 * What a poller reports about a queue, for metrics. Called on the poller thread only, so
 * implementations can use plain single-writer fields.
 */
public interface PollerStats {
    /** Kicks that woke the poller for this queue (the eventfd counter read in one go). */
    default void kicks(long count) {}

    /**
     * Time the poller thread spent working and blocked since the last report; reported on the first
     * queue the thread serves each time it wakes from a block.
     */
    default void pollerTime(long busyNanos, long blockedNanos) {}

    /** The guest was notified (call eventfd written). */
    default void notificationSent() {}

    /** A batch completed but EVENT_IDX (or NO_INTERRUPT) said the guest need not be notified. */
    default void notificationSuppressed() {}

    /** One loop iteration over this queue, and whether it found work. */
    default void pollIteration(boolean foundWork) {}

    PollerStats NONE = new PollerStats() {};
}

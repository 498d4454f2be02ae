package dev.vhostd.protocol.poll;

import dev.vhostd.protocol.device.QueueHandler;
import dev.vhostd.protocol.virtq.SplitQueue;

/**
 * A started queue as a poller sees it: the ring, the device's handler, the kick and call fds, and
 * what to do if the guest corrupts the ring. The fds belong to the engine; the poller only uses
 * them while the binding is attached, and a call fd is swapped on the poller thread so that a
 * closed fd number is never written to.
 */
public final class QueueBinding {
    /** Hands out {@link #id}s; shared by all pollers, so bindings of different disks never collide. */
    private static final java.util.concurrent.atomic.AtomicLong IDS = new java.util.concurrent.atomic.AtomicLong();

    /**
     * Identifies the binding in its poller's epoll set. Queue indices repeat across disks (every
     * disk has a queue 0), so a poller serving several disks cannot use them as tokens.
     */
    final long id = IDS.incrementAndGet();
    final int queueIndex;
    final SplitQueue queue;
    final QueueHandler handler;
    /** Kick eventfd, or -1 when the front-end asked for polling (SET_VRING_KICK with no fd). */
    final int kickFd;
    /** Call eventfd, or -1 when the guest is not to be notified (SET_VRING_CALL with no fd). */
    int callFd;
    final BrokenListener onBroken;
    final PollerStats stats;

    // Poller-thread state (see Poller): where the binding is in the poller's sets.
    /** Polled every pass (notifications off) rather than parked until a kick or a timer. */
    boolean active;
    /** Index in the poller's active array while {@link #active}. */
    int activeSlot = -1;
    /** Parked without notifications because its disk is over a limit, until {@link #heldUntil}. */
    boolean held;
    long heldUntil;
    /** System.nanoTime() of the last pass in which this queue found work (or was woken). */
    long lastWork;

    public QueueBinding(int queueIndex, SplitQueue queue, QueueHandler handler, int kickFd, int callFd,
            BrokenListener onBroken, PollerStats stats) {
        this.queueIndex = queueIndex;
        this.queue = queue;
        this.handler = handler;
        this.kickFd = kickFd;
        this.callFd = callFd;
        this.onBroken = onBroken;
        this.stats = stats == null ? PollerStats.NONE : stats;
    }

    public int queueIndex() {
        return queueIndex;
    }

    public SplitQueue queue() {
        return queue;
    }

    @FunctionalInterface
    public interface BrokenListener {
        /**
         * Called on the poller thread after the queue was detached because of {@code cause}: a
         * {@link dev.vhostd.protocol.virtq.QueueBrokenException} for an invalid ring, a fault in
         * front-end memory ({@link dev.vhostd.protocol.memory.MemoryFaults#isFault}), or anything
         * else a handler threw.
         */
        void broken(int queueIndex, Throwable cause);
    }
}

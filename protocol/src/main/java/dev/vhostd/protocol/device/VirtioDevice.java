package dev.vhostd.protocol.device;

import dev.vhostd.protocol.memory.GuestMemory;
import dev.vhostd.protocol.virtq.SplitQueue;

/**
 * A virtio device served over vhost-user. The engine owns the session (features, memory, rings) and
 * asks the device for what only the device knows: its feature bits, config space and how to serve a
 * started queue. The device never sees a vhost-user message.
 */
public interface VirtioDevice {
    /** Device-specific feature bits (the engine adds VERSION_1, EVENT_IDX and INDIRECT_DESC). */
    long deviceFeatures();

    /** Number of queues the device serves (reported by GET_QUEUE_NUM). */
    int numQueues();

    /** The largest ring size the device accepts (at most 32768). */
    int maxQueueSize();

    /** Bytes of config space, starting at offset 0. */
    int configSize();

    /** Reads {@code size} bytes of config space at {@code offset}; the engine checked the range. */
    byte[] readConfig(int offset, int size);

    /**
     * Writes config space (only fields the device declares writable, such as virtio-blk's writeback
     * byte). Throws {@link dev.vhostd.protocol.wire.VhostUserException} for anything else.
     */
    void writeConfig(int offset, byte[] data);

    /**
     * A front-end session began: until {@link #sessionEnded} with the same notifier, config changes
     * (a capacity after a resize) are told to that front-end through it. Called on the connection's thread.
     */
    default void sessionStarted(ConfigNotifier notifier) {}

    /** The session that gave {@code notifier} ended; a later session may already have started. */
    default void sessionEnded(ConfigNotifier notifier) {}

    /** Called once per session when the front-end sets the features it accepted. */
    default void featuresNegotiated(long features) {}

    /**
     * Creates the handler that serves a started queue. It runs only on the poller thread the queue
     * is assigned to.
     */
    QueueHandler openQueue(int index, SplitQueue queue, GuestMemory memory, long features);

    /** The session ended or the front-end reset the device: every queue has been stopped. */
    default void reset() {}
}

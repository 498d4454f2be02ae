package dev.vhostd.protocol.virtq;

/**
 * The ring itself is inconsistent (for example the available index ran further ahead than the queue
 * size, or a head index is out of range): no chain can be identified to fail, so the queue cannot
 * continue. The engine should stop this ring and report the device as needing a reset.
 */
public final class QueueBrokenException extends RuntimeException {
    private final String reason;

    public QueueBrokenException(String reason) {
        super("virtqueue broken: " + reason + " (the guest driver corrupted the ring; the device needs a reset)");
        this.reason = reason;
    }

    public String reason() {
        return reason;
    }
}

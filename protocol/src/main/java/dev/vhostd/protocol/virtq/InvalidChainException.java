package dev.vhostd.protocol.virtq;

/**
 * The guest offered a descriptor chain that breaks a rule of virtio 1.x section 2.7. The queue has
 * already moved past it: the device must complete {@link #head()} (virtio-blk: status IOERR, used
 * length 0) and may carry on with the next chain.
 */
public final class InvalidChainException extends RuntimeException {
    private final int head;
    private final String reason;

    public InvalidChainException(int head, String reason) {
        super("invalid descriptor chain at head " + head + ": " + reason
                + " (guest driver bug or hostile guest; the request fails with an I/O error)");
        this.head = head;
        this.reason = reason;
    }

    /** The chain's head index, always below the queue size: complete it with a used element. */
    public int head() {
        return head;
    }

    public String reason() {
        return reason;
    }
}

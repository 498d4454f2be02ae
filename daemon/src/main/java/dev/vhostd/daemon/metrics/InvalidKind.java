package dev.vhostd.daemon.metrics;

/**
 * Why a queue rejected what the guest put on it. Each one means the guest driver is broken or
 * hostile; vhostd fails the request or the queue, never the daemon, and counts it here so that an
 * operator can tell a misbehaving guest from a slow disk.
 */
public enum InvalidKind {
    /**
     * The descriptor chain breaks a split-ring rule (virtio spec 2.7.5 and 2.7.13): a loop or more
     * than queue-size descriptors, nested indirect tables, a readable descriptor after a writable
     * one, or an avail index that ran more than queue-size ahead.
     */
    BAD_CHAIN("bad_chain"),
    /** A descriptor points outside the guest memory the front-end mapped for us. */
    BAD_ADDRESS("bad_address"),
    /**
     * A chain that is well formed as a chain but not as a virtio-blk request (virtio spec 5.2.6):
     * header too short, no writable status byte, data length not a multiple of 512, and the like.
     */
    BAD_REQUEST("bad_request");

    static final InvalidKind[] ALL = values();

    private final String label;

    InvalidKind(String label) {
        this.label = label;
    }

    /** The value of the {@code kind} label. */
    public String label() {
        return label;
    }
}

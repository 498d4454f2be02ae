package dev.vhostd.daemon.metrics;

/**
 * The virtio-blk request kinds vhostd counts separately (virtio spec 5.2.6, "Device Operation").
 * {@link #UNSUPPORTED} covers every type code the device does not implement; it answers those with
 * VIRTIO_BLK_S_UNSUPP.
 */
public enum RequestType {
    READ("read"),
    WRITE("write"),
    FLUSH("flush"),
    DISCARD("discard"),
    WRITE_ZEROES("write_zeroes"),
    GET_ID("get_id"),
    UNSUPPORTED("unsupported");

    /** Cached so scrapes do not allocate label strings. */
    static final RequestType[] ALL = values();

    private final String label;

    RequestType(String label) {
        this.label = label;
    }

    /** The value of the {@code type} label. */
    public String label() {
        return label;
    }
}

package dev.vhostd.daemon.metrics;

/**
 * The status byte the device wrote back for a request (virtio spec 5.2.6: VIRTIO_BLK_S_OK = 0,
 * VIRTIO_BLK_S_IOERR = 1, VIRTIO_BLK_S_UNSUPP = 2). The ordinals equal the wire values.
 */
public enum RequestStatus {
    OK("ok"),
    IOERR("ioerr"),
    UNSUPP("unsupp");

    static final RequestStatus[] ALL = values();

    private final String label;

    RequestStatus(String label) {
        this.label = label;
    }

    /** The value of the {@code status} label. */
    public String label() {
        return label;
    }

    /**
     * Maps a virtio-blk status byte to its constant.
     *
     * @throws IllegalArgumentException for a value the spec does not define; the device only ever
     *         writes the three defined ones, so this is a bug in the caller
     */
    public static RequestStatus fromVirtio(int status) {
        if (status < 0 || status >= ALL.length) {
            throw new IllegalArgumentException("not a virtio-blk status byte: " + status
                    + " (expected 0 = OK, 1 = IOERR or 2 = UNSUPP)");
        }
        return ALL[status];
    }
}

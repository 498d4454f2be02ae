package dev.vhostd.protocol.device;

/** Transport feature bits (virtio 1.x section 6) and vhost-user's own bit. */
public final class VirtioFeatures {
    /** VHOST_F_LOG_ALL: the back-end logs every guest page it writes in the dirty log (live migration). */
    public static final int LOG_ALL = 26;
    public static final int RING_INDIRECT_DESC = 28;
    public static final int RING_EVENT_IDX = 29;
    /** VHOST_USER_F_PROTOCOL_FEATURES: the front-end may use GET/SET_PROTOCOL_FEATURES. */
    public static final int VHOST_USER_PROTOCOL_FEATURES = 30;
    public static final int VERSION_1 = 32;

    private VirtioFeatures() {}

    public static long bit(int n) {
        return 1L << n;
    }

    public static boolean has(long features, int n) {
        return (features & (1L << n)) != 0;
    }
}

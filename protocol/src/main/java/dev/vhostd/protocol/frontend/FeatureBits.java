package dev.vhostd.protocol.frontend;

/**
 * The feature bits the front-end negotiates: transport bits (virtio 1.x section 6), vhost-user's
 * own bit, and protocol feature bits (vhost-user.rst "Protocol features"). Kept here so the
 * front-end stands apart from the back-end's engine and can test it independently.
 */
public final class FeatureBits {
    public static final int RING_INDIRECT_DESC = 28;
    public static final int RING_EVENT_IDX = 29;
    /** VHOST_USER_F_PROTOCOL_FEATURES: GET/SET_PROTOCOL_FEATURES may be used; rings start disabled. */
    public static final int VHOST_USER_PROTOCOL_FEATURES = 30;
    public static final int VERSION_1 = 32;

    public static final int PROTOCOL_MQ = 0;
    public static final int PROTOCOL_LOG_SHMFD = 1;
    /** VHOST_F_LOG_ALL: the back-end logs the guest pages it writes (live migration). */
    public static final int LOG_ALL = 26;
    public static final int PROTOCOL_REPLY_ACK = 3;
    public static final int PROTOCOL_CONFIG = 9;
    public static final int PROTOCOL_INFLIGHT_SHMFD = 12;

    private FeatureBits() {}

    public static long bit(int n) {
        return 1L << n;
    }

    public static boolean has(long features, int n) {
        return (features & (1L << n)) != 0;
    }
}

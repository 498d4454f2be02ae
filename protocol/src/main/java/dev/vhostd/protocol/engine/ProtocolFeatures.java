package dev.vhostd.protocol.engine;

/** vhost-user protocol feature bits (vhost-user.rst, "Protocol features"). */
public final class ProtocolFeatures {
    public static final int MQ = 0;
    /** The dirty log is shared memory passed with SET_LOG_BASE (needed for live migration). */
    public static final int LOG_SHMFD = 1;
    public static final int REPLY_ACK = 3;
    /** The back-end may send requests to the front-end on a channel from SET_BACKEND_REQ_FD. */
    public static final int BACKEND_REQ = 5;
    public static final int CONFIG = 9;
    public static final int INFLIGHT_SHMFD = 12;
    public static final int RESET_DEVICE = 13;
    public static final int CONFIGURE_MEM_SLOTS = 15;

    /** What vhostd honours end to end; nothing else is offered. */
    public static final long OFFERED = (1L << MQ) | (1L << LOG_SHMFD) | (1L << REPLY_ACK) | (1L << BACKEND_REQ)
            | (1L << CONFIG)
            | (1L << INFLIGHT_SHMFD) | (1L << RESET_DEVICE) | (1L << CONFIGURE_MEM_SLOTS);

    private ProtocolFeatures() {}
}

package dev.vhostd.protocol.wire;

/**
 * Front-end to back-end request codes (vhost-user.rst, "Front-end message types"). Only the codes
 * vhostd handles are listed; any other code is answered as unsupported.
 */
public enum Request {
    GET_FEATURES(1),
    SET_FEATURES(2),
    SET_OWNER(3),
    RESET_OWNER(4),
    SET_MEM_TABLE(5),
    SET_LOG_BASE(6),
    SET_LOG_FD(7),
    SET_VRING_NUM(8),
    SET_VRING_ADDR(9),
    SET_VRING_BASE(10),
    GET_VRING_BASE(11),
    SET_VRING_KICK(12),
    SET_VRING_CALL(13),
    SET_VRING_ERR(14),
    GET_PROTOCOL_FEATURES(15),
    SET_PROTOCOL_FEATURES(16),
    GET_QUEUE_NUM(17),
    SET_VRING_ENABLE(18),
    SET_BACKEND_REQ_FD(21),
    GET_CONFIG(24),
    SET_CONFIG(25),
    GET_INFLIGHT_FD(31),
    SET_INFLIGHT_FD(32),
    RESET_DEVICE(34),
    GET_MAX_MEM_SLOTS(36),
    ADD_MEM_REG(37),
    REM_MEM_REG(38);

    private static final Request[] BY_CODE = new Request[64];

    static {
        for (Request r : values()) {
            BY_CODE[r.code] = r;
        }
    }

    public final int code;

    Request(int code) {
        this.code = code;
    }

    /** The request for a wire code, or null if vhostd does not handle it. */
    public static Request of(int code) {
        return code >= 0 && code < BY_CODE.length ? BY_CODE[code] : null;
    }
}

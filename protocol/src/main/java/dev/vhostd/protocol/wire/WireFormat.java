package dev.vhostd.protocol.wire;

/**
 * Layout constants of a vhost-user message (vhost-user.rst, "Message Specification"): a 12-byte
 * header {@code u32 request, u32 flags, u32 size} followed by {@code size} payload bytes, all
 * little-endian on the hosts vhostd runs on.
 */
public final class WireFormat {
    public static final int HEADER_SIZE = 12;

    /** Flags bits 0-1: the protocol version, currently 1. */
    public static final int VERSION_MASK = 0x3;
    public static final int VERSION = 0x1;
    /** Flags bit 2: set on every message the back-end sends as a reply. */
    public static final int FLAG_REPLY = 0x4;
    /** Flags bit 3: the front-end wants a REPLY_ACK (vhost-user.rst, "VHOST_USER_PROTOCOL_F_REPLY_ACK"). */
    public static final int FLAG_NEED_REPLY = 0x8;
    /** Every flag bit the protocol defines; anything else means the framing is broken. */
    public static final int KNOWN_FLAGS = VERSION_MASK | FLAG_REPLY | FLAG_NEED_REPLY;

    /** struct vhost_user_memory_region: guest address, size, user address, mmap offset (4 x u64). */
    public static final int MEMORY_REGION_SIZE = 32;
    /** QEMU's VHOST_MEMORY_BASELINE_NREGIONS: SET_MEM_TABLE carries at most 8 regions (one fd each). */
    public static final int MAX_MEM_TABLE_REGIONS = 8;
    /** VhostUserMemory header: u32 nregions, u32 padding. */
    public static final int MEM_TABLE_HEADER_SIZE = 8;
    /** ADD_MEM_REG / REM_MEM_REG: u64 padding, then one region. */
    public static final int SINGLE_REGION_SIZE = 8 + MEMORY_REGION_SIZE;
    /** struct vhost_vring_state: u32 index, u32 num. */
    public static final int VRING_STATE_SIZE = 8;
    /** struct vhost_vring_addr: u32 index, u32 flags, u64 desc, used, avail, log. */
    public static final int VRING_ADDR_SIZE = 40;
    /** VhostUserConfig header: u32 offset, u32 size, u32 flags; the config bytes follow. */
    public static final int CONFIG_HEADER_SIZE = 12;
    /**
     * struct VhostUserInflight: u64 mmap_size, u64 mmap_offset, u16 num_queues, u16 queue_size. QEMU
     * sends and expects its C sizeof, padded to 24; 20 (unpadded) is accepted on input.
     */
    public static final int INFLIGHT_SIZE = 24;
    public static final int INFLIGHT_MIN_SIZE = 20;
    /** VhostUserLog: u64 mmap_size, u64 mmap_offset. */
    public static final int LOG_SIZE = 16;
    /** QEMU's VHOST_USER_MAX_CONFIG_SIZE: a config access carries at most 256 bytes. */
    public static final int MAX_CONFIG_SIZE = 256;

    /**
     * The largest payload vhostd accepts: the largest member of QEMU's VhostUserMsg payload union
     * among the messages vhostd handles, a full config access (12 + 256 = 268 bytes; a full memory
     * table is 8 + 8 * 32 = 264). A larger size is refused before any payload byte is read.
     */
    public static final int MAX_PAYLOAD_SIZE = Math.max(CONFIG_HEADER_SIZE + MAX_CONFIG_SIZE,
            MEM_TABLE_HEADER_SIZE + MAX_MEM_TABLE_REGIONS * MEMORY_REGION_SIZE);

    /** SET_VRING_KICK/CALL/ERR u64: bits 0-7 the ring index ... */
    public static final long VRING_FD_INDEX_MASK = 0xff;
    /** ... bit 8 the invalid-fd flag: no fd attached (poll instead). */
    public static final long VRING_FD_NO_FD = 0x100;
    /** Vring indices vhostd accepts: SET_VRING_KICK can only name 256 rings (bits 0-7). */
    public static final int MAX_VRING_INDEX = 255;

    /** Back-end to front-end request codes (vhost-user.rst, "Back-end message types"). */
    public static final int BACKEND_CONFIG_CHANGE_MSG = 2;

    /** REPLY_ACK payloads: zero for success, non-zero for failure. */
    public static final long ACK_SUCCESS = 0;
    public static final long ACK_FAILURE = 1;

    private WireFormat() {}

    /**
     * True for requests that always solicit a reply body of their own (vhost-user.rst, "Communication"),
     * which also replaces the REPLY_ACK for them. SET_LOG_BASE has one only once LOG_SHMFD is
     * negotiated, which the session decides ({@code BackendHandler.repliesTo}).
     */
    public static boolean hasOwnReply(Request request) {
        return switch (request) {
            case GET_FEATURES, GET_PROTOCOL_FEATURES, GET_VRING_BASE, GET_QUEUE_NUM, GET_CONFIG,
                 GET_MAX_MEM_SLOTS, GET_INFLIGHT_FD -> true;
            default -> false;
        };
    }

    /** The name an operator sees in logs for a wire code, known or not. */
    public static String describe(int code) {
        Request r = Request.of(code);
        return r != null ? r.name() : "request code " + Integer.toUnsignedString(code);
    }
}

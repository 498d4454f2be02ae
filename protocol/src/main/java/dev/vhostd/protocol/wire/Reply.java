package dev.vhostd.protocol.wire;

/** What the engine answers to a request that has a reply of its own. */
public sealed interface Reply {
    /** No reply of its own (REPLY_ACK may still send one). */
    record None() implements Reply {}

    /** A u64 payload: GET_FEATURES, GET_PROTOCOL_FEATURES, GET_QUEUE_NUM, GET_MAX_MEM_SLOTS. */
    record U64(long value) implements Reply {}

    /** struct vhost_vring_state: GET_VRING_BASE. */
    record VringState(int index, int num) implements Reply {}

    /** GET_CONFIG: the request's offset and flags with {@code data.length} bytes of config space. */
    record Config(int offset, int flags, byte[] data) implements Reply {}

    /**
     * GET_INFLIGHT_FD: the area's size and offset in {@code fd}, which the connection attaches to
     * the reply. The engine keeps owning {@code fd}; the front-end receives a duplicate.
     */
    record Inflight(long mmapSize, long mmapOffset, int numQueues, int queueSize, int fd) implements Reply {}

    Reply NONE = new None();
}

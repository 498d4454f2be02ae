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

    Reply NONE = new None();
}

package dev.vhostd.protocol.frontend;

/** The 12-byte vhost-user message header: request code, flags, payload size (vhost-user.rst "Message Specification"). */
public record MessageHeader(int request, int flags, int size) {
    public static final int SIZE = 12;
    /** Bits 0-1: protocol version; this protocol is version 1. */
    public static final int VERSION_MASK = 0x3;
    public static final int VERSION = 0x1;
    public static final int FLAG_REPLY = 0x4;
    public static final int FLAG_NEED_REPLY = 0x8;

    public boolean isReply() {
        return (flags & FLAG_REPLY) != 0;
    }

    public int version() {
        return flags & VERSION_MASK;
    }
}

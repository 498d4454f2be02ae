package dev.vhostd.protocol.wire;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

import static dev.vhostd.protocol.wire.WireFormat.*;

/**
 * Builds the bytes of back-end replies: a header with the request's own code, version 1 and the
 * reply flag, then the payload (vhost-user.rst, "Header"). The control path is not hot, so each
 * call returns a fresh array that the connection writes in one piece.
 */
public final class MessageEncoder {
    private MessageEncoder() {}

    /**
     * The reply to {@code message}, which must have a reply of its own ({@link WireFormat#hasOwnReply}).
     *
     * @throws IllegalArgumentException if the reply variant does not belong to the request, or a
     *         GET_CONFIG reply does not carry exactly the requested size (an engine bug, not peer input)
     */
    public static byte[] reply(Message message, Reply reply) {
        Request r = message.request();
        return switch (reply) {
            case Reply.U64(long value) when isU64Reply(r) -> u64(r, value);
            case Reply.VringState(int index, int num) when r == Request.GET_VRING_BASE -> {
                ByteBuffer b = header(r, VRING_STATE_SIZE);
                b.putInt(index).putInt(num);
                yield b.array();
            }
            case Reply.Inflight i when r == Request.GET_INFLIGHT_FD -> {
                ByteBuffer b = header(r, INFLIGHT_SIZE);
                b.putLong(i.mmapSize()).putLong(i.mmapOffset()).putShort((short) i.numQueues())
                        .putShort((short) i.queueSize()).putInt(0);
                yield b.array();
            }
            case Reply.Config c when message instanceof Message.GetConfig get -> {
                // vhost-user.rst GET_CONFIG: the reply's payload size MUST match the request.
                if (c.data().length != get.size()) {
                    throw new IllegalArgumentException("GET_CONFIG asked for " + get.size()
                            + " bytes but the reply carries " + c.data().length);
                }
                ByteBuffer b = header(r, CONFIG_HEADER_SIZE + c.data().length);
                b.putInt(c.offset()).putInt(c.data().length).putInt(c.flags()).put(c.data());
                yield b.array();
            }
            default -> throw new IllegalArgumentException(
                    "reply " + reply + " does not answer " + r + " (engine bug)");
        };
    }

    /** A REPLY_ACK: u64 0 for success, non-zero for failure, under the request's own code. */
    public static byte[] ack(Request request, boolean success) {
        return u64(request, success ? ACK_SUCCESS : ACK_FAILURE);
    }

    /** An ack for a request code vhostd does not know (it still gets its own code back). */
    public static byte[] ack(int code, boolean success) {
        ByteBuffer b = header(code, 8);
        b.putLong(success ? ACK_SUCCESS : ACK_FAILURE);
        return b.array();
    }

    /** GET_CONFIG failure: vhost-user.rst says a zero-length payload reports the error. */
    public static byte[] configError() {
        return header(Request.GET_CONFIG, 0).array();
    }

    private static boolean isU64Reply(Request r) {
        return r == Request.GET_FEATURES || r == Request.GET_PROTOCOL_FEATURES
                || r == Request.GET_QUEUE_NUM || r == Request.GET_MAX_MEM_SLOTS || r == Request.SET_LOG_BASE;
    }

    private static byte[] u64(Request r, long value) {
        ByteBuffer b = header(r, 8);
        b.putLong(value);
        return b.array();
    }

    private static ByteBuffer header(Request r, int payloadSize) {
        return header(r.code, payloadSize);
    }

    private static ByteBuffer header(int code, int payloadSize) {
        ByteBuffer b = ByteBuffer.allocate(HEADER_SIZE + payloadSize).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(code).putInt(VERSION | FLAG_REPLY).putInt(payloadSize);
        return b;
    }
}

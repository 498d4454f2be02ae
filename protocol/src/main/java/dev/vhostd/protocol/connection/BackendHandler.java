package dev.vhostd.protocol.connection;

import dev.vhostd.protocol.wire.Message;
import dev.vhostd.protocol.wire.Reply;
import dev.vhostd.protocol.wire.Request;
import dev.vhostd.protocol.wire.WireFormat;
import dev.vhostd.protocol.wire.VhostUserException;

/**
 * The engine side of one front-end session, driven by the connection on the connection's thread.
 * The connection knows the wire format and fds; the handler knows features, memory and rings.
 */
public interface BackendHandler {
    /**
     * Handles one decoded message and returns its reply ({@link dev.vhostd.protocol.wire.Reply#NONE}
     * for requests without one). Throws {@link VhostUserException} to refuse it; the connection then
     * sends a REPLY_ACK error or closes, as the exception says.
     */
    Reply handle(Message message);

    /**
     * True if {@code request} has a reply of its own in this session (which also stands in for its
     * REPLY_ACK). The default is the fixed list; SET_LOG_BASE has one once LOG_SHMFD is negotiated.
     */
    default boolean repliesTo(Request request) {
        return WireFormat.hasOwnReply(request);
    }

    /** True once VHOST_USER_PROTOCOL_F_REPLY_ACK has been negotiated (need_reply is honoured). */
    boolean replyAckNegotiated();

    /**
     * Called once before the first message with a way to close this session's connection from
     * another thread (a poller that found a corrupt ring). The default ignores it.
     */
    default void attached(Runnable closeConnection) {}

    /** A message was refused (logged by the connection); for metrics. The default ignores it. */
    default void refused(VhostUserException reason) {}

    /**
     * vhostd is stopping (called from another thread, before the connection is closed): take no new
     * requests, complete every request in flight and publish it in the used ring, so the front-end
     * sees every completion before it sees the socket close. The default does nothing.
     */
    default void quiesce() {}

    /** The session ended (EOF, I/O error or fatal protocol error): stop rings, unmap, close fds. */
    void disconnected();
}

package dev.vhostd.protocol.wire;

/**
 * The front-end sent something vhostd refuses. {@link #fatal()} says whether the connection must be
 * closed (the session state is no longer trustworthy) or only this request fails (REPLY_ACK error).
 * The message is written for operators: what was wrong and with which values.
 */
public class VhostUserException extends RuntimeException {
    private final boolean fatal;

    public VhostUserException(String message, boolean fatal) {
        super(message);
        this.fatal = fatal;
    }

    public VhostUserException(String message, boolean fatal, Throwable cause) {
        super(message, cause);
        this.fatal = fatal;
    }

    /** A request that fails on its own: the connection stays up. */
    public static VhostUserException rejected(String message) {
        return new VhostUserException(message, false);
    }

    /** The connection must be closed. */
    public static VhostUserException fatal(String message) {
        return new VhostUserException(message, true);
    }

    public boolean fatal() {
        return fatal;
    }
}

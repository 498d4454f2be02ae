package dev.vhostd.daemon.disk;

/**
 * Why a disk operation was refused, in words an operator can act on. The {@link Reason} is what the
 * control API maps to a JSON-RPC error code; the command line prints the message.
 */
public final class DiskException extends RuntimeException {
    /** The kinds of refusal; each has a stable JSON-RPC error code (JSON-RPC 2.0 section 5.1). */
    public enum Reason {
        /** A parameter is missing, malformed or out of range. */
        INVALID_PARAMS(-32602),
        /** No disk has that name. */
        NOT_FOUND(-32001),
        /** The name or the socket is already used by another disk. */
        ALREADY_EXISTS(-32002),
        /** A front-end is attached and the operation would cut it off (remove without force). */
        BUSY(-32003),
        /** The storage backend cannot be opened or refused the operation. */
        BACKEND(-32004),
        /** The vhost-user socket cannot be created. */
        SOCKET(-32005),
        /** The disk's backend cannot do this (a RAM disk cannot be re-read, for example). */
        UNSUPPORTED(-32006),
        /** A file the daemon was asked to write could not be written. */
        IO(-32007);

        private final int code;

        Reason(int code) {
            this.code = code;
        }

        public int code() {
            return code;
        }
    }

    private final Reason reason;

    public DiskException(Reason reason, String message) {
        super(message);
        this.reason = reason;
    }

    public DiskException(Reason reason, String message, Throwable cause) {
        super(message, cause);
        this.reason = reason;
    }

    public Reason reason() {
        return reason;
    }

    static DiskException invalid(String message) {
        return new DiskException(Reason.INVALID_PARAMS, message);
    }
}

package dev.vhostd.protocol.memory;

/**
 * The dirty-page log could not be written: its memory faulted (the front-end shrank the fd under
 * us) or a mark fell outside it. Pages written from now on would be missing from the front-end's
 * migration, so the poller stops the queue and the connection is closed rather than go on silently.
 */
public final class DirtyLogException extends RuntimeException {
    public DirtyLogException(String message) {
        super(message);
    }

    public DirtyLogException(String message, Throwable cause) {
        super(message, cause);
    }
}

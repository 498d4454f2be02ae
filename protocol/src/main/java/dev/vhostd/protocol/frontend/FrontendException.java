package dev.vhostd.protocol.frontend;

/** The back-end broke the protocol or refused a request; the message says which and what was expected. */
public class FrontendException extends RuntimeException {
    public FrontendException(String message) {
        super(message);
    }

    public FrontendException(String message, Throwable cause) {
        super(message, cause);
    }
}

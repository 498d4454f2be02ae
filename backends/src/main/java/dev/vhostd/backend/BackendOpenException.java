package dev.vhostd.backend;

/**
 * A backend could not be opened. The message is for the operator: what is wrong and what to do
 * (for example "file /x does not exist; pass --size to create it").
 */
public final class BackendOpenException extends RuntimeException {
    public BackendOpenException(String message) {
        super(message);
    }

    public BackendOpenException(String message, Throwable cause) {
        super(message, cause);
    }
}

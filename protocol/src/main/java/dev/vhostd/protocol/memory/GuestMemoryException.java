package dev.vhostd.protocol.memory;

/**
 * A guest address or a memory-table update that does not fit the guest's memory map. The message
 * names the addresses in hex; the front-end (or guest driver) sent something inconsistent.
 */
public final class GuestMemoryException extends RuntimeException {
    public GuestMemoryException(String message) {
        super(message);
    }

    public GuestMemoryException(String message, Throwable cause) {
        super(message, cause);
    }

    static String hex(long v) {
        return "0x" + Long.toHexString(v);
    }
}

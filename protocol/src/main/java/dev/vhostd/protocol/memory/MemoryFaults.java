package dev.vhostd.protocol.memory;

/**
 * Recognises the JVM's report of a fault inside an access to mapped memory. When the file behind a
 * shared mapping shrinks (a front-end truncates its memfd), touching the lost pages raises SIGBUS;
 * for a Java access (MemorySegment get/set/copy/fill) HotSpot turns that into an
 * {@link InternalError} "a fault occurred in an unsafe memory access operation", delivered to the
 * accessing thread shortly after the access. It is an Error, not a RuntimeException, so code that
 * touches front-end memory must catch it explicitly.
 */
public final class MemoryFaults {
    private MemoryFaults() {}

    /** True if {@code t} is such a fault report. */
    public static boolean isFault(Throwable t) {
        return t instanceof InternalError && t.getMessage() != null
                && t.getMessage().contains("unsafe memory access");
    }
}

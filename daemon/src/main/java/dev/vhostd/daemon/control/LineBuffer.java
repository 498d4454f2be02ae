package dev.vhostd.daemon.control;

import java.nio.ByteBuffer;
import java.util.Arrays;

/** Splits a byte stream into newline-terminated lines of at most a given length. */
final class LineBuffer {
    /** Returned by {@link #take} when a line exceeds the limit. */
    static final byte[] TOO_LONG = new byte[0];

    private final int max;
    private byte[] buf = new byte[4096];
    private int len;

    LineBuffer(int max) {
        this.max = max;
    }

    /**
     * Consumes bytes from {@code in} up to and including the next newline and returns the line
     * without it; null when {@code in} ran out first (the partial line is kept for the next call).
     */
    byte[] take(ByteBuffer in) {
        while (in.hasRemaining()) {
            byte b = in.get();
            if (b == '\n') {
                byte[] line = Arrays.copyOf(buf, len);
                len = 0;
                return line;
            }
            if (len == max) {
                return TOO_LONG;
            }
            if (len == buf.length) {
                buf = Arrays.copyOf(buf, Math.min(max, buf.length * 2));
            }
            buf[len++] = b;
        }
        return null;
    }
}

package dev.vhostd.daemon.metrics;

/**
 * The fixed upper bounds of the request latency histogram: 1-2-5 steps from 5 microseconds to one
 * second, then +Inf. Fixed because a histogram can only be aggregated across queues, devices and
 * daemons if they all use the same bounds; 5 us is about the cost of one request through a memory
 * backend, one second is far past any timeout a guest would tolerate.
 */
public final class LatencyBuckets {
    private static final long US = 1_000L;
    private static final long MS = 1_000_000L;

    /** Inclusive upper bounds in nanoseconds, ascending; the +Inf bucket is implicit. */
    private static final long[] BOUNDS_NANOS = {
        5 * US, 10 * US, 20 * US, 50 * US, 100 * US, 200 * US, 500 * US,
        1 * MS, 2 * MS, 5 * MS, 10 * MS, 20 * MS, 50 * MS, 100 * MS, 200 * MS, 500 * MS,
        1_000 * MS,
    };

    /** Number of buckets including +Inf. */
    public static final int COUNT = BOUNDS_NANOS.length + 1;

    private LatencyBuckets() {}

    /**
     * BOUNDS_NANOS followed by a Long.MAX_VALUE sentinel, so that {@link #indexOf} may look one past
     * the last bound.
     */
    private static final long[] BOUNDS_PADDED = java.util.Arrays.copyOf(BOUNDS_NANOS, BOUNDS_NANOS.length + 1);

    /**
     * FIRST[j] = how many bounds are below 2^(j-1), i.e. below every value of bit length j. Each
     * bound is at least twice the previous one, so a binary order of magnitude [2^(j-1), 2^j) holds
     * at most one bound, which must then be BOUNDS_PADDED[FIRST[j]].
     */
    private static final int[] FIRST = new int[65];

    static {
        BOUNDS_PADDED[BOUNDS_NANOS.length] = Long.MAX_VALUE;
        for (int i = 1; i < BOUNDS_NANOS.length; i++) {
            if (BOUNDS_NANOS[i] < 2 * BOUNDS_NANOS[i - 1]) {
                throw new AssertionError("indexOf needs each bound to be at least twice the previous");
            }
        }
        for (int j = 1; j <= 64; j++) {
            long low = 1L << (j - 1); // for j = 64 this is Long.MIN_VALUE: no positive bound is below it
            int n = 0;
            while (j < 64 && n < BOUNDS_NANOS.length && BOUNDS_NANOS[n] < low) {
                n++;
            }
            FIRST[j] = j < 64 ? n : BOUNDS_NANOS.length;
        }
    }

    /**
     * The bucket a latency falls in: the first whose bound is at least {@code nanos} (Prometheus
     * buckets are "less than or equal"), or the +Inf bucket; {@code nanos} must not be negative.
     * Branch-free: the bit length of the value picks the only bound that can lie in its binary order
     * of magnitude, and one comparison (a conditional move) decides which side of it the value is.
     * Random latencies would make a linear scan mispredict about once per request.
     */
    public static int indexOf(long nanos) {
        int first = FIRST[64 - Long.numberOfLeadingZeros(nanos)];
        return first + (BOUNDS_PADDED[first] < nanos ? 1 : 0);
    }

    /** The obvious linear search, kept as the specification {@link #indexOf} is tested against. */
    static int indexOfLinear(long nanos) {
        for (int i = 0; i < BOUNDS_NANOS.length; i++) {
            if (nanos <= BOUNDS_NANOS[i]) {
                return i;
            }
        }
        return BOUNDS_NANOS.length;
    }

    /** The upper bound of bucket {@code index} in nanoseconds; {@link Long#MAX_VALUE} for +Inf. */
    public static long upperBoundNanos(int index) {
        return index < BOUNDS_NANOS.length ? BOUNDS_NANOS[index] : Long.MAX_VALUE;
    }

    /** The {@code le} label of bucket {@code index}, in seconds as Prometheus expects. */
    static String leLabel(int index) {
        return LE_LABELS[index];
    }

    private static final String[] LE_LABELS = new String[COUNT];

    static {
        for (int i = 0; i < BOUNDS_NANOS.length; i++) {
            // Exact decimal text ("0.000005", "0.5", "1"): readable in dashboards, and identical on
            // every vhostd, so sum by (le) across daemons lines the buckets up.
            LE_LABELS[i] = java.math.BigDecimal.valueOf(BOUNDS_NANOS[i], 9).stripTrailingZeros().toPlainString();
        }
        LE_LABELS[BOUNDS_NANOS.length] = "+Inf";
    }
}

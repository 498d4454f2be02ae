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
     * The bucket a latency falls in: the first whose bound is at least {@code nanos} (Prometheus
     * buckets are "less than or equal"), or the +Inf bucket. A linear scan from the bottom: most
     * requests take well under a millisecond, so this usually costs two to five predictable
     * comparisons, and it never allocates.
     */
    public static int indexOf(long nanos) {
        long[] bounds = BOUNDS_NANOS;
        for (int i = 0; i < bounds.length; i++) {
            if (nanos <= bounds[i]) {
                return i;
            }
        }
        return bounds.length;
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

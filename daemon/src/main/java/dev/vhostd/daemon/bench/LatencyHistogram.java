package dev.vhostd.daemon.bench;

/**
 * Latency histogram in nanoseconds with log-linear buckets, HdrHistogram style: exact below 128,
 * then 64 buckets per power of two (relative error below 1.6%). One preallocated long[]; recording
 * is a few arithmetic operations and one increment, no allocation.
 */
public final class LatencyHistogram {
    private static final int SUB_BITS = 6;
    private static final int SUB = 1 << SUB_BITS;          // 64 buckets per octave
    private static final int LINEAR = 2 * SUB;             // values below 128 are their own bucket
    private static final int BUCKETS = LINEAR + (63 - 7) * SUB;

    private final long[] counts = new long[BUCKETS];
    private long total;
    private long sum;
    private long max;
    private long min = Long.MAX_VALUE;

    public void record(long nanos) {
        long v = Math.max(0, nanos);
        counts[index(v)]++;
        total++;
        sum += v;
        if (v > max) {
            max = v;
        }
        if (v < min) {
            min = v;
        }
    }

    static int index(long v) {
        if (v < LINEAR) {
            return (int) v;
        }
        int exp = 63 - Long.numberOfLeadingZeros(v);      // >= 7
        int shift = exp - SUB_BITS;
        int top = (int) (v >>> shift);                       // in [64, 127]
        return LINEAR + (exp - 7) * SUB + (top - SUB);
    }

    /** Smallest value that falls into bucket {@code i}. */
    static long lowest(int i) {
        if (i < LINEAR) {
            return i;
        }
        int exp = (i - LINEAR) / SUB + 7;
        long top = (i - LINEAR) % SUB + SUB;
        return top << (exp - SUB_BITS);
    }

    /** Largest value that falls into bucket {@code i}. */
    static long highest(int i) {
        return i + 1 < BUCKETS ? lowest(i + 1) - 1 : Long.MAX_VALUE;
    }

    public long count() {
        return total;
    }

    public long max() {
        return total == 0 ? 0 : max;
    }

    public long min() {
        return total == 0 ? 0 : min;
    }

    public double mean() {
        return total == 0 ? 0 : (double) sum / total;
    }

    /**
     * The value at {@code percentile} (0..100]: the midpoint of the bucket holding the
     * ceil(p% x count)-th smallest sample, clamped to the observed min and max. 0 when empty.
     */
    public long percentile(double percentile) {
        if (!(percentile > 0 && percentile <= 100)) {
            throw new IllegalArgumentException("percentile must be in (0, 100], got " + percentile);
        }
        if (total == 0) {
            return 0;
        }
        // The epsilon keeps 99.9% of 1000 at rank 999 despite 0.999 * 1000 = 999.0000000000001.
        long rank = Math.max(1, (long) Math.ceil(percentile / 100.0 * total - 1e-9));
        long seen = 0;
        for (int i = 0; i < BUCKETS; i++) {
            seen += counts[i];
            if (seen >= rank) {
                long mid = lowest(i) + (highest(i) - lowest(i)) / 2;
                return Math.min(max, Math.max(min, mid));
            }
        }
        return max;
    }

    public void reset() {
        java.util.Arrays.fill(counts, 0);
        total = 0;
        sum = 0;
        max = 0;
        min = Long.MAX_VALUE;
    }
}

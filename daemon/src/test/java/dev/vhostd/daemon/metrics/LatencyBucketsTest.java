package dev.vhostd.daemon.metrics;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class LatencyBucketsTest {
    @Test
    void boundsAreInclusiveLikePrometheusLe() {
        assertEquals(0, LatencyBuckets.indexOf(0));
        assertEquals(0, LatencyBuckets.indexOf(5_000));
        assertEquals(1, LatencyBuckets.indexOf(5_001));
        assertEquals(1, LatencyBuckets.indexOf(10_000));
        assertEquals(LatencyBuckets.COUNT - 2, LatencyBuckets.indexOf(1_000_000_000));
        assertEquals(LatencyBuckets.COUNT - 1, LatencyBuckets.indexOf(1_000_000_001));
        assertEquals(LatencyBuckets.COUNT - 1, LatencyBuckets.indexOf(Long.MAX_VALUE));
    }

    @Test
    void everyValueLandsInTheFirstBucketWhoseBoundHoldsIt() {
        for (int b = 0; b < LatencyBuckets.COUNT - 1; b++) {
            long bound = LatencyBuckets.upperBoundNanos(b);
            assertEquals(b, LatencyBuckets.indexOf(bound), "at bound " + bound);
            assertEquals(b + 1, LatencyBuckets.indexOf(bound + 1), "just above bound " + bound);
            if (b > 0) {
                assertTrue(bound > LatencyBuckets.upperBoundNanos(b - 1), "bounds ascend");
            }
        }
    }

    @Test
    void fastIndexAgreesWithLinearSearch() {
        java.util.SplittableRandom rnd = new java.util.SplittableRandom(7);
        for (int i = 0; i < 1_000_000; i++) {
            long v = rnd.nextLong(Long.MAX_VALUE) >>> rnd.nextInt(63);
            assertEquals(LatencyBuckets.indexOfLinear(v), LatencyBuckets.indexOf(v), "for " + v);
        }
        for (int bit = 0; bit < 63; bit++) {
            for (long v : new long[] {(1L << bit) - 1, 1L << bit, (1L << bit) + 1}) {
                assertEquals(LatencyBuckets.indexOfLinear(v), LatencyBuckets.indexOf(v), "for " + v);
            }
        }
        for (int b = 0; b < LatencyBuckets.COUNT - 1; b++) {
            long bound = LatencyBuckets.upperBoundNanos(b);
            for (long v = bound - 2; v <= bound + 2; v++) {
                assertEquals(LatencyBuckets.indexOfLinear(v), LatencyBuckets.indexOf(v), "for " + v);
            }
        }
    }

    @Test
    void labelsAreExactDecimalSeconds() {
        assertEquals("0.000005", LatencyBuckets.leLabel(0));
        assertEquals("0.00001", LatencyBuckets.leLabel(1));
        assertEquals("0.001", LatencyBuckets.leLabel(7));
        assertEquals("1", LatencyBuckets.leLabel(LatencyBuckets.COUNT - 2));
        assertEquals("+Inf", LatencyBuckets.leLabel(LatencyBuckets.COUNT - 1));
        for (int b = 0; b < LatencyBuckets.COUNT - 1; b++) {
            assertEquals(LatencyBuckets.upperBoundNanos(b) / 1e9, Double.parseDouble(LatencyBuckets.leLabel(b)), 1e-15);
        }
    }
}

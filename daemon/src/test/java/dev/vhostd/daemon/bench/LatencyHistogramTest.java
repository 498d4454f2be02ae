package dev.vhostd.daemon.bench;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class LatencyHistogramTest {
    @Test
    void bucketsAreContiguousAndContainTheirValues() {
        long[] samples = {0, 1, 127, 128, 129, 255, 256, 1000, 3_000, 65_535, 1_000_000, 123_456_789, Long.MAX_VALUE};
        for (long v : samples) {
            int i = LatencyHistogram.index(v);
            assertTrue(LatencyHistogram.lowest(i) <= v && v <= LatencyHistogram.highest(i), "value " + v + " bucket " + i);
        }
        for (int i = 0; i < 2000; i++) {
            assertEquals(LatencyHistogram.lowest(i + 1), LatencyHistogram.highest(i) + 1, "bucket " + i);
        }
    }

    @Test
    void relativeErrorStaysBelowTwoPercent() {
        for (long v = 128; v < 10_000_000_000L; v = v * 3 / 2 + 7) {
            int i = LatencyHistogram.index(v);
            double width = LatencyHistogram.highest(i) - LatencyHistogram.lowest(i) + 1;
            assertTrue(width / v < 0.0157, "bucket width " + width + " at " + v);
        }
    }

    @Test
    void percentilesOfAUniformDistribution() {
        LatencyHistogram h = new LatencyHistogram();
        for (int i = 1; i <= 100_000; i++) {
            h.record(i * 10L);
        }
        assertEquals(100_000, h.count());
        assertEquals(500_000, h.percentile(50), 500_000 * 0.016);
        assertEquals(990_000, h.percentile(99), 990_000 * 0.016);
        assertEquals(999_000, h.percentile(99.9), 999_000 * 0.016);
        assertEquals(1_000_000, h.percentile(100));
        assertEquals(10, h.min());
        assertEquals(1_000_000, h.max());
        assertEquals(500_005, h.mean(), 0.001);
    }

    @Test
    void aSingleOutlierShowsUpOnlyInTheTail() {
        LatencyHistogram h = new LatencyHistogram();
        for (int i = 0; i < 999; i++) {
            h.record(3_000);
        }
        h.record(5_000_000);
        assertEquals(3_000, h.percentile(50), 3_000 * 0.016);
        assertEquals(3_000, h.percentile(99.9), 3_000 * 0.016);
        assertEquals(5_000_000, h.percentile(100));
    }

    @Test
    void emptyAndReset() {
        LatencyHistogram h = new LatencyHistogram();
        assertEquals(0, h.percentile(99));
        h.record(-5);
        assertEquals(0, h.max(), "negative durations (clock skew) count as zero");
        h.record(1000);
        h.reset();
        assertEquals(0, h.count());
        assertEquals(0, h.percentile(50));
        assertThrows(IllegalArgumentException.class, () -> h.percentile(0));
        assertThrows(IllegalArgumentException.class, () -> h.percentile(101));
    }
}

package dev.vhostd.daemon.limits;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The bucket arithmetic, on a simulated clock. */
class RateLimiterTest {
    private static final long MS = 1_000_000L;

    /** Offers one request of {@code bytes} every {@code stepNanos} for {@code nanos}; counts the admitted. */
    private static long drive(RateLimiter.Gate g, boolean write, long bytes, long start, long nanos, long stepNanos) {
        long admitted = 0;
        for (long t = start; t < start + nanos; t += stepNanos) {
            while (g.admit(write, bytes, t) == 0) {
                admitted++;
            }
        }
        return admitted;
    }

    @Test
    void noLimitsMeansNoGate() {
        RateLimiter r = new RateLimiter();
        assertNull(r.gate());
        r.set(new Limits(100, 0, 0, 0, 0, 0));
        r.set(Limits.NONE);
        assertNull(r.gate(), "removing every limit takes the hot path back to one null check");
        assertThrows(IllegalArgumentException.class, () -> new Limits(-1, 0, 0, 0, 0, 0));
    }

    @Test
    void theBurstIsAHundredMillisecondsOfTheLimit() {
        RateLimiter r = new RateLimiter();
        r.set(new Limits(5000, 0, 0, 0, 0, 0));
        long t = System.nanoTime();
        long burst = 0;
        while (r.gate().admit(false, 4096, t) == 0) {
            burst++;
        }
        assertEquals(501, burst, "100 ms of 5000/s, plus the request that meets a full bucket");
        long wait = r.gate().admit(false, 4096, t);
        assertTrue(wait > 0 && wait <= 200_000, "the next token is due within one request's cost: " + wait);
    }

    @Test
    void aSustainedLoadGetsTheRateExactly() {
        RateLimiter r = new RateLimiter();
        r.set(new Limits(5000, 0, 0, 0, 0, 0));
        long t0 = System.nanoTime();
        drive(r.gate(), false, 4096, t0, 100 * MS, MS); // spend the burst
        long n = drive(r.gate(), false, 4096, t0 + 100 * MS, 10_000 * MS, MS);
        assertEquals(50_000, n, 5, "10 s at 5000 IOPS, sampled every millisecond");
    }

    @Test
    void bytesPerSecondCountBytesAndAnOversizedRequestIsWaitedOff() {
        RateLimiter r = new RateLimiter();
        r.set(new Limits(0, 0, 0, 10 << 20, 0, 0)); // 10 MiB/s
        long t0 = System.nanoTime();
        drive(r.gate(), true, 65536, t0, 100 * MS, MS);
        long n = drive(r.gate(), true, 65536, t0 + 100 * MS, 5_000 * MS, MS);
        assertEquals(5 * 160, n, 2, "5 s of 10 MiB/s in 64 KiB requests");
        // A 4 MiB request on a full bucket (1 MiB burst) goes, and then costs ~400 ms of waiting.
        r.set(new Limits(0, 0, 0, 10 << 20, 0, 0));
        long t = System.nanoTime();
        assertEquals(0, r.gate().admit(true, 4 << 20, t));
        long wait = r.gate().admit(true, 4096, t);
        assertTrue(wait > 250 * MS && wait < 350 * MS, "400 ms of cost minus the 100 ms burst: " + wait / MS + " ms");
    }

    @Test
    void directionalLimitsHoldOnlyTheirDirectionAndSharedLimitsBoth() {
        RateLimiter r = new RateLimiter();
        r.set(new Limits(0, 1000, 0, 0, 0, 0));
        long t = System.nanoTime();
        while (r.gate().admit(false, 4096, t) == 0) {
            // spend the read bucket
        }
        assertEquals(0, r.gate().admit(true, 4096, t), "writes are not held by a read limit");
        assertEquals(0, r.gate().admit(true, 0, t), "nor is a discard");
        r.set(new Limits(1000, 0, 0, 0, 0, 0));
        t = System.nanoTime();
        while (r.gate().admit(true, 0, t) == 0) {
            // discards count as operations against iops
        }
        assertTrue(r.gate().admit(false, 4096, t) > 0, "a shared iops limit holds reads once writes spent it");
    }

    @Test
    void aNewLimitStartsWithAFullBucketWhateverTheOldDebt() {
        RateLimiter r = new RateLimiter();
        r.set(new Limits(1, 0, 0, 0, 0, 0));
        long t = System.nanoTime();
        r.gate().admit(false, 512, t);
        assertTrue(r.gate().admit(false, 512, t) > 800 * MS, "1 IOPS: the next one is a second away");
        r.set(new Limits(1000, 0, 0, 0, 0, 0));
        assertEquals(0, r.gate().admit(false, 512, System.nanoTime()), "the raised limit applies at once");
    }
}

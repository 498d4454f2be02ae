package dev.vhostd.daemon.limits;

import java.util.concurrent.atomic.AtomicLong;

/**
 * A disk's token buckets, shared by its queues (which may run on different pollers). Each limit is
 * a bucket in the GCRA form: one atomic "theoretical arrival time" (TAT) in nanoseconds, moved on
 * by each admitted request's cost ({@code units * 1e9 / rate}). A request is admitted while the TAT
 * is at most {@link #BURST_NANOS} ahead of now, which allows a burst of 100 ms of the limit after an
 * idle spell; a request larger than that burst is admitted when the bucket is full and the disk then
 * waits it off. No lock: a poller reads {@link #gate()} (a volatile read) once per batch and then
 * CASes the buckets of the requests it pops.
 *
 * <p>A new {@link Limits} is published as a new {@link Gate} with full buckets, so a change takes
 * effect at the next batch of every queue (microseconds, or at most the poller's wait for tokens,
 * itself at most {@link #BURST_NANOS} when the limit was raised).
 */
public final class RateLimiter {
    /** The burst allowance: 100 ms of the limit. */
    public static final long BURST_NANOS = 100_000_000L;
    private static final long NANOS_PER_SECOND = 1_000_000_000L;

    private volatile Limits limits = Limits.NONE;
    private volatile Gate gate;

    /** The limits in force. */
    public Limits limits() {
        return limits;
    }

    /** Publishes new limits; queues apply them from their next batch. */
    public synchronized void set(Limits next) {
        limits = next;
        gate = next.unlimited() ? null : new Gate(next, System.nanoTime());
    }

    /** The buckets in force, or null when nothing is limited (the hot path's only cost then). */
    public Gate gate() {
        return gate;
    }

    /** One bucket: a rate and the TAT. */
    private static final class Bucket {
        final long rate;
        final AtomicLong tat;

        Bucket(long rate, long now) {
            this.rate = rate;
            this.tat = new AtomicLong(now);
        }

        /** Nanoseconds until this bucket admits again, or 0 if it admits now. */
        long delay(long now) {
            long ahead = tat.get() - now - BURST_NANOS;
            return ahead > 0 ? ahead : 0;
        }

        void charge(long units, long now) {
            long cost = cost(units);
            long prev;
            long next;
            do {
                prev = tat.get();
                next = Math.max(prev, now) + cost;
            } while (!tat.compareAndSet(prev, next));
        }

        /** units * 1e9 / rate, rounded to nearest, saturating instead of overflowing. */
        long cost(long units) {
            if (units > Long.MAX_VALUE / NANOS_PER_SECOND) {
                return Long.MAX_VALUE / 4;
            }
            return (units * NANOS_PER_SECOND + rate / 2) / rate;
        }
    }

    /** The buckets of one published {@link Limits}; immutable apart from the buckets' TATs. */
    public static final class Gate {
        private final Bucket iops;
        private final Bucket readIops;
        private final Bucket writeIops;
        private final Bucket bps;
        private final Bucket readBps;
        private final Bucket writeBps;

        Gate(Limits l, long now) {
            iops = bucket(l.iops(), now);
            readIops = bucket(l.readIops(), now);
            writeIops = bucket(l.writeIops(), now);
            bps = bucket(l.bps(), now);
            readBps = bucket(l.readBps(), now);
            writeBps = bucket(l.writeBps(), now);
        }

        private static Bucket bucket(long rate, long now) {
            return rate == 0 ? null : new Bucket(rate, now);
        }

        /**
         * Admits one request of {@code bytes} (a write if {@code write}) at {@code now}: returns 0 and
         * charges every bucket that applies, or returns how many nanoseconds to wait before it can be
         * admitted and charges nothing.
         */
        public long admit(boolean write, long bytes, long now) {
            Bucket dirOps = write ? writeIops : readIops;
            Bucket dirBytes = write ? writeBps : readBps;
            long wait = Math.max(delay(iops, now), delay(dirOps, now));
            if (bytes > 0) {
                wait = Math.max(wait, Math.max(delay(bps, now), delay(dirBytes, now)));
            }
            if (wait > 0) {
                return wait;
            }
            charge(iops, 1, now);
            charge(dirOps, 1, now);
            if (bytes > 0) {
                charge(bps, bytes, now);
                charge(dirBytes, bytes, now);
            }
            return 0;
        }

        private static long delay(Bucket b, long now) {
            return b == null ? 0 : b.delay(now);
        }

        private static void charge(Bucket b, long units, long now) {
            if (b != null) {
                b.charge(units, now);
            }
        }
    }
}

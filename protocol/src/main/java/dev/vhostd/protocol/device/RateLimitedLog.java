package dev.vhostd.protocol.device;

import java.lang.System.Logger;
import java.lang.System.Logger.Level;

/**
 * A log line a guest can provoke once per request (an invalid chain, a request outside the disk, a
 * backend error that every retry repeats), limited so that no guest can flood the log: in each
 * window the first {@code burst} events are logged in full, the rest only counted, and one summary
 * line says how many were left out ("N more invalid descriptor chains from this guest in the last
 * 10 s"). Metrics count every event; this only decides what reaches the log.
 *
 * <p>Owned by one thread (a queue's poller). A suppressed event costs a compare and an increment:
 * no allocation, no clock read (the caller passes the batch's time), no lock.
 */
public final class RateLimitedLog {
    /** Events logged in full per window. */
    public static final int DEFAULT_BURST = 5;
    /** The window: one summary line per this long at most, per limiter. */
    public static final long DEFAULT_WINDOW_NANOS = 10_000_000_000L;

    private final Logger log;
    private final Level level;
    private final String prefix;
    private final String what;
    private final int burst;
    private final long windowNanos;
    private boolean windowOpen;
    private long windowStart;
    private int logged;
    private long suppressed;

    /**
     * @param prefix what the lines are about, e.g. {@code "disk0: queue 0: "}
     * @param what   the event in the plural for the summary, e.g. {@code "invalid descriptor chains from this guest"}
     */
    public RateLimitedLog(Logger log, Level level, String prefix, String what, int burst, long windowNanos) {
        if (burst < 1 || windowNanos <= 0) {
            throw new IllegalArgumentException("burst must be at least 1 and the window positive");
        }
        this.log = log;
        this.level = level;
        this.prefix = prefix;
        this.what = what;
        this.burst = burst;
        this.windowNanos = windowNanos;
    }

    public RateLimitedLog(Logger log, Level level, String prefix, String what) {
        this(log, level, prefix, what, DEFAULT_BURST, DEFAULT_WINDOW_NANOS);
    }

    /**
     * Counts one event at {@code now} (System.nanoTime) and returns whether the caller should log it in
     * full. The message the caller logs should start with {@link #prefix()}.
     */
    public boolean admit(long now) {
        if (!windowOpen || now - windowStart >= windowNanos) {
            summarize(now);
            windowOpen = true;
            windowStart = now;
            logged = 0;
        }
        if (logged < burst) {
            logged++;
            if (logged == burst) {
                log.log(level, prefix + "further " + what + " in the next " + windowNanos / 1_000_000_000L
                        + " s are counted, not logged one by one");
            }
            return true;
        }
        suppressed++;
        return false;
    }

    /**
     * Call once per batch: writes the summary of a window that has ended, so that it appears even
     * when the events stopped. One compare while nothing is suppressed.
     */
    public void tick(long now) {
        if (suppressed != 0 && now - windowStart >= windowNanos) {
            summarize(now);
            windowOpen = false;
        }
    }

    /** Writes what is still unsummarized (the queue stops). */
    public void close(long now) {
        summarize(now);
        windowOpen = false;
    }

    public String prefix() {
        return prefix;
    }

    /** Events counted but not logged in full since the last summary. */
    public long suppressed() {
        return suppressed;
    }

    private void summarize(long now) {
        if (suppressed == 0) {
            return;
        }
        long n = suppressed;
        suppressed = 0;
        long seconds = Math.max(1, Math.round((now - windowStart) / 1e9));
        log.log(level, prefix + n + " more " + what + " in the last " + seconds + " s");
    }
}

package dev.vhostd.daemon;

import java.lang.System.Logger.Level;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;

import dev.vhostd.daemon.metrics.HealthState;
import dev.vhostd.protocol.poll.Liveness;

/**
 * Whether vhostd is doing its job, for /healthz and the systemd watchdog: serving (listening and not
 * shutting down), and every thread it depends on (the accept loop, every poller) alive and not stuck
 * inside one step longer than the stall limit. Waiting for work is fine: an idle poller blocked on
 * its kick fds, or an accept loop waiting for a front-end, is healthy. So a wedged vhostd stops the
 * watchdog pings and systemd restarts it, and a probe sees 503 with the reason.
 */
public final class DaemonHealth implements HealthState {
    private static final System.Logger LOG = System.getLogger("vhostd");

    private final BooleanSupplier serving;
    private final Supplier<List<Liveness>> watched;
    private final long stallLimitNanos;
    private String lastProblem;

    /**
     * @param serving    true while listening and not shutting down
     * @param watched    the threads to check, read on every check (pools may change)
     * @param stallLimit how long one step may take before its thread counts as stuck
     */
    public DaemonHealth(BooleanSupplier serving, Supplier<List<Liveness>> watched, Duration stallLimit) {
        this.serving = Objects.requireNonNull(serving, "serving");
        this.watched = Objects.requireNonNull(watched, "watched");
        if (stallLimit.isNegative() || stallLimit.isZero()) {
            throw new IllegalArgumentException("stall limit must be positive, got " + stallLimit);
        }
        this.stallLimitNanos = stallLimit.toNanos();
    }

    @Override
    public boolean serving() {
        return problem() == null;
    }

    /** Null when healthy, otherwise what is wrong (logged once each time it changes). */
    @Override
    public String problem() {
        String p = check();
        noteChange(p);
        return p;
    }

    private String check() {
        if (!serving.getAsBoolean()) {
            return "not serving (starting or shutting down)";
        }
        long now = System.nanoTime();
        StringBuilder sb = null;
        for (Liveness l : watched.get()) {
            long stalled = l.stalledNanos(now);
            if (stalled < stallLimitNanos) {
                continue;
            }
            sb = sb == null ? new StringBuilder() : sb.append("; ");
            if (stalled == Long.MAX_VALUE) {
                sb.append(l.name()).append(" has stopped");
            } else {
                sb.append(l.name()).append(" has been stuck in one step for ")
                        .append(Duration.ofNanos(stalled).toMillis()).append(" ms (limit ")
                        .append(Duration.ofNanos(stallLimitNanos).toMillis()).append(" ms)");
            }
        }
        return sb == null ? null : sb.toString();
    }

    private synchronized void noteChange(String problem) {
        if (Objects.equals(problem, lastProblem)) {
            return;
        }
        String before = lastProblem;
        lastProblem = problem;
        if (problem == null) {
            LOG.log(Level.INFO, "healthy again (was: " + before + ")");
        } else if (serving.getAsBoolean()) {
            // Stalls are what this check exists for; "not serving" is the normal start and stop.
            LOG.log(Level.ERROR, "unhealthy: " + problem + ". /healthz answers 503 and the systemd watchdog is not"
                    + " pinged, so a supervisor restarts vhostd");
        }
    }
}

package dev.vhostd.protocol.poll;

import java.util.ArrayList;
import java.util.List;

/**
 * The daemon's poller threads, shared by every disk. A ring is given to the least loaded poller when
 * it starts ({@link #assign()}), so many disks with idle rings need no thread of their own.
 */
public final class PollerGroup implements AutoCloseable {
    private final List<Poller> pollers = new ArrayList<>();

    public PollerGroup(String prefix, int count, long pollMicros) {
        if (count < 1) {
            throw new IllegalArgumentException("at least one poller is needed, got " + count);
        }
        for (int i = 0; i < count; i++) {
            pollers.add(new Poller(prefix + "-poller-" + i, pollMicros));
        }
    }

    /** The poller serving the fewest queues (the first of them on a tie), for a ring about to start. */
    public Poller assign() {
        Poller best = pollers.get(0);
        for (Poller p : pollers) {
            if (p.load() < best.load()) {
                best = p;
            }
        }
        return best;
    }

    public List<Poller> pollers() {
        return List.copyOf(pollers);
    }

    /** Every poller as a health check sees it (see {@link Liveness}). */
    public List<Liveness> liveness() {
        return List.copyOf(pollers);
    }

    @Override
    public void close() {
        for (Poller p : pollers) {
            p.close();
        }
    }
}

package dev.vhostd.protocol.poll;

import java.util.ArrayList;
import java.util.List;

/** The daemon's poller threads; queue i is served by poller i mod N. */
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

    public Poller forQueue(int queueIndex) {
        return pollers.get(Math.floorMod(queueIndex, pollers.size()));
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

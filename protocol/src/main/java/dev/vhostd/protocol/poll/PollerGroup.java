package dev.vhostd.protocol.poll;

import java.util.ArrayList;
import java.util.List;

/**
 * The daemon's poller threads, shared by every disk. A disk's first ring goes to the least loaded
 * poller when it starts ({@link #assign()}), so many disks with idle rings need no thread of their own;
 * where its other rings go is the {@link Placement}.
 */
public final class PollerGroup implements AutoCloseable {
    /** Where the second and later rings of one disk run. */
    public enum Placement {
        /**
         * On the poller of the disk's first running ring, as qemu-storage-daemon (one AioContext per
         * export) and SPDK (one thread per controller) place a device's queues. One thread serves
         * all of a guest's rings in one pass: one wake-up, one batch, and no second poller competing
         * with the guest's vCPUs for the CPU.
         */
        DISK,
        /** Each ring to the least loaded poller: a single multi-queue disk spreads over cores. */
        RING
    }

    private final List<Poller> pollers = new ArrayList<>();
    private final Placement placement;

    public PollerGroup(String prefix, int count, long pollMicros) {
        this(prefix, count, pollMicros, Placement.DISK);
    }

    public PollerGroup(String prefix, int count, long pollMicros, Placement placement) {
        this(prefix, count, pollMicros, placement, false);
    }

    /** {@code yieldWhenContended}: see {@link Poller#Poller(String, long, boolean)}. */
    public PollerGroup(String prefix, int count, long pollMicros, Placement placement, boolean yieldWhenContended) {
        this.placement = placement;
        if (count < 1) {
            throw new IllegalArgumentException("at least one poller is needed, got " + count);
        }
        for (int i = 0; i < count; i++) {
            pollers.add(new Poller(prefix + "-poller-" + i, pollMicros, yieldWhenContended));
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

    /**
     * The poller for a ring about to start, given the pollers already serving other rings of its
     * disk (empty if none runs): one of those under {@link Placement#DISK}, else the least loaded.
     */
    public Poller assign(List<Poller> disksPollers) {
        if (placement == Placement.DISK && !disksPollers.isEmpty()) {
            return disksPollers.get(0);
        }
        return assign();
    }

    public Placement placement() {
        return placement;
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

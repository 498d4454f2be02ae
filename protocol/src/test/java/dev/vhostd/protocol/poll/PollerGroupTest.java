package dev.vhostd.protocol.poll;

import java.util.List;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;

import dev.vhostd.protocol.device.QueueHandler;
import dev.vhostd.protocol.testing.FakeDriver;
import dev.vhostd.protocol.testing.FakeDriverQueue;

import static org.junit.jupiter.api.Assertions.assertSame;

/** Where a disk's rings run: together on one poller, or each on the least loaded. */
class PollerGroupTest {
    private static final class Idle implements QueueHandler {
        @Override public int doWork() { return 0; }
        @Override public int completionFd() { return -1; }
        @Override public int inFlight() { return 0; }
        @Override public void drain() {}
        @Override public void close() {}
    }

    /** Starts a disk's first ring where the group puts it; returns that poller. */
    private static Poller startFirstRing(PollerGroup g, FakeDriver driver) throws Exception {
        Poller p = g.assign(List.of());
        FakeDriverQueue dq = driver.addQueue(8);
        p.attach(new QueueBinding(0, dq.deviceQueue(true), new Idle(), -1, -1, (q, c) -> {}, null))
                .get(5, TimeUnit.SECONDS);
        return p;
    }

    private static Poller theOther(PollerGroup g, Poller p) {
        return g.pollers().get(0) == p ? g.pollers().get(1) : g.pollers().get(0);
    }

    @Test
    void diskPlacementKeepsADisksRingsOnItsFirstRingsPoller() throws Exception {
        try (FakeDriver driver = new FakeDriver(1 << 20);
                PollerGroup g = new PollerGroup("place", 2, 0, PollerGroup.Placement.DISK)) {
            Poller first = startFirstRing(g, driver);
            // The disk's first ring made `first` the busier poller; its second ring still goes there.
            assertSame(first, g.assign(List.of(first)));
            // Another disk's first ring goes to the least loaded poller.
            assertSame(theOther(g, first), g.assign(List.of()));
        }
    }

    @Test
    void ringPlacementSpreadsADisksRingsOverThePollers() throws Exception {
        try (FakeDriver driver = new FakeDriver(1 << 20);
                PollerGroup g = new PollerGroup("place", 2, 0, PollerGroup.Placement.RING)) {
            Poller first = startFirstRing(g, driver);
            assertSame(theOther(g, first), g.assign(List.of(first)));
        }
    }
}

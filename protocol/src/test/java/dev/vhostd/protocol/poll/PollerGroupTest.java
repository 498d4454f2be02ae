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

    private static void load(FakeDriver driver, Poller p) throws Exception {
        FakeDriverQueue dq = driver.addQueue(8);
        p.attach(new QueueBinding(0, dq.deviceQueue(true), new Idle(), -1, -1, (q, c) -> {}, null))
                .get(5, TimeUnit.SECONDS);
    }

    @Test
    void diskPlacementKeepsADisksRingsOnItsFirstRingsPoller() throws Exception {
        try (FakeDriver driver = new FakeDriver(1 << 20);
                PollerGroup g = new PollerGroup("place", 2, 0, PollerGroup.Placement.DISK)) {
            Poller first = g.assign(List.of());
            load(driver, first);
            // The disk's first ring made `first` the busier poller; its second ring still goes there.
            assertSame(first, g.assign(List.of(first)));
            // Another disk's first ring goes to the least loaded poller.
            Poller other = g.pollers().get(0) == first ? g.pollers().get(1) : g.pollers().get(0);
            assertSame(other, g.assign(List.of()));
        }
    }

    @Test
    void ringPlacementSpreadsADisksRingsOverThePollers() throws Exception {
        try (FakeDriver driver = new FakeDriver(1 << 20);
                PollerGroup g = new PollerGroup("place", 2, 0, PollerGroup.Placement.RING)) {
            Poller first = g.assign(List.of());
            load(driver, first);
            Poller second = g.assign(List.of(first));
            assertSame(first == g.pollers().get(0) ? g.pollers().get(1) : g.pollers().get(0), second);
        }
    }
}

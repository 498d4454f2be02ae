package dev.vhostd.protocol.poll;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import dev.vhostd.protocol.device.QueueHandler;
import dev.vhostd.protocol.testing.FakeDriver;
import dev.vhostd.protocol.testing.FakeDriverQueue;
import dev.vhostd.protocol.virtq.DescriptorChain;
import dev.vhostd.protocol.virtq.EventIdx;
import dev.vhostd.protocol.virtq.SplitQueue;
import dev.vhostd.sys.EventFd;
import dev.vhostd.sys.Libc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Idle rings park (issue 12: one busy disk among 63 idle ones must run as if alone) and the poll
 * window adapts to what polling finds (issue 15: polling that pays for itself).
 */
class PollerParkingTest {

    /** Counts doWork calls; reports work while {@code busy} is set. */
    private static final class Counting implements QueueHandler {
        final AtomicLong calls = new AtomicLong();
        final AtomicBoolean busy = new AtomicBoolean();

        @Override
        public int doWork() {
            calls.incrementAndGet();
            return busy.get() ? 1 : 0;
        }

        @Override public int completionFd() { return -1; }
        @Override public int inFlight() { return 0; }
        @Override public void drain() {}
        @Override public void close() {}
    }

    @Test
    void idleRingsAreNotVisitedWhileABusyNeighbourRuns() throws Exception {
        int rings = 16;
        List<Integer> kicks = new ArrayList<>();
        List<Counting> handlers = new ArrayList<>();
        try (FakeDriver driver = new FakeDriver(4 << 20); Poller p = new Poller("parking", 50)) {
            for (int i = 0; i < rings; i++) {
                FakeDriverQueue dq = driver.addQueue(8);
                int kick = EventFd.create();
                kicks.add(kick);
                Counting h = new Counting();
                handlers.add(h);
                p.attach(new QueueBinding(i, dq.deviceQueue(true), h, kick, -1, (q, c) -> {}, null))
                        .get(5, TimeUnit.SECONDS);
            }
            Counting busy = handlers.get(0);
            busy.busy.set(true);
            new EventFd().signal(kicks.get(0));
            // Let every idle ring use up its window and park.
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (busy.calls.get() < 10_000 && System.nanoTime() < deadline) {
                Thread.sleep(10);
            }
            Thread.sleep(50);
            long[] before = new long[rings];
            for (int i = 1; i < rings; i++) {
                before[i] = handlers.get(i).calls.get();
            }
            long busyBefore = busy.calls.get();
            Thread.sleep(300);
            long busyPasses = busy.calls.get() - busyBefore;
            assertTrue(busyPasses > 1000, "the busy ring was polled only " + busyPasses + " times in 300 ms");
            for (int i = 1; i < rings; i++) {
                long idlePasses = handlers.get(i).calls.get() - before[i];
                assertEquals(0, idlePasses, "idle ring " + i + " was polled " + idlePasses
                        + " times while ring 0 was polled " + busyPasses + " times: it should be parked");
            }

            // A kick on a parked ring is seen while the busy ring keeps the poller from sleeping.
            long woken = handlers.get(5).calls.get();
            new EventFd().signal(kicks.get(5));
            deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
            while (handlers.get(5).calls.get() == woken && System.nanoTime() < deadline) {
                Thread.sleep(1);
            }
            assertTrue(handlers.get(5).calls.get() > woken, "a kick on a parked ring was not noticed");
            // ... and, idle again, it parks again although ring 0 keeps the poller busy.
            Thread.sleep(100);
            long after = handlers.get(5).calls.get();
            Thread.sleep(300);
            assertEquals(after, handlers.get(5).calls.get(), "ring 5, kicked once, stayed active while ring 0 was busy");

            // All idle: the poller blocks and nothing is polled.
            busy.busy.set(false);
            Thread.sleep(200);
            long total = handlers.stream().mapToLong(h -> h.calls.get()).sum();
            Thread.sleep(300);
            assertEquals(total, handlers.stream().mapToLong(h -> h.calls.get()).sum(),
                    "an idle poller went on polling");
            assertEquals(0, p.stalledNanos(System.nanoTime()), "an idle poller is blocked, not stalled");
        } finally {
            kicks.forEach(Libc::close);
        }
    }

    /** Pops and completes every chain, as a device would. */
    private static final class Completing implements QueueHandler {
        final SplitQueue q;
        final DescriptorChain c = new DescriptorChain(16);
        final AtomicLong done = new AtomicLong();

        Completing(SplitQueue q) {
            this.q = q;
        }

        @Override
        public int doWork() {
            int n = 0;
            while (q.pop(c)) {
                q.addUsed(c.head(), 0);
                n++;
            }
            done.addAndGet(n);
            return n;
        }

        @Override public int completionFd() { return -1; }
        @Override public int inFlight() { return 0; }
        @Override public void drain() {}
        @Override public void close() {}
    }

    /**
     * Four drivers kick only when the device asked (avail_event); rings park and unpark all the
     * time. A request published while its ring was being parked must not wait for a kick that the
     * driver will not send.
     */
    @ParameterizedTest(name = "pollUs={0}")
    @ValueSource(longs = {0, 20})
    void noRequestIsLostWhileRingsParkAndWake(long pollUs) throws Exception {
        int rings = 4;
        int chains = 5_000;
        try (FakeDriver driver = new FakeDriver(4 << 20); Poller p = new Poller("parking", pollUs)) {
            List<FakeDriverQueue> dqs = new ArrayList<>();
            List<Integer> kicks = new ArrayList<>();
            List<Completing> handlers = new ArrayList<>();
            FakeDriver.Buffer buf = driver.buffer(64);
            for (int i = 0; i < rings; i++) {
                FakeDriverQueue dq = driver.addQueue(16);
                dqs.add(dq);
                int kick = EventFd.create();
                kicks.add(kick);
                Completing h = new Completing(dq.deviceQueue(true));
                handlers.add(h);
                p.attach(new QueueBinding(i, h.q, h, kick, -1, (q, c) -> {}, null)).get(5, TimeUnit.SECONDS);
            }
            EventFd signal = new EventFd();
            int[] sent = new int[rings];
            int[] received = new int[rings];
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            int step = 0;
            while (sum(received) < rings * chains) {
                assertTrue(System.nanoTime() < deadline, () -> "stalled: sent " + sum(sent) + ", completed "
                        + sum(received) + "; a published request waited for a kick that was never asked for");
                for (int i = 0; i < rings; i++) {
                    FakeDriverQueue dq = dqs.get(i);
                    while (dq.pollUsed() != null) {
                        received[i]++;
                    }
                    if (sent[i] < chains && dq.freeDescriptors() > 0 && (step + i) % (i + 1) == 0) {
                        int old = dq.availIdx();
                        dq.addChain(List.of(buf), List.of(), false);
                        sent[i]++;
                        if (EventIdx.needEvent(dq.availEvent(), dq.availIdx(), old)) {
                            signal.signal(kicks.get(i));
                        }
                    }
                }
                if (++step % 64 == 0) {
                    Thread.sleep(0, 50_000); // let rings go idle and park now and then
                }
            }
            for (int i = 0; i < rings; i++) {
                assertEquals(chains, handlers.get(i).done.get());
            }
        }
    }

    private static int sum(int[] a) {
        int s = 0;
        for (int x : a) {
            s += x;
        }
        return s;
    }

    @Test
    void theWindowGrowsWhilePollingWouldCatchWorkAndShrinksToZeroWhenNot() {
        long ceiling = 50_000;
        // Work came after a sleep, sooner than the ceiling: a longer window would have caught it.
        long w = Poller.adaptWindow(0, 20_000, ceiling);
        assertEquals(4_000, w);
        w = Poller.adaptWindow(w, 20_000, ceiling);
        assertEquals(8_000, w);
        w = Poller.adaptWindow(w, 20_000, ceiling);
        w = Poller.adaptWindow(w, 20_000, ceiling);
        assertEquals(32_000, w, "doubling up to the idle time");
        assertEquals(32_000, Poller.adaptWindow(w, 20_000, ceiling), "work within the window: keep it");
        assertEquals(ceiling, Poller.adaptWindow(32_000, 40_000, ceiling), "never above the ceiling");
        // Work came later than the ceiling: polling only burnt CPU.
        w = ceiling;
        int steps = 0;
        while (w > 0) {
            w = Poller.adaptWindow(w, 5_000_000, ceiling);
            steps++;
        }
        assertTrue(steps <= 5, "shrinks to zero within a few idle spells, took " + steps);
        assertEquals(0, Poller.adaptWindow(0, 5_000_000, ceiling));
        assertEquals(0, Poller.adaptWindow(0, 20_000, 0), "--poll-us 0: never polls");
    }

    @Test
    void aPollerWhoseWorkComesLateStopsPolling() throws Exception {
        int kick = EventFd.create();
        try (FakeDriver driver = new FakeDriver(1 << 20); Poller p = new Poller("window", 50)) {
            FakeDriverQueue dq = driver.addQueue(8);
            Completing h = new Completing(dq.deviceQueue(true));
            p.attach(new QueueBinding(0, h.q, h, kick, -1, (q, c) -> {}, null)).get(5, TimeUnit.SECONDS);
            FakeDriver.Buffer buf = driver.buffer(64);
            EventFd signal = new EventFd();
            for (int i = 0; i < 20; i++) {
                dq.addChain(List.of(buf), List.of(), false);
                signal.signal(kick);
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
                while (dq.pollUsed() == null) {
                    assertTrue(System.nanoTime() < deadline, "request " + i + " not completed");
                    Thread.sleep(1);
                }
                Thread.sleep(2); // far beyond the 50 us ceiling
            }
            assertEquals(0, p.pollWindowNanos(), "requests 2 ms apart: polling cannot pay");
        } finally {
            Libc.close(kick);
        }
    }

    /** Finds work every {@code everyNanos}: idle spells the poll window can catch. */
    private static final class Paced implements QueueHandler {
        final long everyNanos;
        long next;

        Paced(long everyNanos) {
            this.everyNanos = everyNanos;
        }

        @Override
        public int doWork() {
            long now = System.nanoTime();
            if (now - next < 0) {
                return 0;
            }
            next = now + everyNanos;
            return 1;
        }

        @Override public int completionFd() { return -1; }
        @Override public int inFlight() { return 0; }
        @Override public void drain() {}
        @Override public void close() {}
    }

    /**
     * A poller whose CPU other threads want (here: more spinning threads than cores; on a host, guest
     * vCPUs) is preempted while it polls, and stops polling: its spinning would take their time.
     */
    @Test
    void aPollerPreemptedWhilePollingStopsPolling() throws Exception {
        try (FakeDriver driver = new FakeDriver(1 << 20); Poller p = new Poller("contended", 50, true)) {
            FakeDriverQueue dq = driver.addQueue(8);
            Paced h = new Paced(TimeUnit.MICROSECONDS.toNanos(20));
            p.attach(new QueueBinding(0, dq.deviceQueue(true), h, -1, -1, (q, c) -> {}, null)).get(5, TimeUnit.SECONDS);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (p.pollWindowNanos() == 0) {
                assertTrue(System.nanoTime() < deadline, "work every 20 us never opened the poll window");
                Thread.sleep(1);
            }
            long before = p.contendedSpells();
            AtomicBoolean spin = new AtomicBoolean(true);
            List<Thread> spinners = new ArrayList<>();
            for (int i = 0; i < 2 * Math.max(2, Runtime.getRuntime().availableProcessors()); i++) {
                spinners.add(Thread.ofPlatform().daemon().start(() -> {
                    while (spin.get()) {
                        Thread.onSpinWait();
                    }
                }));
            }
            try {
                deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
                while (p.contendedSpells() == before) {
                    assertTrue(System.nanoTime() < deadline, "a poller sharing its CPU with "
                            + spinners.size() + " spinning threads kept polling (window "
                            + p.pollWindowNanos() + " ns)");
                    Thread.sleep(5);
                }
            } finally {
                spin.set(false);
                for (Thread t : spinners) {
                    t.join();
                }
            }
        }
    }
}

package dev.vhostd.protocol.poll;

import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import org.junit.jupiter.api.Test;

import dev.vhostd.protocol.device.QueueHandler;
import dev.vhostd.protocol.testing.FakeDriver;
import dev.vhostd.protocol.testing.FakeDriverQueue;
import dev.vhostd.sys.EventFd;
import dev.vhostd.sys.Libc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What a health check sees of a poller (issue 10 item 2): idle in epoll_wait is alive; stuck inside
 * one doWork is stalled, for as long as it is stuck; a poller whose handler throws anything at all
 * (item 1: an InternalError from a memory fault) keeps running.
 */
class PollerLivenessTest {
    private static final long LIMIT = TimeUnit.MILLISECONDS.toNanos(300);

    /** A handler that does nothing until {@code wedge} is set, then blocks in doWork until released. */
    private static final class Wedgeable implements QueueHandler {
        final AtomicBoolean wedge = new AtomicBoolean();
        final CountDownLatch entered = new CountDownLatch(1);
        final CountDownLatch release = new CountDownLatch(1);
        volatile Error toThrow;

        @Override
        public int doWork() {
            Error e = toThrow;
            if (e != null) {
                toThrow = null;
                throw e;
            }
            if (wedge.get()) {
                entered.countDown();
                try {
                    release.await();
                } catch (InterruptedException ie) {
                    Thread.currentThread().interrupt();
                }
                wedge.set(false);
            }
            return 0;
        }

        @Override public int completionFd() { return -1; }
        @Override public int inFlight() { return 0; }
        @Override public void drain() {}
        @Override public void close() {}
    }

    private static long settle(Poller p, Duration wait) throws InterruptedException {
        Thread.sleep(wait.toMillis());
        return p.stalledNanos(System.nanoTime());
    }

    @Test
    void idleIsAliveAndStuckInOneStepIsStalled() throws Exception {
        int kick = EventFd.create();
        try (FakeDriver driver = new FakeDriver(1 << 20); Poller p = new Poller("liveness", 0)) {
            FakeDriverQueue dq = driver.addQueue(8);
            Wedgeable h = new Wedgeable();
            QueueBinding b = new QueueBinding(0, dq.deviceQueue(false), h, kick, -1, (q, c) -> {}, null);
            p.attach(b).get(5, TimeUnit.SECONDS);
            assertEquals(0, settle(p, Duration.ofMillis(600)), "blocked in epoll_wait waiting for kicks: idle");

            h.wedge.set(true);
            new EventFd().signal(kick);
            assertTrue(h.entered.await(5, TimeUnit.SECONDS));
            long stalled = settle(p, Duration.ofMillis(600));
            assertTrue(stalled >= LIMIT, "inside one doWork for 600 ms, reported " + stalled + " ns");

            h.release.countDown();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
            while (p.stalledNanos(System.nanoTime()) >= LIMIT && System.nanoTime() < deadline) {
                Thread.sleep(10);
            }
            assertTrue(p.stalledNanos(System.nanoTime()) < LIMIT, "released: alive again");
        } finally {
            Libc.close(kick);
        }
    }

    @Test
    void anErrorFromAHandlerStopsThatQueueOnlyAndThePollerGoesOn() throws Exception {
        int kick = EventFd.create();
        try (FakeDriver driver = new FakeDriver(1 << 20); Poller p = new Poller("survivor", 0)) {
            Wedgeable bad = new Wedgeable();
            CountDownLatch reported = new CountDownLatch(1);
            p.attach(new QueueBinding(0, driver.addQueue(8).deviceQueue(false), bad, kick, -1,
                    (q, c) -> reported.countDown(), null)).get(5, TimeUnit.SECONDS);
            bad.toThrow = new InternalError("a fault occurred in an unsafe memory access operation");
            new EventFd().signal(kick);
            assertTrue(reported.await(5, TimeUnit.SECONDS), "the queue's session is told");
            assertEquals(0, p.attachedQueues());
            // The same thread still serves a new queue.
            Wedgeable good = new Wedgeable();
            p.attach(new QueueBinding(1, driver.addQueue(8).deviceQueue(false), good, -1, -1, (q, c) -> {}, null))
                    .get(5, TimeUnit.SECONDS);
            assertEquals(1, p.attachedQueues());
            assertTrue(p.stalledNanos(System.nanoTime()) < LIMIT);
        } finally {
            Libc.close(kick);
        }
    }
}

package dev.vhostd.protocol.connection;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.InterruptedIOException;
import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import org.junit.jupiter.api.Test;

import dev.vhostd.sys.EventFd;
import dev.vhostd.sys.Libc;

/** Many virtual threads wait for readability without a platform thread each, and wake when they should. */
class ReadinessTest {
    private static final int WAITERS = 300;

    @Test
    void manyWaitersShareOneThreadAndEachWakesOnItsOwnFd() throws Exception {
        int before = ManagementFactory.getThreadMXBean().getThreadCount();
        List<Integer> fds = new ArrayList<>();
        List<Thread> threads = new ArrayList<>();
        AtomicInteger woke = new AtomicInteger();
        CountDownLatch waiting = new CountDownLatch(WAITERS);
        try (Readiness r = new Readiness("test-readiness")) {
            for (int i = 0; i < WAITERS; i++) {
                int fd = EventFd.create();
                fds.add(fd);
                Readiness.Waiter w = r.waiter(fd);
                threads.add(Thread.ofVirtual().start(() -> {
                    waiting.countDown();
                    try {
                        w.await();
                        woke.incrementAndGet();
                    } catch (Exception e) {
                        throw new AssertionError(e);
                    }
                }));
            }
            assertTrue(waiting.await(30, TimeUnit.SECONDS));
            Thread.sleep(300);
            assertEquals(0, woke.get(), "nobody wakes before its fd is readable");
            // Platform threads: the readiness thread and the virtual-thread scheduler's carriers, not one per waiter.
            int during = ManagementFactory.getThreadMXBean().getThreadCount();
            assertTrue(during - before < 20, "platform threads grew from " + before + " to " + during);
            EventFd signal = new EventFd();
            signal.signal(fds.get(7));
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (woke.get() < 1 && System.nanoTime() < deadline) {
                Thread.sleep(5);
            }
            Thread.sleep(200);
            assertEquals(1, woke.get(), "exactly the signalled waiter woke");
            assertTrue(!threads.get(7).isAlive() || threads.get(7).join(java.time.Duration.ofSeconds(5)));
            for (int fd : fds) {
                signal.signal(fd);
            }
            for (Thread t : threads) {
                assertTrue(t.join(java.time.Duration.ofSeconds(30)));
            }
            assertEquals(WAITERS, woke.get());
        } finally {
            for (int fd : fds) {
                Libc.close(fd);
            }
        }
    }

    @Test
    void cancelWakesAWaiterAndRefusesLaterWaits() throws Exception {
        int fd = EventFd.create();
        try (Readiness r = new Readiness("test-readiness")) {
            Readiness.Waiter w = r.waiter(fd);
            AtomicInteger outcome = new AtomicInteger();
            Thread t = Thread.ofVirtual().start(() -> {
                try {
                    w.await();
                    outcome.set(1);
                } catch (InterruptedIOException e) {
                    outcome.set(2);
                } catch (Exception e) {
                    outcome.set(3);
                }
            });
            Thread.sleep(200);
            w.cancel();
            assertTrue(t.join(java.time.Duration.ofSeconds(10)));
            assertEquals(2, outcome.get(), "a cancelled wait ends with InterruptedIOException");
            assertThrows(InterruptedIOException.class, w::await, "a wait after cancel fails at once");
        } finally {
            Libc.close(fd);
        }
    }
}

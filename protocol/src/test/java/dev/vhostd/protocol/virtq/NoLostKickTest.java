package dev.vhostd.protocol.virtq;

import java.util.List;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import dev.vhostd.protocol.testing.FakeDriver;
import dev.vhostd.protocol.testing.FakeDriverQueue;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A driver thread and a device thread run the full notification protocol against each other: the
 * driver kicks only when the device asked for it (avail_event or NO_NOTIFY), the device sleeps only
 * after enableNotifications() returned false. A lost kick shows up as the device sleeping forever
 * while buffers are pending (caught by the semaphore timeout).
 */
class NoLostKickTest {
    private static final int CHAINS = 20_000;

    @ParameterizedTest(name = "eventIdx={0}")
    @ValueSource(booleans = {false, true})
    void everyChainIsProcessedWithoutALostKick(boolean eventIdx) throws Exception {
        try (FakeDriver driver = new FakeDriver(256 * 1024)) {
            FakeDriverQueue dq = driver.addQueue(16);
            SplitQueue q = dq.deviceQueue(eventIdx);
            FakeDriver.Buffer buf = driver.buffer(64);
            Semaphore kick = new Semaphore(0);
            AtomicReference<Throwable> failure = new AtomicReference<>();

            Thread device = new Thread(() -> {
                DescriptorChain c = new DescriptorChain(16);
                int done = 0;
                try {
                    while (done < CHAINS) {
                        q.disableNotifications();
                        while (q.pop(c)) {
                            q.addUsed(c.head(), (int) c.readableBytes());
                            done++;
                        }
                        q.publishUsed();
                        if (!q.enableNotifications() && done < CHAINS) {
                            if (!kick.tryAcquire(10, TimeUnit.SECONDS)) {
                                throw new AssertionError("device slept with " + q.pendingAvail()
                                        + " chains pending after " + done + ": lost kick");
                            }
                            kick.drainPermits();
                        }
                    }
                } catch (Throwable t) {
                    failure.set(t);
                }
            }, "fake-device");
            device.start();

            int sent = 0;
            int received = 0;
            while (received < CHAINS) {
                FakeDriverQueue.Used u;
                while ((u = dq.pollUsed()) != null) {
                    assertEquals(64, u.len());
                    received++;
                }
                if (sent < CHAINS && dq.freeDescriptors() > 0) {
                    int old = dq.availIdx();
                    dq.addChain(List.of(buf), List.of(), false);
                    sent++;
                    // The driver's side of the protocol (virtio 1.x "Notifying The Device"): fence, then
                    // read avail_event or the used flags.
                    boolean needKick = eventIdx
                            ? EventIdx.needEvent(dq.availEvent(), dq.availIdx(), old)
                            : (dq.usedFlags() & 1) == 0;
                    if (needKick) {
                        kick.release();
                    }
                } else {
                    Thread.onSpinWait();
                }
                if (failure.get() != null) {
                    break;
                }
            }
            device.join(20_000);
            assertNull(failure.get(), () -> String.valueOf(failure.get()));
            assertEquals(CHAINS, received);
            assertTrue(!device.isAlive());
        }
    }
}

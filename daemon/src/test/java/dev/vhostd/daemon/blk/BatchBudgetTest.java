package dev.vhostd.daemon.blk;

import java.lang.foreign.MemorySegment;
import java.util.List;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import dev.vhostd.backend.BackendOptions;
import dev.vhostd.backend.Backends;
import dev.vhostd.backend.BlockBackend;
import dev.vhostd.daemon.metrics.VhostdMetrics;
import dev.vhostd.protocol.device.QueueHandler;
import dev.vhostd.protocol.device.VirtioFeatures;
import dev.vhostd.protocol.testing.FakeDriver;
import dev.vhostd.protocol.testing.FakeDriverQueue;
import dev.vhostd.protocol.virtq.SplitQueue;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * A burst of large requests is served in slices of {@link BlkQueueHandler#BATCH_BYTES}: each call
 * of the queue's work starts no more than that, so the poller publishes completions while the
 * rest of the burst is still to be copied and the driver can refill early. Small requests still go
 * as one batch. Driven directly (a fake driver's rings, a null disk, no poller), so the count per
 * call is exact.
 */
class BatchBudgetTest {
    private static final int QUEUE_SIZE = 128;
    private static final int DEPTH = 32;
    private static final long FEATURES = VirtioFeatures.bit(VirtioFeatures.VERSION_1)
            | VirtioFeatures.bit(VirtioFeatures.RING_EVENT_IDX);

    private BlockBackend backend;
    private FakeDriver driver;
    private QueueHandler handler;

    @AfterEach
    void tearDown() {
        if (handler != null) {
            handler.drain();
        }
        if (driver != null) {
            driver.close();
        }
        if (backend != null) {
            backend.close();
        }
    }

    /** Offers {@code DEPTH} reads of {@code bytes} each at once; returns the used count after each call. */
    private int[] usedAfterEachCall(int bytes) {
        backend = Backends.open("null:64M", BackendOptions.defaults());
        VirtioBlkDevice device = new VirtioBlkDevice(backend, new BlkOptions(1, QUEUE_SIZE, "budget", false),
                VhostdMetrics.disabled().device("budget"));
        driver = new FakeDriver(4L << 20);
        FakeDriverQueue q = driver.addQueue(QUEUE_SIZE);
        SplitQueue ring = q.deviceQueue(true);
        handler = device.openQueue(0, ring, driver.memory(), FEATURES);
        for (int i = 0; i < DEPTH; i++) {
            FakeDriver.Buffer header = driver.buffer(16);
            MemorySegment h = driver.segment(header.gpa(), 16);
            h.set(JAVA_INT_UNALIGNED, 0, VirtioBlk.T_IN);
            h.set(JAVA_LONG_UNALIGNED, 8, (long) i * (bytes / 512));
            FakeDriver.Buffer data = driver.buffer(bytes);
            FakeDriver.Buffer status = driver.buffer(1);
            driver.segment(status.gpa(), 1).set(JAVA_BYTE, 0, (byte) 0x7F);
            q.offer(q.prepareChain(List.of(header), List.of(data, status), false));
        }
        q.publishAvail();
        int[] used = new int[DEPTH + 1];
        int calls = 0;
        do {
            handler.doWork();
            ring.publishUsed(); // what the poller does after each call
            used[calls++] = q.usedIdx();
        } while (used[calls - 1] < DEPTH && calls < used.length);
        return java.util.Arrays.copyOf(used, calls);
    }

    @Test
    void aBurstOfLargeReadsIsPublishedInSlicesOfTheBudget() {
        int bytes = 64 * 1024;
        int perCall = (int) (BlkQueueHandler.BATCH_BYTES / bytes);
        int[] used = usedAfterEachCall(bytes);
        int[] expected = new int[DEPTH / perCall];
        for (int i = 0; i < expected.length; i++) {
            expected[i] = (i + 1) * perCall;
        }
        assertEquals(java.util.Arrays.toString(expected), java.util.Arrays.toString(used),
                "used index after each call for " + DEPTH + " reads of 64 KiB");
    }

    @Test
    void smallReadsStillGoAsOneBatch() {
        assertEquals("[" + DEPTH + "]", java.util.Arrays.toString(usedAfterEachCall(4096)));
    }
}

package dev.vhostd.daemon.metrics;

import org.junit.jupiter.api.Test;

import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

class QueueMetricsTest {
    private final QueueMetrics q = new QueueMetrics(3);

    @Test
    void countsRequestsByTypeAndStatus() {
        q.requestCompleted(RequestType.READ, RequestStatus.OK, 4096, 1);
        q.requestCompleted(RequestType.READ, RequestStatus.OK, 4096, 1);
        q.requestCompleted(RequestType.WRITE, RequestStatus.IOERR, 512, 1);
        q.requestCompleted(RequestType.UNSUPPORTED, RequestStatus.UNSUPP, 0, 1);
        assertEquals(2, q.requests(RequestType.READ, RequestStatus.OK));
        assertEquals(1, q.requests(RequestType.WRITE, RequestStatus.IOERR));
        assertEquals(0, q.requests(RequestType.WRITE, RequestStatus.OK));
        assertEquals(1, q.requests(RequestType.UNSUPPORTED, RequestStatus.UNSUPP));
        assertEquals(3, q.index());
    }

    @Test
    void countsBytesOfSuccessfulReadsAndWritesOnly() {
        q.requestCompleted(RequestType.READ, RequestStatus.OK, 4096, 1);
        q.requestCompleted(RequestType.READ, RequestStatus.IOERR, 8192, 1);
        q.requestCompleted(RequestType.WRITE, RequestStatus.OK, 512, 1);
        q.requestCompleted(RequestType.WRITE, RequestStatus.IOERR, 1 << 20, 1);
        q.requestCompleted(RequestType.DISCARD, RequestStatus.OK, 1 << 30, 1);
        q.requestCompleted(RequestType.GET_ID, RequestStatus.OK, 20, 1);
        assertEquals(4096, q.readBytes());
        assertEquals(512, q.writtenBytes());
    }

    @Test
    void inFlightIsTheOwnersFigureOfItsLastBatch() {
        q.setInFlight(3);
        assertEquals(3, q.inFlight());
        q.requestCompleted(RequestType.FLUSH, RequestStatus.OK, 0, 1);
        assertEquals(3, q.inFlight(), "a completion alone does not move it; the batch's end does");
        q.setInFlight(2);
        assertEquals(2, q.inFlight());
        q.setInFlight(0);
        assertEquals(0, q.inFlight());
    }

    @Test
    void inFlightNeverReadsNegative() {
        q.setInFlight(-1);
        assertEquals(0, q.inFlight());
    }

    @Test
    void histogramPerTypeWithSum() {
        long[] buckets = new long[LatencyBuckets.COUNT];
        q.requestCompleted(RequestType.READ, RequestStatus.OK, 0, 3_000);       // <= 5 us
        q.requestCompleted(RequestType.READ, RequestStatus.OK, 0, 150_000);     // <= 200 us
        q.requestCompleted(RequestType.READ, RequestStatus.IOERR, 0, 2_000_000_000L); // +Inf
        q.requestCompleted(RequestType.WRITE, RequestStatus.OK, 0, 7_000);      // <= 10 us
        assertEquals(3, q.latencyBuckets(RequestType.READ, buckets));
        assertEquals(1, buckets[0]);
        assertEquals(1, buckets[LatencyBuckets.indexOf(150_000)]);
        assertEquals(1, buckets[LatencyBuckets.COUNT - 1]);
        assertEquals(3_000 + 150_000 + 2_000_000_000L, q.latencySumNanos(RequestType.READ));
        assertEquals(1, q.latencyBuckets(RequestType.WRITE, buckets));
        assertEquals(1, buckets[1]);
        assertEquals(0, q.latencyBuckets(RequestType.FLUSH, buckets));
    }

    @Test
    void negativeLatencyCountsAsZero() {
        long[] buckets = new long[LatencyBuckets.COUNT];
        q.requestCompleted(RequestType.READ, RequestStatus.OK, 0, -50);
        assertEquals(0, q.latencySumNanos(RequestType.READ));
        assertEquals(1, q.latencyBuckets(RequestType.READ, buckets));
        assertEquals(1, buckets[0]);
    }

    @Test
    void pollerAndNotificationCounters() {
        q.kicksReceived(5);
        q.kicksReceived(2);
        q.notificationSent();
        q.notificationSuppressed();
        q.notificationSuppressed();
        q.pollIteration(true);
        q.pollIteration(false);
        q.pollIteration(false);
        q.busyNanos(100);
        q.busyNanos(-7);
        q.blockedNanos(900);
        q.invalidInput(InvalidKind.BAD_ADDRESS);
        q.invalidInput(InvalidKind.BAD_ADDRESS);
        q.backendError();
        assertEquals(7, q.kicks());
        assertEquals(1, q.notificationsSent());
        assertEquals(2, q.notificationsSuppressed());
        assertEquals(1, q.pollIterations(true));
        assertEquals(2, q.pollIterations(false));
        assertEquals(100, q.busyNanos());
        assertEquals(900, q.blockedNanos());
        assertEquals(2, q.invalidInputs(InvalidKind.BAD_ADDRESS));
        assertEquals(0, q.invalidInputs(InvalidKind.BAD_CHAIN));
        assertEquals(1, q.backendErrors());
    }

    /** A scraper reading while the poller records sees counters that only grow, and all at the end. */
    @Test
    void concurrentReaderSeesMonotonicCountersAndFinalTotals() throws Exception {
        int n = 2_000_000;
        AtomicReference<String> failure = new AtomicReference<>();
        Thread writer = new Thread(() -> {
            for (int i = 0; i < n; i++) {
                q.setInFlight(1);
                q.requestCompleted(RequestType.READ, RequestStatus.OK, 4096, i & 0xfffff);
                q.setInFlight(0);
                q.kicksReceived(1);
            }
        });
        Thread reader = new Thread(() -> {
            long lastRequests = 0;
            long lastBytes = 0;
            long[] buckets = new long[LatencyBuckets.COUNT];
            while (writer.isAlive()) {
                long r = q.requests(RequestType.READ, RequestStatus.OK);
                long b = q.readBytes();
                long c = q.latencyBuckets(RequestType.READ, buckets);
                if (r < lastRequests || b < lastBytes || c < 0 || q.inFlight() > 1) {
                    failure.set("went backwards or in-flight > 1: requests " + lastRequests + "->" + r
                            + ", bytes " + lastBytes + "->" + b + ", in flight " + q.inFlight());
                    return;
                }
                lastRequests = r;
                lastBytes = b;
            }
        });
        writer.start();
        reader.start();
        writer.join();
        reader.join();
        assertNull(failure.get());
        long[] buckets = new long[LatencyBuckets.COUNT];
        assertEquals(n, q.requests(RequestType.READ, RequestStatus.OK));
        assertEquals(4096L * n, q.readBytes());
        assertEquals(n, q.kicks());
        assertEquals(n, q.latencyBuckets(RequestType.READ, buckets));
        assertEquals(0, q.inFlight());
        assertTrue(buckets[LatencyBuckets.indexOf(0xfffff)] > 0);
    }

    /** Bucket edges through the recording path: a bound is in its bucket, one nanosecond more in the next. */
    @Test
    void histogramBucketEdgesAreExact() {
        for (int b = 0; b < LatencyBuckets.COUNT - 1; b++) {
            long bound = LatencyBuckets.upperBoundNanos(b);
            q.requestCompleted(RequestType.READ, RequestStatus.OK, 0, bound);
            q.requestCompleted(RequestType.WRITE, RequestStatus.OK, 0, bound + 1);
        }
        long[] reads = new long[LatencyBuckets.COUNT];
        long[] writes = new long[LatencyBuckets.COUNT];
        assertEquals(LatencyBuckets.COUNT - 1, q.latencyBuckets(RequestType.READ, reads));
        assertEquals(LatencyBuckets.COUNT - 1, q.latencyBuckets(RequestType.WRITE, writes));
        for (int b = 0; b < LatencyBuckets.COUNT; b++) {
            assertEquals(b < LatencyBuckets.COUNT - 1 ? 1 : 0, reads[b], "reads at the bound, bucket " + b);
            assertEquals(b == 0 ? 0 : 1, writes[b], "writes one past the bound, bucket " + b);
        }
    }

    @Test
    void aNotRecordingQueueCountsNothing() {
        QueueMetrics off = new QueueMetrics.NotRecording(0);
        off.setInFlight(1);
        off.requestCompleted(RequestType.READ, RequestStatus.OK, 4096, 10);
        off.kicksReceived(1);
        assertEquals(0, off.requests(RequestType.READ, RequestStatus.OK));
        assertEquals(0, off.readBytes());
        assertEquals(0, off.inFlight());
        assertEquals(0, off.kicks());
    }
}

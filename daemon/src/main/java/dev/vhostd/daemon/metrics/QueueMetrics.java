package dev.vhostd.daemon.metrics;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * The counters of one virtqueue, written by the one thread that owns the queue (its poller) and
 * read at scrape time by the metrics server.
 *
 * <p>Hot-path cost: every recording method is a handful of plain loads and opaque stores into one
 * {@code long[]} owned by this object; no lock, no CAS, no allocation, no Micrometer call. Opaque
 * stores compile to ordinary stores on x86 and ARM but are never torn and never optimized away, so
 * a scraper reading with {@code getOpaque} sees each counter move forward monotonically; it may see
 * one counter updated a moment before another, which a scrape tolerates.
 *
 * <p>Single writer: all recording methods of one instance must be called from one thread at a time.
 * The queue's used ring has the same rule, so record where the poller pushes to the used ring. If a
 * queue is handed to a new poller thread (after a reconnect), the old one must have stopped first
 * (Thread.join or any other happens-before edge).
 *
 * <p>Not final only for {@link NotRecording}, which {@code vhostd serve --metrics-recording off}
 * uses to measure what recording costs. A daemon that records never loads that class, so the JIT
 * sees no override and binds and inlines these calls exactly as for a final class.
 */
public class QueueMetrics {
    private static final VarHandle SLOT = MethodHandles.arrayElementVarHandle(long[].class);

    private static final int TYPES = RequestType.ALL.length;
    private static final int STATUSES = RequestStatus.ALL.length;
    private static final int BUCKETS = LatencyBuckets.COUNT;

    // Padding keeps the slots of queues polled by different threads off each other's cache lines.
    private static final int PAD = 16;
    private static final int REQUESTS = PAD;                         // [type][status]
    private static final int READ_BYTES = REQUESTS + TYPES * STATUSES;
    private static final int WRITTEN_BYTES = READ_BYTES + 1;
    private static final int DISCARDED_BYTES = WRITTEN_BYTES + 1;    // bytes of other requests: not exported
    private static final int IN_FLIGHT = DISCARDED_BYTES + 1;
    private static final int KICKS = IN_FLIGHT + 1;
    private static final int NOTIFICATIONS = KICKS + 1;
    private static final int SUPPRESSED = NOTIFICATIONS + 1;
    private static final int POLLS_WORK = SUPPRESSED + 1;
    private static final int POLLS_IDLE = POLLS_WORK + 1;
    private static final int BUSY_NANOS = POLLS_IDLE + 1;
    private static final int BLOCKED_NANOS = BUSY_NANOS + 1;
    private static final int HELD_NANOS = BLOCKED_NANOS + 1;
    private static final int INVALID = HELD_NANOS + 1;               // [kind]
    private static final int BACKEND_ERRORS = INVALID + InvalidKind.ALL.length;
    private static final int LATENCY_SUM = BACKEND_ERRORS + 1;       // [type], nanoseconds
    private static final int LATENCY_BUCKETS = LATENCY_SUM + TYPES;  // [type][bucket], not cumulative
    private static final int SLOTS = LATENCY_BUCKETS + TYPES * BUCKETS + PAD;

    /**
     * Where the bytes of a request go, indexed by [type][status]: only successful reads and writes
     * count as transferred; everything else lands in a slot nobody exports. A table instead of
     * branches keeps {@link #requestCompleted} free of data-dependent branches.
     */
    private static final int[] BYTES_SLOT = new int[TYPES * STATUSES];

    static {
        java.util.Arrays.fill(BYTES_SLOT, DISCARDED_BYTES);
        BYTES_SLOT[RequestType.READ.ordinal() * STATUSES + RequestStatus.OK.ordinal()] = READ_BYTES;
        BYTES_SLOT[RequestType.WRITE.ordinal() * STATUSES + RequestStatus.OK.ordinal()] = WRITTEN_BYTES;
    }

    private final int index;
    private final long[] slots = new long[SLOTS];

    QueueMetrics(int index) {
        this.index = index;
    }

    /** The virtqueue index, as in the {@code queue} label. */
    public int index() {
        return index;
    }

    // ---- recording: owner thread only ----

    /**
     * Requests started and not yet completed, as the owner counts them (its busy slots): set once
     * per batch rather than counted up and down per request, which cost two of the six stores each
     * request made. A store only when the figure changed.
     */
    public void setInFlight(int requests) {
        if (slots[IN_FLIGHT] != requests) {
            SLOT.setOpaque(slots, IN_FLIGHT, (long) requests);
        }
    }

    /**
     * A request was completed (its status written and its head pushed to the used ring).
     *
     * @param bytes        data bytes transferred; counted for successful reads and writes only
     * @param latencyNanos time from pop to completion; negative values (a clock that went backwards)
     *                     count as zero
     */
    public void requestCompleted(RequestType type, RequestStatus status, long bytes, long latencyNanos) {
        int t = type.ordinal();
        int cell = t * STATUSES + status.ordinal();
        add(REQUESTS + cell, 1);
        add(BYTES_SLOT[cell], bytes);
        long latency = Math.max(0L, latencyNanos);
        add(LATENCY_SUM + t, latency);
        add(LATENCY_BUCKETS + t * BUCKETS + LatencyBuckets.indexOf(latency), 1);
    }

    /** The guest kicked the queue {@code n} times (the eventfd counter value read in one go). */
    public void kicksReceived(long n) {
        add(KICKS, n);
    }

    /** The used ring was published and the guest was interrupted (call eventfd signalled). */
    public void notificationSent() {
        add(NOTIFICATIONS, 1);
    }

    /** The used ring was published but the guest asked not to be interrupted (EVENT_IDX, 2.7.10). */
    public void notificationSuppressed() {
        add(SUPPRESSED, 1);
    }

    /** One iteration of the poller loop; {@code foundWork} if it popped at least one request. */
    public void pollIteration(boolean foundWork) {
        add(foundWork ? POLLS_WORK : POLLS_IDLE, 1);
    }

    /** Time the poller spent running for this queue (spinning or processing), in nanoseconds. */
    public void busyNanos(long nanos) {
        add(BUSY_NANOS, Math.max(0L, nanos));
    }

    /** Time the poller spent blocked waiting for a kick, in nanoseconds. */
    public void blockedNanos(long nanos) {
        add(BLOCKED_NANOS, Math.max(0L, nanos));
    }

    /** Time the queue's requests were left in its avail ring because the disk was over a limit. */
    public void heldBackNanos(long nanos) {
        add(HELD_NANOS, Math.max(0L, nanos));
    }

    /** The guest put something invalid on this queue. */
    public void invalidInput(InvalidKind kind) {
        add(INVALID + kind.ordinal(), 1);
    }

    /** The storage backend failed an operation (the request then completes with IOERR). */
    public void backendError() {
        add(BACKEND_ERRORS, 1);
    }

    private void add(int slot, long delta) {
        // A plain read is enough: this thread wrote the last value itself.
        SLOT.setOpaque(slots, slot, slots[slot] + delta);
    }

    // ---- reading: any thread ----

    private long read(int slot) {
        return (long) SLOT.getOpaque(slots, slot);
    }

    public long requests(RequestType type, RequestStatus status) {
        return read(REQUESTS + type.ordinal() * STATUSES + status.ordinal());
    }

    public long readBytes() {
        return read(READ_BYTES);
    }

    public long writtenBytes() {
        return read(WRITTEN_BYTES);
    }

    /** Requests started and not yet completed at the owner's last batch; never negative. */
    public long inFlight() {
        return Math.max(0L, read(IN_FLIGHT));
    }

    public long kicks() {
        return read(KICKS);
    }

    public long notificationsSent() {
        return read(NOTIFICATIONS);
    }

    public long notificationsSuppressed() {
        return read(SUPPRESSED);
    }

    public long pollIterations(boolean foundWork) {
        return read(foundWork ? POLLS_WORK : POLLS_IDLE);
    }

    public long busyNanos() {
        return read(BUSY_NANOS);
    }

    public long heldBackNanos() {
        return read(HELD_NANOS);
    }

    public long blockedNanos() {
        return read(BLOCKED_NANOS);
    }

    public long invalidInputs(InvalidKind kind) {
        return read(INVALID + kind.ordinal());
    }

    public long backendErrors() {
        return read(BACKEND_ERRORS);
    }

    /** Sum of the latencies of completed requests of {@code type}, in nanoseconds. */
    public long latencySumNanos(RequestType type) {
        return read(LATENCY_SUM + type.ordinal());
    }

    /**
     * Copies the non-cumulative bucket counts of {@code type} into {@code into} (length at least
     * {@link LatencyBuckets#COUNT}) and returns their total.
     */
    public long latencyBuckets(RequestType type, long[] into) {
        int base = LATENCY_BUCKETS + type.ordinal() * BUCKETS;
        long total = 0;
        for (int b = 0; b < BUCKETS; b++) {
            long v = read(base + b);
            into[b] = v;
            total += v;
        }
        return total;
    }

    /**
     * Counts nothing: every recording method is empty, so every reading stays 0. Only for
     * measuring the cost of recording against a daemon that records (bench/metrics-cost.sh).
     */
    static final class NotRecording extends QueueMetrics {
        NotRecording(int index) {
            super(index);
        }

        @Override
        public void setInFlight(int requests) {}

        @Override
        public void requestCompleted(RequestType type, RequestStatus status, long bytes, long latencyNanos) {}

        @Override
        public void kicksReceived(long n) {}

        @Override
        public void notificationSent() {}

        @Override
        public void notificationSuppressed() {}

        @Override
        public void pollIteration(boolean foundWork) {}

        @Override
        public void busyNanos(long nanos) {}

        @Override
        public void blockedNanos(long nanos) {}

        @Override
        public void heldBackNanos(long nanos) {}

        @Override
        public void invalidInput(InvalidKind kind) {}

        @Override
        public void backendError() {}
    }
}

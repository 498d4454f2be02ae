package dev.vhostd.daemon.metrics;

import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.LongSupplier;

/**
 * The metrics of one exported block device (one vhost-user socket), labelled {@code device}. Holds
 * one {@link QueueMetrics} per virtqueue plus the connection-level state that the connection thread
 * updates; nothing here is on the request path except through the queues.
 *
 * <p>Queue objects survive reconnects, so counters stay monotonic over the device's life and
 * Prometheus never sees a reset for a front-end that merely reconnected.
 */
public final class DeviceMetrics {
    /** QEMU's VIRTIO_QUEUE_MAX; the device rejects larger num_queues long before this is reached. */
    public static final int MAX_QUEUES = 1024;

    /** Called when a queue is first created, to register its meters (or nothing when disabled). */
    interface QueueListener {
        void queueAdded(DeviceMetrics device, QueueMetrics queue);
    }

    /** The negotiated feature bits while a front-end is connected. */
    public record Features(long features, long protocolFeatures) {}

    private final String name;
    private final QueueListener listener;
    private final boolean recording;
    private volatile QueueMetrics[] queues = new QueueMetrics[0];

    private final AtomicLong connects = new AtomicLong();
    private final AtomicLong disconnects = new AtomicLong();
    private final AtomicLong invalidFrontendMessages = new AtomicLong();
    private volatile Features features;
    private volatile long capacityBytes;
    private volatile LongSupplier guestMemoryMapped = () -> 0L;
    /** Added to by every poller of the device while the front-end migrates; read at scrape time. */
    private final LongAdder dirtyPagesMarked = new LongAdder();
    private final AtomicLong dirtyLogChanges = new AtomicLong();
    private volatile boolean dirtyLogging;
    /** The backend's own latency (an RBD cluster's round trip): non-cumulative bucket counts. */
    private final java.util.concurrent.atomic.AtomicLongArray backendLatency =
            new java.util.concurrent.atomic.AtomicLongArray(LatencyBuckets.COUNT);
    private final AtomicLong backendLatencySumNanos = new AtomicLong();

    DeviceMetrics(String name, QueueListener listener) {
        this(name, listener, true);
    }

    /** {@code recording} false: queues count nothing ({@link QueueMetrics.NotRecording}). */
    DeviceMetrics(String name, QueueListener listener, boolean recording) {
        this.name = requireValidName(name);
        this.listener = listener;
        this.recording = recording;
    }

    /**
     * Device names become label values and appear in /healthz; they come from the operator's
     * command line (export name or socket file name), not from the guest, but are still checked so a
     * typo does not produce an unreadable series.
     */
    static String requireValidName(String name) {
        Objects.requireNonNull(name, "device name");
        if (name.isEmpty() || name.length() > 255) {
            throw new IllegalArgumentException("device name must be 1 to 255 characters, got \"" + name + "\"");
        }
        for (int i = 0; i < name.length(); i++) {
            char c = name.charAt(i);
            if (c < 0x20 || c == 0x7f) {
                throw new IllegalArgumentException("device name contains a control character at index " + i
                        + "; use the export name or the socket's file name");
            }
        }
        return name;
    }

    /** The {@code device} label value. */
    public String name() {
        return name;
    }

    /**
     * The metrics of queue {@code index}, created on first use. Call when the front-end configures
     * the queue (not per request), and hand the result to the queue's poller.
     *
     * @throws IllegalArgumentException if {@code index} is not in [0, {@link #MAX_QUEUES})
     */
    public QueueMetrics queue(int index) {
        if (index < 0 || index >= MAX_QUEUES) {
            throw new IllegalArgumentException("queue index " + index + " out of range [0, " + MAX_QUEUES + ")");
        }
        QueueMetrics[] current = queues;
        if (index < current.length && current[index] != null) {
            return current[index];
        }
        QueueMetrics created;
        synchronized (this) {
            current = queues;
            if (index < current.length && current[index] != null) {
                return current[index];
            }
            QueueMetrics[] grown = index < current.length ? current.clone() : Arrays.copyOf(current, index + 1);
            created = recording ? new QueueMetrics(index) : new QueueMetrics.NotRecording(index);
            grown[index] = created;
            queues = grown;
        }
        listener.queueAdded(this, created);
        return created;
    }

    /** All queues created so far, in index order (skipping indices never configured). */
    public List<QueueMetrics> queues() {
        return Arrays.stream(queues).filter(Objects::nonNull).toList();
    }

    /** A front-end connected and negotiated these feature bits (VHOST_USER_SET_FEATURES and
     *  VHOST_USER_SET_PROTOCOL_FEATURES). Call again if it renegotiates. */
    public synchronized void connected(long features, long protocolFeatures) {
        if (this.features == null) {
            connects.incrementAndGet();
        }
        this.features = new Features(features, protocolFeatures);
    }

    /** The front-end's socket closed or the connection was dropped. */
    public synchronized void disconnected() {
        if (features != null) {
            disconnects.incrementAndGet();
        }
        features = null;
    }

    /** The front-end sent a vhost-user message that was rejected (malformed, out of order, bad fds). */
    public void invalidFrontendMessage() {
        invalidFrontendMessages.incrementAndGet();
    }

    /** The size of the exported block device in bytes (virtio-blk config capacity times 512). */
    public void capacityBytes(long bytes) {
        if (bytes < 0) {
            throw new IllegalArgumentException("capacity must not be negative: " + bytes);
        }
        capacityBytes = bytes;
    }

    /** Where to read the guest memory currently mapped for this device, in bytes, at scrape time. */
    public void guestMemoryMapped(LongSupplier bytes) {
        guestMemoryMapped = Objects.requireNonNull(bytes, "guestMemoryMapped");
    }

    /** Guest pages newly marked dirty in the front-end's migration log; called on poller threads. */
    public void dirtyPagesMarked(long pages) {
        dirtyPagesMarked.add(pages);
    }

    /** The front-end supplied a new dirty log (SET_LOG_BASE accepted). */
    public void dirtyLogChanged() {
        dirtyLogChanges.incrementAndGet();
    }

    /** Dirty-page logging (live migration) switched on or off. */
    public void dirtyLogging(boolean on) {
        dirtyLogging = on;
    }

    public long dirtyPagesMarked() {
        return dirtyPagesMarked.sum();
    }

    public long dirtyLogChanges() {
        return dirtyLogChanges.get();
    }

    public boolean isDirtyLogging() {
        return dirtyLogging;
    }

    public boolean isConnected() {
        return features != null;
    }

    /** The negotiated features, or null while no front-end is connected. */
    public Features features() {
        return features;
    }

    public long connects() {
        return connects.get();
    }

    public long disconnects() {
        return disconnects.get();
    }

    public long invalidFrontendMessages() {
        return invalidFrontendMessages.get();
    }

    public long capacityBytes() {
        return capacityBytes;
    }

    public long guestMemoryMappedBytes() {
        return guestMemoryMapped.getAsLong();
    }

    /**
     * One sample of the storage's own latency below vhostd (for RBD: from handing a request to
     * librbd to its completion being polled). Called on the poller threads; allocation-free.
     */
    public void backendLatency(long nanos) {
        long n = Math.max(0, nanos);
        backendLatencySumNanos.addAndGet(n);
        backendLatency.incrementAndGet(LatencyBuckets.indexOf(n));
    }

    /** Copies the backend latency bucket counts into {@code into}; returns their total. */
    public long backendLatencyBuckets(long[] into) {
        long total = 0;
        for (int i = 0; i < LatencyBuckets.COUNT; i++) {
            into[i] = backendLatency.get(i);
            total += into[i];
        }
        return total;
    }

    public long backendLatencySumNanos() {
        return backendLatencySumNanos.get();
    }
}

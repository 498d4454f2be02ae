package dev.vhostd.daemon.blk;

import java.nio.charset.StandardCharsets;

import dev.vhostd.backend.BlockBackend;
import dev.vhostd.daemon.metrics.DeviceMetrics;
import dev.vhostd.protocol.device.QueueHandler;
import dev.vhostd.protocol.device.VirtioDevice;
import dev.vhostd.protocol.device.VirtioFeatures;
import dev.vhostd.protocol.memory.GuestMemory;
import dev.vhostd.protocol.virtq.SplitQueue;
import dev.vhostd.protocol.wire.VhostUserException;

/**
 * virtio-blk over a {@link BlockBackend}. Every feature offered is backed by a config field and
 * real behaviour: FLUSH and CONFIG_WCE only when the backend has a volatile cache, DISCARD and
 * WRITE_ZEROES only when it supports them, RO when the export is read-only.
 */
public final class VirtioBlkDevice implements VirtioDevice {
    private final BlockBackend backend;
    private final BlkOptions options;
    private final BlkConfig config;
    private final long features;
    private final byte[] serial;
    private final boolean readOnly;
    private final DeviceMetrics metrics;
    /** The session's negotiated features (0 before SET_FEATURES and after a reset). */
    private volatile long negotiated;

    public VirtioBlkDevice(BlockBackend backend, BlkOptions options, DeviceMetrics metrics) {
        this.backend = backend;
        this.options = options;
        this.metrics = metrics;
        metrics.capacityBytes(backend.capacity());
        if (backend.recordsLatency()) {
            backend.latencyRecorder(metrics::backendLatency);
        }
        this.readOnly = options.readOnly() || backend.readOnly();
        long f = VirtioFeatures.bit(VirtioBlk.F_SIZE_MAX) | VirtioFeatures.bit(VirtioBlk.F_SEG_MAX)
                | VirtioFeatures.bit(VirtioBlk.F_BLK_SIZE) | VirtioFeatures.bit(VirtioBlk.F_TOPOLOGY)
                | VirtioFeatures.bit(VirtioBlk.F_MQ);
        if (backend.hasVolatileCache()) {
            f |= VirtioFeatures.bit(VirtioBlk.F_FLUSH) | VirtioFeatures.bit(VirtioBlk.F_CONFIG_WCE);
        }
        if (readOnly) {
            f |= VirtioFeatures.bit(VirtioBlk.F_RO);
        } else {
            if (backend.supportsDiscard()) {
                f |= VirtioFeatures.bit(VirtioBlk.F_DISCARD);
            }
            if (backend.supportsWriteZeroes()) {
                f |= VirtioFeatures.bit(VirtioBlk.F_WRITE_ZEROES);
            }
        }
        this.features = f;
        int segMax = Math.min(BlkOptions.SEG_MAX, options.maxQueueSize() - 2);
        this.config = new BlkConfig(backend.capacity(), backend.blockSize(), BlkOptions.SIZE_MAX, Math.max(1, segMax),
                options.numQueues(), backend.hasVolatileCache(), BlkOptions.MAX_DWZ_SECTORS,
                BlkOptions.MAX_DWZ_SECTORS, backend.supportsDiscard(), backend.optimalIoBytes() / backend.blockSize());
        // BlkOptions refused anything longer than ID_BYTES or not ASCII.
        this.serial = options.serial().getBytes(StandardCharsets.US_ASCII);
    }

    /**
     * The write cache as the driver may assume it from what it negotiated (virtio 1.2 5.2.5): with
     * FLUSH the device starts in writeback mode; with CONFIG_WCE but not FLUSH it must start in
     * write-through (writeback = 0, 5.2.5.2); with neither the driver may assume write-through
     * (5.2.5.1) and never flushes, so every write must be stable before it completes.
     */
    @Override
    public void featuresNegotiated(long features) {
        negotiated = features;
        if (backend.hasVolatileCache()) {
            config.setWriteback(VirtioFeatures.has(features, VirtioBlk.F_FLUSH));
        }
    }

    /** A new session or RESET_DEVICE: the writeback byte the last driver set does not carry over. */
    @Override
    public void reset() {
        negotiated = 0;
        config.setWriteback(backend.hasVolatileCache());
    }

    /** Whether the guest sees a read-only disk (asked for, or the backend is read-only). */
    public boolean readOnly() {
        return readOnly;
    }

    public BlockBackend backend() {
        return backend;
    }

    @Override
    public long deviceFeatures() {
        return features;
    }

    @Override
    public int numQueues() {
        return options.numQueues();
    }

    @Override
    public int maxQueueSize() {
        return options.maxQueueSize();
    }

    @Override
    public int configSize() {
        return BlkConfig.SIZE;
    }

    @Override
    public byte[] readConfig(int offset, int size) {
        return config.read(offset, size);
    }

    @Override
    public void writeConfig(int offset, byte[] data) {
        if (offset == BlkConfig.WRITEBACK_OFFSET && data.length == 1
                && VirtioFeatures.has(negotiated, VirtioBlk.F_CONFIG_WCE)) {
            config.setWriteback(data[0] != 0);
            return;
        }
        throw VhostUserException.rejected("virtio-blk config write at offset " + offset + " size " + data.length
                + " refused: only the writeback byte (offset 32) is writable, and only once CONFIG_WCE is negotiated");
    }

    /**
     * Whether writes must be stable before they complete, for a queue of a session that negotiated
     * {@code features}: the backend has a volatile cache and the driver either cannot flush it (neither
     * FLUSH nor CONFIG_WCE) or turned writeback off. Read once per batch by the queues.
     */
    boolean writethrough(long features) {
        if (!backend.hasVolatileCache()) {
            return false;
        }
        if (!VirtioFeatures.has(features, VirtioBlk.F_FLUSH) && !VirtioFeatures.has(features, VirtioBlk.F_CONFIG_WCE)) {
            return true;
        }
        return !config.writeback();
    }

    @Override
    public QueueHandler openQueue(int index, SplitQueue queue, GuestMemory memory, long negotiated) {
        return new BlkQueueHandler(this, index, queue, memory, backend.openQueue(), serial, readOnly,
                metrics.queue(index), negotiated);
    }
}

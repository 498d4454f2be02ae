package dev.vhostd.backend;

import dev.vhostd.sys.Errno;
import dev.vhostd.sys.Libc;

/**
 * A backend that stores nothing: reads return zeroes, writes, discards and write-zeroes succeed
 * and are dropped. For benchmarking the rest of the stack without storage costs; with a latency,
 * each request completes that long after submission, like a device with a fixed service time.
 */
final class NullBackend implements BlockBackend {
    private final long capacity;
    private final int blockSize;
    private final boolean readOnly;
    private final long latencyNanos;
    private final String description;

    NullBackend(long capacity, int blockSize, boolean readOnly, long latencyNanos) {
        this.capacity = capacity;
        this.blockSize = blockSize;
        this.readOnly = readOnly;
        this.latencyNanos = latencyNanos;
        this.description = "null:" + Sizes.format(capacity) + (latencyNanos > 0 ? ",latency=" + latencyNanos + "ns" : "")
                + (readOnly ? " (read-only)" : "");
    }

    private int execute(IoOp op) {
        if (op.type() != IoOp.Type.READ) {
            return 0;
        }
        try {
            // memset is about twice as fast as fill() at 64 KiB, but a fault inside it (a front-end
            // truncated its memory) would kill the JVM; fill() turns the fault into an InternalError
            // that stops only this session.
            boolean nativeOk = op.segmentsCannotFault();
            for (int i = 0, n = op.segmentCount(); i < n; i++) {
                if (nativeOk) {
                    Libc.memset(op.segment(i), 0);
                } else {
                    op.segment(i).fill((byte) 0);
                }
            }
            return 0;
        } catch (IllegalStateException | UnsupportedOperationException e) {
            // A guest segment that is no longer mapped, or a read-only one.
            return -Errno.EFAULT;
        }
    }

    @Override public long capacity() { return capacity; }
    @Override public int blockSize() { return blockSize; }
    @Override public boolean readOnly() { return readOnly; }
    @Override public boolean supportsDiscard() { return !readOnly; }
    @Override public boolean discardZeroes() { return true; }
    @Override public boolean supportsWriteZeroes() { return !readOnly; }
    @Override public boolean hasVolatileCache() { return false; }
    @Override public String describe() { return description; }

    @Override
    public BackendQueue openQueue() {
        return latencyNanos > 0 ? new DelayedQueue(this, this::execute, latencyNanos) : new SyncQueue(this, this::execute);
    }

    @Override
    public void close() {}
}

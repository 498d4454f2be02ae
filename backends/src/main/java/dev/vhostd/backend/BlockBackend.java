package dev.vhostd.backend;

/**
 * A storage backend: a linear array of bytes with a block size. It knows nothing of virtio; it
 * receives validated byte offsets and memory segments (the mapped guest buffers) and completes
 * requests synchronously or asynchronously through a {@link BackendQueue}.
 * Implementations are thread-safe at this level; each queue is used by one thread.
 */
public interface BlockBackend extends AutoCloseable {
    /** Capacity in bytes, a multiple of {@link #blockSize()}. */
    long capacity();

    /** Logical block size in bytes: 512 or 4096. Offsets and lengths of I/O are multiples of it. */
    int blockSize();

    boolean readOnly();

    /** Discard frees storage (and reads back zeroes afterwards where {@link #discardZeroes()}). */
    boolean supportsDiscard();

    boolean discardZeroes();

    boolean supportsWriteZeroes();

    /** Whether data reaches stable storage only after flush (a volatile write cache). */
    boolean hasVolatileCache();

    /**
     * How many flushes to stable storage (fdatasync or its io_uring form) have completed: what
     * FLUSH requests and write-through cost. 0 for backends without a volatile cache.
     */
    default long dataSyncs() {
        return 0;
    }

    /** A short description for logs and metrics, such as "file:/var/lib/disk.img (O_DIRECT)". */
    String describe();

    /**
     * Grows the storage to {@code newSize} bytes, or with {@code newSize == 0} re-reads the size of
     * storage grown outside vhostd (a block device or image extended by its owner). Returns the
     * capacity now in force, which {@link #capacity()} reports from then on (a volatile read).
     * A size below the current capacity is refused with {@link IllegalArgumentException}: the guest
     * would lose the data past the new end. A size that is not a multiple of {@link #blockSize()} is
     * refused the same way. Backends that cannot change size throw
     * {@link UnsupportedOperationException} saying why.
     */
    default long resize(long newSize) throws java.io.IOException {
        throw new UnsupportedOperationException(describe() + " cannot be resized");
    }

    /**
     * The request size the storage handles best (virtio-blk opt_io_size), such as an RBD image's
     * object size; 0 when there is none to advertise.
     */
    default long optimalIoBytes() {
        return 0;
    }

    /**
     * Whether this backend measures a latency of its own below vhostd (an RBD cluster's round trip,
     * from submission to librbd to completion) and reports it to {@link #latencyRecorder}.
     */
    default boolean recordsLatency() {
        return false;
    }

    /**
     * Where the backend's own latency goes (see {@link #recordsLatency}); set before queues are
     * opened. The recorder is called on the queues' threads, one sample per request.
     */
    default void latencyRecorder(LatencyRecorder recorder) {}

    /** Opens a submission queue for one thread. */
    BackendQueue openQueue();

    /** Flushes and releases everything; queues must have been closed first. */
    @Override
    void close();
}

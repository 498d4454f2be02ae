package dev.vhostd.backend;

/**
 * How to open a backend.
 *
 * @param size             bytes; creates a missing file of this size, or the size of memory:/null:
 *                         when the URI names none. 0 when not given.
 * @param readOnly         writes, discards and write-zeroes fail with EROFS
 * @param direct           file: O_DIRECT, bypassing the page cache
 * @param logicalBlockSize 512 or 4096, or 0 to detect (block devices: BLKSSZGET; files: 512,
 *                         or 4096 when O_DIRECT refuses 512-byte I/O)
 * @param aio              file: I/O engine
 * @param queueDepth       file+io_uring: in-flight operations per queue (ring size); ops beyond it
 *                         complete synchronously
 */
public record BackendOptions(long size, boolean readOnly, boolean direct, int logicalBlockSize, Aio aio,
                             int queueDepth) {
    public static final int DEFAULT_QUEUE_DEPTH = 1024;
    public static final int MAX_QUEUE_DEPTH = 32768;

    public BackendOptions {
        if (size < 0) {
            throw new IllegalArgumentException("size must not be negative: " + size);
        }
        if (logicalBlockSize != 0 && logicalBlockSize != 512 && logicalBlockSize != 4096) {
            throw new IllegalArgumentException("logical block size must be 512 or 4096, got " + logicalBlockSize);
        }
        if (aio == null) {
            aio = Aio.AUTO;
        }
        if (queueDepth < 1 || queueDepth > MAX_QUEUE_DEPTH) {
            throw new IllegalArgumentException("queue depth must be between 1 and " + MAX_QUEUE_DEPTH + ", got " + queueDepth);
        }
    }

    public static BackendOptions defaults() {
        return new BackendOptions(0, false, false, 0, Aio.AUTO, DEFAULT_QUEUE_DEPTH);
    }

    public BackendOptions withSize(long size) {
        return new BackendOptions(size, readOnly, direct, logicalBlockSize, aio, queueDepth);
    }

    public BackendOptions withReadOnly(boolean readOnly) {
        return new BackendOptions(size, readOnly, direct, logicalBlockSize, aio, queueDepth);
    }

    public BackendOptions withDirect(boolean direct) {
        return new BackendOptions(size, readOnly, direct, logicalBlockSize, aio, queueDepth);
    }

    public BackendOptions withLogicalBlockSize(int logicalBlockSize) {
        return new BackendOptions(size, readOnly, direct, logicalBlockSize, aio, queueDepth);
    }

    public BackendOptions withAio(Aio aio) {
        return new BackendOptions(size, readOnly, direct, logicalBlockSize, aio, queueDepth);
    }

    public BackendOptions withQueueDepth(int queueDepth) {
        return new BackendOptions(size, readOnly, direct, logicalBlockSize, aio, queueDepth);
    }
}

package dev.vhostd.backend;

import dev.vhostd.sys.Errno;

/**
 * The checks every backend applies before touching storage. The caller has validated the request
 * already, but a backend must never read or write outside its capacity, whatever it is handed.
 */
final class OpCheck {
    private OpCheck() {}

    /**
     * The start of every queue's submit: a closed queue throws; an op that may not run on
     * {@code backend} is completed with its error. Returns true if {@code op} was refused (is done).
     */
    static boolean refused(IoOp op, BlockBackend backend, boolean queueClosed) {
        if (queueClosed) {
            throw new IllegalStateException("queue of " + backend.describe() + " is closed");
        }
        int r = check(op, backend.capacity(), backend.blockSize(), backend.readOnly());
        if (r != 0) {
            op.complete(r);
            return true;
        }
        return false;
    }

    /** 0 if {@code op} may run on a backend of this shape, else a negative errno to complete it with. */
    static int check(IoOp op, long capacity, int blockSize, boolean readOnly) {
        IoOp.Type type = op.type();
        if (type == null) {
            return -Errno.EINVAL;
        }
        return switch (type) {
            case FLUSH -> 0;
            case READ -> range(op.offset(), op.length(), capacity, blockSize);
            case WRITE, DISCARD, WRITE_ZEROES ->
                    readOnly ? -Errno.EROFS : range(op.offset(), op.length(), capacity, blockSize);
        };
    }

    /** Offset and length are block-aligned and [offset, offset + length) lies within the capacity. */
    static int range(long offset, long length, long capacity, int blockSize) {
        if (offset < 0 || length < 0 || offset % blockSize != 0 || length % blockSize != 0) {
            return -Errno.EINVAL;
        }
        // Written so that nothing can overflow: both terms are non-negative and at most capacity.
        if (length > capacity || offset > capacity - length) {
            return -Errno.EINVAL;
        }
        return 0;
    }
}

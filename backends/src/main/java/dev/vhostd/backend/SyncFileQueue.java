package dev.vhostd.backend;

/** aio=sync: every operation runs to completion on the caller's thread with preadv/pwritev. */
final class SyncFileQueue implements SynchronousQueue {
    private final FileBackend backend;
    private final FileIo io;
    private boolean closed;

    SyncFileQueue(FileBackend backend) {
        this.backend = backend;
        this.io = new FileIo(backend);
    }

    @Override
    public boolean submit(IoOp op) {
        if (!OpCheck.refused(op, backend, closed)) {
            op.complete(io.execute(op));
        }
        return true;
    }

    /** Operations that went through the O_DIRECT bounce buffer. */
    long bounced() {
        return io.bounced();
    }

    @Override
    public void close() {
        if (!closed) {
            closed = true;
            io.close();
            backend.queueClosed();
        }
    }
}

package dev.vhostd.backend;

import com.sun.management.ThreadMXBean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.management.ManagementFactory;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** The submit and reap paths allocate nothing per operation once warm. */
class NoAllocationTest {
    private static final int WARM_UP = 30_000;
    private static final int MEASURED = 20_000;
    private static final int ROUNDS = 25;

    @TempDir
    Path dir;

    @Test
    void memoryBackend() {
        measure("memory:16M", BackendOptions.defaults());
    }

    @Test
    void fileSync() {
        measure("file:" + dir.resolve("s.img"), BackendOptions.defaults().withSize(16 << 20).withAio(Aio.SYNC));
    }

    @Test
    void fileIoUring() {
        assumeTrue(IoUringSupport.available(), () -> "io_uring unavailable: " + IoUringSupport.unavailableReason());
        measure("file:" + dir.resolve("u.img"), BackendOptions.defaults().withSize(16 << 20).withAio(Aio.IO_URING));
    }

    /** aio=auto on the build directory's file system: reads and writes each on the ring or inline. */
    @Test
    void fileAuto() {
        assumeTrue(IoUringSupport.available(), () -> "io_uring unavailable: " + IoUringSupport.unavailableReason());
        measure("file:" + dir.resolve("a.img"), BackendOptions.defaults().withSize(16 << 20));
    }

    private void measure(String uri, BackendOptions options) {
        ThreadMXBean mx = (ThreadMXBean) ManagementFactory.getThreadMXBean();
        try (BlockBackend b = Backends.open(uri, options); BackendQueue q = b.openQueue(); Arena a = Arena.ofConfined()) {
            Loop loop = new Loop(b, q, a);
            loop.run(WARM_UP);
            // The JIT (possibly slowed by a busy machine) must first remove the FFM binding's own
            // temporaries: take the best of several rounds. Code that allocates per op never gets there.
            long allocated = Long.MAX_VALUE;
            for (int round = 0; round < ROUNDS && allocated >= MEASURED; round++) {
                long before = mx.getCurrentThreadAllocatedBytes();
                loop.run(MEASURED);
                allocated = Math.min(allocated, mx.getCurrentThreadAllocatedBytes() - before);
            }
            assertEquals(0, loop.errors, "failed ops");
            // A handful of bytes for a stray JIT deoptimisation is tolerated; one object per op is not.
            assertTrue(allocated < MEASURED, b.describe() + ": " + allocated + " bytes for " + MEASURED + " ops");
        }
    }

    /** Depth-16 random 4 KiB reads and writes, reusing 16 ops. */
    private static final class Loop {
        private final BlockBackend backend;
        private final BackendQueue queue;
        private final IoOp[] ops = new IoOp[16];
        private final IoOp[] free = new IoOp[16];
        private int freeCount;
        private final BackendQueue.CompletionSink sink = this::done;
        private long rng = 12345;
        long errors;

        Loop(BlockBackend backend, BackendQueue queue, Arena arena) {
            this.backend = backend;
            this.queue = queue;
            for (int i = 0; i < ops.length; i++) {
                ops[i] = new IoOp(2);
                ops[i].attach(arena.allocate(8192, 4096));
                free[freeCount++] = ops[i];
            }
        }

        private void done(IoOp op) {
            errors += op.result() != 0 ? 1 : 0;
            op.clearSegments();
            free[freeCount++] = op;
        }

        void run(int count) {
            int issued = 0;
            while (issued < count) {
                while (freeCount > 0 && issued < count) {
                    IoOp op = free[--freeCount];
                    rng = rng * 6364136223846793005L + 1442695040888963407L;
                    long block = Long.remainderUnsigned(rng >>> 16, backend.capacity() / 8192);
                    MemorySegment buf = (MemorySegment) op.attachment();
                    op.setData((rng & 1) == 0 ? IoOp.Type.READ : IoOp.Type.WRITE, block * 8192);
                    op.addSegment(buf);
                    issued++;
                    if (queue.submit(op)) {
                        done(op);
                    }
                }
                queue.flushSubmissions();
                // Busy-poll the completion ring: waiting on the eventfd is the owner's business.
                if (queue.inFlight() > 0) {
                    queue.reap(sink);
                }
            }
            queue.drain(sink);
        }
    }
}

package dev.vhostd.backend;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

class FileUringBackendTest extends BlockBackendContract {
    @BeforeAll
    static void needsIoUring() {
        assumeTrue(IoUringSupport.available(), () -> "io_uring unavailable: " + IoUringSupport.unavailableReason());
    }

    @Override
    protected BlockBackend openBackend(Path dir) {
        return Backends.open("file:" + dir.resolve("disk.img"),
                BackendOptions.defaults().withSize(CAPACITY).withAio(Aio.IO_URING));
    }

    @Override
    protected boolean completesAsynchronously() {
        return true;
    }

    @Test
    void aBatchCostsOneIoUringEnter() {
        UringFileQueue q = (UringFileQueue) queue;
        long before = q.ring().enterCalls();
        List<IoOp> done = new ArrayList<>();
        for (int i = 0; i < 32; i++) {
            assertFalse(queue.submit(data(IoOp.Type.WRITE, i * 4096L, patterned(4096, i))));
        }
        queue.submit(range(IoOp.Type.FLUSH, 0, 0, false));
        assertEquals(before, q.ring().enterCalls(), "submit must not enter the kernel");
        queue.flushSubmissions();
        assertEquals(before + 1, q.ring().enterCalls());
        awaitCompletions(done, 33);
        for (IoOp op : done) {
            assertEquals(0, op.result(), op.type() + " at " + op.offset());
        }
    }

    @Test
    void opsBeyondTheQueueDepthCompleteSynchronously() {
        try (BlockBackend b = Backends.open("file:" + dir.resolve("shallow.img"),
                BackendOptions.defaults().withSize(1 << 20).withAio(Aio.IO_URING).withQueueDepth(4));
             BackendQueue q = b.openQueue()) {
            int synchronous = 0;
            List<IoOp> ops = new ArrayList<>();
            for (int i = 0; i < 10; i++) {
                IoOp op = data(IoOp.Type.WRITE, i * 4096L, patterned(4096, 50 + i));
                ops.add(op);
                if (q.submit(op)) {
                    synchronous++;
                    assertEquals(0, op.result());
                }
            }
            assertEquals(6, synchronous);
            assertEquals(4, q.inFlight());
            List<IoOp> reaped = new ArrayList<>();
            q.flushSubmissions();
            q.drain(reaped::add);
            assertEquals(4, reaped.size());
            for (IoOp op : reaped) {
                assertEquals(0, op.result());
            }
            for (int i = 0; i < 10; i++) {
                MemorySegment buf = arena.allocate(4096, 4096);
                IoOp r = data(IoOp.Type.READ, i * 4096L, buf);
                if (!q.submit(r)) {
                    q.flushSubmissions();
                    q.drain(o -> { });
                }
                assertEquals(0, r.result());
                int seed = 50 + i;
                assertContent(buf, i * 4096L, off -> pattern(seed, off - (off / 4096) * 4096));
            }
        }
    }
}

package dev.vhostd.backend;

import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** O_DIRECT with the default engine (io_uring where available), on the temp directory's file system. */
class FileDirectBackendTest extends BlockBackendContract {
    @Override
    protected BlockBackend openBackend(Path dir) {
        return Backends.open("file:" + dir.resolve("disk.img"),
                BackendOptions.defaults().withSize(CAPACITY).withDirect(true));
    }

    @Override
    protected boolean completesAsynchronously() {
        return IoUringSupport.available();
    }

    @Test
    void misalignedGuestBuffersAreBouncedOnEveryEngine() {
        misaligned(backend, queue);
        try (BlockBackend b = Backends.open("file:" + dir.resolve("sync.img"),
                BackendOptions.defaults().withSize(CAPACITY).withDirect(true).withAio(Aio.SYNC));
             BackendQueue q = b.openQueue()) {
            misaligned(b, q);
        }
    }

    private void misaligned(BlockBackend b, BackendQueue q) {
        int bs = b.blockSize();
        long at = 5L << 20;
        // Guest buffers at odd addresses and of sub-block lengths, as a guest may hand them over.
        MemorySegment src = arena.allocate(4L * bs + 4096, 4096).asSlice(100, 3L * bs);
        fillPattern(src, 21);
        long small = Math.min(bs, 512) / 2;
        IoOp w = data(IoOp.Type.WRITE, at, src.asSlice(0, small), src.asSlice(small, 3L * bs - small));
        assertEquals(0, complete(q, w));
        MemorySegment dst = arena.allocate(4L * bs + 4096, 4096).asSlice(7, 3L * bs);
        IoOp r = data(IoOp.Type.READ, at, dst.asSlice(0, bs + 3), dst.asSlice(bs + 3, 2L * bs - 3));
        assertEquals(0, complete(q, r));
        assertContent(dst, at, off -> pattern(21, off - at));
        // And aligned buffers see the same bytes.
        MemorySegment aligned = arena.allocate(3L * bs, 4096);
        assertEquals(0, complete(q, data(IoOp.Type.READ, at, aligned)));
        assertContent(aligned, at, off -> pattern(21, off - at));
        long bounced = q instanceof UringFileQueue u ? u.bounced() : ((SyncFileQueue) q).bounced();
        assertTrue(bounced >= 2, "misaligned ops must go through the bounce buffer, bounced " + bounced);
    }

    private static int complete(BackendQueue q, IoOp op) {
        if (!q.submit(op)) {
            q.flushSubmissions();
            q.drain(o -> { });
        }
        return op.result();
    }
}

package dev.vhostd.backend;

import java.lang.foreign.MemorySegment;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;

import dev.vhostd.sys.Libc;
import dev.vhostd.sys.OwnedFd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** A file on the local file system of the build directory, the default engine (aio=auto). */
class FileAutoBackendTest extends FileAutoContract {
    @Override
    protected BlockBackend openBackend(Path dir) {
        return Backends.open("file:" + dir.resolve("disk.img"), BackendOptions.defaults().withSize(CAPACITY));
    }

    @Override
    protected Path imageDir() {
        return dir;
    }

    /**
     * Where reads go to the ring (RWF_NOWAIT works on this file system), a lone one is a single
     * RWF_NOWAIT call on the owner's thread; a batch still goes to the ring in one io_uring_enter,
     * and a lone read of pages that are not cached is not done here (it would block) but on the
     * ring, as are the lone reads right after it.
     */
    @Test
    void aLoneCachedReadIsOneNowaitCallAndTheRestUseTheRing() {
        // Only where RWF_NOWAIT reads work (ext4, XFS): tmpfs refuses them, so its reads run inline.
        assumeTrue(!NowaitProbe.unsupported(imageDir(), false), "RWF_NOWAIT reads are refused on " + imageDir());
        UringFileQueue q = (UringFileQueue) queue;
        MemorySegment src = patterned(4 * 4096L, 41);
        assertEquals(0, run(data(IoOp.Type.WRITE, 0, src)));
        // Learns the ring from the first (cached) read; then a lone read runs at once, no enter.
        assertEquals(0, run(data(IoOp.Type.READ, 0, arena.allocate(4096, 4096))));
        assertEquals("ring", q.path(false));
        queue.flushSubmissions(); // ends the batch, as the owner does after every one
        long enters = q.ring().enterCalls();
        MemorySegment buf = arena.allocate(4096, 4096);
        IoOp lone = data(IoOp.Type.READ, 4096, buf);
        assertTrue(queue.submit(lone), "a lone cached read completes at submit");
        queue.flushSubmissions();
        assertEquals(0, lone.result());
        assertContent(buf, 4096, off -> pattern(41, off));
        assertEquals(enters, q.ring().enterCalls());
        assertEquals(1, q.loneNowait());
        // Two in one batch: the first is lone, the second is not and goes to the ring.
        IoOp first = data(IoOp.Type.READ, 0, arena.allocate(4096, 4096));
        IoOp second = data(IoOp.Type.READ, 8192, arena.allocate(4096, 4096));
        assertTrue(queue.submit(first));
        assertFalse(queue.submit(second), "the second read of a batch goes to the ring");
        assertEquals(0, run0(second));
        assertEquals(0, first.result());
        assertEquals(enters + 1, q.ring().enterCalls());
        assertEquals(2, q.loneNowait());
        // Written past the page cache (O_DIRECT drops the cached pages of what it writes): not
        // cached, so RWF_NOWAIT answers EAGAIN and the read goes to the ring; lone reads then use
        // the ring for a while.
        // Ext4 may still finish an O_DIRECT write through the page cache now and then, leaving the
        // page cached: such a read is a hit and rightly done here; the next page is tried then.
        IoOp miss = null;
        long tried = 0;
        int hits = 0;
        for (int attempt = 0; attempt < 8 && miss == null; attempt++) {
            long cold = CAPACITY - 4096L * (1 + 16 * attempt);
            try (OwnedFd direct = new OwnedFd(Libc.open("/proc/self/fd/" + ((FileBackend) backend).fd(),
                    Libc.O_RDWR | Libc.O_DIRECT | Libc.O_CLOEXEC, 0))) {
                assertEquals(4096, Libc.pwrite(direct.fd(), patterned(4096, 42), 4096, cold));
            }
            tried = System.nanoTime();
            IoOp read = data(IoOp.Type.READ, cold, arena.allocate(4096, 4096));
            if (queue.submit(read)) {
                queue.flushSubmissions();
                hits++;
            } else {
                assertEquals(0, run0(read), "a lone read of uncached pages goes to the ring");
                miss = read;
            }
            assertEquals(0, read.result());
            assertContent(buf(read), cold, off -> pattern(42, off - cold));
        }
        assertTrue(miss != null, "8 pages written with O_DIRECT all stayed in the page cache");
        IoOp after = data(IoOp.Type.READ, 0, arena.allocate(4096, 4096));
        boolean done = queue.submit(after);
        if (System.nanoTime() - tried < UringFileQueue.LONE_BACKOFF_NANOS) {
            assertFalse(done, "a lone read right after a miss uses the ring");
        }
        assertEquals(0, done ? after.result() : run0(after));
        assertEquals((done ? 3 : 2) + hits, q.loneNowait());
    }
}

package dev.vhostd.backend;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import dev.vhostd.sys.Libc;
import dev.vhostd.sys.OwnedFd;

import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * A buffered file with aio=auto: the contract, plus the choice between the ring and inline calls
 * that each queue learns from its first read and write (see {@link UringFileQueue}).
 */
abstract class FileAutoContract extends BlockBackendContract {
    @BeforeAll
    static void needsIoUring() {
        assumeTrue(IoUringSupport.available(), () -> "io_uring unavailable: " + IoUringSupport.unavailableReason());
    }

    /** The directory the backend's file is in. */
    protected abstract Path imageDir();

    /**
     * No stall limit: a slow first call (class loading, a busy CI machine) would otherwise send a
     * direction to the ring for a while and make the path under test depend on timing. The stall
     * back-off has its own test below.
     */
    @Override
    protected BackendQueue openQueue(BlockBackend b) {
        return ((FileBackend) b).openQueue(Long.MAX_VALUE, UringFileQueue.FIRST_BACKOFF_NANOS);
    }

    /**
     * Writes stay in flight where the file system has non-blocking buffered writes (the ring) or
     * may make them wait for writeback (the queue's worker thread): everywhere but tmpfs.
     */
    @Override
    protected boolean completesAsynchronously() {
        return !NowaitProbe.unsupported(imageDir(), true) || ((FileBackend) backend).writebackMayBlock();
    }

    /** Where a direction whose RWF_NOWAIT attempt the kernel refuses runs: a worker, or inline on tmpfs. */
    String blockingPath() {
        return ((FileBackend) backend).writebackMayBlock() ? "worker" : "inline";
    }

    @Test
    void readsAndWritesTakeThePathTheKernelsNowaitAnswerImplies() {
        UringFileQueue q = (UringFileQueue) queue;
        boolean writesBlock = NowaitProbe.unsupported(imageDir(), true);
        boolean readsBlock = NowaitProbe.unsupported(imageDir(), false);
        assertEquals("learn", q.path(true));
        assertEquals("learn", q.path(false));
        long enters = q.ring().enterCalls();
        for (int i = 0; i < 8; i++) {
            IoOp w = data(IoOp.Type.WRITE, i * 4096L, patterned(4096, 70 + i));
            boolean completed = queue.submit(w);
            queue.flushSubmissions(); // one op per batch: a lone op runs at once on every path
            if (i > 0) {
                // The first one is the RWF_NOWAIT attempt: done at once, or handed to the worker.
                // After it a lone write (nothing else in flight) runs at once: inline, on the
                // poller instead of the worker, or as one RWF_NOWAIT call instead of an SQE.
                assertTrue(completed, "write " + i + " completed at submit");
            }
            assertEquals(0, completed ? w.result() : run0(w));
        }
        assertEquals(writesBlock ? blockingPath() : "ring", q.path(true));
        for (int i = 0; i < 8; i++) {
            MemorySegment buf = arena.allocate(4096, 4096);
            IoOp r = data(IoOp.Type.READ, i * 4096L, buf);
            boolean completed = queue.submit(r);
            queue.flushSubmissions();
            if (i > 0) {
                assertTrue(completed, "read " + i + " completed at submit");
            }
            assertEquals(0, completed ? r.result() : run0(r));
            int seed = 70 + i;
            assertContent(buf, i * 4096L, off -> pattern(seed, off - (off / 4096) * 4096));
        }
        assertEquals(readsBlock ? blockingPath() : "ring", q.path(false));
        assertEquals(enters, q.ring().enterCalls(), "lone reads and writes must not enter the ring");
        assertEquals((readsBlock ? 0 : 7) + (writesBlock ? 0 : 7), q.loneNowait());
    }

    /**
     * An owner that sleeps on the completion fd whenever it has reaped all it could is woken for
     * every later completion: no lost wake-up, whatever the batch sizes (writes may be on the worker
     * thread, whose eventfd writes are batched and skipped while the owner has one to consume).
     */
    @Test
    void anOwnerThatSleepsUntilSignalledSeesEveryCompletion() {
        int rounds = 1500;
        IoOp[] ops = new IoOp[16];
        MemorySegment[] bufs = new MemorySegment[ops.length];
        for (int i = 0; i < ops.length; i++) {
            bufs[i] = patterned(4096, i);
            ops[i] = new IoOp(1);
        }
        List<IoOp> done = new ArrayList<>();
        dev.vhostd.sys.EventFd efd = new dev.vhostd.sys.EventFd();
        int fd = queue.completionFd();
        try (dev.vhostd.sys.Epoll epoll = new dev.vhostd.sys.Epoll(1)) {
            epoll.add(fd, dev.vhostd.sys.Epoll.EPOLLIN, 1);
            long rng = 7;
            for (int round = 0; round < rounds; round++) {
                rng = rng * 6364136223846793005L + 1442695040888963407L;
                int batch = 1 + (int) ((rng >>> 33) % ops.length);
                done.clear();
                int inFlight = 0;
                for (int i = 0; i < batch; i++) {
                    IoOp op = ops[i].setData(IoOp.Type.WRITE, i * 4096L);
                    op.addSegment(bufs[i]);
                    if (queue.submit(op)) {
                        done.add(op);
                    } else {
                        inFlight++;
                    }
                }
                queue.flushSubmissions();
                int reaped = 0;
                while (reaped < inFlight) {
                    long deadline = System.nanoTime() + 10_000_000_000L;
                    // 0 is a timeout or EINTR: only the deadline tells a lost wake-up.
                    while (epoll.await(1000) == 0) {
                        assertTrue(System.nanoTime() < deadline, "round " + round + ": no completion signal for 10 s"
                                + " with " + (inFlight - reaped) + " of " + batch + " writes in flight");
                    }
                    efd.drain(fd);
                    reaped += queue.reap(done::add);
                }
                assertEquals(batch, done.size());
                for (IoOp op : done) {
                    assertEquals(0, op.result());
                    op.clearSegments();
                }
            }
        }
    }

    static MemorySegment buf(IoOp op) {
        return op.segment(0);
    }

    /** Waits for an op the queue took in flight. */
    int run0(IoOp op) {
        queue.flushSubmissions();
        List<IoOp> done = new ArrayList<>();
        awaitCompletions(done, 1);
        assertTrue(done.get(0) == op, "reaped a different op");
        return op.result();
    }
}

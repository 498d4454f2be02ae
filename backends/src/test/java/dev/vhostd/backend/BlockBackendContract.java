package dev.vhostd.backend;

import dev.vhostd.sys.Epoll;
import dev.vhostd.sys.Errno;
import dev.vhostd.sys.EventFd;
import dev.vhostd.sys.Libc;
import dev.vhostd.sys.MemFd;
import dev.vhostd.sys.OwnedFd;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * What every {@link BlockBackend} must do, run once per backend and engine by a subclass. Buffers
 * come from an Arena and from a shared memfd mapping, as guest memory does. Backends that store
 * nothing (null:) override {@link #storesData()}; read-only ones see every write refused.
 */
public abstract class BlockBackendContract {
    /** Every subclass opens a backend of this capacity. */
    protected static final long CAPACITY = 8L << 20;

    @TempDir
    protected Path dir;
    protected BlockBackend backend;
    protected BackendQueue queue;
    protected Arena arena;
    private int block;

    /** Opens a fresh backend of {@link #CAPACITY} bytes; {@code dir} is an empty directory. */
    protected abstract BlockBackend openBackend(Path dir) throws IOException;

    /** The queue the contract drives. */
    protected BackendQueue openQueue(BlockBackend b) {
        return b.openQueue();
    }

    /** Whether written data reads back; false for backends that drop writes. */
    protected boolean storesData() {
        return true;
    }

    /** Whether submissions may stay in flight (io_uring) rather than complete at once. */
    protected boolean completesAsynchronously() {
        return false;
    }

    /** Whether {@code resize} to a larger size grows this backend (else UnsupportedOperationException). */
    protected boolean grows() {
        return !backend.readOnly();
    }

    /** The byte at {@code offset} of a freshly opened backend. */
    protected byte initialByte(long offset) {
        return 0;
    }

    @BeforeEach
    void openAll() throws IOException {
        arena = Arena.ofShared();
        backend = openBackend(dir);
        queue = openQueue(backend);
        block = backend.blockSize();
    }

    @AfterEach
    void closeAll() {
        if (queue != null) {
            queue.drain(op -> { });
            queue.close();
        }
        if (backend != null) {
            backend.close();
        }
        arena.close();
    }

    // ---- helpers ----

    /** A buffer aligned for O_DIRECT, filled with a pattern derived from {@code seed}. */
    protected MemorySegment patterned(long size, int seed) {
        MemorySegment s = arena.allocate(size, 4096);
        fillPattern(s, seed);
        return s;
    }

    protected static void fillPattern(MemorySegment s, int seed) {
        for (long i = 0; i < s.byteSize(); i++) {
            s.set(JAVA_BYTE, i, pattern(seed, i));
        }
    }

    protected static byte pattern(int seed, long i) {
        return (byte) (seed * 31 + i * 7 + (i >>> 9));
    }

    protected IoOp data(IoOp.Type type, long offset, MemorySegment... segments) {
        IoOp op = new IoOp(Math.max(1, segments.length)).setData(type, offset);
        for (MemorySegment s : segments) {
            op.addSegment(s);
        }
        return op;
    }

    protected IoOp range(IoOp.Type type, long offset, long length, boolean unmap) {
        return new IoOp(1).setRange(type, offset, length, unmap);
    }

    /** Submits one op and waits for it; returns its result. */
    protected int run(IoOp op) {
        if (queue.submit(op)) {
            return op.result();
        }
        queue.flushSubmissions();
        List<IoOp> done = new ArrayList<>();
        awaitCompletions(done, 1);
        assertEquals(1, done.size());
        assertTrue(done.get(0) == op, "reaped a different op");
        return op.result();
    }

    /** Reaps until {@code expected} ops arrived, waiting on the completion fd between tries. */
    protected void awaitCompletions(List<IoOp> sink, int expected) {
        long deadline = System.nanoTime() + 20_000_000_000L;
        int fd = queue.completionFd();
        assertTrue(fd >= 0, "a queue with ops in flight must offer a completion fd");
        EventFd efd = new EventFd();
        try (Epoll epoll = new Epoll(1)) {
            epoll.add(fd, Epoll.EPOLLIN, 1);
            while (sink.size() < expected) {
                if (System.nanoTime() > deadline) {
                    fail("only " + sink.size() + " of " + expected + " completions arrived; " + queue.inFlight()
                            + " in flight");
                }
                epoll.await(100);
                efd.drain(fd);
                queue.reap(sink::add);
            }
        }
    }

    protected MemorySegment read(long offset, long length) {
        MemorySegment buf = arena.allocate(length, 4096);
        buf.fill((byte) 0x5A);
        assertEquals(0, run(data(IoOp.Type.READ, offset, buf)), "read at " + offset);
        return buf;
    }

    protected void assertContent(MemorySegment actual, long offset, Expected expected) {
        for (long i = 0; i < actual.byteSize(); i++) {
            byte want = expected.at(offset + i);
            byte got = actual.get(JAVA_BYTE, i);
            if (want != got) {
                fail("byte at disk offset " + (offset + i) + ": expected " + want + " got " + got);
            }
        }
    }

    /** What the disk should hold at an absolute offset. */
    @FunctionalInterface
    protected interface Expected {
        byte at(long diskOffset);
    }

    private Expected initial() {
        return this::initialByte;
    }

    /** Content after writing pattern(seed) at [start, start+len): what a read should return. */
    private Expected afterWrite(long start, long len, int seed) {
        return off -> storesData() && !backend.readOnly() && off >= start && off < start + len ? pattern(seed, off - start) : initialByte(off);
    }

    private void writeOrRefused(long offset, MemorySegment... segs) {
        int r = run(data(IoOp.Type.WRITE, offset, segs));
        assertEquals(backend.readOnly() ? -Errno.EROFS : 0, r, "write at " + offset);
    }

    // ---- the contract ----

    @Test
    void capacityAndBlockSize() {
        assertEquals(CAPACITY, backend.capacity());
        assertTrue(block == 512 || block == 4096, "block size " + block);
        assertEquals(0, backend.capacity() % block);
        assertFalse(backend.describe().isBlank());
        if (backend.readOnly()) {
            assertFalse(backend.supportsDiscard());
            assertFalse(backend.supportsWriteZeroes());
        }
    }

    @Test
    void resizeRefusesShrinkingAndSizesThatAreNotWholeBlocks() throws IOException {
        assertThrows(IllegalArgumentException.class, () -> backend.resize(CAPACITY - block));
        assertThrows(IllegalArgumentException.class, () -> backend.resize(CAPACITY + block + 1));
        assertEquals(CAPACITY, backend.resize(0), "nothing grew outside vhostd");
        assertEquals(CAPACITY, backend.resize(CAPACITY), "the same size is no change");
        assertEquals(CAPACITY, backend.capacity());
    }

    @Test
    void growingExtendsTheDiskForAQueueOpenedBefore() throws IOException {
        long bigger = 2 * CAPACITY;
        if (!grows()) {
            assertThrows(UnsupportedOperationException.class, () -> backend.resize(bigger));
            assertEquals(CAPACITY, backend.capacity());
            return;
        }
        MemorySegment probe = arena.allocate(block, 4096);
        assertEquals(-Errno.EINVAL, run(data(IoOp.Type.READ, CAPACITY, probe)), "read past the end before growing");
        assertEquals(bigger, backend.resize(bigger));
        assertEquals(bigger, backend.capacity());
        // The queue opened before the resize serves the new range: across the old end, and the last block.
        long across = CAPACITY - block;
        writeOrRefused(across, patterned(2L * block, 9));
        assertContent(read(across, 2L * block), across, afterWrite(across, 2L * block, 9));
        assertContent(read(bigger - block, block), bigger - block, initial());
        assertEquals(-Errno.EINVAL, run(data(IoOp.Type.READ, bigger, probe)), "read past the new end");
        assertThrows(IllegalArgumentException.class, () -> backend.resize(CAPACITY), "shrinking back");
    }

    @Test
    void freshBackendReadsItsInitialContent() {
        assertContent(read(0, 64 * 1024), 0, initial());
        assertContent(read(CAPACITY - block, block), CAPACITY - block, initial());
    }

    @Test
    void writeThenReadBackMultiSegmentArenaBuffers() {
        long at = 1 << 20;
        MemorySegment whole = patterned(4 * 4096L, 3);
        // Write as three segments, read back as two of other sizes.
        writeOrRefused(at, whole.asSlice(0, 4096), whole.asSlice(4096, 8192), whole.asSlice(12288, 4096));
        MemorySegment a = arena.allocate(12288, 4096);
        MemorySegment b = arena.allocate(4096, 4096);
        assertEquals(0, run(data(IoOp.Type.READ, at, a, b)));
        Expected want = afterWrite(at, whole.byteSize(), 3);
        assertContent(a, at, want);
        assertContent(b, at + 12288, want);
        assertContent(read(at - block, block), at - block, initial());
        assertContent(read(at + whole.byteSize(), block), at + whole.byteSize(), initial());
    }

    @Test
    void writeThenReadBackFromSharedMemfdLikeGuestMemory() {
        long size = 1 << 20;
        try (OwnedFd memfd = new OwnedFd(MemFd.create("guest", size)); Arena guest = Arena.ofShared()) {
            MemorySegment ram = Libc.mmap(guest, size, Libc.PROT_READ | Libc.PROT_WRITE, Libc.MAP_SHARED, memfd.fd(), 0);
            MemorySegment src = ram.asSlice(64 * 1024, 3 * 4096);
            fillPattern(src, 9);
            long at = CAPACITY / 2;
            writeOrRefused(at, src.asSlice(0, 4096), src.asSlice(4096, 2 * 4096));
            MemorySegment dst = ram.asSlice(512 * 1024, 3 * 4096);
            dst.fill((byte) 0x77);
            assertEquals(0, run(data(IoOp.Type.READ, at, dst.asSlice(0, 2 * 4096), dst.asSlice(2 * 4096, 4096))));
            assertContent(dst, at, afterWrite(at, src.byteSize(), 9));
        }
    }

    @Test
    void moreSegmentsThanIovMaxAreTransferredWhole() {
        int count = 1100; // Linux IOV_MAX is 1024: the rest must follow in another call
        long len = (long) count * block;
        MemorySegment src = patterned(len, 17);
        IoOp w = new IoOp(count).setData(IoOp.Type.WRITE, 0);
        for (int i = 0; i < count; i++) {
            w.addSegment(src.asSlice((long) i * block, block));
        }
        assertEquals(backend.readOnly() ? -Errno.EROFS : 0, run(w));
        MemorySegment dst = arena.allocate(len, 4096);
        IoOp r = new IoOp(count).setData(IoOp.Type.READ, 0);
        for (int i = 0; i < count; i++) {
            r.addSegment(dst.asSlice((long) i * block, block));
        }
        assertEquals(0, run(r));
        assertContent(dst, 0, afterWrite(0, len, 17));
    }

    @Test
    void outOfRangeAndMisalignedOpsAreRejectedWithoutTouchingData() {
        long last = CAPACITY - block;
        MemorySegment mark = patterned(block, 5);
        writeOrRefused(last, mark);
        Expected want = afterWrite(last, block, 5);

        MemorySegment two = patterned(2L * block, 6);
        assertTrue(run(data(IoOp.Type.WRITE, last, two)) < 0, "write across the end");
        assertTrue(run(data(IoOp.Type.WRITE, CAPACITY, patterned(block, 6))) < 0, "write at the end");
        assertTrue(run(data(IoOp.Type.WRITE, Long.MAX_VALUE - block + 1, patterned(block, 6))) < 0, "write near 2^63");
        assertTrue(run(data(IoOp.Type.WRITE, -block, patterned(block, 6))) < 0, "negative offset");
        assertTrue(run(data(IoOp.Type.WRITE, last + 1, patterned(block, 6))) < 0, "misaligned offset");
        assertTrue(run(range(IoOp.Type.DISCARD, last, 2L * block, true)) < 0, "discard across the end");
        assertTrue(run(range(IoOp.Type.WRITE_ZEROES, CAPACITY - block, Long.MAX_VALUE - 4095, false)) < 0,
                "write zeroes of a huge length");

        MemorySegment into = arena.allocate(2L * block, 4096);
        into.fill((byte) 0x33);
        assertEquals(-Errno.EINVAL, run(data(IoOp.Type.READ, last, into)), "read across the end");
        for (long i = 0; i < into.byteSize(); i++) {
            assertEquals((byte) 0x33, into.get(JAVA_BYTE, i), "a refused read wrote into the buffer");
        }
        assertContent(read(last, block), last, want);
        assertContent(read(last - block, block), last - block, initial());
    }

    @Test
    void flushSucceeds() {
        writeOrRefused(0, patterned(block, 1));
        assertEquals(0, run(range(IoOp.Type.FLUSH, 0, 0, false)));
    }

    @Test
    void zeroLengthReadSucceeds() {
        assertEquals(0, run(new IoOp(1).setData(IoOp.Type.READ, 4096)));
    }

    @Test
    void discardThenReadZeroes() {
        long at = 2L << 20;
        long len = 64 * 1024;
        writeOrRefused(at, patterned(len, 11));
        int r = run(range(IoOp.Type.DISCARD, at + 16 * 1024, 32 * 1024, true));
        if (backend.readOnly()) {
            assertEquals(-Errno.EROFS, r);
            assertContent(read(at, len), at, initial());
            return;
        }
        assertTrue(backend.supportsDiscard(), "a writable test backend supports discard");
        assertEquals(0, r);
        if (backend.discardZeroes()) {
            Expected before = afterWrite(at, len, 11);
            assertContent(read(at, len), at,
                    off -> off >= at + 16 * 1024 && off < at + 48 * 1024 ? 0 : before.at(off));
        }
    }

    @Test
    void writeZeroesWithUnmap() {
        writeZeroes(true);
    }

    @Test
    void writeZeroesWithoutUnmap() {
        writeZeroes(false);
    }

    private void writeZeroes(boolean unmap) {
        long at = 3L << 20;
        long len = 64 * 1024;
        writeOrRefused(at, patterned(len, 12));
        // A range that does not start or end on a page boundary, when blocks are 512 bytes.
        long zStart = at + 8 * 1024 + (block == 512 ? 512 : 0);
        long zLen = 20 * 1024 + (block == 512 ? 1024 : 0);
        int r = run(range(IoOp.Type.WRITE_ZEROES, zStart, zLen, unmap));
        Expected before = afterWrite(at, len, 12);
        if (backend.readOnly()) {
            assertEquals(-Errno.EROFS, r);
            assertContent(read(at, len), at, initial());
            return;
        }
        assertEquals(0, r);
        assertContent(read(at, len), at, off -> off >= zStart && off < zStart + zLen ? 0 : before.at(off));
    }

    @Test
    void writesAreRefusedExactlyWhenReadOnly() {
        int expected = backend.readOnly() ? -Errno.EROFS : 0;
        assertEquals(expected, run(data(IoOp.Type.WRITE, 0, patterned(block, 2))));
        assertEquals(expected, run(range(IoOp.Type.DISCARD, 0, block, true)));
        assertEquals(expected, run(range(IoOp.Type.WRITE_ZEROES, 0, block, false)));
        assertEquals(0, run(range(IoOp.Type.FLUSH, 0, 0, false)));
    }

    @Test
    void manyOpsInFlightAreAllReapedOnce() {
        int n = 128;
        List<IoOp> writes = new ArrayList<>();
        Map<IoOp, Integer> index = new IdentityHashMap<>();
        List<IoOp> done = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            // Scattered, descending offsets so the kernel has reason to finish them in any order.
            long at = (long) ((i * 37) % n) * 8192;
            IoOp op = data(IoOp.Type.WRITE, at, patterned(4096, 100 + i), patterned(4096, 300 + i));
            writes.add(op);
            index.put(op, i);
            if (queue.submit(op)) {
                done.add(op);
            }
        }
        if (completesAsynchronously()) {
            assertEquals(n - done.size(), queue.inFlight());
            assertTrue(queue.inFlight() > 0, "nothing went in flight");
        } else {
            assertEquals(n, done.size());
        }
        queue.flushSubmissions();
        if (done.size() < n) {
            awaitCompletions(done, n);
        }
        assertEquals(n, done.size());
        assertEquals(n, index.size());
        Map<IoOp, Boolean> distinct = new IdentityHashMap<>();
        done.forEach(o -> distinct.put(o, true));
        assertEquals(n, distinct.size(), "an op was reaped twice or a foreign op was reaped");
        assertEquals(0, queue.inFlight());
        int expected = backend.readOnly() ? -Errno.EROFS : 0;
        for (IoOp op : done) {
            assertEquals(expected, op.result(), "write " + index.get(op));
        }
        // Read them all back in one batch as well.
        List<IoOp> reads = new ArrayList<>();
        List<IoOp> readDone = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            long at = (long) ((i * 37) % n) * 8192;
            MemorySegment buf = arena.allocate(8192, 4096);
            IoOp op = data(IoOp.Type.READ, at, buf);
            op.attach(buf);
            op.tag(i);
            reads.add(op);
            if (queue.submit(op)) {
                readDone.add(op);
            }
        }
        queue.flushSubmissions();
        if (readDone.size() < n) {
            awaitCompletions(readDone, n);
        }
        for (IoOp op : reads) {
            assertEquals(0, op.result());
            int i = (int) op.tag();
            long at = (long) ((i * 37) % n) * 8192;
            MemorySegment buf = (MemorySegment) op.attachment();
            Expected first = afterWrite(at, 4096, 100 + i);
            Expected second = afterWrite(at + 4096, 4096, 300 + i);
            assertContent(buf, at, off -> off < at + 4096 ? first.at(off) : second.at(off));
        }
    }

    @Test
    void drainWaitsForEverything() {
        List<IoOp> done = new ArrayList<>();
        int synchronous = 0;
        for (int i = 0; i < 64; i++) {
            IoOp op = data(IoOp.Type.READ, (long) i * 4096, arena.allocate(4096, 4096));
            if (queue.submit(op)) {
                synchronous++;
            }
        }
        queue.drain(done::add);
        assertEquals(64, synchronous + done.size());
        assertEquals(0, queue.inFlight());
        for (IoOp op : done) {
            assertEquals(0, op.result());
        }
        assertEquals(0, queue.reap(op -> fail("reaped after drain")));
    }

    @Test
    void closeReleasesFileDescriptors() throws IOException {
        Path other = Files.createDirectory(dir.resolve("fd-count"));
        cycle(other.resolve("warm-up"));
        long before = openFds();
        cycle(other.resolve("measured"));
        assertEquals(before, openFds(), "fds leaked by open/close");
    }

    private void cycle(Path where) throws IOException {
        Files.createDirectory(where);
        BlockBackend b = openBackend(where);
        BackendQueue q = b.openQueue();
        IoOp op = data(IoOp.Type.READ, 0, arena.allocate(block, 4096));
        if (!q.submit(op)) {
            q.flushSubmissions();
        }
        q.drain(o -> { });
        q.close();
        b.close();
    }

    private static long openFds() throws IOException {
        try (Stream<Path> s = Files.list(Path.of("/proc/self/fd"))) {
            return s.count();
        }
    }

    @Test
    void submitAfterCloseIsRefused() {
        queue.close();
        try {
            queue.submit(data(IoOp.Type.READ, 0, arena.allocate(block, 4096)));
            fail("submit on a closed queue");
        } catch (IllegalStateException expected) {
            assertNotNull(expected.getMessage());
        }
        queue = null;
    }
}

package dev.vhostd.backend;

import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** null: with a latency: every op stays in flight that long, then completes in submission order. */
class NullLatencyBackendTest extends BlockBackendContract {
    private static final long LATENCY_NANOS = 2_000_000L;

    @Override
    protected BlockBackend openBackend(Path dir) {
        return Backends.open("null:8m,latency=2ms", BackendOptions.defaults());
    }

    @Override
    protected boolean storesData() {
        return false;
    }

    @Override
    protected boolean completesAsynchronously() {
        return true;
    }

    @Test
    void opsCompleteNoSoonerThanTheLatencyAndInOrder() {
        List<IoOp> done = new ArrayList<>();
        List<IoOp> submitted = new ArrayList<>();
        List<MemorySegment> buffers = new ArrayList<>();
        Map<IoOp, Long> submittedAt = new IdentityHashMap<>();
        List<String> early = new ArrayList<>();
        // More than the queue's initial capacity of 256, so it grows with ops in flight.
        for (int i = 0; i < 300; i++) {
            MemorySegment buf = arena.allocate(4096);
            buf.fill((byte) 0x77);
            IoOp op = data(IoOp.Type.READ, i * 4096L, buf);
            submittedAt.put(op, System.nanoTime());
            assertFalse(queue.submit(op));
            submitted.add(op);
            buffers.add(buf);
        }
        assertEquals((byte) 0x77, buffers.get(299).get(JAVA_BYTE, 0), "a read's data lands at completion, not at submit");
        long deadline = System.nanoTime() + 20_000_000_000L;
        while (done.size() < 300 && System.nanoTime() < deadline) {
            queue.reap(op -> {
                long age = System.nanoTime() - submittedAt.get(op);
                if (age < LATENCY_NANOS) {
                    early.add(op.offset() + " after " + age + " ns");
                }
                done.add(op);
            });
        }
        assertEquals(List.of(), early, "ops completed before their latency");
        assertEquals(submitted, done, "completions come in submission order");
        for (IoOp op : done) {
            assertEquals(0, op.result());
        }
        for (MemorySegment b : buffers) {
            assertEquals(0, b.get(JAVA_BYTE, 4095));
        }
        assertEquals(0, queue.inFlight());
    }

    @Test
    void theCompletionFdWakesAWaiter() {
        List<IoOp> done = new ArrayList<>();
        long start = System.nanoTime();
        assertFalse(queue.submit(data(IoOp.Type.WRITE, 0, patterned(4096, 1))));
        awaitCompletions(done, 1);
        assertTrue(System.nanoTime() - start >= LATENCY_NANOS);
    }

    @Test
    void drainWaitsForEveryOp() {
        for (int i = 0; i < 5; i++) {
            assertFalse(queue.submit(data(IoOp.Type.WRITE, i * 4096L, patterned(4096, i))));
        }
        List<IoOp> done = new ArrayList<>();
        queue.drain(done::add);
        assertEquals(5, done.size());
        assertEquals(0, queue.inFlight());
    }
}

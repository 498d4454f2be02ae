package dev.vhostd.daemon.bench;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.List;

import org.junit.jupiter.api.Test;

import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class BenchPartsTest {
    @Test
    void procStatParsingCountsFromTheLastParenthesis() {
        String stat = "1234 (qemu (weird) name) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 3 0 100 0 0";
        assertEquals((250 + 75) * ProcessCpu.NANOS_PER_TICK, ProcessCpu.parseStat(stat));
        assertThrows(IllegalArgumentException.class, () -> ProcessCpu.parseStat("garbage"));
        assertTrue(ProcessCpu.nanos(ProcessHandle.current().pid()) >= 0);
        assertEquals(-1, ProcessCpu.nanos(0));
        assertEquals(-1, ProcessCpu.nanos(Integer.MAX_VALUE), "no such process");
    }

    @Test
    void verifyPatternRoundTripsAndCatchesEachKindOfCorruption() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment buf = a.allocate(8192, 8);
            VerifyPattern.fill(buf, 4096, 4096, 800, 7);
            assertEquals(-1, VerifyPattern.firstMismatch(buf, 4096, 4096, 800, 7));
            assertEquals(0, VerifyPattern.firstMismatch(buf, 4096, 4096, 800, 6), "stale generation");
            assertEquals(0, VerifyPattern.firstMismatch(buf, 4096, 4096, 808, 7), "wrong place");
            buf.set(JAVA_LONG, 4096 + 8 * 300, 0);
            assertEquals(300, VerifyPattern.firstMismatch(buf, 4096, 4096, 800, 7), "torn");
            assertTrue(VerifyPattern.describe(VerifyPattern.word(801, 7, 3)).contains("sector 801, generation 7, word 3"));
        }
    }

    @Test
    void workloadMixes() {
        Workload reads = new Workload(RwMode.RANDREAD, 50, 1000, Long.MAX_VALUE, false, 42);
        Workload writes = new Workload(RwMode.RANDWRITE, 50, 1000, Long.MAX_VALUE, false, 42);
        Workload mixed = new Workload(RwMode.RANDRW, 70, 1000, Long.MAX_VALUE, false, 42);
        int mixedReads = 0;
        for (int i = 0; i < 10_000; i++) {
            long r = reads.next();
            assertEquals(0, r & 1);
            assertTrue((r >>> 1) < 1000);
            assertEquals(1, writes.next() & 1);
            if ((mixed.next() & 1) == 0) {
                mixedReads++;
            }
        }
        assertEquals(7000, mixedReads, 300);
    }

    @Test
    void sequentialWrapsAndLimitStops() {
        Workload w = new Workload(RwMode.READ, 0, 3, 5, false, 1);
        assertEquals(List.of(0L, 2L, 4L, 0L, 2L), List.of(w.next(), w.next(), w.next(), w.next(), w.next()));
        assertEquals(-1, w.next());
    }

    @Test
    void verifyModeKeepsInFlightBlocksApartAndTracksGenerations() {
        Workload w = new Workload(RwMode.WRITE, 0, 4, Long.MAX_VALUE, true, 1);
        long b0 = w.next() >>> 1;
        long b1 = w.next() >>> 1;
        long b2 = w.next() >>> 1;
        long b3 = w.next() >>> 1;
        assertEquals(List.of(0L, 1L, 2L, 3L), List.of(b0, b1, b2, b3));
        assertThrows(IllegalStateException.class, w::next, "every block is in flight");
        assertEquals(1, w.nextGeneration(0));
        w.finished(0, true, true, 1);
        assertEquals(1, w.generation(0));
        assertEquals(2, w.nextGeneration(0));
        w.finished(1, true, false, 1);
        assertEquals(-1, w.generation(1), "a failed write leaves the content unknown");
        assertEquals(1, w.nextGeneration(1));
        Workload after = new Workload(w, RwMode.RANDREAD, 100, Long.MAX_VALUE);
        assertTrue(after.verifying());
        assertEquals(1, after.generation(0), "the measured run sees the prefill's generations");
        assertFalse(new Workload(RwMode.READ, 0, 4, 1, false, 1).verifying());
    }

    @Test
    void configValidation() {
        assertEquals(128, config(1, 32, 0).effectiveQueueSize());
        assertEquals(256, config(1, 64, 0).effectiveQueueSize());
        assertEquals(1024, config(1, 341, 0).effectiveQueueSize());
        assertThrows(IllegalArgumentException.class, () -> config(1, 342, 0), "three descriptors per request");
        assertThrows(IllegalArgumentException.class, () -> config(0, 1, 0));
        assertThrows(IllegalArgumentException.class, () -> config(1, 32, 64), "queue smaller than 3 x depth");
        assertThrows(IllegalArgumentException.class, () -> config(1, 8, 100), "not a power of two");
        assertThrows(IllegalArgumentException.class, () -> new BenchConfig(Path.of("s"), 1, 1, 1000, RwMode.READ, 50, 1,
                0, 0, true, false, 0, 0, 0, 0), "bs not a multiple of 512");
    }

    private static BenchConfig config(int queues, int depth, int queueSize) {
        return new BenchConfig(Path.of("s"), queues, depth, 4096, RwMode.RANDREAD, 50, 1, 0, 0, true, false, 0, 0,
                queueSize, 0);
    }

    @Test
    void resultRenderings() {
        BenchResult r = new BenchResult("randread", 1, 32, 4096, true, 2.0, 2_000_000, 2_000_000, 0, 0, 0, 1_000_000,
                4096, 30.1, 29.5, 60.25, 80.0, 400.0, 0.01, 0.2, 0.8, -1, 99, List.of("queue 0 \"x\""));
        String line = r.resultLine();
        assertTrue(line.startsWith("RESULT rw=randread queues=1 depth=32 bs=4096 event_idx=on"), line);
        assertTrue(line.contains(" iops=1000000 "), line);
        assertTrue(line.contains(" lat_p99_us=60.25 "), line);
        assertTrue(line.contains(" frontend_cpu_us_per_req=-1 "), line);
        assertTrue(line.contains(" kicks_per_req=0.01 "), line);
        BenchResult tiny = new BenchResult("read", 1, 1, 512, false, 1, 1, 1, 0, 0, 0, 1, 0, 1, 1, 1, 1, 1, 0.0003, 0.00004,
                0, 0, 1, List.of());
        assertTrue(tiny.resultLine().contains(" kicks_per_req=0.0003 calls_per_req=0 "), "no exponents: " + tiny.resultLine());
        assertTrue(tiny.json().contains("\"kicks_per_req\":0.0003,"), tiny.json());
        String json = r.json();
        assertTrue(json.startsWith("{\"rw\":\"randread\",\"queues\":1,"), json);
        assertTrue(json.endsWith(",\"mismatch_reports\":[\"queue 0 \\\"x\\\"\"]}"), json);
        assertTrue(r.summary().contains("IOPS        1,000,000"), r.summary());
        assertTrue(r.summary().contains("front-end n/a"), r.summary());
    }
}

package dev.vhostd.daemon.bench;

import java.lang.foreign.MemorySegment;

import dev.vhostd.protocol.frontend.DriverQueue;
import dev.vhostd.protocol.frontend.GuestRam;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

/**
 * Prints what the bench front-end costs per request with no back-end and no syscalls: an in-thread
 * device completes every available request at once, the front-end reaps, times, refills and
 * publishes. The result is the ceiling of the front-end thread; anything a real back-end shows
 * below it is the back-end (plus notifications). Run: java -cp ... dev.vhostd.daemon.bench.FrontendCostBench [depth]
 */
public final class FrontendCostBench {
    public static void main(String[] args) {
        int depth = args.length > 0 ? Integer.parseInt(args[0]) : 32;
        long base = GuestRam.DEFAULT_GUEST_BASE;
        try (GuestRam ram = new GuestRam(64L << 20)) {
            int qsize = 128;
            while (qsize < 3 * depth) {
                qsize <<= 1;
            }
            DriverQueue q = new DriverQueue(ram, 0, qsize, true, () -> { });
            RunStats stats = new RunStats();
            QueueLoad load = new QueueLoad(q, -1, ram, depth, 4096, stats);
            MemorySegment all = ram.slice(base, ram.region().size());
            MemorySegment avail = ram.slice(q.availGuestAddress(), 6 + 2L * qsize);
            MemorySegment used = ram.slice(q.usedGuestAddress(), 6 + 8L * qsize);
            MemorySegment desc = ram.slice(q.descGuestAddress(), 16L * qsize);
            Workload w = new Workload(RwMode.RANDRW, 50, 100_000, Long.MAX_VALUE, false, 7);
            load.now = System.nanoTime();
            load.start(w);
            q.kickIfNeeded();
            int lastAvail = 0;
            int usedIdx = 0;
            com.sun.management.ThreadMXBean mx =
                    (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();
            long tid = Thread.currentThread().threadId();
            for (int round = 0; round < 8; round++) {
                long alloc0 = mx.getThreadAllocatedBytes(tid);
                long t0 = System.nanoTime();
                long ops0 = stats.ops();
                long end = t0 + 1_000_000_000L;
                long now = t0;
                while (now < end) {
                    // Device: complete everything available, writing the status byte of each chain.
                    int availIdx = Short.toUnsignedInt(avail.get(JAVA_SHORT, 2));
                    while (lastAvail != availIdx) {
                        int head = Short.toUnsignedInt(avail.get(JAVA_SHORT, 4 + 2L * (lastAvail & (qsize - 1))));
                        int d = head;
                        while ((desc.get(JAVA_SHORT, 16L * d + 12) & 1) != 0) {
                            d = Short.toUnsignedInt(desc.get(JAVA_SHORT, 16L * d + 14));
                        }
                        all.set(JAVA_BYTE, desc.get(JAVA_LONG, 16L * d) - base, (byte) 0);
                        long e = 4 + 8L * (usedIdx & (qsize - 1));
                        used.set(JAVA_INT, e, head);
                        used.set(JAVA_INT, e + 4, 4097);
                        usedIdx = (usedIdx + 1) & 0xFFFF;
                        lastAvail = (lastAvail + 1) & 0xFFFF;
                    }
                    used.set(JAVA_SHORT, 2, (short) usedIdx);
                    // Front-end: one pass, as BenchRunner does it.
                    now = System.nanoTime();
                    load.now = now;
                    q.reapUsed(load);
                    q.kickIfNeeded();
                }
                long ops = stats.ops() - ops0;
                double secs = (System.nanoTime() - t0) / 1e9;
                double allocated = (double) (mx.getThreadAllocatedBytes(tid) - alloc0) / ops;
                System.out.printf("round %d: %.1f M requests/s (device + front-end in one thread), %.0f ns/request, "
                        + "%.3f bytes allocated/request%n", round, ops / secs / 1e6, secs * 1e9 / ops, allocated);
            }
            if (stats.errors > 0 || stats.mismatches > 0) {
                throw new AssertionError("errors " + stats.errors + " mismatches " + stats.mismatches);
            }
        }
    }
}

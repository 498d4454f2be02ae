package dev.vhostd.protocol.virtq;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

import dev.vhostd.protocol.testing.FakeDriverQueue;

import static dev.vhostd.protocol.virtq.ChainFuzzInput.INDIRECT_GPA;
import static dev.vhostd.protocol.virtq.ChainFuzzInput.REGION_SIZE;

/**
 * Writes the seed corpus of {@link ChainFuzzTest}: the same valid and malformed chains the unit tests
 * build, in {@link ChainFuzzInput} form. Run from the module directory:
 * {@code java -cp target/test-classes:target/classes dev.vhostd.protocol.virtq.ChainFuzzSeeds}
 * (the files are committed; rerun only when the input format changes).
 */
final class ChainFuzzSeeds {
    private static final int N = FakeDriverQueue.F_NEXT;
    private static final int W = FakeDriverQueue.F_WRITE;
    private static final int I = FakeDriverQueue.F_INDIRECT;
    private static final long BUF = 0x8000;

    private ChainFuzzSeeds() {}

    static Map<String, ChainFuzzInput> seeds() {
        Map<String, ChainFuzzInput> s = new LinkedHashMap<>();
        s.put("valid-single", one(3).desc(0, BUF, 512, 0, 0));
        s.put("valid-blk-request", one(4).desc(0, BUF, 16, N, 1).desc(1, BUF + 16, 4096, N | W, 2)
                .desc(2, BUF + 8192, 1, W, 0));
        s.put("valid-indirect", one(3).desc(0, INDIRECT_GPA, 48, I, 0)
                .indirect(0, BUF, 16, N, 1).indirect(1, BUF + 64, 512, N | W, 2).indirect(2, BUF + 1024, 1, W, 0));
        s.put("valid-direct-then-indirect", one(3).desc(0, BUF, 16, N, 5).desc(5, INDIRECT_GPA, 32, I, 0)
                .indirect(0, BUF + 64, 512, N | W, 1).indirect(1, BUF + 1024, 1, W, 0));
        s.put("valid-across-regions", one(2).desc(0, REGION_SIZE - 100, 200, W, 0));
        s.put("valid-zero-length", one(2).desc(0, BUF, 0, 0, 0));
        ChainFuzzInput many = new ChainFuzzInput();
        many.sizeLog = 3;
        many.nextAvail = 65534;
        many.availIdx = 2;
        for (int i = 0; i < 8; i++) {
            many.ring[i] = i;
            many.desc(i, BUF + 512L * i, 512, i % 2 == 0 ? 0 : W, 0);
        }
        s.put("valid-wrap-four", many);
        s.put("loop", one(3).desc(0, BUF, 16, N, 1).desc(1, BUF, 16, N, 0));
        s.put("self-loop", one(6).desc(0, BUF, 16, N, 0));
        s.put("next-out-of-range", one(3).desc(0, BUF, 16, N, 8));
        s.put("nested-indirect", one(3).desc(0, INDIRECT_GPA, 32, I, 0)
                .indirect(0, BUF, 16, N, 1).indirect(1, INDIRECT_GPA, 32, I, 0));
        s.put("indirect-with-next", one(3).desc(0, INDIRECT_GPA, 16, I | N, 1).indirect(0, BUF, 16, 0, 0));
        s.put("indirect-len-zero", one(3).desc(0, INDIRECT_GPA, 0, I, 0));
        s.put("indirect-len-17", one(3).desc(0, INDIRECT_GPA, 17, I, 0).indirect(0, BUF, 16, 0, 0));
        s.put("indirect-outside-memory", one(3).desc(0, 2 * REGION_SIZE - 16, 32, I, 0));
        s.put("indirect-next-beyond-table", one(3).desc(0, INDIRECT_GPA, 32, I, 0)
                .indirect(0, BUF, 16, N, 2).indirect(1, BUF, 16, 0, 0));
        s.put("indirect-loop", one(2).desc(0, INDIRECT_GPA, 32, I, 0)
                .indirect(0, BUF, 16, N, 1).indirect(1, BUF, 16, N, 0));
        s.put("indirect-over-size", one(1).desc(0, INDIRECT_GPA, 48, I, 0)
                .indirect(0, BUF, 16, N, 1).indirect(1, BUF, 16, N, 2).indirect(2, BUF, 16, 0, 0));
        s.put("readable-after-writable", one(3).desc(0, BUF, 16, W | N, 1).desc(1, BUF, 16, 0, 0));
        s.put("length-overflow", one(3).desc(0, BUF, 16, N, 1).desc(1, BUF, 0xFFFF_FFF0, 0, 0));
        s.put("buffer-outside-memory", one(3).desc(0, 2 * REGION_SIZE - 8, 16, 0, 0));
        s.put("buffer-wraps-address-space", one(3).desc(0, 0xFFFF_FFFF_FFFF_F000L, 0x2000, 0, 0));
        ChainFuzzInput head = one(3).desc(0, BUF, 16, 0, 0);
        head.ring[0] = 8;
        s.put("head-out-of-range", head);
        ChainFuzzInput ahead = one(3).desc(0, BUF, 16, 0, 0);
        ahead.availIdx = 9;
        s.put("avail-too-far-ahead", ahead);
        ChainFuzzInput aheadAfterEnable = one(3).desc(0, BUF, 16, 0, 0);
        aheadAfterEnable.availIdx = 1000;
        aheadAfterEnable.sizeLog |= 0x80;
        aheadAfterEnable.options = 1;
        s.put("avail-too-far-ahead-after-enable", aheadAfterEnable);
        ChainFuzzInput eventIdx = one(3).desc(0, BUF, 16, 0, 0);
        eventIdx.sizeLog |= 0x80;
        eventIdx.options = 1;
        s.put("valid-event-idx", eventIdx);
        return s;
    }

    /** A queue of 1 << sizeLog entries with one available chain at head 0. */
    private static ChainFuzzInput one(int sizeLog) {
        ChainFuzzInput in = new ChainFuzzInput();
        in.sizeLog = sizeLog;
        in.availIdx = 1;
        return in;
    }

    public static void main(String[] args) throws IOException {
        Path dir = Path.of(args.length > 0 ? args[0]
                : "src/test/resources/dev/vhostd/protocol/virtq/ChainFuzzTestInputs/walkChains");
        Files.createDirectories(dir);
        for (Map.Entry<String, ChainFuzzInput> e : seeds().entrySet()) {
            Files.write(dir.resolve("seed-" + e.getKey()), e.getValue().toBytes());
        }
        System.out.println("wrote " + seeds().size() + " seeds to " + dir);
    }
}

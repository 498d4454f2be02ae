package dev.vhostd.protocol.virtq;

import java.util.List;

import dev.vhostd.protocol.testing.FakeDriver;
import dev.vhostd.protocol.testing.FakeDriverQueue;

/**
 * Prints the device-side ring cost per request: pop of a 3-descriptor virtio-blk style chain, addUsed,
 * and one publishUsed per batch, with the driver's work (offering, reaping) outside the timed part.
 * Run: {@code java --enable-native-access=ALL-UNNAMED -cp target/test-classes:target/classes
 * dev.vhostd.protocol.virtq.SplitQueueBench [indirect]}
 */
final class SplitQueueBench {
    private SplitQueueBench() {}

    public static void main(String[] args) {
        boolean indirect = args.length > 0 && args[0].equals("indirect");
        int size = 256;
        int batch = indirect ? size : size / 3;
        try (FakeDriver d = new FakeDriver(4 * 1024 * 1024)) {
            FakeDriverQueue dq = d.addQueue(size);
            SplitQueue q = dq.deviceQueue(true);
            DescriptorChain c = new DescriptorChain(size);
            FakeDriver.Buffer hdr = d.buffer(16);
            FakeDriver.Buffer data = d.buffer(4096);
            FakeDriver.Buffer status = d.buffer(1);
            // Indirect tables are allocated once per slot and reused: the bump allocator never frees.
            int[] heads = new int[batch];
            for (int round = 0; round < 7; round++) {
                long ns = 0;
                long requests = 0;
                long notifies = 0;
                for (int iter = 0; iter < 2_000; iter++) {
                    for (int i = 0; i < batch; i++) {
                        heads[i] = indirect && round + iter > 0
                                ? reofferIndirect(dq, i)
                                : dq.addChain(List.of(hdr), List.of(data, status), indirect);
                    }
                    long t0 = System.nanoTime();
                    while (q.pop(c)) {
                        q.addUsed(c.head(), (int) c.writableBytes());
                        requests++;
                    }
                    if (q.publishUsed()) {
                        notifies++;
                    }
                    ns += System.nanoTime() - t0;
                    while (dq.pollUsed() != null) {
                        // reap
                    }
                }
                System.out.printf("%s round %d: %.1f ns per request (pop+addUsed, publish per %d), %d notifies%n",
                        indirect ? "indirect" : "direct", round, (double) ns / requests, batch, notifies);
            }
        }
    }

    /** Offers head {@code i} again: its descriptor still points at the indirect table written the first time. */
    private static int reofferIndirect(FakeDriverQueue dq, int i) {
        dq.offer(i);
        dq.publishAvail();
        return i;
    }
}

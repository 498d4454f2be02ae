package dev.vhostd.protocol.engine;

import java.lang.foreign.MemorySegment;
import java.util.concurrent.atomic.AtomicInteger;

import dev.vhostd.protocol.device.QueueHandler;
import dev.vhostd.protocol.device.VirtioDevice;
import dev.vhostd.protocol.memory.GuestMemory;
import dev.vhostd.protocol.virtq.DescriptorChain;
import dev.vhostd.protocol.virtq.InvalidChainException;
import dev.vhostd.protocol.virtq.SplitQueue;

/**
 * A trivial device for engine tests: each request's readable bytes are copied, each byte plus one,
 * into its writable buffers, and the used length is the number of bytes written.
 */
final class EchoDevice implements VirtioDevice {
    static final long FEATURE_ECHO = 1L << 5;
    final AtomicInteger completed = new AtomicInteger();
    final AtomicInteger invalid = new AtomicInteger();
    final byte[] config = {1, 2, 3, 4, 5, 6, 7, 8};
    /** The current session's way to announce config changes, as a real device keeps it. */
    volatile dev.vhostd.protocol.device.ConfigNotifier notifier;

    @Override
    public void sessionStarted(dev.vhostd.protocol.device.ConfigNotifier n) {
        notifier = n;
    }

    @Override
    public void sessionEnded(dev.vhostd.protocol.device.ConfigNotifier n) {
        if (notifier == n) {
            notifier = null;
        }
    }

    @Override
    public long deviceFeatures() {
        return FEATURE_ECHO;
    }

    @Override
    public int numQueues() {
        return 2;
    }

    @Override
    public int maxQueueSize() {
        return 256;
    }

    @Override
    public int configSize() {
        return config.length;
    }

    @Override
    public byte[] readConfig(int offset, int size) {
        return java.util.Arrays.copyOfRange(config, offset, offset + size);
    }

    @Override
    public void writeConfig(int offset, byte[] data) {
        throw dev.vhostd.protocol.wire.VhostUserException.rejected("echo config is read-only");
    }

    @Override
    public QueueHandler openQueue(int index, SplitQueue queue, GuestMemory memory, long features) {
        DescriptorChain chain = new DescriptorChain(queue.size());
        MemorySegment[] slices = new MemorySegment[8];
        return new QueueHandler() {
            @Override
            public int doWork() {
                int n = 0;
                while (true) {
                    try {
                        if (!queue.pop(chain)) {
                            return n;
                        }
                    } catch (InvalidChainException e) {
                        invalid.incrementAndGet();
                        queue.addUsed(e.head(), 0);
                        n++;
                        continue;
                    }
                    byte[] in = new byte[(int) chain.readableBytes()];
                    int at = 0;
                    for (int i = 0; i < chain.firstWritable(); i++) {
                        int k = memory.slices(chain.address(i), chain.length(i), slices, 0);
                        for (int s = 0; s < k; s++) {
                            MemorySegment.copy(slices[s], java.lang.foreign.ValueLayout.JAVA_BYTE, 0, in, at,
                                    (int) slices[s].byteSize());
                            at += (int) slices[s].byteSize();
                        }
                    }
                    int out = 0;
                    for (int i = chain.firstWritable(); i < chain.count() && out < in.length; i++) {
                        int k = memory.slices(chain.address(i), chain.length(i), slices, 0);
                        for (int s = 0; s < k && out < in.length; s++) {
                            for (long j = 0; j < slices[s].byteSize() && out < in.length; j++) {
                                slices[s].set(java.lang.foreign.ValueLayout.JAVA_BYTE, j, (byte) (in[out++] + 1));
                            }
                        }
                    }
                    queue.addUsed(chain.head(), out);
                    completed.incrementAndGet();
                    n++;
                }
            }

            @Override
            public int completionFd() {
                return -1;
            }

            @Override
            public int inFlight() {
                return 0;
            }

            @Override
            public void drain() {}

            @Override
            public void close() {}
        };
    }
}

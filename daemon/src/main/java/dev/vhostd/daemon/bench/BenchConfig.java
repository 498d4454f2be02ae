package dev.vhostd.daemon.bench;

import java.nio.file.Path;

/**
 * One bench run's settings, validated.
 *
 * @param rampSeconds    unmeasured warm-up at least this long
 * @param rampMaxSeconds if above rampSeconds, the warm-up goes on while throughput still rises, up to this
 * @param rangeBytes bytes of the disk to address from offset 0 (0: the whole disk)
 * @param pollMicros busy-poll the used rings this long before arming notifications and sleeping
 * @param backendPid process whose CPU time is charged to the back-end (0: the socket peer)
 */
public record BenchConfig(Path socket, int queues, int depth, int blockSize, RwMode rw, int readPercent,
        double seconds, double rampSeconds, double rampMaxSeconds, boolean eventIdx, boolean verify, long pollMicros, long rangeBytes,
        int queueSize, long backendPid) {
    public static final int MAX_QUEUE_SIZE = 1024;

    public BenchConfig {
        require(queues >= 1 && queues <= 64, "--queues must be 1..64, got " + queues);
        require(depth >= 1 && 3L * depth <= MAX_QUEUE_SIZE, "--depth must be 1.." + MAX_QUEUE_SIZE / 3
                + " (three descriptors per request in a ring of at most " + MAX_QUEUE_SIZE + "), got " + depth);
        require(blockSize >= 512 && blockSize % 512 == 0 && blockSize <= (16 << 20),
                "--bs must be a multiple of 512 up to 16M, got " + blockSize);
        require(readPercent >= 0 && readPercent <= 100, "--rwmixread must be 0..100, got " + readPercent);
        require(seconds > 0 && seconds <= 86_400, "--seconds must be in (0, 86400], got " + seconds);
        require(rampSeconds >= 0 && rampSeconds <= 3600, "--ramp must be in [0, 3600], got " + rampSeconds);
        require(rampMaxSeconds >= 0 && rampMaxSeconds <= 3600, "--ramp-max must be in [0, 3600], got " + rampMaxSeconds);
        require(pollMicros >= 0 && pollMicros <= 1_000_000, "--poll-us must be 0..1000000, got " + pollMicros);
        require(rangeBytes >= 0, "--size must not be negative");
        require(queueSize == 0 || (Integer.bitCount(queueSize) == 1 && queueSize >= 3 * depth
                && queueSize <= MAX_QUEUE_SIZE), "--queue-size must be a power of two between 3 x depth and "
                        + MAX_QUEUE_SIZE + ", got " + queueSize);
    }

    private static void require(boolean ok, String message) {
        if (!ok) {
            throw new IllegalArgumentException(message);
        }
    }

    /** The ring size to set up: as configured, else the smallest power of two of at least 128 holding depth x 3 descriptors. */
    public int effectiveQueueSize() {
        if (queueSize != 0) {
            return queueSize;
        }
        int n = 128;
        while (n < 3 * depth) {
            n <<= 1;
        }
        return n;
    }
}

package dev.vhostd.daemon.blk;

/** How the virtio-blk device is exposed: queues, ring size limit, serial and read-only. */
public record BlkOptions(int numQueues, int maxQueueSize, String serial, boolean readOnly) {
    /** Segments per request we accept (seg_max); requests are bounded so slots can be preallocated. */
    public static final int SEG_MAX = 126;
    /** Largest single segment (size_max): 4 MiB. */
    public static final int SIZE_MAX = 4 << 20;
    /** Largest discard or write-zeroes request: 1 GiB in sectors. */
    public static final long MAX_DWZ_SECTORS = (1L << 30) >>> VirtioBlk.SECTOR_SHIFT;

    public BlkOptions {
        if (numQueues < 1 || numQueues > 64) {
            throw new IllegalArgumentException("--queues must be between 1 and 64, got " + numQueues);
        }
        if (maxQueueSize < 4 || maxQueueSize > 32768 || Integer.bitCount(maxQueueSize) != 1) {
            throw new IllegalArgumentException("--queue-size must be a power of two from 4 to 32768, got "
                    + maxQueueSize);
        }
        if (serial == null) {
            serial = "";
        }
    }
}

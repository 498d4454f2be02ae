package dev.vhostd.daemon.blk;

/** How the virtio-blk device is exposed: queues, ring size limit, serial and read-only. */
public record BlkOptions(int numQueues, int maxQueueSize, String serial, boolean readOnly) {
    /** Segments per request we accept (seg_max); requests are bounded so slots can be preallocated. */
    public static final int SEG_MAX = 126;
    /** Largest single segment (size_max): 4 MiB. */
    public static final int SIZE_MAX = 4 << 20;
    /** Largest discard or write-zeroes request: 1 GiB in sectors. */
    public static final long MAX_DWZ_SECTORS = (1L << 30) >>> VirtioBlk.SECTOR_SHIFT;

    /**
     * The serial is the device's GET_ID answer: at most 20 bytes (virtio 1.2 5.2.6, VIRTIO_BLK_ID_BYTES),
     * printable ASCII so it reads back as given. Longer or other input is refused, never cut short.
     */
    public static void checkSerial(String serial) {
        for (int i = 0; i < serial.length(); i++) {
            char c = serial.charAt(i);
            if (c < 0x20 || c > 0x7e) {
                throw new IllegalArgumentException("--serial \"" + serial + "\" has a character that is not printable"
                        + " ASCII at position " + i + "; the guest reads the serial as ASCII bytes");
            }
        }
        if (serial.length() > VirtioBlk.ID_BYTES) {
            throw new IllegalArgumentException("--serial \"" + serial + "\" is " + serial.length() + " bytes; a"
                    + " virtio-blk serial has at most " + VirtioBlk.ID_BYTES + " (it would be cut short)");
        }
    }

    public BlkOptions {
        if (numQueues < 1 || numQueues > 64) {
            throw new IllegalArgumentException("--queues must be between 1 and 64, got " + numQueues);
        }
        if (maxQueueSize < 4 || maxQueueSize > 32768 || Integer.bitCount(maxQueueSize) != 1) {
            throw new IllegalArgumentException("--queue-size must be a power of two from 4 to 32768 (the largest split ring, virtio 1.2 2.7),"
                    + " got "
                    + maxQueueSize);
        }
        if (serial == null) {
            serial = "";
        }
        checkSerial(serial);
    }
}

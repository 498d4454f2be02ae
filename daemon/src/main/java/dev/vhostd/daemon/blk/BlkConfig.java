package dev.vhostd.daemon.blk;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * struct virtio_blk_config (virtio 1.x 5.2.4), little-endian, 60 bytes up to write_zeroes_may_unmap.
 * Only the writeback byte (CONFIG_WCE) may be written by the driver.
 */
final class BlkConfig {
    static final int SIZE = 60;
    static final int WRITEBACK_OFFSET = 32;

    private final byte[] bytes = new byte[SIZE];

    BlkConfig(long capacityBytes, int blockSize, int sizeMax, int segMax, int numQueues, boolean writeback,
            long maxDiscardSectors, long maxWriteZeroesSectors, boolean writeZeroesMayUnmap, long optimalIoBlocks) {
        ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(0, capacityBytes >>> VirtioBlk.SECTOR_SHIFT);
        b.putInt(8, sizeMax);
        b.putInt(12, segMax);
        // geometry (16..19) stays zero: GEOMETRY is not offered.
        b.putInt(20, blockSize);
        // topology: physical_block_exp, alignment_offset, min_io_size (in logical blocks), opt_io_size
        b.put(24, (byte) 0);
        b.put(25, (byte) 0);
        b.putShort(26, (short) 1);
        b.putInt(28, (int) Math.min(Math.max(optimalIoBlocks, 0), 0xFFFF_FFFFL)); // opt_io_size, in logical blocks
        b.put(WRITEBACK_OFFSET, (byte) (writeback ? 1 : 0));
        this.writeback = writeback;
        b.putShort(34, (short) numQueues);
        b.putInt(36, (int) Math.min(maxDiscardSectors, 0xFFFF_FFFFL));
        b.putInt(40, 1); // max_discard_seg
        b.putInt(44, blockSize >>> VirtioBlk.SECTOR_SHIFT); // discard_sector_alignment
        b.putInt(48, (int) Math.min(maxWriteZeroesSectors, 0xFFFF_FFFFL));
        b.putInt(52, 1); // max_write_zeroes_seg
        b.put(56, (byte) (writeZeroesMayUnmap ? 1 : 0));
    }

    synchronized byte[] read(int offset, int size) {
        byte[] out = new byte[size];
        System.arraycopy(bytes, offset, out, 0, size);
        return out;
    }

    /** Read by the pollers once per batch: a volatile mirror of the writeback byte, no lock. */
    private volatile boolean writeback;

    synchronized void setWriteback(boolean on) {
        bytes[WRITEBACK_OFFSET] = (byte) (on ? 1 : 0);
        writeback = on;
    }

    boolean writeback() {
        return writeback;
    }
}

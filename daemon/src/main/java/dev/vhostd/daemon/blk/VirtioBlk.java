package dev.vhostd.daemon.blk;

/** virtio-blk constants (virtio 1.x section 5.2). */
final class VirtioBlk {
    // Feature bits (5.2.3)
    static final int F_SIZE_MAX = 1;
    static final int F_SEG_MAX = 2;
    static final int F_RO = 5;
    static final int F_BLK_SIZE = 6;
    static final int F_FLUSH = 9;
    static final int F_TOPOLOGY = 10;
    static final int F_CONFIG_WCE = 11;
    static final int F_MQ = 12;
    static final int F_DISCARD = 13;
    static final int F_WRITE_ZEROES = 14;

    // Request types (5.2.6)
    static final int T_IN = 0;
    static final int T_OUT = 1;
    static final int T_FLUSH = 4;
    static final int T_GET_ID = 8;
    static final int T_DISCARD = 11;
    static final int T_WRITE_ZEROES = 13;

    // Status values
    static final byte S_OK = 0;
    static final byte S_IOERR = 1;
    static final byte S_UNSUPP = 2;

    /** virtio-blk sectors are always 512 bytes, whatever the logical block size. */
    static final int SECTOR_SHIFT = 9;
    /** struct virtio_blk_outhdr: le32 type, le32 reserved, le64 sector. */
    static final int HEADER_SIZE = 16;
    /** struct virtio_blk_discard_write_zeroes: le64 sector, le32 num_sectors, le32 flags. */
    static final int DWZ_SEGMENT_SIZE = 16;
    static final int DWZ_FLAG_UNMAP = 1;
    /** GET_ID answers with at most 20 bytes of serial. */
    static final int ID_BYTES = 20;

    private VirtioBlk() {}
}

package dev.vhostd.protocol.frontend;

/** The virtio-blk facts a driver needs (virtio 1.x section 5.2): feature bits, request layout, config offsets. */
public final class VirtioBlkSpec {
    // 5.2.3 feature bits
    public static final int F_SIZE_MAX = 1;
    public static final int F_SEG_MAX = 2;
    public static final int F_RO = 5;
    public static final int F_BLK_SIZE = 6;
    public static final int F_FLUSH = 9;
    public static final int F_TOPOLOGY = 10;
    public static final int F_MQ = 12;
    public static final int F_CONFIG_WCE = 11;
    /** struct virtio_blk_config.writeback (CONFIG_WCE): 1 writeback, 0 write-through. */
    public static final int CONFIG_WRITEBACK = 32;

    // 5.2.6 request: struct virtio_blk_req { le32 type; le32 reserved; le64 sector; data; u8 status; }
    public static final int HEADER_SIZE = 16;
    public static final int T_IN = 0;
    public static final int T_OUT = 1;
    public static final int T_FLUSH = 4;
    public static final int T_GET_ID = 8;
    public static final int S_OK = 0;
    public static final int S_IOERR = 1;
    public static final int S_UNSUPP = 2;
    /** Sector numbers are always in 512-byte units, whatever the logical block size. */
    public static final int SECTOR_SIZE = 512;

    // 5.2.4 struct virtio_blk_config offsets
    public static final int CONFIG_CAPACITY = 0;
    public static final int CONFIG_SEG_MAX = 12;
    public static final int CONFIG_BLK_SIZE = 20;
    public static final int CONFIG_NUM_QUEUES = 34;
    /** Bytes through num_queues: the part of the config space this front-end reads. */
    public static final int CONFIG_READ_SIZE = 36;

    private VirtioBlkSpec() {}
}

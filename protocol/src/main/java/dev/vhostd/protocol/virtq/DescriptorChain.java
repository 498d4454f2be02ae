package dev.vhostd.protocol.virtq;

/**
 * One popped descriptor chain, flattened: indirect tables are already resolved, so entry {@code i}
 * is the i-th buffer in chain order. A reusable holder: {@link SplitQueue#pop} overwrites it, and its
 * arrays are allocated once for the queue size (a valid chain never has more buffers than that).
 * Addresses are guest-physical; translate them with {@code GuestMemory.slices}.
 */
public final class DescriptorChain {
    private final long[] addresses;
    private final int[] lengths;
    private final boolean[] writable;
    private int head = -1;
    private int count;
    private int firstWritable;
    private long readableBytes;
    private long writableBytes;

    /** A holder for chains of queues up to {@code capacity} entries. */
    public DescriptorChain(int capacity) {
        if (capacity < 1 || capacity > SplitQueue.MAX_SIZE) {
            throw new IllegalArgumentException("capacity must be 1.." + SplitQueue.MAX_SIZE + ", got " + capacity);
        }
        addresses = new long[capacity];
        lengths = new int[capacity];
        writable = new boolean[capacity];
    }

    public int capacity() {
        return addresses.length;
    }

    /** The head descriptor index, the id to complete in the used ring. */
    public int head() {
        return head;
    }

    /** Number of buffers in the chain. */
    public int count() {
        return count;
    }

    /** Guest-physical address of buffer {@code i}. */
    public long address(int i) {
        checkIndex(i);
        return addresses[i];
    }

    /** Length of buffer {@code i} in bytes, as an unsigned 32-bit value. */
    public long length(int i) {
        checkIndex(i);
        return Integer.toUnsignedLong(lengths[i]);
    }

    /** True if buffer {@code i} is device-writable. */
    public boolean writable(int i) {
        checkIndex(i);
        return writable[i];
    }

    /** Index of the first device-writable buffer, or {@link #count()} if there is none. */
    public int firstWritable() {
        return firstWritable;
    }

    /** Sum of the device-readable buffer lengths. */
    public long readableBytes() {
        return readableBytes;
    }

    /** Sum of the device-writable buffer lengths. */
    public long writableBytes() {
        return writableBytes;
    }

    private void checkIndex(int i) {
        if (i < 0 || i >= count) {
            throw new IndexOutOfBoundsException("buffer " + i + " of a chain with " + count);
        }
    }

    void reset(int head) {
        this.head = head;
        count = 0;
        firstWritable = 0;
        readableBytes = 0;
        writableBytes = 0;
    }

    /** Appends a buffer; the caller has checked count < capacity and the write-after-read order. */
    void add(long address, int length, boolean isWritable) {
        addresses[count] = address;
        lengths[count] = length;
        writable[count] = isWritable;
        count++;
        if (isWritable) {
            writableBytes += Integer.toUnsignedLong(length);
        } else {
            readableBytes += Integer.toUnsignedLong(length);
            firstWritable = count;
        }
    }

    @Override
    public String toString() {
        return "DescriptorChain[head " + head + ", " + count + " buffers, " + readableBytes + " readable, "
                + writableBytes + " writable]";
    }
}

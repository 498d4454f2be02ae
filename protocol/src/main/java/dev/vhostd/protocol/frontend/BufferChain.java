package dev.vhostd.protocol.frontend;

/**
 * A reusable description of one request's buffers, in order: the device-readable ones first, then
 * the device-writable ones (virtio 1.x 2.7.4.2: no readable descriptor after a writable one). Fill it,
 * hand it to {@link DriverQueue#add}, reuse it: it allocates only when created.
 */
public final class BufferChain {
    private final long[] addresses;
    private final int[] lengths;
    private final boolean[] writable;
    private int count;

    public BufferChain(int maxBuffers) {
        if (maxBuffers < 1) {
            throw new IllegalArgumentException("a chain holds at least one buffer");
        }
        addresses = new long[maxBuffers];
        lengths = new int[maxBuffers];
        writable = new boolean[maxBuffers];
    }

    public BufferChain clear() {
        count = 0;
        return this;
    }

    /** Appends a buffer the device reads (driver to device). */
    public BufferChain readable(long guestAddress, int length) {
        if (count > 0 && writable[count - 1]) {
            throw new IllegalStateException("a device-readable buffer may not follow a device-writable one");
        }
        return append(guestAddress, length, false);
    }

    /** Appends a buffer the device writes (device to driver). */
    public BufferChain writable(long guestAddress, int length) {
        return append(guestAddress, length, true);
    }

    private BufferChain append(long guestAddress, int length, boolean deviceWrites) {
        if (count == addresses.length) {
            throw new IllegalStateException("chain is full at " + count + " buffers");
        }
        if (length <= 0) {
            throw new IllegalArgumentException("buffer length must be positive, got " + length);
        }
        addresses[count] = guestAddress;
        lengths[count] = length;
        writable[count] = deviceWrites;
        count++;
        return this;
    }

    public int size() {
        return count;
    }

    long address(int i) {
        return addresses[i];
    }

    int length(int i) {
        return lengths[i];
    }

    boolean isWritable(int i) {
        return writable[i];
    }
}

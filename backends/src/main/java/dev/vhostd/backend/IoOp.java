package dev.vhostd.backend;

import java.lang.foreign.MemorySegment;

/**
 * One storage operation, reused from a pool (no allocation per request). The caller fills it with
 * a validated offset and the guest buffers, submits it, and reads {@link #result()} on completion:
 * 0 for success or a negative errno.
 */
public final class IoOp {
    public enum Type { READ, WRITE, FLUSH, DISCARD, WRITE_ZEROES }

    private final MemorySegment[] segments;
    private Type type;
    private long offset;
    private long length;
    private int segmentCount;
    private boolean unmap;
    private int result;
    /** Owner-defined identity, such as the request slot; the backend does not touch it. */
    private Object attachment;
    private long tag;
    private boolean segmentsCannotFault;

    public IoOp(int maxSegments) {
        this.segments = new MemorySegment[maxSegments];
    }

    /** Prepares a read or write of the given segments at {@code offset}; the length is their sum. */
    public IoOp setData(Type type, long offset) {
        this.type = type;
        this.offset = offset;
        this.length = 0;
        this.segmentCount = 0;
        this.unmap = false;
        this.result = 0;
        return this;
    }

    /** Prepares a flush, discard or write-zeroes of {@code length} bytes at {@code offset}. */
    public IoOp setRange(Type type, long offset, long length, boolean unmap) {
        this.type = type;
        this.offset = offset;
        this.length = length;
        this.segmentCount = 0;
        this.unmap = unmap;
        this.result = 0;
        return this;
    }

    public void addSegment(MemorySegment segment) {
        if (segmentCount == segments.length) {
            throw new IndexOutOfBoundsException("more than " + segments.length + " segments");
        }
        segments[segmentCount++] = segment;
        length += segment.byteSize();
    }

    public Type type() { return type; }
    public long offset() { return offset; }
    public long length() { return length; }
    public int segmentCount() { return segmentCount; }
    public MemorySegment segment(int i) {
        if (i < 0 || i >= segmentCount) {
            throw new IndexOutOfBoundsException(i);
        }
        return segments[i];
    }
    public int maxSegments() { return segments.length; }
    public boolean unmap() { return unmap; }
    public int result() { return result; }
    public void complete(int result) { this.result = result; }
    public Object attachment() { return attachment; }
    public void attach(Object attachment) { this.attachment = attachment; }
    public long tag() { return tag; }
    public void tag(long tag) { this.tag = tag; }

    /**
     * True if the owner guarantees that accessing the segments cannot fault (their files are sealed
     * against shrinking). Only then may a backend touch them with native code such as memset: a
     * fault inside a native call kills the JVM, whereas one in a Java access becomes an
     * InternalError the poller survives. Kernel calls (preadv, io_uring) are always fine: they
     * return EFAULT.
     */
    public boolean segmentsCannotFault() { return segmentsCannotFault; }
    public void segmentsCannotFault(boolean cannotFault) { this.segmentsCannotFault = cannotFault; }

    /** Drops references to guest memory once the op has completed. */
    public void clearSegments() {
        for (int i = 0; i < segmentCount; i++) {
            segments[i] = null;
        }
        segmentCount = 0;
    }
}

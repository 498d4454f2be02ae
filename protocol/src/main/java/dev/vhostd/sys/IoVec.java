package dev.vhostd.sys;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * A reusable array of struct iovec for preadv/pwritev. Entries are set only from live native
 * segments, so the kernel never sees an address we were not given.
 */
public final class IoVec {
    static final long IOVEC_SIZE = 16;

    private final MemorySegment array;
    private final int capacity;
    private int count;

    public IoVec(Arena arena, int capacity) {
        this.capacity = capacity;
        this.array = arena.allocate(IOVEC_SIZE * capacity, 8);
    }

    public void clear() {
        count = 0;
    }

    public int count() {
        return count;
    }

    public int capacity() {
        return capacity;
    }

    /** Appends the whole of {@code segment}. */
    public void add(MemorySegment segment) {
        if (count == capacity) {
            throw new IndexOutOfBoundsException("iovec full at " + capacity + " entries");
        }
        long base = count * IOVEC_SIZE;
        array.set(JAVA_LONG, base, Libc.addressOf(segment));
        array.set(JAVA_LONG, base + 8, segment.byteSize());
        count++;
    }

    public MemorySegment segment() {
        return array;
    }

    public long preadv(int fd, long offset) {
        return Libc.preadv(fd, array, count, offset);
    }

    public long pwritev(int fd, long offset) {
        return Libc.pwritev(fd, array, count, offset);
    }

    /** preadv2/pwritev2 with {@code flags}: bytes moved, or a negative errno. */
    public long transfer2(boolean write, int fd, long offset, int flags) {
        return Libc.preadwritev2(write, fd, array, count, offset, flags);
    }
}

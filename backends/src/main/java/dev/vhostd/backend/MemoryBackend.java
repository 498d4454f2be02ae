package dev.vhostd.backend;

import dev.vhostd.sys.Errno;
import dev.vhostd.sys.ErrnoException;
import dev.vhostd.sys.Libc;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * A RAM disk in anonymous memory mapped with MAP_NORESERVE: a 1 GiB disk costs memory only for
 * the pages written. Discard and write-zeroes with unmap hand whole pages back (MADV_DONTNEED,
 * after which they read as zeroes). Data is lost when the daemon stops.
 */
final class MemoryBackend implements BlockBackend {
    private static final long PAGE = 4096;

    /** Owns the mapping: closing it unmaps the disk. */
    private final Arena arena;
    private final MemorySegment disk;
    private final long capacity;
    private final int blockSize;
    private final boolean readOnly;
    private final String description;

    private boolean closed;

    private MemoryBackend(Arena arena, MemorySegment disk, long capacity, int blockSize, boolean readOnly) {
        this.arena = arena;
        this.disk = disk;
        this.capacity = capacity;
        this.blockSize = blockSize;
        this.readOnly = readOnly;
        this.description = "memory:" + Sizes.format(capacity) + (readOnly ? " (read-only)" : "");
    }

    static MemoryBackend open(long capacity, int blockSize, boolean readOnly) {
        Arena arena = Arena.ofShared();
        MemorySegment disk;
        try {
            disk = Libc.mmap(arena, capacity, Libc.PROT_READ | Libc.PROT_WRITE,
                    Libc.MAP_PRIVATE | Libc.MAP_ANONYMOUS | Libc.MAP_NORESERVE, -1, 0);
        } catch (ErrnoException e) {
            arena.close();
            throw new BackendOpenException("cannot reserve " + Sizes.format(capacity) + " of memory for memory:"
                    + Sizes.format(capacity) + " (" + e.getMessage() + "); choose a smaller size", e);
        }
        return new MemoryBackend(arena, disk, capacity, blockSize, readOnly);
    }

    private int execute(IoOp op) {
        try {
            return switch (op.type()) {
                case READ -> copy(op, true);
                case WRITE -> copy(op, false);
                case FLUSH -> 0;
                case DISCARD -> zero(op.offset(), op.length(), true);
                case WRITE_ZEROES -> zero(op.offset(), op.length(), op.unmap());
            };
        } catch (IllegalStateException | IndexOutOfBoundsException | UnsupportedOperationException e) {
            // A guest segment that is no longer mapped, or a read-only one.
            return -Errno.EFAULT;
        }
    }

    private int copy(IoOp op, boolean read) {
        long pos = op.offset();
        for (int i = 0, n = op.segmentCount(); i < n; i++) {
            MemorySegment s = op.segment(i);
            long len = s.byteSize();
            if (read) {
                MemorySegment.copy(disk, pos, s, 0, len);
            } else {
                MemorySegment.copy(s, 0, disk, pos, len);
            }
            pos += len;
        }
        return 0;
    }

    private int zero(long offset, long length, boolean release) {
        long end = offset + length;
        if (release) {
            long first = (offset + PAGE - 1) & -PAGE;
            long last = end & -PAGE;
            if (first < last) {
                try {
                    Libc.madvise(disk.asSlice(first, last - first), Libc.MADV_DONTNEED);
                    disk.asSlice(offset, first - offset).fill((byte) 0);
                    disk.asSlice(last, end - last).fill((byte) 0);
                    return 0;
                } catch (ErrnoException e) {
                    // A kernel with larger pages refuses 4 KiB alignment: zero by hand below.
                }
            }
        }
        disk.asSlice(offset, length).fill((byte) 0);
        return 0;
    }

    @Override public long capacity() { return capacity; }
    @Override public int blockSize() { return blockSize; }
    @Override public boolean readOnly() { return readOnly; }
    @Override public boolean supportsDiscard() { return !readOnly; }
    @Override public boolean discardZeroes() { return true; }
    @Override public boolean supportsWriteZeroes() { return !readOnly; }
    @Override public boolean hasVolatileCache() { return false; }
    @Override public String describe() { return description; }

    /** The disk is one mapping made at start, which pollers address directly: it cannot move or grow. */
    @Override
    public long resize(long newSize) {
        if (newSize == 0 || newSize == capacity) {
            return capacity;
        }
        if (newSize < capacity || newSize % blockSize != 0) {
            throw new IllegalArgumentException("size " + newSize + " refused for " + description
                    + ": shrinking loses data and the size must be a multiple of " + blockSize);
        }
        throw new UnsupportedOperationException(description + " cannot be resized: its memory is mapped once when"
                + " it opens. For a RAM disk that can grow, serve a file: on tmpfs (/dev/shm)");
    }

    @Override
    public BackendQueue openQueue() {
        return new SyncQueue(this, this::execute);
    }

    @Override
    public synchronized void close() {
        if (!closed) {
            closed = true;
            arena.close();
        }
    }
}

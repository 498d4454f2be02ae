package dev.vhostd.protocol.frontend;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import dev.vhostd.sys.Libc;
import dev.vhostd.sys.MemFd;
import dev.vhostd.sys.OwnedFd;

/**
 * "Guest" memory the front-end shares with the back-end: one memfd mapped MAP_SHARED, presented
 * as one memory-table region at guest-physical {@code guestBase}, with the mapping's address as its
 * user address (as QEMU does). Rings and buffers are carved out with a bump allocator at setup time;
 * nothing is ever freed individually.
 */
public final class GuestRam implements AutoCloseable {
    /** Default guest-physical base: above 4 GiB, so a back-end that confuses user and guest addresses fails loudly. */
    public static final long DEFAULT_GUEST_BASE = 0x1_0000_0000L;
    private static final long PAGE = 4096;

    private final OwnedFd fd;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment memory;
    private final long guestBase;
    private long next;

    public GuestRam(long size) {
        this(size, DEFAULT_GUEST_BASE);
    }

    public GuestRam(long size, long guestBase) {
        this(size, guestBase, true);
    }

    /**
     * @param sealed seal the memfd's size (F_SEAL_SHRINK, F_SEAL_GROW), as QEMU's memory-backend-memfd
     *        does by default; false leaves it truncatable, like a memory-backend-file
     */
    public GuestRam(long size, long guestBase, boolean sealed) {
        if (size <= 0 || size % PAGE != 0) {
            throw new IllegalArgumentException("guest RAM size must be a positive multiple of 4096, got " + size);
        }
        if (guestBase < 0 || guestBase % PAGE != 0) {
            throw new IllegalArgumentException("guest base must be page aligned and non-negative, got " + guestBase);
        }
        Math.addExact(guestBase, size);
        this.guestBase = guestBase;
        this.fd = new OwnedFd(sealed ? MemFd.createSealed("vhostd-frontend-ram", size)
                : MemFd.create("vhostd-frontend-ram", size));
        try {
            this.memory = Libc.mmap(arena, size, Libc.PROT_READ | Libc.PROT_WRITE, Libc.MAP_SHARED, fd.fd(), 0);
        } catch (RuntimeException e) {
            fd.close();
            arena.close();
            throw e;
        }
    }

    /** Bytes still free for {@link #allocate}. */
    public long remaining() {
        return memory.byteSize() - next;
    }

    /** Carves {@code size} bytes aligned to {@code align} (a power of two); they start zeroed. */
    public GuestBuffer allocate(long size, long align) {
        if (size <= 0 || align <= 0 || Long.bitCount(align) != 1) {
            throw new IllegalArgumentException("allocation of " + size + " bytes aligned to " + align);
        }
        long start = Math.addExact(next, align - 1) & -align;
        long end = Math.addExact(start, size);
        if (end > memory.byteSize()) {
            throw new IllegalStateException("guest RAM of " + memory.byteSize() + " bytes is exhausted: " + size
                    + " more bytes needed at " + start + "; size the RAM for queues x depth x block size");
        }
        next = end;
        return new GuestBuffer(guestBase + start, memory.asSlice(start, size));
    }

    /** The memory-table entry for this RAM. */
    public MemoryRegion region() {
        return new MemoryRegion(guestBase, memory.byteSize(), memory.address(), 0);
    }

    /** The memfd to pass with SET_MEM_TABLE (owned by this object). */
    public int fd() {
        return fd.fd();
    }

    /** The bytes at guest-physical {@code gpa .. gpa+length}, which must lie inside this RAM. */
    public MemorySegment slice(long gpa, long length) {
        long off = gpa - guestBase;
        if (off < 0 || length < 0 || off > memory.byteSize() || length > memory.byteSize() - off) {
            throw new IndexOutOfBoundsException("guest range 0x" + Long.toHexString(gpa) + "+" + length
                    + " is outside guest RAM");
        }
        return memory.asSlice(off, length);
    }

    /** The user address the back-end will see for {@code gpa} in ring addresses. */
    public long userAddress(long gpa) {
        long off = gpa - guestBase;
        if (off < 0 || off >= memory.byteSize()) {
            throw new IllegalArgumentException("guest address 0x" + Long.toHexString(gpa) + " is outside guest RAM");
        }
        return memory.address() + off;
    }

    /** Unmaps the RAM and closes the memfd; buffers from {@link #allocate} become inaccessible. */
    @Override
    public void close() {
        arena.close();
        fd.close();
    }
}

package dev.vhostd.protocol.testing;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

import dev.vhostd.protocol.memory.GuestMemory;
import dev.vhostd.protocol.memory.GuestRegion;
import dev.vhostd.protocol.wire.Message;
import dev.vhostd.sys.Libc;
import dev.vhostd.sys.MemFd;
import dev.vhostd.sys.OwnedFd;

/**
 * An in-process stand-in for a guest driver (like rust-vmm virtio-queue's MockSplitQueue): guest RAM
 * in one memfd per region, regions adjacent in guest-physical space starting at 0, a bump allocator,
 * and {@link FakeDriverQueue}s that build descriptor chains the way a virtio driver does (plus raw
 * writers for malformed ones).
 *
 * <p>User addresses: a fake front-end would see guest address {@code gpa} at {@code USER_BASE + gpa};
 * {@link #memoryRegions()} describes the regions that way, so SET_MEM_TABLE and SET_VRING_ADDR built
 * from this driver are consistent with each other.
 */
public final class FakeDriver implements AutoCloseable {
    public static final long USER_BASE = 0x7f12_0000_0000L;
    public static final long PAGE = 4096;

    static final ValueLayout.OfLong LE64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfInt LE32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfShort LE16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final Arena arena = Arena.ofShared();
    private final int[] fds;
    private final List<GuestRegion> regions = new ArrayList<>();
    private final GuestMemory memory;
    private final long totalBytes;
    private final List<FakeDriverQueue> queues = new ArrayList<>();
    private long next;
    private boolean closed;

    /** Guest RAM made of adjacent regions of the given sizes (multiples of 4096), the first at gpa 0. */
    public FakeDriver(long... regionSizes) {
        if (regionSizes.length == 0) {
            throw new IllegalArgumentException("at least one region");
        }
        fds = new int[regionSizes.length];
        java.util.Arrays.fill(fds, -1);
        long gpa = 0;
        try {
            for (int i = 0; i < regionSizes.length; i++) {
                long size = regionSizes[i];
                if (size <= 0 || size % PAGE != 0) {
                    throw new IllegalArgumentException("region size " + size + " is not a positive multiple of 4096");
                }
                fds[i] = MemFd.create("fake-guest-ram-" + i, size);
                MemorySegment map = Libc.mmap(arena, size, Libc.PROT_READ | Libc.PROT_WRITE, Libc.MAP_SHARED, fds[i], 0);
                regions.add(new GuestRegion(gpa, size, USER_BASE + gpa, map));
                gpa += size;
            }
        } catch (RuntimeException e) {
            close();
            throw e;
        }
        totalBytes = gpa;
        memory = GuestMemory.of(regions);
    }

    /** The guest's memory as the device sees it (the same mappings the driver writes through). */
    public GuestMemory memory() {
        return memory;
    }

    public long totalBytes() {
        return totalBytes;
    }

    public int regionCount() {
        return fds.length;
    }

    /** The memfd of region {@code i}, still owned by this driver. */
    public int fd(int i) {
        return fds[i];
    }

    /** A close-on-exec duplicate of region {@code i}'s memfd, owned by the caller (e.g. a MemoryTable). */
    public OwnedFd dupFd(int i) {
        return new OwnedFd(Libc.dupCloexec(fds[i]));
    }

    /** The regions as SET_MEM_TABLE describes them: user address USER_BASE + gpa, mmap offset 0. */
    public List<Message.MemoryRegion> memoryRegions() {
        List<Message.MemoryRegion> out = new ArrayList<>();
        for (GuestRegion r : regions) {
            out.add(new Message.MemoryRegion(r.guestPhysAddr(), r.size(), r.userAddr(), 0));
        }
        return out;
    }

    /** The front-end virtual address at which it sees guest address {@code gpa}. */
    public static long userAddr(long gpa) {
        return USER_BASE + gpa;
    }

    /**
     * Allocates {@code bytes} of guest RAM aligned to {@code align} (a power of two). With
     * {@code mayCrossRegions} false the allocation is kept inside one region (rings must be).
     */
    public long alloc(long bytes, long align, boolean mayCrossRegions) {
        long at = (next + align - 1) & -align;
        if (!mayCrossRegions) {
            for (GuestRegion r : regions) {
                if (r.containsGuest(at) && at + bytes > r.guestPhysEnd()) {
                    at = r.guestPhysEnd();
                    break;
                }
            }
        }
        if (at + bytes > totalBytes) {
            throw new IllegalStateException("fake guest RAM exhausted: " + bytes + " bytes at " + at);
        }
        next = at + bytes;
        return at;
    }

    /** A zeroed buffer in one region, 8-byte aligned. */
    public Buffer buffer(int length) {
        long gpa = alloc(Math.max(length, 1), 8, false);
        return new Buffer(gpa, length);
    }

    /**
     * A buffer that straddles the boundary between region {@code region} and the next one, with
     * {@code before} bytes in the first region. Moves the allocator past it.
     */
    public Buffer bufferAcrossBoundary(int region, int before, int length) {
        long end = regions.get(region).guestPhysEnd();
        if (region + 1 >= regions.size() || next > end - before) {
            throw new IllegalStateException("cannot place a buffer across the end of region " + region);
        }
        next = Math.max(next, end - before + length);
        return new Buffer(end - before, length);
    }

    /** A buffer at guest address {@code gpa} (may be unmapped: for negative tests). */
    public static Buffer bufferAt(long gpa, int length) {
        return new Buffer(gpa, length);
    }

    /** Lays out the rings of a new queue of {@code size} entries (page aligned, each inside one region). */
    public FakeDriverQueue addQueue(int size) {
        long desc = alloc(16L * size, PAGE, false);
        long avail = alloc(6 + 2L * size, PAGE, false);
        long used = alloc(6 + 8L * size, PAGE, false);
        FakeDriverQueue q = new FakeDriverQueue(this, queues.size(), size, desc, avail, used);
        queues.add(q);
        return q;
    }

    public FakeDriverQueue queue(int index) {
        return queues.get(index);
    }

    /** Guest bytes as one segment; must be inside one region. */
    public MemorySegment segment(long gpa, long length) {
        return memory.slice(gpa, length);
    }

    public void write(long gpa, byte[] data) {
        MemorySegment[] parts = new MemorySegment[regions.size()];
        int n = memory.slices(gpa, data.length, parts, 0);
        int done = 0;
        for (int i = 0; i < n; i++) {
            MemorySegment.copy(data, done, parts[i], ValueLayout.JAVA_BYTE, 0, (int) parts[i].byteSize());
            done += (int) parts[i].byteSize();
        }
    }

    public byte[] read(long gpa, int length) {
        byte[] out = new byte[length];
        MemorySegment[] parts = new MemorySegment[regions.size()];
        int n = memory.slices(gpa, length, parts, 0);
        int done = 0;
        for (int i = 0; i < n; i++) {
            MemorySegment.copy(parts[i], ValueLayout.JAVA_BYTE, 0, out, done, (int) parts[i].byteSize());
            done += (int) parts[i].byteSize();
        }
        return out;
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        arena.close();
        for (int i = 0; i < fds.length; i++) {
            if (fds[i] >= 0) {
                Libc.close(fds[i]);
                fds[i] = -1;
            }
        }
    }

    /** A guest buffer: guest-physical address and length. */
    public record Buffer(long gpa, int length) {}
}

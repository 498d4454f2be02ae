package dev.vhostd.protocol.memory;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import java.util.function.LongConsumer;

import dev.vhostd.sys.Libc;
import dev.vhostd.sys.OwnedFd;

import static dev.vhostd.protocol.memory.GuestMemoryException.hex;

/**
 * The front-end's dirty-page bitmap for live migration (vhost-user.rst, "Migration"): one bit per
 * 4 KiB guest page, {@code log[page / 8] |= 1 << (page % 8)}, in memory the front-end shares through
 * VHOST_USER_SET_LOG_BASE (protocol feature LOG_SHMFD). While the front-end migrates it atomically
 * takes and clears the bits and copies those pages again; a page vhostd writes and does not mark is
 * stale on the destination.
 *
 * <p>An immutable value once mapped: the engine publishes a new one to the pollers and unmaps the old
 * one only after every poller has passed a batch boundary with the new one. {@link #mark} may run on
 * several pollers at once (atomic OR on 64-bit words) while the front-end clears bits.
 *
 * <p>Every mark comes <i>after</i> the write it covers: if the front-end takes the bit between the two,
 * the page copied could miss the write and nothing would send it again.
 */
public final class DirtyLog implements AutoCloseable {
    /** VHOST_LOG_PAGE: each bit covers 4 KiB of guest-physical address space. */
    public static final int PAGE_SHIFT = 12;
    public static final long PAGE_SIZE = 1L << PAGE_SHIFT;
    /** Largest bitmap accepted: 1 TiB of bitmap covers 2^55 bytes of guest memory, far above any guest. */
    static final long MAX_BYTES = 1L << 40;

    /** Little-endian words: byte k of a word holds bits 8k..8k+7, the order the byte-wise spec implies. */
    private static final VarHandle WORD = ValueLayout.JAVA_LONG.withOrder(ByteOrder.LITTLE_ENDIAN)
            .varHandle().withInvokeExactBehavior();

    private final Arena arena;
    private final OwnedFd fd;
    /** The mapping from the page-aligned file offset: word accesses stay inside it and aligned. */
    private final MemorySegment mapping;
    /** Bits before the log's first byte in {@link #mapping} (8 x the mmap offset's distance from its page). */
    private final long headBits;
    private final long sizeBytes;
    private final long pages;
    private final LongConsumer pagesMarked;

    private DirtyLog(Arena arena, OwnedFd fd, MemorySegment mapping, long headBytes, long sizeBytes,
            LongConsumer pagesMarked) {
        this.arena = arena;
        this.fd = fd;
        this.mapping = mapping;
        this.headBits = headBytes * 8;
        this.sizeBytes = sizeBytes;
        this.pages = sizeBytes * 8;
        this.pagesMarked = pagesMarked;
    }

    /**
     * Validates and maps {@code size} bytes at {@code offset} of {@code fd} (SET_LOG_BASE's payload).
     * Takes ownership of {@code fd}: it is kept while mapped and closed on failure.
     *
     * @param pagesMarked told how many pages each mark newly dirtied (metrics); called on poller threads
     * @throws IllegalArgumentException naming the bad value: an empty or huge size, an offset whose
     *         end overflows, or a range beyond the end of the fd (mapping it would fault on access)
     */
    public static DirtyLog map(OwnedFd fd, long size, long offset, LongConsumer pagesMarked) {
        Arena arena = null;
        try {
            if (size <= 0 || size > MAX_BYTES) {
                throw new IllegalArgumentException("log size " + Long.toUnsignedString(size) + " bytes is outside 1.."
                        + MAX_BYTES);
            }
            if (offset < 0 || offset + size < 0) {
                throw new IllegalArgumentException("log offset " + Long.toUnsignedString(offset) + " + size "
                        + size + " overflows");
            }
            long end = offset + size;
            long fileSize = Libc.fstat(fd.fd()).size();
            if (Long.compareUnsigned(end, fileSize) > 0) {
                throw new IllegalArgumentException("log needs bytes " + hex(offset) + ".." + hex(end)
                        + " of its fd, but the fd holds only " + hex(fileSize) + " bytes");
            }
            long aligned = offset & -PAGE_SIZE;
            long head = offset - aligned;
            // Round up to whole words; the bytes past the end share the log's last page, which the
            // fd holds at least in part, so touching them cannot fault (and masks never change them).
            long length = (head + size + 7) & -8L;
            arena = Arena.ofShared();
            MemorySegment mapping = Libc.mmap(arena, length, Libc.PROT_READ | Libc.PROT_WRITE, Libc.MAP_SHARED,
                    fd.fd(), aligned);
            return new DirtyLog(arena, fd, mapping, head, size, pagesMarked);
        } catch (RuntimeException e) {
            if (arena != null) {
                arena.close();
            }
            fd.close();
            throw e;
        }
    }

    /** Bytes of bitmap the front-end supplied. */
    public long sizeBytes() {
        return sizeBytes;
    }

    /** True if the bitmap has a bit for every byte of guest-physical {@code [0, end)}. */
    public boolean covers(long end) {
        if (end == 0) {
            return true;
        }
        long lastPage = (end - 1) >>> PAGE_SHIFT;
        return Long.compareUnsigned(lastPage, pages) < 0;
    }

    /** The guest-physical address below which the bitmap has a bit for every page (at most 2^55). */
    public long coveredEnd() {
        return pages << PAGE_SHIFT;
    }

    /**
     * Marks every page of guest-physical {@code [gpa, gpa + length)} dirty. Call after the bytes were
     * written. Returns the number of pages that were not dirty before.
     *
     * @throws DirtyLogException if the range lies outside the bitmap (validation let a write through
     *         that it must not have) or the bitmap's memory faulted
     */
    public long mark(long gpa, long length) {
        if (length <= 0) {
            return 0;
        }
        long last = gpa + (length - 1);
        if (Long.compareUnsigned(last, gpa) < 0) {
            throw new DirtyLogException("write at " + hex(gpa) + " of " + length + " bytes wraps the address space");
        }
        long firstPage = gpa >>> PAGE_SHIFT;
        long lastPage = last >>> PAGE_SHIFT;
        if (Long.compareUnsigned(lastPage, pages) >= 0) {
            throw new DirtyLogException("write at " + hex(gpa) + " of " + length + " bytes is beyond the dirty log,"
                    + " which covers guest addresses below " + hex(coveredEnd()));
        }
        // Orders our own stores to guest memory before the bitmap loads below: without it a store
        // still in this CPU's store buffer could miss the front-end's copy of a bit we saw set.
        VarHandle.fullFence();
        long newly = 0;
        try {
            long b = headBits + firstPage;
            long end = headBits + lastPage;
            while (b <= end) {
                long word = b >>> 6;
                int lo = (int) (b & 63);
                long wordEnd = (word << 6) | 63;
                int hi = (int) (Math.min(end, wordEnd) & 63);
                long mask = (hi == 63 ? -1L : (1L << (hi + 1)) - 1) & (-1L << lo);
                long off = word << 3;
                long seen = (long) WORD.getOpaque(mapping, off);
                if ((seen & mask) != mask) {
                    long before = (long) WORD.getAndBitwiseOr(mapping, off, mask);
                    newly += Long.bitCount(mask & ~before);
                }
                b = wordEnd + 1;
            }
        } catch (InternalError e) {
            // The JVM turns SIGBUS on a mapped access into InternalError: the fd was truncated.
            throw new DirtyLogException("the dirty log's memory faulted (its fd was truncated by the front-end); pages"
                    + " written from now on cannot be logged", e);
        }
        if (newly > 0) {
            pagesMarked.accept(newly);
        }
        return newly;
    }

    /**
     * Marks the guest pages behind {@code slice}, a slice of one of {@code memory}'s regions (a data
     * buffer or status byte the device wrote).
     */
    public long mark(GuestMemory memory, MemorySegment slice) {
        long gpa = memory.guestAddressOf(slice);
        if (gpa == -1 && slice.byteSize() > 0) {
            throw new DirtyLogException("a written buffer at host address 0x" + Long.toHexString(slice.address())
                    + " is not inside guest memory " + memory);
        }
        return mark(gpa, slice.byteSize());
    }

    /** Unmaps the bitmap and closes its fd; only once no poller can still mark it. */
    @Override
    public void close() {
        try {
            arena.close();
        } finally {
            fd.close();
        }
    }

    @Override
    public String toString() {
        return "DirtyLog[" + sizeBytes + " bytes, covers guest addresses below " + hex(coveredEnd()) + "]";
    }
}

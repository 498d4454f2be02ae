package dev.vhostd.protocol.memory;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

import static dev.vhostd.protocol.memory.GuestMemoryException.hex;

/**
 * An immutable snapshot of the guest's memory map: every guest address the device touches is
 * translated and bounds-checked here. Addresses and lengths from the guest are untrusted, so all
 * arithmetic is unsigned and overflow-safe; there is no unchecked path.
 *
 * <p>Safe to share across threads. The snapshot does not own its mappings: {@link MemoryTable} unmaps
 * them only after the engine has stopped every queue that holds this snapshot.
 */
public final class GuestMemory {
    /** No memory at all: every lookup fails. */
    public static final GuestMemory EMPTY = new GuestMemory(new GuestRegion[0]);

    /** Sorted by guest-physical address. */
    private final GuestRegion[] regions;
    private final long[] starts;
    private final long[] sizes;
    private final MemorySegment[] mappings;
    private final long mappedBytes;
    private final boolean cannotFault;
    /**
     * Index of the region that served the last lookup. A benign race: readers on other threads may
     * see any value ever written, all of which are valid indices, and every use re-checks containment.
     */
    private int lastHit;

    private GuestMemory(GuestRegion[] sorted) {
        this.regions = sorted;
        this.starts = new long[sorted.length];
        this.sizes = new long[sorted.length];
        this.mappings = new MemorySegment[sorted.length];
        long total = 0;
        boolean stable = true;
        for (int i = 0; i < sorted.length; i++) {
            stable &= sorted[i].cannotFault();
            starts[i] = sorted[i].guestPhysAddr();
            sizes[i] = sorted[i].size();
            mappings[i] = sorted[i].mapping();
            total = Math.addExact(total, sorted[i].size());
        }
        this.mappedBytes = total;
        this.cannotFault = stable;
    }

    /**
     * Builds a snapshot after checking that no region wraps the 64-bit address space and that no two
     * regions overlap, neither in guest-physical nor in front-end virtual address space.
     */
    public static GuestMemory of(List<GuestRegion> regions) {
        if (regions.isEmpty()) {
            return EMPTY;
        }
        for (GuestRegion r : regions) {
            checkNoWrap(r);
        }
        List<GuestRegion> byGpa = new ArrayList<>(regions);
        byGpa.sort(Comparator.comparing(GuestRegion::guestPhysAddr, Long::compareUnsigned));
        for (int i = 1; i < byGpa.size(); i++) {
            GuestRegion prev = byGpa.get(i - 1);
            GuestRegion cur = byGpa.get(i);
            if (Long.compareUnsigned(prev.guestPhysEnd(), cur.guestPhysAddr()) > 0) {
                throw new GuestMemoryException("guest-physical ranges overlap: " + prev + " and " + cur
                        + "; the front-end sent an inconsistent memory table");
            }
        }
        List<GuestRegion> byUser = new ArrayList<>(regions);
        byUser.sort(Comparator.comparing(GuestRegion::userAddr, Long::compareUnsigned));
        for (int i = 1; i < byUser.size(); i++) {
            GuestRegion prev = byUser.get(i - 1);
            GuestRegion cur = byUser.get(i);
            if (Long.compareUnsigned(prev.userEnd(), cur.userAddr()) > 0) {
                throw new GuestMemoryException("front-end user-address ranges overlap: " + prev + " and " + cur
                        + "; the front-end sent an inconsistent memory table");
            }
        }
        return new GuestMemory(byGpa.toArray(GuestRegion[]::new));
    }

    /** Refuses a region whose end would pass 2^64 (an end of exactly 2^64 is refused too: it wraps to 0). */
    static void checkNoWrap(GuestRegion r) {
        if (Long.compareUnsigned(r.guestPhysAddr() + r.size(), r.guestPhysAddr()) <= 0) {
            throw new GuestMemoryException("region at guest address " + hex(r.guestPhysAddr()) + " of size "
                    + hex(r.size()) + " wraps past the end of the 64-bit guest-physical address space");
        }
        if (Long.compareUnsigned(r.userAddr() + r.size(), r.userAddr()) <= 0) {
            throw new GuestMemoryException("region at user address " + hex(r.userAddr()) + " of size "
                    + hex(r.size()) + " wraps past the end of the 64-bit user address space");
        }
    }

    /** The regions, sorted by guest-physical address. */
    public List<GuestRegion> regions() {
        return List.of(regions);
    }

    /** The end of the highest region in guest-physical space (0 without memory): what a dirty log must cover. */
    public long guestPhysEnd() {
        return regions.length == 0 ? 0 : regions[regions.length - 1].guestPhysEnd();
    }

    /**
     * True if no access inside this snapshot's regions can fault: every region's file is sealed
     * against shrinking. Only then may native code (which cannot turn a fault into an exception)
     * touch guest memory directly.
     */
    public boolean cannotFault() {
        return cannotFault;
    }

    /** Total bytes of guest RAM in this snapshot. */
    public long mappedBytes() {
        return mappedBytes;
    }

    /**
     * Index of the region holding guest-physical {@code gpa}, or -1. Tries the last hit first: buffers
     * of one request nearly always sit in the same region.
     */
    private int regionOf(long gpa) {
        int hint = lastHit;
        if (hint < starts.length && Long.compareUnsigned(gpa - starts[hint], sizes[hint]) < 0) {
            return hint;
        }
        for (int i = 0; i < starts.length; i++) {
            if (Long.compareUnsigned(gpa - starts[i], sizes[i]) < 0) {
                lastHit = i;
                return i;
            }
        }
        return -1;
    }

    /**
     * Index of the one region that holds all of {@code [gpa, gpa + length)}, or -1 if none does
     * (unmapped, crossing a region boundary, negative length). For {@code length == 0}, {@code gpa}
     * itself must be mapped. Allocates nothing; pair with {@link #mapping(int)} and {@link #offsetIn}.
     */
    public int find(long gpa, long length) {
        if (length < 0) {
            return -1;
        }
        int i = regionOf(gpa);
        if (i < 0) {
            return -1;
        }
        long off = gpa - starts[i];
        return Long.compareUnsigned(length, sizes[i] - off) <= 0 ? i : -1;
    }

    /** The mapping of region {@code index} (as returned by {@link #find}). */
    public MemorySegment mapping(int index) {
        return mappings[index];
    }

    /** Offset of {@code gpa} inside region {@code index}; only meaningful after {@link #find} returned it. */
    public long offsetIn(int index, long gpa) {
        return gpa - starts[index];
    }

    /**
     * The guest-physical address of {@code slice}, a slice of one of this snapshot's mappings (as
     * {@link #slice} and {@link #slices} hand out), or -1 if it is not inside one. Lets the dirty log
     * mark what a backend wrote through a segment without the device keeping guest addresses.
     */
    public long guestAddressOf(MemorySegment slice) {
        long address = slice.address();
        long length = slice.byteSize();
        for (int i = 0; i < mappings.length; i++) {
            long off = address - mappings[i].address();
            if (Long.compareUnsigned(off, sizes[i]) < 0 && Long.compareUnsigned(length, sizes[i] - off) <= 0) {
                return starts[i] + off;
            }
        }
        return -1;
    }

    /**
     * True if every byte of {@code [gpa, gpa + length)} is guest RAM, allowing the range to cross
     * regions that are adjacent in guest-physical space. For {@code length == 0}, {@code gpa} itself
     * must be mapped. Allocates nothing.
     */
    public boolean contains(long gpa, long length) {
        if (length < 0) {
            return false;
        }
        int i = regionOf(gpa);
        if (i < 0) {
            return false;
        }
        long off = gpa - starts[i];
        while (Long.compareUnsigned(length, sizes[i] - off) > 0) {
            long take = sizes[i] - off;
            length -= take;
            gpa += take;
            // Regions are sorted and do not overlap, so an adjacent successor is the next index.
            if (i + 1 >= starts.length || starts[i + 1] != gpa) {
                return false;
            }
            i++;
            off = 0;
        }
        return true;
    }

    /**
     * The guest bytes {@code [gpa, gpa + length)} as one segment. They must lie inside one region; a
     * buffer that may cross regions goes through {@link #slices}.
     */
    public MemorySegment slice(long gpa, long length) {
        int i = find(gpa, length);
        if (i < 0) {
            throw new GuestMemoryException(describeMiss("guest buffer", gpa, length));
        }
        return mappings[i].asSlice(gpa - starts[i], length);
    }

    /**
     * Splits the guest bytes {@code [gpa, gpa + length)} into slices, one per region they touch, written
     * to {@code out[from..]}; returns how many. Regions must be adjacent in guest-physical space (a gap
     * is an error). A zero-length buffer yields no slices but {@code gpa} must still be mapped. Allocates
     * only the slices. On failure the contents of {@code out[from..]} are unspecified.
     *
     * @throws GuestMemoryException for unmapped bytes, a gap between regions, or too little room in {@code out}
     */
    public int slices(long gpa, long length, MemorySegment[] out, int from) {
        if (length < 0) {
            throw new GuestMemoryException("negative buffer length " + length + " at guest address " + hex(gpa));
        }
        int i = regionOf(gpa);
        if (i < 0) {
            throw new GuestMemoryException(describeMiss("guest buffer", gpa, length));
        }
        long off = gpa - starts[i];
        int n = 0;
        long at = gpa;
        long left = length;
        while (left > 0) {
            long take = Math.min(left, sizes[i] - off);
            if (from + n >= out.length || from + n < 0) {
                throw new GuestMemoryException("guest buffer at " + hex(gpa) + " of " + length
                        + " bytes needs more than " + (out.length - from) + " slices");
            }
            out[from + n] = mappings[i].asSlice(off, take);
            n++;
            left -= take;
            at += take;
            if (left > 0) {
                if (i + 1 >= starts.length || starts[i + 1] != at) {
                    throw new GuestMemoryException(describeMiss("guest buffer", gpa, length)
                            + " (unmapped from " + hex(at) + ")");
                }
                i++;
                off = 0;
            }
        }
        return n;
    }

    /**
     * The bytes {@code [userAddr, userAddr + length)} of the front-end's virtual address space, which
     * SET_VRING_ADDR uses for ring addresses. They must lie inside one region.
     */
    public MemorySegment sliceUser(long userAddr, long length) {
        for (GuestRegion r : regions) {
            if (r.containsUser(userAddr)) {
                long off = userAddr - r.userAddr();
                if (length >= 0 && Long.compareUnsigned(length, r.size() - off) <= 0) {
                    return r.mapping().asSlice(off, length);
                }
                break;
            }
        }
        throw new GuestMemoryException("front-end address range " + hex(userAddr) + "+" + hex(length)
                + " does not lie inside one memory region " + describeUserMap());
    }

    /** The guest-physical address that the front-end sees at {@code userAddr}. */
    public long userToGuest(long userAddr) {
        for (GuestRegion r : regions) {
            if (r.containsUser(userAddr)) {
                return r.guestPhysAddr() + (userAddr - r.userAddr());
            }
        }
        throw new GuestMemoryException("front-end address " + hex(userAddr) + " is not in any memory region "
                + describeUserMap());
    }

    private String describeMiss(String what, long gpa, long length) {
        return what + " " + hex(gpa) + "+" + hex(length) + " does not lie inside one guest memory region"
                + " (guest RAM: " + describeGuestMap() + ")";
    }

    private String describeGuestMap() {
        if (regions.length == 0) {
            return "none; no SET_MEM_TABLE yet";
        }
        StringBuilder sb = new StringBuilder();
        for (GuestRegion r : regions) {
            sb.append(sb.isEmpty() ? "" : ", ").append(hex(r.guestPhysAddr())).append("..").append(hex(r.guestPhysEnd()));
        }
        return sb.toString();
    }

    private String describeUserMap() {
        if (regions.length == 0) {
            return "(no memory table yet)";
        }
        StringBuilder sb = new StringBuilder("(front-end ranges: ");
        for (GuestRegion r : regions) {
            sb.append(sb.length() > 19 ? ", " : "").append(hex(r.userAddr())).append("..").append(hex(r.userEnd()));
        }
        return sb.append(')').toString();
    }

    @Override
    public String toString() {
        return "GuestMemory[" + describeGuestMap() + "]";
    }
}

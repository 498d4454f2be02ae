package dev.vhostd.protocol.memory;

import java.lang.foreign.MemorySegment;
import java.util.Objects;

/**
 * One contiguous piece of guest RAM: {@code size} bytes at guest-physical address {@code guestPhysAddr},
 * which the front-end (QEMU) sees at its own virtual address {@code userAddr}, and which this process
 * sees as {@code mapping}. {@code cannotFault} is true when the file behind the mapping is sealed against
 * shrinking (see {@link dev.vhostd.sys.MemFd#mappingCannotFault}), so no access within it can fault.
 */
public record GuestRegion(long guestPhysAddr, long size, long userAddr, MemorySegment mapping, boolean cannotFault) {
    /** A region whose file may shrink under us: accesses to it can fault. */
    public GuestRegion(long guestPhysAddr, long size, long userAddr, MemorySegment mapping) {
        this(guestPhysAddr, size, userAddr, mapping, false);
    }

    public GuestRegion {
        Objects.requireNonNull(mapping, "mapping");
        if (size <= 0) {
            throw new GuestMemoryException("region at guest address " + GuestMemoryException.hex(guestPhysAddr)
                    + " has size " + Long.toUnsignedString(size) + "; sizes must be positive and below 2^63");
        }
        if (mapping.byteSize() != size) {
            throw new IllegalArgumentException("mapping of " + mapping.byteSize() + " bytes for a region of "
                    + size + " bytes");
        }
    }

    /** Exclusive end in guest-physical space; {@link GuestMemory#of} ensures it does not wrap. */
    public long guestPhysEnd() {
        return guestPhysAddr + size;
    }

    /** Exclusive end in front-end virtual address space; {@link GuestMemory#of} ensures it does not wrap. */
    public long userEnd() {
        return userAddr + size;
    }

    /** True if guest-physical {@code gpa} lies in this region (unsigned comparison). */
    public boolean containsGuest(long gpa) {
        return Long.compareUnsigned(gpa - guestPhysAddr, size) < 0;
    }

    /** True if front-end virtual address {@code ua} lies in this region (unsigned comparison). */
    public boolean containsUser(long ua) {
        return Long.compareUnsigned(ua - userAddr, size) < 0;
    }

    @Override
    public String toString() {
        return "GuestRegion[gpa " + GuestMemoryException.hex(guestPhysAddr) + ".."
                + GuestMemoryException.hex(guestPhysAddr + size)
                + ", uaddr " + GuestMemoryException.hex(userAddr) + ", " + size + " bytes]";
    }
}

package dev.vhostd.protocol.frontend;

/**
 * One entry of the vhost-user memory table: guest-physical base, size, the front-end's user
 * address of the same memory, and the offset into the passed fd at which the region starts.
 */
public record MemoryRegion(long guestAddress, long size, long userAddress, long mmapOffset) {
    public MemoryRegion {
        if (size <= 0) {
            throw new IllegalArgumentException("memory region size must be positive, got " + size);
        }
        if (mmapOffset < 0) {
            throw new IllegalArgumentException("memory region mmap offset must not be negative, got " + mmapOffset);
        }
        // A region must not wrap the 64-bit guest or user address space.
        Math.addExact(guestAddress, size - 1);
        Math.addExact(userAddress, size - 1);
    }
}

package dev.vhostd.protocol.frontend;

/**
 * vhost-user "vring address description" (SET_VRING_ADDR). The three ring addresses are user
 * addresses: the same address space as {@link MemoryRegion#userAddress()} in the memory table.
 */
public record VringAddress(int index, int flags, long descUserAddress, long usedUserAddress,
        long availUserAddress, long logGuestAddress) {}

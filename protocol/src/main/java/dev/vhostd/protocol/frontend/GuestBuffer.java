package dev.vhostd.protocol.frontend;

import java.lang.foreign.MemorySegment;

/** A piece of {@link GuestRam}: its guest-physical address and the front-end's view of the same bytes. */
public record GuestBuffer(long guestAddress, MemorySegment segment) {
    public long size() {
        return segment.byteSize();
    }
}

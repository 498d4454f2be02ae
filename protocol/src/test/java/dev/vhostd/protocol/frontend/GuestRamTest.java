package dev.vhostd.protocol.frontend;

import org.junit.jupiter.api.Test;

import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class GuestRamTest {
    @Test
    void allocatesAlignedBuffersUntilFull() {
        try (GuestRam ram = new GuestRam(2 * 4096)) {
            GuestBuffer a = ram.allocate(10, 1);
            GuestBuffer b = ram.allocate(100, 64);
            assertEquals(GuestRam.DEFAULT_GUEST_BASE, a.guestAddress());
            assertEquals(GuestRam.DEFAULT_GUEST_BASE + 64, b.guestAddress());
            GuestBuffer c = ram.allocate(4096, 4096);
            assertEquals(GuestRam.DEFAULT_GUEST_BASE + 4096, c.guestAddress());
            assertThrows(IllegalStateException.class, () -> ram.allocate(1, 1));
            assertThrows(IllegalArgumentException.class, () -> ram.allocate(1, 3));
        }
    }

    @Test
    void sliceAndBufferShareMemoryAndRegionDescribesIt() {
        try (GuestRam ram = new GuestRam(4096, 0x10000)) {
            GuestBuffer a = ram.allocate(64, 8);
            a.segment().set(JAVA_LONG, 8, 0x1122334455667788L);
            assertEquals(0x1122334455667788L, ram.slice(a.guestAddress() + 8, 8).get(JAVA_LONG, 0));
            MemoryRegion r = ram.region();
            assertEquals(0x10000, r.guestAddress());
            assertEquals(4096, r.size());
            assertEquals(r.userAddress() + 8, ram.userAddress(0x10008));
            assertThrows(IndexOutOfBoundsException.class, () -> ram.slice(0x10000 + 4090, 8));
            assertThrows(IndexOutOfBoundsException.class, () -> ram.slice(0xFFFF, 1));
            assertThrows(IllegalArgumentException.class, () -> ram.userAddress(0x10000 + 4096));
        }
    }

    @Test
    void rejectsUnalignedSizes() {
        assertThrows(IllegalArgumentException.class, () -> new GuestRam(100));
        assertThrows(IllegalArgumentException.class, () -> new GuestRam(4096, 12));
    }
}

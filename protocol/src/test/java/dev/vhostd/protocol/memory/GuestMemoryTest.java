package dev.vhostd.protocol.memory;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import dev.vhostd.protocol.testing.FakeDriver;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class GuestMemoryTest {
    private final Arena arena = Arena.ofConfined();

    @AfterEach
    void closeArena() {
        arena.close();
    }

    private GuestRegion region(long gpa, long size, long uaddr) {
        return new GuestRegion(gpa, size, uaddr, arena.allocate(size, 4096));
    }

    @Test
    void translatesAcrossSeveralMemfdRegions() {
        try (FakeDriver d = new FakeDriver(8192, 16384)) {
            GuestMemory mem = d.memory();
            assertEquals(24576, mem.mappedBytes());
            assertEquals(2, mem.regions().size());
            d.write(100, new byte[] {1, 2, 3});
            d.write(8192 + 50, new byte[] {7, 8});
            assertEquals(2, mem.slice(101, 1).get(ValueLayout.JAVA_BYTE, 0));
            MemorySegment s = mem.slice(8192 + 50, 2);
            assertEquals(8, s.get(ValueLayout.JAVA_BYTE, 1));
            // The slice aliases the memfd mapping: writes through it are guest writes.
            s.set(ValueLayout.JAVA_BYTE, 0, (byte) 9);
            assertArrayEquals(new byte[] {9, 8}, d.read(8192 + 50, 2));
            assertEquals(8192 + 50, mem.userToGuest(FakeDriver.userAddr(8192 + 50)));
            assertEquals(9, mem.sliceUser(FakeDriver.userAddr(8192 + 50), 1).get(ValueLayout.JAVA_BYTE, 0));
        }
    }

    @Test
    void bufferCrossingAdjacentRegionsBecomesTwoSlices() {
        try (FakeDriver d = new FakeDriver(8192, 8192)) {
            GuestMemory mem = d.memory();
            byte[] data = new byte[300];
            for (int i = 0; i < data.length; i++) {
                data[i] = (byte) i;
            }
            d.write(8192 - 100, data);
            MemorySegment[] out = new MemorySegment[4];
            assertEquals(2, mem.slices(8192 - 100, 300, out, 1));
            assertEquals(100, out[1].byteSize());
            assertEquals(200, out[2].byteSize());
            assertEquals((byte) 99, out[1].get(ValueLayout.JAVA_BYTE, 99));
            assertEquals((byte) 100, out[2].get(ValueLayout.JAVA_BYTE, 0));
            assertTrue(mem.contains(8192 - 100, 300));
            GuestMemoryException e = assertThrows(GuestMemoryException.class, () -> mem.slice(8192 - 100, 300));
            assertTrue(e.getMessage().contains("0x1f9c"), e.getMessage());
            // Within one region a single slice.
            assertEquals(1, mem.slices(10, 20, out, 0));
            assertEquals(20, out[0].byteSize());
        }
    }

    @Test
    void gapBetweenRegionsIsAnError() {
        GuestMemory mem = GuestMemory.of(List.of(region(0, 4096, 0x10000), region(8192, 4096, 0x20000)));
        MemorySegment[] out = new MemorySegment[4];
        GuestMemoryException e = assertThrows(GuestMemoryException.class, () -> mem.slices(4000, 200, out, 0));
        assertTrue(e.getMessage().contains("unmapped from 0x1000"), e.getMessage());
        assertFalse(mem.contains(4000, 200));
        assertThrows(GuestMemoryException.class, () -> mem.slice(5000, 1));
        assertThrows(GuestMemoryException.class, () -> mem.slices(5000, 0, out, 0));
    }

    @Test
    void slicesNeedsRoomInTheOutputArray() {
        try (FakeDriver d = new FakeDriver(4096, 4096)) {
            MemorySegment[] out = new MemorySegment[2];
            GuestMemoryException e = assertThrows(GuestMemoryException.class,
                    () -> d.memory().slices(4000, 200, out, 1));
            assertTrue(e.getMessage().contains("slices"), e.getMessage());
            assertThrows(GuestMemoryException.class, () -> d.memory().slices(0, 10, out, 2));
            assertThrows(GuestMemoryException.class, () -> d.memory().slices(0, -1, out, 0));
        }
    }

    @Test
    void zeroLengthOnlyInsideARegion() {
        GuestMemory mem = GuestMemory.of(List.of(region(0x1000, 4096, 0x10000)));
        assertEquals(0, mem.slice(0x1000, 0).byteSize());
        assertEquals(0, mem.slice(0x1fff, 0).byteSize());
        assertEquals(1, mem.slice(0x1fff, 1).byteSize());
        assertThrows(GuestMemoryException.class, () -> mem.slice(0x2000, 0));
        assertThrows(GuestMemoryException.class, () -> mem.slice(0xfff, 0));
        assertEquals(0, mem.slices(0x1000, 0, new MemorySegment[0], 0));
        assertThrows(GuestMemoryException.class, () -> mem.slice(0x1fff, 2));
        assertTrue(mem.contains(0x1fff, 0));
        assertFalse(mem.contains(0x2000, 0));
    }

    @Test
    void hugeAddressesAndLengthsDoNotWrap() {
        GuestMemory mem = GuestMemory.of(List.of(region(0, 4096, 0x10000),
                region(0xFFFF_FFFF_FFFF_0000L, 4096, 0x20000)));
        assertEquals(4096, mem.slice(0xFFFF_FFFF_FFFF_0000L, 4096).byteSize());
        assertThrows(GuestMemoryException.class, () -> mem.slice(0xFFFF_FFFF_FFFF_F000L, 0x2000));
        assertThrows(GuestMemoryException.class, () -> mem.slice(0xFFFF_FFFF_FFFF_0F00L, Long.MAX_VALUE));
        assertThrows(GuestMemoryException.class, () -> mem.slice(0xFFFF_FFFF_FFFF_0F00L, -1));
        assertThrows(GuestMemoryException.class, () -> mem.slice(0xF00, 0xFFFF_FFFF_FFFF_F000L));
        assertFalse(mem.contains(0xFFFF_FFFF_FFFF_0F00L, 0x1000_0000_0000L));
        assertFalse(mem.contains(0xFFFF_FFFF_FFFF_F000L, 0x2000));
        assertThrows(GuestMemoryException.class, () -> mem.sliceUser(0x10F00, -1));
        assertThrows(GuestMemoryException.class, () -> mem.sliceUser(0xFFFF_FFFF_FFFF_F000L, 0x2000));
    }

    @Test
    void regionsThatWrapTheAddressSpaceAreRefused() {
        // Ends exactly at 2^64 (wraps to 0) and beyond it, in guest-physical and in user space.
        assertThrows(GuestMemoryException.class,
                () -> GuestMemory.of(List.of(region(0xFFFF_FFFF_FFFF_F000L, 4096, 0x10000))));
        assertThrows(GuestMemoryException.class,
                () -> GuestMemory.of(List.of(region(0xFFFF_FFFF_FFFF_F800L, 4096, 0x10000))));
        GuestMemoryException e = assertThrows(GuestMemoryException.class,
                () -> GuestMemory.of(List.of(region(0, 4096, 0xFFFF_FFFF_FFFF_F800L))));
        assertTrue(e.getMessage().contains("user address"), e.getMessage());
    }

    @Test
    void overlappingRegionsAreRefused() {
        GuestMemoryException gpa = assertThrows(GuestMemoryException.class, () -> GuestMemory.of(List.of(
                region(0x10000, 8192, 0x100000), region(0x11000, 4096, 0x200000))));
        assertTrue(gpa.getMessage().contains("guest-physical ranges overlap"), gpa.getMessage());
        GuestMemoryException user = assertThrows(GuestMemoryException.class, () -> GuestMemory.of(List.of(
                region(0x10000, 8192, 0x100000), region(0x40000, 4096, 0x101000))));
        assertTrue(user.getMessage().contains("user-address ranges overlap"), user.getMessage());
        // Touching is fine; order of the input does not matter.
        GuestMemory ok = GuestMemory.of(List.of(region(0x12000, 4096, 0x102000), region(0x10000, 8192, 0x100000)));
        assertEquals(0x10000, ok.regions().get(0).guestPhysAddr());
    }

    @Test
    void zeroSizeAndMismatchedMappingAreRefused() {
        assertThrows(GuestMemoryException.class, () -> new GuestRegion(0, 0, 0, MemorySegment.NULL));
        assertThrows(IllegalArgumentException.class, () -> new GuestRegion(0, 8192, 0, arena.allocate(4096)));
    }

    @Test
    void userAddressLookups() {
        GuestMemory mem = GuestMemory.of(List.of(region(0, 4096, 0x7000_0000L), region(0x100000, 4096, 0x9000_0000L)));
        assertEquals(0x100010, mem.userToGuest(0x9000_0010L));
        assertThrows(GuestMemoryException.class, () -> mem.userToGuest(0x8000_0000L));
        assertEquals(16, mem.sliceUser(0x7000_0FF0L, 16).byteSize());
        GuestMemoryException e = assertThrows(GuestMemoryException.class, () -> mem.sliceUser(0x7000_0FF0L, 17));
        assertTrue(e.getMessage().contains("0x70000ff0"), e.getMessage());
    }

    @Test
    void lookupCacheFollowsTheRegionInUse() {
        GuestMemory mem = GuestMemory.of(List.of(region(0, 4096, 0x10000), region(0x10000, 4096, 0x20000),
                region(0x20000, 4096, 0x30000)));
        for (int round = 0; round < 3; round++) {
            for (long base : new long[] {0x20000, 0, 0x10000, 0x10000, 0}) {
                mem.slice(base + 8, 8).set(ValueLayout.JAVA_LONG, 0, base + round);
                assertEquals(base + round, mem.regions().stream().filter(r -> r.containsGuest(base)).findFirst()
                        .orElseThrow().mapping().get(ValueLayout.JAVA_LONG, 8));
            }
            assertThrows(GuestMemoryException.class, () -> mem.slice(0x30000, 1));
        }
    }

    @Test
    void emptyMemoryExplainsItself() {
        GuestMemoryException e = assertThrows(GuestMemoryException.class, () -> GuestMemory.EMPTY.slice(0, 1));
        assertTrue(e.getMessage().contains("no SET_MEM_TABLE"), e.getMessage());
        assertEquals(0, GuestMemory.EMPTY.mappedBytes());
        assertTrue(GuestMemory.of(List.of()) == GuestMemory.EMPTY);
    }
}

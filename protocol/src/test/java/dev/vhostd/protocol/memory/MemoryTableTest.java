package dev.vhostd.protocol.memory;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;

import dev.vhostd.protocol.wire.Message.MemoryRegion;
import dev.vhostd.sys.Libc;
import dev.vhostd.sys.MemFd;
import dev.vhostd.sys.OwnedFd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class MemoryTableTest {
    private static final long U = 0x7f00_0000_0000L;

    private static OwnedFd memfd(long size) {
        return new OwnedFd(MemFd.create("memtable-test", size));
    }

    /** Writes {@code value} at {@code offset} of the fd through pwrite, not through any mapping. */
    private static void poke(OwnedFd fd, long offset, long value) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment b = a.allocate(8);
            b.set(ValueLayout.JAVA_LONG_UNALIGNED, 0, value);
            assertEquals(8, Libc.pwrite(fd.fd(), b, 8, offset));
        }
    }

    /**
     * This class's memfds still open. Only ours are counted: the test JVM's other threads open and
     * close descriptors of their own meanwhile, which made a count of every fd flaky.
     */
    private static long openFds() throws IOException {
        try (Stream<Path> s = Files.list(Path.of("/proc/self/fd"))) {
            return s.filter(MemoryTableTest::isOurMemfd).count();
        }
    }

    private static boolean isOurMemfd(Path fd) {
        try {
            return Files.readSymbolicLink(fd).toString().startsWith("/memfd:memtable-test");
        } catch (IOException e) {
            return false; // closed since it was listed (or the directory's own fd)
        }
    }

    @Test
    void setMemTableMapsEveryRegion() {
        try (MemoryTable t = new MemoryTable(8)) {
            OwnedFd a = memfd(8192);
            OwnedFd b = memfd(4096);
            poke(a, 4096 + 8, 0x1111);
            poke(b, 16, 0x2222);
            t.replace(List.of(new MemoryRegion(0, 8192, U, 0), new MemoryRegion(0x100000, 4096, U + 0x100000, 0)),
                    List.of(a, b));
            GuestMemory m = t.snapshot();
            assertEquals(2, t.slots());
            assertEquals(12288, t.mappedBytes());
            assertEquals(0x1111, m.slice(4096 + 8, 8).get(ValueLayout.JAVA_LONG_UNALIGNED, 0));
            assertEquals(0x2222, m.slice(0x100000 + 16, 8).get(ValueLayout.JAVA_LONG_UNALIGNED, 0));
            assertEquals(0x2222, m.sliceUser(U + 0x100000 + 16, 8).get(ValueLayout.JAVA_LONG_UNALIGNED, 0));
            assertTrue(a.isOpen() && b.isOpen());
        }
    }

    @Test
    void nonPageAlignedMmapOffsetIsMappedFromTheAlignedOffset() {
        try (MemoryTable t = new MemoryTable(8)) {
            OwnedFd fd = memfd(3 * 4096);
            poke(fd, 4096 + 100, 0xABCD);
            poke(fd, 4096 + 100 + 4000 - 8, 0xEF01);
            t.replace(List.of(new MemoryRegion(0x2000, 4000, U, 4096 + 100)), List.of(fd));
            GuestMemory m = t.snapshot();
            assertEquals(0xABCD, m.slice(0x2000, 8).get(ValueLayout.JAVA_LONG_UNALIGNED, 0));
            assertEquals(0xEF01, m.slice(0x2000 + 4000 - 8, 8).get(ValueLayout.JAVA_LONG_UNALIGNED, 0));
            assertThrows(GuestMemoryException.class, () -> m.slice(0x2000 + 4000 - 7, 8));
        }
    }

    @Test
    void regionBeyondItsFdIsRefusedBeforeMapping() {
        try (MemoryTable t = new MemoryTable(8)) {
            OwnedFd fd = memfd(8192);
            GuestMemoryException e = assertThrows(GuestMemoryException.class,
                    () -> t.replace(List.of(new MemoryRegion(0, 8192, U, 4096)), List.of(fd)));
            assertTrue(e.getMessage().contains("fd holds only 0x2000 bytes"), e.getMessage());
            assertFalse(fd.isOpen());
            OwnedFd fd2 = memfd(4096);
            assertThrows(GuestMemoryException.class,
                    () -> t.replace(List.of(new MemoryRegion(0, 8192, U, 0)), List.of(fd2)));
            OwnedFd fd3 = memfd(4096);
            assertThrows(GuestMemoryException.class,
                    () -> t.replace(List.of(new MemoryRegion(0, 4096, U, Long.MAX_VALUE - 100)), List.of(fd3)));
            assertEquals(0, t.slots());
        }
    }

    @Test
    void failedReplaceKeepsTheOldTable() {
        try (MemoryTable t = new MemoryTable(2)) {
            OwnedFd good = memfd(4096);
            poke(good, 0, 42);
            t.replace(List.of(new MemoryRegion(0, 4096, U, 0)), List.of(good));
            GuestMemory before = t.snapshot();

            List<List<MemoryRegion>> bad = List.of(
                    // overlapping guest-physical ranges
                    List.of(new MemoryRegion(0, 4096, U, 0), new MemoryRegion(0x800, 4096, U + 0x10000, 0)),
                    // overlapping user ranges
                    List.of(new MemoryRegion(0, 4096, U, 0), new MemoryRegion(0x10000, 4096, U + 0x800, 0)),
                    // zero size
                    List.of(new MemoryRegion(0, 0, U, 0)),
                    // wraps the guest-physical space
                    List.of(new MemoryRegion(0xFFFF_FFFF_FFFF_F000L, 4096, U, 0)),
                    // too many regions for two slots
                    List.of(new MemoryRegion(0, 4096, U, 0), new MemoryRegion(0x10000, 4096, U + 0x10000, 0),
                            new MemoryRegion(0x20000, 4096, U + 0x20000, 0)),
                    // none at all
                    List.of());
            for (List<MemoryRegion> regions : bad) {
                List<OwnedFd> fds = new ArrayList<>();
                for (int i = 0; i < regions.size(); i++) {
                    fds.add(memfd(8192));
                }
                assertThrows(GuestMemoryException.class, () -> t.replace(regions, fds), regions.toString());
                assertSame(before, t.snapshot());
                assertEquals(42, t.snapshot().slice(0, 8).get(ValueLayout.JAVA_LONG_UNALIGNED, 0));
                fds.forEach(fd -> assertFalse(fd.isOpen(), "fd left open after refusing " + regions));
            }
            // Region and fd counts differ.
            OwnedFd extra = memfd(4096);
            GuestMemoryException e = assertThrows(GuestMemoryException.class,
                    () -> t.replace(List.of(new MemoryRegion(0, 4096, U, 0)), List.of(extra, memfd(4096))));
            assertTrue(e.getMessage().contains("1 regions but carries 2 fds"), e.getMessage());
            assertFalse(extra.isOpen());
            assertSame(before, t.snapshot());
            assertTrue(good.isOpen());
        }
    }

    @Test
    void successfulReplaceUnmapsTheOldTable() {
        try (MemoryTable t = new MemoryTable(4)) {
            OwnedFd first = memfd(4096);
            t.replace(List.of(new MemoryRegion(0, 4096, U, 0)), List.of(first));
            MemorySegment old = t.snapshot().slice(0, 8);
            OwnedFd second = memfd(4096);
            poke(second, 0, 7);
            t.replace(List.of(new MemoryRegion(0, 4096, U, 0)), List.of(second));
            assertFalse(first.isOpen());
            assertEquals(7, t.snapshot().slice(0, 8).get(ValueLayout.JAVA_LONG_UNALIGNED, 0));
            // A stale snapshot fails cleanly instead of touching unmapped memory.
            assertThrows(IllegalStateException.class, () -> old.get(ValueLayout.JAVA_LONG_UNALIGNED, 0));
        }
    }

    @Test
    void addAndRemoveRegions() {
        try (MemoryTable t = new MemoryTable(2)) {
            OwnedFd a = memfd(4096);
            t.add(new MemoryRegion(0, 4096, U, 0), a);
            OwnedFd overlap = memfd(4096);
            assertThrows(GuestMemoryException.class, () -> t.add(new MemoryRegion(0x800, 4096, U + 0x10000, 0), overlap));
            assertFalse(overlap.isOpen());
            OwnedFd tooBig = memfd(4096);
            assertThrows(GuestMemoryException.class, () -> t.add(new MemoryRegion(0x10000, 8192, U + 0x10000, 0), tooBig));
            assertFalse(tooBig.isOpen());
            OwnedFd b = memfd(4096);
            poke(b, 0, 99);
            t.add(new MemoryRegion(0x10000, 4096, U + 0x10000, 0), b);
            assertEquals(2, t.slots());
            assertEquals(99, t.snapshot().slice(0x10000, 8).get(ValueLayout.JAVA_LONG_UNALIGNED, 0));
            OwnedFd third = memfd(4096);
            GuestMemoryException full = assertThrows(GuestMemoryException.class,
                    () -> t.add(new MemoryRegion(0x20000, 4096, U + 0x20000, 0), third));
            assertTrue(full.getMessage().contains("2 memory slots"), full.getMessage());
            assertFalse(third.isOpen());

            assertThrows(GuestMemoryException.class, () -> t.remove(new MemoryRegion(0x10000, 8192, U + 0x10000, 0)));
            assertThrows(GuestMemoryException.class, () -> t.remove(new MemoryRegion(0x10000, 4096, U, 0)));
            t.remove(new MemoryRegion(0, 4096, U, 0));
            assertFalse(a.isOpen());
            assertEquals(1, t.slots());
            assertThrows(GuestMemoryException.class, () -> t.snapshot().slice(0, 1));
            assertEquals(99, t.snapshot().slice(0x10000, 8).get(ValueLayout.JAVA_LONG_UNALIGNED, 0));
            t.remove(new MemoryRegion(0x10000, 4096, U + 0x10000, 0));
            assertEquals(0, t.slots());
            assertEquals(0, t.mappedBytes());
        }
    }

    @Test
    void closeIsIdempotentAndRefusesLaterUpdates() {
        MemoryTable t = new MemoryTable(4);
        OwnedFd a = memfd(4096);
        t.replace(List.of(new MemoryRegion(0, 4096, U, 0)), List.of(a));
        t.close();
        t.close();
        assertFalse(a.isOpen());
        assertSame(GuestMemory.EMPTY, t.snapshot());
        OwnedFd late = memfd(4096);
        assertThrows(GuestMemoryException.class, () -> t.add(new MemoryRegion(0, 4096, U, 0), late));
        assertFalse(late.isOpen());
        OwnedFd late2 = memfd(4096);
        assertThrows(GuestMemoryException.class, () -> t.replace(List.of(new MemoryRegion(0, 4096, U, 0)), List.of(late2)));
        assertFalse(late2.isOpen());
    }

    @Test
    void noFdLeaksAcrossSuccessAndFailure() throws IOException {
        long before = openFds();
        for (int round = 0; round < 5; round++) {
            try (MemoryTable t = new MemoryTable(4)) {
                t.replace(List.of(new MemoryRegion(0, 4096, U, 0), new MemoryRegion(0x10000, 4096, U + 0x10000, 0)),
                        List.of(memfd(4096), memfd(4096)));
                t.replace(List.of(new MemoryRegion(0, 8192, U, 0)), List.of(memfd(8192)));
                assertThrows(GuestMemoryException.class, () -> t.replace(
                        List.of(new MemoryRegion(0, 4096, U, 0), new MemoryRegion(0x10000, 8192, U + 0x10000, 0)),
                        List.of(memfd(4096), memfd(4096))));
                t.add(new MemoryRegion(0x10000, 4096, U + 0x10000, 0), memfd(4096));
                assertThrows(GuestMemoryException.class, () -> t.add(new MemoryRegion(0x10000, 4096, U + 0x20000, 0),
                        memfd(4096)));
                t.remove(new MemoryRegion(0, 8192, U, 0));
            }
        }
        assertEquals(before, openFds());
    }
}

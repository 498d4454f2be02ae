package dev.vhostd.sys;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class LibcTest {
    @Test
    void memfdMapsSharedAndPreadSeesWrites() {
        int fd = MemFd.create("libc-test", 8192);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment map = Libc.mmap(arena, 8192, Libc.PROT_READ | Libc.PROT_WRITE, Libc.MAP_SHARED, fd, 0);
            map.set(ValueLayout.JAVA_LONG, 4096, 0x1122334455667788L);
            MemorySegment buf = arena.allocate(8);
            assertEquals(8, Libc.pread(fd, buf, 8, 4096));
            assertEquals(0x1122334455667788L, buf.get(ValueLayout.JAVA_LONG, 0));
            assertEquals(8192, Libc.fstat(fd).size());
            assertTrue(Libc.fstat(fd).isRegular());
        } finally {
            Libc.close(fd);
        }
    }

    @Test
    void memsetFillsExactlyTheSegmentAndRefusesReadOnlyOnes() {
        try (Arena arena = Arena.ofConfined()) {
            for (long size : new long[] {0, 1, 4095, 65536, (1 << 20) + 3 * 4096 + 7}) {
                MemorySegment all = arena.allocate(size + 2);
                all.fill((byte) 0x5A);
                Libc.memset(all.asSlice(1, size), 0xC3);
                assertEquals((byte) 0x5A, all.get(ValueLayout.JAVA_BYTE, 0));
                assertEquals((byte) 0x5A, all.get(ValueLayout.JAVA_BYTE, size + 1));
                for (long i = 1; i <= size; i++) {
                    if (all.get(ValueLayout.JAVA_BYTE, i) != (byte) 0xC3) {
                        throw new AssertionError("byte " + i + " of " + size + " not set");
                    }
                }
            }
            MemorySegment ro = arena.allocate(64).asReadOnly();
            assertThrows(UnsupportedOperationException.class, () -> Libc.memset(ro, 0));
            assertEquals(0, ro.get(ValueLayout.JAVA_BYTE, 0));
        }
        Arena closed = Arena.ofConfined();
        MemorySegment gone = closed.allocate(64);
        closed.close();
        assertThrows(IllegalStateException.class, () -> Libc.memset(gone, 0));
    }

    @Test
    void preadv2ReturnsErrnoInsteadOfThrowing() {
        int fd = MemFd.create("libc-test", 4096);
        try (Arena arena = Arena.ofConfined()) {
            IoVec iov = new IoVec(arena, 1);
            MemorySegment buf = arena.allocate(4096);
            buf.fill((byte) 7);
            iov.add(buf);
            assertEquals(4096, iov.transfer2(true, fd, 0, 0));
            buf.fill((byte) 0);
            assertEquals(4096, iov.transfer2(false, fd, 0, 0));
            assertEquals(7, buf.get(ValueLayout.JAVA_BYTE, 4095));
            assertEquals(-Errno.EBADF, iov.transfer2(false, -1, 0, 0));
            assertEquals(-Errno.EOPNOTSUPP, iov.transfer2(false, fd, 0, 1 << 30), "unknown RWF flag");
        } finally {
            Libc.close(fd);
        }
    }

    @Test
    void timerFdFiresAtItsDeadlineOnTheNanoTimeClock() {
        EventFd reader = new EventFd();
        try (TimerFd t = new TimerFd(); Epoll ep = new Epoll(1)) {
            ep.add(t.fd(), Epoll.EPOLLIN, 1);
            // A deadline far enough ahead that a loaded machine cannot pass it before the check.
            t.armAt(System.nanoTime() + 60_000_000_000L);
            assertEquals(0, reader.drain(t.fd()), "not yet expired");
            long start = System.nanoTime();
            t.armAt(start + 30_000_000L);
            assertEquals(1, ep.await(5_000));
            assertTrue(System.nanoTime() - start >= 30_000_000L, "fired early");
            assertEquals(1, reader.drain(t.fd()));
            t.armAt(start);
            assertEquals(1, ep.await(5_000), "a past deadline fires at once");
            assertEquals(1, reader.drain(t.fd()));
            t.armAt(System.nanoTime() + 20_000_000L);
            t.disarm();
            assertEquals(0, ep.await(60), "a disarmed timer stays quiet");
        }
    }

    @Test
    void errnoIsReported() {
        ErrnoException e = assertThrows(ErrnoException.class, () -> Libc.close(-1));
        assertEquals(Errno.EBADF, e.errno());
        assertTrue(e.getMessage().contains("EBADF"), e.getMessage());
    }

    @Test
    void eventFdWakesEpoll() {
        int efd = EventFd.create();
        try (Epoll ep = new Epoll(4)) {
            ep.add(efd, Epoll.EPOLLIN, 42);
            assertEquals(0, ep.await(0));
            EventFd e = new EventFd();
            e.signal(efd);
            e.signal(efd);
            assertEquals(1, ep.await(1000));
            assertEquals(42, ep.token(0));
            assertEquals(2, e.drain(efd));
            assertEquals(0, e.drain(efd));
        } finally {
            Libc.close(efd);
        }
    }
}

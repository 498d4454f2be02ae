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

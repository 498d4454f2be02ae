package dev.vhostd.sys;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;

/**
 * An epoll instance with a preallocated event buffer, for one thread. Registrations carry a
 * caller-chosen 64-bit token that {@link #token(int)} returns for each ready event.
 */
public final class Epoll implements AutoCloseable {
    public static final int EPOLLIN = 0x001;
    public static final int EPOLLOUT = 0x004;
    public static final int EPOLLERR = 0x008;
    public static final int EPOLLHUP = 0x010;
    public static final int EPOLL_CTL_ADD = 1;
    public static final int EPOLL_CTL_DEL = 2;
    public static final int EPOLL_CTL_MOD = 3;
    /** struct epoll_event is packed on x86-64: u32 events, u64 data. */
    static final long EVENT_SIZE = 12;

    private final Arena arena = Arena.ofShared();
    private final int epfd;
    private final MemorySegment events;
    private final MemorySegment ctlEvent;
    private final int maxEvents;
    private boolean closed;

    public Epoll(int maxEvents) {
        this.maxEvents = maxEvents;
        this.epfd = Libc.epollCreate();
        this.events = arena.allocate(EVENT_SIZE * maxEvents, 8);
        this.ctlEvent = arena.allocate(EVENT_SIZE, 8);
    }

    public void add(int fd, int eventMask, long token) {
        ctl(EPOLL_CTL_ADD, fd, eventMask, token);
    }

    public void modify(int fd, int eventMask, long token) {
        ctl(EPOLL_CTL_MOD, fd, eventMask, token);
    }

    public void remove(int fd) {
        ctl(EPOLL_CTL_DEL, fd, 0, 0);
    }

    private synchronized void ctl(int op, int fd, int mask, long token) {
        ctlEvent.set(JAVA_INT_UNALIGNED, 0, mask);
        ctlEvent.set(JAVA_LONG_UNALIGNED, 4, token);
        Libc.epollCtl(epfd, op, fd, ctlEvent);
    }

    /** Waits up to {@code timeoutMs} (-1 forever); returns how many events are ready. */
    public int await(int timeoutMs) {
        return Libc.epollWait(epfd, events, maxEvents, timeoutMs);
    }

    public int events(int i) {
        checkIndex(i);
        return events.get(JAVA_INT_UNALIGNED, i * EVENT_SIZE);
    }

    public long token(int i) {
        checkIndex(i);
        return events.get(JAVA_LONG_UNALIGNED, i * EVENT_SIZE + 4);
    }

    private void checkIndex(int i) {
        if (i < 0 || i >= maxEvents) {
            throw new IndexOutOfBoundsException(i);
        }
    }

    @Override
    public synchronized void close() {
        if (!closed) {
            closed = true;
            Libc.close(epfd);
            arena.close();
        }
    }
}

package dev.vhostd.sys;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * A non-blocking timerfd on CLOCK_MONOTONIC, armed at absolute {@link System#nanoTime()} values
 * (the JDK reads the same clock on Linux). It becomes readable when the deadline passes; read it
 * with {@link EventFd#drain} (both hand out an 8-byte counter). One thread uses an instance.
 */
public final class TimerFd implements AutoCloseable {
    private final OwnedFd fd;
    private final Arena arena = Arena.ofShared();
    /** struct itimerspec: it_interval {sec, nsec}, it_value {sec, nsec}. */
    private final MemorySegment spec = arena.allocate(32, 8);

    public TimerFd() {
        this.fd = new OwnedFd(Libc.timerfdCreate(Libc.TFD_NONBLOCK | Libc.TFD_CLOEXEC));
    }

    public int fd() {
        return fd.fd();
    }

    /** Fires once at {@code deadlineNanos} (a System.nanoTime value; a past one fires at once). */
    public void armAt(long deadlineNanos) {
        // it_value all zero would disarm: the clock's zero is long past, so 1 ns fires at once too.
        long at = Math.max(1, deadlineNanos);
        spec.set(JAVA_LONG, 0, 0L);
        spec.set(JAVA_LONG, 8, 0L);
        spec.set(JAVA_LONG, 16, at / 1_000_000_000L);
        spec.set(JAVA_LONG, 24, at % 1_000_000_000L);
        Libc.timerfdSettime(fd.fd(), Libc.TFD_TIMER_ABSTIME, spec);
    }

    /** Stops the timer; a pending expiry already counted stays readable until drained. */
    public void disarm() {
        spec.fill((byte) 0);
        Libc.timerfdSettime(fd.fd(), Libc.TFD_TIMER_ABSTIME, spec);
    }

    @Override
    public void close() {
        if (fd.isOpen()) {
            fd.close();
            arena.close();
        }
    }
}

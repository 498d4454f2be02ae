package dev.vhostd.sys;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * What the kernel counts for the calling thread (getrusage RUSAGE_THREAD). Each instance owns its
 * buffer, so a thread keeps its own and a call allocates nothing.
 */
public final class ThreadUsage {
    private final MemorySegment buffer = Arena.ofAuto().allocate(Libc.RUSAGE_SIZE, 8);

    /**
     * How often the calling thread has been preempted: taken off its CPU while it could still run,
     * because another thread was given the CPU (ru_nivcsw).
     */
    public long involuntarySwitches() {
        Libc.getrusage(Libc.RUSAGE_THREAD, buffer);
        return buffer.get(JAVA_LONG, Libc.RUSAGE_NIVCSW_OFFSET);
    }
}

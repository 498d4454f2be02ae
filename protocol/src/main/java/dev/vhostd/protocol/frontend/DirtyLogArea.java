package dev.vhostd.protocol.frontend;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;

import dev.vhostd.sys.Libc;
import dev.vhostd.sys.MemFd;
import dev.vhostd.sys.OwnedFd;

/**
 * The front-end's side of a dirty-page log (what QEMU allocates when a migration starts): a memfd
 * bitmap shared with the back-end, one bit per 4 KiB guest page. {@link #takeAll()} reads and clears
 * it atomically word by word, as QEMU's dirty-bitmap sync does.
 */
public final class DirtyLogArea implements AutoCloseable {
    private static final VarHandle WORD = ValueLayout.JAVA_LONG.varHandle().withInvokeExactBehavior();

    private final OwnedFd fd;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment bits;

    DirtyLogArea(long bytes) {
        if (bytes <= 0 || bytes % 8 != 0) {
            throw new IllegalArgumentException("log size must be a positive multiple of 8, got " + bytes);
        }
        this.fd = new OwnedFd(MemFd.create("vhostd-frontend-dirty-log", bytes));
        try {
            this.bits = Libc.mmap(arena, bytes, Libc.PROT_READ | Libc.PROT_WRITE, Libc.MAP_SHARED, fd.fd(), 0);
        } catch (RuntimeException e) {
            fd.close();
            arena.close();
            throw e;
        }
    }

    public int fd() {
        return fd.fd();
    }

    public long sizeBytes() {
        return bits.byteSize();
    }

    /** Takes and clears every bit; returns how many pages were dirty. */
    public long takeAll() {
        long pages = 0;
        for (long off = 0; off < bits.byteSize(); off += 8) {
            if ((long) WORD.getOpaque(bits, off) != 0) {
                pages += Long.bitCount((long) WORD.getAndSet(bits, off, 0L));
            }
        }
        return pages;
    }

    @Override
    public void close() {
        arena.close();
        fd.close();
    }
}

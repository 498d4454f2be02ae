package dev.vhostd.protocol.engine;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import dev.vhostd.protocol.virtq.InflightLog;
import dev.vhostd.sys.ErrnoException;
import dev.vhostd.sys.Libc;
import dev.vhostd.sys.MemFd;
import dev.vhostd.sys.OwnedFd;

/**
 * The shared memory of INFLIGHT_SHMFD: one {@link InflightLog} area per queue, back to back. vhostd
 * creates it for GET_INFLIGHT_FD; the front-end keeps it and hands it back with SET_INFLIGHT_FD,
 * also to a restarted vhostd, which finds there what its predecessor had in flight.
 */
final class InflightArea implements AutoCloseable {
    /** Page size for the mmap offset check. */
    private static final long PAGE = 4096;

    final int numQueues;
    final int queueSize;
    private final long queueBytes;
    private final OwnedFd fd;
    private final Arena arena;
    private final MemorySegment memory;
    private final long offset;

    private InflightArea(int numQueues, int queueSize, OwnedFd fd, Arena arena, MemorySegment memory, long offset) {
        this.offset = offset;
        this.numQueues = numQueues;
        this.queueSize = queueSize;
        this.queueBytes = InflightLog.areaSize(queueSize);
        this.fd = fd;
        this.arena = arena;
        this.memory = memory;
    }

    static long bytes(int numQueues, int queueSize) {
        return numQueues * InflightLog.areaSize(queueSize);
    }

    /**
     * A new zeroed area in a memfd (GET_INFLIGHT_FD), its size sealed: the front-end keeps the fd
     * and may write the area, but cannot truncate it under our mapping.
     */
    static InflightArea create(int numQueues, int queueSize) {
        long size = bytes(numQueues, queueSize);
        OwnedFd fd = new OwnedFd(MemFd.createSealed("vhostd-inflight", size));
        return map(numQueues, queueSize, fd, size, 0);
    }

    /**
     * The front-end's area (SET_INFLIGHT_FD). Checks that it is large enough for the queues and
     * ring size it claims and lies inside the file; takes ownership of {@code fd}.
     *
     * @throws IllegalArgumentException saying what is wrong; {@code fd} has been closed
     */
    static InflightArea adopt(int numQueues, int queueSize, long mmapSize, long mmapOffset, OwnedFd fd) {
        try {
            long needed = bytes(numQueues, queueSize);
            if (mmapSize < needed) {
                throw new IllegalArgumentException("mmap_size " + mmapSize + " is smaller than the " + needed
                        + " bytes " + numQueues + " queues of " + queueSize + " need");
            }
            if (mmapOffset % PAGE != 0) {
                throw new IllegalArgumentException("mmap_offset " + mmapOffset + " is not page-aligned");
            }
            long fileSize = Libc.fstat(fd.fd()).size();
            if (mmapOffset > fileSize || mmapSize > fileSize - mmapOffset) {
                throw new IllegalArgumentException("range " + mmapOffset + "+" + mmapSize + " extends past the "
                        + fileSize + "-byte file");
            }
            return map(numQueues, queueSize, fd, needed, mmapOffset);
        } catch (ErrnoException e) {
            fd.close();
            throw new IllegalArgumentException("cannot map it: " + e.getMessage(), e);
        } catch (RuntimeException e) {
            fd.close();
            throw e;
        }
    }

    private static InflightArea map(int numQueues, int queueSize, OwnedFd fd, long size, long offset) {
        Arena arena = Arena.ofShared();
        try {
            MemorySegment m = Libc.mmap(arena, size, Libc.PROT_READ | Libc.PROT_WRITE, Libc.MAP_SHARED, fd.fd(), offset);
            return new InflightArea(numQueues, queueSize, fd, arena, m, offset);
        } catch (RuntimeException e) {
            arena.close();
            fd.close();
            throw e;
        }
    }

    int fd() {
        return fd.fd();
    }

    long mappedBytes() {
        return memory.byteSize();
    }

    /** Queue {@code index}'s area. */
    MemorySegment queue(int index) {
        return memory.asSlice(index * queueBytes, queueBytes);
    }

    /** True if this area's file can shrink under our mapping (a front-end's unsealed SET_INFLIGHT_FD area). */
    boolean canShrink() {
        return !MemFd.mappingCannotFault(fd.fd());
    }

    /** After an access faulted: a description of the area if its file no longer covers the mapping, else null. */
    String shrunk() {
        long end = offset + memory.byteSize();
        try {
            long now = Libc.fstat(fd.fd()).size();
            return now < end ? "the inflight area (SET_INFLIGHT_FD): its file now holds " + now
                    + " bytes, the mapping needs " + end : null;
        } catch (ErrnoException e) {
            return "the inflight area: its file cannot be inspected (" + e.getMessage() + ")";
        }
    }

    @Override
    public void close() {
        if (fd.isOpen()) {
            arena.close();
            fd.close();
        }
    }
}

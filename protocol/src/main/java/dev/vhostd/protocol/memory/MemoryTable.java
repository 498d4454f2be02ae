package dev.vhostd.protocol.memory;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

import dev.vhostd.protocol.wire.Message;
import dev.vhostd.sys.ErrnoException;
import dev.vhostd.sys.Libc;
import dev.vhostd.sys.MemFd;
import dev.vhostd.sys.OwnedFd;

import static dev.vhostd.protocol.memory.GuestMemoryException.hex;

/**
 * The guest memory of one connection: owns the region fds the front-end passed and their mappings,
 * and hands out immutable {@link GuestMemory} snapshots.
 *
 * <p>Threading: mutations (SET_MEM_TABLE, ADD_MEM_REG, REM_MEM_REG, close) come from the connection
 * thread. They unmap memory that older snapshots still point to, so <b>the caller (the engine) must
 * quiesce every ring that uses the current snapshot before calling {@link #replace}, {@link #remove} or
 * {@link #close}</b>, and give restarted rings the new {@link #snapshot()}. Touching an unmapped snapshot
 * fails with IllegalStateException (the arena is closed), never with a crash. {@link #add} only adds
 * memory, so old snapshots stay valid.
 *
 * <p>Ownership of fds: every fd passed in is owned by the table from the call on. On success it is kept
 * until its region goes away; on failure it is closed before the exception is thrown.
 */
public final class MemoryTable implements AutoCloseable {
    /** mmap(2) offsets must be multiples of the page size; 4 KiB on x86-64 (QEMU's RAM blocks use it or more). */
    static final long PAGE_SIZE = 4096;

    private final int maxSlots;
    private final List<Mapped> entries = new ArrayList<>();
    private volatile GuestMemory snapshot = GuestMemory.EMPTY;
    private boolean closed;

    /** One mapped region: its own shared arena so it can be unmapped alone. */
    private record Mapped(Message.MemoryRegion wire, GuestRegion region, Arena arena, OwnedFd fd) {
        void release() {
            try {
                arena.close();
            } finally {
                fd.close();
            }
        }
    }

    public MemoryTable(int maxSlots) {
        if (maxSlots < 1) {
            throw new IllegalArgumentException("maxSlots must be at least 1, got " + maxSlots);
        }
        this.maxSlots = maxSlots;
    }

    /** The current immutable view of guest memory. */
    public GuestMemory snapshot() {
        return snapshot;
    }

    /** Number of regions currently mapped. */
    public synchronized int slots() {
        return entries.size();
    }

    public int maxSlots() {
        return maxSlots;
    }

    public long mappedBytes() {
        return snapshot.mappedBytes();
    }

    /**
     * SET_MEM_TABLE: validates all regions against each other and their fds, maps them, then swaps them
     * in and unmaps the previous table. On failure the previous table stays in place.
     */
    public synchronized void replace(List<Message.MemoryRegion> regions, List<OwnedFd> fds) {
        try {
            checkOpen();
            if (regions.size() != fds.size()) {
                throw new GuestMemoryException("SET_MEM_TABLE lists " + regions.size() + " regions but carries "
                        + fds.size() + " fds; each region needs exactly one fd");
            }
            if (regions.isEmpty() || regions.size() > maxSlots) {
                throw new GuestMemoryException("SET_MEM_TABLE with " + regions.size()
                        + " regions; this back-end accepts 1.." + maxSlots);
            }
        } catch (RuntimeException e) {
            closeAll(fds, e);
            throw e;
        }
        List<Mapped> fresh = new ArrayList<>(regions.size());
        GuestMemory next;
        try {
            for (int i = 0; i < regions.size(); i++) {
                checkShape(regions.get(i), fds.get(i));
            }
            for (int i = 0; i < regions.size(); i++) {
                fresh.add(map(regions.get(i), fds.get(i)));
            }
            next = GuestMemory.of(fresh.stream().map(Mapped::region).toList());
        } catch (RuntimeException e) {
            // The fds not yet wrapped in a mapping are closed here; mapped ones by release().
            for (int i = fresh.size(); i < fds.size(); i++) {
                closeQuietly(fds.get(i), e);
            }
            for (Mapped m : fresh) {
                releaseQuietly(m, e);
            }
            throw asMemoryException(e, "SET_MEM_TABLE refused, the previous memory table stays in use");
        }
        List<Mapped> old = List.copyOf(entries);
        entries.clear();
        entries.addAll(fresh);
        snapshot = next;
        releaseAll(old);
    }

    /** ADD_MEM_REG: maps one more region; it may not overlap the existing ones. */
    public synchronized void add(Message.MemoryRegion region, OwnedFd fd) {
        Mapped m = null;
        try {
            checkOpen();
            if (entries.size() >= maxSlots) {
                throw new GuestMemoryException("ADD_MEM_REG beyond the " + maxSlots + " memory slots this back-end"
                        + " supports (VHOST_USER_GET_MAX_MEM_SLOTS)");
            }
            checkShape(region, fd);
            m = map(region, fd);
            List<GuestRegion> all = new ArrayList<>(entries.size() + 1);
            for (Mapped e : entries) {
                all.add(e.region());
            }
            all.add(m.region());
            GuestMemory next = GuestMemory.of(all);
            entries.add(m);
            snapshot = next;
        } catch (RuntimeException e) {
            if (m != null) {
                releaseQuietly(m, e);
            } else {
                closeQuietly(fd, e);
            }
            throw asMemoryException(e, "ADD_MEM_REG refused");
        }
    }

    /**
     * REM_MEM_REG: unmaps the region with the same guest address, size and user address (the mmap
     * offset is not compared: QEMU sends the region as it was added, but the offset says nothing about
     * which region is meant).
     */
    public synchronized void remove(Message.MemoryRegion region) {
        checkOpen();
        for (int i = 0; i < entries.size(); i++) {
            Message.MemoryRegion w = entries.get(i).wire();
            if (w.guestPhysAddr() == region.guestPhysAddr() && w.size() == region.size()
                    && w.userAddr() == region.userAddr()) {
                Mapped m = entries.remove(i);
                snapshot = GuestMemory.of(entries.stream().map(Mapped::region).toList());
                m.release();
                return;
            }
        }
        throw new GuestMemoryException("REM_MEM_REG for unknown region gpa " + hex(region.guestPhysAddr()) + " size "
                + hex(region.size()) + " uaddr " + hex(region.userAddr()) + "; current table: " + snapshot);
    }

    /** The regions whose file is not sealed against shrinking, described for a log line; empty if none. */
    public synchronized List<String> regionsThatCanShrink() {
        List<String> out = new ArrayList<>();
        for (Mapped m : entries) {
            if (!m.region().cannotFault()) {
                out.add(m.region().toString());
            }
        }
        return out;
    }

    /**
     * After an access faulted: the regions whose file no longer covers the mapped range (a front-end
     * truncated it), described for the log; empty if every file is still large enough.
     */
    public synchronized List<String> shrunkRegions() {
        List<String> out = new ArrayList<>();
        for (Mapped m : entries) {
            long end = m.wire().mmapOffset() + m.wire().size();
            try {
                long now = Libc.fstat(m.fd().fd()).size();
                if (now < end) {
                    out.add(m.region() + ": its file now holds " + now + " bytes, the mapping needs " + end);
                }
            } catch (ErrnoException e) {
                out.add(m.region() + ": its file cannot be inspected (" + e.getMessage() + ")");
            }
        }
        return out;
    }

    /** Unmaps every region and closes every fd. Idempotent. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        snapshot = GuestMemory.EMPTY;
        List<Mapped> old = List.copyOf(entries);
        entries.clear();
        releaseAll(old);
    }

    private void checkOpen() {
        if (closed) {
            throw new GuestMemoryException("memory table already closed (connection shutting down)");
        }
    }

    /**
     * Everything that can be checked before mapping: positive size, no wrap-around, and the region
     * must lie inside its fd. A mapping beyond the end of the file would map fine but raise SIGBUS
     * (killing the JVM) on first touch, so this check is what keeps a hostile front-end from crashing us.
     */
    private static void checkShape(Message.MemoryRegion r, OwnedFd fd) {
        if (fd == null) {
            throw new GuestMemoryException("region at gpa " + hex(r.guestPhysAddr()) + " has no fd");
        }
        if (r.size() <= 0) {
            throw new GuestMemoryException("region at gpa " + hex(r.guestPhysAddr()) + " has size "
                    + Long.toUnsignedString(r.size()) + "; sizes must be positive and below 2^63");
        }
        if (r.mmapOffset() < 0) {
            throw new GuestMemoryException("region at gpa " + hex(r.guestPhysAddr()) + " has mmap offset "
                    + hex(r.mmapOffset()) + ", beyond any file");
        }
        if (Long.compareUnsigned(r.guestPhysAddr() + r.size(), r.guestPhysAddr()) <= 0
                || Long.compareUnsigned(r.userAddr() + r.size(), r.userAddr()) <= 0) {
            throw new GuestMemoryException("region gpa " + hex(r.guestPhysAddr()) + " uaddr " + hex(r.userAddr())
                    + " size " + hex(r.size()) + " wraps past the end of the 64-bit address space");
        }
        long end;
        try {
            end = Math.addExact(r.mmapOffset(), r.size());
        } catch (ArithmeticException e) {
            throw new GuestMemoryException("region at gpa " + hex(r.guestPhysAddr()) + ": mmap offset "
                    + hex(r.mmapOffset()) + " + size " + hex(r.size()) + " overflows");
        }
        Libc.FileStat st = Libc.fstat(fd.fd());
        if (Long.compareUnsigned(end, st.size()) > 0) {
            throw new GuestMemoryException("region at gpa " + hex(r.guestPhysAddr()) + " needs bytes "
                    + hex(r.mmapOffset()) + ".." + hex(end) + " of its fd, but the fd holds only " + hex(st.size())
                    + " bytes; mapping it would crash on access. Check the front-end's memory backend size");
        }
    }

    /** Maps one region from the page-aligned offset at or below its mmap offset, and slices off the head. */
    private static Mapped map(Message.MemoryRegion r, OwnedFd fd) {
        long aligned = r.mmapOffset() & -PAGE_SIZE;
        long head = r.mmapOffset() - aligned;
        long length = Math.addExact(r.size(), head);
        Arena arena = Arena.ofShared();
        try {
            MemorySegment whole = Libc.mmap(arena, length, Libc.PROT_READ | Libc.PROT_WRITE, Libc.MAP_SHARED,
                    fd.fd(), aligned);
            GuestRegion region = new GuestRegion(r.guestPhysAddr(), r.size(), r.userAddr(), whole.asSlice(head, r.size()),
                    MemFd.mappingCannotFault(fd.fd()));
            return new Mapped(r, region, arena, fd);
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    private static GuestMemoryException asMemoryException(RuntimeException e, String context) {
        if (e instanceof GuestMemoryException g) {
            return new GuestMemoryException(context + ": " + g.getMessage(), g);
        }
        return new GuestMemoryException(context + ": " + e, e);
    }

    private static void releaseAll(List<Mapped> list) {
        RuntimeException first = null;
        for (Mapped m : list) {
            try {
                m.release();
            } catch (RuntimeException e) {
                if (first == null) {
                    first = e;
                } else {
                    first.addSuppressed(e);
                }
            }
        }
        if (first != null) {
            throw first;
        }
    }

    private static void releaseQuietly(Mapped m, RuntimeException primary) {
        try {
            m.release();
        } catch (RuntimeException e) {
            primary.addSuppressed(e);
        }
    }

    private static void closeQuietly(OwnedFd fd, RuntimeException primary) {
        if (fd == null) {
            return;
        }
        try {
            fd.close();
        } catch (RuntimeException e) {
            primary.addSuppressed(e);
        }
    }

    private static void closeAll(List<OwnedFd> fds, RuntimeException primary) {
        for (OwnedFd fd : fds) {
            closeQuietly(fd, primary);
        }
    }
}

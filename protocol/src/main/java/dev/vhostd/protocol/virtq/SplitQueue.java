package dev.vhostd.protocol.virtq;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;

import dev.vhostd.protocol.memory.DirtyLog;
import dev.vhostd.protocol.memory.GuestMemory;
import dev.vhostd.protocol.memory.GuestMemoryException;

/**
 * The device side of one split virtqueue (virtio 1.x section 2.7; section numbers below follow virtio
 * 1.2, titles quoted where it helps to find them in other versions): pops descriptor chains the driver
 * made available, validating every field the guest controls, and returns them through the used ring
 * with EVENT_IDX or flag based notification suppression.
 *
 * <p>Not thread-safe: one poller thread owns a queue at a time (handing it to another thread needs a
 * happens-before edge, as any executor hand-off gives). The hot path ({@link #pop}, {@link #addUsed},
 * {@link #publishUsed}, {@link #enableNotifications}) allocates nothing except exceptions for bad
 * guest input.
 *
 * <p>Ring layout (all little-endian, section 2.7): descriptor {@code {le64 addr; le32 len; le16 flags;
 * le16 next}}; avail {@code {le16 flags; le16 idx; le16 ring[size]; le16 used_event}}; used
 * {@code {le16 flags; le16 idx; {le32 id; le32 len} ring[size]; le16 avail_event}}.
 */
public final class SplitQueue {
    /** Largest split queue size (section 2.7: Queue Size is at most 32768). */
    public static final int MAX_SIZE = 32768;

    static final int VIRTQ_DESC_F_NEXT = 1;
    static final int VIRTQ_DESC_F_WRITE = 2;
    static final int VIRTQ_DESC_F_INDIRECT = 4;
    static final int VIRTQ_AVAIL_F_NO_INTERRUPT = 1;
    static final int VIRTQ_USED_F_NO_NOTIFY = 1;

    static final int DESC_SIZE = 16;
    /** Section 2.7 alignment requirements for the three ring parts. */
    static final int DESC_ALIGN = 16;
    static final int AVAIL_ALIGN = 2;
    static final int USED_ALIGN = 4;
    static final long RING_IDX = 2;
    static final long RING_ENTRIES = 4;

    /** A chain's total length must stay below 2^32 (section 2.7.5.2, driver normative). */
    static final long MAX_CHAIN_BYTES = 0xFFFF_FFFFL;

    private static final ValueLayout.OfLong LE64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt LE32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort LE16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    /** Aligned u16 for the ring indices: the only fields read with acquire / written with release. */
    private static final VarHandle IDX = ValueLayout.JAVA_SHORT.withOrder(ByteOrder.LITTLE_ENDIAN)
            .varHandle().withInvokeExactBehavior();

    private final GuestMemory mem;
    private final int size;
    private final int mask;
    private final boolean eventIdx;
    private final MemorySegment desc;
    private final MemorySegment avail;
    private final MemorySegment used;
    private final long usedEventOffset;
    private final long availEventOffset;

    /** Next avail ring slot to read (u16, free-running): the value GET_VRING_BASE reports. */
    private int nextAvail;
    /** Last avail idx read with acquire; entries below it are visible without another acquire. */
    private int cachedAvailIdx;
    /** Used idx including elements added but not yet published (u16). */
    private int shadowUsed;
    /** Used idx as last published to the driver (u16). */
    private int publishedUsed;
    /**
     * Heads popped and not yet returned through a published used idx. A driver can have at most
     * Queue Size buffers outstanding (each holds a descriptor), so a pop beyond that means it re-posted
     * heads the device still holds; without this limit such a guest would make the device add more
     * than Queue Size used elements before a publish.
     */
    private int outstanding;
    private String broken;
    /** Inflight tracking for crash recovery (INFLIGHT_SHMFD), or null. */
    private InflightLog inflight;
    /** What the last pop returned, so {@link #unpop} can put exactly that back: -1 when nothing can be. */
    private int lastPopped = -1;
    private boolean lastPopResubmitted;
    /** The dirty-page log while the front-end migrates (VHOST_F_LOG_ALL), else null. */
    private DirtyLog dirtyLog;
    /** Where used-ring writes are logged (the ring's log_guest_addr with VHOST_VRING_F_LOG), or -1: not logged. */
    private long usedLogAddr = -1;

    private SplitQueue(GuestMemory mem, int size, MemorySegment desc, MemorySegment avail, MemorySegment used,
            int nextAvail, boolean eventIdx) {
        this.mem = mem;
        this.size = size;
        this.mask = size - 1;
        this.eventIdx = eventIdx;
        this.desc = desc;
        this.avail = avail;
        this.used = used;
        // Our own mapping must keep the alignment the guest address had, or aligned access would fail;
        // it does unless the front-end's user address and mmap offset disagree about page offsets.
        checkAligned(desc.address(), DESC_ALIGN, "descriptor table mapping");
        checkAligned(avail.address(), AVAIL_ALIGN, "available ring mapping");
        checkAligned(used.address(), USED_ALIGN, "used ring mapping");
        this.usedEventOffset = RING_ENTRIES + 2L * size;
        this.availEventOffset = RING_ENTRIES + 8L * size;
        this.nextAvail = nextAvail;
        this.cachedAvailIdx = nextAvail;
        // vhost-user: the back-end resumes from the used idx the ring already holds; SET_VRING_BASE
        // supplied only the avail side (QEMU docs/interop/vhost-user.rst, "Starting and stopping rings").
        int usedIdx = Short.toUnsignedInt((short) IDX.getAcquire(used, RING_IDX));
        this.shadowUsed = usedIdx;
        this.publishedUsed = usedIdx;
    }

    /**
     * A queue whose ring addresses are front-end virtual addresses, as SET_VRING_ADDR sends them.
     *
     * @param nextAvail the avail index to continue from (SET_VRING_BASE), 0..65535
     * @throws IllegalArgumentException naming the bad value if the size, an alignment or a ring's place
     *         in guest memory is invalid
     */
    public static SplitQueue fromUserAddresses(GuestMemory mem, int size, long descUserAddr, long availUserAddr,
            long usedUserAddr, int nextAvail, boolean eventIdx) {
        checkGeometry(size, descUserAddr, availUserAddr, usedUserAddr, nextAvail, "front-end address");
        return new SplitQueue(mem, size,
                ring(() -> mem.sliceUser(descUserAddr, descBytes(size)), "descriptor table", descUserAddr),
                ring(() -> mem.sliceUser(availUserAddr, availBytes(size)), "available ring", availUserAddr),
                ring(() -> mem.sliceUser(usedUserAddr, usedBytes(size)), "used ring", usedUserAddr),
                nextAvail, eventIdx);
    }

    /** A queue whose ring addresses are guest-physical (as a guest driver programs them). */
    public static SplitQueue fromGuestAddresses(GuestMemory mem, int size, long descGpa, long availGpa, long usedGpa,
            int nextAvail, boolean eventIdx) {
        checkGeometry(size, descGpa, availGpa, usedGpa, nextAvail, "guest address");
        return new SplitQueue(mem, size,
                ring(() -> mem.slice(descGpa, descBytes(size)), "descriptor table", descGpa),
                ring(() -> mem.slice(availGpa, availBytes(size)), "available ring", availGpa),
                ring(() -> mem.slice(usedGpa, usedBytes(size)), "used ring", usedGpa),
                nextAvail, eventIdx);
    }

    /** Bytes of the descriptor table: 16 per entry. */
    public static long descBytes(int size) {
        return (long) DESC_SIZE * size;
    }

    /** Bytes of the available ring including the trailing used_event. */
    public static long availBytes(int size) {
        return 6 + 2L * size;
    }

    /** Bytes of the used ring including the trailing avail_event. */
    public static long usedBytes(int size) {
        return 6 + 8L * size;
    }

    private static void checkGeometry(int size, long desc, long avail, long used, int nextAvail, String kind) {
        if (size < 1 || size > MAX_SIZE || Integer.bitCount(size) != 1) {
            throw new IllegalArgumentException("queue size " + size + " is not a power of two in 1.." + MAX_SIZE
                    + " (virtio 1.x section 2.7)");
        }
        if (nextAvail < 0 || nextAvail > 0xFFFF) {
            throw new IllegalArgumentException("ring base " + nextAvail + " is not a 16-bit index");
        }
        checkAligned(desc, DESC_ALIGN, "descriptor table " + kind);
        checkAligned(avail, AVAIL_ALIGN, "available ring " + kind);
        checkAligned(used, USED_ALIGN, "used ring " + kind);
    }

    private static void checkAligned(long address, int alignment, String what) {
        if ((address & (alignment - 1)) != 0) {
            throw new IllegalArgumentException(what + " 0x" + Long.toHexString(address) + " is not " + alignment
                    + "-byte aligned (virtio 1.x section 2.7)");
        }
    }

    private interface Slicer {
        MemorySegment slice();
    }

    private static MemorySegment ring(Slicer s, String what, long address) {
        try {
            return s.slice();
        } catch (GuestMemoryException e) {
            throw new IllegalArgumentException(what + " at 0x" + Long.toHexString(address)
                    + " does not lie inside one guest memory region: " + e.getMessage(), e);
        }
    }

    public int size() {
        return size;
    }

    public boolean eventIdx() {
        return eventIdx;
    }

    /** The next avail index this queue will read: what GET_VRING_BASE returns after the ring stops. */
    public int nextAvail() {
        return nextAvail;
    }

    /** The used idx last published to the driver. */
    public int publishedUsed() {
        return publishedUsed;
    }

    /** True once the ring was found inconsistent; every later {@link #pop} throws. */
    public boolean isBroken() {
        return broken != null;
    }

    /**
     * Tracks this queue's requests in {@code area} (vhost-user INFLIGHT_SHMFD) from now on. If the
     * area records requests a crashed back-end had taken and not completed, the next {@link #pop}s
     * return those again, oldest first, and the avail side continues after them: at the used idx
     * plus their number, whatever SET_VRING_BASE said (the front-end, unable to ask a dead back-end,
     * rewinds to the used idx). Call before the first pop.
     *
     * @return how many requests will be processed again
     * @throws IllegalArgumentException if the area is unusable (see {@link InflightLog#open})
     */
    public int trackInflight(MemorySegment area) {
        InflightLog log = InflightLog.open(area, size, publishedUsed);
        int again = log.resubmitPending();
        if (again > size) {
            throw new IllegalArgumentException(again + " requests in flight for a ring of " + size);
        }
        inflight = log;
        nextAvail = (publishedUsed + again) & 0xFFFF;
        cachedAvailIdx = nextAvail;
        return again;
    }

    /** Like {@link #trackInflight}, but discards whatever {@code area} recorded. */
    public void trackInflightAfresh(MemorySegment area) {
        inflight = InflightLog.reset(area, size, publishedUsed);
    }

    /**
     * Sets where this queue's writes are logged: {@code log} (null: logging off) and, for a ring set
     * up with VHOST_VRING_F_LOG, the log address of the used ring ({@code -1}: used-ring writes are not
     * logged). Call on the thread that owns the queue, between batches: the device reads
     * {@link #dirtyLog()} for its own writes, this queue for its used-ring writes.
     */
    public void logTo(DirtyLog log, long usedRingLogAddr) {
        this.dirtyLog = log;
        this.usedLogAddr = usedRingLogAddr;
    }

    /** The dirty log in effect for this batch, or null while the front-end is not migrating. */
    public DirtyLog dirtyLog() {
        return dirtyLog;
    }

    /** Bytes {@code [offset, offset + length)} of the used ring were written: log them if asked to. */
    private void logUsed(long offset, long length) {
        if (dirtyLog != null && usedLogAddr != -1) {
            dirtyLog.mark(usedLogAddr + offset, length);
        }
    }

    /** How many chains the driver has made available beyond {@link #nextAvail()} (reads avail idx). */
    public int pendingAvail() {
        cachedAvailIdx = loadAvailIdx();
        return (cachedAvailIdx - nextAvail) & 0xFFFF;
    }

    private int loadAvailIdx() {
        return Short.toUnsignedInt((short) IDX.getAcquire(avail, RING_IDX));
    }

    /**
     * Pops the next available chain into {@code out}. Returns false if the driver has made nothing new
     * available.
     *
     * @throws InvalidChainException if the chain breaks a rule; the queue has moved past it and the
     *         caller must complete {@code e.head()} with an error
     * @throws QueueBrokenException if the ring itself is inconsistent; the queue cannot continue
     */
    public boolean pop(DescriptorChain out) {
        if (out.capacity() < size) {
            throw new IllegalArgumentException("chain holder of capacity " + out.capacity() + " for a queue of " + size);
        }
        if (broken != null) {
            throw new QueueBrokenException(broken);
        }
        lastPopped = -1;
        if (inflight != null && inflight.resubmitPending() > 0) {
            checkOutstanding();
            int head = inflight.nextResubmit();
            inflight.popped(head);
            lastPopped = head;
            lastPopResubmitted = true;
            walk(head, out);
            return true;
        }
        if (nextAvail == cachedAvailIdx) {
            // Acquire pairs with the driver's release (its write barrier before the idx store,
            // section 2.7.13.3 "Updating idx"), making the ring entries and descriptors below idx visible.
            cachedAvailIdx = loadAvailIdx();
        }
        // Checked on every pop, not only after a load: enableNotifications() and pendingAvail() also
        // refresh the cached idx.
        int pending = (cachedAvailIdx - nextAvail) & 0xFFFF;
        // Limit: the driver can have at most Queue Size entries outstanding, so avail idx runs ahead of
        // what we consumed by at most size (section 2.7.6: ring[] has Queue Size slots).
        if (pending > size) {
            throw breakQueue("available index " + cachedAvailIdx + " is " + pending
                    + " entries ahead of the device's next index " + nextAvail + ", more than the queue size "
                    + size);
        }
        if (pending == 0) {
            return false;
        }
        checkOutstanding();
        int head = Short.toUnsignedInt(avail.get(LE16, RING_ENTRIES + 2L * (nextAvail & mask)));
        // Limit: a head is a descriptor table index, below Queue Size (section 2.7.5). With a head out of
        // range there is no id we could complete in the used ring, so the queue cannot go on.
        if (head >= size) {
            throw breakQueue("available ring slot " + (nextAvail & mask) + " names head " + head
                    + ", beyond the queue size " + size);
        }
        nextAvail = (nextAvail + 1) & 0xFFFF;
        if (inflight != null) {
            inflight.popped(head);
        }
        lastPopped = head;
        lastPopResubmitted = false;
        walk(head, out);
        return true;
    }

    /**
     * Puts back the chain the last {@link #pop} returned, which the device decided not to take yet
     * (its disk is over a rate limit): the next pop returns it again and the driver sees it still
     * pending. Only directly after a pop that returned true, before anything else touches the queue.
     *
     * @throws IllegalStateException if there is no such pop to undo
     */
    public void unpop() {
        if (lastPopped < 0) {
            throw new IllegalStateException("nothing to put back: unpop must follow a successful pop");
        }
        if (lastPopResubmitted) {
            // Still in flight from before the crash: its inflight entry stays set.
            inflight.unresubmit();
        } else {
            nextAvail = (nextAvail - 1) & 0xFFFF;
            if (inflight != null) {
                inflight.unpopped(lastPopped);
            }
        }
        outstanding--;
        lastPopped = -1;
    }

    /** Counts the head about to be popped; refuses one beyond the Queue Size a driver can have outstanding. */
    private void checkOutstanding() {
        // Limit: at most Queue Size buffers in use by the device at once (section 2.7.6: the driver
        // reuses a head only after the device returned it in the used ring).
        if (outstanding >= size) {
            throw breakQueue("the driver made a buffer available while all " + size + " of the queue's buffers"
                    + " were still with the device (it re-posted heads before they were returned as used)");
        }
        outstanding++;
    }

    private QueueBrokenException breakQueue(String reason) {
        broken = reason;
        return new QueueBrokenException(reason);
    }

    /**
     * Follows the chain from {@code head}, resolving at most one indirect table, and records every
     * buffer. Reads only the descriptor table slice and indirect tables found inside one region.
     */
    private void walk(int head, DescriptorChain out) {
        out.reset(head);
        MemorySegment table = desc;
        long base = 0;
        long tableLen = size;
        boolean inIndirect = false;
        boolean seenWritable = false;
        long total = 0;
        int idx = head;
        while (true) {
            long off = base + (long) DESC_SIZE * idx;
            long addr = table.get(LE64, off);
            long len = Integer.toUnsignedLong(table.get(LE32, off + 8));
            int flags = Short.toUnsignedInt(table.get(LE16, off + 12));
            int next = Short.toUnsignedInt(table.get(LE16, off + 14));

            if ((flags & VIRTQ_DESC_F_INDIRECT) != 0) {
                // Section 2.7.5.3.1 (Indirect Descriptors, driver requirements): no INDIRECT inside an
                // indirect table (one table per chain) ...
                if (inIndirect) {
                    throw new InvalidChainException(head, "indirect descriptor " + idx
                            + " inside an indirect table (nested tables are forbidden, virtio 1.x 2.7.5.3.1)");
                }
                // ... and never INDIRECT together with NEXT (the table ends the chain).
                if ((flags & VIRTQ_DESC_F_NEXT) != 0) {
                    throw new InvalidChainException(head, "descriptor " + idx
                            + " has both INDIRECT and NEXT set (virtio 1.x 2.7.5.3.1)");
                }
                // The table holds len / 16 descriptors (section 2.7.5.3): len must be a positive multiple of 16.
                if (len == 0 || len % DESC_SIZE != 0) {
                    throw new InvalidChainException(head, "indirect table length " + len
                            + " is not a positive multiple of 16");
                }
                int region = mem.find(addr, len);
                if (region < 0) {
                    throw new InvalidChainException(head, "indirect table 0x" + Long.toHexString(addr) + "+" + len
                            + " does not lie inside one guest memory region");
                }
                // The VIRTQ_DESC_F_WRITE bit of this descriptor is ignored (section 2.7.5.3.2). The pointer
                // itself is not a buffer, so it does not count toward the queue-size limit below: Linux
                // puts up to Queue Size buffers into one table.
                table = mem.mapping(region);
                base = mem.offsetIn(region, addr);
                tableLen = len / DESC_SIZE;
                inIndirect = true;
                idx = 0;
                continue;
            }

            // Limit: a chain has at most Queue Size buffers, indirect ones included (section 2.7.5.3.1).
            // This also ends any loop, since every step of a loop adds a buffer.
            if (out.count() >= size) {
                throw new InvalidChainException(head, "chain has more than " + size
                        + " descriptors (queue size); a loop or an over-long chain");
            }
            boolean writable = (flags & VIRTQ_DESC_F_WRITE) != 0;
            // Section 2.7.4.2 (Message Framing, driver requirements): device-writable buffers come
            // after all device-readable ones.
            if (!writable && seenWritable) {
                throw new InvalidChainException(head, "device-readable descriptor " + idx
                        + " follows a device-writable one (virtio 1.x 2.7.4.2)");
            }
            seenWritable |= writable;
            total += len;
            // Limit: total chain length below 2^32 (section 2.7.5.2); used.len is 32 bits.
            if (total > MAX_CHAIN_BYTES) {
                throw new InvalidChainException(head, "total chain length exceeds 2^32 - 1 bytes");
            }
            if (!mem.contains(addr, len)) {
                throw new InvalidChainException(head, "buffer 0x" + Long.toHexString(addr) + "+" + len
                        + " of descriptor " + idx + " is not guest memory");
            }
            out.add(addr, (int) len, writable);
            if ((flags & VIRTQ_DESC_F_NEXT) == 0) {
                return;
            }
            // Limit: next indexes the table this descriptor is in (Queue Size, or len / 16 when indirect).
            if (next >= tableLen) {
                throw new InvalidChainException(head, "descriptor " + idx + " links to " + next + ", beyond its "
                        + (inIndirect ? "indirect table of " : "descriptor table of ") + tableLen + " entries");
            }
            idx = next;
        }
    }

    /**
     * Records that the chain at {@code head} is done and the device wrote {@code writtenLength} bytes
     * (an unsigned 32-bit value) into its writable buffers. Invisible to the driver until
     * {@link #publishUsed()}.
     */
    public void addUsed(int head, int writtenLength) {
        if (head < 0 || head >= size) {
            throw new IllegalArgumentException("used head " + head + " outside queue of size " + size);
        }
        if (((shadowUsed - publishedUsed) & 0xFFFF) >= size) {
            throw new IllegalStateException(size + " used elements pending; call publishUsed() first");
        }
        long off = RING_ENTRIES + 8L * (shadowUsed & mask);
        used.set(LE32, off, head);
        used.set(LE32, off + 4, writtenLength);
        shadowUsed = (shadowUsed + 1) & 0xFFFF;
        if (inflight != null) {
            inflight.used(head);
        }
    }

    /**
     * Makes all added used elements visible to the driver and decides whether it wants an interrupt
     * (section 2.7.7 "Used Buffer Notification Suppression"). Returns true if the caller must signal
     * the call eventfd.
     */
    public boolean publishUsed() {
        if (shadowUsed == publishedUsed) {
            return false;
        }
        int old = publishedUsed;
        int now = shadowUsed;
        // Release: the elements (and the data written into the buffers) become visible before idx
        // (section 2.7.8.2: the device MUST set len prior to updating the used idx).
        IDX.setRelease(used, RING_IDX, (short) now);
        publishedUsed = now;
        if (dirtyLog != null && usedLogAddr != -1) {
            logUsedElements(old, now);
        }
        outstanding = Math.max(0, outstanding - ((now - old) & 0xFFFF));
        if (inflight != null) {
            inflight.published(now);
        }
        // Order the idx store before reading the driver's suppression state; otherwise we could read a
        // stale used_event/flags while the driver re-checks a stale used idx and both go to sleep.
        VarHandle.fullFence();
        if (eventIdx) {
            int usedEvent = Short.toUnsignedInt(avail.get(LE16, usedEventOffset));
            return EventIdx.needEvent(usedEvent, now, old);
        }
        int flags = Short.toUnsignedInt(avail.get(LE16, 0));
        return (flags & VIRTQ_AVAIL_F_NO_INTERRUPT) == 0;
    }

    /** Logs the used elements {@code [from, to)} (u16 indices, possibly wrapping the ring) and the idx. */
    private void logUsedElements(int from, int to) {
        int count = (to - from) & 0xFFFF;
        int slot = from & mask;
        int first = Math.min(count, size - slot);
        logUsed(RING_ENTRIES + 8L * slot, 8L * first);
        if (count > first) {
            logUsed(RING_ENTRIES, 8L * (count - first));
        }
        logUsed(RING_IDX, 2);
    }

    /**
     * Asks the driver to kick on new buffers: with EVENT_IDX writes avail_event = nextAvail, otherwise
     * clears VIRTQ_USED_F_NO_NOTIFY. Then re-reads avail idx: returns true if buffers arrived meanwhile,
     * in which case the caller must keep popping (the driver may have checked before our write and
     * decided not to kick, so sleeping now could lose that kick).
     */
    public boolean enableNotifications() {
        if (eventIdx) {
            IDX.set(used, availEventOffset, (short) nextAvail);
            logUsed(availEventOffset, 2);
        } else {
            IDX.set(used, 0L, (short) 0);
            logUsed(0, 2);
        }
        // Order the store above before the re-read of avail idx (pairs with the driver's barrier
        // between its avail idx store and its read of avail_event / used flags, section 2.7.13.4).
        VarHandle.fullFence();
        cachedAvailIdx = loadAvailIdx();
        return cachedAvailIdx != nextAvail;
    }

    /**
     * Tells the driver that kicks are not needed while we poll. Without EVENT_IDX this sets
     * VIRTQ_USED_F_NO_NOTIFY. With EVENT_IDX nothing is written: the driver kicks only when its avail
     * idx passes avail_event (section 2.7.10 "Available Buffer Notification Suppression"), and
     * avail_event stays at the value the last {@link #enableNotifications()} wrote, so once passed the
     * driver stays quiet until we re-enable. (An idx that runs 65536 entries past it while we are busy
     * causes one spurious kick, which the device must tolerate anyway.)
     */
    public void disableNotifications() {
        if (!eventIdx) {
            IDX.set(used, 0L, (short) VIRTQ_USED_F_NO_NOTIFY);
            logUsed(0, 2);
        }
    }

    @Override
    public String toString() {
        return "SplitQueue[size " + size + ", nextAvail " + nextAvail + ", used " + publishedUsed
                + (eventIdx ? ", event idx" : "") + (broken != null ? ", broken: " + broken : "") + "]";
    }
}

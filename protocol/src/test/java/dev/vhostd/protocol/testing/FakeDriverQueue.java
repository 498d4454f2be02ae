package dev.vhostd.protocol.testing;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.Deque;
import java.util.List;

import dev.vhostd.protocol.memory.GuestMemory;
import dev.vhostd.protocol.virtq.SplitQueue;

import static dev.vhostd.protocol.testing.FakeDriver.LE16;
import static dev.vhostd.protocol.testing.FakeDriver.LE32;
import static dev.vhostd.protocol.testing.FakeDriver.LE64;

/**
 * The driver side of one split virtqueue in a {@link FakeDriver}'s memory: a descriptor free list,
 * chain building (direct or through an indirect table), avail publishing with release, used polling
 * with acquire, the suppression fields, and raw writers for building malformed rings.
 */
public final class FakeDriverQueue {
    public static final int F_NEXT = 1;
    public static final int F_WRITE = 2;
    public static final int F_INDIRECT = 4;

    private static final VarHandle IDX = ValueLayout.JAVA_SHORT.withOrder(ByteOrder.LITTLE_ENDIAN)
            .varHandle().withInvokeExactBehavior();

    private final FakeDriver driver;
    private final int index;
    private final int size;
    private final long descGpa;
    private final long availGpa;
    private final long usedGpa;
    private final MemorySegment desc;
    private final MemorySegment avail;
    private final MemorySegment used;
    private final Deque<Integer> free = new ArrayDeque<>();
    /** Descriptors held by each in-flight head, so pollUsed can free them. */
    private final int[][] heldBy;
    private int availIdx;
    private int lastUsed;

    FakeDriverQueue(FakeDriver driver, int index, int size, long descGpa, long availGpa, long usedGpa) {
        this.driver = driver;
        this.index = index;
        this.size = size;
        this.descGpa = descGpa;
        this.availGpa = availGpa;
        this.usedGpa = usedGpa;
        this.desc = driver.segment(descGpa, 16L * size);
        this.avail = driver.segment(availGpa, 6 + 2L * size);
        this.used = driver.segment(usedGpa, 6 + 8L * size);
        this.heldBy = new int[size][];
        for (int i = 0; i < size; i++) {
            free.addLast(i);
        }
    }

    public int index() {
        return index;
    }

    public int size() {
        return size;
    }

    public long descGpa() {
        return descGpa;
    }

    public long availGpa() {
        return availGpa;
    }

    public long usedGpa() {
        return usedGpa;
    }

    public long descUserAddr() {
        return FakeDriver.userAddr(descGpa);
    }

    public long availUserAddr() {
        return FakeDriver.userAddr(availGpa);
    }

    public long usedUserAddr() {
        return FakeDriver.userAddr(usedGpa);
    }

    /**
     * A device-side queue over these rings, as the engine would create it from SET_VRING_ADDR, starting
     * at the driver's last seen used index (what SET_VRING_BASE carries after a clean stop).
     */
    public SplitQueue deviceQueue(GuestMemory memory, boolean eventIdx) {
        return SplitQueue.fromUserAddresses(memory, size, descUserAddr(), availUserAddr(), usedUserAddr(),
                lastUsed, eventIdx);
    }

    public SplitQueue deviceQueue(boolean eventIdx) {
        return deviceQueue(driver.memory(), eventIdx);
    }

    public int freeDescriptors() {
        return free.size();
    }

    /**
     * Builds a chain of the readable then the writable buffers, offers it and publishes avail idx.
     * With {@code indirect} the buffers go into a fresh indirect table and the chain uses one
     * descriptor of the main table. Returns the head.
     */
    public int addChain(List<FakeDriver.Buffer> readable, List<FakeDriver.Buffer> writable, boolean indirect) {
        int head = prepareChain(readable, writable, indirect);
        offer(head);
        publishAvail();
        return head;
    }

    /** Writes a chain's descriptors without offering it. */
    public int prepareChain(List<FakeDriver.Buffer> readable, List<FakeDriver.Buffer> writable, boolean indirect) {
        int n = readable.size() + writable.size();
        if (n == 0) {
            throw new IllegalArgumentException("a chain needs at least one buffer");
        }
        if (indirect) {
            long table = driver.alloc(16L * n, 16, false);
            MemorySegment t = driver.segment(table, 16L * n);
            int i = 0;
            for (FakeDriver.Buffer b : readable) {
                putDesc(t, i, b.gpa(), b.length(), i + 1 < n ? F_NEXT : 0, i + 1);
                i++;
            }
            for (FakeDriver.Buffer b : writable) {
                putDesc(t, i, b.gpa(), b.length(), F_WRITE | (i + 1 < n ? F_NEXT : 0), i + 1);
                i++;
            }
            int head = take(1)[0];
            heldBy[head] = new int[] {head};
            writeDesc(head, table, 16 * n, F_INDIRECT, 0);
            return head;
        }
        int[] ids = take(n);
        int i = 0;
        for (FakeDriver.Buffer b : readable) {
            writeDesc(ids[i], b.gpa(), b.length(), i + 1 < n ? F_NEXT : 0, i + 1 < n ? ids[i + 1] : 0);
            i++;
        }
        for (FakeDriver.Buffer b : writable) {
            writeDesc(ids[i], b.gpa(), b.length(), F_WRITE | (i + 1 < n ? F_NEXT : 0), i + 1 < n ? ids[i + 1] : 0);
            i++;
        }
        heldBy[ids[0]] = ids;
        return ids[0];
    }

    private int[] take(int n) {
        if (free.size() < n) {
            throw new IllegalStateException("queue " + index + " has " + free.size() + " free descriptors, needs " + n);
        }
        int[] ids = new int[n];
        for (int i = 0; i < n; i++) {
            ids[i] = free.removeFirst();
        }
        return ids;
    }

    /** Puts {@code head} into the next avail ring slot (not yet visible: see {@link #publishAvail()}). */
    public void offer(int head) {
        writeAvailEntry(availIdx & (size - 1), head);
        availIdx = (availIdx + 1) & 0xFFFF;
    }

    /** Publishes every offered entry: avail idx with release (virtio 1.x 2.7.13.3). */
    public void publishAvail() {
        IDX.setRelease(avail, 2L, (short) availIdx);
    }

    /** The driver's avail idx (offered entries, published or not). */
    public int availIdx() {
        return availIdx;
    }

    /** Raw: sets avail idx (and the driver's own counter) to any value, published with release. */
    public void setAvailIdx(int idx) {
        availIdx = idx & 0xFFFF;
        publishAvail();
    }

    /** Raw: writes descriptor {@code i} of the main table. */
    public void writeDesc(int i, long addr, int len, int flags, int next) {
        putDesc(desc, i, addr, len, flags, next);
    }

    /** Raw: writes descriptor {@code i} of a table (e.g. an indirect one) at guest address {@code tableGpa}. */
    public void writeDescAt(long tableGpa, int i, long addr, int len, int flags, int next) {
        putDesc(driver.segment(tableGpa + 16L * i, 16), 0, addr, len, flags, next);
    }

    private static void putDesc(MemorySegment table, int i, long addr, int len, int flags, int next) {
        long off = 16L * i;
        table.set(LE64, off, addr);
        table.set(LE32, off + 8, len);
        table.set(LE16, off + 12, (short) flags);
        table.set(LE16, off + 14, (short) next);
    }

    /** Raw: writes avail ring slot {@code slot} (taken modulo the size). */
    public void writeAvailEntry(int slot, int head) {
        avail.set(LE16, 4 + 2L * (slot & (size - 1)), (short) head);
    }

    /** Sets avail flags (VIRTQ_AVAIL_F_NO_INTERRUPT = 1) for interrupt suppression without EVENT_IDX. */
    public void setAvailFlags(int flags) {
        avail.set(LE16, 0, (short) flags);
        VarHandle.fullFence();
    }

    /** Sets used_event (EVENT_IDX): the device should interrupt once used idx passes this index. */
    public void setUsedEvent(int idx) {
        avail.set(LE16, 4 + 2L * size, (short) idx);
        VarHandle.fullFence();
    }

    /** avail_event written by the device (EVENT_IDX). */
    public int availEvent() {
        VarHandle.fullFence();
        return Short.toUnsignedInt(used.get(LE16, 4 + 8L * size));
    }

    /** Used flags written by the device (VIRTQ_USED_F_NO_NOTIFY = 1). */
    public int usedFlags() {
        VarHandle.fullFence();
        return Short.toUnsignedInt(used.get(LE16, 0));
    }

    /** Used idx as published by the device, read with acquire. */
    public int usedIdx() {
        return Short.toUnsignedInt((short) IDX.getAcquire(used, 2L));
    }

    /** Raw: sets the used idx, as a ring left behind by a previous back-end would hold it. */
    public void setUsedIdx(int idx) {
        IDX.setRelease(used, 2L, (short) idx);
        lastUsed = idx & 0xFFFF;
    }

    /**
     * The next used element the device published, or null; frees the chain's descriptors when the
     * head was built by {@link #prepareChain}.
     */
    public Used pollUsed() {
        if (lastUsed == usedIdx()) {
            return null;
        }
        long off = 4 + 8L * (lastUsed & (size - 1));
        int head = used.get(LE32, off);
        int len = used.get(LE32, off + 4);
        lastUsed = (lastUsed + 1) & 0xFFFF;
        if (head >= 0 && head < size && heldBy[head] != null) {
            for (int id : heldBy[head]) {
                free.addLast(id);
            }
            heldBy[head] = null;
        }
        return new Used(head, len);
    }

    @Override
    public String toString() {
        return "FakeDriverQueue[" + index + ", size " + size + ", avail " + availIdx + ", used " + lastUsed
                + ", held " + Arrays.stream(heldBy).filter(h -> h != null).count() + "]";
    }

    /** One used ring element: the head and the number of bytes the device wrote. */
    public record Used(int head, int len) {}
}

package dev.vhostd.protocol.virtq;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * One split queue's inflight-tracking area (vhost-user.rst, "Inflight I/O tracking"): a record, in
 * memory the front-end keeps across back-end crashes, of which heads the back-end has taken from
 * the available ring and not yet returned. vhostd completes requests out of order, so after a crash
 * the rings alone cannot tell which requests were lost; this area can.
 *
 * <p>Layout (little-endian): {@code u64 features; u16 version; u16 desc_num; u16 last_batch_head;
 * u16 used_idx;} then {@code desc_num} entries of {@code u8 inflight; u8 pad[5]; u16 next; u64
 * counter}. Popping a head sets its counter and inflight flag; a batch of used elements is linked
 * through {@code next} from {@code last_batch_head} before the used idx moves, and the flags are
 * cleared and {@code used_idx} updated after it, so a crash between the two can be repaired.
 *
 * <p>The area comes from the front-end, so {@link #open} validates what it reads: the entry count,
 * every head on the last-batch list, and the number of entries in flight.
 */
public final class InflightLog {
    static final int HEADER_SIZE = 16;
    static final int ENTRY_SIZE = 16;
    static final int VERSION = 1;
    private static final long VERSION_OFF = 8;
    private static final long DESC_NUM_OFF = 10;
    private static final long LAST_BATCH_HEAD_OFF = 12;
    private static final long USED_IDX_OFF = 14;

    private static final ValueLayout.OfShort LE16 = ValueLayout.JAVA_SHORT.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong LE64 = ValueLayout.JAVA_LONG.withOrder(ByteOrder.LITTLE_ENDIAN);
    /** Stores whose order matters for crash recovery are release stores. */
    private static final VarHandle U8 = ValueLayout.JAVA_BYTE.varHandle().withInvokeExactBehavior();
    private static final VarHandle U16 = LE16.varHandle().withInvokeExactBehavior();

    private final MemorySegment area;
    private final int size;
    private long counter;
    private int lastBatchHead;
    /** Heads added to the used ring since the last publish. */
    private final int[] batch;
    private int batchCount;
    /** Heads found in flight when the area was opened, in pop order, and how far we got. */
    private final int[] resubmit;
    private final int resubmitCount;
    private int resubmitNext;

    private InflightLog(MemorySegment area, int size, int[] resubmit, long counter) {
        this.area = area;
        this.size = size;
        this.batch = new int[size];
        this.resubmit = resubmit;
        this.resubmitCount = resubmit.length;
        this.counter = counter;
        this.lastBatchHead = Short.toUnsignedInt(area.get(LE16, LAST_BATCH_HEAD_OFF));
    }

    /** Bytes of one queue's area for a ring of {@code queueSize}: header and entries, rounded up to 64. */
    public static long areaSize(int queueSize) {
        return (HEADER_SIZE + (long) ENTRY_SIZE * queueSize + 63) & ~63L;
    }

    /**
     * Takes over {@code area} for a ring of {@code size} whose used idx is {@code usedIdx} now. A fresh
     * (zeroed) area is initialised. One written by an earlier back-end is repaired (the last batch,
     * if the crash came between publishing it and clearing its flags) and its heads still in flight
     * are queued for {@link #nextResubmit} in the order they were popped.
     *
     * @throws IllegalArgumentException if the area does not fit or contradicts the ring; the caller
     *         may {@link #reset} it, losing what it recorded
     */
    public static InflightLog open(MemorySegment area, int size, int usedIdx) {
        checkArea(area, size);
        int version = Short.toUnsignedInt(area.get(LE16, VERSION_OFF));
        if (version == 0) {
            return reset(area, size, usedIdx);
        }
        if (version != VERSION) {
            throw new IllegalArgumentException("inflight area version " + version + ", expected " + VERSION);
        }
        int descNum = Short.toUnsignedInt(area.get(LE16, DESC_NUM_OFF));
        if (descNum != (size & 0xFFFF)) {
            throw new IllegalArgumentException("inflight area tracks " + descNum + " descriptors but the ring has "
                    + size);
        }
        int loggedUsed = Short.toUnsignedInt(area.get(LE16, USED_IDX_OFF));
        int lastBatch = (usedIdx - loggedUsed) & 0xFFFF;
        if (lastBatch > size) {
            throw new IllegalArgumentException("used idx " + usedIdx + " is " + lastBatch
                    + " entries past the area's " + loggedUsed + ", more than the ring size " + size);
        }
        // The crash came after the used idx moved and before the batch's flags were cleared: clear them.
        int head = Short.toUnsignedInt(area.get(LE16, LAST_BATCH_HEAD_OFF));
        for (int i = 0; i < lastBatch; i++) {
            if (head >= size) {
                throw new IllegalArgumentException("last-batch list names head " + head + ", beyond the ring size "
                        + size);
            }
            long e = entry(head);
            U8.setRelease(area, e, (byte) 0);
            head = Short.toUnsignedInt(area.get(LE16, e + 6));
        }
        U16.setRelease(area, USED_IDX_OFF, (short) usedIdx);
        Integer[] inFlight = new Integer[size];
        int n = 0;
        long maxCounter = 0;
        for (int i = 0; i < size; i++) {
            long e = entry(i);
            byte flag = area.get(ValueLayout.JAVA_BYTE, e);
            if (flag == 1) {
                maxCounter = Math.max(maxCounter, area.get(LE64, e + 8));
                inFlight[n++] = i;
            } else if (flag != 0) {
                throw new IllegalArgumentException("descriptor " + i + " has inflight flag " + flag);
            }
        }
        // Resubmit in pop order (vhost-user.rst: "in order of their counter value").
        Arrays.sort(inFlight, 0, n,
                (a, b) -> Long.compareUnsigned(area.get(LE64, entry(a) + 8), area.get(LE64, entry(b) + 8)));
        int[] resubmit = new int[n];
        for (int i = 0; i < n; i++) {
            resubmit[i] = inFlight[i];
        }
        return new InflightLog(area, size, resubmit, maxCounter + 1);
    }

    /** Starts {@code area} afresh for a ring of {@code size} at used idx {@code usedIdx}: nothing in flight. */
    public static InflightLog reset(MemorySegment area, int size, int usedIdx) {
        checkArea(area, size);
        area.asSlice(0, areaSize(size)).fill((byte) 0);
        area.set(LE16, DESC_NUM_OFF, (short) size);
        area.set(LE16, USED_IDX_OFF, (short) usedIdx);
        U16.setRelease(area, VERSION_OFF, (short) VERSION);
        return new InflightLog(area, size, new int[0], 1);
    }

    private static void checkArea(MemorySegment area, int size) {
        if (size < 1 || size > SplitQueue.MAX_SIZE) {
            throw new IllegalArgumentException("ring size " + size);
        }
        if (area.byteSize() < areaSize(size)) {
            throw new IllegalArgumentException("inflight area of " + area.byteSize() + " bytes is smaller than the "
                    + areaSize(size) + " a ring of " + size + " needs");
        }
    }

    private static long entry(int head) {
        return HEADER_SIZE + (long) ENTRY_SIZE * head;
    }

    /** Requests in flight when the area was opened and not yet handed out again. */
    public int resubmitPending() {
        return resubmitCount - resubmitNext;
    }

    /** How many were in flight when the area was opened. */
    public int resubmitted() {
        return resubmitCount;
    }

    /** The next head to process again, oldest first; only while {@link #resubmitPending()} is positive. */
    int nextResubmit() {
        return resubmit[resubmitNext++];
    }

    /** The device took {@code head}: record its order and mark it in flight. */
    void popped(int head) {
        long e = entry(head);
        area.set(LE64, e + 8, counter++);
        U8.setRelease(area, e, (byte) 1);
    }

    /** The device put {@code head} back in the avail ring (see SplitQueue.unpop): no longer in flight. */
    void unpopped(int head) {
        U8.setRelease(area, entry(head), (byte) 0);
    }

    /** The last head from {@link #nextResubmit} was put back and comes again next. */
    void unresubmit() {
        resubmitNext--;
    }

    /** {@code head} goes into the used ring in the current batch. */
    void used(int head) {
        area.set(LE16, entry(head) + 6, (short) lastBatchHead);
        lastBatchHead = head;
        area.set(LE16, LAST_BATCH_HEAD_OFF, (short) head);
        batch[batchCount++] = head;
    }

    /** The used idx now shows the batch: clear its flags, then record the idx. */
    void published(int usedIdx) {
        for (int i = 0; i < batchCount; i++) {
            U8.setRelease(area, entry(batch[i]), (byte) 0);
        }
        batchCount = 0;
        U16.setRelease(area, USED_IDX_OFF, (short) usedIdx);
    }
}

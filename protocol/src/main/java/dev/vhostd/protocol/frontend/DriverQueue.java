package dev.vhostd.protocol.frontend;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

/**
 * The driver's side of one split virtqueue (virtio 1.x 2.7) living in {@link GuestRam}: descriptor
 * table, available ring and used ring, plus a free-descriptor stack. The driver adds chains, publishes
 * the avail index with release semantics, kicks only when the device asked for it (EVENT_IDX
 * avail_event, else VRING_USED_F_NO_NOTIFY), and reaps the used ring with acquire semantics. It
 * suppresses the device's notifications the driver way: used_event (EVENT_IDX) or
 * VRING_AVAIL_F_NO_INTERRUPT. Single-threaded; nothing on the request path allocates.
 */
public final class DriverQueue {
    public static final int MAX_SIZE = 32768;
    static final int DESC_SIZE = 16;
    static final short DESC_F_NEXT = 1;
    static final short DESC_F_WRITE = 2;
    static final short AVAIL_F_NO_INTERRUPT = 1;
    static final short USED_F_NO_NOTIFY = 1;
    /** Coordinates (MemorySegment, long offset); used for the idx fields the two sides hand over. */
    private static final VarHandle U16 = JAVA_SHORT.varHandle().withInvokeExactBehavior();

    private final int index;
    private final int size;
    private final boolean eventIdx;
    private final Runnable kick;
    private final GuestBuffer descBuffer;
    private final GuestBuffer availBuffer;
    private final GuestBuffer usedBuffer;
    private final MemorySegment desc;
    private final MemorySegment avail;
    private final MemorySegment used;
    private final long usedEventOffset;
    private final long availEventOffset;

    /** Free descriptors, a stack; {@code chainNext} mirrors the next links we wrote, so freeing never reads guest memory. */
    private final int[] free;
    private int freeCount;
    private final int[] chainNext;
    private final int[] chainLength;
    private final boolean[] headInFlight;
    private int inFlight;

    private int availIdx;          // next avail idx to publish (mod 2^16)
    private int kickedAt;          // avail idx at the previous kick decision
    private int lastUsed;          // next used idx to consume
    private boolean notifications = true;
    private long kicks;

    /**
     * Lays out a queue of {@code size} entries (a power of two) in {@code ram}. {@code kick} signals
     * the device (writes the kick eventfd) when {@link #kickIfNeeded()} decides it must.
     */
    public DriverQueue(GuestRam ram, int index, int size, boolean eventIdx, Runnable kick) {
        if (size < 1 || size > MAX_SIZE || Integer.bitCount(size) != 1) {
            throw new IllegalArgumentException("queue size must be a power of two in 1.." + MAX_SIZE + ", got " + size);
        }
        this.index = index;
        this.size = size;
        this.eventIdx = eventIdx;
        this.kick = kick;
        // virtio 1.x 2.7: alignment 16 (desc), 2 (avail), 4 (used); page alignment satisfies all.
        descBuffer = ram.allocate((long) DESC_SIZE * size, 4096);
        availBuffer = ram.allocate(6 + 2L * size, 4096);
        usedBuffer = ram.allocate(6 + 8L * size, 4096);
        desc = descBuffer.segment();
        avail = availBuffer.segment();
        used = usedBuffer.segment();
        usedEventOffset = 4 + 2L * size;
        availEventOffset = 4 + 8L * size;
        free = new int[size];
        for (int i = 0; i < size; i++) {
            free[i] = size - 1 - i;
        }
        freeCount = size;
        chainNext = new int[size];
        chainLength = new int[size];
        headInFlight = new boolean[size];
    }

    public int index() {
        return index;
    }

    public int size() {
        return size;
    }

    public boolean eventIdx() {
        return eventIdx;
    }

    /** SET_VRING_ADDR payload for this queue, in {@code ram}'s user addresses. */
    public VringAddress address(GuestRam ram) {
        return new VringAddress(index, 0, ram.userAddress(descBuffer.guestAddress()),
                ram.userAddress(usedBuffer.guestAddress()), ram.userAddress(availBuffer.guestAddress()), 0);
    }

    public long descGuestAddress() {
        return descBuffer.guestAddress();
    }

    public long availGuestAddress() {
        return availBuffer.guestAddress();
    }

    public long usedGuestAddress() {
        return usedBuffer.guestAddress();
    }

    public int freeDescriptors() {
        return freeCount;
    }

    /** Chains added and not yet reaped. */
    public int inFlight() {
        return inFlight;
    }

    /** Kick eventfd signals sent so far. */
    public long kicks() {
        return kicks;
    }

    /**
     * Writes {@code chain} into free descriptors and places its head in the avail ring (not yet
     * visible to the device: see {@link #publish()}). Returns the head, or -1 when too few
     * descriptors are free.
     */
    public int add(BufferChain chain) {
        int n = chain.size();
        if (n == 0) {
            throw new IllegalArgumentException("empty chain");
        }
        if (n > freeCount) {
            return -1;
        }
        int head = free[freeCount - 1];
        int id = head;
        for (int i = 0; i < n; i++) {
            freeCount--; // id == free[freeCount]
            int nextId = i + 1 < n ? free[freeCount - 1] : 0;
            long d = (long) id * DESC_SIZE;
            short flags = (short) ((chain.isWritable(i) ? DESC_F_WRITE : 0) | (i + 1 < n ? DESC_F_NEXT : 0));
            desc.set(JAVA_LONG, d, chain.address(i));
            desc.set(JAVA_INT, d + 8, chain.length(i));
            desc.set(JAVA_SHORT, d + 12, flags);
            desc.set(JAVA_SHORT, d + 14, (short) nextId);
            chainNext[id] = nextId;
            id = nextId;
        }
        chainLength[head] = n;
        headInFlight[head] = true;
        inFlight++;
        avail.set(JAVA_SHORT, 4 + 2L * (availIdx & (size - 1)), (short) head);
        availIdx = (availIdx + 1) & 0xFFFF;
        return head;
    }

    /** Makes every added chain visible: release-store of avail idx (virtio 1.x 2.7.13.2). */
    public void publish() {
        U16.setRelease(avail, 2L, (short) availIdx);
    }

    /**
     * Publishes, then signals the device if it asked to be notified of what was published since the
     * previous decision (virtio 1.x 2.7.13.4 / 2.7.10). Returns whether it kicked.
     */
    public boolean kickIfNeeded() {
        publish();
        // Order the avail idx store before reading the device's suppression state (the device does
        // the mirror image: store avail_event/flags, fence, re-read avail idx).
        VarHandle.fullFence();
        int oldIdx = kickedAt;
        int newIdx = availIdx;
        kickedAt = newIdx;
        if (oldIdx == newIdx) {
            return false;
        }
        boolean need;
        if (eventIdx) {
            int event = Short.toUnsignedInt(used.get(JAVA_SHORT, availEventOffset));
            need = needEvent(event, newIdx, oldIdx);
        } else {
            need = (used.get(JAVA_SHORT, 0) & USED_F_NO_NOTIFY) == 0;
        }
        if (need) {
            kicks++;
            kick.run();
        }
        return need;
    }

    /** vring_need_event (virtio 1.x 2.7.10): did the index move past {@code event} going from old to new? */
    public static boolean needEvent(int event, int newIdx, int oldIdx) {
        return ((newIdx - event - 1) & 0xFFFF) < ((newIdx - oldIdx) & 0xFFFF);
    }

    /** The used idx as the device last published it (acquire), whether or not it was reaped. */
    public int usedIdx() {
        return Short.toUnsignedInt((short) U16.getAcquire(used, 2L));
    }

    /** Whether the device has published used entries not yet reaped. */
    public boolean hasUsed() {
        return Short.toUnsignedInt((short) U16.getAcquire(used, 2L)) != lastUsed;
    }

    /**
     * Hands every used entry to {@code handler}, frees its descriptors, and returns how many there
     * were. The used idx is read with acquire semantics so the entries and the data are visible.
     * The device is the other side of a trust boundary: an entry naming a head that is not in
     * flight, or a used idx that ran ahead of what is in flight, throws.
     */
    public int reapUsed(UsedHandler handler) {
        int usedIdx = Short.toUnsignedInt((short) U16.getAcquire(used, 2L));
        int count = (usedIdx - lastUsed) & 0xFFFF;
        if (count == 0) {
            return 0;
        }
        if (count > inFlight) {
            throw new FrontendException("queue " + index + ": device moved used idx from " + lastUsed + " to "
                    + usedIdx + " but only " + inFlight + " requests are in flight");
        }
        for (int i = 0; i < count; i++) {
            long e = 4 + 8L * ((lastUsed + i) & (size - 1));
            int id = used.get(JAVA_INT, e);
            int len = used.get(JAVA_INT, e + 4);
            if (id < 0 || id >= size || !headInFlight[id]) {
                throw new FrontendException("queue " + index + ": device returned descriptor " + Integer.toUnsignedString(id)
                        + " which is not the head of an in-flight chain");
            }
            release(id);
            handler.completed(id, len);
        }
        lastUsed = usedIdx;
        if (!notifications && eventIdx) {
            suppressEventIdx();
        }
        return count;
    }

    private void release(int head) {
        headInFlight[head] = false;
        inFlight--;
        int id = head;
        for (int n = chainLength[head]; n > 0; n--) {
            free[freeCount++] = id;
            id = chainNext[id];
        }
    }

    /**
     * Asks the device to notify (call) at its next completion and returns whether completions are
     * already waiting, in which case the caller must reap instead of sleeping: the device may have
     * completed them before it could see the request (virtio 1.x 2.7.13.4 / 2.7.10).
     */
    public boolean enableNotifications() {
        notifications = true;
        if (eventIdx) {
            // "Notify me when you write used entry number lastUsed."
            avail.set(JAVA_SHORT, usedEventOffset, (short) lastUsed);
        } else {
            avail.set(JAVA_SHORT, 0, (short) 0);
        }
        VarHandle.fullFence();
        return hasUsed();
    }

    /** Tells the device not to notify; the driver is polling the used ring. */
    public void disableNotifications() {
        notifications = false;
        if (eventIdx) {
            suppressEventIdx();
        } else {
            avail.set(JAVA_SHORT, 0, AVAIL_F_NO_INTERRUPT);
        }
    }

    /**
     * With EVENT_IDX there is no off switch; an event index just behind the last reaped entry is only
     * crossed again after 65535 more completions, far more than can be in flight, and it is moved along
     * after every reap while notifications stay off.
     */
    private void suppressEventIdx() {
        avail.set(JAVA_SHORT, usedEventOffset, (short) (lastUsed - 1));
    }

    /** The driver's view of the avail idx it has published or will publish next. */
    public int availIdx() {
        return availIdx;
    }

    /** The next used idx the driver will consume. */
    public int lastUsed() {
        return lastUsed;
    }
}

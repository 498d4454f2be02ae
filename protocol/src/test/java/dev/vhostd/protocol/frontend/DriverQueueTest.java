package dev.vhostd.protocol.frontend;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The driver side of the split ring, checked by a fake device that reads and writes the same guest RAM. */
class DriverQueueTest {
    private final GuestRam ram = new GuestRam(1 << 20);
    private int kicks;

    @AfterEach
    void close() {
        ram.close();
    }

    /** The device's view: descriptor table, avail ring, used ring, straight from guest memory. */
    private final class FakeDevice {
        final DriverQueue q;
        final MemorySegment desc;
        final MemorySegment avail;
        final MemorySegment used;
        int lastAvail;
        int usedIdx;

        FakeDevice(DriverQueue q) {
            this.q = q;
            desc = ram.slice(q.descGuestAddress(), 16L * q.size());
            avail = ram.slice(q.availGuestAddress(), 6 + 2L * q.size());
            used = ram.slice(q.usedGuestAddress(), 6 + 8L * q.size());
        }

        int availIdx() {
            return Short.toUnsignedInt(avail.get(JAVA_SHORT, 2));
        }

        /** Pops the next available head. */
        int pop() {
            int head = Short.toUnsignedInt(avail.get(JAVA_SHORT, 4 + 2L * (lastAvail & (q.size() - 1))));
            lastAvail = (lastAvail + 1) & 0xFFFF;
            return head;
        }

        void complete(int head, int len) {
            long e = 4 + 8L * (usedIdx & (q.size() - 1));
            used.set(JAVA_INT, e, head);
            used.set(JAVA_INT, e + 4, len);
            usedIdx = (usedIdx + 1) & 0xFFFF;
            used.set(JAVA_SHORT, 2, (short) usedIdx);
        }

        long addr(int d) {
            return desc.get(JAVA_LONG, 16L * d);
        }

        int len(int d) {
            return desc.get(JAVA_INT, 16L * d + 8);
        }

        int flags(int d) {
            return desc.get(JAVA_SHORT, 16L * d + 12);
        }

        int next(int d) {
            return Short.toUnsignedInt(desc.get(JAVA_SHORT, 16L * d + 14));
        }

        void setAvailEvent(int v) {
            used.set(JAVA_SHORT, 4 + 8L * q.size(), (short) v);
        }

        int usedEvent() {
            return Short.toUnsignedInt(avail.get(JAVA_SHORT, 4 + 2L * q.size()));
        }
    }

    private DriverQueue queue(int size, boolean eventIdx) {
        return new DriverQueue(ram, 0, size, eventIdx, () -> kicks++);
    }

    private static BufferChain blkRead(BufferChain c) {
        return c.clear().readable(0x1000, 16).writable(0x2000, 4096).writable(0x3000, 1);
    }

    @Test
    void addWritesTheChainAndPublishMakesItVisible() {
        DriverQueue q = queue(8, true);
        FakeDevice dev = new FakeDevice(q);
        int head = q.add(blkRead(new BufferChain(3)));
        assertEquals(0, dev.availIdx(), "not visible before publish");
        q.publish();
        assertEquals(1, dev.availIdx());
        assertEquals(head, dev.pop());
        int d0 = head;
        int d1 = dev.next(d0);
        int d2 = dev.next(d1);
        assertEquals(0x1000, dev.addr(d0));
        assertEquals(16, dev.len(d0));
        assertEquals(DriverQueue.DESC_F_NEXT, dev.flags(d0));
        assertEquals(0x2000, dev.addr(d1));
        assertEquals(4096, dev.len(d1));
        assertEquals(DriverQueue.DESC_F_NEXT | DriverQueue.DESC_F_WRITE, dev.flags(d1));
        assertEquals(0x3000, dev.addr(d2));
        assertEquals(DriverQueue.DESC_F_WRITE, dev.flags(d2), "last descriptor has no NEXT");
        assertEquals(3, new HashSet<>(List.of(d0, d1, d2)).size());
        assertEquals(5, q.freeDescriptors());
        assertEquals(1, q.inFlight());
    }

    @Test
    void addFailsWhenDescriptorsRunOutAndReapFreesThem() {
        DriverQueue q = queue(8, true);
        FakeDevice dev = new FakeDevice(q);
        BufferChain c = new BufferChain(3);
        int a = q.add(blkRead(c));
        int b = q.add(blkRead(c));
        assertEquals(-1, q.add(blkRead(c)), "6 of 8 used, 3 more do not fit");
        q.publish();
        dev.pop();
        dev.pop();
        dev.complete(b, 1);
        List<Integer> heads = new ArrayList<>();
        List<Integer> lens = new ArrayList<>();
        assertEquals(1, q.reapUsed((h, len) -> {
            heads.add(h);
            lens.add(len);
        }));
        assertEquals(List.of(b), heads);
        assertEquals(List.of(1), lens);
        assertEquals(5, q.freeDescriptors());
        assertTrue(q.add(blkRead(c)) >= 0, "descriptors of the completed chain are reused");
        dev.complete(a, 4097);
        assertEquals(1, q.reapUsed((h, len) -> assertEquals(a, h)));
        assertEquals(0, q.reapUsed((h, len) -> { }), "nothing new");
    }

    @Test
    void reapRejectsHeadsThatAreNotInFlight() {
        DriverQueue q = queue(8, true);
        FakeDevice dev = new FakeDevice(q);
        int head = q.add(blkRead(new BufferChain(3)));
        q.publish();
        dev.complete(head == 0 ? 1 : 0, 0);
        assertThrows(FrontendException.class, () -> q.reapUsed((h, l) -> { }), "a non-head descriptor");
    }

    @Test
    void reapRejectsOutOfRangeIdsAndARunawayUsedIdx() {
        DriverQueue q = queue(8, true);
        FakeDevice dev = new FakeDevice(q);
        q.add(blkRead(new BufferChain(3)));
        q.publish();
        dev.complete(8, 0);
        assertThrows(FrontendException.class, () -> q.reapUsed((h, l) -> { }), "id == size");

        DriverQueue q2 = new DriverQueue(ram, 1, 8, true, () -> { });
        FakeDevice dev2 = new FakeDevice(q2);
        int h = q2.add(blkRead(new BufferChain(3)));
        q2.publish();
        dev2.complete(h, 0);
        dev2.complete(h, 0);
        assertThrows(FrontendException.class, () -> q2.reapUsed((x, l) -> { }), "two completions, one in flight");
    }

    @Test
    void completingTheSameHeadTwiceIsRejected() {
        DriverQueue q = queue(8, true);
        FakeDevice dev = new FakeDevice(q);
        BufferChain c = new BufferChain(3);
        int a = q.add(blkRead(c));
        q.add(blkRead(c));
        q.publish();
        dev.complete(a, 0);
        dev.complete(a, 0);
        assertThrows(FrontendException.class, () -> q.reapUsed((x, l) -> { }));
    }

    @Test
    void eventIdxKicksOnlyWhenTheDeviceAsked() {
        DriverQueue q = queue(64, true);
        FakeDevice dev = new FakeDevice(q);
        BufferChain c = new BufferChain(1);
        // The device wants a kick when avail entry 0 is published (avail_event = 0).
        q.add(c.clear().readable(0x1000, 8));
        assertTrue(q.kickIfNeeded());
        assertEquals(1, kicks);
        // The device is busy and has not moved avail_event: publishing entries 1..3 needs no kick.
        for (int i = 0; i < 3; i++) {
            q.add(c.clear().readable(0x1000, 8));
            assertFalse(q.kickIfNeeded());
        }
        assertEquals(1, kicks);
        assertFalse(q.kickIfNeeded(), "nothing new published");
        // The device caught up to 4 and re-armed: the next entry (index 4) needs a kick.
        dev.setAvailEvent(4);
        q.add(c.clear().readable(0x1000, 8));
        q.add(c.clear().readable(0x1000, 8));
        assertTrue(q.kickIfNeeded(), "entries 4 and 5 cross avail_event 4");
        assertEquals(2, q.kicks());
    }

    @Test
    void withoutEventIdxTheNoNotifyFlagSuppressesKicks() {
        DriverQueue q = queue(8, false);
        FakeDevice dev = new FakeDevice(q);
        BufferChain c = new BufferChain(1);
        q.add(c.clear().readable(0x1000, 8));
        assertTrue(q.kickIfNeeded());
        dev.used.set(JAVA_SHORT, 0, DriverQueue.USED_F_NO_NOTIFY);
        q.add(c.clear().readable(0x1000, 8));
        assertFalse(q.kickIfNeeded());
        dev.used.set(JAVA_SHORT, 0, (short) 0);
        q.add(c.clear().readable(0x1000, 8));
        assertTrue(q.kickIfNeeded());
        assertEquals(2, kicks);
    }

    @Test
    void notificationsTheEventIdxWay() {
        DriverQueue q = queue(8, true);
        FakeDevice dev = new FakeDevice(q);
        BufferChain c = new BufferChain(1);
        int a = q.add(c.clear().readable(0x1000, 8));
        int b = q.add(c.clear().readable(0x1000, 8));
        q.publish();
        assertFalse(q.enableNotifications(), "nothing used yet: safe to sleep");
        assertEquals(0, dev.usedEvent(), "notify when used entry 0 is written");
        dev.complete(a, 0);
        assertTrue(DriverQueue.needEvent(dev.usedEvent(), 1, 0), "the device must signal");
        q.disableNotifications();
        assertEquals(q.lastUsed() - 1 & 0xFFFF, dev.usedEvent());
        assertEquals(1, q.reapUsed((h, l) -> { }));
        assertEquals(0, dev.usedEvent(), "moved along after reaping while disabled");
        dev.complete(b, 0);
        assertFalse(DriverQueue.needEvent(dev.usedEvent(), 2, 1), "disabled: the device stays quiet");
        assertTrue(q.enableNotifications(), "a completion is already waiting: do not sleep");
        assertEquals(1, dev.usedEvent());
    }

    @Test
    void notificationsTheFlagWay() {
        DriverQueue q = queue(8, false);
        FakeDevice dev = new FakeDevice(q);
        q.disableNotifications();
        assertEquals(DriverQueue.AVAIL_F_NO_INTERRUPT, dev.avail.get(JAVA_SHORT, 0));
        assertFalse(q.enableNotifications());
        assertEquals(0, dev.avail.get(JAVA_SHORT, 0));
    }

    @Test
    void needEventFollowsTheSpecIncludingWraparound() {
        assertTrue(DriverQueue.needEvent(0, 1, 0));
        assertFalse(DriverQueue.needEvent(1, 1, 0));
        assertTrue(DriverQueue.needEvent(5, 10, 0));
        assertFalse(DriverQueue.needEvent(10, 10, 0));
        assertTrue(DriverQueue.needEvent(0xFFFF, 2, 0xFFFE), "crosses the 16-bit wrap");
        assertFalse(DriverQueue.needEvent(3, 2, 0xFFFE));
    }

    @Test
    void indicesWrapAt65536WithoutLosingDescriptors() {
        DriverQueue q = queue(4, true);
        FakeDevice dev = new FakeDevice(q);
        BufferChain c = new BufferChain(2);
        Set<Integer> seen = new HashSet<>();
        int[] done = {0};
        for (int i = 0; i < 70_000; i++) {
            int h1 = q.add(c.clear().readable(0x1000 + i, 1).writable(0x2000, 1));
            int h2 = q.add(c.clear().readable(0x3000, 1).writable(0x4000, 1));
            q.publish();
            assertEquals(h1, dev.pop());
            assertEquals(h2, dev.pop());
            assertEquals(0x1000 + i, dev.addr(h1));
            dev.complete(h2, 2);
            dev.complete(h1, 1);
            assertEquals(2, q.reapUsed((h, l) -> {
                seen.add(h);
                done[0]++;
            }));
            assertEquals(4, q.freeDescriptors());
        }
        assertEquals(140_000, done[0]);
        assertEquals((2 * 70_000) & 0xFFFF, q.availIdx());
        assertEquals((2 * 70_000) & 0xFFFF, q.lastUsed());
        assertTrue(seen.size() <= 4);
    }

    @Test
    void queueSizeMustBeAPowerOfTwo() {
        assertThrows(IllegalArgumentException.class, () -> queue(6, true));
        assertThrows(IllegalArgumentException.class, () -> queue(0, true));
        assertThrows(IllegalArgumentException.class, () -> queue(65536, true));
    }

    @Test
    void vringAddressUsesUserAddresses() {
        DriverQueue q = queue(8, true);
        VringAddress a = q.address(ram);
        assertEquals(ram.userAddress(q.descGuestAddress()), a.descUserAddress());
        assertEquals(ram.userAddress(q.usedGuestAddress()), a.usedUserAddress());
        assertEquals(ram.userAddress(q.availGuestAddress()), a.availUserAddress());
        assertEquals(ram.region().userAddress() + (q.descGuestAddress() - ram.region().guestAddress()),
                a.descUserAddress());
    }

    @Test
    void bufferChainKeepsReadableBeforeWritable() {
        BufferChain c = new BufferChain(3).writable(0x1000, 1);
        assertThrows(IllegalStateException.class, () -> c.readable(0x2000, 1));
        assertThrows(IllegalArgumentException.class, () -> c.writable(0x2000, 0));
        c.writable(0x2000, 1).writable(0x3000, 1);
        assertThrows(IllegalStateException.class, () -> c.writable(0x4000, 1), "full");
    }
}

package dev.vhostd.protocol.virtq;

import java.util.List;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import dev.vhostd.protocol.testing.FakeDriver;
import dev.vhostd.protocol.testing.FakeDriver.Buffer;
import dev.vhostd.protocol.testing.FakeDriverQueue;
import dev.vhostd.protocol.testing.FakeDriverQueue.Used;

import static dev.vhostd.protocol.testing.FakeDriverQueue.F_INDIRECT;
import static dev.vhostd.protocol.testing.FakeDriverQueue.F_NEXT;
import static dev.vhostd.protocol.testing.FakeDriverQueue.F_WRITE;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SplitQueueTest {
    private final FakeDriver driver = new FakeDriver(64 * 1024, 64 * 1024);

    @AfterEach
    void close() {
        driver.close();
    }

    private static List<Buffer> list(Buffer... b) {
        return List.of(b);
    }

    @Test
    void popsADirectChain() {
        FakeDriverQueue dq = driver.addQueue(8);
        SplitQueue q = dq.deviceQueue(false);
        DescriptorChain c = new DescriptorChain(8);
        assertFalse(q.pop(c));
        Buffer hdr = driver.buffer(16);
        Buffer data = driver.buffer(4096);
        Buffer status = driver.buffer(1);
        int head = dq.addChain(list(hdr), list(data, status), false);
        assertTrue(q.pop(c));
        assertEquals(head, c.head());
        assertEquals(3, c.count());
        assertEquals(hdr.gpa(), c.address(0));
        assertEquals(16, c.length(0));
        assertFalse(c.writable(0));
        assertEquals(data.gpa(), c.address(1));
        assertEquals(4096, c.length(1));
        assertTrue(c.writable(1));
        assertTrue(c.writable(2));
        assertEquals(1, c.firstWritable());
        assertEquals(16, c.readableBytes());
        assertEquals(4097, c.writableBytes());
        assertEquals(1, q.nextAvail());
        assertFalse(q.pop(c));
        assertThrows(IndexOutOfBoundsException.class, () -> c.address(3));

        q.addUsed(head, 4097);
        assertNull(dq.pollUsed(), "not visible before publish");
        assertTrue(q.publishUsed());
        assertEquals(new Used(head, 4097), dq.pollUsed());
        assertEquals(8, dq.freeDescriptors());
    }

    /**
     * Issue 10 item 7: a driver that offers heads again before the device returned them made the device
     * add more than Queue Size used elements before a publish, an IllegalStateException reported as an
     * internal error. It is invalid guest input: the queue breaks (the session closes), nothing else.
     */
    @Test
    void aDriverThatRepostsHeadsTheDeviceStillHoldsBreaksTheQueue() {
        FakeDriverQueue dq = driver.addQueue(4);
        SplitQueue q = dq.deviceQueue(false);
        DescriptorChain c = new DescriptorChain(4);
        int[] heads = new int[4];
        for (int i = 0; i < 4; i++) {
            heads[i] = dq.addChain(list(), list(driver.buffer(1)), false); // one descriptor each: 4 fit
        }
        // Legitimate: pop all, return all, the driver reuses them once it saw them used.
        for (int i = 0; i < 4; i++) {
            assertTrue(q.pop(c));
            q.addUsed(c.head(), 1);
        }
        q.publishUsed();
        for (int i = 0; i < 4; i++) {
            dq.offer(heads[i]);
        }
        dq.publishAvail();
        for (int i = 0; i < 4; i++) {
            assertTrue(q.pop(c), "heads returned through the used ring may be offered again");
            q.addUsed(c.head(), 1);
        }
        // Hostile: nothing published since, so every head is still with the device, yet it offers them again.
        for (int i = 0; i < 4; i++) {
            dq.offer(heads[i]);
        }
        dq.publishAvail();
        QueueBrokenException e = assertThrows(QueueBrokenException.class, () -> q.pop(c));
        assertTrue(e.getMessage().contains("re-posted"), e.getMessage());
        assertTrue(q.isBroken());
        // What was added before stays publishable (the poller publishes it when it stops the queue).
        q.publishUsed();
        assertEquals(8, dq.usedIdx());
    }

    @Test
    void popsAnIndirectChainAndAMixedOne() {
        FakeDriverQueue dq = driver.addQueue(4);
        SplitQueue q = dq.deviceQueue(false);
        DescriptorChain c = new DescriptorChain(4);
        Buffer a = driver.buffer(16);
        Buffer b = driver.buffer(512);
        Buffer s = driver.buffer(1);
        int head = dq.addChain(list(a), list(b, s), true);
        assertEquals(3, dq.freeDescriptors());
        assertTrue(q.pop(c));
        assertEquals(head, c.head());
        assertEquals(3, c.count());
        assertEquals(a.gpa(), c.address(0));
        assertEquals(b.gpa(), c.address(1));
        assertEquals(s.gpa(), c.address(2));
        assertEquals(1, c.firstWritable());

        // Zero or more direct descriptors followed by one indirect one (virtio 1.x 2.7.5.3.2).
        long table = driver.alloc(32, 16, false);
        dq.writeDescAt(table, 0, b.gpa(), 512, F_WRITE | F_NEXT, 1);
        dq.writeDescAt(table, 1, s.gpa(), 1, F_WRITE, 0);
        dq.writeDesc(1, a.gpa(), 16, F_NEXT, 3);
        // The WRITE bit of the pointer is ignored.
        dq.writeDesc(3, table, 32, F_INDIRECT | F_WRITE, 0);
        dq.offer(1);
        dq.publishAvail();
        assertTrue(q.pop(c));
        assertEquals(1, c.head());
        assertEquals(3, c.count());
        assertFalse(c.writable(0));
        assertEquals(s.gpa(), c.address(2));
    }

    @Test
    void indirectTableOfQueueSizeBuffersIsAccepted() {
        FakeDriverQueue dq = driver.addQueue(4);
        SplitQueue q = dq.deviceQueue(false);
        DescriptorChain c = new DescriptorChain(4);
        Buffer b = driver.buffer(64);
        dq.addChain(list(b, b), list(b, b), true);
        assertTrue(q.pop(c));
        assertEquals(4, c.count());
    }

    @Test
    void bufferAcrossAdjacentRegionsIsValid() {
        FakeDriverQueue dq = driver.addQueue(4);
        SplitQueue q = dq.deviceQueue(false);
        DescriptorChain c = new DescriptorChain(4);
        Buffer across = driver.bufferAcrossBoundary(0, 100, 300);
        dq.addChain(list(), list(across), false);
        assertTrue(q.pop(c));
        assertEquals(across.gpa(), c.address(0));
        assertEquals(300, c.length(0));
    }

    @Test
    void zeroLengthBufferInsideMemoryIsAccepted() {
        FakeDriverQueue dq = driver.addQueue(4);
        SplitQueue q = dq.deviceQueue(false);
        DescriptorChain c = new DescriptorChain(4);
        dq.addChain(list(driver.buffer(0)), list(), false);
        assertTrue(q.pop(c));
        assertEquals(0, c.length(0));
    }

    // ---- chains that fail one request (InvalidChainException), the queue goes on ----

    /** Offers the raw chain at {@code head}, then a good chain; the bad one fails, the good one pops. */
    private void expectInvalid(FakeDriverQueue dq, int head, String messagePart) {
        SplitQueue q = dq.deviceQueue(false);
        DescriptorChain c = new DescriptorChain(dq.size());
        dq.offer(head);
        Buffer good = driver.buffer(8);
        int goodHead = dq.size() - 1;
        dq.writeDesc(goodHead, good.gpa(), 8, 0, 0);
        dq.offer(goodHead);
        dq.publishAvail();
        int before = q.nextAvail();
        InvalidChainException e = assertThrows(InvalidChainException.class, () -> q.pop(c));
        assertEquals(head, e.head());
        assertTrue(e.getMessage().contains(messagePart), e.getMessage());
        assertEquals((before + 1) & 0xFFFF, q.nextAvail(), "queue moved past the bad chain");
        q.addUsed(e.head(), 0);
        assertTrue(q.pop(c));
        assertEquals(goodHead, c.head());
        q.addUsed(c.head(), 0);
        q.publishUsed();
        assertEquals(new Used(head, 0), dq.pollUsed());
        assertEquals(new Used(goodHead, 0), dq.pollUsed());
        assertFalse(q.isBroken());
    }

    @Test
    void loopIsCaughtByTheQueueSizeLimit() {
        FakeDriverQueue dq = driver.addQueue(8);
        Buffer b = driver.buffer(16);
        dq.writeDesc(0, b.gpa(), 16, F_NEXT, 1);
        dq.writeDesc(1, b.gpa(), 16, F_NEXT, 2);
        dq.writeDesc(2, b.gpa(), 16, F_NEXT, 0);
        expectInvalid(dq, 0, "more than 8 descriptors");
    }

    @Test
    void selfLoop() {
        FakeDriverQueue dq = driver.addQueue(4);
        dq.writeDesc(2, driver.buffer(16).gpa(), 16, F_NEXT, 2);
        expectInvalid(dq, 2, "more than 4 descriptors");
    }

    @Test
    void nextBeyondTheTable() {
        FakeDriverQueue dq = driver.addQueue(4);
        dq.writeDesc(0, driver.buffer(16).gpa(), 16, F_NEXT, 4);
        expectInvalid(dq, 0, "links to 4, beyond its descriptor table of 4");
    }

    @Test
    void nestedIndirectTable() {
        FakeDriverQueue dq = driver.addQueue(4);
        Buffer b = driver.buffer(16);
        long table = driver.alloc(32, 16, false);
        dq.writeDescAt(table, 0, b.gpa(), 16, F_NEXT, 1);
        dq.writeDescAt(table, 1, table, 32, F_INDIRECT, 0);
        dq.writeDesc(0, table, 32, F_INDIRECT, 0);
        expectInvalid(dq, 0, "nested");
    }

    @Test
    void indirectTogetherWithNext() {
        FakeDriverQueue dq = driver.addQueue(4);
        Buffer b = driver.buffer(16);
        long table = driver.alloc(16, 16, false);
        dq.writeDescAt(table, 0, b.gpa(), 16, 0, 0);
        dq.writeDesc(0, table, 16, F_INDIRECT | F_NEXT, 1);
        dq.writeDesc(1, b.gpa(), 16, 0, 0);
        expectInvalid(dq, 0, "both INDIRECT and NEXT");
    }

    @Test
    void indirectLengthZeroOrNotMultipleOf16() {
        FakeDriverQueue dq = driver.addQueue(4);
        long table = driver.alloc(32, 16, false);
        dq.writeDesc(0, table, 0, F_INDIRECT, 0);
        expectInvalid(dq, 0, "not a positive multiple of 16");
        dq.writeDesc(1, table, 17, F_INDIRECT, 0);
        expectInvalid(dq, 1, "indirect table length 17");
    }

    @Test
    void indirectTableOutsideGuestMemory() {
        FakeDriverQueue dq = driver.addQueue(4);
        dq.writeDesc(0, driver.totalBytes() - 16, 32, F_INDIRECT, 0);
        expectInvalid(dq, 0, "does not lie inside one guest memory region");
        dq.writeDesc(1, 0xFFFF_FFFF_FFFF_FFF0L, 32, F_INDIRECT, 0);
        expectInvalid(dq, 1, "indirect table");
    }

    @Test
    void indirectNextBeyondItsTable() {
        FakeDriverQueue dq = driver.addQueue(8);
        Buffer b = driver.buffer(16);
        long table = driver.alloc(32, 16, false);
        dq.writeDescAt(table, 0, b.gpa(), 16, F_NEXT, 2);
        dq.writeDesc(0, table, 32, F_INDIRECT, 0);
        expectInvalid(dq, 0, "beyond its indirect table of 2");
    }

    @Test
    void indirectEntriesCountTowardTheQueueSize() {
        FakeDriverQueue dq = driver.addQueue(2);
        Buffer b = driver.buffer(16);
        long table = driver.alloc(48, 16, false);
        dq.writeDescAt(table, 0, b.gpa(), 16, F_NEXT, 1);
        dq.writeDescAt(table, 1, b.gpa(), 16, F_NEXT, 2);
        dq.writeDescAt(table, 2, b.gpa(), 16, 0, 0);
        dq.writeDesc(0, table, 48, F_INDIRECT, 0);
        expectInvalid(dq, 0, "more than 2 descriptors");
    }

    @Test
    void loopInsideAnIndirectTable() {
        FakeDriverQueue dq = driver.addQueue(4);
        Buffer b = driver.buffer(16);
        long table = driver.alloc(32, 16, false);
        dq.writeDescAt(table, 0, b.gpa(), 16, F_NEXT, 1);
        dq.writeDescAt(table, 1, b.gpa(), 16, F_NEXT, 0);
        dq.writeDesc(0, table, 32, F_INDIRECT, 0);
        expectInvalid(dq, 0, "more than 4 descriptors");
    }

    @Test
    void readableAfterWritable() {
        FakeDriverQueue dq = driver.addQueue(4);
        Buffer b = driver.buffer(16);
        dq.writeDesc(0, b.gpa(), 16, F_WRITE | F_NEXT, 1);
        dq.writeDesc(1, b.gpa(), 16, 0, 0);
        expectInvalid(dq, 0, "device-readable descriptor 1 follows a device-writable one");
        // Also across the step into an indirect table.
        long table = driver.alloc(16, 16, false);
        dq.writeDescAt(table, 0, b.gpa(), 16, 0, 0);
        dq.writeDesc(1, b.gpa(), 16, F_WRITE | F_NEXT, 2);
        dq.writeDesc(2, table, 16, F_INDIRECT, 0);
        expectInvalid(dq, 1, "follows a device-writable one");
    }

    @Test
    void totalLengthMustStayBelow4GiB() {
        FakeDriverQueue dq = driver.addQueue(4);
        dq.writeDesc(0, 0, 16, F_NEXT, 1);
        dq.writeDesc(1, 0, 0xFFFF_FFF0, 0, 0);
        expectInvalid(dq, 0, "exceeds 2^32 - 1");
    }

    @Test
    void bufferOutsideGuestMemory() {
        FakeDriverQueue dq = driver.addQueue(4);
        dq.writeDesc(0, driver.totalBytes() - 8, 16, 0, 0);
        expectInvalid(dq, 0, "is not guest memory");
        dq.writeDesc(1, 0xFFFF_FFFF_FFFF_F000L, 0x2000, 0, 0);
        expectInvalid(dq, 1, "is not guest memory");
        dq.writeDesc(2, driver.totalBytes(), 0, 0, 0);
        expectInvalid(dq, 2, "is not guest memory");
    }

    // ---- ring corruption (QueueBrokenException) ----

    @Test
    void availIdxTooFarAheadBreaksTheQueue() {
        FakeDriverQueue dq = driver.addQueue(4);
        SplitQueue q = dq.deviceQueue(false);
        dq.setAvailIdx(5);
        DescriptorChain c = new DescriptorChain(4);
        QueueBrokenException e = assertThrows(QueueBrokenException.class, () -> q.pop(c));
        assertTrue(e.getMessage().contains("5 entries ahead"), e.getMessage());
        assertTrue(q.isBroken());
        assertThrows(QueueBrokenException.class, () -> q.pop(c));
        assertEquals(0, q.nextAvail());
    }

    @Test
    void availIdxTooFarAheadIsCaughtAfterEnableNotificationsToo() {
        FakeDriverQueue dq = driver.addQueue(4);
        SplitQueue q = dq.deviceQueue(true);
        dq.setAvailIdx(1000);
        assertTrue(q.enableNotifications());
        assertEquals(1000, q.pendingAvail());
        assertThrows(QueueBrokenException.class, () -> q.pop(new DescriptorChain(4)));
        assertTrue(q.isBroken());
    }

    @Test
    void availIdxExactlyQueueSizeAheadIsFine() {
        FakeDriverQueue dq = driver.addQueue(4);
        SplitQueue q = dq.deviceQueue(false);
        for (int i = 0; i < 4; i++) {
            dq.addChain(list(driver.buffer(8)), list(), false);
        }
        DescriptorChain c = new DescriptorChain(4);
        int n = 0;
        while (q.pop(c)) {
            n++;
        }
        assertEquals(4, n);
    }

    @Test
    void headOutOfRangeBreaksTheQueue() {
        FakeDriverQueue dq = driver.addQueue(4);
        SplitQueue q = dq.deviceQueue(false);
        dq.offer(4);
        dq.publishAvail();
        QueueBrokenException e = assertThrows(QueueBrokenException.class, () -> q.pop(new DescriptorChain(4)));
        assertTrue(e.getMessage().contains("names head 4"), e.getMessage());
    }

    // ---- construction ----

    @Test
    void constructionValidatesGeometry() {
        FakeDriverQueue dq = driver.addQueue(8);
        long d = dq.descUserAddr();
        long a = dq.availUserAddr();
        long u = dq.usedUserAddr();
        var mem = driver.memory();
        for (int bad : new int[] {0, 3, 12, 65536, -8}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> SplitQueue.fromUserAddresses(mem, bad, d, a, u, 0, false));
            assertTrue(e.getMessage().contains("power of two"), e.getMessage());
        }
        assertTrue(assertThrows(IllegalArgumentException.class,
                () -> SplitQueue.fromUserAddresses(mem, 8, d + 8, a, u, 0, false)).getMessage().contains("16-byte"));
        assertTrue(assertThrows(IllegalArgumentException.class,
                () -> SplitQueue.fromUserAddresses(mem, 8, d, a + 1, u, 0, false)).getMessage().contains("2-byte"));
        assertTrue(assertThrows(IllegalArgumentException.class,
                () -> SplitQueue.fromUserAddresses(mem, 8, d, a, u + 2, 0, false)).getMessage().contains("4-byte"));
        assertThrows(IllegalArgumentException.class, () -> SplitQueue.fromUserAddresses(mem, 8, d, a, u, 65536, false));
        // Ring not in guest memory, or straddling the two regions (each ring must lie in one region).
        assertTrue(assertThrows(IllegalArgumentException.class,
                () -> SplitQueue.fromUserAddresses(mem, 8, 0x1000, a, u, 0, false)).getMessage().contains("descriptor table"));
        long straddle = FakeDriver.userAddr(64 * 1024 - 64);
        assertTrue(assertThrows(IllegalArgumentException.class,
                () -> SplitQueue.fromUserAddresses(mem, 8, straddle, a, u, 0, false)).getMessage().contains("one guest memory region"));
        assertThrows(IllegalArgumentException.class,
                () -> SplitQueue.fromUserAddresses(mem, 8, d, FakeDriver.userAddr(2 * 64 * 1024 - 8), u, 0, false));
        assertThrows(IllegalArgumentException.class,
                () -> SplitQueue.fromUserAddresses(mem, 8, d, a, FakeDriver.userAddr(2 * 64 * 1024 - 64), 0, false));
        // The guest-physical variant checks the same.
        assertThrows(IllegalArgumentException.class,
                () -> SplitQueue.fromGuestAddresses(mem, 8, dq.descGpa(), dq.availGpa(), 2 * 64 * 1024, 0, false));
        SplitQueue ok = SplitQueue.fromGuestAddresses(mem, 8, dq.descGpa(), dq.availGpa(), dq.usedGpa(), 7, true);
        assertEquals(7, ok.nextAvail());
        assertEquals(8, ok.size());
        assertTrue(ok.eventIdx());
        assertThrows(IllegalArgumentException.class, () -> ok.pop(new DescriptorChain(4)));
    }

    @Test
    void continuesFromTheUsedIdxInGuestMemory() {
        FakeDriverQueue dq = driver.addQueue(4);
        dq.setUsedIdx(1000);
        dq.setAvailIdx(1000);
        SplitQueue q = SplitQueue.fromUserAddresses(driver.memory(), 4, dq.descUserAddr(), dq.availUserAddr(),
                dq.usedUserAddr(), 1000, false);
        assertEquals(1000, q.publishedUsed());
        int head = dq.addChain(list(driver.buffer(8)), list(), false);
        DescriptorChain c = new DescriptorChain(4);
        assertTrue(q.pop(c));
        q.addUsed(c.head(), 0);
        q.publishUsed();
        assertEquals(1001, dq.usedIdx());
        assertEquals(new Used(head, 0), dq.pollUsed());
        assertEquals(1001, q.nextAvail());
    }

    @Test
    void addUsedChecksItsArguments() {
        FakeDriverQueue dq = driver.addQueue(4);
        SplitQueue q = dq.deviceQueue(false);
        assertThrows(IllegalArgumentException.class, () -> q.addUsed(4, 0));
        assertThrows(IllegalArgumentException.class, () -> q.addUsed(-1, 0));
        for (int i = 0; i < 4; i++) {
            q.addUsed(i, 0);
        }
        assertThrows(IllegalStateException.class, () -> q.addUsed(0, 0));
        q.publishUsed();
        q.addUsed(0, -1);
        q.publishUsed();
        for (int i = 0; i < 4; i++) {
            dq.pollUsed();
        }
        assertEquals(new Used(0, -1), dq.pollUsed(), "length is an unsigned 32-bit value");
    }

    // ---- notifications ----

    @Test
    void batchPublishNotifiesOnceAndNothingPendingDoesNotNotify() {
        FakeDriverQueue dq = driver.addQueue(8);
        SplitQueue q = dq.deviceQueue(false);
        assertFalse(q.publishUsed());
        DescriptorChain c = new DescriptorChain(8);
        for (int i = 0; i < 5; i++) {
            dq.addChain(list(driver.buffer(8)), list(), false);
        }
        int popped = 0;
        while (q.pop(c)) {
            q.addUsed(c.head(), 0);
            popped++;
        }
        assertEquals(5, popped);
        assertEquals(0, dq.usedIdx());
        assertTrue(q.publishUsed());
        assertEquals(5, dq.usedIdx());
        assertFalse(q.publishUsed());
    }

    @Test
    void noInterruptFlagIsHonouredWithoutEventIdx() {
        FakeDriverQueue dq = driver.addQueue(4);
        SplitQueue q = dq.deviceQueue(false);
        dq.setAvailFlags(1);
        q.addUsed(0, 0);
        assertFalse(q.publishUsed());
        assertEquals(1, dq.usedIdx());
        dq.setAvailFlags(0);
        q.addUsed(1, 0);
        assertTrue(q.publishUsed());
    }

    @Test
    void usedEventDecidesWithEventIdx() {
        FakeDriverQueue dq = driver.addQueue(8);
        SplitQueue q = dq.deviceQueue(true);
        // With EVENT_IDX the device ignores the avail flags ("Used Buffer Notification Suppression").
        dq.setAvailFlags(1);
        dq.setUsedEvent(4);
        q.addUsed(0, 0);
        q.addUsed(1, 0);
        q.addUsed(2, 0);
        assertFalse(q.publishUsed(), "0 -> 3 does not pass used_event 4");
        q.addUsed(3, 0);
        q.addUsed(4, 0);
        assertTrue(q.publishUsed(), "3 -> 5 passes 4");
        q.addUsed(5, 0);
        assertFalse(q.publishUsed(), "stale used_event: the driver has not asked again");
        dq.setUsedEvent(6);
        q.addUsed(6, 0);
        assertTrue(q.publishUsed());
    }

    @Test
    void eventIdxAcrossTheU16Wrap() {
        FakeDriverQueue dq = driver.addQueue(8);
        dq.setUsedIdx(65533);
        dq.setAvailIdx(65533);
        SplitQueue q = dq.deviceQueue(true);
        assertEquals(65533, q.nextAvail());
        DescriptorChain c = new DescriptorChain(8);
        int[] heads = new int[6];
        for (int i = 0; i < 6; i++) {
            heads[i] = dq.addChain(list(driver.buffer(8)), list(), false);
        }
        assertEquals(3, dq.availIdx(), "avail idx wrapped");
        dq.setUsedEvent(65535);
        for (int i = 0; i < 2; i++) {
            assertTrue(q.pop(c));
            q.addUsed(c.head(), i);
        }
        assertFalse(q.publishUsed(), "65533 -> 65535 does not pass 65535");
        assertTrue(q.pop(c));
        q.addUsed(c.head(), 2);
        assertTrue(q.publishUsed(), "65535 -> 0 passes 65535");
        assertEquals(0, dq.usedIdx());
        dq.setUsedEvent(1);
        assertTrue(q.pop(c));
        q.addUsed(c.head(), 3);
        assertFalse(q.publishUsed(), "0 -> 1 does not pass 1");
        for (int i = 0; i < 2; i++) {
            assertTrue(q.pop(c));
            q.addUsed(c.head(), 4 + i);
        }
        assertTrue(q.publishUsed(), "1 -> 3 passes 1");
        assertEquals(3, q.nextAvail());
        for (int i = 0; i < 6; i++) {
            assertEquals(new Used(heads[i], i), dq.pollUsed());
        }
        assertFalse(q.pop(c));
    }

    @Test
    void enableNotificationsWritesAvailEvent() {
        FakeDriverQueue dq = driver.addQueue(4);
        SplitQueue q = dq.deviceQueue(true);
        DescriptorChain c = new DescriptorChain(4);
        dq.addChain(list(driver.buffer(8)), list(), false);
        dq.addChain(list(driver.buffer(8)), list(), false);
        q.disableNotifications();
        assertEquals(0, dq.usedFlags(), "EVENT_IDX never sets NO_NOTIFY");
        assertTrue(q.pop(c));
        assertTrue(q.enableNotifications(), "one chain is still pending");
        assertEquals(1, dq.availEvent());
        assertTrue(q.pop(c));
        assertFalse(q.enableNotifications());
        assertEquals(2, dq.availEvent());
    }

    @Test
    void usedFlagsToggleWithoutEventIdx() {
        FakeDriverQueue dq = driver.addQueue(4);
        SplitQueue q = dq.deviceQueue(false);
        q.disableNotifications();
        assertEquals(1, dq.usedFlags());
        assertFalse(q.enableNotifications());
        assertEquals(0, dq.usedFlags());
        assertEquals(0, dq.availEvent(), "avail_event untouched without EVENT_IDX");
    }

    @Test
    void enableNotificationsSeesAnEntryThatRacedIn() {
        for (boolean eventIdx : new boolean[] {false, true}) {
            FakeDriverQueue dq = driver.addQueue(4);
            SplitQueue q = dq.deviceQueue(eventIdx);
            DescriptorChain c = new DescriptorChain(4);
            q.disableNotifications();
            assertFalse(q.pop(c));
            // The driver adds a buffer after our last pop but before we re-enable kicks: it saw
            // notifications disabled and did not kick, so enableNotifications must report the entry.
            dq.addChain(list(driver.buffer(8)), list(), false);
            assertTrue(q.enableNotifications());
            assertEquals(1, q.pendingAvail());
            assertTrue(q.pop(c));
            assertFalse(q.enableNotifications());
            assertEquals(0, q.pendingAvail());
        }
    }
}

package dev.vhostd.protocol.virtq;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import dev.vhostd.protocol.testing.FakeDriver;
import dev.vhostd.protocol.testing.FakeDriverQueue;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Inflight tracking across a simulated crash: one SplitQueue takes requests and completes some out
 * of order, then is dropped without finishing; a second one over the same rings and the same area
 * must process exactly the unfinished ones again, oldest first, and then carry on with new ones.
 */
class InflightLogTest {
    private static final int SIZE = 16;
    private static final ValueLayout.OfShort LE16 = ValueLayout.JAVA_SHORT.withOrder(ByteOrder.LITTLE_ENDIAN);

    private FakeDriver driver;
    private FakeDriverQueue q;
    private Arena arena;
    private MemorySegment area;

    @BeforeEach
    void setUp() {
        driver = new FakeDriver(1 << 20);
        q = driver.addQueue(SIZE);
        arena = Arena.ofConfined();
        area = arena.allocate(InflightLog.areaSize(SIZE), 64);
    }

    @AfterEach
    void tearDown() {
        arena.close();
        driver.close();
    }

    /** What QEMU does when the back-end died: restart from the used idx the ring holds. */
    private SplitQueue restarted() {
        return SplitQueue.fromUserAddresses(driver.memory(), SIZE, q.descUserAddr(), q.availUserAddr(),
                q.usedUserAddr(), q.usedIdx(), true);
    }

    private int chain() {
        return q.addChain(List.of(driver.buffer(16)), List.of(driver.buffer(16)), false);
    }

    private static List<Integer> popAll(SplitQueue s) {
        DescriptorChain c = new DescriptorChain(SIZE);
        List<Integer> heads = new ArrayList<>();
        while (s.pop(c)) {
            heads.add(c.head());
        }
        return heads;
    }

    @Test
    void unfinishedRequestsAreProcessedAgainOldestFirstAndNothingTwice() {
        SplitQueue first = restarted();
        assertEquals(0, first.trackInflight(area), "a fresh area has nothing in flight");
        int a = chain();
        int b = chain();
        int c = chain();
        int d = chain();
        assertEquals(List.of(a, b, c, d), popAll(first));
        first.addUsed(d, 0);
        first.addUsed(b, 0);
        first.publishUsed();
        // Crash: a and c were taken and never completed. The driver queues one more.
        int e = chain();

        SplitQueue second = restarted();
        assertEquals(2, second.trackInflight(area));
        assertEquals(List.of(a, c, e), popAll(second), "a and c again, in pop order, then the new one");
        assertEquals(5, second.nextAvail(), "the avail side continues after what the dead back-end took");
        second.addUsed(c, 0);
        second.addUsed(a, 0);
        second.addUsed(e, 0);
        second.publishUsed();

        SplitQueue third = restarted();
        assertEquals(0, third.trackInflight(area), "everything was completed");
        assertEquals(List.of(), popAll(third));
    }

    @Test
    void aCrashBetweenPublishingAndClearingTheFlagsDoesNotResubmitThatBatch() {
        SplitQueue first = restarted();
        first.trackInflight(area);
        int a = chain();
        int b = chain();
        int c = chain();
        assertEquals(List.of(a, b, c), popAll(first));
        first.addUsed(b, 0);
        first.addUsed(a, 0);
        first.publishUsed();
        // Undo what publishUsed did after the used idx store: the state a crash right there leaves.
        area.set(ValueLayout.JAVA_BYTE, InflightLog.HEADER_SIZE + (long) InflightLog.ENTRY_SIZE * a, (byte) 1);
        area.set(ValueLayout.JAVA_BYTE, InflightLog.HEADER_SIZE + (long) InflightLog.ENTRY_SIZE * b, (byte) 1);
        area.set(LE16, 14, (short) 0);

        SplitQueue second = restarted();
        assertEquals(1, second.trackInflight(area), "only c; a and b reached the used ring");
        assertEquals(List.of(c), popAll(second));
        assertEquals(2, Short.toUnsignedInt(area.get(LE16, 14)), "used_idx repaired");
    }

    @Test
    void anAreaThatContradictsTheRingIsRefused() {
        SplitQueue first = restarted();
        first.trackInflight(area);
        chain();
        popAll(first);

        MemorySegment wrongCount = arena.allocate(area.byteSize(), 64);
        wrongCount.copyFrom(area);
        wrongCount.set(LE16, 10, (short) 8);
        assertThrows(IllegalArgumentException.class, () -> restarted().trackInflight(wrongCount));

        MemorySegment badFlag = arena.allocate(area.byteSize(), 64);
        badFlag.copyFrom(area);
        badFlag.set(ValueLayout.JAVA_BYTE, InflightLog.HEADER_SIZE + 3L * InflightLog.ENTRY_SIZE, (byte) 7);
        assertThrows(IllegalArgumentException.class, () -> restarted().trackInflight(badFlag));

        MemorySegment farBehind = arena.allocate(area.byteSize(), 64);
        farBehind.copyFrom(area);
        q.setUsedIdx(SIZE + 5);
        farBehind.set(LE16, 14, (short) 0);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> restarted().trackInflight(farBehind));
        assertTrue(e.getMessage().contains("more than the ring size"), e.getMessage());
        q.setUsedIdx(0);

        MemorySegment badList = arena.allocate(area.byteSize(), 64);
        badList.copyFrom(area);
        q.setUsedIdx(1);
        badList.set(LE16, 12, (short) 999);
        assertThrows(IllegalArgumentException.class, () -> restarted().trackInflight(badList));

        MemorySegment small = arena.allocate(InflightLog.areaSize(SIZE) - 64, 64);
        assertThrows(IllegalArgumentException.class, () -> restarted().trackInflight(small));

        // trackInflightAfresh always works and forgets what was there.
        SplitQueue fresh = restarted();
        fresh.trackInflightAfresh(badList);
        assertEquals(1, Short.toUnsignedInt(badList.get(LE16, 8)), "version");
        assertEquals(SIZE, Short.toUnsignedInt(badList.get(LE16, 10)), "desc_num");
        assertEquals(List.of(), popAll(fresh), "nothing resubmitted");
    }
}

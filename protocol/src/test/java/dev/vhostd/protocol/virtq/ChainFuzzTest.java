package dev.vhostd.protocol.virtq;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import java.lang.foreign.ValueLayout;

import com.code_intelligence.jazzer.junit.FuzzTest;

import dev.vhostd.protocol.testing.FakeDriver;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Fuzz target for chain walking: the input is a whole descriptor table, avail ring and indirect table
 * ({@link ChainFuzzInput}); the queue pops until empty or broken. Only InvalidChainException and
 * QueueBrokenException may escape the queue, and every buffer it returns must be guest memory.
 * In a normal build this replays the seed corpus in ChainFuzzTestInputs/walkChains.
 */
class ChainFuzzTest {
    private static final ValueLayout.OfLong LE64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt LE32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort LE16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** Shared across inputs (a memfd per input would be slow); every input rewrites the ring areas. */
    private static final FakeDriver DRIVER = new FakeDriver(ChainFuzzInput.REGION_SIZE, ChainFuzzInput.REGION_SIZE);
    private static final DescriptorChain CHAIN = new DescriptorChain(ChainFuzzInput.MAX_SIZE);

    @FuzzTest(maxDuration = "30s")
    void walkChains(byte[] data) {
        ChainFuzzInput in = ChainFuzzInput.parse(data);
        int size = in.size();
        long total = DRIVER.totalBytes();
        layOut(in);
        SplitQueue q = SplitQueue.fromGuestAddresses(DRIVER.memory(), size, ChainFuzzInput.DESC_GPA,
                ChainFuzzInput.AVAIL_GPA, ChainFuzzInput.USED_GPA, in.nextAvail, in.eventIdx());
        q.disableNotifications();
        if ((in.options & 1) != 0) {
            q.enableNotifications();
        }
        int pops = 0;
        while (true) {
            try {
                if (!q.pop(CHAIN)) {
                    break;
                }
                check(CHAIN, size, total);
                q.addUsed(CHAIN.head(), (int) Math.min(CHAIN.writableBytes(), Integer.MAX_VALUE));
            } catch (InvalidChainException e) {
                assertTrue(e.head() >= 0 && e.head() < size, "invalid head " + e.head());
                q.addUsed(e.head(), 0);
            } catch (QueueBrokenException e) {
                assertTrue(q.isBroken());
                break;
            }
            pops++;
            // Limit from the queue: at most size entries can be pending.
            assertTrue(pops <= size, "popped " + pops + " chains from a queue of " + size);
        }
        q.publishUsed();
        if (!q.isBroken()) {
            assertEquals(q.pendingAvail() != 0, q.enableNotifications());
        }
        assertEquals(q.publishedUsed(), Short.toUnsignedInt(DRIVER.segment(ChainFuzzInput.USED_GPA + 2, 2).get(LE16, 0)));
    }

    /** "ok", "invalid" or "broken": how the first pop on this input ends (for checking the seeds). */
    static String outcome(ChainFuzzInput in) {
        layOut(in);
        SplitQueue q = SplitQueue.fromGuestAddresses(DRIVER.memory(), in.size(), ChainFuzzInput.DESC_GPA,
                ChainFuzzInput.AVAIL_GPA, ChainFuzzInput.USED_GPA, in.nextAvail, in.eventIdx());
        try {
            if ((in.options & 1) != 0) {
                q.enableNotifications();
            }
            return q.pop(CHAIN) ? "ok" : "empty";
        } catch (InvalidChainException e) {
            return "invalid";
        } catch (QueueBrokenException e) {
            return "broken";
        }
    }

    private static void layOut(ChainFuzzInput in) {
        int size = in.size();
        MemorySegment desc = DRIVER.segment(ChainFuzzInput.DESC_GPA, 16L * ChainFuzzInput.MAX_SIZE);
        MemorySegment avail = DRIVER.segment(ChainFuzzInput.AVAIL_GPA, SplitQueue.availBytes(ChainFuzzInput.MAX_SIZE));
        MemorySegment used = DRIVER.segment(ChainFuzzInput.USED_GPA, SplitQueue.usedBytes(ChainFuzzInput.MAX_SIZE));
        MemorySegment indirect = DRIVER.segment(ChainFuzzInput.INDIRECT_GPA, 16L * ChainFuzzInput.MAX_INDIRECT);
        desc.fill((byte) 0);
        avail.fill((byte) 0);
        used.fill((byte) 0);
        indirect.fill((byte) 0);
        for (int i = 0; i < size; i++) {
            putDesc(desc, i, in.addr[i], in.len[i], in.flags[i], in.next[i]);
            avail.set(LE16, 4 + 2L * i, (short) in.ring[i]);
        }
        for (int i = 0; i < in.indirectCount; i++) {
            putDesc(indirect, i, in.iaddr[i], in.ilen[i], in.iflags[i], in.inext[i]);
        }
        avail.set(LE16, 2, (short) in.availIdx);
        used.set(LE16, 2, (short) in.nextAvail);
    }

    private static void putDesc(MemorySegment t, int i, long addr, int len, int flags, int next) {
        t.set(LE64, 16L * i, addr);
        t.set(LE32, 16L * i + 8, len);
        t.set(LE16, 16L * i + 12, (short) flags);
        t.set(LE16, 16L * i + 14, (short) next);
    }

    /** An oracle independent of GuestMemory: guest RAM is exactly [0, total). */
    private static void check(DescriptorChain c, int size, long total) {
        assertTrue(c.head() >= 0 && c.head() < size, "head " + c.head());
        assertTrue(c.count() >= 1 && c.count() <= size, "count " + c.count() + " for size " + size);
        long readable = 0;
        long writable = 0;
        boolean seenWritable = false;
        for (int i = 0; i < c.count(); i++) {
            long a = c.address(i);
            long l = c.length(i);
            if (Long.compareUnsigned(a, total) >= 0 || l > total - a) {
                fail("buffer 0x" + Long.toHexString(a) + "+" + l + " outside guest RAM of " + total + " bytes");
            }
            if (c.writable(i)) {
                seenWritable = true;
                writable += l;
            } else {
                assertTrue(!seenWritable, "readable after writable");
                readable += l;
            }
        }
        assertEquals(readable, c.readableBytes());
        assertEquals(writable, c.writableBytes());
        assertTrue(readable + writable <= 0xFFFF_FFFFL, "chain longer than 2^32 - 1");
    }
}

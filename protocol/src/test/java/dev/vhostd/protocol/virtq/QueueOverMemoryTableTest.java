package dev.vhostd.protocol.virtq;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;

import org.junit.jupiter.api.Test;

import dev.vhostd.protocol.memory.GuestMemory;
import dev.vhostd.protocol.memory.MemoryTable;
import dev.vhostd.protocol.testing.FakeDriver;
import dev.vhostd.protocol.testing.FakeDriverQueue;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The path the engine takes: the device maps the driver's memfds itself through a MemoryTable (as after
 * SET_MEM_TABLE), builds the queue from user addresses (as after SET_VRING_ADDR) and moves data through
 * its own mappings, including a buffer that spans both regions.
 */
class QueueOverMemoryTableTest {
    @Test
    void deviceSeesTheDriversMemoryThroughItsOwnMappings() {
        try (FakeDriver driver = new FakeDriver(64 * 1024, 64 * 1024); MemoryTable table = new MemoryTable(8)) {
            table.replace(driver.memoryRegions(), List.of(driver.dupFd(0), driver.dupFd(1)));
            GuestMemory mem = table.snapshot();
            FakeDriverQueue dq = driver.addQueue(8);
            SplitQueue q = dq.deviceQueue(mem, true);

            FakeDriver.Buffer request = driver.buffer(4);
            driver.write(request.gpa(), new byte[] {1, 2, 3, 4});
            FakeDriver.Buffer reply = driver.bufferAcrossBoundary(0, 10, 100);
            int head = dq.addChain(List.of(request), List.of(reply), false);

            DescriptorChain c = new DescriptorChain(8);
            assertTrue(q.pop(c));
            assertEquals(4, mem.slice(c.address(0), c.length(0)).get(ValueLayout.JAVA_BYTE, 3));
            MemorySegment[] parts = new MemorySegment[4];
            int n = mem.slices(c.address(1), c.length(1), parts, 0);
            assertEquals(2, n);
            byte value = 0;
            for (int i = 0; i < n; i++) {
                for (long j = 0; j < parts[i].byteSize(); j++) {
                    parts[i].set(ValueLayout.JAVA_BYTE, j, value++);
                }
            }
            q.addUsed(c.head(), 100);
            q.publishUsed();
            assertEquals(new FakeDriverQueue.Used(head, 100), dq.pollUsed());
            byte[] expected = new byte[100];
            for (int i = 0; i < expected.length; i++) {
                expected[i] = (byte) i;
            }
            assertArrayEquals(expected, driver.read(reply.gpa(), 100));
        }
    }
}

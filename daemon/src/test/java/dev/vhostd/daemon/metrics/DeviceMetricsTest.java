package dev.vhostd.daemon.metrics;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class DeviceMetricsTest {
    private final List<Integer> added = new ArrayList<>();
    private final DeviceMetrics device = new DeviceMetrics("vda", (d, q) -> added.add(q.index()));

    @Test
    void queuesAreCreatedOnceAndKeptAcrossCalls() {
        QueueMetrics q1 = device.queue(1);
        assertSame(q1, device.queue(1));
        QueueMetrics q0 = device.queue(0);
        assertEquals(List.of(q0, q1), device.queues());
        assertEquals(List.of(1, 0), added, "each queue announced exactly once");
    }

    @Test
    void rejectsQueueIndicesOutOfRange() {
        assertThrows(IllegalArgumentException.class, () -> device.queue(-1));
        var e = assertThrows(IllegalArgumentException.class, () -> device.queue(DeviceMetrics.MAX_QUEUES));
        assertTrue(e.getMessage().contains("out of range"), e.getMessage());
        assertTrue(device.queues().isEmpty());
    }

    @Test
    void connectionEventsAreCountedOncePerTransition() {
        assertFalse(device.isConnected());
        device.disconnected();                  // not connected: no event
        device.connected(0x10, 0x1);
        device.connected(0x30, 0x1);            // renegotiation, same connection
        assertTrue(device.isConnected());
        assertEquals(new DeviceMetrics.Features(0x30, 0x1), device.features());
        device.disconnected();
        device.disconnected();
        assertFalse(device.isConnected());
        assertNull(device.features());
        assertEquals(1, device.connects());
        assertEquals(1, device.disconnects());
    }

    @Test
    void capacityAndMappedMemory() {
        device.capacityBytes(1L << 40);
        long[] mapped = {0};
        device.guestMemoryMapped(() -> mapped[0]);
        mapped[0] = 4096;
        assertEquals(1L << 40, device.capacityBytes());
        assertEquals(4096, device.guestMemoryMappedBytes());
        assertThrows(IllegalArgumentException.class, () -> device.capacityBytes(-1));
    }

    @Test
    void rejectsUnusableNames() {
        assertThrows(IllegalArgumentException.class, () -> new DeviceMetrics("", (d, q) -> {}));
        assertThrows(IllegalArgumentException.class, () -> new DeviceMetrics("a\nb", (d, q) -> {}));
        assertThrows(IllegalArgumentException.class, () -> new DeviceMetrics("x".repeat(256), (d, q) -> {}));
        assertEquals("vhost-user-blk.sock", new DeviceMetrics("vhost-user-blk.sock", (d, q) -> {}).name());
    }
}

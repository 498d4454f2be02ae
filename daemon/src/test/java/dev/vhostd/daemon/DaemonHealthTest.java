package dev.vhostd.daemon;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

import org.junit.jupiter.api.Test;

import dev.vhostd.protocol.poll.Liveness;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Health is serving plus every watched thread alive and not stuck (issue 10 item 2). */
class DaemonHealthTest {
    private record Fixed(String name, AtomicLong stalled) implements Liveness {
        @Override
        public long stalledNanos(long nowNanos) {
            return stalled.get();
        }
    }

    @Test
    void aStuckOrDeadThreadMakesTheDaemonUnhealthyAndSaysWhich() {
        AtomicBoolean serving = new AtomicBoolean(false);
        Fixed poller = new Fixed("vhostd-poller-1", new AtomicLong());
        Fixed accept = new Fixed("accept loop on /run/vda.sock", new AtomicLong());
        DaemonHealth h = new DaemonHealth(serving::get, () -> List.of(accept, poller), Duration.ofSeconds(10));
        assertFalse(h.serving(), "starting");
        serving.set(true);
        assertNull(h.problem());
        assertTrue(h.serving());

        poller.stalled().set(Duration.ofSeconds(9).toNanos());
        assertTrue(h.serving(), "within the limit");
        poller.stalled().set(Duration.ofSeconds(11).toNanos());
        assertFalse(h.serving());
        assertTrue(h.problem().contains("vhostd-poller-1 has been stuck in one step for 11000 ms"), h.problem());

        poller.stalled().set(0);
        accept.stalled().set(Long.MAX_VALUE);
        assertTrue(h.problem().contains("accept loop on /run/vda.sock has stopped"), h.problem());
        accept.stalled().set(0);
        assertTrue(h.serving());
    }
}

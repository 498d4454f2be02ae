package dev.vhostd.protocol.connection;

import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.vhostd.protocol.testing.FakeFrontend;
import dev.vhostd.protocol.wire.Message;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The accept loop as a health check sees it (issue 10 item 2): waiting for a front-end or for its
 * next message is idle; handling one message that does not finish is stalled; a serve() that ended
 * without close() is dead.
 */
class AcceptLoopLivenessTest {
    @TempDir
    Path dir;

    @Test
    void idleWhileWaitingStalledInsideAMessage() throws Exception {
        CountDownLatch inside = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        try (ServerFixture f = ServerFixture.bind(dir.resolve("live.sock"))) {
            f.setup = h -> h.replies = m -> {
                if (m instanceof Message.SetOwner) {
                    inside.countDown();
                    try {
                        release.await();
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                }
                return RecordingHandler.fixedReply(m);
            };
            Thread.sleep(300);
            assertEquals(0, f.server.stalledNanos(System.nanoTime()), "waiting for a front-end");
            try (FakeFrontend fe = FakeFrontend.connect(f.path)) {
                fe.getFeatures();
                Thread.sleep(300);
                assertEquals(0, f.server.stalledNanos(System.nanoTime()), "waiting for the next message");
                fe.sendRaw(dev.vhostd.protocol.testing.RequestBytes.message(
                        dev.vhostd.protocol.wire.Request.SET_OWNER.code, dev.vhostd.protocol.testing.RequestBytes.flags(false), new byte[0]));
                assertTrue(inside.await(5, TimeUnit.SECONDS));
                Thread.sleep(400);
                long stalled = f.server.stalledNanos(System.nanoTime());
                assertTrue(stalled >= TimeUnit.MILLISECONDS.toNanos(300), "inside SET_OWNER: " + stalled);
                release.countDown();
                fe.getFeatures();
                // The reply reaches us a moment before the server ends its step: wait for idle, bounded.
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
                while (f.server.stalledNanos(System.nanoTime()) != 0 && System.nanoTime() < deadline) {
                    Thread.sleep(10);
                }
                assertEquals(0, f.server.stalledNanos(System.nanoTime()), "idle again after the message");
            }
        }
    }
}

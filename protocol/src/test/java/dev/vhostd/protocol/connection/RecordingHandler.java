package dev.vhostd.protocol.connection;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;

import dev.vhostd.protocol.wire.Message;
import dev.vhostd.protocol.wire.MessageFds;
import dev.vhostd.protocol.wire.Reply;

/**
 * A BackendHandler for connection tests: records every message, answers from {@link #replies}
 * (fixed values by default, or whatever a test installs, including throwing), counts disconnects.
 */
final class RecordingHandler implements BackendHandler {
    static final long FEATURES = 0x1_4000_0000L;
    static final long PROTOCOL_FEATURES = 0x8209L;

    final BlockingQueue<Message> messages = new LinkedBlockingQueue<>();
    final AtomicInteger disconnects = new AtomicInteger();
    final CountDownLatch disconnected = new CountDownLatch(1);
    volatile boolean replyAck = true;
    volatile Function<Message, Reply> replies = RecordingHandler::fixedReply;
    private final List<Message> seen = new ArrayList<>();

    static Reply fixedReply(Message m) {
        return switch (m) {
            case Message.GetFeatures g -> new Reply.U64(FEATURES);
            case Message.GetProtocolFeatures g -> new Reply.U64(PROTOCOL_FEATURES);
            case Message.GetQueueNum g -> new Reply.U64(4);
            case Message.GetMaxMemSlots g -> new Reply.U64(8);
            case Message.GetVringBase g -> new Reply.VringState(g.index(), 42);
            case Message.GetConfig g -> {
                byte[] data = new byte[g.size()];
                for (int i = 0; i < data.length; i++) {
                    data[i] = (byte) (g.offset() + i);
                }
                yield new Reply.Config(g.offset(), g.flags(), data);
            }
            default -> Reply.NONE;
        };
    }

    @Override
    public Reply handle(Message message) {
        synchronized (seen) {
            seen.add(message);
        }
        messages.add(message);
        return replies.apply(message);
    }

    @Override
    public boolean replyAckNegotiated() {
        return replyAck;
    }

    @Override
    public void disconnected() {
        disconnects.incrementAndGet();
        disconnected.countDown();
    }

    Message next() throws InterruptedException {
        Message m = messages.poll(10, TimeUnit.SECONDS);
        if (m == null) {
            throw new AssertionError("the handler received no message within 10 s");
        }
        return m;
    }

    boolean awaitDisconnected() throws InterruptedException {
        return disconnected.await(10, TimeUnit.SECONDS);
    }

    /** Closes the fds of every message seen (the handler owns them, as the engine would). */
    void closeAll() {
        synchronized (seen) {
            seen.forEach(MessageFds::close);
        }
    }
}

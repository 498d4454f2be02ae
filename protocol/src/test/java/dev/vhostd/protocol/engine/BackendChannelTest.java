package dev.vhostd.protocol.engine;

import java.io.FileDescriptor;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.newsclub.net.unix.AFUNIXSocketChannel;
import org.newsclub.net.unix.AFUNIXSocketPair;
import org.newsclub.net.unix.FileDescriptorCast;

import dev.vhostd.protocol.connection.VhostUserServer;
import dev.vhostd.protocol.device.ConfigNotice;
import dev.vhostd.protocol.device.ConfigNotifier;
import dev.vhostd.protocol.device.VirtioFeatures;
import dev.vhostd.protocol.poll.PollerGroup;
import dev.vhostd.protocol.testing.FakeFrontend;
import dev.vhostd.protocol.testing.OpenFds;
import dev.vhostd.protocol.wire.Request;
import dev.vhostd.protocol.wire.WireFormat;
import dev.vhostd.sys.EventFd;
import dev.vhostd.sys.Libc;

import static dev.vhostd.protocol.testing.RequestBytes.message;
import static dev.vhostd.protocol.testing.RequestBytes.none;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * BACKEND_REQ: the front-end hands vhostd a socket with SET_BACKEND_REQ_FD, and a config change
 * travels on it as VHOST_USER_BACKEND_CONFIG_CHANGE_MSG, acknowledged when REPLY_ACK was negotiated.
 * The fake front-end answers the way QEMU does (it reads the config again on the main socket before
 * it acknowledges), and misbehaves in every way the back-end must survive: silence, garbage, stray
 * bytes, a closed channel, the wrong kind of fd.
 */
class BackendChannelTest {
    private static final long FEATURES = VirtioFeatures.bit(VirtioFeatures.VERSION_1)
            | VirtioFeatures.bit(VirtioFeatures.VHOST_USER_PROTOCOL_FEATURES);
    private static final long REPLY_ACK = 1L << ProtocolFeatures.REPLY_ACK;
    private static final long BACKEND_REQ = 1L << ProtocolFeatures.BACKEND_REQ;
    private static final Duration SHORT = Duration.ofMillis(500);

    @TempDir
    Path dir;
    Path socket;
    EchoDevice device;
    PollerGroup pollers;
    VhostUserServer server;
    Thread serving;
    AFUNIXSocketPair<AFUNIXSocketChannel> pair;
    /** The front-end's end of the channel, read and written through streams with a timeout. */
    InputStream channelIn;
    OutputStream channelOut;

    @BeforeEach
    void start() throws IOException {
        socket = dir.resolve("echo.sock");
        device = new EchoDevice();
        pollers = new PollerGroup("test", 1, 20);
        server = VhostUserServer.bind(socket);
        serving = Thread.ofPlatform().name("serve").start(() -> server.serve(
                () -> new VhostUserEngine("echo", device, pollers, null, null).backendChannelTimeout(SHORT)));
        pair = AFUNIXSocketPair.open();
        pair.getSocket1().socket().setSoTimeout((int) FakeFrontend.TIMEOUT.toMillis());
        channelIn = pair.getSocket1().socket().getInputStream();
        channelOut = pair.getSocket1().socket().getOutputStream();
    }

    @AfterEach
    void stop() throws IOException, InterruptedException {
        pair.close();
        server.close();
        serving.join(5000);
        pollers.close();
    }

    private int backendEnd() throws IOException {
        return FileDescriptorCast.using(pair.getSocket2().getFileDescriptor()).as(Integer.class);
    }

    /** Features as QEMU negotiates them, with the given protocol features, then the channel handed over. */
    private FakeFrontend connect(long protocolFeatures, boolean giveChannel) throws IOException {
        FakeFrontend fe = FakeFrontend.connect(socket);
        fe.getFeatures();
        fe.setFeatures(FEATURES, false);
        long offered = fe.getProtocolFeatures();
        assertEquals(BACKEND_REQ, offered & BACKEND_REQ, "BACKEND_REQ is offered");
        fe.setProtocolFeatures(protocolFeatures, false);
        fe.setOwner(false);
        if (giveChannel) {
            boolean ack = (protocolFeatures & REPLY_ACK) != 0;
            long r = ack ? fe.setBackendReqFd(backendEnd(), true).getAsLong() : 0;
            if (!ack) {
                fe.setBackendReqFd(backendEnd(), false);
                fe.getQueueNum(); // a round trip: the channel has been taken when this returns
            }
            assertEquals(0, r, "SET_BACKEND_REQ_FD accepted");
            dropOurCopyOfTheBackendEnd();
        }
        return fe;
    }

    /**
     * vhostd holds its own duplicate now; ours would keep the socket open after vhostd closes it.
     * junixsocket's close would shutdown(2) the socket under vhostd too, so our fd number is pointed
     * at /dev/null instead (the trick VhostUserServer uses for shared sockets).
     */
    private void dropOurCopyOfTheBackendEnd() throws IOException {
        int devNull = Libc.open("/dev/null", Libc.O_RDWR | Libc.O_CLOEXEC, 0);
        try {
            Libc.dup3(devNull, backendEnd(), Libc.O_CLOEXEC);
        } finally {
            Libc.close(devNull);
        }
    }

    private ConfigNotifier notifier() {
        ConfigNotifier n = device.notifier;
        assertNotNull(n, "the engine gave the device its notifier when the session started");
        return n;
    }

    private record Header(int code, int flags, int size) {}

    private Header readHeader() throws IOException {
        byte[] h = channelIn.readNBytes(WireFormat.HEADER_SIZE);
        assertEquals(WireFormat.HEADER_SIZE, h.length, "a whole header on the channel");
        ByteBuffer b = ByteBuffer.wrap(h).order(ByteOrder.LITTLE_ENDIAN);
        return new Header(b.getInt(), b.getInt(), b.getInt());
    }

    private void answer(int code, int flags, long value) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(20).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(code).putInt(flags).putInt(8).putLong(value);
        channelOut.write(b.array());
    }

    @Test
    void configChangeIsAcknowledgedAfterTheFrontEndReadsTheConfigAgainLikeQemu() throws Exception {
        try (FakeFrontend fe = connect(REPLY_ACK | BACKEND_REQ, true)) {
            device.config[0] = 42;
            CompletableFuture<ConfigNotice> told = CompletableFuture.supplyAsync(() -> notifier().configChanged());
            Header h = readHeader();
            assertEquals(WireFormat.BACKEND_CONFIG_CHANGE_MSG, h.code());
            assertEquals(WireFormat.VERSION | WireFormat.FLAG_NEED_REPLY, h.flags(), "need_reply with REPLY_ACK");
            assertEquals(0, h.size(), "no payload");
            // QEMU's handler calls GET_CONFIG on the main socket before it answers: that must not deadlock.
            byte[] cfg = fe.getConfig(0, 8).data();
            assertEquals(42, cfg[0], "the front-end reads the changed config");
            answer(WireFormat.BACKEND_CONFIG_CHANGE_MSG, WireFormat.VERSION | WireFormat.FLAG_REPLY, 0);
            ConfigNotice n = told.get(10, TimeUnit.SECONDS);
            assertEquals(ConfigNotice.Outcome.ACKNOWLEDGED, n.outcome(), n.detail());
            // The channel stays usable for the next change.
            CompletableFuture<ConfigNotice> again = CompletableFuture.supplyAsync(() -> notifier().configChanged());
            readHeader();
            answer(WireFormat.BACKEND_CONFIG_CHANGE_MSG, WireFormat.VERSION | WireFormat.FLAG_REPLY, 0);
            assertEquals(ConfigNotice.Outcome.ACKNOWLEDGED, again.get(10, TimeUnit.SECONDS).outcome());
        }
    }

    @Test
    void withoutReplyAckTheMessageIsSentAndNotWaitedFor() throws Exception {
        try (FakeFrontend fe = connect(BACKEND_REQ, true)) {
            ConfigNotice n = notifier().configChanged();
            assertEquals(ConfigNotice.Outcome.SENT, n.outcome(), n.detail());
            Header h = readHeader();
            assertEquals(new Header(WireFormat.BACKEND_CONFIG_CHANGE_MSG, WireFormat.VERSION, 0), h);
        }
    }

    @Test
    void aFrontEndWithoutBackendReqIsReportedAsUnreachable() throws Exception {
        try (FakeFrontend fe = connect(REPLY_ACK, false)) {
            ConfigNotice n = notifier().configChanged();
            assertEquals(ConfigNotice.Outcome.NOT_SUPPORTED, n.outcome());
            assertTrue(n.detail().contains("BACKEND_REQ"), n.detail());
        }
    }

    @Test
    void aSilentFrontEndCostsTheTimeoutThenTheChannelIsClosed() throws Exception {
        try (FakeFrontend fe = connect(REPLY_ACK | BACKEND_REQ, true)) {
            long t0 = System.nanoTime();
            ConfigNotice n = notifier().configChanged();
            long ms = (System.nanoTime() - t0) / 1_000_000;
            assertEquals(ConfigNotice.Outcome.FAILED, n.outcome());
            assertTrue(n.detail().contains("did not answer"), n.detail());
            assertTrue(ms >= 400 && ms < 5_000, "bounded by the 500 ms timeout, took " + ms + " ms");
            readHeader(); // it was sent
            assertEquals(-1, channelIn.read(), "vhostd closed its end");
            assertEquals(ConfigNotice.Outcome.FAILED, notifier().configChanged().outcome());
            // The main connection is unaffected.
            assertEquals(2, fe.getQueueNum());
        }
    }

    @Test
    void aGarbledAnswerClosesTheChannelButNotTheConnection() throws Exception {
        try (FakeFrontend fe = connect(REPLY_ACK | BACKEND_REQ, true)) {
            CompletableFuture<ConfigNotice> told = CompletableFuture.supplyAsync(() -> notifier().configChanged());
            readHeader();
            answer(7, WireFormat.VERSION | WireFormat.FLAG_REPLY, 0); // an answer to another request
            ConfigNotice n = told.get(10, TimeUnit.SECONDS);
            assertEquals(ConfigNotice.Outcome.FAILED, n.outcome());
            assertTrue(n.detail().contains("instead of an acknowledgement"), n.detail());
            assertEquals(-1, channelIn.read(), "vhostd closed its end");
            assertEquals(2, fe.getQueueNum());
        }
    }

    @Test
    void aFailureAnswerIsReportedAndTheChannelStays() throws Exception {
        try (FakeFrontend fe = connect(REPLY_ACK | BACKEND_REQ, true)) {
            CompletableFuture<ConfigNotice> told = CompletableFuture.supplyAsync(() -> notifier().configChanged());
            readHeader();
            answer(WireFormat.BACKEND_CONFIG_CHANGE_MSG, WireFormat.VERSION | WireFormat.FLAG_REPLY, 1);
            ConfigNotice n = told.get(10, TimeUnit.SECONDS);
            assertEquals(ConfigNotice.Outcome.FAILED, n.outcome());
            assertTrue(n.detail().contains("reported failure"), n.detail());
            CompletableFuture<ConfigNotice> again = CompletableFuture.supplyAsync(() -> notifier().configChanged());
            readHeader();
            answer(WireFormat.BACKEND_CONFIG_CHANGE_MSG, WireFormat.VERSION | WireFormat.FLAG_REPLY, 0);
            assertEquals(ConfigNotice.Outcome.ACKNOWLEDGED, again.get(10, TimeUnit.SECONDS).outcome());
        }
    }

    @Test
    void strayBytesFromTheFrontEndEndTheChannel() throws Exception {
        try (FakeFrontend fe = connect(REPLY_ACK | BACKEND_REQ, true)) {
            channelOut.write(new byte[] {1, 2, 3});
            fe.getQueueNum();
            ConfigNotice n = notifier().configChanged();
            assertEquals(ConfigNotice.Outcome.FAILED, n.outcome());
            assertTrue(n.detail().contains("nobody asked for"), n.detail());
        }
    }

    @Test
    void aClosedChannelIsReportedNotWaitedOn() throws Exception {
        try (FakeFrontend fe = connect(REPLY_ACK | BACKEND_REQ, true)) {
            pair.getSocket1().close();
            long t0 = System.nanoTime();
            ConfigNotice n = notifier().configChanged();
            assertEquals(ConfigNotice.Outcome.FAILED, n.outcome());
            assertTrue(n.detail().contains("closed"), n.detail());
            assertTrue(System.nanoTime() - t0 < 400_000_000L, "noticed at once, not after the timeout");
        }
    }

    @Test
    void fdsAttachedToAnAnswerAreNotInstalled() throws Exception {
        try (FakeFrontend fe = connect(REPLY_ACK | BACKEND_REQ, true)) {
            int efd = EventFd.create();
            try {
                long before = OpenFds.eventfds();
                CompletableFuture<ConfigNotice> told = CompletableFuture.supplyAsync(() -> notifier().configChanged());
                readHeader();
                ByteBuffer b = ByteBuffer.allocate(20).order(ByteOrder.LITTLE_ENDIAN);
                b.putInt(WireFormat.BACKEND_CONFIG_CHANGE_MSG).putInt(WireFormat.VERSION | WireFormat.FLAG_REPLY)
                        .putInt(8).putLong(0);
                pair.getSocket1().setOutboundFileDescriptors(FileDescriptorCast.unsafeUsing(efd).getFileDescriptor());
                channelOut.write(b.array());
                pair.getSocket1().setOutboundFileDescriptors((FileDescriptor[]) null);
                assertEquals(ConfigNotice.Outcome.ACKNOWLEDGED, told.get(10, TimeUnit.SECONDS).outcome());
                assertEquals(before, OpenFds.eventfds(), "the attached eventfd was discarded by the kernel");
            } finally {
                Libc.close(efd);
            }
        }
    }

    @Test
    void theChannelFdIsRefusedBeforeNegotiationAndWhenItIsNotAConnectedStreamSocket() throws Exception {
        try (FakeFrontend fe = FakeFrontend.connect(socket)) {
            fe.getFeatures();
            fe.setFeatures(FEATURES, false);
            fe.setProtocolFeatures(REPLY_ACK, false);
            String inode = Files.readSymbolicLink(Path.of("/proc/self/fd/" + backendEnd())).toString();
            assertNotEquals(0, fe.setBackendReqFd(backendEnd(), true).getAsLong(), "BACKEND_REQ not negotiated");
            fe.getQueueNum();
            assertEquals(1, OpenFds.count(inode), "vhostd closed its copy of the refused socket");

            fe.setProtocolFeatures(REPLY_ACK | BACKEND_REQ, false);
            int efd = EventFd.create();
            try {
                long before = OpenFds.eventfds();
                assertNotEquals(0, fe.setBackendReqFd(efd, true).getAsLong(), "an eventfd is no channel");
                fe.getQueueNum();
                assertEquals(before, OpenFds.eventfds(), "the refused eventfd was closed");
                // No fd, and two fds: refused, nothing kept.
                fe.sendRaw(message(Request.SET_BACKEND_REQ_FD.code, WireFormat.VERSION | WireFormat.FLAG_NEED_REPLY,
                        none()));
                assertNotEquals(0, fe.readReply().u64(), "no fd");
                fe.sendRaw(message(Request.SET_BACKEND_REQ_FD.code, WireFormat.VERSION | WireFormat.FLAG_NEED_REPLY,
                        none()), efd, efd);
                assertNotEquals(0, fe.readReply().u64(), "two fds");
                fe.getQueueNum();
                assertEquals(before, OpenFds.eventfds(), "both copies closed");
                // A payload where none belongs.
                fe.sendRaw(message(Request.SET_BACKEND_REQ_FD.code, WireFormat.VERSION | WireFormat.FLAG_NEED_REPLY,
                        new byte[8]), backendEnd());
                assertNotEquals(0, fe.readReply().u64(), "an 8-byte payload");
            } finally {
                Libc.close(efd);
            }
            assertEquals(ConfigNotice.Outcome.NOT_SUPPORTED, notifier().configChanged().outcome());
            assertEquals(0, fe.setBackendReqFd(backendEnd(), true).getAsLong(), "a socket pair end is taken");
            dropOurCopyOfTheBackendEnd();
            assertArrayEquals(new byte[] {1, 2, 3, 4, 5, 6, 7, 8}, fe.getConfig(0, 8).data());
        }
    }

    @Test
    void theDeviceLosesTheNotifierWhenTheSessionEnds() throws Exception {
        FakeFrontend fe = connect(REPLY_ACK | BACKEND_REQ, true);
        ConfigNotifier n = notifier();
        fe.close();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (device.notifier != null && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
        assertEquals(null, device.notifier, "the ended session's notifier was taken back");
        assertEquals(-1, channelIn.read(), "the channel was closed with the session");
        assertEquals(ConfigNotice.Outcome.NO_FRONTEND, n.configChanged().outcome(), "a stale notifier reaches nothing");
    }
}

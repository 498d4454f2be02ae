package dev.vhostd.protocol.connection;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.OptionalLong;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.vhostd.protocol.testing.FakeFrontend;
import dev.vhostd.protocol.testing.OpenFds;
import dev.vhostd.protocol.wire.Message;
import dev.vhostd.protocol.wire.Reply;
import dev.vhostd.protocol.wire.Request;
import dev.vhostd.protocol.wire.VhostUserException;
import dev.vhostd.protocol.wire.WireFormat;
import dev.vhostd.sys.EventFd;
import dev.vhostd.sys.Libc;
import dev.vhostd.sys.MemFd;

import static dev.vhostd.protocol.testing.RequestBytes.*;
import static org.junit.jupiter.api.Assertions.*;

/** The connection over a real AF_UNIX socket: every bad-message rule, and the server outliving each. */
class VhostUserConnectionTest {
    private static final Message.MemoryRegion REGION = new Message.MemoryRegion(0, 8192, 0x7f0000000000L, 0);
    private static final OptionalLong ACK_OK = OptionalLong.of(0);
    private static final OptionalLong ACK_FAIL = OptionalLong.of(1);

    @TempDir
    Path dir;
    ServerFixture fixture;

    @BeforeEach
    void start() throws IOException {
        fixture = ServerFixture.bind(dir.resolve("vhost.sock"));
    }

    @AfterEach
    void stop() throws InterruptedException {
        fixture.close();
    }

    private FakeFrontend connect() throws IOException {
        return FakeFrontend.connect(fixture.path);
    }

    /** After any misbehaviour the server must still accept and serve a fresh front-end. */
    private void assertServerStillServes() throws Exception {
        try (FakeFrontend fe = connect()) {
            RecordingHandler h = fixture.nextHandler();
            assertEquals(RecordingHandler.FEATURES, fe.getFeatures());
            assertInstanceOf(Message.GetFeatures.class, h.next());
        }
        assertTrue(fixture.serverThreadAlive());
    }

    @Test
    void typedRequestsReachTheHandlerAndRepliesComeBack() throws Exception {
        try (FakeFrontend fe = connect()) {
            RecordingHandler h = fixture.nextHandler();
            assertEquals(RecordingHandler.FEATURES, fe.getFeatures());
            assertEquals(RecordingHandler.PROTOCOL_FEATURES, fe.getProtocolFeatures());
            assertEquals(OptionalLong.empty(), fe.setOwner(false));
            assertEquals(ACK_OK, fe.setFeatures(RecordingHandler.FEATURES, true));
            assertEquals(ACK_OK, fe.setProtocolFeatures(8, true));
            assertEquals(4, fe.getQueueNum());
            assertEquals(8, fe.getMaxMemSlots());
            assertEquals(ACK_OK, fe.setVringNum(0, 128, true));
            assertEquals(ACK_OK, fe.setVringAddr(0, 0, 0x1000, 0x2000, 0x3000, 0, true));
            assertEquals(ACK_OK, fe.setVringBase(0, 5, true));
            assertEquals(new Reply.VringState(1, 42), fe.getVringBase(1));
            assertEquals(ACK_OK, fe.setVringEnable(0, true, true));
            Reply.Config config = fe.getConfig(4, 3);
            assertArrayEquals(new byte[] {4, 5, 6}, config.data());
            assertEquals(ACK_OK, fe.setConfig(0, 0, new byte[] {1, 2}, true));
            assertEquals(ACK_OK, fe.resetDevice(true));
            assertEquals(ACK_OK, fe.setVringCall(0, -1, true));
            assertEquals(ACK_OK, fe.setVringErr(0, -1, true));
            for (Request r : List.of(Request.GET_FEATURES, Request.GET_PROTOCOL_FEATURES, Request.SET_OWNER,
                    Request.SET_FEATURES, Request.SET_PROTOCOL_FEATURES, Request.GET_QUEUE_NUM,
                    Request.GET_MAX_MEM_SLOTS, Request.SET_VRING_NUM, Request.SET_VRING_ADDR, Request.SET_VRING_BASE,
                    Request.GET_VRING_BASE, Request.SET_VRING_ENABLE, Request.GET_CONFIG, Request.SET_CONFIG,
                    Request.RESET_DEVICE, Request.SET_VRING_CALL, Request.SET_VRING_ERR)) {
                assertEquals(r, h.next().request());
            }
        }
    }

    @Test
    void memoryFdsArriveAsUsableDuplicates() throws Exception {
        int a = MemFd.create("conn-test-a", 8192);
        int b = MemFd.create("conn-test-b", 16384);
        try (FakeFrontend fe = connect()) {
            RecordingHandler h = fixture.nextHandler();
            Message.MemoryRegion second = new Message.MemoryRegion(8192, 16384, 0x7f1000000000L, 0);
            assertEquals(ACK_OK, fe.setMemTable(List.of(REGION, second), new int[] {a, b}, true));
            Message.SetMemTable table = (Message.SetMemTable) h.next();
            assertEquals(List.of(REGION, second), table.regions());
            assertEquals(2, table.fds().size());
            assertEquals(8192, Libc.fstat(table.fds().get(0).fd()).size());
            assertEquals(16384, Libc.fstat(table.fds().get(1).fd()).size());
            assertNotEquals(a, table.fds().get(0).fd());
            // close-on-exec: a child process (e.g. a storage helper) must not inherit guest memory
            assertEquals(1, Libc.fcntl(table.fds().get(0).fd(), 1 /* F_GETFD */, 0) & 1);

            assertEquals(ACK_OK, fe.addMemReg(second, b, true));
            assertEquals(16384, Libc.fstat(((Message.AddMemReg) h.next()).fd().fd()).size());
        } finally {
            Libc.close(a);
            Libc.close(b);
        }
    }

    @Test
    void kickFdIsTheSameEventfd() throws Exception {
        int kick = EventFd.create();
        try (FakeFrontend fe = connect()) {
            RecordingHandler h = fixture.nextHandler();
            assertEquals(ACK_OK, fe.setVringKick(3, kick, true));
            Message.SetVringFd m = (Message.SetVringFd) h.next();
            assertEquals(3, m.index());
            assertFalse(m.noFd());
            EventFd e = new EventFd();
            e.signal(kick);
            assertEquals(1, e.drain(m.fd().fd()));
        } finally {
            Libc.close(kick);
        }
    }

    @Test
    void remMemRegFdIsClosed() throws Exception {
        int fd = EventFd.create();
        try (FakeFrontend fe = connect()) {
            fixture.nextHandler();
            long before = OpenFds.eventfds();
            assertEquals(ACK_OK, fe.remMemReg(REGION, fd, true));
            assertEquals(before, OpenFds.eventfds());
        } finally {
            Libc.close(fd);
        }
    }

    @Test
    void oversizedPayloadClosesTheConnection() throws Exception {
        try (FakeFrontend fe = connect()) {
            RecordingHandler h = fixture.nextHandler();
            byte[] header = message(Request.SET_FEATURES.code, flags(true), new byte[0]);
            header[8] = (byte) (WireFormat.MAX_PAYLOAD_SIZE + 1);
            header[9] = (byte) ((WireFormat.MAX_PAYLOAD_SIZE + 1) >> 8);
            fe.sendRaw(header);
            assertTrue(fe.awaitClosedByPeer());
            assertTrue(h.awaitDisconnected());
            assertTrue(h.messages.isEmpty());
        }
        assertServerStillServes();
    }

    @Test
    void hugeSizeFieldClosesWithoutReading() throws Exception {
        try (FakeFrontend fe = connect()) {
            RecordingHandler h = fixture.nextHandler();
            byte[] header = message(Request.SET_FEATURES.code, flags(false), new byte[0]);
            header[11] = (byte) 0xff; // size >= 0xff000000: negative as a Java int
            fe.sendRaw(header);
            assertTrue(fe.awaitClosedByPeer());
            assertTrue(h.awaitDisconnected());
        }
        assertServerStillServes();
    }

    @Test
    void truncatedPayloadThenEofEndsTheSession() throws Exception {
        int fd = EventFd.create();
        long before = OpenFds.eventfds();
        try (FakeFrontend fe = connect()) {
            RecordingHandler h = fixture.nextHandler();
            byte[] full = message(Request.SET_VRING_KICK.code, flags(false), vringFd(0, false));
            fe.sendRaw(java.util.Arrays.copyOf(full, full.length - 3), fd);
            fe.close();
            assertTrue(h.awaitDisconnected());
            assertEquals(1, h.disconnects.get());
            assertTrue(h.messages.isEmpty());
        } finally {
            Libc.close(fd);
        }
        assertServerStillServes();
        assertEquals(before - 1, OpenFds.eventfds(), "the fd received with the truncated message leaked");
    }

    @Test
    void truncatedHeaderThenEofEndsTheSession() throws Exception {
        try (FakeFrontend fe = connect()) {
            RecordingHandler h = fixture.nextHandler();
            fe.sendRaw(new byte[] {1, 0, 0, 0, 1});
            fe.close();
            assertTrue(h.awaitDisconnected());
        }
        assertServerStillServes();
    }

    @Test
    void unknownCodeGetsAnErrorAckAndTheSessionGoesOn() throws Exception {
        try (FakeFrontend fe = connect()) {
            RecordingHandler h = fixture.nextHandler();
            fe.sendRaw(message(19 /* SEND_RARP */, flags(true), u64(0)));
            FakeFrontend.RawReply r = fe.readReply();
            assertEquals(19, r.code());
            assertEquals(WireFormat.VERSION | WireFormat.FLAG_REPLY, r.flags());
            assertEquals(1, r.u64());
            fe.sendRaw(message(6 /* SET_LOG_BASE */, flags(false), u64(0)));
            assertEquals(RecordingHandler.FEATURES, fe.getFeatures());
            assertInstanceOf(Message.GetFeatures.class, h.next());
            assertTrue(h.messages.isEmpty());
        }
    }

    @Test
    void fdsOnAMessageThatCarriesNoneAreRejectedAndClosed() throws Exception {
        int fd = EventFd.create();
        try (FakeFrontend fe = connect()) {
            RecordingHandler h = fixture.nextHandler();
            long before = OpenFds.eventfds();
            fe.sendRaw(message(Request.SET_FEATURES.code, flags(true), u64(1)), fd, fd);
            assertEquals(1, fe.readReply().u64());
            assertEquals(before, OpenFds.eventfds());
            fe.sendRaw(message(99, flags(true), u64(1)), fd);
            assertEquals(1, fe.readReply().u64());
            assertEquals(before, OpenFds.eventfds());
            assertEquals(RecordingHandler.FEATURES, fe.getFeatures());
            assertInstanceOf(Message.GetFeatures.class, h.next());
        } finally {
            Libc.close(fd);
        }
    }

    @Test
    void wrongFdCountsAreRejectedAndClosed() throws Exception {
        int fd = EventFd.create();
        try (FakeFrontend fe = connect()) {
            RecordingHandler h = fixture.nextHandler();
            long before = OpenFds.eventfds();
            // kick without fd and without the no-fd flag
            fe.sendRaw(message(Request.SET_VRING_KICK.code, flags(true), vringFd(0, false)));
            assertEquals(1, fe.readReply().u64());
            // no-fd flag with an fd
            fe.sendRaw(message(Request.SET_VRING_CALL.code, flags(true), vringFd(0, true)), fd);
            assertEquals(1, fe.readReply().u64());
            // two regions, one fd
            assertEquals(ACK_FAIL, fe.setMemTable(List.of(REGION, REGION), new int[] {fd}, true));
            assertEquals(before, OpenFds.eventfds());
            assertTrue(h.messages.isEmpty());
        } finally {
            Libc.close(fd);
        }
    }

    @Test
    void badVersionClosesTheConnection() throws Exception {
        try (FakeFrontend fe = connect()) {
            RecordingHandler h = fixture.nextHandler();
            fe.sendRaw(message(Request.GET_FEATURES.code, 2, none()));
            assertTrue(fe.awaitClosedByPeer());
            assertTrue(h.awaitDisconnected());
        }
        assertServerStillServes();
    }

    @Test
    void replyFlagFromTheFrontEndClosesTheConnection() throws Exception {
        try (FakeFrontend fe = connect()) {
            RecordingHandler h = fixture.nextHandler();
            fe.sendRaw(message(Request.SET_OWNER.code, WireFormat.VERSION | WireFormat.FLAG_REPLY, none()));
            assertTrue(fe.awaitClosedByPeer());
            assertTrue(h.awaitDisconnected());
        }
        assertServerStillServes();
    }

    @Test
    void handlerRejectionSendsErrorAck() throws Exception {
        fixture.setup = h -> h.replies = m -> {
            throw VhostUserException.rejected("ring 9 does not exist");
        };
        try (FakeFrontend fe = connect()) {
            fixture.nextHandler();
            assertEquals(ACK_FAIL, fe.setVringNum(9, 128, true));
            assertEquals(OptionalLong.empty(), fe.setVringNum(9, 128, false));
            assertEquals(ACK_FAIL, fe.setOwner(true)); // still connected
        }
    }

    @Test
    void fatalHandlerErrorClosesTheConnection() throws Exception {
        fixture.setup = h -> h.replies = m -> {
            throw VhostUserException.fatal("session state is broken");
        };
        try (FakeFrontend fe = connect()) {
            RecordingHandler h = fixture.nextHandler();
            fe.setOwner(false);
            assertTrue(fe.awaitClosedByPeer());
            assertTrue(h.awaitDisconnected());
        }
        fixture.setup = h -> {};
        assertServerStillServes();
    }

    @Test
    void unexpectedHandlerExceptionClosesButTheServerLives() throws Exception {
        fixture.setup = h -> h.replies = m -> {
            throw new IllegalStateException("engine bug");
        };
        try (FakeFrontend fe = connect()) {
            RecordingHandler h = fixture.nextHandler();
            fe.setOwner(false);
            assertTrue(fe.awaitClosedByPeer());
            assertTrue(h.awaitDisconnected());
            assertEquals(1, h.disconnects.get());
        }
        fixture.setup = h -> {};
        assertServerStillServes();
    }

    @Test
    void refusedGetConfigAnswersWithEmptyPayload() throws Exception {
        fixture.setup = h -> h.replies = m -> {
            throw VhostUserException.rejected("config space unavailable");
        };
        try (FakeFrontend fe = connect()) {
            fixture.nextHandler();
            assertEquals(0, fe.getConfig(0, 8).data().length);
            assertEquals(ACK_FAIL, fe.setOwner(true));
        }
    }

    @Test
    void refusedGetFeaturesClosesBecauseItHasNoErrorForm() throws Exception {
        fixture.setup = h -> h.replies = m -> {
            throw VhostUserException.rejected("no");
        };
        try (FakeFrontend fe = connect()) {
            RecordingHandler h = fixture.nextHandler();
            fe.sendRaw(message(Request.GET_FEATURES.code, flags(false), none()));
            assertTrue(fe.awaitClosedByPeer());
            assertTrue(h.awaitDisconnected());
        }
    }

    @Test
    void wrongReplyVariantFromTheEngineClosesTheConnection() throws Exception {
        fixture.setup = h -> h.replies = m -> new Reply.VringState(0, 0);
        try (FakeFrontend fe = connect()) {
            RecordingHandler h = fixture.nextHandler();
            fe.sendRaw(message(Request.GET_FEATURES.code, flags(false), none()));
            assertTrue(fe.awaitClosedByPeer());
            assertTrue(h.awaitDisconnected());
        }
    }

    @Test
    void noAckWithoutReplyAckNegotiated() throws Exception {
        fixture.setup = h -> h.replyAck = false;
        try (FakeFrontend fe = connect()) {
            fixture.nextHandler();
            fe.sendRaw(message(Request.SET_OWNER.code, flags(true), none()));
            fe.sendRaw(message(99, flags(true), none()));
            // The next thing on the wire is the GET_FEATURES reply, not an ack.
            assertEquals(RecordingHandler.FEATURES, fe.getFeatures());
        }
    }

    @Test
    void ownReplyReplacesTheAck() throws Exception {
        try (FakeFrontend fe = connect()) {
            fixture.nextHandler();
            fe.sendRaw(message(Request.GET_QUEUE_NUM.code, flags(true), none()));
            assertEquals(4, fe.readReply().u64());
            assertTrue(fe.silentFor(Duration.ofMillis(200)));
        }
    }

    @Test
    void secondFrontEndWaitsUntilTheFirstLeaves() throws Exception {
        FakeFrontend first = connect();
        RecordingHandler h1 = fixture.nextHandler();
        assertEquals(RecordingHandler.FEATURES, first.getFeatures());
        try (FakeFrontend second = connect()) {
            second.sendRaw(message(Request.GET_FEATURES.code, flags(false), none()));
            assertTrue(second.silentFor(Duration.ofMillis(300)), "the second front-end was served concurrently");
            first.close();
            assertTrue(h1.awaitDisconnected());
            RecordingHandler h2 = fixture.nextHandler();
            FakeFrontend.RawReply r = second.readReply();
            assertEquals(RecordingHandler.FEATURES, r.u64());
            assertInstanceOf(Message.GetFeatures.class, h2.next());
        }
    }

    @Test
    void reconnectAfterDropMidMessage() throws Exception {
        for (int i = 0; i < 3; i++) {
            FakeFrontend fe = connect();
            RecordingHandler h = fixture.nextHandler();
            byte[] table = message(Request.SET_MEM_TABLE.code, flags(true), memTable(List.of(REGION)));
            fe.sendRaw(java.util.Arrays.copyOf(table, 20 + i * 7));
            fe.close();
            assertTrue(h.awaitDisconnected());
        }
        assertServerStillServes();
    }

    @Test
    void closingTheServerEndsTheSession() throws Exception {
        FakeFrontend fe = connect();
        RecordingHandler h = fixture.nextHandler();
        assertEquals(RecordingHandler.FEATURES, fe.getFeatures());
        fixture.server.close();
        assertTrue(h.awaitDisconnected());
        assertTrue(fe.awaitClosedByPeer());
        fe.close();
        assertFalse(java.nio.file.Files.exists(fixture.path), "socket file left behind");
    }
}

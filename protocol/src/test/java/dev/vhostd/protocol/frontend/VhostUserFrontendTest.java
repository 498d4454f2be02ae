package dev.vhostd.protocol.frontend;

import java.io.DataInputStream;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import dev.vhostd.protocol.wire.Request;
import dev.vhostd.sys.EventFd;
import dev.vhostd.sys.Libc;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.newsclub.net.unix.AFUNIXServerSocket;
import org.newsclub.net.unix.AFUNIXSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The front-end against a scripted in-process back-end: fd passing, REPLY_ACK, broken replies. */
class VhostUserFrontendTest {
    @TempDir
    Path dir;

    /** One message as the back-end received it. */
    private record Received(int request, int flags, byte[] payload, FileDescriptor[] fds) {}

    /** A scripted back-end: each step reads one message and may answer. */
    private interface Step {
        void run(Received m, OutputStream out) throws IOException;
    }

    private static byte[] reply(int request, byte[] payload) {
        return ByteBuffer.allocate(12 + payload.length).order(ByteOrder.LITTLE_ENDIAN).putInt(request)
                .putInt(MessageHeader.VERSION | MessageHeader.FLAG_REPLY).putInt(payload.length).put(payload).array();
    }

    private CompletableFuture<List<Received>> backend(Path sock, AFUNIXServerSocket server, Step... steps) {
        return CompletableFuture.supplyAsync(() -> {
            try (AFUNIXSocket s = server.accept()) {
                s.setAncillaryReceiveBufferSize(1024);
                DataInputStream in = new DataInputStream(s.getInputStream());
                OutputStream out = s.getOutputStream();
                java.util.ArrayList<Received> got = new java.util.ArrayList<>();
                for (Step step : steps) {
                    byte[] h = new byte[12];
                    in.readFully(h);
                    FileDescriptor[] fds = s.getReceivedFileDescriptors();
                    ByteBuffer b = ByteBuffer.wrap(h).order(ByteOrder.LITTLE_ENDIAN);
                    int req = b.getInt();
                    int flags = b.getInt();
                    byte[] p = new byte[b.getInt()];
                    in.readFully(p);
                    Received r = new Received(req, flags, p, fds);
                    got.add(r);
                    step.run(r, out);
                }
                return got;
            } catch (IOException e) {
                throw new RuntimeException(e);
            }
        });
    }

    private static Step answerU64(long v) {
        return (m, out) -> out.write(reply(m.request(), FrontendCodec.u64(v)));
    }

    private static final Step SILENT = (m, out) -> { };

    @Test
    void replyAckMakesRefusalsVisibleAtTheRequest() throws Exception {
        Path sock = dir.resolve("b.sock");
        try (AFUNIXServerSocket server = AFUNIXServerSocket.bindOn(AFUNIXSocketAddress.of(sock))) {
            var done = backend(sock, server, answerU64(1L << FeatureBits.PROTOCOL_REPLY_ACK), SILENT, answerU64(0),
                    answerU64(1));
            try (VhostUserFrontend f = VhostUserFrontend.connect(sock)) {
                assertEquals(1L << FeatureBits.PROTOCOL_REPLY_ACK, f.getProtocolFeatures());
                f.setProtocolFeatures(1L << FeatureBits.PROTOCOL_REPLY_ACK);
                f.setOwner();
                FrontendException e = assertThrows(FrontendException.class, () -> f.setVringNum(0, 256));
                assertTrue(e.getMessage().contains("refused SET_VRING_NUM"), e.getMessage());
            }
            List<Received> got = done.get(10, TimeUnit.SECONDS);
            assertEquals(0, got.get(1).flags() & MessageHeader.FLAG_NEED_REPLY, "SET_PROTOCOL_FEATURES itself is not acked");
            assertEquals(MessageHeader.VERSION | MessageHeader.FLAG_NEED_REPLY, got.get(2).flags());
            assertEquals(Request.SET_OWNER.code, got.get(2).request());
            assertEquals(new VringState(0, 256), FrontendCodec.decodeVringState(got.get(3).payload()));
        }
    }

    @Test
    void kickAndMemTableCarryTheirFds() throws Exception {
        Path sock = dir.resolve("b.sock");
        int kick = EventFd.create();
        try (AFUNIXServerSocket server = AFUNIXServerSocket.bindOn(AFUNIXSocketAddress.of(sock));
                GuestRam ram = new GuestRam(4096)) {
            Step signalKick = (m, out) -> {
                // Received fds close with the back-end's socket: use it now. Signalling it there is visible here.
                try (FileOutputStream o = new FileOutputStream(m.fds()[0])) {
                    o.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(3).array());
                }
            };
            var done = backend(sock, server, SILENT, signalKick, SILENT);
            try (VhostUserFrontend f = VhostUserFrontend.connect(sock)) {
                f.setMemTable(List.of(ram.region()), new int[] {ram.fd()});
                f.setVringKick(1, kick);
                f.setVringEnable(1, true);
            }
            List<Received> got = done.get(10, TimeUnit.SECONDS);
            assertEquals(1, got.get(0).fds().length, "one fd per region");
            assertEquals(Request.SET_VRING_KICK.code, got.get(1).request());
            assertEquals(1, FrontendCodec.decodeU64(got.get(1).payload()));
            assertEquals(1, got.get(1).fds().length);
            assertEquals(0, got.get(2).fds().length, "no fd on messages that carry none");
            assertEquals(3, new EventFd().drain(kick));
        } finally {
            Libc.close(kick);
        }
    }

    /** Runs one exchange whose reply is broken; returns the front-end's error and checks the connection is dead. */
    private FrontendException broken(Step answer, FrontendCall call) throws Exception {
        return broken(answer, call, true);
    }

    /** {@code poisoned}: the framing itself was wrong, so later requests must be refused too. */
    private FrontendException broken(Step answer, FrontendCall call, boolean poisoned) throws Exception {
        Path sock = dir.resolve("b" + System.nanoTime() + ".sock");
        try (AFUNIXServerSocket server = AFUNIXServerSocket.bindOn(AFUNIXSocketAddress.of(sock))) {
            var done = backend(sock, server, answer);
            try (VhostUserFrontend f = VhostUserFrontend.connect(sock)) {
                FrontendException e = assertThrows(FrontendException.class, () -> call.run(f));
                if (poisoned) {
                    FrontendException after = assertThrows(FrontendException.class, f::getFeatures);
                    assertTrue(after.getMessage().contains("unusable after an earlier protocol error"), after.getMessage());
                }
                done.get(10, TimeUnit.SECONDS);
                return e;
            }
        }
    }

    private interface FrontendCall {
        void run(VhostUserFrontend f) throws IOException;
    }

    @Test
    void brokenRepliesAreReportedAndPoisonTheConnection() throws Exception {
        assertTrue(broken((m, out) -> out.write(reply(Request.GET_PROTOCOL_FEATURES.code, FrontendCodec.u64(0))),
                VhostUserFrontend::getFeatures).getMessage().contains("replied to request 15, expected a reply to 1"));
        // A well-framed reply with a wrong-sized payload leaves the stream in step.
        assertTrue(broken((m, out) -> out.write(reply(m.request(), new byte[4])), VhostUserFrontend::getFeatures, false)
                .getMessage().contains("8-byte u64"));
        assertTrue(broken((m, out) -> out.write(FrontendCodec.message(m.request(), 0, FrontendCodec.u64(0))),
                VhostUserFrontend::getFeatures).getMessage().contains("without the REPLY flag"));
        assertTrue(broken((m, out) -> out.close(), f -> f.getVringBase(0)).getMessage()
                .contains("closed the connection"));
        assertTrue(broken((m, out) -> out.write(reply(m.request(), FrontendCodec.vringState(1, 0))),
                f -> f.getVringBase(0), false).getMessage().contains("answered for ring 1"));
    }

    @Test
    void anAbsurdQueueCountIsRejected() throws Exception {
        Path sock = dir.resolve("q.sock");
        try (AFUNIXServerSocket server = AFUNIXServerSocket.bindOn(AFUNIXSocketAddress.of(sock))) {
            var done = backend(sock, server, answerU64(300), answerU64(0));
            try (VhostUserFrontend f = VhostUserFrontend.connect(sock)) {
                assertTrue(assertThrows(FrontendException.class, f::getQueueNum).getMessage().contains("300 queues"));
                assertThrows(FrontendException.class, f::getQueueNum, "zero queues");
            }
            done.get(10, TimeUnit.SECONDS);
        }
    }

    @Test
    void connectingToNothingSaysWhere() {
        IOException e = assertThrows(IOException.class, () -> VhostUserFrontend.connect(dir.resolve("nobody.sock")));
        assertTrue(e.getMessage().contains("nobody.sock"), e.getMessage());
    }

}

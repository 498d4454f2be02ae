package dev.vhostd.protocol.testing;

import java.io.FileDescriptor;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.OptionalLong;

import org.newsclub.net.unix.AFUNIXSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;
import org.newsclub.net.unix.FileDescriptorCast;

import dev.vhostd.protocol.wire.Message;
import dev.vhostd.protocol.wire.Reply;
import dev.vhostd.protocol.wire.Request;
import dev.vhostd.protocol.wire.WireFormat;

import static dev.vhostd.protocol.testing.RequestBytes.*;

/**
 * An in-process vhost-user front-end (the role QEMU plays) over a real AF_UNIX socket, for tests.
 * Typed methods send one request each; those with {@code needReply} return the REPLY_ACK value
 * (0 = success) or empty when no ack was asked for. fds are raw numbers the caller keeps owning:
 * the kernel duplicates them into the back-end. {@link #sendRaw} and {@link #readReply} build
 * malformed traffic. Every read times out after {@link #TIMEOUT} so a silent back-end fails a test
 * instead of hanging it.
 */
public final class FakeFrontend implements AutoCloseable {
    public static final Duration TIMEOUT = Duration.ofSeconds(10);

    /** A message from the back-end, as received. */
    public record RawReply(int code, int flags, byte[] payload) {
        /** The payload as the u64 that acks and GET_FEATURES-style replies carry. */
        public long u64() {
            if (payload.length != 8) {
                throw new IllegalStateException("reply to " + WireFormat.describe(code) + " has "
                        + payload.length + " payload bytes, not a u64");
            }
            return ByteBuffer.wrap(payload).order(ByteOrder.LITTLE_ENDIAN).getLong();
        }
    }

    private final AFUNIXSocket socket;
    private final InputStream in;
    private final OutputStream out;

    private FakeFrontend(AFUNIXSocket socket) throws IOException {
        this.socket = socket;
        socket.setSoTimeout((int) TIMEOUT.toMillis());
        this.in = socket.getInputStream();
        this.out = socket.getOutputStream();
    }

    public static FakeFrontend connect(Path socketPath) throws IOException {
        return new FakeFrontend(AFUNIXSocket.connectTo(AFUNIXSocketAddress.of(socketPath)));
    }

    // --- requests with a reply of their own ---

    public long getFeatures() throws IOException {
        return call(Request.GET_FEATURES, none()).u64();
    }

    public long getProtocolFeatures() throws IOException {
        return call(Request.GET_PROTOCOL_FEATURES, none()).u64();
    }

    public long getQueueNum() throws IOException {
        return call(Request.GET_QUEUE_NUM, none()).u64();
    }

    public long getMaxMemSlots() throws IOException {
        return call(Request.GET_MAX_MEM_SLOTS, none()).u64();
    }

    public Reply.VringState getVringBase(int index) throws IOException {
        ByteBuffer b = le(call(Request.GET_VRING_BASE, vringState(index, 0)).payload());
        if (b.remaining() != 8) {
            throw new IllegalStateException("GET_VRING_BASE reply has " + b.remaining() + " bytes, not 8");
        }
        return new Reply.VringState(b.getInt(), b.getInt());
    }

    /** GET_CONFIG; a back-end error comes back as a zero-length payload, here a Config with no data. */
    public Reply.Config getConfig(int offset, int size) throws IOException {
        ByteBuffer b = le(call(Request.GET_CONFIG, config(offset, size, 0, new byte[size])).payload());
        if (b.remaining() == 0) {
            return new Reply.Config(offset, 0, new byte[0]);
        }
        int replyOffset = b.getInt();
        int replySize = b.getInt();
        int flags = b.getInt();
        if (replySize != b.remaining()) {
            throw new IllegalStateException("GET_CONFIG reply says " + replySize + " bytes but carries " + b.remaining());
        }
        byte[] data = new byte[replySize];
        b.get(data);
        return new Reply.Config(replyOffset, flags, data);
    }

    /** GET_INFLIGHT_FD's reply: the area's size and offset, and the fd received with it (-1 if none), now ours. */
    public record Inflight(long mmapSize, long mmapOffset, int numQueues, int queueSize, int fd) {}

    public Inflight getInflightFd(int numQueues, int queueSize) throws IOException {
        socket.setAncillaryReceiveBufferSize(1024);
        RawReply r = call(Request.GET_INFLIGHT_FD, inflight(0, 0, numQueues, queueSize));
        ByteBuffer b = le(r.payload());
        if (b.remaining() != WireFormat.INFLIGHT_SIZE) {
            throw new IllegalStateException("GET_INFLIGHT_FD reply has " + b.remaining() + " bytes, not "
                    + WireFormat.INFLIGHT_SIZE);
        }
        FileDescriptor[] got = socket.getReceivedFileDescriptors();
        int fd = -1;
        if (got != null && got.length > 0) {
            fd = dev.vhostd.sys.Libc.dupCloexec(FileDescriptorCast.using(got[0]).as(Integer.class));
            for (FileDescriptor d : got) {
                new java.io.FileInputStream(d).close();
            }
        }
        return new Inflight(b.getLong(), b.getLong(), Short.toUnsignedInt(b.getShort()),
                Short.toUnsignedInt(b.getShort()), fd);
    }

    public OptionalLong setInflightFd(long mmapSize, long mmapOffset, int numQueues, int queueSize, int fd,
            boolean needReply) throws IOException {
        return send(Request.SET_INFLIGHT_FD, inflight(mmapSize, mmapOffset, numQueues, queueSize), needReply, fd);
    }

    private static byte[] inflight(long mmapSize, long mmapOffset, int numQueues, int queueSize) {
        ByteBuffer b = ByteBuffer.allocate(WireFormat.INFLIGHT_SIZE).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(mmapSize).putLong(mmapOffset).putShort((short) numQueues).putShort((short) queueSize).putInt(0);
        return b.array();
    }

    /**
     * SET_LOG_BASE once LOG_SHMFD is negotiated: the log is {@code mmapSize} bytes at {@code mmapOffset}
     * of the fd (any number of fds, for negative tests). Returns the reply's u64: 0 when accepted.
     */
    public long setLogBase(long mmapSize, long mmapOffset, int... fds) throws IOException {
        byte[] payload = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putLong(mmapSize).putLong(mmapOffset)
                .array();
        sendRaw(message(Request.SET_LOG_BASE.code, flags(false), payload), fds);
        return expectReply(Request.SET_LOG_BASE).u64();
    }

    public OptionalLong setLogFd(int fd, boolean needReply) throws IOException {
        return send(Request.SET_LOG_FD, none(), needReply, fd);
    }

    // --- requests without a reply of their own (REPLY_ACK when needReply) ---

    public OptionalLong setFeatures(long features, boolean needReply) throws IOException {
        return send(Request.SET_FEATURES, u64(features), needReply);
    }

    public OptionalLong setProtocolFeatures(long features, boolean needReply) throws IOException {
        return send(Request.SET_PROTOCOL_FEATURES, u64(features), needReply);
    }

    public OptionalLong setOwner(boolean needReply) throws IOException {
        return send(Request.SET_OWNER, none(), needReply);
    }

    public OptionalLong resetDevice(boolean needReply) throws IOException {
        return send(Request.RESET_DEVICE, none(), needReply);
    }

    /** SET_MEM_TABLE with one fd per region, in order. */
    public OptionalLong setMemTable(List<Message.MemoryRegion> regions, int[] fds, boolean needReply) throws IOException {
        return send(Request.SET_MEM_TABLE, memTable(regions), needReply, fds);
    }

    public OptionalLong setVringNum(int index, int num, boolean needReply) throws IOException {
        return send(Request.SET_VRING_NUM, vringState(index, num), needReply);
    }

    public OptionalLong setVringAddr(int index, int flags, long desc, long used, long avail, long log,
            boolean needReply) throws IOException {
        return send(Request.SET_VRING_ADDR, vringAddr(index, flags, desc, used, avail, log), needReply);
    }

    public OptionalLong setVringBase(int index, int num, boolean needReply) throws IOException {
        return send(Request.SET_VRING_BASE, vringState(index, num), needReply);
    }

    /** SET_VRING_KICK with {@code fd}, or with the no-fd flag (poll mode) when {@code fd} is -1. */
    public OptionalLong setVringKick(int index, int fd, boolean needReply) throws IOException {
        return vringFdRequest(Request.SET_VRING_KICK, index, fd, needReply);
    }

    public OptionalLong setVringCall(int index, int fd, boolean needReply) throws IOException {
        return vringFdRequest(Request.SET_VRING_CALL, index, fd, needReply);
    }

    public OptionalLong setVringErr(int index, int fd, boolean needReply) throws IOException {
        return vringFdRequest(Request.SET_VRING_ERR, index, fd, needReply);
    }

    public OptionalLong setVringEnable(int index, boolean enable, boolean needReply) throws IOException {
        return send(Request.SET_VRING_ENABLE, vringState(index, enable ? 1 : 0), needReply);
    }

    /** SET_BACKEND_REQ_FD with {@code fd}, the back-end's end of a socket pair (BACKEND_REQ). */
    public OptionalLong setBackendReqFd(int fd, boolean needReply) throws IOException {
        return send(Request.SET_BACKEND_REQ_FD, none(), needReply, fd);
    }

    public OptionalLong setConfig(int offset, int flags, byte[] data, boolean needReply) throws IOException {
        return send(Request.SET_CONFIG, config(offset, data.length, flags, data), needReply);
    }

    public OptionalLong addMemReg(Message.MemoryRegion region, int fd, boolean needReply) throws IOException {
        return send(Request.ADD_MEM_REG, singleRegion(region), needReply, fd);
    }

    /** REM_MEM_REG; {@code fd} -1 sends none (QEMU sends one, which the back-end must close). */
    public OptionalLong remMemReg(Message.MemoryRegion region, int fd, boolean needReply) throws IOException {
        return fd < 0 ? send(Request.REM_MEM_REG, singleRegion(region), needReply)
                : send(Request.REM_MEM_REG, singleRegion(region), needReply, fd);
    }

    // --- raw access ---

    /** Writes {@code bytes} in one sendmsg, with {@code fds} attached to its first byte. */
    public void sendRaw(byte[] bytes, int... fds) throws IOException {
        if (fds.length > 0) {
            FileDescriptor[] descriptors = new FileDescriptor[fds.length];
            for (int i = 0; i < fds.length; i++) {
                descriptors[i] = FileDescriptorCast.unsafeUsing(fds[i]).getFileDescriptor();
            }
            socket.setOutboundFileDescriptors(descriptors);
        }
        try {
            out.write(bytes);
        } finally {
            if (fds.length > 0) {
                socket.setOutboundFileDescriptors((FileDescriptor[]) null);
            }
        }
    }

    /** Reads one back-end message; fails on timeout or EOF. */
    public RawReply readReply() throws IOException {
        byte[] header = in.readNBytes(WireFormat.HEADER_SIZE);
        if (header.length < WireFormat.HEADER_SIZE) {
            throw new IOException("back-end closed the connection (" + header.length + " header bytes read)");
        }
        ByteBuffer h = le(header);
        int code = h.getInt();
        int flags = h.getInt();
        int size = h.getInt();
        if (size < 0 || size > WireFormat.MAX_PAYLOAD_SIZE) {
            throw new IOException("back-end sent an impossible payload size " + Integer.toUnsignedString(size));
        }
        byte[] payload = in.readNBytes(size);
        if (payload.length < size) {
            throw new IOException("back-end closed the connection inside a reply");
        }
        return new RawReply(code, flags, payload);
    }

    /** True if the back-end closes the connection (EOF) within the timeout, reading and dropping any bytes. */
    public boolean awaitClosedByPeer() throws IOException {
        try {
            while (in.read() >= 0) {
                // drain
            }
            return true;
        } catch (SocketTimeoutException e) {
            return false;
        } catch (IOException e) {
            return true; // ECONNRESET also means the back-end went away
        }
    }

    /** True if nothing arrives within {@code wait} (the connection stays open and silent). */
    public boolean silentFor(Duration wait) throws IOException {
        socket.setSoTimeout((int) wait.toMillis());
        try {
            in.read();
            return false;
        } catch (SocketTimeoutException e) {
            return true;
        } finally {
            socket.setSoTimeout((int) TIMEOUT.toMillis());
        }
    }

    @Override
    public void close() throws IOException {
        socket.close();
    }

    private RawReply call(Request request, byte[] payload) throws IOException {
        sendRaw(message(request.code, flags(false), payload));
        return expectReply(request);
    }

    private OptionalLong send(Request request, byte[] payload, boolean needReply, int... fds) throws IOException {
        sendRaw(message(request.code, flags(needReply), payload), fds);
        return needReply ? OptionalLong.of(expectReply(request).u64()) : OptionalLong.empty();
    }

    private OptionalLong vringFdRequest(Request request, int index, int fd, boolean needReply) throws IOException {
        return fd < 0 ? send(request, vringFd(index, true), needReply)
                : send(request, vringFd(index, false), needReply, fd);
    }

    private RawReply expectReply(Request request) throws IOException {
        RawReply r = readReply();
        if (r.code() != request.code || r.flags() != (WireFormat.VERSION | WireFormat.FLAG_REPLY)) {
            throw new IllegalStateException("expected a reply to " + request + " but got code " + r.code()
                    + " flags 0x" + Integer.toHexString(r.flags()) + " payload " + Arrays.toString(r.payload()));
        }
        return r;
    }

    private static ByteBuffer le(byte[] bytes) {
        return ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
    }
}

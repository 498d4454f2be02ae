package dev.vhostd.protocol.frontend;

import java.io.FileDescriptor;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Path;
import java.util.List;

import dev.vhostd.protocol.wire.Request;
import org.newsclub.net.unix.AFUNIXSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;
import org.newsclub.net.unix.AFUNIXSocketCredentials;
import org.newsclub.net.unix.FileDescriptorCast;

/**
 * The front-end (QEMU's side) of one vhost-user connection: sends requests, passes fds, reads
 * replies. Once REPLY_ACK is negotiated every request without a reply of its own is sent with
 * NEED_REPLY and its acknowledgement checked, so a refusal surfaces at the request that caused it.
 * Not thread-safe beyond the per-call lock: the control path is one thread.
 */
public final class VhostUserFrontend implements AutoCloseable {
    private final AFUNIXSocket socket;
    private final InputStream in;
    private final OutputStream out;
    private final String name;
    private boolean replyAck;
    /** Set by a protocol violation: the byte stream can no longer be trusted to be in step. */
    private String broken;

    private VhostUserFrontend(AFUNIXSocket socket, String name) throws IOException {
        this.socket = socket;
        this.in = socket.getInputStream();
        this.out = socket.getOutputStream();
        this.name = name;
    }

    /** Connects to the back-end listening on {@code path}. */
    public static VhostUserFrontend connect(Path path) throws IOException {
        AFUNIXSocket s;
        try {
            s = AFUNIXSocket.connectTo(AFUNIXSocketAddress.of(path));
        } catch (IOException e) {
            throw new IOException("cannot connect to vhost-user socket " + path + ": " + e.getMessage()
                    + " (is the back-end running and listening there?)", e);
        }
        return new VhostUserFrontend(s, path.toString());
    }

    /** The back-end's process id from SO_PEERCRED, or -1 if the kernel did not report one. */
    public long peerPid() throws IOException {
        AFUNIXSocketCredentials c = socket.getPeerCredentials();
        return c == null ? -1 : c.getPid();
    }

    public synchronized long getFeatures() throws IOException {
        return FrontendCodec.decodeU64(call(Request.GET_FEATURES, new byte[0]));
    }

    public synchronized void setFeatures(long features) throws IOException {
        send(Request.SET_FEATURES, FrontendCodec.u64(features));
    }

    public synchronized void setOwner() throws IOException {
        send(Request.SET_OWNER, new byte[0]);
    }

    public synchronized long getProtocolFeatures() throws IOException {
        return FrontendCodec.decodeU64(call(Request.GET_PROTOCOL_FEATURES, new byte[0]));
    }

    /** Sets protocol features; from then on REPLY_ACK, if included, makes every set-request acknowledged. */
    public synchronized void setProtocolFeatures(long features) throws IOException {
        send(Request.SET_PROTOCOL_FEATURES, FrontendCodec.u64(features));
        replyAck = (features & (1L << FeatureBits.PROTOCOL_REPLY_ACK)) != 0;
    }

    public synchronized int getQueueNum() throws IOException {
        long n = FrontendCodec.decodeU64(call(Request.GET_QUEUE_NUM, new byte[0]));
        if (n < 1 || n > 0xFF) {
            throw new FrontendException("back-end reports " + Long.toUnsignedString(n) + " queues; expected 1..255");
        }
        return (int) n;
    }

    /** SET_MEM_TABLE: one fd per region, in order; the fds stay owned by the caller. */
    public synchronized void setMemTable(List<MemoryRegion> regions, int[] fds) throws IOException {
        if (fds.length != regions.size()) {
            throw new IllegalArgumentException(regions.size() + " regions need as many fds, got " + fds.length);
        }
        send(Request.SET_MEM_TABLE, FrontendCodec.memoryTable(regions), fds);
    }

    public synchronized void setVringNum(int index, int size) throws IOException {
        send(Request.SET_VRING_NUM, FrontendCodec.vringState(index, size));
    }

    public synchronized void setVringBase(int index, int base) throws IOException {
        send(Request.SET_VRING_BASE, FrontendCodec.vringState(index, base));
    }

    public synchronized void setVringAddr(VringAddress address) throws IOException {
        send(Request.SET_VRING_ADDR, FrontendCodec.vringAddress(address));
    }

    /** SET_VRING_KICK with {@code eventFd}, which stays owned by the caller. */
    public synchronized void setVringKick(int index, int eventFd) throws IOException {
        send(Request.SET_VRING_KICK, FrontendCodec.vringFile(index, false), eventFd);
    }

    /** SET_VRING_CALL with {@code eventFd}, which stays owned by the caller. */
    public synchronized void setVringCall(int index, int eventFd) throws IOException {
        send(Request.SET_VRING_CALL, FrontendCodec.vringFile(index, false), eventFd);
    }

    public synchronized void setVringEnable(int index, boolean enable) throws IOException {
        send(Request.SET_VRING_ENABLE, FrontendCodec.vringState(index, enable ? 1 : 0));
    }

    /** GET_VRING_BASE: stops the ring and returns the back-end's next avail index for it. */
    public synchronized int getVringBase(int index) throws IOException {
        VringState s = FrontendCodec.decodeVringState(call(Request.GET_VRING_BASE, FrontendCodec.vringState(index, 0)));
        if (s.index() != index) {
            throw new FrontendException("GET_VRING_BASE for ring " + index + " answered for ring " + s.index());
        }
        return s.num();
    }

    /** GET_CONFIG for bytes {@code offset .. offset+size} of the device config space (needs protocol feature CONFIG). */
    public synchronized DeviceConfig getConfig(int offset, int size) throws IOException {
        return FrontendCodec.decodeConfig(call(Request.GET_CONFIG, FrontendCodec.configRequest(offset, size)), offset, size);
    }

    /** SET_CONFIG: writes {@code data} at {@code offset} of the device config space (virtio-blk: the writeback byte). */
    public synchronized void setConfig(int offset, byte[] data) throws IOException {
        send(Request.SET_CONFIG, FrontendCodec.configWrite(offset, data));
    }

    /** RESET_DEVICE (protocol feature RESET_DEVICE): the back-end returns the device to its initial state. */
    public synchronized void resetDevice() throws IOException {
        send(Request.RESET_DEVICE, new byte[0]);
    }

    /**
     * Waits up to {@code timeoutMs} for the back-end to close the connection. Returns true at EOF,
     * false on timeout. Anything the back-end sends meanwhile is a protocol error.
     */
    public boolean awaitClose(long timeoutMs) throws IOException {
        int old = socket.getSoTimeout();
        socket.setSoTimeout((int) Math.max(1, timeoutMs));
        try {
            int b = in.read();
            if (b >= 0) {
                throw new FrontendException(name + ": unexpected byte from the back-end while waiting for it to close");
            }
            return true;
        } catch (java.net.SocketTimeoutException e) {
            return false;
        } catch (java.net.SocketException e) {
            return true; // reset by peer: closed as well
        } finally {
            if (!socket.isClosed()) {
                socket.setSoTimeout(old);
            }
        }
    }

    /** GET_INFLIGHT_FD's answer: the area's size and offset and its fd (now the caller's; -1 if none). */
    public record InflightArea(long mmapSize, long mmapOffset, int fd) {}

    /**
     * GET_INFLIGHT_FD, as QEMU sends it before starting a vhost-user-blk device; the back-end
     * answers with a shared area (fd) for tracking requests across its own crashes.
     */
    public synchronized InflightArea getInflightFd(int numQueues, int queueSize) throws IOException {
        socket.setAncillaryReceiveBufferSize(256);
        byte[] reply = call(Request.GET_INFLIGHT_FD, FrontendCodec.inflight(0, 0, numQueues, queueSize));
        if (reply.length != 24) {
            throw new FrontendException(name + ": GET_INFLIGHT_FD reply has " + reply.length + " bytes, not 24");
        }
        java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(reply).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        FileDescriptor[] got = socket.getReceivedFileDescriptors();
        int fd = -1;
        if (got != null) {
            for (FileDescriptor d : got) {
                if (fd < 0) {
                    fd = dev.vhostd.sys.Libc.dupCloexec(FileDescriptorCast.using(d).as(Integer.class));
                }
                new java.io.FileInputStream(d).close();
            }
        }
        return new InflightArea(b.getLong(0), b.getLong(8), fd);
    }

    /** SET_INFLIGHT_FD with the area's fd, which stays owned by the caller. */
    public synchronized void setInflightFd(long mmapSize, long mmapOffset, int numQueues, int queueSize, int fd)
            throws IOException {
        send(Request.SET_INFLIGHT_FD, FrontendCodec.inflight(mmapSize, mmapOffset, numQueues, queueSize), fd);
    }

    /**
     * SET_LOG_BASE with the dirty log's fd (protocol feature LOG_SHMFD, which gives it a reply of its
     * own, as QEMU expects): {@code size} bytes of bitmap at {@code offset}. The fd stays the caller's.
     */
    public synchronized void setLogBase(long size, long offset, int fd) throws IOException {
        byte[] payload = java.nio.ByteBuffer.allocate(16).order(java.nio.ByteOrder.LITTLE_ENDIAN).putLong(size)
                .putLong(offset).array();
        write(FrontendCodec.message(Request.SET_LOG_BASE.code, 0, payload), new int[] {fd});
        long status = FrontendCodec.decodeU64(readReply(Request.SET_LOG_BASE));
        if (status != 0) {
            throw new FrontendException(name + ": back-end refused SET_LOG_BASE (status " + status + ")");
        }
    }

    /** Sends a request that has a reply payload and returns that payload. */
    private byte[] call(Request request, byte[] payload) throws IOException {
        write(FrontendCodec.message(request.code, 0, payload), null);
        return readReply(request);
    }

    /** Sends a request without a reply of its own; with REPLY_ACK, waits for and checks the acknowledgement. */
    private void send(Request request, byte[] payload, int... fds) throws IOException {
        boolean ack = replyAck;
        write(FrontendCodec.message(request.code, ack ? MessageHeader.FLAG_NEED_REPLY : 0, payload), fds);
        if (ack) {
            long status = FrontendCodec.decodeU64(readReply(request));
            if (status != 0) {
                throw new FrontendException(name + ": back-end refused " + request + " (REPLY_ACK status "
                        + status + ")");
            }
        }
    }

    private void write(byte[] message, int[] fds) throws IOException {
        if (broken != null) {
            throw new FrontendException(name + ": connection unusable after an earlier protocol error: " + broken);
        }
        if (fds != null && fds.length > 0) {
            FileDescriptor[] jfds = new FileDescriptor[fds.length];
            for (int i = 0; i < fds.length; i++) {
                jfds[i] = FileDescriptorCast.unsafeUsing(fds[i]).getFileDescriptor();
            }
            // The fds ride on the next sendmsg, which carries the first byte of this message.
            socket.setOutboundFileDescriptors(jfds);
        }
        out.write(message);
        out.flush();
    }

    private byte[] readReply(Request request) throws IOException {
        try {
            MessageHeader h = FrontendCodec.decodeHeader(readExactly(MessageHeader.SIZE, request));
            FrontendCodec.checkReplyHeader(h, request.code);
            return readExactly(h.size(), request);
        } catch (FrontendException e) {
            broken = e.getMessage();
            throw e;
        }
    }

    private byte[] readExactly(int n, Request request) throws IOException {
        byte[] b = in.readNBytes(n);
        if (b.length != n) {
            throw new FrontendException(name + ": back-end closed the connection while the front-end waited for the "
                    + "reply to " + request + " (it probably rejected the request; check its log)");
        }
        return b;
    }

    @Override
    public void close() throws IOException {
        socket.close();
    }
}

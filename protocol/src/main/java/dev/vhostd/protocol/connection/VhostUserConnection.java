package dev.vhostd.protocol.connection;

import java.io.FileDescriptor;
import java.io.FileInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.System.Logger;
import java.lang.System.Logger.Level;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

import org.newsclub.net.unix.AFUNIXSocket;
import org.newsclub.net.unix.AFUNIXSocketCredentials;
import org.newsclub.net.unix.FileDescriptorCast;

import dev.vhostd.protocol.wire.Message;
import dev.vhostd.protocol.wire.MessageDecoder;
import dev.vhostd.protocol.wire.MessageEncoder;
import dev.vhostd.protocol.wire.Reply;
import dev.vhostd.protocol.wire.Request;
import dev.vhostd.protocol.wire.VhostUserException;
import dev.vhostd.protocol.wire.WireFormat;
import dev.vhostd.sys.Libc;
import dev.vhostd.sys.OwnedFd;

/**
 * One front-end session on an accepted socket: reads messages, hands them to the {@link BackendHandler},
 * writes replies and REPLY_ACKs. Runs on one thread until the peer leaves, an I/O error occurs, a
 * fatal protocol error is found or {@link #close()} is called; then calls
 * {@link BackendHandler#disconnected()} exactly once. No exception escapes {@link #run()}.
 */
public final class VhostUserConnection implements Runnable, AutoCloseable {
    private static final Logger LOG = System.getLogger(VhostUserConnection.class.getName());

    /**
     * Room for the SCM_RIGHTS of one message: 16-byte cmsghdr plus 4 bytes per fd covers ~250 fds,
     * far above the 8 that SET_MEM_TABLE may carry. junixsocket's default of 0 drops every fd.
     */
    static final int ANCILLARY_BUFFER_SIZE = 1024;

    private final AFUNIXSocket socket;
    private final BackendHandler handler;
    private final String peer;
    private final byte[] header = new byte[WireFormat.HEADER_SIZE];
    private final byte[] payload = new byte[WireFormat.MAX_PAYLOAD_SIZE];
    /** Fds received for the message being read; closed if it never reaches the decoder. */
    private final List<OwnedFd> pending = new ArrayList<>();
    private volatile boolean closing;
    /** Parks a virtual thread until the socket is readable; null on a platform thread (blocking reads). */
    private final Readiness.Waiter readable;
    private final long peerPid;
    /** System.nanoTime() when handling of the current message (or the disconnect) began; 0 while waiting. */
    private volatile long busySince;

    public VhostUserConnection(AFUNIXSocket socket, BackendHandler handler) {
        this(socket, handler, null);
    }

    /**
     * A connection whose reads first wait in {@code readiness}, so that {@link #run()} on a virtual
     * thread holds no platform thread while the front-end is quiet.
     */
    public VhostUserConnection(AFUNIXSocket socket, BackendHandler handler, Readiness readiness) {
        this(socket, handler, readiness, null);
    }

    /**
     * @param label who the session serves, such as "disk vm1-root", prefixed to every log line
     *              (a daemon with many disks must say which one a front-end talks to); null for none
     */
    public VhostUserConnection(AFUNIXSocket socket, BackendHandler handler, Readiness readiness, String label) {
        this.socket = socket;
        this.handler = handler;
        this.peerPid = peerPid(socket);
        this.peer = (label == null ? "" : label + ": ") + describePeer(socket);
        this.readable = readiness == null ? null : readiness.waiter(fdOf(socket));
    }

    /** The front-end's process id from SO_PEERCRED, or -1 if unknown. */
    public long peerPid() {
        return peerPid;
    }

    /** Who is on the other end, for log lines: "front-end pid 123 uid 107". */
    public String peer() {
        return peer;
    }

    @Override
    public void run() {
        try {
            socket.setAncillaryReceiveBufferSize(ANCILLARY_BUFFER_SIZE);
            LOG.log(Level.INFO, "{0} connected", peer);
            InputStream in = socket.getInputStream();
            OutputStream out = socket.getOutputStream();
            while (serveOne(in, out)) {
                // next message
            }
        } catch (IOException e) {
            if (closing) {
                LOG.log(Level.INFO, "{0}: connection closed by vhostd", peer);
            } else {
                LOG.log(Level.INFO, "{0}: connection ended: {1}", peer, e.getMessage());
            }
        } catch (RuntimeException | Error e) {
            LOG.log(Level.ERROR, peer + ": unexpected failure, closing the connection", e);
        } finally {
            closeQuietly();
            busySince = busyStamp();
            try {
                handler.disconnected();
            } catch (RuntimeException e) {
                LOG.log(Level.ERROR, peer + ": disconnect handling failed", e);
            } finally {
                busySince = 0;
            }
        }
    }

    /**
     * How long the message (or the disconnect) being handled has taken so far, 0 while waiting for
     * the front-end: a health check's view of this session's thread (see
     * {@link dev.vhostd.protocol.poll.Liveness}).
     */
    public long stalledNanos(long nowNanos) {
        long since = busySince;
        return since == 0 ? 0 : Math.max(0, nowNanos - since);
    }

    private static long busyStamp() {
        long now = System.nanoTime();
        return now == 0 ? 1 : now;
    }

    /** Reads, handles and answers one message. False when the session is over. */
    private boolean serveOne(InputStream in, OutputStream out) throws IOException {
        int got = readFully(in, header, WireFormat.HEADER_SIZE, readable);
        collectFds();
        if (got == 0) {
            LOG.log(Level.INFO, "{0} disconnected", peer);
            return false;
        }
        if (got < WireFormat.HEADER_SIZE) {
            LOG.log(Level.INFO, "{0} disconnected inside a message header ({1} of 12 bytes)", peer, got);
            return false;
        }
        ByteBuffer h = ByteBuffer.wrap(header).order(ByteOrder.LITTLE_ENDIAN);
        int code = h.getInt(0);
        int flags = h.getInt(4);
        int size = h.getInt(8);
        String name = WireFormat.describe(code);
        if (Integer.compareUnsigned(size, WireFormat.MAX_PAYLOAD_SIZE) > 0) {
            // We cannot skip an unbounded payload safely, and without it we cannot find the next header.
            LOG.log(Level.WARNING, "{0}: {1} declares a {2}-byte payload, above the {3}-byte maximum;"
                    + " closing the connection (the stream cannot be resynchronised)",
                    peer, name, Integer.toUnsignedString(size), WireFormat.MAX_PAYLOAD_SIZE);
            handler.refused(VhostUserException.fatal(name + " payload of " + Integer.toUnsignedString(size) + " bytes"));
            return false;
        }
        got = readFully(in, payload, size, readable);
        collectFds();
        if (got < size) {
            LOG.log(Level.INFO, "{0} disconnected inside {1} ({2} of {3} payload bytes)", peer, name, got, size);
            return false;
        }
        List<OwnedFd> fds = List.copyOf(pending);
        pending.clear();
        busySince = busyStamp();
        try {
            return dispatch(code, flags, ByteBuffer.wrap(payload, 0, size), fds, out);
        } finally {
            busySince = 0;
        }
    }

    private boolean dispatch(int code, int flags, ByteBuffer body, List<OwnedFd> fds, OutputStream out)
            throws IOException {
        boolean needReply = (flags & WireFormat.FLAG_NEED_REPLY) != 0;
        Message message;
        Reply reply;
        try {
            message = MessageDecoder.decode(code, flags, body, fds);
            reply = handler.handle(message);
        } catch (VhostUserException e) {
            return refuse(code, needReply, e, out);
        }
        Request request = message.request();
        if (reply == null) {
            LOG.log(Level.ERROR, "{0}: the engine returned no reply for {1} (engine bug); closing the connection",
                    peer, request);
            return false;
        }
        if (handler.repliesTo(request)) {
            byte[] bytes;
            try {
                bytes = MessageEncoder.reply(message, reply);
            } catch (IllegalArgumentException e) {
                LOG.log(Level.ERROR, "{0}: {1}: {2}; closing the connection", peer, request, e.getMessage());
                return false;
            }
            if (reply instanceof Reply.Inflight i && i.fd() >= 0) {
                // The fd rides on the sendmsg that carries the reply's first byte, and on no other.
                socket.setOutboundFileDescriptors(FileDescriptorCast.unsafeUsing(i.fd()).getFileDescriptor());
                try {
                    out.write(bytes);
                } finally {
                    socket.setOutboundFileDescriptors((java.io.FileDescriptor[]) null);
                }
            } else {
                out.write(bytes);
            }
        } else {
            if (!(reply instanceof Reply.None)) {
                LOG.log(Level.WARNING, "{0}: {1} has no reply body; ignoring {2} from the engine", peer, request, reply);
            }
            if (needReply && handler.replyAckNegotiated()) {
                out.write(MessageEncoder.ack(request, true));
            }
        }
        return true;
    }

    /** The request failed: say so to the operator and, where the protocol allows, to the front-end. */
    private boolean refuse(int code, boolean needReply, VhostUserException e, OutputStream out) throws IOException {
        handler.refused(e);
        String name = WireFormat.describe(code);
        if (e.fatal()) {
            LOG.log(Level.WARNING, "{0}: {1} refused, closing the connection: {2}", peer, name, e.getMessage());
            return false;
        }
        Request request = Request.of(code);
        if (request != null && handler.repliesTo(request)) {
            if (request == Request.GET_CONFIG) {
                LOG.log(Level.WARNING, "{0}: {1} refused: {2}", peer, name, e.getMessage());
                out.write(MessageEncoder.configError());
                return true;
            }
            if (request == Request.SET_LOG_BASE) {
                // QEMU waits for this reply and reads only its header; a non-zero u64 says "failed"
                // to a front-end that looks, and the session goes on with the previous log.
                LOG.log(Level.WARNING, "{0}: {1} refused: {2}", peer, name, e.getMessage());
                out.write(MessageEncoder.ack(request, false));
                return true;
            }
            // The front-end blocks until this reply arrives and the protocol has no error form for it.
            LOG.log(Level.WARNING, "{0}: {1} refused and it has no error reply, closing the connection: {2}",
                    peer, name, e.getMessage());
            return false;
        }
        LOG.log(Level.WARNING, "{0}: {1} refused: {2}", peer, name, e.getMessage());
        if (needReply && handler.replyAckNegotiated()) {
            out.write(MessageEncoder.ack(code, false));
        }
        return true;
    }

    /** Reads until {@code len} bytes or EOF; returns how many arrived. */
    private static int readFully(InputStream in, byte[] buf, int len, Readiness.Waiter readable) throws IOException {
        int n = 0;
        while (n < len) {
            if (readable != null) {
                readable.await(); // then the read below returns at once
            }
            int r = in.read(buf, n, len - n);
            if (r < 0) {
                break;
            }
            n += r;
        }
        return n;
    }

    /**
     * Takes the fds junixsocket received so far. Each is duplicated close-on-exec into an OwnedFd and
     * the original closed through Java, so junixsocket does not close our copy when the socket goes.
     */
    private void collectFds() throws IOException {
        FileDescriptor[] received = socket.getReceivedFileDescriptors();
        if (received == null) {
            return;
        }
        RuntimeException failure = null;
        for (FileDescriptor fd : received) {
            try {
                pending.add(new OwnedFd(Libc.dupCloexec(FileDescriptorCast.using(fd).as(Integer.class))));
            } catch (RuntimeException | IOException e) {
                // Out of fds, most likely: keep closing the originals, then end the session.
                failure = failure == null ? new IllegalStateException("cannot take a received fd", e) : failure;
            }
            new FileInputStream(fd).close();
        }
        if (failure != null) {
            throw failure;
        }
    }

    /**
     * Orderly stop from another thread: the handler completes and publishes what is in flight
     * ({@link BackendHandler#quiesce()}), then the connection closes. A front-end that rebuilds its
     * position from the used index after the close so never runs a finished request twice.
     */
    public void drainAndClose() {
        try {
            handler.quiesce();
        } catch (RuntimeException e) {
            LOG.log(Level.WARNING, peer + ": completing the requests in flight before closing failed", e);
        } finally {
            close();
        }
    }

    /** Stops the session from another thread: the blocked read fails and {@link #run()} winds down. */
    @Override
    public void close() {
        closing = true;
        if (readable != null) {
            readable.cancel();
        }
        try {
            socket.close();
        } catch (IOException e) {
            LOG.log(Level.WARNING, "{0}: closing the socket failed: {1}", peer, e.getMessage());
        }
    }

    private void closeQuietly() {
        try {
            MessageDecoder.closeAll(pending);
        } catch (RuntimeException e) {
            LOG.log(Level.WARNING, "{0}: closing received fds failed: {1}", peer, e.getMessage());
        }
        pending.clear();
        try {
            socket.close();
        } catch (IOException e) {
            LOG.log(Level.WARNING, "{0}: closing the socket failed: {1}", peer, e.getMessage());
        }
    }

    private static int fdOf(AFUNIXSocket socket) {
        try {
            return FileDescriptorCast.using(socket.getFileDescriptor()).as(Integer.class);
        } catch (IOException e) {
            throw new IllegalStateException("accepted socket has no fd: " + e.getMessage(), e);
        }
    }

    private static long peerPid(AFUNIXSocket socket) {
        try {
            return socket.getPeerCredentials().getPid();
        } catch (IOException | RuntimeException e) {
            return -1;
        }
    }

    private static String describePeer(AFUNIXSocket socket) {
        try {
            AFUNIXSocketCredentials c = socket.getPeerCredentials();
            return "front-end pid " + c.getPid() + " uid " + c.getUid();
        } catch (IOException | RuntimeException e) {
            return "front-end (credentials unavailable)";
        }
    }
}

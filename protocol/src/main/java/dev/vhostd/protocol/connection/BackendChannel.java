package dev.vhostd.protocol.connection;

import java.lang.System.Logger;
import java.lang.System.Logger.Level;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.time.Duration;

import dev.vhostd.protocol.device.ConfigNotice;
import dev.vhostd.protocol.wire.WireFormat;
import dev.vhostd.sys.Epoll;
import dev.vhostd.sys.ErrnoException;
import dev.vhostd.sys.Libc;
import dev.vhostd.sys.OwnedFd;

/**
 * The back-end's channel to the front-end (vhost-user.rst, "Back-end communication"): the socket
 * the front-end handed over with SET_BACKEND_REQ_FD. vhostd sends one kind of request on it,
 * VHOST_USER_BACKEND_CONFIG_CHANGE_MSG, with need_reply set when REPLY_ACK was negotiated.
 *
 * <p>The front-end is hostile or may hang: every send and every wait for an answer is bounded by a
 * deadline, checked in short slices so {@link #close()} is never held up long. Anything unexpected
 * (bytes nobody asked for, a reply to another request, a wrong size, no answer in time, EOF) ends
 * the channel: after a missed or garbled answer the stream cannot be trusted to be in step again.
 * The fd is non-blocking and only ever read with read(2), so fds a front-end attaches are discarded
 * by the kernel, never installed here.
 */
public final class BackendChannel implements AutoCloseable {
    private static final Logger LOG = System.getLogger(BackendChannel.class.getName());
    /** How long a sender waits for the front-end before giving up on the channel. */
    public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(5);
    /** Waits are cut into slices this long so that close() from another thread is noticed. */
    private static final int SLICE_MS = 100;
    private static final ValueLayout.OfInt LE_INT = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong LE_LONG = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final int ACK_SIZE = WireFormat.HEADER_SIZE + 8;

    private final OwnedFd fd;
    private final boolean replyAck;
    private final String owner;
    private final Duration timeout;
    private final Epoll epoll = new Epoll(1);
    private final Arena arena = Arena.ofShared();
    private final MemorySegment buf = arena.allocate(64, 8);
    private volatile boolean closed;

    private BackendChannel(OwnedFd fd, boolean replyAck, String owner, Duration timeout) {
        this.fd = fd;
        this.replyAck = replyAck;
        this.owner = owner;
        this.timeout = timeout;
        epoll.add(fd.fd(), Epoll.EPOLLIN, 0);
    }

    /**
     * Takes {@code fd} as the channel if it is what the protocol says it is: a connected AF_UNIX
     * stream socket (a socket pair's end). Otherwise throws IllegalArgumentException saying what it
     * is instead; the caller still owns (and must close) the fd then.
     *
     * @param replyAck whether REPLY_ACK was negotiated, so every message asks for an answer
     * @param owner    the device's name, for log lines
     */
    public static BackendChannel adopt(OwnedFd fd, boolean replyAck, String owner, Duration timeout) {
        int n = fd.fd();
        try {
            if (!Libc.fstat(n).isSocket()) {
                throw new IllegalArgumentException("the fd is not a socket");
            }
            if (Libc.getsockoptInt(n, Libc.SOL_SOCKET, Libc.SO_DOMAIN) != Libc.AF_UNIX
                    || Libc.getsockoptInt(n, Libc.SOL_SOCKET, Libc.SO_TYPE) != Libc.SOCK_STREAM) {
                throw new IllegalArgumentException("the fd is not an AF_UNIX stream socket");
            }
            if (Libc.getsockoptInt(n, Libc.SOL_SOCKET, Libc.SO_ACCEPTCONN) != 0) {
                throw new IllegalArgumentException("the fd is a listening socket, not a connected one");
            }
            Libc.setNonBlocking(n);
        } catch (ErrnoException e) {
            throw new IllegalArgumentException("the fd cannot be inspected: " + e.getMessage(), e);
        }
        return new BackendChannel(fd, replyAck, owner, timeout);
    }

    /** Sends VHOST_USER_BACKEND_CONFIG_CHANGE_MSG and, with REPLY_ACK, waits for the answer. */
    public synchronized ConfigNotice configChanged() {
        if (closed) {
            return failed("the back-end channel was closed earlier");
        }
        long deadline = System.nanoTime() + timeout.toNanos();
        try {
            String stray = strayInput();
            if (stray != null) {
                return broken(stray);
            }
            buf.set(LE_INT, 0, WireFormat.BACKEND_CONFIG_CHANGE_MSG);
            buf.set(LE_INT, 4, WireFormat.VERSION | (replyAck ? WireFormat.FLAG_NEED_REPLY : 0));
            buf.set(LE_INT, 8, 0);
            if (!transfer(true, WireFormat.HEADER_SIZE, deadline)) {
                return broken(closed ? "the channel was closed while sending" : "the front-end did not take the"
                        + " message within " + timeout.toMillis() + " ms");
            }
            if (!replyAck) {
                return new ConfigNotice(ConfigNotice.Outcome.SENT, "sent; the front-end did not negotiate"
                        + " REPLY_ACK, so it does not confirm");
            }
            if (!transfer(false, ACK_SIZE, deadline)) {
                return broken(closed ? "the channel was closed while waiting for the answer"
                        : "the front-end did not answer within " + timeout.toMillis() + " ms");
            }
            int code = buf.get(LE_INT, 0);
            int flags = buf.get(LE_INT, 4);
            int size = buf.get(LE_INT, 8);
            if (code != WireFormat.BACKEND_CONFIG_CHANGE_MSG || flags != (WireFormat.VERSION | WireFormat.FLAG_REPLY)
                    || size != 8) {
                return broken(String.format("the front-end answered with request %d flags 0x%x size %d instead of"
                        + " an acknowledgement (request 2, flags 0x5, size 8)", Integer.toUnsignedLong(code),
                        flags, Integer.toUnsignedLong(size)));
            }
            long value = buf.get(LE_LONG, WireFormat.HEADER_SIZE);
            if (value != WireFormat.ACK_SUCCESS) {
                return failed("the front-end reported failure (" + Long.toUnsignedString(value) + ")");
            }
            return new ConfigNotice(ConfigNotice.Outcome.ACKNOWLEDGED, "the front-end acknowledged the change");
        } catch (ErrnoException e) {
            return broken(e.getMessage());
        } catch (EndOfStream e) {
            return broken("the front-end closed the channel");
        }
    }

    /** Bytes nobody asked for (or EOF) waiting on the channel: a protocol violation, described. */
    private String strayInput() {
        long r = Libc.read(fd.fd(), buf, 1);
        if (r == 0) {
            return "the front-end closed the channel";
        }
        return r > 0 ? "the front-end sent data on the back-end channel that nobody asked for" : null;
    }

    /** Writes (or reads) exactly {@code len} bytes of {@link #buf} before the deadline; false if not. */
    private boolean transfer(boolean write, int len, long deadline) {
        int done = 0;
        epoll.modify(fd.fd(), write ? Epoll.EPOLLOUT : Epoll.EPOLLIN, 0);
        while (done < len) {
            if (closed) {
                return false;
            }
            long r = write ? Libc.write(fd.fd(), buf.asSlice(done), len - done)
                    : Libc.read(fd.fd(), buf.asSlice(done), len - done);
            if (r == 0 && !write) {
                throw new EndOfStream();
            }
            if (r > 0) {
                done += (int) r;
                continue;
            }
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                return false;
            }
            epoll.await((int) Math.min(SLICE_MS, Math.max(1, left / 1_000_000)));
        }
        return true;
    }

    private ConfigNotice failed(String why) {
        return new ConfigNotice(ConfigNotice.Outcome.FAILED, why);
    }

    private ConfigNotice broken(String why) {
        LOG.log(Level.WARNING, owner + ": back-end channel closed: " + why + ". The guest was not told of the config"
                + " change; it sees it after the front-end reconnects");
        closeNow();
        return failed(why + "; the back-end channel is closed");
    }

    /** Ends the channel; a sender waiting on it gives up within about 100 ms. */
    @Override
    public void close() {
        closed = true;
        synchronized (this) {
            closeNow();
        }
    }

    private void closeNow() {
        closed = true;
        if (fd.isOpen()) {
            epoll.close();
            fd.close();
            arena.close();
        }
    }

    /** The peer closed the stream inside a message. */
    private static final class EndOfStream extends RuntimeException {
        EndOfStream() {
            super(null, null, false, false);
        }
    }
}

package dev.vhostd.daemon.systemd;

import dev.vhostd.sys.Libc;
import org.newsclub.net.unix.AFUNIXServerSocket;
import org.newsclub.net.unix.AFUNIXSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;
import org.newsclub.net.unix.FileDescriptorCast;

import java.io.IOException;
import java.net.SocketException;
import java.net.SocketTimeoutException;

/**
 * A listening AF_UNIX socket this process inherited (systemd socket activation, or any parent passing
 * {@code --fd N}), accepting connections through junixsocket.
 *
 * <p>The socket unit owns the socket: systemd keeps its own copy open across service restarts, so
 * QEMU's reconnects queue up while vhostd is down and the next instance accepts them. systemd.socket(5)
 * therefore forbids unlinking the path and asks Accept=no daemons not to shutdown(2) the socket.
 * junixsocket 2.10 does both when a server socket closes (shutdown unconditionally, in
 * AFSocketImpl.close), and a shut-down listening socket refuses every later connection, so the next
 * instance would adopt a dead socket. Hence this wrapper: accept polls with a short timeout instead of
 * relying on close to wake it, and {@link #close()} first points the fd number at /dev/null (dup3
 * drops our reference without shutting anything down) and only then lets junixsocket close "it".
 */
public final class InheritedListener implements AutoCloseable {
    /** How long one accept blocks before re-checking for close; bounds shutdown latency. */
    static final int ACCEPT_POLL_MILLIS = 250;

    private final int fd;
    private final AFUNIXServerSocket server;
    private final AFUNIXSocketAddress address;
    private int accepting;
    private boolean closed;

    private InheritedListener(int fd, AFUNIXServerSocket server) {
        this.fd = fd;
        this.server = server;
        this.address = server.getLocalSocketAddress();
    }

    /** Adopts a socket passed by the service manager. */
    public static InheritedListener adopt(ListenFd fd) throws IOException {
        return adopt(fd.fd());
    }

    /**
     * Adopts listening socket {@code fd}: checks it is a bound, listening AF_UNIX stream socket, marks
     * it close-on-exec (inherited fds are not; sd_listen_fds(3) does the same) and wraps it. The
     * listener owns the fd.
     *
     * @throws IOException when {@code fd} is not an open, bound, listening AF_UNIX stream socket
     */
    public static InheritedListener adopt(int fd) throws IOException {
        InheritedSockets.checkUnixStream(fd);
        if (!InheritedSockets.isListening(fd)) {
            throw new IOException("fd " + fd + " is a connected socket, not a listening one: a connected fd (as "
                    + "libvirt passes with --fd) is served as one connection, see InheritedSockets.adoptConnected");
        }
        InheritedSockets.setCloexec(fd);
        AFUNIXServerSocket server = FileDescriptorCast.unsafeUsing(fd).as(AFUNIXServerSocket.class);
        server.setDeleteOnClose(false);
        server.setShutdownOnClose(false);
        InheritedListener listener = new InheritedListener(fd, server);
        if (listener.address == null || !server.isBound()) {
            listener.close();
            throw new IOException("fd " + fd + " is not a bound AF_UNIX socket: the socket unit must set "
                    + "ListenStream= to a path");
        }
        server.setSoTimeout(ACCEPT_POLL_MILLIS);
        return listener;
    }

    /** The socket's path, as bound by the service manager. */
    public AFUNIXSocketAddress address() {
        return address;
    }

    /**
     * Waits for the next connection.
     *
     * @throws SocketException once {@link #close()} was called (also when it is called while waiting)
     */
    public AFUNIXSocket accept() throws IOException {
        synchronized (this) {
            if (closed) {
                throw new SocketException("listener on " + address + " is closed");
            }
            accepting++;
        }
        try {
            while (true) {
                try {
                    AFUNIXSocket s = server.accept();
                    s.setSoTimeout(0);
                    return s;
                } catch (SocketTimeoutException e) {
                    synchronized (this) {
                        if (closed) {
                            throw new SocketException("listener on " + address + " is closed");
                        }
                    }
                }
            }
        } finally {
            synchronized (this) {
                accepting--;
                notifyAll();
            }
        }
    }

    /**
     * Stops accepting and releases this process's reference to the socket, leaving the socket itself
     * (and its path) intact for the service manager and the next instance. Waits for threads in
     * {@link #accept()} to notice, at most a few poll intervals.
     */
    @Override
    public void close() throws IOException {
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
            long deadline = System.nanoTime() + 4L * ACCEPT_POLL_MILLIS * 1_000_000L;
            while (accepting > 0) {
                long left = (deadline - System.nanoTime()) / 1_000_000L;
                if (left <= 0) {
                    break;
                }
                try {
                    wait(left);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    break;
                }
            }
        }
        int devNull = Libc.open("/dev/null", Libc.O_RDONLY | Libc.O_CLOEXEC, 0);
        try {
            Libc.dup3(devNull, fd, Libc.O_CLOEXEC);
        } finally {
            Libc.close(devNull);
        }
        // junixsocket now shuts down (fails harmlessly: not a socket) and closes the /dev/null copy.
        server.close();
    }

    @Override
    public String toString() {
        return "InheritedListener[fd " + fd + ", " + address + "]";
    }
}

package dev.vhostd.protocol.connection;

import java.io.IOException;
import java.lang.System.Logger;
import java.lang.System.Logger.Level;
import java.net.SocketException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Supplier;

import org.newsclub.net.unix.AFUNIXServerSocket;
import org.newsclub.net.unix.AFUNIXSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;
import org.newsclub.net.unix.FileDescriptorCast;

import dev.vhostd.protocol.poll.Liveness;
import dev.vhostd.sys.ErrnoException;
import dev.vhostd.sys.Libc;

/**
 * The listening vhost-user socket. Serves one front-end at a time, as QEMU expects of a back-end:
 * a second front-end that connects meanwhile waits in the listen backlog until the first leaves.
 */
public final class VhostUserServer implements AutoCloseable, Liveness {
    private static final Logger LOG = System.getLogger(VhostUserServer.class.getName());
    private static final int BACKLOG = 16;
    /** How often the accept loop of an adopted socket looks at {@link #closed} (see {@link #adopt}). */
    private static final int ACCEPT_POLL_MS = 200;
    /** sun_path is 108 bytes (unix(7)) and holds the terminating NUL. */
    public static final int MAX_SOCKET_PATH_BYTES = 107;

    private final AFUNIXServerSocket socket;
    /** The socket file, or null when it is unknown (an adopted unnamed socket). */
    private final Path path;
    /** True for an inherited socket, which others share: we must never shutdown(2) it. */
    private final boolean shared;
    private final AtomicBoolean serving = new AtomicBoolean();
    /** Held by the accept loop; close() of a shared socket waits for it before detaching the fd. */
    private final ReentrantLock acceptLoop = new ReentrantLock();
    private volatile boolean closed;
    private volatile boolean started;
    private volatile VhostUserConnection current;
    private Readiness readiness;
    private Readiness.Waiter acceptable;
    private volatile String label;
    private final String name;

    private VhostUserServer(AFUNIXServerSocket socket, Path path, boolean shared) {
        this.socket = socket;
        this.path = path;
        this.shared = shared;
        this.name = "accept loop on " + (path != null ? path : "an inherited socket");
    }

    @Override
    public String name() {
        return name;
    }

    /**
     * Stalled while the front-end session being served has spent that long handling one message
     * (or its disconnect); idle while waiting for a front-end or its next message. A serve() that
     * ended without close() counts as dead.
     */
    @Override
    public long stalledNanos(long nowNanos) {
        if (closed) {
            return 0;
        }
        if (started && !serving.get()) {
            return Long.MAX_VALUE;
        }
        VhostUserConnection c = current;
        return c == null ? 0 : c.stalledNanos(nowNanos);
    }

    /**
     * Creates the socket file at {@code socketPath} and listens on it. A stale socket file (nobody
     * accepts on it) is replaced; a live one or any other kind of file is left alone and refused.
     */
    public static VhostUserServer bind(Path socketPath) throws IOException {
        Path p = socketPath.toAbsolutePath();
        checkPathLength(p);
        Path dir = p.getParent();
        if (dir != null && !Files.isDirectory(dir)) {
            throw new IOException("cannot create socket " + p + ": directory " + dir + " does not exist");
        }
        removeStaleSocket(p);
        AFUNIXServerSocket s = AFUNIXServerSocket.newInstance();
        try {
            // junixsocket replaces an existing socket file on bind; removeStaleSocket has made sure it is ours to replace.
            s.bind(AFUNIXSocketAddress.of(p), BACKLOG);
        } catch (IOException e) {
            s.close();
            throw new IOException("cannot listen on " + p + ": " + e.getMessage(), e);
        }
        s.setDeleteOnClose(true);
        LOG.log(Level.INFO, "listening for vhost-user front-ends on {0}", p);
        return new VhostUserServer(s, p, false);
    }

    /**
     * Refuses a socket path the kernel cannot bind, naming it and the limit: junixsocket's own
     * error ("sockname too long") names neither.
     */
    public static void checkPathLength(Path absolute) throws IOException {
        int bytes = absolute.toString().getBytes(java.nio.charset.StandardCharsets.UTF_8).length;
        if (bytes > MAX_SOCKET_PATH_BYTES) {
            throw new IOException("socket path " + absolute + " is " + bytes + " bytes long; a UNIX socket path can have"
                    + " at most " + MAX_SOCKET_PATH_BYTES + " (sun_path holds 108 with the terminating NUL): choose a"
                    + " shorter path");
        }
    }

    /**
     * Takes over an already listening AF_UNIX socket inherited as fd {@code inheritedFd} (systemd socket
     * activation, or {@code --fd N} per vhost-user.rst "Backend program conventions"). The socket file
     * belongs to whoever created it and is not removed on close.
     *
     * <p>The socket itself is shared with the process that passed it (systemd keeps its copy to start
     * us again on the next connection). junixsocket's close() calls shutdown(2), which would kill the
     * listening socket for everyone, and is also its way to wake a blocked accept(). So for an adopted
     * socket the accept loop polls (SO_RCVTIMEO) for {@link #close()}, and close() first replaces our
     * fd with /dev/null (dup3), leaving junixsocket nothing shared to shut down.
     */
    public static VhostUserServer adopt(int inheritedFd) throws IOException {
        if (inheritedFd < 0) {
            throw new IOException("cannot adopt fd " + inheritedFd + ": not a file descriptor");
        }
        try {
            if (!Libc.fstat(inheritedFd).isSocket()) {
                throw new IOException("cannot adopt fd " + inheritedFd + ": it is not a socket;"
                        + " pass the listening vhost-user socket (e.g. from systemd socket activation)");
            }
            // Checked before junixsocket sees the fd: a failed cast can leave behind a half-built socket
            // object whose cleaner later closes this fd number, by then possibly reused by another file.
            if (Libc.getsockoptInt(inheritedFd, Libc.SOL_SOCKET, Libc.SO_DOMAIN) != Libc.AF_UNIX
                    || Libc.getsockoptInt(inheritedFd, Libc.SOL_SOCKET, Libc.SO_ACCEPTCONN) == 0) {
                throw new IOException("cannot adopt fd " + inheritedFd + " as a listening AF_UNIX socket: it is"
                        + " another kind of socket or not listening; pass the vhost-user socket vhostd should listen on");
            }
        } catch (ErrnoException e) {
            throw new IOException("cannot adopt fd " + inheritedFd + ": " + e.getMessage()
                    + "; was it really inherited by this process?", e);
        }
        AFUNIXServerSocket s;
        try {
            s = FileDescriptorCast.unsafeUsing(inheritedFd).as(AFUNIXServerSocket.class);
        } catch (IOException | ClassCastException e) {
            throw new IOException("cannot adopt fd " + inheritedFd + " as a listening AF_UNIX socket: "
                    + e.getMessage(), e);
        }
        // The socket is shared with whoever passed it (systemd keeps its own copy to re-activate us):
        // closing our fd must neither unlink the file nor shutdown(2) the socket under them.
        s.setDeleteOnClose(false);
        s.setShutdownOnClose(false);
        s.setSoTimeout(ACCEPT_POLL_MS);
        AFUNIXSocketAddress address = s.getLocalSocketAddress();
        Path p = address != null && address.hasFilename() ? address.getFile().toPath() : null;
        LOG.log(Level.INFO, "listening for vhost-user front-ends on inherited fd {0} ({1})", inheritedFd,
                p != null ? p : "unnamed socket");
        return new VhostUserServer(s, p, true);
    }

    /**
     * Makes {@link #serve} wait for front-ends and their messages in {@code r} rather than in blocking
     * calls: for serving on a virtual thread. Call before {@code serve}.
     */
    public void waitWith(Readiness r) throws IOException {
        this.readiness = r;
        this.acceptable = r.waiter(FileDescriptorCast.using(socket.getFileDescriptor()).as(Integer.class));
    }

    /** Prefixes the log lines of this socket's sessions, such as "disk vm1-root". */
    public void label(String text) {
        this.label = text;
    }

    /** The front-end connected now, or null. */
    public VhostUserConnection current() {
        return current;
    }

    /** The socket file, or null for an adopted socket without a path. */
    public Path socketPath() {
        return path;
    }

    /** Sets the socket file's mode, e.g. rw-rw---- so a QEMU in the same group may connect. */
    public void setPermissions(Set<PosixFilePermission> permissions) throws IOException {
        if (path == null) {
            throw new IOException("the adopted socket has no file whose permissions could be set");
        }
        Files.setPosixFilePermissions(path, permissions);
    }

    /**
     * Accepts front-ends one after the other and serves each on the calling thread with a fresh
     * handler from {@code handlers}, until {@link #close()}. Never throws for a front-end's misdeeds.
     */
    public void serve(Supplier<? extends BackendHandler> handlers) {
        if (!serving.compareAndSet(false, true)) {
            throw new IllegalStateException("serve() is already running on this server");
        }
        acceptLoop.lock();
        started = true;
        try {
            while (!closed) {
                AFUNIXSocket client;
                try {
                    if (acceptable != null) {
                        acceptable.await();
                    }
                    client = socket.accept();
                } catch (java.io.InterruptedIOException e) {
                    // SocketTimeoutException (an adopted socket's accept timeout) or a wait that
                    // close() cancelled: look at closed again.
                    continue;
                } catch (IOException e) {
                    if (closed) {
                        break;
                    }
                    // EMFILE and friends: do not spin, the condition may clear.
                    LOG.log(Level.WARNING, "accepting a front-end failed: {0}; retrying", e.getMessage());
                    pause();
                    continue;
                }
                serveOne(client, handlers);
            }
        } finally {
            acceptLoop.unlock();
            serving.set(false);
        }
    }

    private void serveOne(AFUNIXSocket client, Supplier<? extends BackendHandler> handlers) {
        BackendHandler handler;
        try {
            handler = handlers.get();
        } catch (RuntimeException e) {
            LOG.log(Level.ERROR, "cannot create a session for a new front-end; dropping it", e);
            closeQuietly(client);
            return;
        }
        VhostUserConnection connection = new VhostUserConnection(client, handler, readiness, label);
        handler.attached(connection::close);
        current = connection;
        if (closed) {
            connection.close(); // close() ran between accept and here; run() still reports the disconnect
        }
        WaitingFrontends watcher = WaitingFrontends.watch(socket, path, connection.peer(), readiness);
        try {
            connection.run();
        } finally {
            current = null;
            watcher.close();
        }
    }

    /**
     * Stops accepting, completes and publishes the current session's in-flight requests, ends the
     * session and removes the socket file if we created it.
     */
    @Override
    public void close() {
        closed = true;
        if (acceptable != null) {
            acceptable.cancel();
        }
        VhostUserConnection c = current;
        if (c != null) {
            c.drainAndClose();
        }
        if (shared && !detachSharedSocket()) {
            return;
        }
        try {
            socket.close();
        } catch (IOException e) {
            LOG.log(Level.WARNING, "closing the listening socket failed: {0}", e.getMessage());
        }
    }

    /**
     * Points our fd number at /dev/null once the accept loop has let go of it, so junixsocket's
     * close() (shutdown + close) touches nothing shared. False if that was impossible: then the fd is
     * left open (until exit) rather than shutting down someone else's listening socket.
     */
    private boolean detachSharedSocket() {
        try {
            if (!acceptLoop.tryLock(10L * ACCEPT_POLL_MS, TimeUnit.MILLISECONDS)) {
                LOG.log(Level.WARNING, "the accept loop did not stop; leaving the inherited socket open");
                return false;
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
        try {
            int fd = FileDescriptorCast.using(socket.getFileDescriptor()).as(Integer.class);
            int devNull = Libc.open("/dev/null", Libc.O_RDONLY | Libc.O_CLOEXEC, 0);
            try {
                Libc.dup3(devNull, fd, Libc.O_CLOEXEC);
            } finally {
                Libc.close(devNull);
            }
            return true;
        } catch (IOException | RuntimeException e) {
            LOG.log(Level.WARNING, "cannot detach the inherited socket ({0}); leaving it open", e.getMessage());
            return false;
        } finally {
            acceptLoop.unlock();
        }
    }

    /**
     * Leaves {@code p} free for bind: absent, or a socket file nobody listens on (then removed).
     * Refuses a live socket and anything that is not a socket, saying what to do.
     */
    private static void removeStaleSocket(Path p) throws IOException {
        int mode;
        try {
            mode = (Integer) Files.getAttribute(p, "unix:mode", LinkOption.NOFOLLOW_LINKS);
        } catch (NoSuchFileException e) {
            return;
        }
        if ((mode & Libc.S_IFMT) != Libc.S_IFSOCK) {
            throw new IOException("cannot create socket " + p + ": a file that is not a socket exists there;"
                    + " remove it or choose another --socket");
        }
        try (AFUNIXSocket probe = AFUNIXSocket.connectTo(AFUNIXSocketAddress.of(p))) {
            throw new IOException("socket path busy: another process is listening on " + p
                    + "; stop it or choose another --socket");
        } catch (SocketException e) {
            if (!String.valueOf(e.getMessage()).contains("Connection refused")) {
                throw new IOException("cannot check whether " + p + " is in use: " + e.getMessage(), e);
            }
        }
        LOG.log(Level.INFO, "removing stale socket file {0} (nobody listens on it)", p);
        Files.deleteIfExists(p);
    }

    private static void pause() {
        try {
            Thread.sleep(100);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static void closeQuietly(AFUNIXSocket s) {
        try {
            s.close();
        } catch (IOException e) {
            LOG.log(Level.WARNING, "closing a front-end socket failed: {0}", e.getMessage());
        }
    }
}

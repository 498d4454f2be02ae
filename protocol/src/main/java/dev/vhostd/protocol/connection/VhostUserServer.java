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
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Supplier;

import org.newsclub.net.unix.AFUNIXServerSocket;
import org.newsclub.net.unix.AFUNIXSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;
import org.newsclub.net.unix.FileDescriptorCast;

import dev.vhostd.sys.ErrnoException;
import dev.vhostd.sys.Libc;

/**
 * The listening vhost-user socket. Serves one front-end at a time, as QEMU expects of a back-end:
 * a second front-end that connects meanwhile waits in the listen backlog until the first leaves.
 */
public final class VhostUserServer implements AutoCloseable {
    private static final Logger LOG = System.getLogger(VhostUserServer.class.getName());
    private static final int BACKLOG = 16;

    private final AFUNIXServerSocket socket;
    /** The socket file, or null when it is unknown (an adopted unnamed socket). */
    private final Path path;
    private final AtomicBoolean serving = new AtomicBoolean();
    private volatile boolean closed;
    private volatile VhostUserConnection current;

    private VhostUserServer(AFUNIXServerSocket socket, Path path) {
        this.socket = socket;
        this.path = path;
    }

    /**
     * Creates the socket file at {@code socketPath} and listens on it. A stale socket file (nobody
     * accepts on it) is replaced; a live one or any other kind of file is left alone and refused.
     */
    public static VhostUserServer bind(Path socketPath) throws IOException {
        Path p = socketPath.toAbsolutePath();
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
        return new VhostUserServer(s, p);
    }

    /**
     * Takes over an already listening AF_UNIX socket inherited as fd {@code inheritedFd} (systemd socket
     * activation, or {@code --fd N} per vhost-user.rst "Backend program conventions"). The socket file
     * belongs to whoever created it and is not removed on close.
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
        s.setDeleteOnClose(false);
        AFUNIXSocketAddress address = s.getLocalSocketAddress();
        Path p = address != null && address.hasFilename() ? address.getFile().toPath() : null;
        LOG.log(Level.INFO, "listening for vhost-user front-ends on inherited fd {0} ({1})", inheritedFd,
                p != null ? p : "unnamed socket");
        return new VhostUserServer(s, p);
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
        try {
            while (!closed) {
                AFUNIXSocket client;
                try {
                    client = socket.accept();
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
        VhostUserConnection connection = new VhostUserConnection(client, handler);
        current = connection;
        if (closed) {
            connection.close(); // close() ran between accept and here; run() still reports the disconnect
        }
        try {
            connection.run();
        } finally {
            current = null;
        }
    }

    /** Stops accepting, ends the current session and removes the socket file if we created it. */
    @Override
    public void close() {
        closed = true;
        VhostUserConnection c = current;
        if (c != null) {
            c.close();
        }
        try {
            socket.close();
        } catch (IOException e) {
            LOG.log(Level.WARNING, "closing the listening socket failed: {0}", e.getMessage());
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

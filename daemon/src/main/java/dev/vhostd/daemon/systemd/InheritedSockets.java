package dev.vhostd.daemon.systemd;

import dev.vhostd.sys.Libc;
import org.newsclub.net.unix.AFUNIXSocket;
import org.newsclub.net.unix.FileDescriptorCast;

import java.io.IOException;

/**
 * Checks on an fd a parent passed with {@code --fd N}. QEMU's backend conventions
 * (docs/interop/vhost-user.rst, "Backend program conventions") say only that the program is started
 * "with the vhost-user socket as file descriptor FDNUM": systemd passes a listening socket, libvirt a
 * connected end of a socketpair. {@link #isListening} tells them apart so serve can accept on the one
 * ({@link InheritedListener}) and speak vhost-user directly on the other ({@link #adoptConnected}).
 */
public final class InheritedSockets {
    private InheritedSockets() {}

    /**
     * Throws unless {@code fd} is an open AF_UNIX stream socket, with a message telling the operator
     * what was passed instead.
     */
    public static void checkUnixStream(int fd) throws IOException {
        if (fd < 0) {
            throw new IllegalArgumentException("--fd must be a non-negative fd number, not " + fd);
        }
        Libc.FileStat st;
        try {
            st = Libc.fstat(fd);
        } catch (RuntimeException e) {
            throw new IOException("fd " + fd + " is not open (" + e.getMessage() + "): start vhostd from its "
                    + "socket unit, or pass --fd only with a socket the parent left open", e);
        }
        if (!st.isSocket()) {
            throw new IOException("fd " + fd + " is not a socket (st_mode 0" + Integer.toOctalString(st.mode())
                    + "): --fd needs an inherited AF_UNIX stream socket");
        }
        int domain = Libc.getsockoptInt(fd, Libc.SOL_SOCKET, Libc.SO_DOMAIN);
        int type = Libc.getsockoptInt(fd, Libc.SOL_SOCKET, Libc.SO_TYPE);
        if (domain != Libc.AF_UNIX || type != Libc.SOCK_STREAM) {
            throw new IOException("fd " + fd + " is a socket of family " + domain + " type " + type
                    + ", vhost-user needs AF_UNIX (1) SOCK_STREAM (1): use ListenStream=/path in the socket unit");
        }
    }

    /** Whether socket {@code fd} is listening (SO_ACCEPTCONN), as opposed to connected. */
    public static boolean isListening(int fd) {
        return Libc.getsockoptInt(fd, Libc.SOL_SOCKET, Libc.SO_ACCEPTCONN) != 0;
    }

    /**
     * Wraps a connected AF_UNIX stream socket (libvirt-style --fd) as the one vhost-user connection
     * this process serves. The returned socket owns the fd.
     */
    public static AFUNIXSocket adoptConnected(int fd) throws IOException {
        checkUnixStream(fd);
        if (isListening(fd)) {
            throw new IOException("fd " + fd + " is a listening socket: vhostd serves it as a listener (VhostUserServer.adopt)");
        }
        setCloexec(fd);
        return FileDescriptorCast.unsafeUsing(fd).as(AFUNIXSocket.class);
    }

    static void setCloexec(int fd) {
        int flags = Libc.fcntl(fd, Libc.F_GETFD, 0);
        if ((flags & Libc.FD_CLOEXEC) == 0) {
            Libc.fcntl(fd, Libc.F_SETFD, flags | Libc.FD_CLOEXEC);
        }
    }
}

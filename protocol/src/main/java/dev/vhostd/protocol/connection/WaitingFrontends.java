package dev.vhostd.protocol.connection;

import java.io.IOException;
import java.lang.System.Logger;
import java.lang.System.Logger.Level;
import java.nio.file.Path;

import org.newsclub.net.unix.AFUNIXServerSocket;
import org.newsclub.net.unix.FileDescriptorCast;

import dev.vhostd.sys.Epoll;

/**
 * While one front-end is served, watches the listening socket for a second one. vhostd serves one
 * front-end at a time and leaves the next in the listen backlog; without this, nothing would be
 * logged until the first one leaves, and an operator who attached two VMs to one disk would see the
 * second VM hang without a word. Logs once per session; costs one idle virtual thread.
 */
final class WaitingFrontends implements AutoCloseable {
    private static final Logger LOG = System.getLogger(VhostUserServer.class.getName());
    private static final int WAIT_MS = 200;

    private volatile boolean closed;

    private WaitingFrontends() {}

    static WaitingFrontends watch(AFUNIXServerSocket socket, Path path, String servedPeer) {
        WaitingFrontends w = new WaitingFrontends();
        int fd;
        try {
            fd = FileDescriptorCast.using(socket.getFileDescriptor()).as(Integer.class);
        } catch (IOException | RuntimeException e) {
            LOG.log(Level.DEBUG, "cannot watch for waiting front-ends: {0}", e.getMessage());
            return w;
        }
        Thread.ofVirtual().name("vhostd-waiting-frontends").start(() -> w.run(fd, path, servedPeer));
        return w;
    }

    private void run(int listenFd, Path path, String servedPeer) {
        try (Epoll epoll = new Epoll(1)) {
            epoll.add(listenFd, Epoll.EPOLLIN, 0);
            while (!closed) {
                if (epoll.await(WAIT_MS) > 0 && !closed) {
                    LOG.log(Level.WARNING, "another front-end is connecting to " + (path != null ? path : "the socket")
                            + " while " + servedPeer + " is attached; vhostd serves one front-end at a time per"
                            + " socket, so it waits until that one disconnects (two VMs on one disk?)");
                    return;
                }
            }
        } catch (RuntimeException e) {
            LOG.log(Level.DEBUG, "stopped watching for waiting front-ends: {0}", e.getMessage());
        }
    }

    @Override
    public void close() {
        closed = true;
    }
}

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
    private volatile Readiness.Waiter waiter;
    private volatile Thread thread;

    private WaitingFrontends() {}

    /**
     * @param readiness where the accept loop waits (many disks: a virtual thread must not block a
     *                  carrier in epoll_wait), or null for the polling loop on a platform thread
     */
    static WaitingFrontends watch(AFUNIXServerSocket socket, Path path, String servedPeer, Readiness readiness) {
        WaitingFrontends w = new WaitingFrontends();
        int fd;
        try {
            fd = FileDescriptorCast.using(socket.getFileDescriptor()).as(Integer.class);
        } catch (IOException | RuntimeException e) {
            LOG.log(Level.DEBUG, "cannot watch for waiting front-ends: {0}", e.getMessage());
            return w;
        }
        if (readiness != null) {
            // The accept loop is busy serving this session, so the listening fd is ours to wait on.
            Readiness.Waiter waiting = readiness.waiter(fd);
            w.waiter = waiting;
            w.thread = Thread.ofVirtual().name("vhostd-waiting-frontends").start(() -> {
                try {
                    waiting.await();
                    if (!w.closed) {
                        warn(path, servedPeer);
                    }
                } catch (IOException e) {
                    // cancelled by close(): the session ended
                }
            });
            return w;
        }
        Thread.ofVirtual().name("vhostd-waiting-frontends").start(() -> w.run(fd, path, servedPeer));
        return w;
    }

    private static void warn(Path path, String servedPeer) {
        LOG.log(Level.WARNING, "another front-end is connecting to " + (path != null ? path : "the socket")
                + " while " + servedPeer + " is attached; vhostd serves one front-end at a time per"
                + " socket, so it waits until that one disconnects (two VMs on one disk?)");
    }

    private void run(int listenFd, Path path, String servedPeer) {
        try (Epoll epoll = new Epoll(1)) {
            epoll.add(listenFd, Epoll.EPOLLIN, 0);
            while (!closed) {
                if (epoll.await(WAIT_MS) > 0 && !closed) {
                    warn(path, servedPeer);
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
        Readiness.Waiter w = waiter;
        if (w != null) {
            w.cancel();
            Thread t = thread;
            try {
                // The accept loop registers the same fd next: our registration must be gone first.
                if (t != null && !t.join(java.time.Duration.ofSeconds(5))) {
                    LOG.log(Level.WARNING, "the waiting-front-end watcher did not stop");
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }
}

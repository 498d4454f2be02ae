package dev.vhostd.protocol.connection;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.lang.System.Logger.Level;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

import dev.vhostd.sys.Epoll;
import dev.vhostd.sys.ErrnoException;
import dev.vhostd.sys.EventFd;
import dev.vhostd.sys.Libc;

/**
 * Lets virtual threads wait for a socket to become readable without holding a platform thread.
 *
 * <p>junixsocket's reads and accepts are native calls: a virtual thread blocked in one pins its
 * carrier, and junixsocket's own fallback for virtual threads polls each fd with a one-second
 * timeout on the common pool. So the accept loops and vhost-user connections of all disks wait here
 * instead: one platform thread blocks in epoll_wait on every waiting socket (one-shot registrations)
 * and unparks the waiter, which then reads or accepts without blocking. An idle daemon with 64
 * disks thus has one thread asleep in epoll_wait, not 128 threads in accept and recvmsg.
 */
public final class Readiness implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(Readiness.class.getName());
    private static final long TOKEN_WAKE = 0;
    private static final int EPOLLRDHUP = 0x2000;
    private static final int EPOLLONESHOT = 1 << 30;

    private final Epoll epoll = new Epoll(64);
    private final int wakeFd = EventFd.create();
    private final Map<Long, Waiter> waiting = new ConcurrentHashMap<>();
    private final AtomicLong ids = new AtomicLong(TOKEN_WAKE);
    private final Thread thread;
    private volatile boolean running = true;

    public Readiness(String name) {
        epoll.add(wakeFd, Epoll.EPOLLIN, TOKEN_WAKE);
        thread = Thread.ofPlatform().name(name).daemon(true).unstarted(this::loop);
        thread.start();
    }

    /** A waiter for one socket fd, owned by the thread that reads it; {@link Waiter#cancel()} from any thread. */
    public Waiter waiter(int fd) {
        return new Waiter(fd);
    }

    public final class Waiter {
        private final int fd;
        private final long id = ids.incrementAndGet();
        private volatile CompletableFuture<Void> current;
        private volatile boolean cancelled;

        private Waiter(int fd) {
            this.fd = fd;
        }

        /**
         * Parks the calling (virtual) thread until the fd is readable, has hung up or has an error.
         *
         * @throws InterruptedIOException if {@link #cancel()} was called, before or during the wait
         * @throws IOException if the fd cannot be watched (closed meanwhile)
         */
        public void await() throws IOException {
            CompletableFuture<Void> ready = new CompletableFuture<>();
            current = ready;
            // cancel() sets cancelled before reading current; we set current before reading cancelled:
            // one of us sees the other, so a cancel is never lost.
            if (cancelled || !running) {
                throw new InterruptedIOException("wait for fd " + fd + " cancelled: the socket is closing");
            }
            waiting.put(id, this);
            try {
                epoll.add(fd, Epoll.EPOLLIN | EPOLLRDHUP | EPOLLONESHOT, id);
            } catch (ErrnoException e) {
                waiting.remove(id);
                throw new IOException("cannot wait for fd " + fd + ": " + e.getMessage(), e);
            }
            try {
                ready.join();
            } catch (CompletionException e) {
                throw new InterruptedIOException("wait for fd " + fd + " cancelled: the socket is closing");
            } finally {
                waiting.remove(id);
                try {
                    epoll.remove(fd);
                } catch (ErrnoException e) {
                    // Already gone: the fd was closed while we waited (its registration went with it).
                }
            }
        }

        /** Wakes a current or future {@link #await()} with an exception. Call before closing the fd. */
        public void cancel() {
            cancelled = true;
            CompletableFuture<Void> c = current;
            if (c != null) {
                c.completeExceptionally(new InterruptedIOException("cancelled"));
            }
        }
    }

    private void loop() {
        EventFd drain = new EventFd();
        while (running) {
            int n;
            try {
                n = epoll.await(-1);
            } catch (RuntimeException e) {
                LOG.log(Level.ERROR, "waiting for socket readiness failed; retrying", e);
                pause();
                continue;
            }
            for (int i = 0; i < n; i++) {
                long token = epoll.token(i);
                if (token == TOKEN_WAKE) {
                    drain.drain(wakeFd);
                    continue;
                }
                Waiter w = waiting.get(token);
                if (w != null) {
                    CompletableFuture<Void> c = w.current;
                    if (c != null) {
                        c.complete(null);
                    }
                }
            }
        }
    }

    private static void pause() {
        try {
            Thread.sleep(100);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Stops the thread and fails every wait. */
    @Override
    public void close() {
        if (!running) {
            return;
        }
        running = false;
        for (Waiter w : waiting.values()) {
            w.cancel();
        }
        new EventFd().signal(wakeFd);
        try {
            thread.join(5_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        epoll.close();
        Libc.close(wakeFd);
    }
}

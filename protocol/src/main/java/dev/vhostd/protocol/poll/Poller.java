package dev.vhostd.protocol.poll;

import java.lang.System.Logger.Level;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.Arrays;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;

import dev.vhostd.protocol.memory.DirtyLog;
import dev.vhostd.protocol.memory.DirtyLogException;
import dev.vhostd.protocol.memory.MemoryFaults;
import dev.vhostd.protocol.virtq.QueueBrokenException;
import dev.vhostd.protocol.virtq.SplitQueue;
import dev.vhostd.sys.Epoll;
import dev.vhostd.sys.EventFd;
import dev.vhostd.sys.Libc;

/**
 * A dedicated thread that serves the queues attached to it (an Agrona-style agent: do work, and when
 * there is none, spin for the poll window, then arm notifications and block).
 *
 * <p>Per iteration: every queue's handler pops, submits and reaps; then the used ring is published
 * once and the guest notified only if EVENT_IDX (or NO_INTERRUPT) says so. When idle longer than the
 * poll window, it re-arms notifications (avail_event / clearing NO_NOTIFY), re-checks the avail ring
 * so that a request published meanwhile is not lost, and blocks on the kick and completion fds.
 * Attach, detach and call-fd swaps run as commands on this thread, so no queue is ever touched by
 * two threads and a closed fd number is never written to.
 */
public final class Poller implements AutoCloseable, Liveness {
    private static final System.Logger LOG = System.getLogger(Poller.class.getName());
    private static final long TOKEN_CONTROL = -1;
    /** Heartbeat value while blocked in epoll_wait: idle, not stalled. */
    private static final long BLOCKED = Long.MIN_VALUE;
    private static final VarHandle HEARTBEAT;

    static {
        try {
            HEARTBEAT = MethodHandles.lookup().findVarHandle(Poller.class, "heartbeat", long.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }
    /** Queues one poller may serve: rings of many disks share a small pool of pollers. */
    private static final int MAX_QUEUES = 1024;
    /** Ready events taken per epoll_wait; more simply arrive on the next call (level-triggered). */
    private static final int EVENT_BATCH = 128;

    private final String name;
    private final long pollNanos;
    private final Thread thread;
    private final Epoll epoll = new Epoll(EVENT_BATCH);
    private final int controlFd = EventFd.create();
    private final EventFd events = new EventFd();
    private final ConcurrentLinkedQueue<Runnable> commands = new ConcurrentLinkedQueue<>();
    private QueueBinding[] bindings = new QueueBinding[0];
    /** Queues attached or being attached, read by {@link PollerGroup#assign()} on other threads. */
    private final java.util.concurrent.atomic.AtomicInteger load = new java.util.concurrent.atomic.AtomicInteger();
    private volatile boolean running = true;
    /** System.nanoTime() at the start of the current pass, or BLOCKED; written by the poller thread only. */
    @SuppressWarnings("unused") // through HEARTBEAT
    private long heartbeat = System.nanoTime();
    /** The queue that ran last on this thread: a late-delivered fault is charged to it. */
    private QueueBinding current;
    private long idleSince = System.nanoTime();
    private long busyStart = idleSince;

    public Poller(String name, long pollMicros) {
        this.name = name;
        this.pollNanos = Math.max(0, pollMicros) * 1000L;
        epoll.add(controlFd, Epoll.EPOLLIN, TOKEN_CONTROL);
        this.thread = Thread.ofPlatform().name(name).daemon(true).unstarted(this::loop);
        thread.start();
    }

    @Override
    public String name() {
        return name;
    }

    public int attachedQueues() {
        return bindings.length;
    }

    /** Starts serving {@code binding}; completes once the poller has taken it. */
    public CompletableFuture<Void> attach(QueueBinding binding) {
        load.incrementAndGet();
        CompletableFuture<Void> attached = submit(() -> {
            if (bindings.length == MAX_QUEUES) {
                throw new IllegalStateException("poller " + name + " already serves " + MAX_QUEUES + " queues");
            }
            QueueBinding[] next = Arrays.copyOf(bindings, bindings.length + 1);
            next[next.length - 1] = binding;
            int slot = next.length - 1;
            if (binding.kickFd >= 0) {
                epoll.add(binding.kickFd, Epoll.EPOLLIN, token(binding, false));
            }
            if (binding.handler.completionFd() >= 0) {
                epoll.add(binding.handler.completionFd(), Epoll.EPOLLIN, token(binding, true));
            }
            bindings = next;
            LOG.log(Level.DEBUG, () -> name + ": attached queue " + binding.queueIndex + " in slot " + slot);
        });
        attached.whenComplete((ok, failed) -> {
            if (failed != null) {
                load.decrementAndGet();
            }
        });
        return attached;
    }

    /** Queues attached or on their way; what the group balances. */
    int load() {
        return load.get();
    }

    /**
     * Stops serving {@code binding}: waits for its in-flight requests, publishes their used entries,
     * notifies the guest and closes the handler. Completes when done; the queue's next avail index
     * is then final.
     */
    public CompletableFuture<Void> detach(QueueBinding binding) {
        return submit(() -> remove(binding));
    }

    /** Replaces the call fd of an attached queue on the poller thread. */
    public CompletableFuture<Void> setCallFd(QueueBinding binding, int callFd) {
        return submit(() -> binding.callFd = callFd);
    }

    /**
     * Switches the queue's dirty logging ({@link SplitQueue#logTo}) on the poller thread, between two
     * batches. Once the future completes no batch of this queue uses the previous log any more.
     */
    public CompletableFuture<Void> setDirtyLog(QueueBinding binding, DirtyLog log, long usedRingLogAddr) {
        return submit(() -> binding.queue.logTo(log, usedRingLogAddr));
    }

    /** Detaches {@code binding} if attached (true), after draining and publishing what it still has. */
    private boolean remove(QueueBinding binding) {
        int at = -1;
        for (int i = 0; i < bindings.length; i++) {
            if (bindings[i] == binding) {
                at = i;
            }
        }
        if (at < 0) {
            return false;
        }
        QueueBinding[] next = new QueueBinding[bindings.length - 1];
        System.arraycopy(bindings, 0, next, 0, at);
        System.arraycopy(bindings, at + 1, next, at, bindings.length - at - 1);
        bindings = next;
        load.decrementAndGet();
        try {
            if (binding.kickFd >= 0) {
                epoll.remove(binding.kickFd);
            }
            if (binding.handler.completionFd() >= 0) {
                epoll.remove(binding.handler.completionFd());
            }
            binding.handler.drain();
            publish(binding);
        } catch (Throwable e) {
            if (MemoryFaults.isFault(e) || e instanceof QueueBrokenException) {
                LOG.log(Level.WARNING, name + ": queue " + binding.queueIndex + " could not be drained cleanly: "
                        + e.getMessage());
            } else {
                LOG.log(Level.WARNING, name + ": queue " + binding.queueIndex + " could not be drained cleanly", e);
            }
        } finally {
            try {
                binding.handler.close();
            } catch (Throwable e) {
                LOG.log(Level.WARNING, name + ": closing queue " + binding.queueIndex + "'s handler failed", e);
            }
        }
        return true;
    }

    private CompletableFuture<Void> submit(Runnable command) {
        CompletableFuture<Void> done = new CompletableFuture<>();
        if (!running) {
            done.completeExceptionally(new IllegalStateException("poller " + name + " is stopped"));
            return done;
        }
        commands.add(() -> {
            try {
                command.run();
                done.complete(null);
            } catch (Throwable t) {
                done.completeExceptionally(t);
            }
        });
        events.signal(controlFd);
        return done;
    }

    private static long token(QueueBinding b, boolean completion) {
        // Tokens identify the binding by its id (unique across disks); completion fds get the low bit.
        return (b.id << 1) | (completion ? 1 : 0);
    }

    private void runCommands() {
        Runnable c;
        while ((c = commands.poll()) != null) {
            c.run();
        }
    }

    /**
     * Liveness for health checks: stalled while one pass of the loop (or one command) has been
     * running longer than a health check allows; idle while blocked in epoll_wait for kicks.
     */
    @Override
    public long stalledNanos(long nowNanos) {
        if (!thread.isAlive()) {
            return running ? Long.MAX_VALUE : 0;
        }
        long beat = (long) HEARTBEAT.getOpaque(this);
        return beat == BLOCKED ? 0 : Math.max(0, nowNanos - beat);
    }

    private void beat(long nowNanos) {
        // Opaque: health checks need the value eventually, not ordered with anything else.
        HEARTBEAT.setOpaque(this, nowNanos == BLOCKED ? nowNanos + 1 : nowNanos);
    }

    /**
     * Runs passes until stopped. Nothing a queue does ends this thread: a Throwable (a corrupt ring,
     * a fault in front-end memory surfacing as InternalError, a handler bug) stops only the queue it
     * came from, whose session is then closed; everything else goes on being served.
     */
    private void loop() {
        EventFd local = new EventFd();
        while (running) {
            try {
                pass(local);
            } catch (Throwable t) {
                // A fault is reported a little after the access that caused it, possibly outside the
                // try around that queue's work: it belongs to the queue that ran last.
                QueueBinding b = current;
                if (b != null && attached(b)) {
                    broken(b, t);
                } else {
                    LOG.log(Level.ERROR, name + ": unexpected failure outside any queue; the poller goes on", t);
                }
                idleSince = 0;
            }
        }
        // Stopped: drain what is still attached so no acknowledged request is lost.
        try {
            runCommands();
        } catch (Throwable t) {
            LOG.log(Level.ERROR, name + ": a command failed while stopping", t);
        }
        for (QueueBinding b : bindings) {
            remove(b);
        }
    }

    private void pass(EventFd local) {
        beat(System.nanoTime());
        runCommands();
        QueueBinding[] bs = bindings;
        int work = 0;
        boolean anyPolling = false;
        for (QueueBinding b : bs) {
            current = b;
            int w;
            try {
                w = b.handler.doWork();
                publish(b);
            } catch (Throwable t) {
                broken(b, t);
                continue;
            }
            b.stats.pollIteration(w > 0);
            work += w;
            anyPolling |= b.kickFd < 0;
        }
        if (work > 0) {
            idleSince = 0;
            return;
        }
        long now = System.nanoTime();
        if (idleSince == 0) {
            idleSince = now;
        }
        bs = bindings;
        if (now - idleSince < pollNanos || (anyPolling && bs.length > 0)) {
            Thread.onSpinWait();
            if (anyPolling && now - idleSince >= pollNanos) {
                Thread.yield();
            }
            return;
        }
        // Arm notifications, then re-check: a request published between our last look and the
        // arming would otherwise wait for a kick the guest will not send.
        boolean pending = false;
        long wakeAt = 0;
        for (QueueBinding b : bs) {
            current = b;
            long held = b.handler.heldUntil();
            if (held != 0) {
                // Over its disk's limit: its avail ring holds requests on purpose. Wait for the
                // tokens (a timeout below), not for a kick, and do not count them as pending.
                wakeAt = wakeAt == 0 || held - wakeAt < 0 ? held : wakeAt;
                continue;
            }
            pending |= b.queue.enableNotifications();
        }
        if (pending) {
            disableNotifications();
            idleSince = 0;
            return;
        }
        HEARTBEAT.setOpaque(this, BLOCKED);
        int n = epoll.await(wakeAt == 0 ? -1 : timeoutMillis(wakeAt - now));
        long woke = System.nanoTime();
        beat(woke);
        if (bs.length > 0) {
            bs[0].stats.pollerTime(now - busyStart, woke - now);
        }
        busyStart = woke;
        for (int i = 0; i < n; i++) {
            long token = epoll.token(i);
            if (token == TOKEN_CONTROL) {
                local.drain(controlFd);
                continue;
            }
            long id = token >>> 1;
            boolean completion = (token & 1) != 0;
            int events = epoll.events(i);
            for (QueueBinding b : bs) {
                if (b.id != id || !attached(b)) {
                    continue;
                }
                current = b;
                if (completion) {
                    b.handler.completionSignalled();
                } else if ((events & (Epoll.EPOLLHUP | Epoll.EPOLLERR)) != 0) {
                    broken(b, new RingEndedException("its kick fd reported "
                            + ((events & Epoll.EPOLLERR) != 0 ? "an error" : "a hang-up")
                            + " (the front-end closed the other end), so no kick can arrive any more"));
                } else {
                    b.stats.kicks(local.drain(b.kickFd));
                }
            }
        }
        disableNotifications();
        idleSince = 0;
    }

    private void disableNotifications() {
        for (QueueBinding b : bindings) {
            current = b;
            b.queue.disableNotifications();
        }
    }

    private boolean attached(QueueBinding b) {
        for (QueueBinding x : bindings) {
            if (x == b) {
                return true;
            }
        }
        return false;
    }

    /** An epoll timeout that does not wake before {@code nanos} have passed (0 if already due). */
    private static int timeoutMillis(long nanos) {
        return nanos <= 0 ? 0 : (int) Math.min(Integer.MAX_VALUE, (nanos + 999_999) / 1_000_000);
    }

    private final EventFd notifier = new EventFd();

    private void publish(QueueBinding b) {
        int before = b.queue.publishedUsed();
        if (b.queue.publishUsed()) {
            int fd = b.callFd;
            if (fd >= 0) {
                // The call fd is non-blocking (the engine made it so): EAGAIN means the counter is
                // full, i.e. a notification is already pending, and is ignored.
                notifier.signal(fd);
                b.stats.notificationSent();
            }
        } else if (b.queue.publishedUsed() != before) {
            b.stats.notificationSuppressed();
        }
    }

    private void broken(QueueBinding b, Throwable e) {
        if (!remove(b)) {
            return; // already stopped by an earlier failure: its session has been told
        }
        if (e instanceof QueueBrokenException) {
            LOG.log(Level.ERROR, name + ": queue " + b.queueIndex + " stopped: " + e.getMessage()
                    + ". The guest driver wrote an invalid ring; the front-end connection will be closed.");
        } else if (e instanceof DirtyLogException) {
            LOG.log(Level.ERROR, name + ": queue " + b.queueIndex + " stopped: " + e.getMessage() + ". A migration"
                    + " in progress would copy stale guest memory, so the front-end connection will be closed.");
        } else if (MemoryFaults.isFault(e)) {
            LOG.log(Level.ERROR, name + ": queue " + b.queueIndex + " stopped: an access to front-end shared memory"
                    + " faulted (the front-end shrank or unmapped it); the front-end connection will be closed.");
        } else if (e instanceof RingEndedException) {
            LOG.log(Level.ERROR, name + ": queue " + b.queueIndex + " stopped: " + e.getMessage()
                    + "; the front-end connection will be closed.");
        } else {
            LOG.log(Level.ERROR, name + ": queue " + b.queueIndex + " stopped by an internal error in vhostd;"
                    + " the front-end connection will be closed so QEMU can reconnect. Please report this.", e);
        }
        try {
            b.onBroken.broken(b.queueIndex, e);
        } catch (Throwable t) {
            LOG.log(Level.ERROR, name + ": reporting the stopped queue " + b.queueIndex + " failed", t);
        }
    }

    @Override
    public void close() {
        if (!running) {
            return;
        }
        running = false;
        events.signal(controlFd);
        try {
            thread.join(10_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        epoll.close();
        Libc.close(controlFd);
    }
}

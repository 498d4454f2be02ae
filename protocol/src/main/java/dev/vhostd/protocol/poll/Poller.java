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
import dev.vhostd.sys.ThreadUsage;

/**
 * A dedicated thread that serves the queues attached to it (an Agrona-style agent: do work, and when
 * there is none, spin for the poll window, then arm notifications and block).
 *
 * <p>Queues are either active (polled every pass, guest kicks suppressed) or parked (notifications
 * armed, woken by their kick or completion fd through epoll). Per pass: every active queue's handler
 * pops, submits and reaps; then its used ring is published once and the guest notified only if
 * EVENT_IDX (or NO_INTERRUPT) says so. A queue that found no work for a whole poll window parks: it
 * re-arms notifications (avail_event / clearing NO_NOTIFY) and re-checks its avail ring so that a
 * request published meanwhile is not lost. Parked queues cost nothing per pass, so one busy ring
 * among many idle ones runs as if alone; while some queue is active, epoll is looked at now and then
 * (one call for all parked queues). When every queue is parked the thread blocks.
 *
 * <p>The poll window adapts per poller ({@link #foundWork}): it grows while polling catches work that
 * a sleep would have waited for, and shrinks to zero when work comes too late for polling to pay,
 * up to the {@code --poll-us} ceiling. Attach, detach and call-fd swaps run as commands on this
 * thread, so no queue is ever touched by two threads and a closed fd number is never written to.
 */
public final class Poller implements AutoCloseable, Liveness {
    private static final System.Logger LOG = System.getLogger(Poller.class.getName());
    private static final long TOKEN_CONTROL = -1;
    /** Heartbeat value while blocked in epoll_wait: idle, not stalled. */
    private static final long BLOCKED = Long.MIN_VALUE;
    private static final VarHandle HEARTBEAT;
    private static final VarHandle WINDOW;
    private static final VarHandle CONTENDED;

    static {
        try {
            HEARTBEAT = MethodHandles.lookup().findVarHandle(Poller.class, "heartbeat", long.class);
            WINDOW = MethodHandles.lookup().findVarHandle(Poller.class, "windowNanos", long.class);
            CONTENDED = MethodHandles.lookup().findVarHandle(Poller.class, "contendedSpells", long.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }
    /** Queues one poller may serve: rings of many disks share a small pool of pollers. */
    private static final int MAX_QUEUES = 1024;
    /** Ready events taken per epoll_wait; more simply arrive on the next call (level-triggered). */
    private static final int EVENT_BATCH = 128;
    /** The window's first step up from zero; halving below twice this drops it to zero. */
    private static final long MIN_WINDOW_NANOS = 4_000;
    /**
     * A ring idle this long parks even while other rings of its poller find work (when none does,
     * rings park after the poll window instead).
     */
    private static final long RING_IDLE_NANOS = 1_000_000;
    /** While rings find work, how often parked rings' kicks are looked for (one epoll_wait each time). */
    private static final long BUSY_EVENT_CHECK_NANOS = 50_000;
    /** While active rings spin idle within the window, how often parked rings' kicks are looked for. */
    private static final long IDLE_EVENT_CHECK_NANOS = 5_000;
    /** While the poll window is open, how often the poller asks whether it was preempted (one getrusage). */
    private static final long CONTENTION_CHECK_NANOS = 10_000_000;
    /**
     * Preemptions within one check period that mean other threads are waiting for this CPU. A quiet
     * core preempts a spinning thread rarely (a kernel worker now and then); one shared with busy
     * vCPU threads does so every few milliseconds.
     */
    static final long CONTENDED_PREEMPTIONS = 3;
    /** How long polling stays off once the CPU was found contended; doubles while it stays so. */
    private static final long CONTENTION_BACKOFF_MIN_NANOS = 100_000_000;
    private static final long CONTENTION_BACKOFF_MAX_NANOS = 3_200_000_000L;

    private final String name;
    /** Whether preemption while polling shuts the window ({@code --poll-contention yield}). */
    private final boolean yieldWhenContended;
    /** The most the poll window may grow to ({@code --poll-us}); 0 turns polling off. */
    private final long pollCeilingNanos;
    /**
     * How long a ring (and the poller) keeps polling after its last work before it parks: adapted
     * by {@link #foundWork}; written by the poller thread, read opaquely for metrics.
     */
    @SuppressWarnings("unused") // also through WINDOW
    private long windowNanos;
    private final Thread thread;
    private final Epoll epoll = new Epoll(EVENT_BATCH);
    private final int controlFd = EventFd.create();
    private final EventFd events = new EventFd();
    private final ConcurrentLinkedQueue<Runnable> commands = new ConcurrentLinkedQueue<>();
    private QueueBinding[] bindings = new QueueBinding[0];
    /** The bindings polled every pass, in slots 0..activeCount-1; the rest are parked. */
    private final QueueBinding[] active = new QueueBinding[MAX_QUEUES];
    private int activeCount;
    /** Parked bindings waiting for rate-limit tokens, and the earliest time one of them is due. */
    private int heldCount;
    private long earliestHeld;
    private long lastEventCheck;
    /** Queues attached or being attached, read by {@link PollerGroup#assign()} on other threads. */
    private final java.util.concurrent.atomic.AtomicInteger load = new java.util.concurrent.atomic.AtomicInteger();
    private volatile boolean running = true;
    /** System.nanoTime() at the start of the current pass, or BLOCKED; written by the poller thread only. */
    @SuppressWarnings("unused") // through HEARTBEAT
    private long heartbeat = System.nanoTime();
    /** The queue that ran last on this thread: a late-delivered fault is charged to it. */
    private QueueBinding current;
    /** When the poller last found no work after finding some (0 while it finds work). */
    private long idleSince;
    private long busyStart = System.nanoTime();
    /** Preemption counts of this thread (see {@link #checkContention}); used on the poller thread only. */
    private final ThreadUsage usage = new ThreadUsage();
    private boolean preemptionBaseline;
    private long preemptionsAtCheck;
    private long contentionCheckAt;
    /** Polling is off until {@link #pollingOffUntil} because the CPU was contended. */
    private boolean pollingOff;
    private long pollingOffUntil;
    private long contentionBackoff = CONTENTION_BACKOFF_MIN_NANOS;
    /** Times polling was switched off for contention; written by the poller thread, read opaquely. */
    @SuppressWarnings("unused") // through CONTENDED
    private long contendedSpells;

    public Poller(String name, long pollMicros) {
        this(name, pollMicros, false);
    }

    /**
     * @param yieldWhenContended stop polling for a while when preempted while polling (see
     *     {@link #checkContention}); off by default
     */
    public Poller(String name, long pollMicros, boolean yieldWhenContended) {
        this.name = name;
        this.yieldWhenContended = yieldWhenContended;
        this.pollCeilingNanos = Math.max(0, pollMicros) * 1000L;
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

    /** The current adaptive poll window (see {@link #foundWork}), for metrics. */
    public long pollWindowNanos() {
        return (long) WINDOW.getOpaque(this);
    }

    /**
     * How often this poller stopped polling because it was preempted while its window was open:
     * other threads (a guest's vCPUs, other pollers) wanted its CPU, so spinning took their time.
     */
    public long contendedSpells() {
        return (long) CONTENDED.getOpaque(this);
    }

    /** The ceiling of the poll window ({@code --poll-us}). */
    public long pollCeilingNanos() {
        return pollCeilingNanos;
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
            activate(binding, System.nanoTime());
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
        deactivate(binding);
        unhold(binding);
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
        long now = System.nanoTime();
        beat(now);
        if (yieldWhenContended && windowNanos > 0 && now - contentionCheckAt >= CONTENTION_CHECK_NANOS) {
            checkContention(now);
        }
        runCommands();
        QueueBinding[] act = active;
        int work = 0;
        boolean anyPolling = false;
        for (int i = 0; i < activeCount; i++) {
            QueueBinding b = act[i];
            current = b;
            int w;
            try {
                w = b.handler.doWork();
                publish(b);
            } catch (Throwable t) {
                broken(b, t);
                i--; // the last active binding moved into slot i
                continue;
            }
            b.stats.pollIteration(w > 0);
            anyPolling |= b.kickFd < 0;
            if (w > 0) {
                b.lastWork = now;
                work += w;
            } else if (now - b.lastWork >= RING_IDLE_NANOS && parkable(b)) {
                // Idle this long while its neighbours keep the poller busy: park it too, or a ring
                // kicked once would be polled for as long as any other ring of this poller works.
                current = b;
                if (park(b, now)) {
                    i--; // the last active binding moved into slot i
                }
            }
        }
        if (work > 0) {
            foundWork(now);
            if (bindings.length > activeCount && now - lastEventCheck >= BUSY_EVENT_CHECK_NANOS) {
                // Parked rings wake through epoll; while busy, look for their kicks now and then
                // (one epoll_wait covers them all) rather than touching each parked ring.
                checkEvents(local, now);
            }
            return;
        }
        if (idleSince == 0) {
            idleSince = now;
        }
        long window = windowNanos;
        // Park the rings that found nothing for a whole window: their kick (or completion) fd wakes
        // them, so a busy ring never shares its passes with idle neighbours.
        for (int i = 0; i < activeCount; i++) {
            QueueBinding b = act[i];
            if (now - b.lastWork < window || !parkable(b)) {
                continue;
            }
            current = b;
            if (park(b, now)) {
                i--;
            }
        }
        if (activeCount > 0) {
            if (bindings.length > activeCount || heldCount > 0) {
                if (now - lastEventCheck >= IDLE_EVENT_CHECK_NANOS) {
                    checkEvents(local, now);
                }
            }
            Thread.onSpinWait();
            if (anyPolling && now - idleSince >= pollCeilingNanos) {
                Thread.yield();
            }
            return;
        }
        // Every ring is parked: block until a kick, a completion, a command or a held ring's tokens.
        HEARTBEAT.setOpaque(this, BLOCKED);
        int n = epoll.await(heldCount == 0 ? -1 : timeoutMillis(earliestHeld - now));
        long woke = System.nanoTime();
        beat(woke);
        QueueBinding[] bs = bindings;
        if (bs.length > 0) {
            bs[0].stats.pollerTime(now - busyStart, woke - now);
        }
        busyStart = woke;
        handleEvents(local, n, woke);
        lastEventCheck = woke;
    }

    /**
     * Adapts the poll window to what polling finds (the way QEMU's AioContext grows and shrinks its
     * poll time): the poller was idle from {@link #idleSince} until work turned up at {@code now}.
     * Work that came within the window: polling paid, keep it. Work that came later but within the
     * ceiling: a longer window would have caught it without a sleep and a kick, grow. Work that came
     * later than the ceiling: polling only burnt CPU, shrink (to zero, where every idle ring parks at
     * once and waits for its kick).
     */
    private void foundWork(long now) {
        long idle = idleSince == 0 ? 0 : now - idleSince;
        idleSince = 0;
        if (pollingOff) {
            if (now - pollingOffUntil < 0) {
                return;
            }
            pollingOff = false;
        }
        setWindow(adaptWindow(windowNanos, idle, pollCeilingNanos));
    }

    private void setWindow(long next) {
        if (next == windowNanos) {
            return;
        }
        if (windowNanos == 0) {
            // Preemptions counted while the window was shut (blocked in epoll) say nothing about polling.
            preemptionBaseline = false;
            contentionCheckAt = 0;
        }
        WINDOW.setOpaque(this, next);
    }

    /**
     * Polling pays only with a CPU to spare. A poller preempted {@link #CONTENDED_PREEMPTIONS} times
     * within one check period while its window was open shares its CPU with threads that want it (on
     * a host full of guests, their vCPUs): the cycles it spins are taken from them, and a guest that
     * runs slower sends fewer requests. So the window shuts, and stays shut for a back-off that
     * doubles while the contention lasts; rings then park as soon as they are idle and wait for kicks.
     *
     * <p>Off by default: under a TCG guest on this 2-core machine, a poller preempted by the
     * guest's threads still gained more from polling than the guest lost (one queue: 0.63-0.88x
     * qsd's IOPS with it, 1.05-1.28x without), so it is for hosts whose cores are all given to vCPUs.
     */
    private void checkContention(long now) {
        long preemptions = usage.involuntarySwitches();
        if (preemptionBaseline) {
            if (preemptions - preemptionsAtCheck >= CONTENDED_PREEMPTIONS) {
                setWindow(0);
                pollingOff = true;
                pollingOffUntil = now + contentionBackoff;
                contentionBackoff = Math.min(2 * contentionBackoff, CONTENTION_BACKOFF_MAX_NANOS);
                CONTENDED.setOpaque(this, contendedSpells + 1);
                return;
            }
            contentionBackoff = CONTENTION_BACKOFF_MIN_NANOS;
        }
        preemptionBaseline = true;
        preemptionsAtCheck = preemptions;
        contentionCheckAt = now;
    }

    /** The next poll window after an idle spell of {@code idleNanos} ended in work (see {@link #foundWork}). */
    static long adaptWindow(long window, long idleNanos, long ceiling) {
        if (idleNanos <= window || ceiling == 0) {
            return window;
        }
        if (idleNanos > ceiling) {
            return window < 2 * MIN_WINDOW_NANOS ? 0 : window / 2;
        }
        return window == 0 ? Math.min(ceiling, MIN_WINDOW_NANOS) : Math.min(ceiling, window * 2);
    }

    /** A ring can wait in epoll: it has a kick fd, and a completion fd for any requests in flight. */
    private static boolean parkable(QueueBinding b) {
        return b.kickFd >= 0 && (b.handler.inFlight() == 0 || b.handler.completionFd() >= 0);
    }

    /**
     * Parks an active ring: arms its notifications (or its rate-limit timer) and re-checks its avail
     * ring, since a request published before the arming would otherwise wait for a kick the guest
     * will not send. Returns whether it left the active set.
     */
    private boolean park(QueueBinding b, long now) {
        long held = b.handler.heldUntil();
        if (held != 0) {
            // Over its disk's limit: its avail ring holds requests on purpose. Wait for the tokens
            // (a timer), not for a kick.
            deactivate(b);
            b.held = true;
            b.heldUntil = held;
            earliestHeld = heldCount == 0 || held - earliestHeld < 0 ? held : earliestHeld;
            heldCount++;
            return true;
        }
        if (b.queue.enableNotifications()) {
            b.queue.disableNotifications();
            b.lastWork = now;
            return false;
        }
        deactivate(b);
        return true;
    }

    private void activate(QueueBinding b, long now) {
        b.lastWork = now;
        unhold(b);
        if (b.active) {
            return;
        }
        b.queue.disableNotifications();
        b.active = true;
        b.activeSlot = activeCount;
        active[activeCount++] = b;
    }

    /**
     * Takes {@code b} off the held list. {@link #earliestHeld} may then be early: the next look at the
     * held rings (one scan) recomputes it.
     */
    private void unhold(QueueBinding b) {
        if (b.held) {
            b.held = false;
            heldCount--;
        }
    }

    private void deactivate(QueueBinding b) {
        if (!b.active) {
            return;
        }
        int slot = b.activeSlot;
        QueueBinding last = active[--activeCount];
        active[slot] = last;
        last.activeSlot = slot;
        active[activeCount] = null;
        b.active = false;
        b.activeSlot = -1;
    }

    /** Takes whatever epoll has ready without waiting, and wakes the held rings whose time has come. */
    private void checkEvents(EventFd local, long now) {
        lastEventCheck = now;
        handleEvents(local, epoll.await(0), now);
    }

    private void handleEvents(EventFd local, int n, long now) {
        QueueBinding[] bs = bindings;
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
                    activate(b, now);
                } else if ((events & (Epoll.EPOLLHUP | Epoll.EPOLLERR)) != 0) {
                    broken(b, new RingEndedException("its kick fd reported "
                            + ((events & Epoll.EPOLLERR) != 0 ? "an error" : "a hang-up")
                            + " (the front-end closed the other end), so no kick can arrive any more"));
                } else {
                    b.stats.kicks(local.drain(b.kickFd));
                    activate(b, now);
                }
            }
        }
        if (heldCount > 0 && now - earliestHeld >= 0) {
            long earliest = 0;
            for (QueueBinding b : bs) {
                if (!b.held) {
                    continue;
                }
                if (now - b.heldUntil >= 0) {
                    current = b;
                    activate(b, now);
                } else {
                    earliest = earliest == 0 || b.heldUntil - earliest < 0 ? b.heldUntil : earliest;
                }
            }
            earliestHeld = earliest;
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

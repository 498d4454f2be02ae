package dev.vhostd.protocol.engine;

import java.lang.System.Logger.Level;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.time.Duration;
import java.util.concurrent.CompletionException;

import dev.vhostd.protocol.connection.BackendChannel;
import dev.vhostd.protocol.connection.BackendHandler;
import dev.vhostd.protocol.device.ConfigNotice;
import dev.vhostd.protocol.device.ConfigNotifier;
import dev.vhostd.protocol.device.QueueHandler;
import dev.vhostd.protocol.device.VirtioDevice;
import dev.vhostd.protocol.device.VirtioFeatures;
import dev.vhostd.protocol.memory.DirtyLog;
import dev.vhostd.protocol.memory.GuestMemory;
import dev.vhostd.protocol.memory.GuestMemoryException;
import dev.vhostd.protocol.memory.MemoryFaults;
import dev.vhostd.protocol.memory.MemoryTable;
import dev.vhostd.protocol.poll.Poller;
import dev.vhostd.protocol.poll.PollerGroup;
import dev.vhostd.protocol.poll.PollerStats;
import dev.vhostd.protocol.poll.QueueBinding;
import dev.vhostd.protocol.virtq.QueueBrokenException;
import dev.vhostd.protocol.virtq.SplitQueue;
import dev.vhostd.protocol.wire.Message;
import dev.vhostd.protocol.wire.MessageFds;
import dev.vhostd.protocol.wire.Reply;
import dev.vhostd.protocol.wire.Request;
import dev.vhostd.protocol.wire.VhostUserException;
import dev.vhostd.sys.ErrnoException;
import dev.vhostd.sys.EventFd;
import dev.vhostd.sys.Libc;
import dev.vhostd.sys.OwnedFd;

/**
 * One front-end session: negotiated features, the guest memory table and the rings. It turns
 * vhost-user messages into ring starts and stops on the pollers, and asks the {@link VirtioDevice}
 * for what only the device knows. Runs on the connection's thread; pollers report broken rings
 * through a callback that closes the connection.
 */
public final class VhostUserEngine implements BackendHandler {
    private static final System.Logger LOG = System.getLogger(VhostUserEngine.class.getName());
    /** Memory slots offered through GET_MAX_MEM_SLOTS (CONFIGURE_MEM_SLOTS). */
    public static final int MAX_MEM_SLOTS = 32;
    /** Config space as vhost-user carries it: VHOST_USER_MAX_CONFIG_SIZE. */
    public static final int MAX_CONFIG_SIZE = 256;
    /**
     * The usual reason rings arrive before any memory table, or a region fd cannot be mapped
     * MAP_SHARED: QEMU's guest RAM is private, and QEMU then has no fd to hand over.
     */
    static final String SHARE_HINT = "the likely cause is guest memory that is not shared: start QEMU with"
            + " -object memory-backend-memfd,id=mem,size=SIZE,share=on -numa node,memdev=mem (libvirt:"
            + " <memoryBacking><access mode='shared'/></memoryBacking>)";

    private final VirtioDevice device;
    private final PollerGroup pollers;
    private final String name;
    private final StatsFactory stats;
    private final Vring[] vrings;
    private final MemoryTable memory = new MemoryTable(MAX_MEM_SLOTS);
    private final long offeredFeatures;
    private long ackedFeatures;
    private long ackedProtocolFeatures;
    private boolean featuresSet;
    private volatile Runnable closeConnection = () -> {};
    private volatile boolean broken;
    /** vhostd is stopping: the rings were drained by {@link #quiesce()}; no message is handled any more. */
    private boolean stopping;
    /** The missing-memory-table hint was logged for this session. */
    private boolean shareHintLogged;
    private final SessionListener listener;
    /** The front-end's channel for our requests (SET_BACKEND_REQ_FD); used from other threads. */
    private volatile BackendChannel backendChannel;
    private volatile boolean backendReqNegotiated;
    private volatile boolean ended;
    private Duration backendTimeout = BackendChannel.DEFAULT_TIMEOUT;
    /** Given to the device for this session; the same instance is taken back when it ends. */
    private final ConfigNotifier configNotifier = this::configChanged;
    /** INFLIGHT_SHMFD area, once GET_INFLIGHT_FD or SET_INFLIGHT_FD provided one. */
    private InflightArea inflight;
    /** The dirty log from the last accepted SET_LOG_BASE, or null. In effect only while LOG_ALL is acked. */
    private DirtyLog dirtyLog;
    /** SET_LOG_FD's eventfd, kept for the session (vhostd does not signal it: the front-end reads the bitmap). */
    private OwnedFd logEventFd;
    /** Logged once per session when LOG_ALL is on while rings run without a log to write to. */
    private boolean warnedNoLog;
    /** Whether this session already said that its memory can shrink (once per session). */
    private boolean shrinkNoted;

    /** Creates per-queue poller stats (metrics); may return {@link PollerStats#NONE}. */
    @FunctionalInterface
    public interface StatsFactory {
        PollerStats forQueue(int queueIndex);
    }

    /** Session events for logs and metrics. */
    public interface SessionListener {
        default void featuresNegotiated(long features, long protocolFeatures) {}

        default void invalidRing(int queueIndex, RuntimeException cause) {}

        /** The front-end sent a message that was refused. */
        default void invalidMessage(VhostUserException reason) {}

        default void ended() {}

        /** A new dirty log was accepted (SET_LOG_BASE): {@code bytes} of bitmap. */
        default void dirtyLogChanged(long bytes) {}

        /** Dirty logging is now on (LOG_ALL acked and a log mapped) or off. */
        default void dirtyLogging(boolean on) {}

        /** {@code pages} guest pages were newly marked dirty; called on poller threads. */
        default void dirtyPagesMarked(long pages) {}

        SessionListener NONE = new SessionListener() {};
    }

    public VhostUserEngine(String name, VirtioDevice device, PollerGroup pollers, StatsFactory stats,
            SessionListener listener) {
        this.name = name;
        this.device = device;
        this.pollers = pollers;
        this.stats = stats == null ? q -> PollerStats.NONE : stats;
        this.listener = listener == null ? SessionListener.NONE : listener;
        this.vrings = new Vring[device.numQueues()];
        for (int i = 0; i < vrings.length; i++) {
            vrings[i] = new Vring(i);
        }
        this.offeredFeatures = device.deviceFeatures()
                | VirtioFeatures.bit(VirtioFeatures.VERSION_1)
                | VirtioFeatures.bit(VirtioFeatures.RING_EVENT_IDX)
                | VirtioFeatures.bit(VirtioFeatures.RING_INDIRECT_DESC)
                | VirtioFeatures.bit(VirtioFeatures.LOG_ALL)
                | VirtioFeatures.bit(VirtioFeatures.VHOST_USER_PROTOCOL_FEATURES);
    }

    /** How the engine closes the connection when a poller finds a corrupt ring. */
    @Override
    public void attached(Runnable closeConnection) {
        this.closeConnection = closeConnection;
        device.sessionStarted(configNotifier);
    }

    /**
     * Tells the front-end that config space changed: VHOST_USER_BACKEND_CONFIG_CHANGE_MSG on the
     * back-end channel, waiting at most {@link BackendChannel#DEFAULT_TIMEOUT} for the REPLY_ACK.
     * Called from any thread (a resize from the control API), never from a poller.
     */
    public ConfigNotice configChanged() {
        BackendChannel channel = backendChannel;
        if (ended) {
            return ConfigNotice.noFrontend();
        }
        if (channel != null) {
            return channel.configChanged();
        }
        return new ConfigNotice(ConfigNotice.Outcome.NOT_SUPPORTED, backendReqNegotiated
                ? "the front-end negotiated BACKEND_REQ but gave no channel (SET_BACKEND_REQ_FD)"
                : "the front-end did not negotiate BACKEND_REQ (VHOST_USER_PROTOCOL_F_BACKEND_REQ), so it cannot be"
                        + " told; the guest sees the new size after it reconnects or reboots");
    }

    /** How long a config change waits for the front-end's answer (tests shorten it). Before SET_BACKEND_REQ_FD. */
    public VhostUserEngine backendChannelTimeout(Duration timeout) {
        this.backendTimeout = timeout;
        return this;
    }

    public long offeredFeatures() {
        return offeredFeatures;
    }

    public long ackedFeatures() {
        return ackedFeatures;
    }

    public boolean broken() {
        return broken;
    }

    /** A ring as an operator sees it: its index, the size the front-end set and whether a poller serves it. */
    public record QueueState(int index, int size, boolean running) {}

    /**
     * The rings' state, read from another thread (the control API): a best-effort snapshot, since
     * the connection thread may be reconfiguring a ring at that moment.
     */
    public java.util.List<QueueState> queueStates() {
        java.util.List<QueueState> out = new java.util.ArrayList<>(vrings.length);
        for (Vring v : vrings) {
            out.add(new QueueState(v.index, v.num, v.running()));
        }
        return out;
    }

    public GuestMemory memory() {
        return memory.snapshot();
    }

    @Override
    public void refused(VhostUserException reason) {
        listener.invalidMessage(reason);
    }

    @Override
    public boolean replyAckNegotiated() {
        return (ackedProtocolFeatures & (1L << ProtocolFeatures.REPLY_ACK)) != 0;
    }

    /** SET_LOG_BASE has a reply of its own once LOG_SHMFD is negotiated (QEMU waits for it). */
    @Override
    public boolean repliesTo(Request request) {
        if (request == Request.SET_LOG_BASE) {
            return logShmfdNegotiated();
        }
        return BackendHandler.super.repliesTo(request);
    }

    private boolean logShmfdNegotiated() {
        return (ackedProtocolFeatures & (1L << ProtocolFeatures.LOG_SHMFD)) != 0;
    }

    /** True while the front-end migrates: LOG_ALL acked and a log to write to. */
    public boolean logging() {
        return loggingFor(ackedFeatures) != null;
    }

    private DirtyLog loggingFor(long features) {
        return VirtioFeatures.has(features, VirtioFeatures.LOG_ALL) ? dirtyLog : null;
    }

    private boolean protocolFeaturesNegotiated() {
        return VirtioFeatures.has(ackedFeatures, VirtioFeatures.VHOST_USER_PROTOCOL_FEATURES);
    }

    /**
     * Messages, {@link #quiesce()} and {@link #disconnected()} are serialized: quiesce runs on the
     * thread that handles SIGTERM while the connection thread may be in the middle of a message.
     */
    @Override
    public synchronized Reply handle(Message message) {
        if (stopping) {
            closeFds(message);
            throw VhostUserException.fatal("vhostd is shutting down; the front-end may reconnect to a new vhostd");
        }
        if (broken) {
            closeFds(message);
            throw VhostUserException.fatal("device " + name + " is broken after an invalid ring; reconnect to reset it");
        }
        try {
            return dispatch(message);
        } catch (InternalError e) {
            if (!MemoryFaults.isFault(e)) {
                throw e;
            }
            // Starting a ring reads its used idx and the inflight area: front-end memory, which the
            // front-end may have truncated under our mapping.
            broken = true;
            throw VhostUserException.fatal("device " + name + ": an access to front-end shared memory faulted while"
                    + " handling " + message.request() + " (" + faultedRegions() + ")");
        }
    }

    private Reply dispatch(Message message) {
        return switch (message) {
            case Message.GetFeatures m -> new Reply.U64(offeredFeatures);
            case Message.SetFeatures m -> setFeatures(m.features());
            case Message.SetOwner m -> Reply.NONE;
            case Message.ResetOwner m -> {
                resetDevice();
                yield Reply.NONE;
            }
            case Message.GetProtocolFeatures m -> new Reply.U64(ProtocolFeatures.OFFERED);
            case Message.SetProtocolFeatures m -> setProtocolFeatures(m.features());
            case Message.GetQueueNum m -> new Reply.U64(vrings.length);
            case Message.GetMaxMemSlots m -> new Reply.U64(MAX_MEM_SLOTS);
            case Message.SetMemTable m -> {
                requireLogCovers(m.regions(), m);
                changeMemory(() -> memory.replace(m.regions(), m.fds()));
                noteShrinkableRegions();
                yield Reply.NONE;
            }
            case Message.AddMemReg m -> {
                requireLogCovers(List.of(m.region()), m);
                changeMemory(() -> memory.add(m.region(), m.fd()));
                noteShrinkableRegions();
                yield Reply.NONE;
            }
            case Message.SetLogBase m -> setLogBase(m);
            case Message.SetLogFd m -> {
                if (logEventFd != null) {
                    logEventFd.close();
                }
                logEventFd = m.fd();
                yield Reply.NONE;
            }
            case Message.RemMemReg m -> {
                changeMemory(() -> memory.remove(m.region()));
                yield Reply.NONE;
            }
            case Message.SetVringNum m -> setVringNum(m);
            case Message.SetVringAddr m -> setVringAddr(m);
            case Message.SetVringBase m -> setVringBase(m);
            case Message.GetVringBase m -> getVringBase(m.index());
            case Message.SetVringFd m -> setVringFd(m);
            case Message.SetVringEnable m -> setVringEnable(m.index(), m.enable());
            case Message.GetConfig m -> getConfig(m);
            case Message.SetConfig m -> {
                checkConfigRange(m.offset(), m.data().length);
                device.writeConfig(m.offset(), m.data());
                yield Reply.NONE;
            }
            case Message.ResetDevice m -> {
                resetDevice();
                yield Reply.NONE;
            }
            case Message.SetBackendReqFd m -> setBackendReqFd(m);
            case Message.GetInflightFd m -> getInflightFd(m);
            case Message.SetInflightFd m -> setInflightFd(m);
        };
    }

    private static void closeFds(Message message) {
        MessageFds.close(message);
    }

    private Vring vring(int index) {
        if (index < 0 || index >= vrings.length) {
            throw VhostUserException.rejected("queue index " + index + " out of range: device " + name
                    + " has " + vrings.length + " queues");
        }
        return vrings[index];
    }

    private Reply setFeatures(long features) {
        long unknown = features & ~offeredFeatures;
        if (unknown != 0) {
            throw VhostUserException.rejected(String.format(
                    "front-end acked features 0x%x that were not offered (offered 0x%x)", unknown, offeredFeatures));
        }
        for (Vring v : vrings) {
            if (v.running() && ((features ^ ackedFeatures) & VirtioFeatures.bit(VirtioFeatures.RING_EVENT_IDX)) != 0) {
                throw VhostUserException.rejected("EVENT_IDX cannot change while queue " + v.index + " is running");
            }
        }
        DirtyLog wasLogging = loggingFor(ackedFeatures);
        DirtyLog willLog = loggingFor(features);
        if (willLog != null && wasLogging == null) {
            String gap = logGap(willLog, memory.snapshot());
            if (gap != null) {
                throw VhostUserException.rejected("dirty logging (VHOST_F_LOG_ALL) cannot start: " + gap);
            }
        }
        ackedFeatures = features;
        featuresSet = true;
        if (willLog != wasLogging) {
            // LOG_ALL switched while rings may run: every poller takes the change at its next batch
            // boundary before the front-end hears back (QEMU waits for this ack before it syncs).
            publishLog();
            listener.dirtyLogging(willLog != null);
            LOG.log(Level.INFO, () -> name + ": dirty-page logging " + (willLog != null ? "on" : "off"));
        }
        device.featuresNegotiated(features);
        listener.featuresNegotiated(features, ackedProtocolFeatures);
        LOG.log(Level.INFO, () -> String.format("%s: features negotiated 0x%x", name, features));
        return Reply.NONE;
    }

    private Reply setProtocolFeatures(long features) {
        long unknown = features & ~ProtocolFeatures.OFFERED;
        if (unknown != 0) {
            throw VhostUserException.rejected(String.format(
                    "front-end acked protocol features 0x%x that were not offered (offered 0x%x)",
                    unknown, ProtocolFeatures.OFFERED));
        }
        ackedProtocolFeatures = features;
        backendReqNegotiated = (features & (1L << ProtocolFeatures.BACKEND_REQ)) != 0;
        if (!backendReqNegotiated) {
            closeBackendChannel();
        }
        listener.featuresNegotiated(ackedFeatures, features);
        return Reply.NONE;
    }

    /** SET_BACKEND_REQ_FD: only after BACKEND_REQ was negotiated, and only a connected stream socket. */
    private Reply setBackendReqFd(Message.SetBackendReqFd m) {
        if (!backendReqNegotiated) {
            m.fd().close();
            throw VhostUserException.rejected("SET_BACKEND_REQ_FD before the BACKEND_REQ protocol feature was"
                    + " negotiated");
        }
        BackendChannel channel;
        try {
            channel = BackendChannel.adopt(m.fd(), replyAckNegotiated(), name, backendTimeout);
        } catch (IllegalArgumentException e) {
            m.fd().close();
            throw VhostUserException.rejected("SET_BACKEND_REQ_FD: " + e.getMessage());
        }
        closeBackendChannel();
        backendChannel = channel;
        LOG.log(Level.INFO, () -> name + ": the front-end gave a back-end channel; config changes (resize) reach it"
                + (replyAckNegotiated() ? ", acknowledged" : ""));
        return Reply.NONE;
    }

    private void closeBackendChannel() {
        BackendChannel old = backendChannel;
        backendChannel = null;
        if (old != null) {
            old.close();
        }
    }

    private Reply setVringNum(Message.SetVringNum m) {
        Vring v = vring(m.index());
        int num = m.num();
        int max = Math.min(SplitQueue.MAX_SIZE, device.maxQueueSize());
        if (num <= 0 || num > max || Integer.bitCount(num) != 1) {
            throw VhostUserException.rejected("queue " + m.index() + ": ring size " + num
                    + " is invalid: it must be a power of two from 1 to " + max + " (virtio 2.7)");
        }
        requireStopped(v, "SET_VRING_NUM");
        v.num = num;
        return Reply.NONE;
    }

    private Reply setVringAddr(Message.SetVringAddr m) {
        Vring v = vring(m.index());
        boolean logUsed = (m.flags() & Message.SetVringAddr.F_LOG) != 0;
        if (logUsed && v.num > 0 && dirtyLog != null) {
            String gap = usedLogGap(dirtyLog, m.index(), m.logGuestAddr(), v.num);
            if (gap != null) {
                throw VhostUserException.rejected(gap);
            }
        }
        if (v.running()) {
            // vhost-user.rst "Migration": the front-end toggles VHOST_VRING_F_LOG on running rings.
            // Only the log flag and address may change then; the rings themselves stay where they are.
            if (m.descUserAddr() != v.descUserAddr || m.availUserAddr() != v.availUserAddr
                    || m.usedUserAddr() != v.usedUserAddr) {
                throw VhostUserException.rejected("SET_VRING_ADDR for queue " + v.index + " moves its rings while it"
                        + " is running; the front-end must stop it first (GET_VRING_BASE)");
            }
            v.logUsed = logUsed;
            v.logGuestAddr = m.logGuestAddr();
            setQueueLog(v);
            return Reply.NONE;
        }
        GuestMemory mem = memory.snapshot();
        if (mem.regions().isEmpty() && !shareHintLogged) {
            shareHintLogged = true;
            LOG.log(Level.WARNING, name + ": queue " + m.index() + ": SET_VRING_ADDR before any SET_MEM_TABLE; "
                    + SHARE_HINT);
        }
        if (v.num > 0 && !mem.regions().isEmpty()) {
            // Validate now, so a bad address is refused on the message that carried it.
            try {
                SplitQueue.fromUserAddresses(mem, v.num, m.descUserAddr(), m.availUserAddr(), m.usedUserAddr(), 0, false);
            } catch (RuntimeException e) {
                throw VhostUserException.rejected("queue " + m.index() + ": ring address outside guest memory: "
                        + e.getMessage());
            }
        }
        v.descUserAddr = m.descUserAddr();
        v.availUserAddr = m.availUserAddr();
        v.usedUserAddr = m.usedUserAddr();
        v.logUsed = logUsed;
        v.logGuestAddr = m.logGuestAddr();
        v.addressSet = true;
        return Reply.NONE;
    }

    private Reply setVringBase(Message.SetVringBase m) {
        Vring v = vring(m.index());
        if (m.num() < 0 || m.num() > 0xFFFF) {
            throw VhostUserException.rejected("queue " + m.index() + ": ring base " + m.num()
                    + " does not fit the split ring's 16-bit index");
        }
        requireStopped(v, "SET_VRING_BASE");
        v.base = m.num();
        return Reply.NONE;
    }

    /** GET_VRING_BASE stops the ring and returns where the front-end must resume (vhost-user.rst). */
    private Reply getVringBase(int index) {
        Vring v = vring(index);
        stop(v);
        v.started = false;
        if (v.kick != null) {
            v.kick.close();
            v.kick = null;
        }
        return new Reply.VringState(index, v.base);
    }

    private Reply setVringFd(Message.SetVringFd m) {
        Vring v;
        try {
            v = vring(m.index());
            if (m.fd() != null) {
                checkEventFd(m);
            }
        } catch (VhostUserException | ErrnoException e) {
            closeFds(m);
            throw e;
        }
        switch (m.request()) {
            case SET_VRING_KICK -> {
                boolean wasRunning = v.running();
                stop(v);
                if (v.kick != null) {
                    v.kick.close();
                }
                v.kick = m.fd(); // null: the front-end wants the ring polled
                v.started = true;
                if (!protocolFeaturesNegotiated()) {
                    // Without VHOST_USER_F_PROTOCOL_FEATURES rings are enabled as they start.
                    v.enabled = true;
                }
                if (wasRunning || v.enabled) {
                    start(v);
                }
            }
            case SET_VRING_CALL -> {
                OwnedFd old = v.call;
                v.call = m.fd();
                if (v.running()) {
                    v.poller.setCallFd(v.binding, v.call == null ? -1 : v.call.fd()).join();
                }
                if (old != null) {
                    old.close();
                }
            }
            case SET_VRING_ERR -> {
                if (v.err != null) {
                    v.err.close();
                }
                v.err = m.fd();
            }
            default -> throw new IllegalArgumentException(m.request().toString());
        }
        return Reply.NONE;
    }

    /**
     * Kick, call and err fds must be eventfds: a pipe nobody reads would block our writes, a closed
     * pipe or socket as kick fd would wake the poller forever, a regular file is not pollable. Ours
     * is a duplicate sharing the front-end's open file, which we make non-blocking (QEMU's are
     * already): a write to a call fd whose counter is full then fails with EAGAIN, meaning a
     * notification is pending anyway, instead of blocking the poller.
     */
    private void checkEventFd(Message.SetVringFd m) {
        int fd = m.fd().fd();
        if (!EventFd.isEventFd(fd)) {
            String what = m.request() + " for queue " + m.index() + " carries " + EventFd.describe(fd)
                    + ", not an eventfd; vhost-user kick, call and err fds must be eventfds";
            // Without REPLY_ACK the front-end cannot learn of the refusal: the ring would silently
            // never run, so end the session instead.
            throw replyAckNegotiated() ? VhostUserException.rejected(what) : VhostUserException.fatal(what);
        }
        Libc.setNonBlocking(fd);
    }

    private void noteShrinkableRegions() {
        if (shrinkNoted) {
            return;
        }
        List<String> open = memory.regionsThatCanShrink();
        if (!open.isEmpty()) {
            shrinkNoted = true;
            LOG.log(Level.INFO, name + ": guest memory " + String.join(", ", open) + " is not sealed against"
                    + " shrinking: if the front-end truncates it, the session fails (it cannot crash vhostd), and"
                    + " zero-filling uses a slower fault-safe path. QEMU's memory-backend-memfd seals by default"
                    + " (seal=on); memory-backend-file and hugetlb memory cannot be sealed.");
        }
    }

    /** After a fault: which front-end memory shrank, for the log. */
    private String faultedRegions() {
        List<String> shrunk = new ArrayList<>(memory.shrunkRegions());
        InflightArea area = inflight;
        if (area != null && area.shrunk() != null) {
            shrunk.add(area.shrunk());
        }
        return shrunk.isEmpty() ? "no region's file is smaller than its mapping now; the front-end may have"
                + " shrunk and regrown it" : String.join("; ", shrunk);
    }

    private Reply setVringEnable(int index, boolean enable) {
        Vring v = vring(index);
        v.enabled = enable;
        if (enable) {
            if (v.started) {
                start(v);
            }
        } else {
            stop(v);
        }
        return Reply.NONE;
    }

    /**
     * GET_INFLIGHT_FD: a new, zeroed tracking area for the front-end to keep. A request vhostd
     * cannot serve gets mmap_size 0, which QEMU takes as "no inflight tracking" and goes on.
     */
    private Reply getInflightFd(Message.GetInflightFd m) {
        String bad = inflightGeometryProblem(m.numQueues(), m.queueSize());
        if (bad != null) {
            LOG.log(Level.WARNING, name + ": GET_INFLIGHT_FD: " + bad + "; replying without an area, so requests in"
                    + " flight during a crash of vhostd cannot be resubmitted");
            return new Reply.Inflight(0, 0, m.numQueues(), m.queueSize(), -1);
        }
        requireAllStopped("GET_INFLIGHT_FD");
        closeInflight();
        inflight = InflightArea.create(m.numQueues(), m.queueSize());
        LOG.log(Level.INFO, () -> name + ": inflight tracking area created for " + m.numQueues() + " queues of "
                + m.queueSize());
        return new Reply.Inflight(inflight.mappedBytes(), 0, m.numQueues(), m.queueSize(), inflight.fd());
    }

    private Reply setInflightFd(Message.SetInflightFd m) {
        String bad = inflightGeometryProblem(m.numQueues(), m.queueSize());
        if (bad != null) {
            m.fd().close();
            throw VhostUserException.rejected("SET_INFLIGHT_FD: " + bad);
        }
        try {
            requireAllStopped("SET_INFLIGHT_FD");
        } catch (VhostUserException e) {
            m.fd().close();
            throw e;
        }
        InflightArea area;
        try {
            area = InflightArea.adopt(m.numQueues(), m.queueSize(), m.mmapSize(), m.mmapOffset(), m.fd());
        } catch (IllegalArgumentException e) {
            throw VhostUserException.rejected("SET_INFLIGHT_FD: inflight area refused: " + e.getMessage());
        }
        closeInflight();
        inflight = area;
        return Reply.NONE;
    }

    private String inflightGeometryProblem(int numQueues, int queueSize) {
        int max = Math.min(SplitQueue.MAX_SIZE, device.maxQueueSize());
        if (numQueues < 1 || numQueues > vrings.length) {
            return numQueues + " queues asked for, but the device has " + vrings.length;
        }
        if (queueSize < 1 || queueSize > max || Integer.bitCount(queueSize) != 1) {
            return "queue size " + queueSize + " is not a power of two from 1 to " + max;
        }
        return null;
    }

    private void requireAllStopped(String what) {
        for (Vring v : vrings) {
            requireStopped(v, what);
        }
    }

    private void closeInflight() {
        if (inflight != null) {
            inflight.close();
            inflight = null;
        }
    }

    /** Puts {@code queue} under inflight tracking if there is an area for it; logs what it found. */
    private void trackInflight(Vring v, SplitQueue queue) {
        InflightArea area = inflight;
        if (area == null || v.index >= area.numQueues) {
            return;
        }
        if (v.num != area.queueSize) {
            LOG.log(Level.WARNING, name + ": queue " + v.index + " has " + v.num + " entries but the inflight area was"
                    + " made for " + area.queueSize + "; its requests are not tracked for crash recovery");
            return;
        }
        try {
            int again = queue.trackInflight(area.queue(v.index));
            if (again > 0) {
                LOG.log(Level.WARNING, name + ": queue " + v.index + ": " + again + " requests were in flight when the"
                        + " previous vhostd stopped; processing them again before new ones");
            }
        } catch (IllegalArgumentException e) {
            LOG.log(Level.WARNING, name + ": queue " + v.index + ": the inflight area is inconsistent (" + e.getMessage()
                    + "); starting it afresh, so requests lost in a crash are not resubmitted");
            queue.trackInflightAfresh(area.queue(v.index));
        }
    }

    private Reply getConfig(Message.GetConfig m) {
        checkConfigRange(m.offset(), m.size());
        byte[] out = new byte[m.size()];
        int available = Math.max(0, Math.min(m.size(), device.configSize() - m.offset()));
        if (available > 0) {
            System.arraycopy(device.readConfig(m.offset(), available), 0, out, 0, available);
        }
        // Bytes past the device's config space read as zero, as for an older device revision.
        return new Reply.Config(m.offset(), m.flags(), out);
    }

    private static void checkConfigRange(int offset, int size) {
        if (offset < 0 || size < 0 || offset + size > MAX_CONFIG_SIZE) {
            throw VhostUserException.rejected("config access at offset " + offset + " size " + size
                    + " is outside the " + MAX_CONFIG_SIZE + "-byte config space");
        }
    }

    private void requireStopped(Vring v, String what) {
        if (v.running()) {
            throw VhostUserException.rejected(what + " for queue " + v.index
                    + " while it is running; the front-end must stop it first (GET_VRING_BASE)");
        }
    }

    /** Runs a memory-table change with every running ring quiesced, then restarts them. */
    private void changeMemory(Runnable change) {
        List<Vring> wasRunning = new ArrayList<>();
        for (Vring v : vrings) {
            if (v.running()) {
                stop(v);
                wasRunning.add(v);
            }
        }
        try {
            change.run();
        } catch (GuestMemoryException e) {
            String msg = String.valueOf(e.getMessage());
            throw VhostUserException.rejected("memory table refused: " + msg
                    + (msg.contains("mmap") || msg.contains("with 0 regions") ? "; " + SHARE_HINT : ""));
        } finally {
            for (Vring v : wasRunning) {
                try {
                    start(v);
                } catch (VhostUserException e) {
                    LOG.log(Level.WARNING, name + ": queue " + v.index + " not restarted after the memory change: "
                            + e.getMessage());
                }
            }
        }
    }

    private void start(Vring v) {
        if (v.running() || !v.started || !v.enabled) {
            return;
        }
        if (v.num == 0 || !v.addressSet) {
            throw VhostUserException.rejected("queue " + v.index + " cannot start: ring size and addresses must"
                    + " be set first (SET_VRING_NUM, SET_VRING_ADDR)");
        }
        GuestMemory mem = memory.snapshot();
        if (mem.regions().isEmpty()) {
            throw VhostUserException.rejected("queue " + v.index + " cannot start before SET_MEM_TABLE; " + SHARE_HINT);
        }
        boolean eventIdx = VirtioFeatures.has(ackedFeatures, VirtioFeatures.RING_EVENT_IDX);
        SplitQueue queue;
        try {
            queue = SplitQueue.fromUserAddresses(mem, v.num, v.descUserAddr, v.availUserAddr, v.usedUserAddr, v.base,
                    eventIdx);
        } catch (RuntimeException e) {
            throw VhostUserException.rejected("queue " + v.index + " cannot start: " + e.getMessage());
        }
        trackInflight(v, queue);
        DirtyLog log = loggingFor(ackedFeatures);
        if (log != null && v.logUsed && usedLogGap(log, v.index, v.logGuestAddr, v.num) != null) {
            throw VhostUserException.rejected("queue " + v.index + " cannot start: "
                    + usedLogGap(log, v.index, v.logGuestAddr, v.num));
        }
        // Set before the poller takes the queue; the hand-off orders it before the first batch.
        queue.logTo(log, log != null && v.logUsed ? v.logGuestAddr : -1);
        QueueHandler handler = device.openQueue(v.index, queue, mem, ackedFeatures);
        v.poller = pollers.assign(runningPollers());
        v.binding = new QueueBinding(v.index, queue, handler, v.kick == null ? -1 : v.kick.fd(),
                v.call == null ? -1 : v.call.fd(), this::ringBroken, stats.forQueue(v.index));
        try {
            v.poller.attach(v.binding).join();
        } catch (CompletionException e) {
            v.binding = null;
            handler.close();
            throw new IllegalStateException("queue " + v.index + " could not be attached to its poller", e.getCause());
        }
        warnIfLoggingWithoutLog();
        LOG.log(Level.INFO, () -> String.format("%s: queue %d started (size %d, base %d, event_idx %s, %s)", name,
                v.index, v.num, v.base, eventIdx, v.kick == null ? "polled" : "kick fd"));
    }

    /** The pollers serving this device's running rings, in ring order. */
    private List<Poller> runningPollers() {
        List<Poller> running = new ArrayList<>(2);
        for (Vring o : vrings) {
            if (o.running()) {
                running.add(o.poller);
            }
        }
        return running;
    }

    private void stop(Vring v) {
        if (!v.running()) {
            return;
        }
        QueueBinding b = v.binding;
        try {
            v.poller.detach(b).join();
        } finally {
            v.base = b.queue().nextAvail();
            v.binding = null;
            v.poller = null;
        }
        LOG.log(Level.INFO, () -> name + ": queue " + v.index + " stopped at avail index " + v.base);
    }

    /**
     * SET_LOG_BASE: validates and maps the new log, hands it to every running ring at a batch
     * boundary, and only then unmaps the old one and replies. QEMU reads the old log one last time
     * after this reply and frees it, so no poller may mark it afterwards; and a log refused here
     * changes nothing (the previous one stays in use).
     */
    private Reply setLogBase(Message.SetLogBase m) {
        if (m.fd() == null) {
            throw VhostUserException.rejected("SET_LOG_BASE without an fd: vhostd logs dirty pages only into"
                    + " shared memory (protocol feature LOG_SHMFD), which the front-end "
                    + (logShmfdNegotiated() ? "negotiated but did not attach" : "did not negotiate"));
        }
        if (!logShmfdNegotiated()) {
            m.fd().close();
            throw VhostUserException.rejected("SET_LOG_BASE with an fd, but LOG_SHMFD was not negotiated");
        }
        DirtyLog next;
        try {
            next = DirtyLog.map(m.fd(), m.mmapSize(), m.mmapOffset(), listener::dirtyPagesMarked);
        } catch (IllegalArgumentException e) {
            throw VhostUserException.rejected("the previous log stays in use: " + e.getMessage());
        } catch (RuntimeException e) {
            throw VhostUserException.rejected("the previous log stays in use: cannot map the log: "
                    + e.getMessage());
        }
        String gap = logGap(next, memory.snapshot());
        if (gap != null) {
            next.close();
            throw VhostUserException.rejected("the previous log stays in use: " + gap);
        }
        boolean wasLogging = logging();
        DirtyLog old = dirtyLog;
        dirtyLog = next;
        publishLog();
        if (old != null) {
            old.close();
        }
        listener.dirtyLogChanged(next.sizeBytes());
        if (logging() != wasLogging) {
            listener.dirtyLogging(logging());
        }
        LOG.log(Level.INFO, () -> name + ": dirty log of " + next.sizeBytes() + " bytes mapped (covers guest memory"
                + " below 0x" + Long.toHexString(next.coveredEnd()) + ")");
        return new Reply.U64(0);
    }

    /**
     * Why {@code log} cannot serve the guest memory {@code mem} and the rings that log their used ring,
     * or null if it can. A page that has no bit could not be marked, so such a log is refused rather
     * than pages silently skipped.
     */
    private String logGap(DirtyLog log, GuestMemory mem) {
        long end = mem.guestPhysEnd();
        if (!log.covers(end)) {
            return "the log of " + log.sizeBytes() + " bytes covers guest memory below 0x"
                    + Long.toHexString(log.coveredEnd()) + " but the memory table reaches 0x" + Long.toHexString(end)
                    + " (one bit per 4 KiB page from address 0 is needed)";
        }
        for (Vring v : vrings) {
            if (v.addressSet && v.logUsed && v.num > 0) {
                String gap = usedLogGap(log, v.index, v.logGuestAddr, v.num);
                if (gap != null) {
                    return gap;
                }
            }
        }
        return null;
    }

    /** vhost-user.rst: the bit of the used ring's last byte, at log_guest_addr, must be inside the log. */
    private static String usedLogGap(DirtyLog log, int index, long logGuestAddr, int num) {
        long end = logGuestAddr + SplitQueue.usedBytes(num);
        if (Long.compareUnsigned(end, logGuestAddr) < 0 || !log.covers(end)) {
            return "queue " + index + "'s used ring is logged at 0x" + Long.toHexString(logGuestAddr) + ".."
                    + Long.toHexString(end) + ", beyond the log of " + log.sizeBytes() + " bytes (covers below 0x"
                    + Long.toHexString(log.coveredEnd()) + ")";
        }
        return null;
    }

    /** While logging, a memory table that reaches past the log is refused (QEMU grows the log first). */
    private void requireLogCovers(List<Message.MemoryRegion> regions, Message message) {
        DirtyLog log = loggingFor(ackedFeatures);
        if (log == null) {
            return;
        }
        for (Message.MemoryRegion r : regions) {
            long end = r.guestPhysAddr() + r.size();
            if (Long.compareUnsigned(end, r.guestPhysAddr()) < 0 || !log.covers(end)) {
                closeFds(message);
                throw VhostUserException.rejected("refused while migrating: region 0x"
                        + Long.toHexString(r.guestPhysAddr()) + "..0x" + Long.toHexString(end)
                        + " lies beyond the dirty log (covers below 0x" + Long.toHexString(log.coveredEnd())
                        + "); send a larger SET_LOG_BASE first");
            }
        }
    }

    /** Gives every running ring the log now in effect, waiting for each poller's batch boundary. */
    private void publishLog() {
        for (Vring v : vrings) {
            if (v.running()) {
                setQueueLog(v);
            }
        }
        warnIfLoggingWithoutLog();
    }

    private void setQueueLog(Vring v) {
        if (!v.running()) {
            return;
        }
        DirtyLog log = loggingFor(ackedFeatures);
        try {
            v.poller.setDirtyLog(v.binding, log, log != null && v.logUsed ? v.logGuestAddr : -1).join();
        } catch (CompletionException e) {
            // Only a stopped poller refuses commands (daemon shutdown); its queues are no longer served.
            LOG.log(Level.WARNING, name + ": queue " + v.index + ": dirty log not handed to its poller: "
                    + e.getCause().getMessage());
        }
    }

    private void warnIfLoggingWithoutLog() {
        if (warnedNoLog || !VirtioFeatures.has(ackedFeatures, VirtioFeatures.LOG_ALL) || dirtyLog != null) {
            return;
        }
        for (Vring v : vrings) {
            if (v.running()) {
                warnedNoLog = true;
                LOG.log(Level.WARNING, name + ": the front-end turned on VHOST_F_LOG_ALL but sent no dirty log"
                        + " (SET_LOG_BASE) while queue " + v.index + " runs: pages written now are not logged");
                return;
            }
        }
    }

    private void closeDirtyLog() {
        if (dirtyLog != null) {
            dirtyLog.close();
            dirtyLog = null;
        }
        if (logEventFd != null) {
            logEventFd.close();
            logEventFd = null;
        }
    }

    /** Called on a poller thread: the queue was already detached there. */
    private void ringBroken(int queueIndex, Throwable cause) {
        broken = true;
        String why;
        if (cause instanceof QueueBrokenException q) {
            listener.invalidRing(queueIndex, q);
            why = cause.getMessage();
        } else if (MemoryFaults.isFault(cause)) {
            why = "front-end shared memory faulted: " + faultedRegions();
        } else {
            why = String.valueOf(cause.getMessage());
        }
        LOG.log(Level.ERROR, name + ": device marked broken (queue " + queueIndex + ": " + why
                + "); closing the front-end connection. The front-end may reconnect to reset the device.");
        closeConnection.run();
    }

    private void resetDevice() {
        for (Vring v : vrings) {
            stop(v);
            v.reset();
        }
        boolean wasLogging = logging();
        ackedFeatures = 0;
        featuresSet = false;
        closeInflight();
        closeDirtyLog();
        if (wasLogging) {
            listener.dirtyLogging(false);
        }
        device.reset();
    }

    /**
     * Stops every running ring: each poller completes the ring's in-flight requests and publishes
     * them (and notifies) before it lets go. New requests stay in the avail ring for the next vhostd.
     */
    @Override
    public synchronized void quiesce() {
        stopping = true;
        for (Vring v : vrings) {
            try {
                stop(v);
            } catch (RuntimeException e) {
                LOG.log(Level.WARNING, name + ": queue " + v.index + " did not stop cleanly", e);
            }
        }
        LOG.log(Level.INFO, () -> name + ": stopping: every ring stopped, the requests in flight completed and published");
    }

    @Override
    public synchronized void disconnected() {
        for (Vring v : vrings) {
            try {
                // A ring whose poller already detached it (broken) has its binding cleared by stop's
                // finally; a detach of an unknown binding is a no-op.
                stop(v);
            } catch (RuntimeException e) {
                LOG.log(Level.WARNING, name + ": queue " + v.index + " did not stop cleanly", e);
            }
            v.reset();
        }
        ended = true;
        device.sessionEnded(configNotifier);
        closeBackendChannel();
        memory.close();
        closeInflight();
        if (logging()) {
            listener.dirtyLogging(false);
        }
        closeDirtyLog();
        device.reset();
        listener.ended();
        LOG.log(Level.INFO, () -> name + ": front-end session ended" + (featuresSet ? "" : " before feature negotiation"));
    }

    @Override
    public String toString() {
        return "VhostUserEngine[" + name + ", queues=" + Arrays.stream(vrings).filter(Vring::running).count()
                + " running]";
    }
}

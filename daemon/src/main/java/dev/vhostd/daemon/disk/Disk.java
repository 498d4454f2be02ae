package dev.vhostd.daemon.disk;

import java.io.IOException;
import java.lang.System.Logger.Level;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;

import org.newsclub.net.unix.AFUNIXSocket;

import dev.vhostd.backend.Aio;
import dev.vhostd.backend.BackendOptions;
import dev.vhostd.backend.Backends;
import dev.vhostd.backend.BlockBackend;
import dev.vhostd.daemon.blk.BlkOptions;
import dev.vhostd.daemon.blk.VirtioBlkDevice;
import dev.vhostd.daemon.limits.Limits;
import dev.vhostd.daemon.metrics.DeviceMetrics;
import dev.vhostd.daemon.metrics.QueueMetrics;
import dev.vhostd.daemon.systemd.InheritedSockets;
import dev.vhostd.protocol.connection.VhostUserConnection;
import dev.vhostd.protocol.connection.VhostUserServer;
import dev.vhostd.protocol.engine.VhostUserEngine;

/**
 * One exported disk: its name, vhost-user socket, storage backend, virtio-blk device, metrics and
 * limits. Created only by {@link DiskRegistry}, the same way for the command line, the config file
 * and the control API. Its accept loop and front-end connection run on a virtual thread that waits
 * in the shared {@link dev.vhostd.protocol.connection.Readiness} thread; its rings run on the
 * shared pollers.
 */
public final class Disk {
    private static final System.Logger LOG = System.getLogger("vhostd");
    /** How long removal waits for the front-end session to wind down (rings drain their requests). */
    private static final long STOP_WAIT_MS = 30_000;

    /** Where a disk's front-end comes from. */
    public sealed interface Endpoint {
        /** A socket file vhostd creates (and removes when the disk goes). */
        record Bind(Path path) implements Endpoint {}

        /** An inherited listening socket (systemd socket activation, {@code --fd N}). */
        record Inherited(int fd) implements Endpoint {}

        /** An inherited connected socket (libvirt-style {@code --fd N}): one front-end, served once. */
        record Connected(int fd) implements Endpoint {}
    }

    private final DiskSpec spec;
    private final Endpoint endpoint;
    private final DiskRuntime runtime;
    private final BlockBackend backend;
    private final VirtioBlkDevice device;
    private final DeviceMetrics metrics;
    private final DeviceTelemetry telemetry;
    /** Null for a {@link Endpoint.Connected} disk. */
    private final VhostUserServer server;
    /** The inherited connected socket, or null. */
    private final AFUNIXSocket connectedSocket;
    private final AtomicReference<VhostUserEngine> session = new AtomicReference<>();
    private volatile VhostUserConnection connection;
    private volatile Limits limits = Limits.NONE;
    private Thread thread;

    private Disk(DiskSpec spec, Endpoint endpoint, DiskRuntime runtime, BlockBackend backend,
            VirtioBlkDevice device, DeviceMetrics metrics, VhostUserServer server, AFUNIXSocket connectedSocket) {
        this.spec = spec;
        this.endpoint = endpoint;
        this.runtime = runtime;
        this.backend = backend;
        this.device = device;
        this.metrics = metrics;
        this.telemetry = new DeviceTelemetry(metrics);
        this.server = server;
        this.connectedSocket = connectedSocket;
        metrics.guestMemoryMapped(() -> {
            VhostUserEngine e = session.get();
            return e == null ? 0 : e.memory().mappedBytes();
        });
    }

    /**
     * Opens the backend, builds the device and creates (or adopts) the socket. Either everything
     * is in place or nothing is: on failure whatever was opened is closed again and no socket file
     * is left behind.
     *
     * @param createSize a missing file backend is created with this size (the command line's
     *                   {@code --size}); 0 to require an existing file
     */
    static Disk open(DiskSpec spec, long createSize, Endpoint endpoint, DiskRuntime runtime) {
        BackendOptions options = new BackendOptions(createSize, spec.readOnly(), spec.direct(), spec.logicalBlockSize(),
                Aio.parse(spec.aio()), spec.queueSize());
        BlockBackend backend;
        try {
            backend = Backends.open(spec.backend(), options);
        } catch (RuntimeException e) {
            throw new DiskException(DiskException.Reason.BACKEND,
                    "disk " + spec.name() + ": cannot open backend " + spec.backend() + ": " + e.getMessage(), e);
        }
        DeviceMetrics metrics = null;
        VhostUserServer server = null;
        AFUNIXSocket connected = null;
        try {
            metrics = runtime.metrics().device(spec.name());
            VirtioBlkDevice device = new VirtioBlkDevice(backend,
                    new BlkOptions(spec.queues(), spec.queueSize(), spec.serial(), spec.readOnly()), metrics);
            switch (endpoint) {
                case Endpoint.Bind b -> {
                    server = VhostUserServer.bind(b.path());
                    // Only the owner and its group (the QEMU user's) may connect: a client can read
                    // and write the whole disk.
                    server.setPermissions(PosixFilePermissions.fromString("rw-rw----"));
                }
                case Endpoint.Inherited i -> server = VhostUserServer.adopt(i.fd());
                case Endpoint.Connected c -> connected = InheritedSockets.adoptConnected(c.fd());
            }
            if (server != null) {
                server.waitWith(runtime.readiness());
                server.label("disk " + spec.name());
            }
            return new Disk(spec, endpoint, runtime, backend, device, metrics, server, connected);
        } catch (IOException | RuntimeException e) {
            if (server != null) {
                server.close();
            }
            if (metrics != null) {
                runtime.metrics().remove(metrics);
            }
            backend.close();
            if (e instanceof DiskException d) {
                throw d;
            }
            DiskException.Reason reason = e instanceof IOException ? DiskException.Reason.SOCKET
                    : DiskException.Reason.INVALID_PARAMS;
            throw new DiskException(reason, "disk " + spec.name() + ": " + e.getMessage(), e);
        }
    }

    /** Starts serving front-ends on a virtual thread. */
    synchronized void start() {
        thread = Thread.ofVirtual().name("vhostd-disk-" + spec.name()).start(this::serve);
        LOG.log(Level.INFO, String.format("disk %s: serving %s (%d bytes, block size %d%s) on %s with %d queue(s)",
                spec.name(), backend.describe(), backend.capacity(), backend.blockSize(),
                device.readOnly() ? ", read-only" : "", where(), spec.queues()));
    }

    private void serve() {
        try {
            if (server != null) {
                server.serve(this::newSession);
            } else {
                VhostUserEngine engine = newSession();
                VhostUserConnection c = new VhostUserConnection(connectedSocket, engine, runtime.readiness(),
                        "disk " + spec.name());
                engine.attached(c::close);
                connection = c;
                c.run();
            }
        } catch (RuntimeException e) {
            LOG.log(Level.ERROR, "disk " + spec.name() + ": serving stopped by an internal error", e);
        } finally {
            session.set(null);
            connection = null;
        }
    }

    private VhostUserEngine newSession() {
        VhostUserEngine engine = new VhostUserEngine("disk " + spec.name(), device, runtime.pollers(), telemetry, telemetry);
        session.set(engine);
        return engine;
    }

    public String name() {
        return spec.name();
    }

    public DiskSpec spec() {
        return spec;
    }

    public Endpoint endpoint() {
        return endpoint;
    }

    /** The socket file, or null for an inherited socket without one. */
    public Path socketPath() {
        return switch (endpoint) {
            case Endpoint.Bind b -> b.path();
            default -> server != null ? server.socketPath() : null;
        };
    }

    public BlockBackend backend() {
        return backend;
    }

    public DeviceMetrics metrics() {
        return metrics;
    }

    /** The limits in force; pollers read this at batch boundaries (a volatile read). */
    public Limits limits() {
        return limits;
    }

    /** The accept loop, for health checks (see {@link dev.vhostd.protocol.poll.Liveness}); none for a connected fd. */
    public java.util.Optional<dev.vhostd.protocol.poll.Liveness> liveness() {
        return java.util.Optional.ofNullable(server);
    }

    /** Whether a front-end is attached right now. */
    public boolean attached() {
        return current() != null;
    }

    private VhostUserConnection current() {
        return server != null ? server.current() : connection;
    }

    /** True once a {@link Endpoint.Connected} disk's only session has ended. */
    public boolean finished() {
        Thread t = thread;
        return t != null && !t.isAlive();
    }

    /** Waits until serving has ended (a connected disk's session ended, or the disk was stopped). */
    public void awaitFinished() throws InterruptedException {
        Thread t;
        synchronized (this) {
            t = thread;
        }
        if (t != null) {
            t.join();
        }
    }

    /** The disk as {@code disk_get} reports it. */
    public DiskInfo info() {
        VhostUserConnection c = current();
        DeviceMetrics.Features f = metrics.features();
        VhostUserEngine engine = session.get();
        List<DiskInfo.Queue> queues = new ArrayList<>();
        if (engine != null) {
            for (VhostUserEngine.QueueState q : engine.queueStates()) {
                queues.add(new DiskInfo.Queue(q.index(), q.size(), q.running(), inFlight(q.index())));
            }
        } else {
            for (int i = 0; i < spec.queues(); i++) {
                queues.add(new DiskInfo.Queue(i, 0, false, 0));
            }
        }
        Path socket = socketPath();
        return new DiskInfo(spec.name(), socket != null ? socket.toString() : where(), spec.backend(),
                backend.capacity(), backend.blockSize(), device.readOnly(), c != null,
                c != null && c.peerPid() > 0 ? c.peerPid() : null,
                f == null ? List.of() : FeatureNames.virtio(f.features()),
                f == null ? List.of() : FeatureNames.protocol(f.protocolFeatures()), queues, limits);
    }

    private long inFlight(int index) {
        for (QueueMetrics q : metrics.queues()) {
            if (q.index() == index) {
                return q.inFlight();
            }
        }
        return 0;
    }

    private String where() {
        return switch (endpoint) {
            case Endpoint.Bind b -> b.path().toString();
            case Endpoint.Inherited i -> "inherited fd " + i.fd();
            case Endpoint.Connected c -> "connected fd " + c.fd();
        };
    }

    /**
     * Grows the disk to {@code newSize} bytes, or with 0 re-reads the size of storage grown
     * outside vhostd; returns the capacity now in force. Shrinking is refused (the guest would lose
     * the data past the new end).
     */
    public long resize(long newSize) {
        if (newSize < 0) {
            throw DiskException.invalid("size must be positive (bytes), or absent to re-read the backend's size");
        }
        long now;
        try {
            // Through the device: it updates config space and tells the attached front-end (guest).
            now = device.resize(newSize).after();
        } catch (IllegalArgumentException e) {
            throw DiskException.invalid("disk " + name() + ": " + e.getMessage());
        } catch (UnsupportedOperationException e) {
            throw new DiskException(DiskException.Reason.UNSUPPORTED, "disk " + name() + ": " + e.getMessage(), e);
        } catch (IOException e) {
            throw new DiskException(DiskException.Reason.BACKEND, "disk " + name() + ": resize failed: "
                    + e.getMessage(), e);
        }
        return now;
    }

    /** Publishes new limits; the rings pick them up at their next batch. */
    public void setLimits(Limits next) {
        limits = next;
        device.setLimits(next);
        LOG.log(Level.INFO, "disk " + name() + ": limits now " + (next.unlimited() ? "none" : next));
    }

    /**
     * Stops the disk: refused while a front-end is attached unless {@code force}. Closes the
     * connection (its rings complete and publish their in-flight requests first, as on any
     * disconnect), stops listening and removes the socket file, then flushes and closes the backend.
     */
    void stop(boolean force) {
        VhostUserConnection c = current();
        if (c != null && !force) {
            throw new DiskException(DiskException.Reason.BUSY, "disk " + name() + " has a front-end attached ("
                    + c.peer() + "); detach it from the VM first (QMP device_del), or remove with force,"
                    + " which cuts the guest off from the disk");
        }
        LOG.log(Level.INFO, "disk " + name() + ": stopping" + (c != null ? " (disconnecting " + c.peer() + ")" : ""));
        if (server != null) {
            server.close(); // completes and publishes the session's in-flight requests, then closes it
        } else if (c != null) {
            c.drainAndClose();
        }
        Thread t;
        synchronized (this) {
            t = thread;
        }
        if (t != null) {
            try {
                if (!t.join(java.time.Duration.ofMillis(STOP_WAIT_MS))) {
                    LOG.log(Level.WARNING, "disk " + name() + ": the session did not end within "
                            + STOP_WAIT_MS + " ms; closing the backend anyway");
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        backend.close();
        runtime.metrics().remove(metrics);
        LOG.log(Level.INFO, "disk " + name() + ": removed");
    }
}

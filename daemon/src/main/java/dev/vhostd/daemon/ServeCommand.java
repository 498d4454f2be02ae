package dev.vhostd.daemon;

import java.lang.System.Logger.Level;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;

import dev.vhostd.backend.Aio;
import dev.vhostd.backend.BackendOptions;
import dev.vhostd.backend.Backends;
import dev.vhostd.backend.BlockBackend;
import dev.vhostd.backend.Sizes;
import dev.vhostd.daemon.blk.BlkOptions;
import dev.vhostd.daemon.blk.VirtioBlkDevice;
import dev.vhostd.daemon.metrics.DeviceMetrics;
import dev.vhostd.daemon.metrics.MetricsAddress;
import dev.vhostd.daemon.metrics.MetricsAddressConverter;
import dev.vhostd.daemon.metrics.MetricsServer;
import dev.vhostd.daemon.metrics.VhostdMetrics;
import dev.vhostd.daemon.systemd.InheritedSockets;
import dev.vhostd.daemon.systemd.ListenFds;
import dev.vhostd.daemon.systemd.SdNotify;
import dev.vhostd.daemon.systemd.Watchdog;
import dev.vhostd.protocol.connection.VhostUserConnection;
import dev.vhostd.protocol.connection.VhostUserServer;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Optional;
import org.newsclub.net.unix.AFUNIXSocket;
import dev.vhostd.protocol.engine.VhostUserEngine;
import dev.vhostd.protocol.poll.Liveness;
import dev.vhostd.protocol.poll.PollerGroup;
import dev.vhostd.sys.Libc;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code vhostd serve}: export one disk on one vhost-user socket. */
@Command(name = "serve", mixinStandardHelpOptions = true, versionProvider = Version.class,
        description = {"Serve a virtio-blk disk over a vhost-user socket.",
                "Attach QEMU with: -object memory-backend-memfd,id=mem,size=1G,share=on -numa node,memdev=mem "
                        + "-chardev socket,id=c0,path=SOCKET,reconnect=1 -device vhost-user-blk-pci,chardev=c0,num-queues=N"})
public final class ServeCommand implements Callable<Integer> {
    private static final System.Logger LOG = System.getLogger("vhostd");
    /** How long a poller or the accept loop may spend in one step when no watchdog interval says otherwise. */
    static final Duration DEFAULT_STALL_LIMIT = Duration.ofSeconds(30);

    @Option(names = {"--socket", "--socket-path"}, paramLabel = "PATH",
            description = "UNIX socket to listen on (created; removed on exit).")
    Path socket;

    @Option(names = "--fd", paramLabel = "N",
            description = "Serve an inherited listening socket fd instead of --socket (QEMU and systemd conventions).")
    Integer fd;

    @Option(names = "--backend", paramLabel = "URI", defaultValue = "memory:1G",
            description = "Storage: file:PATH, memory:SIZE, null:SIZE[,latency=DURATION] or rbd:POOL/IMAGE[@SNAP][,conf=PATH,id=USER,...] (default: ${DEFAULT-VALUE}).")
    String backend;

    @Option(names = "--blk-file", paramLabel = "PATH",
            description = "Same as --backend file:PATH (vhost-user.rst backend convention).")
    Path blkFile;

    @Option(names = "--size", paramLabel = "SIZE", description = "Create the file backend with this size if missing (512M, 10G).")
    String size;

    @Option(names = "--queues", paramLabel = "N", defaultValue = "1", description = "Number of virtqueues (default: ${DEFAULT-VALUE}).")
    int queues;

    @Option(names = "--queue-size", paramLabel = "N", defaultValue = "1024",
            description = "Largest ring size accepted from the front-end (default: ${DEFAULT-VALUE}).")
    int queueSize;

    @Option(names = "--read-only", description = "Export read-only.")
    boolean readOnly;

    @Option(names = "--direct", description = "Open the file backend with O_DIRECT (bypass the page cache).")
    boolean direct;

    @Option(names = "--aio", paramLabel = "ENGINE", defaultValue = "auto",
            description = "File I/O engine: auto (io_uring, with page-cache reads/writes the file system cannot start "
                    + "without blocking run on the poller), io_uring (everything through the ring) or sync "
                    + "(default: ${DEFAULT-VALUE}).")
    String aio;

    @Option(names = "--serial", paramLabel = "ID", defaultValue = "", description = "Serial reported to the guest (max 20 bytes).")
    String serial;

    @Option(names = "--logical-block-size", paramLabel = "512|4096",
            description = "Logical block size (default: the device's, or 512 for files).")
    Integer logicalBlockSize;

    @Option(names = "--pollers", paramLabel = "N", description = "Poller threads (default: one per queue, up to the CPU count).")
    Integer pollers;

    @Option(names = "--poll-us", paramLabel = "N", defaultValue = "50",
            description = "Busy-poll this long before sleeping on kicks (default: ${DEFAULT-VALUE}).")
    long pollUs;

    @Option(names = "--metrics", paramLabel = "HOST:PORT", converter = MetricsAddressConverter.class,
            description = "Serve Prometheus /metrics and /healthz here (off by default; a bare port binds localhost).")
    MetricsAddress metrics;

    @Option(names = "--print-capabilities", description = "Print the vhost-user backend capabilities as JSON and exit.")
    boolean printCapabilities;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        if (printCapabilities) {
            System.out.println(Capabilities.json());
            return 0;
        }
        ListenFds passed = ListenFds.fromEnvironment();
        if (socket == null && fd == null && !passed.isEmpty()) {
            fd = passed.select("vhostd").fd(); // socket activation without --fd
        } else if (fd != null && !passed.isEmpty() && !passed.contains(fd)) {
            throw new CommandLine.ParameterException(spec.commandLine(),
                    "--fd " + fd + " is not among the sockets systemd passed " + passed.fds());
        }
        validate();
        boolean listening = true;
        if (fd != null) {
            InheritedSockets.checkUnixStream(fd);
            listening = InheritedSockets.isListening(fd);
        }
        String uri = blkFile != null ? "file:" + blkFile : backend;
        BackendOptions backendOptions = new BackendOptions(size == null ? 0 : Sizes.parse(size), readOnly, direct,
                logicalBlockSize == null ? 0 : logicalBlockSize, Aio.parse(aio), queueSize);
        BlockBackend storage = Backends.open(uri, backendOptions);
        BlkOptions blk = new BlkOptions(queues, queueSize, serial, readOnly);
        String name = socket != null ? socket.getFileName().toString() : "fd" + fd;
        int pollerCount = pollers != null ? pollers : Math.min(queues, Runtime.getRuntime().availableProcessors());
        AtomicBoolean serving = new AtomicBoolean();
        AtomicReference<VhostUserEngine> session = new AtomicReference<>();
        // What health means: serving, and the accept loop and every poller alive and not stuck in
        // one step longer than the watchdog interval (or DEFAULT_STALL_LIMIT without a watchdog).
        List<Liveness> watched = new CopyOnWriteArrayList<>();
        DaemonHealth health = new DaemonHealth(serving::get, () -> watched,
                Watchdog.interval(System.getenv(), Libc.getpid()).orElse(DEFAULT_STALL_LIMIT));
        try (storage;
                VhostdMetrics registry = metrics != null ? VhostdMetrics.enabled() : VhostdMetrics.disabled();
                PollerGroup group = new PollerGroup("vhostd", pollerCount, pollUs);
                SdNotify notify = SdNotify.fromEnvironment();
                VhostUserServer server = !listening ? null
                        : fd != null ? VhostUserServer.adopt(fd) : VhostUserServer.bind(socket);
                MetricsServer endpoint = metrics != null ? MetricsServer.start(metrics, registry, health) : null) {
            watched.addAll(group.liveness());
            if (server != null) {
                watched.add(server);
            }
            DeviceMetrics deviceMetrics = registry.device(name);
            deviceMetrics.guestMemoryMapped(() -> {
                VhostUserEngine e = session.get();
                return e == null ? 0 : e.memory().mappedBytes();
            });
            DeviceTelemetry telemetry = new DeviceTelemetry(deviceMetrics);
            VirtioBlkDevice device = new VirtioBlkDevice(storage, blk, deviceMetrics);
            // SIGTERM/SIGINT: stop accepting, end the session (its rings drain their in-flight
            // requests), then fall out of serve() so the backend is flushed and closed and we exit 0.
            if (socket != null) {
                // Only the owner and its group (the QEMU user's) may connect: a client can read and
                // write the whole disk.
                server.setPermissions(PosixFilePermissions.fromString("rw-rw----"));
            }
            if (!listening) {
                // libvirt-style --fd: one already connected front-end, served once.
                serveConnected(fd, name, device, group, telemetry, notify);
                return 0;
            }
            // Serving from here on: the watchdog's first check must not see a daemon still starting.
            serving.set(true);
            Optional<Watchdog> watchdog = Watchdog.startFromEnvironment(notify, health::serving);
            Runnable stop = () -> {
                LOG.log(Level.INFO, "shutting down: finishing in-flight requests");
                watchdog.ifPresent(Watchdog::close);
                notify.stopping();
                serving.set(false);
                server.close();
            };
            StopSignals.install(stop);
            LOG.log(Level.INFO, String.format("serving %s (%d bytes, block size %d%s) on %s with %d queue(s), %d poller(s)",
                    storage.describe(), storage.capacity(), storage.blockSize(), blk.readOnly() ? ", read-only" : "",
                    socket != null ? socket : "fd " + fd, queues, pollerCount));
            if (endpoint != null) {
                LOG.log(Level.INFO, "metrics on http://" + endpoint.address().getHostString() + ":"
                        + endpoint.address().getPort() + "/metrics");
            }
            notify.ready("serving " + storage.describe() + " on " + (socket != null ? socket : "fd " + fd));
            try {
                server.serve(() -> {
                    VhostUserEngine engine = new VhostUserEngine(name, device, group, telemetry, telemetry);
                    session.set(engine);
                    return engine;
                });
            } finally {
                serving.set(false);
                session.set(null);
            }
        }
        LOG.log(Level.INFO, "stopped");
        return 0;
    }

    private static void serveConnected(int fd, String name, VirtioBlkDevice device, PollerGroup group,
            DeviceTelemetry telemetry, SdNotify notify) throws java.io.IOException {
        AFUNIXSocket connected = InheritedSockets.adoptConnected(fd);
        VhostUserEngine engine = new VhostUserEngine(name, device, group, telemetry, telemetry);
        VhostUserConnection connection = new VhostUserConnection(connected, engine);
        engine.attached(connection::close);
        StopSignals.install(connection::close);
        notify.ready("serving a connected front-end on fd " + fd);
        connection.run();
    }

    private void validate() {
        if ((socket == null) == (fd == null)) {
            throw new CommandLine.ParameterException(spec.commandLine(),
                    "give exactly one of --socket PATH or --fd N");
        }
        if (logicalBlockSize != null && logicalBlockSize != 512 && logicalBlockSize != 4096) {
            throw new CommandLine.ParameterException(spec.commandLine(),
                    "--logical-block-size must be 512 or 4096, got " + logicalBlockSize);
        }
        if (pollUs < 0) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--poll-us must not be negative");
        }
    }
}

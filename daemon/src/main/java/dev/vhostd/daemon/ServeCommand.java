package dev.vhostd.daemon;

import java.lang.System.Logger.Level;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;

import dev.vhostd.backend.Sizes;
import dev.vhostd.daemon.control.ControlApi;
import dev.vhostd.daemon.control.ControlServer;
import dev.vhostd.daemon.blk.BlkOptions;
import dev.vhostd.protocol.connection.VhostUserServer;
import dev.vhostd.daemon.disk.ConfigFile;
import dev.vhostd.daemon.disk.Disk;
import dev.vhostd.daemon.disk.DiskRegistry;
import dev.vhostd.daemon.disk.DiskRuntime;
import dev.vhostd.daemon.disk.DiskSpec;
import dev.vhostd.daemon.metrics.MetricsAddress;
import dev.vhostd.daemon.metrics.MetricsAddressConverter;
import dev.vhostd.daemon.metrics.MetricsServer;
import dev.vhostd.daemon.metrics.VhostdMetrics;
import dev.vhostd.daemon.systemd.InheritedSockets;
import dev.vhostd.daemon.systemd.ListenFds;
import dev.vhostd.daemon.systemd.SdNotify;
import dev.vhostd.daemon.systemd.Watchdog;
import dev.vhostd.protocol.connection.Readiness;
import dev.vhostd.protocol.poll.Liveness;
import dev.vhostd.protocol.poll.PollerGroup;
import dev.vhostd.sys.Libc;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code vhostd serve}: export disks on vhost-user sockets: one from the command line, any number
 * from {@code --config} and through the control API, all through one {@link DiskRegistry}.
 */
@Command(name = "serve", mixinStandardHelpOptions = true, versionProvider = Version.class,
        description = {"Serve virtio-blk disks over vhost-user sockets: one from --socket/--fd and the disk options,"
                + " more from --config FILE and the control API (--control PATH, see 'vhostd ctl').",
                "Attach QEMU with: -object memory-backend-memfd,id=mem,size=1G,share=on -numa node,memdev=mem "
                        + "-chardev socket,id=c0,path=SOCKET,reconnect=1 -device vhost-user-blk-pci,chardev=c0,num-queues=N"})
public final class ServeCommand implements Callable<Integer> {
    private static final System.Logger LOG = System.getLogger("vhostd");
    /** How long a poller or an accept loop may spend in one step when no watchdog interval says otherwise. */
    static final Duration DEFAULT_STALL_LIMIT = Duration.ofSeconds(30);

    @Option(names = "--name", paramLabel = "NAME",
            description = "Name of the disk given by --socket/--fd, in metrics, logs and the API (default: the socket's"
                    + " file name without .sock; the systemd unit passes its instance name).")
    String name;

    @Option(names = {"--socket", "--socket-path"}, paramLabel = "PATH",
            description = "UNIX socket to listen on (created; removed on exit).")
    Path socket;

    @Option(names = "--fd", paramLabel = "N",
            description = "Serve an inherited listening socket fd instead of --socket (QEMU and systemd conventions).")
    Integer fd;

    /** What serves when neither --backend nor --blk-file is given. */
    static final String DEFAULT_BACKEND = "memory:1G";

    @Option(names = "--backend", paramLabel = "URI",
            description = "Storage: file:PATH, memory:SIZE, null:SIZE[,latency=DURATION] or rbd:POOL/IMAGE[@SNAP][,conf=PATH,id=USER,...] (default: " + DEFAULT_BACKEND + ").")
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

    @Option(names = "--pollers", paramLabel = "N",
            description = "Poller threads shared by all disks' rings (default: the CPU count).")
    Integer pollers;

    @Option(names = "--poll-contention", paramLabel = "keep|yield", defaultValue = "keep",
            description = "When a poller is preempted while polling: keep polling, or yield (stop polling for"
                    + " 100 ms to 3.2 s, for hosts whose cores all belong to guest vCPUs) (default: ${DEFAULT-VALUE}).")
    String pollContention;

    @Option(names = "--queue-placement", paramLabel = "disk|ring", defaultValue = "disk",
            converter = QueuePlacementConverter.class,
            description = "Where a multi-queue disk's rings run: disk (all on one poller, as qemu-storage-daemon"
                    + " and SPDK do; the guest's vCPUs keep the other cores) or ring (each on the least loaded"
                    + " poller, for one disk that needs more than a core) (default: ${DEFAULT-VALUE}).")
    PollerGroup.Placement queuePlacement;

    @Option(names = "--poll-us", paramLabel = "N", defaultValue = "50",
            description = "Busy-poll this long before sleeping on kicks (default: ${DEFAULT-VALUE}).")
    long pollUs;

    @Option(names = "--config", paramLabel = "FILE",
            description = "Serve the disks listed in FILE ({\"disks\": [...]}, as written by 'vhostd ctl config save').")
    Path config;

    @Option(names = "--control", paramLabel = "PATH",
            description = "Answer the JSON-RPC control API on this UNIX socket (mode 0600; see 'vhostd ctl').")
    Path control;

    @Option(names = "--control-group", paramLabel = "GROUP",
            description = "Let members of GROUP use the control socket too (mode 0660).")
    String controlGroup;

    @Option(names = "--metrics", paramLabel = "HOST:PORT", converter = MetricsAddressConverter.class,
            description = "Serve Prometheus /metrics and /healthz here (off by default; a bare port binds localhost).")
    MetricsAddress metrics;

    @Option(names = "--metrics-recording", paramLabel = "on|off", defaultValue = "on",
            description = "off: count nothing per request (no --metrics then); only for measuring what recording costs"
                    + " (bench/metrics-cost.sh). Default: ${DEFAULT-VALUE}.")
    String metricsRecording;

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
        // From the first moment: a SIGHUP that arrives while sockets are being bound must not kill us.
        StopSignals.ignoreHangup();
        ListenFds passed = ListenFds.fromEnvironment();
        if (socket == null && fd == null && !passed.isEmpty()) {
            fd = passed.select("vhostd").fd(); // socket activation without --fd
        } else if (fd != null && !passed.isEmpty() && !passed.contains(fd)) {
            throw new CommandLine.ParameterException(spec.commandLine(),
                    "--fd " + fd + " is not among the sockets systemd passed " + passed.fds());
        }
        validate();
        if (socket != null || fd != null) {
            // The flags' disk is checked, naming the flags, before anything is created or bound.
            new BlkOptions(queues, queueSize, serial, readOnly);
            if (socket != null) {
                VhostUserServer.checkPathLength(socket.toAbsolutePath());
            }
        }
        Disk.Endpoint endpoint = null;
        if (fd != null) {
            InheritedSockets.checkUnixStream(fd);
            endpoint = InheritedSockets.isListening(fd) ? new Disk.Endpoint.Inherited(fd) : new Disk.Endpoint.Connected(fd);
        } else if (socket != null) {
            endpoint = new Disk.Endpoint.Bind(socket.toAbsolutePath().normalize());
        }
        ConfigFile configured = config != null ? ConfigFile.read(config) : null;
        int pollerCount = pollers != null ? pollers : Runtime.getRuntime().availableProcessors();
        AtomicBoolean serving = new AtomicBoolean();
        CountDownLatch stopRequested = new CountDownLatch(1);
        // What health means: serving, and every poller and every disk's accept loop alive and not
        // stuck in one step longer than the watchdog interval (or DEFAULT_STALL_LIMIT without one).
        DiskRegistry[] registered = new DiskRegistry[1];
        PollerGroup[] pool = new PollerGroup[1];
        DaemonHealth health = new DaemonHealth(serving::get, () -> {
            List<Liveness> watched = new ArrayList<>(pool[0] == null ? List.of() : pool[0].liveness());
            if (registered[0] != null) {
                for (Disk d : registered[0].list()) {
                    d.liveness().ifPresent(watched::add);
                }
            }
            return watched;
        }, Watchdog.interval(System.getenv(), Libc.getpid()).orElse(DEFAULT_STALL_LIMIT));
        try (VhostdMetrics registry = metrics != null ? VhostdMetrics.enabled()
                        : "off".equals(metricsRecording) ? VhostdMetrics.notRecording() : VhostdMetrics.disabled();
                PollerGroup group = new PollerGroup("vhostd", pollerCount, pollUs, queuePlacement,
                        "yield".equals(pollContention));
                Readiness readiness = new Readiness("vhostd-sockets");
                SdNotify notify = SdNotify.fromEnvironment();
                DiskRegistry disks = new DiskRegistry(new DiskRuntime(group, readiness, registry));
                MetricsServer endpointServer = metrics != null ? MetricsServer.start(metrics, registry, health) : null) {
            pool[0] = group;
            registry.pollers(group.pollers());
            registered[0] = disks;
            Disk flagDisk = null;
            if (endpoint != null) {
                flagDisk = disks.add(flagSpec(endpoint), size == null ? 0 : Sizes.parse(size), endpoint);
            }
            if (configured != null) {
                for (DiskSpec d : configured.disks()) {
                    disks.add(d);
                }
                LOG.log(Level.INFO, "added " + configured.disks().size() + " disk(s) from " + config);
            }
            ControlServer controlServer = control != null
                    ? ControlServer.start(control.toAbsolutePath(), controlGroup, new ControlApi(disks)) : null;
            try {
                // Logged once everything the command line asked for is set up, so that an operator
                // error before this point stays the one line that explains it.
                LOG.log(Level.INFO, "vhostd " + Version.get() + " starting (Java " + Runtime.version() + ")");
                // Serving from here on: the watchdog's first check must not see a daemon still starting.
                serving.set(true);
                Optional<Watchdog> watchdog = Watchdog.startFromEnvironment(notify, health::serving);
                // SIGTERM/SIGINT: stop accepting, complete and publish each session's in-flight requests,
                // then close the sessions, flush and close the backends, and exit 0.
                StopSignals.install(() -> {
                    LOG.log(Level.INFO, "shutting down: finishing in-flight requests");
                    watchdog.ifPresent(Watchdog::close);
                    notify.stopping();
                    serving.set(false);
                    stopRequested.countDown();
                });
                LOG.log(Level.INFO, String.format("vhostd %s serving %d disk(s) with %d poller(s)", Version.get(),
                        disks.size(), pollerCount));
                if ("off".equals(metricsRecording)) {
                    LOG.log(Level.WARNING, "metrics recording is off (--metrics-recording off): nothing is counted;"
                            + " meant only for measuring what recording costs");
                }
                if (endpointServer != null) {
                    LOG.log(Level.INFO, "metrics on http://" + endpointServer.address().getHostString() + ":"
                            + endpointServer.address().getPort() + "/metrics");
                }
                notify.ready("serving " + disks.size() + " disk(s)" + (flagDisk != null ? ": " + flagDisk.name() : ""));
                if (flagDisk != null && endpoint instanceof Disk.Endpoint.Connected && controlServer == null) {
                    // libvirt-style --fd: one already connected front-end, served once; then exit.
                    Disk once = flagDisk;
                    Thread.ofVirtual().start(() -> {
                        try {
                            once.awaitFinished();
                        } catch (InterruptedException e) {
                            Thread.currentThread().interrupt();
                        }
                        stopRequested.countDown();
                    });
                }
                stopRequested.await();
            } finally {
                serving.set(false);
                if (controlServer != null) {
                    controlServer.close();
                }
            }
        }
        LOG.log(Level.INFO, "stopped");
        return 0;
    }

    /** The disk the command line describes. */
    private DiskSpec flagSpec(Disk.Endpoint endpoint) {
        String uri = blkFile != null ? "file:" + blkFile : backend != null ? backend : DEFAULT_BACKEND;
        String diskName = name != null ? name : defaultName();
        String path = endpoint instanceof Disk.Endpoint.Bind b ? b.path().toString() : null;
        return new DiskSpec(diskName, path, uri, queues, queueSize, readOnly, serial,
                logicalBlockSize == null ? 0 : logicalBlockSize, direct, aio);
    }

    /** "disk1" for --socket /run/vhostd/disk1.sock; "disk0" for an inherited socket without --name. */
    private String defaultName() {
        if (socket != null) {
            String file = socket.getFileName().toString();
            String stem = file.endsWith(".sock") ? file.substring(0, file.length() - ".sock".length()) : file;
            if (DiskSpec.validName(stem)) {
                return stem;
            }
        }
        return "disk0";
    }

    private void validate() {
        if (socket != null && fd != null) {
            throw new CommandLine.ParameterException(spec.commandLine(),
                    "give at most one of --socket PATH or --fd N");
        }
        if (socket == null && fd == null && config == null && control == null) {
            throw new CommandLine.ParameterException(spec.commandLine(),
                    "nothing to serve: give --socket PATH or --fd N (one disk), --config FILE, or --control PATH"
                            + " (disks added through the API)");
        }
        if (name != null && !DiskSpec.validName(name)) {
            throw new CommandLine.ParameterException(spec.commandLine(),
                    "--name must be 1 to 64 characters from A-Z a-z 0-9 . _ -, got \"" + name + "\"");
        }
        if (logicalBlockSize != null && logicalBlockSize != 512 && logicalBlockSize != 4096) {
            throw new CommandLine.ParameterException(spec.commandLine(),
                    "--logical-block-size must be 512 or 4096, got " + logicalBlockSize);
        }
        if (blkFile != null && backend != null) {
            throw new CommandLine.ParameterException(spec.commandLine(),
                    "give either --backend " + backend + " or --blk-file " + blkFile + ", not both");
        }
        if (pollUs < 0) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--poll-us must not be negative");
        }
        if (!"keep".equals(pollContention) && !"yield".equals(pollContention)) {
            throw new CommandLine.ParameterException(spec.commandLine(),
                    "--poll-contention takes keep or yield, not '" + pollContention + "'");
        }
        if (pollers != null && pollers < 1) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--pollers must be at least 1");
        }
        if (!"on".equals(metricsRecording) && !"off".equals(metricsRecording)) {
            throw new CommandLine.ParameterException(spec.commandLine(),
                    "--metrics-recording must be on or off, got \"" + metricsRecording + "\"");
        }
        if ("off".equals(metricsRecording) && metrics != null) {
            throw new CommandLine.ParameterException(spec.commandLine(),
                    "--metrics-recording off counts nothing, so --metrics " + metrics + " would serve only zeroes;"
                            + " give one of the two");
        }
    }

    /** "disk" or "ring", as the option's help writes them. */
    static final class QueuePlacementConverter implements CommandLine.ITypeConverter<PollerGroup.Placement> {
        @Override
        public PollerGroup.Placement convert(String value) {
            for (PollerGroup.Placement p : PollerGroup.Placement.values()) {
                if (p.name().equalsIgnoreCase(value)) {
                    return p;
                }
            }
            throw new CommandLine.TypeConversionException("--queue-placement takes disk or ring, not '" + value + "'");
        }
    }
}

package dev.vhostd.daemon.bench;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;

import dev.vhostd.daemon.Version;
import dev.vhostd.protocol.frontend.FrontendException;
import dev.vhostd.protocol.frontend.VhostUserBlkFrontend;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code vhostd bench}: a vhost-user-blk front-end load generator. It plays QEMU's part against
 * any vhost-user-blk back-end (vhostd, qemu-storage-daemon, SPDK), keeps a fixed number of
 * requests in flight per queue and reports IOPS, latency percentiles, notifications per request and
 * the back-end's CPU time per request.
 */
@Command(name = "bench", mixinStandardHelpOptions = true, versionProvider = Version.class,
        description = {"Load-test a vhost-user-blk back-end by acting as its front-end (QEMU's role).",
                "Progress goes to stderr each second; the summary and a final 'RESULT k=v ...' line (or JSON with --json) to stdout.",
                "Exit status: 0 ok, 1 request errors, verify mismatches or a failure, 2 bad options."})
public final class BenchCommand implements Callable<Integer> {
    @Option(names = "--socket", paramLabel = "PATH", required = true, description = "The back-end's vhost-user socket.")
    Path socket;

    @Option(names = "--queues", paramLabel = "N", defaultValue = "1", description = "Queues to drive (default: ${DEFAULT-VALUE}).")
    int queues;

    @Option(names = "--depth", paramLabel = "D", defaultValue = "32", description = "Requests in flight per queue (default: ${DEFAULT-VALUE}).")
    int depth;

    @Option(names = "--bs", paramLabel = "SIZE", defaultValue = "4k", description = "Request size, a multiple of 512 (default: ${DEFAULT-VALUE}).")
    String blockSize;

    @Option(names = "--rw", paramLabel = "MODE", defaultValue = "randread",
            description = "randread, randwrite, randrw, read or write (default: ${DEFAULT-VALUE}).")
    RwMode rw;

    @Option(names = "--rwmixread", paramLabel = "PCT", defaultValue = "50", description = "Read share for randrw in percent (default: ${DEFAULT-VALUE}).")
    int readPercent;

    @Option(names = "--seconds", paramLabel = "S", defaultValue = "10", description = "Measured duration (default: ${DEFAULT-VALUE}).")
    double seconds;

    @Option(names = "--ramp", paramLabel = "S", defaultValue = "2",
            description = "Minimum unmeasured warm-up before the measured interval (default: ${DEFAULT-VALUE}).")
    double ramp;

    @Option(names = "--ramp-max", paramLabel = "S", defaultValue = "20",
            description = "Past --ramp, keep warming up while IOPS still rise by more than 5%% per second, up to this "
                    + "long (JIT of both sides; default: ${DEFAULT-VALUE}; at or below --ramp: fixed warm-up).")
    double rampMax;

    @Option(names = "--event-idx", paramLabel = "on|off", defaultValue = "on",
            description = "Negotiate VIRTIO_RING_F_EVENT_IDX (default: ${DEFAULT-VALUE}).")
    String eventIdx;

    @Option(names = "--verify", description = "Write a pattern derived from (sector, generation) and check every read; "
            + "read workloads first write the whole range. Exits 1 on any mismatch.")
    boolean verify;

    @Option(names = "--poll-us", paramLabel = "US", defaultValue = "0",
            description = "Busy-poll the used rings this long before sleeping on the call eventfds (default: ${DEFAULT-VALUE}: interrupt-driven like a guest).")
    long pollMicros;

    @Option(names = "--size", paramLabel = "SIZE", description = "Address only the first SIZE bytes of the disk (default: all of it).")
    String range;

    @Option(names = "--queue-size", paramLabel = "N", defaultValue = "0",
            description = "Ring size (default: the smallest power of two >= 128 holding 3 x depth descriptors).")
    int queueSize;

    @Option(names = "--backend-pid", paramLabel = "PID",
            description = "Process whose CPU time is reported (default: the socket peer, from SO_PEERCRED).")
    Long backendPid;

    @Option(names = "--dirty-log", description = "Measure with dirty-page logging on, as during a live migration:"
            + " SET_LOG_BASE, VHOST_F_LOG_ALL and VHOST_VRING_F_LOG, and the bitmap taken and cleared every 100 ms"
            + " like QEMU's migration thread does.")
    boolean dirtyLog;

    @Option(names = "--json", description = "Print the result as one JSON object instead of the summary and RESULT line.")
    boolean json;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        BenchConfig config;
        try {
            boolean ei = switch (eventIdx) {
                case "on" -> true;
                case "off" -> false;
                default -> throw new IllegalArgumentException("--event-idx must be on or off, got " + eventIdx);
            };
            config = new BenchConfig(socket, queues, depth, Math.toIntExact(dev.vhostd.backend.Sizes.parse(blockSize)), rw,
                    readPercent, seconds, ramp, rampMax, ei, verify, pollMicros, range == null ? 0 : dev.vhostd.backend.Sizes.parse(range),
                    queueSize, backendPid == null ? 0 : backendPid);
        } catch (IllegalArgumentException | ArithmeticException e) {
            throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage());
        }
        PrintWriter err = spec.commandLine().getErr();
        PrintWriter out = spec.commandLine().getOut();
        VhostUserBlkFrontend.Options options = new VhostUserBlkFrontend.Options(config.queues(),
                config.effectiveQueueSize(), config.eventIdx(), BenchRunner.bufferBytes(config));
        BenchResult result;
        try (VhostUserBlkFrontend device = VhostUserBlkFrontend.open(config.socket(), options)) {
            long pid = config.backendPid() > 0 ? config.backendPid() : device.connection().peerPid();
            err.printf("connected to %s: %d bytes, %d queue(s) offered, features 0x%x, back-end pid %d%n", config.socket(),
                    device.capacityBytes(), device.backendQueues(), device.features(), pid);
            err.flush();
            if (dirtyLog) {
                try (var log = device.startDirtyLogging(); var syncer = new DirtyLogSyncer(log)) {
                    err.printf("dirty-page logging on: %d bytes of bitmap%n", log.sizeBytes());
                    result = new BenchRunner(device, config, pid, err).run();
                    err.printf("dirty pages taken: %d%n", syncer.pages());
                }
            } else {
                result = new BenchRunner(device, config, pid, err).run();
            }
        } catch (IOException | FrontendException | IllegalArgumentException | IllegalStateException e) {
            // Operator-facing failures (no back-end, refused negotiation, a back-end that stops answering):
            // one line that says what happened, no stack trace.
            err.println("vhostd bench: " + e.getMessage());
            err.flush();
            return 1;
        }
        out.print(json ? result.json() + System.lineSeparator() : result.summary() + result.resultLine()
                + System.lineSeparator());
        out.flush();
        return result.errors() > 0 || result.mismatches() > 0 ? 1 : 0;
    }

    /** Runs the bench on its own (the vhostd launcher reaches it as {@code vhostd bench}). */
    public static void main(String[] args) {
        System.exit(new CommandLine(new BenchCommand()).setCaseInsensitiveEnumValuesAllowed(true).execute(args));
    }
}

package dev.vhostd.daemon.bench;

import java.io.IOException;
import java.io.PrintWriter;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import dev.vhostd.daemon.Version;
import dev.vhostd.daemon.ctl.ControlClient;
import dev.vhostd.protocol.frontend.VhostUserBlkFrontend;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * What many disks cost one daemon. Starts {@code vhostd serve --control} as a child process, adds
 * disks through the control API and attaches an idle front-end (rings started, no I/O) to each,
 * then measures the daemon: resident memory, threads, CPU while idle, heap per added disk; and the
 * IOPS of one busy disk among the idle ones against the same disk alone in the same daemon,
 * alternating the two, so that machine noise shows in the rounds.
 */
@Command(name = "bench-density", mixinStandardHelpOptions = true, versionProvider = Version.class,
        description = "Measure one daemon with many idle disks: RSS, threads, idle CPU, heap per disk, and one busy "
                + "disk among idle ones against it alone.")
public final class DensityCommand implements Callable<Integer> {
    @Option(names = "--disks", paramLabel = "N", defaultValue = "64", description = "Disks (default: ${DEFAULT-VALUE}).")
    int disks;

    @Option(names = "--pollers", paramLabel = "N", description = "Passed to serve (default: serve's, the CPU count).")
    Integer pollers;

    @Option(names = "--idle-seconds", paramLabel = "S", defaultValue = "30",
            description = "CPU is measured over this idle window (default: ${DEFAULT-VALUE}).")
    int idleSeconds;

    @Option(names = "--io-seconds", paramLabel = "S", defaultValue = "10",
            description = "Each busy-disk run (default: ${DEFAULT-VALUE}).")
    double ioSeconds;

    @Option(names = "--rounds", paramLabel = "N", defaultValue = "2",
            description = "Among-idle / alone pairs (default: ${DEFAULT-VALUE}).")
    int rounds;

    @Option(names = "--java-opts", paramLabel = "OPTS", defaultValue = "-XX:+UseSerialGC -XX:+UnlockDiagnosticVMOptions -XX:AsyncDeflationInterval=10000"
            + " -XX:GuaranteedSafepointInterval=10000",
            description = "JVM options for the daemon, space separated (default: ${DEFAULT-VALUE}, as the vhostd launcher runs it).")
    String javaOpts;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    private Path dir;
    private Process daemon;
    private ControlClient client;
    private final List<VhostUserBlkFrontend> idle = new ArrayList<>();
    /** Pause after disks came or went, before a measured run. */
    private static final long SETTLE_MILLIS = 2000;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        if (disks < 2 || disks > 1000) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--disks must be 2..1000");
        }
        dir = Files.createTempDirectory("vhostd-density");
        Path control = dir.resolve("control.sock");
        int port = freePort();
        List<String> cmd = new ArrayList<>(List.of(ProcessHandle.current().info().command().orElse("java"),
                "--enable-native-access=ALL-UNNAMED"));
        for (String o : javaOpts.split(" ")) {
            if (!o.isBlank()) {
                cmd.add(o);
            }
        }
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), "dev.vhostd.daemon.Main", "serve",
                "--control", control.toString(), "--metrics", "127.0.0.1:" + port));
        if (pollers != null) {
            cmd.addAll(List.of("--pollers", pollers.toString()));
        }
        daemon = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(dir.resolve("vhostd.log").toFile()).start();
        try {
            awaitFile(control, Duration.ofSeconds(120));
            client = new ControlClient(control);
            long pid = daemon.pid();
            out.printf("vhostd pid %d, %d disk(s), %d CPU(s), load average %s%n", pid, disks,
                    Runtime.getRuntime().availableProcessors(), Files.readString(Path.of("/proc/loadavg")).strip());
            out.flush();

            for (int i = 0; i < disks; i++) {
                addAndAttach(i);
            }
            Thread.sleep(5_000); // let start-up work (JIT, logging) settle
            long rss = statusKb(pid, "VmRSS") * 1024;
            long threads = statusKb(pid, "Threads");
            int pollerCount = client.call("daemon_get", null).get("pollers").asInt();
            long cpu0 = cpuTicks(pid);
            long t0 = System.nanoTime();
            Thread.sleep(idleSeconds * 1000L);
            long cpu1 = cpuTicks(pid);
            double wall = (System.nanoTime() - t0) / 1e9;
            double cpuPercent = 100.0 * (cpu1 - cpu0) / ticksPerSecond() / wall;
            long threadsAfter = statusKb(pid, "Threads");
            String threadNames = threadNames(pid);
            // Heap per added disk: after the above (jcmd adds an attach thread), with full GCs
            // before and after adding as many disks again, each with its front-end.
            double heapBefore = heapAfterGc(pid, port);
            for (int i = disks; i < 2 * disks; i++) {
                addAndAttach(i);
            }
            double heapAfter = heapAfterGc(pid, port);
            double heapPerDisk = (heapAfter - heapBefore) / disks;
            for (int i = 2 * disks - 1; i >= disks; i--) {
                idle.remove(i).close();
                ObjectNode p = client.params();
                p.put("name", "d" + i);
                p.put("force", true);
                client.call("disk_remove", p);
            }

            out.printf(Locale.ROOT, "%d disks, each with an attached front-end and idle rings (daemon JVM options: %s):%n",
                    disks, javaOpts.isBlank() ? "none" : javaOpts);
            out.printf(Locale.ROOT, "  RSS              %.1f MB (target <= 250)%n", rss / 1e6);
            out.printf(Locale.ROOT, "  threads          %d, then %d after %d s idle (pollers %d; target <= pollers + 24 = %d)%n",
                    threads, threadsAfter, idleSeconds, pollerCount, pollerCount + 24);
            out.printf(Locale.ROOT, "  thread names     %s%n", threadNames);
            out.printf(Locale.ROOT, "  CPU idle         %.3f%% of a core over %.0f s (target < 1%%)%n", cpuPercent, wall);
            out.printf(Locale.ROOT, "  heap per disk    %.1f KB (%.1f MB with %d disks, %.1f MB with %d, after full GCs; target < 1024 KB)%n",
                    heapPerDisk / 1e3, heapBefore / 1e6, disks, heapAfter / 1e6, 2 * disks);
            out.flush();

            // One busy disk: the last one, whose idle front-end makes way for the bench.
            String busy = "d" + (disks - 1);
            Path busySocket = dir.resolve(busy + ".sock");
            idle.remove(idle.size() - 1).close();
            awaitDisconnected(busy);
            Thread.sleep(SETTLE_MILLIS);
            List<Double> among = new ArrayList<>();
            List<Double> alone = new ArrayList<>();
            // The order alternates (among, alone, alone, among, ...), so that neither side always runs
            // first after the idle disks came or went; each run starts after the daemon settled.
            for (int r = 0; r < rounds; r++) {
                if (r % 2 == 0) {
                    among.add(run(busySocket, pid));
                    removeIdle();
                    alone.add(run(busySocket, pid));
                } else {
                    alone.add(run(busySocket, pid));
                    for (int i = 0; i < disks - 1; i++) {
                        addAndAttach(i);
                    }
                    Thread.sleep(SETTLE_MILLIS);
                    among.add(run(busySocket, pid));
                }
            }
            out.printf(Locale.ROOT, "one busy disk (null backend, 4k randread, depth 32, 1 queue, %.0f s runs):%n", ioSeconds);
            for (int r = 0; r < rounds; r++) {
                out.printf(Locale.ROOT, "  round %d: among %d idle %.0f IOPS, alone %.0f IOPS, ratio %.2f%n", r + 1,
                        disks - 1, among.get(r), alone.get(r), among.get(r) / alone.get(r));
            }
            double a = among.stream().mapToDouble(Double::doubleValue).average().orElse(0);
            double b = alone.stream().mapToDouble(Double::doubleValue).average().orElse(0);
            out.printf(Locale.ROOT, "  mean: among idle %.0f IOPS, alone %.0f IOPS, ratio %.2f%n", a, b, a / b);
            out.printf(Locale.ROOT, "RESULT disks=%d pollers=%d rss_mb=%.1f threads=%d cpu_percent=%.3f heap_per_disk_kb=%.1f"
                    + " iops_among=%.0f iops_alone=%.0f ratio=%.3f%n", disks, pollerCount, rss / 1e6, threadsAfter,
                    cpuPercent, heapPerDisk / 1e3, a, b, a / b);
            out.flush();
            return 0;
        } finally {
            for (VhostUserBlkFrontend f : idle) {
                try {
                    f.close();
                } catch (IOException e) {
                    // the daemon goes away next
                }
            }
            if (client != null) {
                client.close();
            }
            daemon.destroy();
            if (!daemon.waitFor(60, TimeUnit.SECONDS)) {
                daemon.destroyForcibly();
            }
        }
    }

    /** Detaches and removes every idle disk (force: their front-ends are still attached). */
    private void removeIdle() throws Exception {
        for (VhostUserBlkFrontend f : idle) {
            f.close();
        }
        idle.clear();
        for (int i = 0; i < disks - 1; i++) {
            ObjectNode p = client.params();
            p.put("name", "d" + i);
            p.put("force", true);
            client.call("disk_remove", p);
        }
        Thread.sleep(SETTLE_MILLIS);
    }

    private void addAndAttach(int i) throws Exception {
        ObjectNode p = client.params();
        p.put("name", "d" + i);
        p.put("socket", dir.resolve("d" + i + ".sock").toString());
        p.put("backend", "null:1G");
        client.call("disk_add", p);
        // A guest with its rings set up and nothing to do: 1 queue of 128, 1 MiB of "guest RAM".
        idle.add(VhostUserBlkFrontend.open(dir.resolve("d" + i + ".sock"), new VhostUserBlkFrontend.Options(1, 128, true, 1 << 20)));
    }

    private void awaitDisconnected(String name) throws Exception {
        ObjectNode p = client.params();
        p.put("name", name);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (client.call("disk_get", p).get("connected").asBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException(name + " still connected");
            }
            Thread.sleep(50);
        }
    }

    private double run(Path socket, long pid) throws Exception {
        BenchConfig c = new BenchConfig(socket, 1, 32, 4096, RwMode.RANDREAD, 100, ioSeconds, 2, 10, true, false, 0, 0, 0, pid);
        try (VhostUserBlkFrontend device = VhostUserBlkFrontend.open(socket, new VhostUserBlkFrontend.Options(1,
                c.effectiveQueueSize(), true, BenchRunner.bufferBytes(c)))) {
            return new BenchRunner(device, c, pid, new PrintWriter(java.io.Writer.nullWriter())).run().iops();
        }
    }

    /** Heap in use after a full collection (jcmd GC.run), from the daemon's own metrics. */
    private static double heapAfterGc(long pid, int port) throws Exception {
        Path jcmd = Path.of(ProcessHandle.current().info().command().orElse("java")).resolveSibling("jcmd");
        Process p = new ProcessBuilder(jcmd.toString(), Long.toString(pid), "GC.run").redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
            throw new IllegalStateException(jcmd + " " + pid + " GC.run failed (a JDK with jcmd is needed)");
        }
        String body = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port
                + "/metrics")).build(), HttpResponse.BodyHandlers.ofString()).body();
        double sum = 0;
        for (String line : body.split("\n")) {
            if (line.startsWith("jvm_memory_used_bytes{") && line.contains("area=\"heap\"")) {
                sum += Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
            }
        }
        return sum;
    }

    /** The process's threads by name (/proc/PID/task/N/comm), counted: "G1 Conc#0, vhostd-poller-0 x1, ...". */
    private static String threadNames(long pid) throws IOException {
        java.util.Map<String, Integer> counts = new java.util.TreeMap<>();
        try (var tasks = Files.list(Path.of("/proc/" + pid + "/task"))) {
            for (Path t : tasks.toList()) {
                try {
                    String name = Files.readString(t.resolve("comm")).strip().replaceAll("[0-9]+$", "N");
                    counts.merge(name, 1, Integer::sum);
                } catch (IOException e) {
                    // the thread ended meanwhile
                }
            }
        }
        List<String> out = new ArrayList<>();
        counts.forEach((k, v) -> out.add(v == 1 ? k : k + " x" + v));
        return String.join(", ", out);
    }

    private static long statusKb(long pid, String key) throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
            if (line.startsWith(key + ":")) {
                return Long.parseLong(line.substring(key.length() + 1).strip().split("\\s+")[0]);
            }
        }
        throw new IOException("no " + key + " in /proc/" + pid + "/status");
    }

    /** utime + stime of the whole process, in clock ticks (proc(5)). */
    private static long cpuTicks(long pid) throws IOException {
        String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
        String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        return Long.parseLong(f[11]) + Long.parseLong(f[12]);
    }

    private static long ticksPerSecond() {
        return 100; // USER_HZ on Linux x86-64
    }

    private static void awaitFile(Path p, Duration limit) throws InterruptedException {
        long deadline = System.nanoTime() + limit.toNanos();
        while (!Files.exists(p)) {
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("vhostd did not create " + p + " within " + limit);
            }
            Thread.sleep(50);
        }
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }
}

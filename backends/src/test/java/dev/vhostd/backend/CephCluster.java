package dev.vhostd.backend;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;

/**
 * A single-node Ceph cluster started by scripts/ceph/start-cluster.sh in a private directory, for a
 * test class (start it in @BeforeAll, close it in @AfterAll). Commands run with CEPH_CONF pointing
 * at it; images get unique names.
 */
public final class CephCluster implements AutoCloseable {
    private static final AtomicInteger NAMES = new AtomicInteger();

    private final Path root;
    private final Path dir;
    private final Path conf;

    private CephCluster(Path root, Path dir, Path conf) {
        this.root = root;
        this.dir = dir;
        this.conf = conf;
    }

    /** Starts a cluster with pool "rbd" and auth none; fails the test with the script's output if it cannot. */
    public static CephCluster start() throws IOException, InterruptedException {
        return start(false);
    }

    /**
     * Starts a cluster with pool "rbd"; with {@code cephx} every client authenticates, client.admin
     * through the keyring ceph.conf names, and users made with {@link #newUser} have only their caps.
     */
    public static CephCluster start(boolean cephx) throws IOException, InterruptedException {
        Path script = script("scripts/ceph/start-cluster.sh");
        Path root = Files.createTempDirectory("vhostd-ceph");
        Path dir = root.resolve("cluster");
        Result r = run(List.of(script.toString(), dir.toString()), null, 240, cephx ? "cephx" : "none");
        if (r.exit != 0) {
            try {
                stopAndRemove(root, dir);
            } finally {
                throw new IllegalStateException("scripts/ceph/start-cluster.sh failed (exit " + r.exit + "); install"
                        + " the Ceph packages with scripts/install-test-deps.sh:\n" + r.output);
            }
        }
        return new CephCluster(root, dir, dir.resolve("ceph.conf"));
    }

    public Path conf() {
        return conf;
    }

    public Path dir() {
        return dir;
    }

    /** A fresh image name, unique in this JVM. */
    public String newImageName(String prefix) {
        return prefix + "-" + ProcessHandle.current().pid() + "-" + NAMES.incrementAndGet();
    }

    /**
     * Makes cephx user {@code client.NAME} with these caps ("mon", "profile rbd", "osd", ...; none:
     * a user the monitors know but that may do nothing) and returns its keyring, written under the
     * cluster's directory. Only on a cluster started with cephx.
     */
    public Path newUser(String name, String... caps) throws IOException, InterruptedException {
        Path keyring = dir.resolve(name + ".keyring");
        List<String> args = new ArrayList<>(List.of("auth", "get-or-create", "client." + name));
        args.addAll(List.of(caps));
        args.addAll(List.of("-o", keyring.toString()));
        ceph(args.toArray(String[]::new));
        return keyring;
    }

    /** Runs the rbd tool against this cluster; fails with its output unless it exits 0. */
    public String rbd(String... args) throws IOException, InterruptedException {
        return tool("rbd", args);
    }

    /** Runs the ceph tool against this cluster; fails with its output unless it exits 0. */
    public String ceph(String... args) throws IOException, InterruptedException {
        return tool("ceph", args);
    }

    private String tool(String name, String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>();
        cmd.add(name);
        cmd.addAll(List.of(args));
        Result r = run(cmd, conf, 120, null);
        if (r.exit != 0) {
            throw new IllegalStateException(String.join(" ", cmd) + " failed (exit " + r.exit + "):\n" + r.output);
        }
        return r.output;
    }

    /** The pid in the cluster's pid file for {@code daemon} ("osd.0", "mon.a"). */
    public long pid(String daemon) throws IOException {
        return Long.parseLong(Files.readString(dir.resolve("run/" + daemon + ".pid")).strip());
    }

    /** Stops the OSD (by its pid file) so the cluster no longer answers I/O. */
    public void stopOsd() throws IOException, InterruptedException {
        long pid = pid("osd.0");
        ProcessHandle.of(pid).ifPresent(ProcessHandle::destroy);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false)) {
            if (System.nanoTime() > deadline) {
                ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
                break;
            }
            Thread.sleep(50);
        }
    }

    /** Starts the OSD stopped by {@link #stopOsd} again. */
    public void startOsd() throws IOException, InterruptedException {
        Result r = run(List.of("ceph-osd", "-i", "0", "-c", conf.toString()), conf, 60, null);
        if (r.exit != 0) {
            throw new IllegalStateException("ceph-osd did not start again:\n" + r.output);
        }
    }

    @Override
    public void close() throws IOException, InterruptedException {
        stopAndRemove(root, dir);
    }

    private static void stopAndRemove(Path root, Path dir) throws IOException, InterruptedException {
        run(List.of(script("scripts/ceph/stop-cluster.sh").toString(), dir.toString()), null, 120, null);
        try (Stream<Path> s = Files.walk(root)) {
            s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }

    private record Result(int exit, String output) {}

    private static Result run(List<String> cmd, Path conf, int timeoutSeconds, String auth)
            throws IOException, InterruptedException {
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        if (conf != null) {
            pb.environment().put("CEPH_CONF", conf.toString());
        }
        if (auth != null) {
            pb.environment().put("CEPH_AUTH", auth);
        }
        // Output goes to a file, not a pipe: a daemon the command starts may keep its stdout open.
        Path log = Files.createTempFile("vhostd-ceph-cmd", ".out");
        try {
            pb.redirectOutput(log.toFile());
            Process p = pb.start();
            if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                return new Result(-1, String.join(" ", cmd) + " timed out after " + timeoutSeconds + " s\n"
                        + Files.readString(log));
            }
            return new Result(p.exitValue(), Files.readString(log));
        } finally {
            Files.deleteIfExists(log);
        }
    }

    /** A script of the checkout, found from the module directory Maven runs tests in. */
    public static Path script(String relative) {
        Path start = Path.of(System.getProperty("user.dir")).toAbsolutePath();
        for (Path d = start; d != null; d = d.getParent()) {
            Path s = d.resolve(relative);
            if (Files.isExecutable(s)) {
                return s;
            }
        }
        throw new IllegalStateException("no executable " + relative + " in " + start + " or a parent directory");
    }
}

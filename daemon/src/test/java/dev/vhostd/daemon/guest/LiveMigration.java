package dev.vhostd.daemon.guest;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Live migration of a running test guest between two QEMU processes on this machine, each attached
 * to its own vhost-user-blk back end serving the same image file. The guest runs
 * scripts/guest/migration/fio-verify-load.sh (verified reads and writes) throughout; {@link #migrateTo}
 * starts a destination QEMU with {@code -incoming}, migrates over a UNIX socket with the bandwidth
 * capped so that RAM goes over in several passes, and quits the source once QMP says "completed".
 * {@link #finish()} tells the guest to stop (the disk's mailbox block) and returns what it reported.
 *
 * <p>The front-end is QEMU 10.0 (scripts/install-qemu10.sh): QEMU 7.2 itself crashed the destination
 * guest under this kind of load with an unmodified qemu-storage-daemon (docs: PLATFORM.md).
 */
public final class LiveMigration implements AutoCloseable {
    /** The QEMU 10.0 prefix scripts/install-qemu10.sh installs into (run.sh --qemu 10.0 uses it too). */
    public static final Path QEMU10 = Path.of(System.getenv().getOrDefault("VHOSTD_QEMU10_PREFIX", "/opt/vhostd/qemu-10.0"));
    /** 24 MiB/s: a 384 MiB TCG guest then needs several dirty-bitmap passes (PLATFORM.md). */
    public static final long MAX_BANDWIDTH = 24L << 20;
    public static final String LOAD_SCRIPT = "scripts/guest/migration/fio-verify-load.sh";
    /** The guest reads this word from the disk's last 4 KiB to stop its load. */
    private static final byte[] STOP = "STOP".getBytes(StandardCharsets.US_ASCII);
    private static final Duration STEP_LIMIT = Duration.ofSeconds(240);

    /** What one migration took, from QMP query-migrate. */
    public record Hop(double wallSeconds, long totalMillis, long downtimeMillis, long dirtySyncs) {
        @Override
        public String toString() {
            return String.format("%.1f s (QEMU total %d ms, downtime %d ms, %d dirty syncs)", wallSeconds, totalMillis,
                    downtimeMillis, dirtySyncs);
        }
    }

    /** Runs while the source is paused just before switch-over (QMP pause-before-switchover). */
    @FunctionalInterface
    public interface Action {
        void run() throws Exception;
    }

    private final Path dir;
    private final Path image;
    private final String script;
    private final GuestVm.Options options;
    private final List<Hop> hops = new ArrayList<>();
    private RunningGuest current;
    private Path currentQmp;
    private int qemus;

    private LiveMigration(Path dir, Path image, GuestVm.Options options) {
        this.dir = dir;
        this.image = image;
        this.options = options;
        try {
            this.script = Files.readString(RepoRoot.script(LOAD_SCRIPT));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + LOAD_SCRIPT, e);
        }
    }

    /** QEMU 10.0's qemu-storage-daemon, for the control runs. */
    public static String qemuStorageDaemon10() {
        return requireQemu10().resolve("bin/qemu-storage-daemon").toString();
    }

    private static Path requireQemu10() {
        if (!Files.isExecutable(QEMU10.resolve("bin/qemu-system-x86_64"))) {
            throw new IllegalStateException("QEMU 10.0 is not installed under " + QEMU10
                    + "; run scripts/install-qemu10.sh as root (the migration tests use it as the front-end)");
        }
        return QEMU10;
    }

    /**
     * Boots the source guest on the back end at {@code socket}, serving {@code image}, and waits until
     * its load has written the data it then keeps verifying.
     */
    public static LiveMigration boot(Path dir, Path image, Path socket, GuestVm.Options options) throws IOException {
        LiveMigration m = new LiveMigration(dir, image, options);
        m.currentQmp = m.nextQmp();
        m.current = GuestVm.start(socket, m.script, options, m.runArgs(m.currentQmp, null));
        m.current.awaitConsoleLine("MIGRATION-LOAD-READY", STEP_LIMIT);
        return m;
    }

    private Path nextQmp() {
        return dir.resolve("qmp-" + (qemus++) + ".sock");
    }

    private List<String> runArgs(Path qmp, String incoming) {
        requireQemu10();
        List<String> args = new ArrayList<>(List.of("--qemu", "10.0", "--qmp", qmp.toString()));
        if (incoming != null) {
            args.addAll(List.of("--incoming", incoming));
        }
        return args;
    }

    /** The guest as it runs now (the last destination). */
    public RunningGuest guest() {
        return current;
    }

    public List<Hop> hops() {
        return List.copyOf(hops);
    }

    /** Migrates the running guest to a new QEMU attached to {@code socket}. */
    public Hop migrateTo(Path socket) throws Exception {
        return migrateTo(socket, null);
    }

    /**
     * Migrates the running guest to a new QEMU attached to {@code socket}; with {@code beforeSwitchover}
     * the source pauses once RAM has converged (its rings stopped) and the action runs before the
     * destination takes over.
     */
    public Hop migrateTo(Path socket, Action beforeSwitchover) throws Exception {
        Path qmp = nextQmp();
        Path channel = dir.resolve("migration-" + qemus + ".sock");
        RunningGuest destination = GuestVm.start(socket, script, options, runArgs(qmp, "unix:" + channel));
        try {
            awaitFile(channel, destination);
            Hop hop;
            try (QmpClient source = QmpClient.connect(currentQmp, STEP_LIMIT)) {
                source.execute("migrate-set-parameters", "{\"max-bandwidth\":" + MAX_BANDWIDTH + "}");
                if (beforeSwitchover != null) {
                    source.execute("migrate-set-capabilities",
                            "{\"capabilities\":[{\"capability\":\"pause-before-switchover\",\"state\":true}]}");
                }
                long start = System.nanoTime();
                source.execute("migrate", "{\"uri\":\"unix:" + channel + "\"}");
                Map<String, Object> status = awaitCompleted(source, beforeSwitchover, destination);
                double wall = (System.nanoTime() - start) / 1e9;
                Map<String, Object> ram = status.get("ram") instanceof Map<?, ?> r ? dev.vhostd.daemon.testing.Json.object(r)
                        : Map.of();
                hop = new Hop(wall, number(status.get("total-time")), number(status.get("downtime")),
                        number(ram.get("dirty-sync-count")));
                source.execute("quit", null);
            }
            current.await();
            current.close();
            current = destination;
            currentQmp = qmp;
            hops.add(hop);
            return hop;
        } catch (Exception | AssertionError e) {
            String where = "\n--- source console (tail) ---\n" + tail(current.consoleSoFar())
                    + "\n--- destination console (tail) ---\n" + tail(destination.consoleSoFar());
            destination.close();
            throw new AssertionError("migration " + hops.size() + " failed: " + e.getMessage() + where, e);
        }
    }

    private Map<String, Object> awaitCompleted(QmpClient source, Action beforeSwitchover, RunningGuest destination)
            throws Exception {
        long deadline = System.nanoTime() + STEP_LIMIT.toNanos();
        boolean continued = false;
        while (true) {
            Map<String, Object> s = source.query("query-migrate");
            String status = String.valueOf(s.get("status"));
            switch (status) {
                case "completed" -> {
                    return s;
                }
                case "failed", "cancelled" -> throw new AssertionError("migration " + status + ": "
                        + s.get("error-desc"));
                case "pre-switchover" -> {
                    if (!continued) {
                        beforeSwitchover.run();
                        source.execute("migrate-continue", "{\"state\":\"pre-switchover\"}");
                        continued = true;
                    }
                }
                default -> { }
            }
            if (!destination.isAlive()) {
                throw new AssertionError("the destination QEMU exited during the migration (status " + status + ")");
            }
            if (System.nanoTime() > deadline) {
                throw new AssertionError("migration not completed within " + STEP_LIMIT + ": " + s);
            }
            Thread.sleep(100);
        }
    }

    /** Tells the guest to finish (one more verified round) and returns its report. */
    public GuestResult finish() throws IOException {
        try (RandomAccessFile f = new RandomAccessFile(image.toFile(), "rw")) {
            f.seek(f.length() - 4096);
            f.write(STOP);
        }
        return current.await();
    }

    private static void awaitFile(Path file, RunningGuest qemu) throws InterruptedException {
        long deadline = System.nanoTime() + STEP_LIMIT.toNanos();
        while (!Files.exists(file)) {
            if (!qemu.isAlive()) {
                throw new AssertionError("the destination QEMU exited before listening on " + file);
            }
            if (System.nanoTime() > deadline) {
                throw new AssertionError("the destination QEMU did not listen on " + file + " within " + STEP_LIMIT);
            }
            Thread.sleep(50);
        }
    }

    private static long number(Object o) {
        return o instanceof Number n ? n.longValue() : -1;
    }

    private static String tail(String s) {
        return s.length() <= 3000 ? s : s.substring(s.length() - 3000);
    }

    @Override
    public void close() {
        if (current != null) {
            current.close();
        }
    }
}

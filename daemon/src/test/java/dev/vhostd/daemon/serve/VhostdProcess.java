package dev.vhostd.daemon.serve;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * vhostd as a separate process, started the way the launcher starts it (same main class, the test
 * JVM's JDK and class path), so tests can SIGTERM it, kill -9 it and restart it.
 */
public final class VhostdProcess implements AutoCloseable {
    private final Process process;
    private final Path log;
    private final Path socket;

    private VhostdProcess(Process process, Path log, Path socket) {
        this.process = process;
        this.log = log;
        this.socket = socket;
    }

    /** Starts {@code vhostd serve --socket SOCKET ARGS...} and waits until it listens. */
    public static VhostdProcess serve(Path socket, Path log, String... args) throws IOException {
        return serve(Duration.ofSeconds(30), socket, log, args);
    }

    /** As {@link #serve(Path, Path, String...)}, waiting up to {@code limit} for it to listen. */
    public static VhostdProcess serve(Duration limit, Path socket, Path log, String... args) throws IOException {
        return serve(limit, socket, log, java.util.Map.of(), args);
    }

    /** Like {@link #serve(Path, Path, String...)} with extra environment variables (NOTIFY_SOCKET, ...). */
    public static VhostdProcess serve(Path socket, Path log, java.util.Map<String, String> env, String... args)
            throws IOException {
        return serve(Duration.ofSeconds(30), socket, log, env, args);
    }

    private static VhostdProcess serve(Duration limit, Path socket, Path log, java.util.Map<String, String> env,
            String... args) throws IOException {
        List<String> all = new ArrayList<>(List.of("--socket", socket.toString()));
        all.addAll(List.of(args));
        return start(limit, socket, log, env, all.toArray(String[]::new));
    }

    /**
     * Starts {@code vhostd serve ARGS...} and waits until {@code readyFile} (a vhost-user or
     * control socket it creates) exists and the daemon says it is serving.
     */
    public static VhostdProcess start(Path readyFile, Path log, String... args) throws IOException {
        return start(Duration.ofSeconds(60), readyFile, log, java.util.Map.of(), args);
    }

    private static VhostdProcess start(Duration limit, Path readyFile, Path log, java.util.Map<String, String> env,
            String... args) throws IOException {
        List<String> cmd = new ArrayList<>(command());
        cmd.add("serve");
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
        pb.environment().putAll(env);
        Process p = pb.start();
        VhostdProcess v = new VhostdProcess(p, log, readyFile);
        v.awaitListening(limit);
        return v;
    }

    /** The java command line that runs vhostd's main class from the test class path. */
    public static List<String> command() {
        return List.of(ProcessHandle.current().info().command().orElse("java"), "--enable-native-access=ALL-UNNAMED",
                "-cp", System.getProperty("java.class.path"), "dev.vhostd.daemon.Main");
    }

    private void awaitListening(Duration limit) throws IOException {
        long deadline = System.nanoTime() + limit.toNanos();
        while (System.nanoTime() < deadline) {
            if (!process.isAlive()) {
                throw new IllegalStateException("vhostd exited with " + process.exitValue() + " before listening:\n" + log());
            }
            if (Files.exists(socket) && log().contains("serving ")) {
                return;
            }
            sleep(50);
        }
        throw new IllegalStateException("vhostd did not listen on " + socket + " within " + limit + ":\n" + log());
    }

    public long pid() {
        return process.pid();
    }

    public String log() {
        try {
            return Files.exists(log) ? Files.readString(log) : "";
        } catch (IOException e) {
            return "(log unreadable: " + e.getMessage() + ")";
        }
    }

    /** SIGTERM and wait; returns the exit status. */
    public int terminate(Duration limit) throws InterruptedException {
        process.destroy();
        if (!process.waitFor(limit.toMillis(), TimeUnit.MILLISECONDS)) {
            process.destroyForcibly();
            throw new AssertionError("vhostd did not exit within " + limit + " of SIGTERM:\n" + log());
        }
        return process.exitValue();
    }

    /** kill -9: no cleanup at all, as after a crash. */
    public void kill9() throws InterruptedException {
        process.destroyForcibly();
        process.waitFor(10, TimeUnit.SECONDS);
    }

    /** Sum of a metric's samples whose labels contain every given {@code key="value"} pair. */
    public static double scrape(int port, String metric, String... labels) throws IOException, InterruptedException {
        HttpResponse<String> r = HttpClient.newHttpClient().send(
                HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/metrics")).build(),
                HttpResponse.BodyHandlers.ofString());
        double sum = 0;
        for (String line : r.body().split("\n")) {
            if (!line.startsWith(metric + "{") && !line.startsWith(metric + " ")) {
                continue;
            }
            boolean all = true;
            for (String l : labels) {
                all &= line.contains(l);
            }
            if (all) {
                sum += Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
            }
        }
        return sum;
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    @Override
    public void close() {
        if (process.isAlive()) {
            process.destroyForcibly();
            try {
                process.waitFor(10, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }
}

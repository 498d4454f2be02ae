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
        return serve(limit, List.of(), socket, log, env, args);
    }

    /**
     * Like {@link #serve(Path, Path, String...)} under a wrapper command such as {@code prlimit
     * --fsize=N} or {@code setpriv ...} that execs the JVM (so the pid is still vhostd's).
     */
    public static VhostdProcess serve(List<String> wrapper, Path socket, Path log, String... args) throws IOException {
        return serve(Duration.ofSeconds(30), wrapper, socket, log, java.util.Map.of(), args);
    }

    private static VhostdProcess serve(Duration limit, List<String> wrapper, Path socket, Path log,
            java.util.Map<String, String> env, String... args) throws IOException {
        List<String> all = new ArrayList<>(List.of("--socket", socket.toString()));
        all.addAll(List.of(args));
        return start(limit, wrapper, socket, log, env, all.toArray(String[]::new));
    }

    /**
     * Starts {@code vhostd serve ARGS...} and waits until {@code readyFile} (a vhost-user or
     * control socket it creates) exists and the daemon says it is serving.
     */
    public static VhostdProcess start(Path readyFile, Path log, String... args) throws IOException {
        return start(Duration.ofSeconds(60), List.of(), readyFile, log, java.util.Map.of(), args);
    }

    /** Like {@link #start(Path, Path, String...)} with extra environment variables. */
    public static VhostdProcess start(Path readyFile, Path log, java.util.Map<String, String> env, String... args)
            throws IOException {
        return start(Duration.ofSeconds(60), List.of(), readyFile, log, env, args);
    }

    private static VhostdProcess start(Duration limit, List<String> wrapper, Path readyFile, Path log,
            java.util.Map<String, String> env, String... args) throws IOException {
        List<String> cmd = new ArrayList<>(wrapper);
        cmd.addAll(command());
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

    /** What a vhostd run that was expected to end by itself printed, and its exit status. */
    public record Outcome(int exitStatus, String output) {
        /** The output's non-empty lines. */
        public List<String> lines() {
            return output.lines().filter(l -> !l.isBlank()).toList();
        }
    }

    /** Runs {@code WRAPPER... java ... vhostd ARGS...} to its end (at most 60 s), stdout and stderr together. */
    public static Outcome run(List<String> wrapper, String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(wrapper);
        cmd.addAll(command());
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        // Read on the side: a vhostd that wrongly starts serving must fail the test, not hang it.
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        Thread reader = Thread.ofVirtual().start(() -> {
            try (var in = p.getInputStream()) {
                in.transferTo(out);
            } catch (IOException e) {
                // The process was killed: what it printed so far is in out.
            }
        });
        if (!p.waitFor(60, TimeUnit.SECONDS)) {
            p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            reader.join(5000);
            throw new AssertionError("vhostd " + String.join(" ", args) + " did not end within 60 s:\n" + out);
        }
        reader.join(5000);
        return new Outcome(p.exitValue(), out.toString(java.nio.charset.StandardCharsets.UTF_8));
    }

    /** Sends a signal by name ("HUP") with the shell's kill builtin. */
    public void signal(String name) throws IOException, InterruptedException {
        Process k = new ProcessBuilder("bash", "-c", "kill -" + name + " " + process.pid()).inheritIO().start();
        if (!k.waitFor(10, TimeUnit.SECONDS) || k.exitValue() != 0) {
            throw new IllegalStateException("kill -" + name + " " + process.pid() + " failed");
        }
    }

    public boolean isAlive() {
        return process.isAlive();
    }

    /** Waits until the log contains {@code text}; false after {@code limit}. */
    public boolean awaitLog(String text, Duration limit) {
        long deadline = System.nanoTime() + limit.toNanos();
        while (System.nanoTime() < deadline) {
            if (log().contains(text)) {
                return true;
            }
            sleep(50);
        }
        return log().contains(text);
    }

    /** Waits for vhostd to exit by itself (after a signal sent with {@link #signal}); returns the exit status. */
    public int awaitExit(Duration limit) throws InterruptedException {
        if (!process.waitFor(limit.toMillis(), TimeUnit.MILLISECONDS)) {
            process.destroyForcibly();
            throw new AssertionError("vhostd did not exit within " + limit + ":\n" + log());
        }
        return process.exitValue();
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

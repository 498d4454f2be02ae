package dev.vhostd.daemon.metrics;

import dev.vhostd.daemon.testing.Json;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * A real Prometheus server (the Debian /usr/bin/prometheus, or -Dvhostd.prometheus=PATH) scraping
 * the given targets every second, for end-to-end tests: {@code start(targets)}, {@code query(promql)},
 * {@code close()}. Its TSDB and log live in a temporary directory deleted on close; the process is
 * killed on close and, should the test JVM die first, by a shutdown hook.
 */
final class PrometheusServer implements AutoCloseable {
    static final String JOB = "vhostd";

    private final Process process;
    private final Path dir;
    private final int port;
    private final Thread killer;
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    private PrometheusServer(Process process, Path dir, int port) {
        this.process = process;
        this.dir = dir;
        this.port = port;
        this.killer = new Thread(process::destroyForcibly, "kill-prometheus");
        Runtime.getRuntime().addShutdownHook(killer);
    }

    static Path binary() {
        Path p = Path.of(System.getProperty("vhostd.prometheus", "/usr/bin/prometheus"));
        if (!Files.isExecutable(p)) {
            throw new IllegalStateException("Prometheus is needed for this test but " + p + " is not executable: "
                    + "install the Debian package 'prometheus' or pass -Dvhostd.prometheus=/path/to/prometheus");
        }
        return p;
    }

    /** Starts Prometheus scraping {@code targets} ("host:port") under job "vhostd" and waits until it is ready. */
    static PrometheusServer start(List<String> targets) throws IOException, InterruptedException {
        Path prometheus = binary();
        Path dir = Files.createTempDirectory("vhostd-prometheus");
        String config = """
                global:
                  scrape_interval: 1s
                  scrape_timeout: 1s
                  evaluation_interval: 1s
                scrape_configs:
                  - job_name: %s
                    static_configs:
                      - targets: [%s]
                """.formatted(JOB, targets.stream().map(t -> "\"" + t + "\"").collect(Collectors.joining(", ")));
        Files.writeString(dir.resolve("prometheus.yml"), config);
        IOException last = null;
        for (int attempt = 0; attempt < 3; attempt++) {
            int port = freePort();
            Process p = new ProcessBuilder(prometheus.toString(),
                    "--config.file=" + dir.resolve("prometheus.yml"),
                    "--storage.tsdb.path=" + dir.resolve("data"),
                    "--web.listen-address=127.0.0.1:" + port,
                    "--web.console.templates=" + dir, "--web.console.libraries=" + dir)
                    .redirectErrorStream(true)
                    .redirectOutput(dir.resolve("prometheus.log").toFile())
                    .start();
            PrometheusServer server = new PrometheusServer(p, dir, port);
            try {
                server.awaitReady(Duration.ofSeconds(60));
                return server;
            } catch (IOException e) {
                last = e;
                boolean portTaken = server.log().contains("address already in use");
                server.close(!portTaken);
                if (!portTaken) {
                    throw e;
                }
            }
        }
        deleteTree(dir);
        throw last;
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    private void awaitReady(Duration timeout) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            if (!process.isAlive()) {
                throw new IOException("prometheus exited with status " + process.exitValue() + ":\n" + log());
            }
            try {
                var r = http.send(HttpRequest.newBuilder(uri("/-/ready")).timeout(Duration.ofSeconds(2)).build(),
                        HttpResponse.BodyHandlers.discarding());
                if (r.statusCode() == 200) {
                    return;
                }
            } catch (IOException notYet) {
                // not listening yet
            }
            Thread.sleep(200);
        }
        throw new IOException("prometheus not ready after " + timeout + ":\n" + log());
    }

    /** Prometheus' own log so far, for failure messages. */
    String log() {
        try {
            return Files.readString(dir.resolve("prometheus.log"));
        } catch (IOException e) {
            return "(no log: " + e + ")";
        }
    }

    private URI uri(String path) {
        return URI.create("http://127.0.0.1:" + port + path);
    }

    /**
     * Runs an instant query and returns the raw {@code data} object ({@code resultType}, {@code result}).
     *
     * @throws AssertionError if Prometheus rejects the query, with its error message
     */
    Map<String, Object> queryData(String promql) throws IOException, InterruptedException {
        var r = http.send(HttpRequest.newBuilder(uri("/api/v1/query?query="
                + URLEncoder.encode(promql, StandardCharsets.UTF_8))).timeout(Duration.ofSeconds(10)).build(),
                HttpResponse.BodyHandlers.ofString());
        Map<String, Object> body = Json.object(Json.parse(r.body()));
        if (r.statusCode() != 200 || !"success".equals(body.get("status"))) {
            throw new AssertionError("query failed (" + r.statusCode() + "): " + promql + "\n" + r.body());
        }
        return Json.object(body.get("data"));
    }

    /**
     * Runs an instant query that must yield one number: a scalar or a single-sample vector. Returns
     * NaN for an empty vector (nothing scraped yet); aggregate with sum() when several series match.
     */
    double query(String promql) throws IOException, InterruptedException {
        Map<String, Object> data = queryData(promql);
        Object result = data.get("result");
        if ("scalar".equals(data.get("resultType"))) {
            return parse(Json.array(result).get(1));
        }
        List<Object> vector = Json.array(result);
        if (vector.isEmpty()) {
            return Double.NaN;
        }
        if (vector.size() != 1) {
            throw new AssertionError("expected one sample from " + promql + " but got " + vector.size()
                    + "; aggregate it: " + vector);
        }
        return parse(Json.array(Json.object(vector.getFirst()).get("value")).get(1));
    }

    private static double parse(Object value) {
        return switch ((String) value) {
            case "+Inf" -> Double.POSITIVE_INFINITY;
            case "-Inf" -> Double.NEGATIVE_INFINITY;
            case "NaN" -> Double.NaN;
            default -> Double.parseDouble((String) value);
        };
    }

    /**
     * Polls {@code promql} until it equals {@code expected} (within 1e-9 relative), i.e. until a
     * scrape that saw the recorded workload has been ingested; fails with the last value otherwise.
     */
    double await(String promql, double expected, Duration timeout) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        double v = Double.NaN;
        while (System.nanoTime() < deadline) {
            v = query(promql);
            if (Math.abs(v - expected) <= 1e-9 * Math.max(1, Math.abs(expected))) {
                return v;
            }
            Thread.sleep(250);
        }
        throw new AssertionError(promql + " was " + v + ", expected " + expected + " within " + timeout
                + "\nprometheus log:\n" + log());
    }

    @Override
    public void close() {
        close(true);
    }

    private void close(boolean deleteDir) {
        process.destroy();
        try {
            if (!process.waitFor(10, java.util.concurrent.TimeUnit.SECONDS)) {
                process.destroyForcibly().waitFor(10, java.util.concurrent.TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
        } finally {
            Runtime.getRuntime().removeShutdownHook(killer);
            http.close();
            if (deleteDir) {
                deleteTree(dir);
            }
        }
    }

    private static void deleteTree(Path dir) {
        try (Stream<Path> paths = Files.walk(dir)) {
            for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("could not delete " + dir, e);
        }
    }
}

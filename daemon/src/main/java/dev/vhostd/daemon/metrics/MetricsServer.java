package dev.vhostd.daemon.metrics;

import com.sun.net.httpserver.HttpServer;
import io.prometheus.client.exporter.HTTPServer;

import java.io.IOException;
import java.net.BindException;
import java.net.InetSocketAddress;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * The HTTP endpoint: {@code /metrics} in the Prometheus text format (simpleclient's handler, which
 * also answers gzip and {@code ?name[]=} filters), {@code /healthz} (see {@link HealthHandler}) and
 * {@code /-/healthy} (always 200 while the process runs). Other paths get 404.
 *
 * <p>No client can hold the endpoint for others: every connection is served on its own virtual
 * thread, and a request that has not arrived completely within {@link #REQUEST_TIMEOUT_SECONDS}
 * (a half-open or slow connection) is closed. Before, simpleclient's small thread pool and its
 * 60-second request timeout let a few silent connections block /healthz and /metrics for a minute,
 * long enough to fail a container HEALTHCHECK.
 *
 * <p>No authentication and no TLS: bind it to loopback or a management network only.
 */
public final class MetricsServer implements AutoCloseable {
    /** Seconds a client has to send its whole request. */
    static final int REQUEST_TIMEOUT_SECONDS = 5;
    private static final String MAX_REQ_TIME = "sun.net.httpserver.maxReqTime";

    static {
        // The JDK server reads its only per-request timeout from this property once, when the first
        // server is created; simpleclient sets 60 s unless it is already set. An operator's explicit
        // -D value wins.
        if (System.getProperty(MAX_REQ_TIME) == null) {
            System.setProperty(MAX_REQ_TIME, Integer.toString(REQUEST_TIMEOUT_SECONDS));
        }
    }

    private final HttpServer server;
    private final ExecutorService executor;
    private final InetSocketAddress address;

    private MetricsServer(HttpServer server, ExecutorService executor) {
        this.server = server;
        this.executor = executor;
        this.address = server.getAddress();
    }

    /** Starts serving on {@code address}. */
    public static MetricsServer start(MetricsAddress address, VhostdMetrics metrics, HealthState health)
            throws IOException {
        return start(address.address(), metrics, health);
    }

    /**
     * Starts serving on {@code bind} (port 0 picks a free port; see {@link #address()}).
     *
     * @throws IOException if the address cannot be bound, with a message naming it
     * @throws IllegalStateException if {@code metrics} is disabled
     */
    public static MetricsServer start(InetSocketAddress bind, VhostdMetrics metrics, HealthState health)
            throws IOException {
        var registry = metrics.collectorRegistry();
        HttpServer http;
        try {
            http = HttpServer.create(bind, 16);
        } catch (BindException e) {
            throw new IOException("cannot listen for metrics on " + bind.getHostString() + ":" + bind.getPort() + ": " + e.getMessage()
                    + "; pick a free address with --metrics HOST:PORT", e);
        }
        var scrape = new HTTPServer.HTTPMetricHandler(registry);
        http.createContext("/metrics", scrape);
        http.createContext("/-/healthy", scrape);
        http.createContext("/healthz", new HealthHandler(health, metrics));
        // Unknown paths are 404 so that typos in probe or scrape configurations are noticed.
        http.createContext("/", exchange -> {
            try (exchange) {
                exchange.sendResponseHeaders(404, -1);
            }
        });
        ExecutorService executor = Executors.newThreadPerTaskExecutor(
                Thread.ofVirtual().name("vhostd-http-", 0).factory());
        http.setExecutor(executor);
        http.start();
        return new MetricsServer(http, executor);
    }

    /** The bound address (with the real port when 0 was asked for). */
    public InetSocketAddress address() {
        return address;
    }

    @Override
    public void close() {
        server.stop(0);
        executor.shutdownNow();
    }
}

package dev.vhostd.daemon.metrics;

import com.sun.net.httpserver.HttpServer;
import io.prometheus.client.exporter.HTTPServer;

import java.io.IOException;
import java.net.BindException;
import java.net.InetSocketAddress;

/**
 * The HTTP endpoint: {@code /metrics} in the Prometheus text format (simpleclient's HTTPServer,
 * which also answers gzip and {@code ?name[]=} filters), {@code /healthz} (see {@link HealthHandler})
 * and {@code /-/healthy} (always 200 while the process runs, from simpleclient). Other paths get 404.
 *
 * <p>No authentication and no TLS: bind it to loopback or a management network only.
 */
public final class MetricsServer implements AutoCloseable {
    private final HTTPServer server;
    private final InetSocketAddress address;

    private MetricsServer(HTTPServer server, InetSocketAddress address) {
        this.server = server;
        this.address = address;
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
        http.createContext("/healthz", new HealthHandler(health, metrics));
        HTTPServer server = new HTTPServer.Builder()
                .withHttpServer(http)
                .withRegistry(registry)
                .withDaemonThreads(true)
                .build();
        // simpleclient answers every path with the metrics; make unknown paths 404 so that typos in
        // probe or scrape configurations are noticed.
        http.removeContext("/");
        http.createContext("/", exchange -> {
            try (exchange) {
                exchange.sendResponseHeaders(404, -1);
            }
        });
        return new MetricsServer(server, http.getAddress());
    }

    /** The bound address (with the real port when 0 was asked for). */
    public InetSocketAddress address() {
        return address;
    }

    @Override
    public void close() {
        server.close();
    }
}

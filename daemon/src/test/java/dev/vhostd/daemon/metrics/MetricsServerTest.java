package dev.vhostd.daemon.metrics;

import dev.vhostd.daemon.testing.Json;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class MetricsServerTest {
    private final VhostdMetrics metrics = VhostdMetrics.enabled();
    private final HttpClient http = HttpClient.newHttpClient();
    private volatile boolean serving = true;
    private MetricsServer server;

    @AfterEach
    void stop() {
        if (server != null) {
            server.close();
        }
        metrics.close();
        http.close();
    }

    private MetricsServer start() throws IOException {
        server = MetricsServer.start(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), metrics, () -> serving);
        return server;
    }

    private HttpResponse<String> get(String path) throws Exception {
        var a = server.address();
        return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + a.getPort() + path)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    /**
     * Issue 10 item 2: clients that send half a request and go silent (a half-open connection, a
     * slowloris) neither block /healthz and /metrics for others nor stay open for long.
     */
    @Test
    void halfOpenConnectionsNeitherBlockOthersNorStay() throws Exception {
        start();
        var a = server.address();
        List<java.net.Socket> silent = new java.util.ArrayList<>();
        try {
            for (int i = 0; i < 8; i++) {
                java.net.Socket s = new java.net.Socket(InetAddress.getLoopbackAddress(), a.getPort());
                s.getOutputStream().write("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Half".getBytes());
                s.getOutputStream().flush();
                silent.add(s);
            }
            Thread.sleep(200);
            for (String path : List.of("/healthz", "/metrics")) {
                long t0 = System.nanoTime();
                var r = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + a.getPort() + path))
                        .timeout(java.time.Duration.ofSeconds(4)).build(), HttpResponse.BodyHandlers.ofString());
                long ms = (System.nanoTime() - t0) / 1_000_000;
                assertEquals(200, r.statusCode(), path);
                assertTrue(ms < 3000, path + " took " + ms + " ms behind 8 half-open connections");
            }
            // The server gives up on each silent client after its request timeout.
            for (java.net.Socket s : silent) {
                s.setSoTimeout((MetricsServer.REQUEST_TIMEOUT_SECONDS + 5) * 1000);
                long t0 = System.nanoTime();
                int got;
                try {
                    got = s.getInputStream().read();
                } catch (java.net.SocketException e) {
                    got = -1; // reset: closed as well
                }
                assertEquals(-1, got, "closed by the server, not answered");
                assertTrue((System.nanoTime() - t0) / 1_000_000_000 <= MetricsServer.REQUEST_TIMEOUT_SECONDS + 3);
            }
        } finally {
            for (java.net.Socket s : silent) {
                s.close();
            }
        }
    }

    @Test
    void healthzSaysWhyItIsUnavailable() throws Exception {
        server = MetricsServer.start(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), metrics,
                new HealthState() {
                    @Override
                    public boolean serving() {
                        return false;
                    }

                    @Override
                    public String problem() {
                        return "vhostd-poller-0 has been stuck in one step for 31000 ms (limit 30000 ms)";
                    }
                });
        var r = get("/healthz");
        assertEquals(503, r.statusCode());
        var body = Json.object(Json.parse(r.body()));
        assertEquals("unavailable", body.get("status"));
        assertTrue(String.valueOf(body.get("problem")).contains("vhostd-poller-0"), r.body());
    }

    @Test
    void servesMetricsInTextFormat() throws Exception {
        metrics.device("vda").queue(0).kicksReceived(4);
        start();
        var r = get("/metrics");
        assertEquals(200, r.statusCode());
        assertTrue(r.headers().firstValue("Content-Type").orElse("").startsWith("text/plain; version=0.0.4"));
        assertEquals(4, new Exposition(r.body()).value("vhostd_kicks_total", Map.of("disk", "vda", "queue", "0")));
    }

    @Test
    void healthzFollowsServingStateAndListsDevices() throws Exception {
        DeviceMetrics vda = metrics.device("vda");
        metrics.device("vd\"b");
        vda.connected(1, 0);
        start();
        var ok = get("/healthz");
        assertEquals(200, ok.statusCode());
        assertEquals("application/json", ok.headers().firstValue("Content-Type").orElseThrow());
        var body = Json.object(Json.parse(ok.body()));
        assertEquals("serving", body.get("status"));
        assertEquals(List.of(Map.of("disk", "vd\"b", "connected", false), Map.of("disk", "vda", "connected", true)),
                body.get("disks"));

        serving = false;
        var down = get("/healthz");
        assertEquals(503, down.statusCode());
        assertEquals("unavailable", Json.object(Json.parse(down.body())).get("status"));
    }

    @Test
    void unknownPathsAre404AndHealthzIsReadOnly() throws Exception {
        start();
        assertEquals(404, get("/").statusCode());
        assertEquals(404, get("/metricz").statusCode());
        var a = server.address();
        var post = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + a.getPort() + "/healthz"))
                .POST(HttpRequest.BodyPublishers.ofString("x")).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(405, post.statusCode());
    }

    @Test
    void busyPortGivesAnActionableError() throws Exception {
        start();
        var ex = assertThrows(IOException.class,
                () -> MetricsServer.start(server.address(), metrics, () -> true));
        assertTrue(ex.getMessage().contains("--metrics HOST:PORT"), ex.getMessage());
    }

    @Test
    void refusesToServeDisabledMetrics() {
        try (VhostdMetrics off = VhostdMetrics.disabled()) {
            assertThrows(IllegalStateException.class, () -> MetricsServer.start(
                    new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), off, () -> true));
        }
    }
}

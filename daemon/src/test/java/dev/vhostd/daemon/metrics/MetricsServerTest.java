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

package dev.vhostd.daemon.metrics;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpHandler;

import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Comparator;
import java.util.List;

/**
 * Serves /healthz: 200 while the daemon is serving, 503 otherwise, with a small JSON body such as
 * {@code {"status":"serving","disks":[{"disk":"vda","connected":true}]}} so that a probe or an
 * operator with curl sees which disks have a front-end attached; when unavailable, a "problem"
 * field says why (e.g. a poller stuck in one step).
 */
final class HealthHandler implements HttpHandler {
    private static final ObjectMapper MAPPER = new ObjectMapper();
    private final HealthState health;
    private final VhostdMetrics metrics;

    HealthHandler(HealthState health, VhostdMetrics metrics) {
        this.health = health;
        this.metrics = metrics;
    }

    @Override
    public void handle(HttpExchange exchange) throws IOException {
        try (exchange) {
            String method = exchange.getRequestMethod();
            if (!method.equals("GET") && !method.equals("HEAD")) {
                exchange.getResponseHeaders().set("Allow", "GET, HEAD");
                exchange.sendResponseHeaders(405, -1);
                return;
            }
            String problem = health.problem();
            boolean serving = problem == null;
            byte[] body = body(problem, metrics.devices()).getBytes(StandardCharsets.UTF_8);
            exchange.getResponseHeaders().set("Content-Type", "application/json");
            exchange.getResponseHeaders().set("Cache-Control", "no-store");
            if (method.equals("HEAD")) {
                exchange.sendResponseHeaders(serving ? 200 : 503, -1);
                return;
            }
            exchange.sendResponseHeaders(serving ? 200 : 503, body.length);
            try (OutputStream out = exchange.getResponseBody()) {
                out.write(body);
            }
        }
    }

    /** The /healthz body: the daemon's state and each disk's connection. */
    @com.fasterxml.jackson.annotation.JsonInclude(com.fasterxml.jackson.annotation.JsonInclude.Include.NON_NULL)
    record Body(@JsonProperty("status") String status, @JsonProperty("problem") String problem,
            @JsonProperty("disks") List<Disk> disks) {}

    record Disk(@JsonProperty("disk") String disk, @JsonProperty("connected") boolean connected) {}

    /** The body for a daemon that is healthy ({@code problem} null) or not, saying why. */
    static String body(String problem, List<DeviceMetrics> devices) {
        List<Disk> disks = devices.stream().sorted(Comparator.comparing(DeviceMetrics::name))
                .map(d -> new Disk(d.name(), d.isConnected())).toList();
        try {
            return MAPPER.writeValueAsString(new Body(problem == null ? "serving" : "unavailable", problem, disks));
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot encode the health body", e);
        }
    }
}

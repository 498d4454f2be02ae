package dev.vhostd.daemon.metrics;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpHandler;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Comparator;
import java.util.List;

/**
 * Serves /healthz: 200 while the daemon is serving, 503 otherwise, with a small JSON body such as
 * {@code {"status":"serving","devices":[{"device":"vda","connected":true}]}} so that a probe or an
 * operator with curl sees which devices have a front-end attached; when unavailable, a "problem"
 * field says why (e.g. a poller stuck in one step).
 */
final class HealthHandler implements HttpHandler {
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

    /** The body for a daemon that is healthy ({@code problem} null) or not, saying why. */
    static String body(String problem, List<DeviceMetrics> devices) {
        StringBuilder sb = new StringBuilder(64 + 48 * devices.size());
        sb.append("{\"status\":\"").append(problem == null ? "serving" : "unavailable").append('"');
        if (problem != null) {
            sb.append(",\"problem\":");
            quote(sb, problem);
        }
        sb.append(",\"devices\":[");
        List<DeviceMetrics> sorted = devices.stream().sorted(Comparator.comparing(DeviceMetrics::name)).toList();
        for (int i = 0; i < sorted.size(); i++) {
            DeviceMetrics d = sorted.get(i);
            if (i > 0) {
                sb.append(',');
            }
            sb.append("{\"device\":");
            quote(sb, d.name());
            sb.append(",\"connected\":").append(d.isConnected()).append('}');
        }
        return sb.append("]}").toString();
    }

    /** JSON string escaping (RFC 8259 section 7); device names are checked but may hold quotes. */
    private static void quote(StringBuilder sb, String s) {
        sb.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> sb.append("\\\"");
                case '\\' -> sb.append("\\\\");
                default -> {
                    if (c < 0x20 || c == 0x7f) {
                        sb.append(String.format("\\u%04x", (int) c));
                    } else {
                        sb.append(c);
                    }
                }
            }
        }
        sb.append('"');
    }
}

package dev.vhostd.daemon.metrics;

import dev.vhostd.daemon.testing.Json;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Locates and reads the files under monitoring/ for the tests that check them. */
final class MonitoringFiles {
    private static final Pattern METRIC_NAME = Pattern.compile("\\b((?:vhostd|process|jvm|system)_[a-z0-9_]+)\\b");

    private MonitoringFiles() {}

    /** monitoring/ at the repository root; surefire runs in the module directory and sets basedir. */
    static Path dir() {
        Path d = Path.of(System.getProperty("basedir", ".")).toAbsolutePath().resolve("../monitoring").normalize();
        if (!Files.isDirectory(d)) {
            throw new IllegalStateException("monitoring/ not found at " + d + "; run the tests from the daemon module");
        }
        return d;
    }

    static Path dashboard() {
        return dir().resolve("grafana/vhostd-dashboard.json");
    }

    static Path alerts() {
        return dir().resolve("prometheus/vhostd-alerts.yml");
    }

    static Path alertTests() {
        return dir().resolve("prometheus/tests/vhostd-alerts.test.yml");
    }

    /** The dashboard, parsed (strictly: invalid JSON throws). */
    static Map<String, Object> parsedDashboard() throws IOException {
        return Json.object(Json.parse(Files.readString(dashboard())));
    }

    /** Every panel query of the dashboard, rows and nested panels included. */
    static List<String> dashboardExpressions() throws IOException {
        List<String> out = new ArrayList<>();
        for (Map<String, Object> panel : panels(parsedDashboard())) {
            Object targets = panel.get("targets");
            if (targets != null) {
                for (Object t : Json.array(targets)) {
                    out.add((String) Json.object(t).get("expr"));
                }
            }
        }
        return out;
    }

    static List<Map<String, Object>> panels(Map<String, Object> container) {
        List<Map<String, Object>> out = new ArrayList<>();
        Object panels = container.get("panels");
        if (panels != null) {
            for (Object p : Json.array(panels)) {
                Map<String, Object> panel = Json.object(p);
                out.add(panel);
                out.addAll(panels(panel));
            }
        }
        return out;
    }

    /** The metric names (vhostd_, process_, jvm_, system_) mentioned anywhere in {@code text}. */
    static Set<String> metricNames(String text) {
        Set<String> names = new TreeSet<>();
        Matcher m = METRIC_NAME.matcher(text);
        while (m.find()) {
            names.add(m.group(1));
        }
        return names;
    }

    /**
     * Makes a dashboard query runnable outside Grafana: all instances and devices, a fixed rate window.
     */
    static String withGrafanaVariablesFilled(String expr) {
        return expr.replace("$instance", ".*").replace("$disk", ".*").replace("$__rate_interval", "1m");
    }
}

package dev.vhostd.daemon.metrics;

import dev.vhostd.daemon.testing.Json;

import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The Grafana dashboard is valid JSON and asks only for series vhostd really exposes. */
class DashboardTest {
    @Test
    void isValidJsonWithADatasourceVariable() throws Exception {
        Map<String, Object> dash = MonitoringFiles.parsedDashboard();
        assertEquals("vhostd", dash.get("uid"));
        List<Object> vars = Json.array(Json.object(dash.get("templating")).get("list"));
        Map<String, Object> ds = Json.object(vars.getFirst());
        assertEquals("datasource", ds.get("name"));
        assertEquals("datasource", ds.get("type"));
        assertEquals("prometheus", ds.get("query"));
        for (Map<String, Object> panel : MonitoringFiles.panels(dash)) {
            if ("row".equals(panel.get("type"))) {
                continue;
            }
            assertNotNull(panel.get("gridPos"), "panel " + panel.get("title") + " has no position");
            assertEquals("${datasource}", Json.object(panel.get("datasource")).get("uid"),
                    "panel " + panel.get("title") + " must use the datasource variable");
            for (Object t : Json.array(panel.get("targets"))) {
                assertEquals("${datasource}", Json.object(Json.object(t).get("datasource")).get("uid"));
            }
        }
    }

    @Test
    void panelIdsAreUnique() throws Exception {
        Set<Object> ids = new HashSet<>();
        for (Map<String, Object> panel : MonitoringFiles.panels(MonitoringFiles.parsedDashboard())) {
            assertTrue(ids.add(panel.get("id")), "duplicate panel id " + panel.get("id"));
        }
    }

    @Test
    void everyMetricTheDashboardQueriesIsInARealScrape() throws Exception {
        Set<String> exposed = Workloads.scrapeOfEverything().names();
        List<String> exprs = MonitoringFiles.dashboardExpressions();
        assertTrue(exprs.size() >= 15, "expected the full set of panels, found " + exprs.size() + " queries");
        Set<String> missing = new TreeSet<>();
        Set<String> used = new TreeSet<>();
        for (String e : exprs) {
            for (String name : MonitoringFiles.metricNames(e)) {
                used.add(name);
                if (!exposed.contains(name)) {
                    missing.add(name);
                }
            }
        }
        assertEquals(Set.of(), missing, "dashboard queries series that vhostd does not expose");
        // The dashboard covers what the issue asks an operator to see.
        assertTrue(used.containsAll(Set.of("vhostd_requests_total", "vhostd_read_bytes_total",
                "vhostd_written_bytes_total", "vhostd_request_duration_seconds_bucket", "vhostd_requests_in_flight",
                "vhostd_guest_notifications_suppressed_total", "vhostd_kicks_total",
                "vhostd_invalid_guest_input_total", "vhostd_poller_busy_seconds_total", "vhostd_connected")), used.toString());
    }

    @Test
    void alertRulesAndTheirTestsUseOnlyExposedMetrics() throws Exception {
        Set<String> exposed = Workloads.scrapeOfEverything().names();
        for (var file : List.of(MonitoringFiles.alerts(), MonitoringFiles.alertTests())) {
            Set<String> names = MonitoringFiles.metricNames(Files.readString(file));
            assertFalse(names.isEmpty());
            names.removeAll(exposed);
            assertEquals(Set.of(), names, file + " mentions series vhostd does not expose");
        }
    }
}

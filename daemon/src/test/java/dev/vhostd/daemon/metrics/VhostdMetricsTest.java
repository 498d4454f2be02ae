package dev.vhostd.daemon.metrics;

import org.junit.jupiter.api.Test;

import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class VhostdMetricsTest {
    /** The complete vhostd_ family list; a rename must change this test, the dashboard and the alerts. */
    static final Set<String> VHOSTD_SAMPLE_NAMES = Set.of(
            "vhostd_backend_errors_total",
            "vhostd_build_info",
            "vhostd_capacity_bytes",
            "vhostd_connected",
            "vhostd_connections_total",
            "vhostd_dirty_log_changes_total",
            "vhostd_dirty_logging",
            "vhostd_dirty_pages_marked_total",
            "vhostd_guest_memory_mapped_bytes",
            "vhostd_guest_notifications_suppressed_total",
            "vhostd_guest_notifications_total",
            "vhostd_invalid_frontend_messages_total",
            "vhostd_invalid_guest_input_total",
            "vhostd_kicks_total",
            "vhostd_negotiated_features_info",
            "vhostd_poll_iterations_total",
            "vhostd_poller_blocked_seconds_total",
            "vhostd_poller_contended_total",
            "vhostd_poller_poll_window_max_seconds",
            "vhostd_poller_poll_window_seconds",
            "vhostd_queue_held_back_seconds_total",
            "vhostd_poller_busy_seconds_total",
            "vhostd_read_bytes_total",
            "vhostd_request_duration_seconds_bucket",
            "vhostd_request_duration_seconds_count",
            "vhostd_request_duration_seconds_sum",
            "vhostd_requests_in_flight",
            "vhostd_requests_total",
            "vhostd_written_bytes_total");

    @Test
    void exposesExactlyTheDocumentedNamesWithoutDoubledSuffixes() {
        Exposition e = Workloads.scrapeOfEverything();
        Set<String> vhostd = new TreeSet<>(e.names());
        vhostd.removeIf(n -> !n.startsWith("vhostd_"));
        assertEquals(new TreeSet<>(VHOSTD_SAMPLE_NAMES), vhostd);
        for (String n : e.names()) {
            assertFalse(n.contains("_total_total") || n.contains("_seconds_seconds") || n.contains("_bytes_bytes")
                    || n.endsWith("_ns_total"), "odd name " + n);
        }
        assertTrue(e.names().containsAll(Set.of("process_cpu_seconds_total", "process_files_open_files",
                "jvm_memory_used_bytes", "jvm_threads_live_threads", "process_uptime_seconds")), e.names().toString());
    }

    @Test
    void buildInfoSaysWhichVersionAndJavaRun() {
        Exposition e = Workloads.scrapeOfEverything();
        assertEquals(Set.of("version", "java_version"), e.labelNames("vhostd_build_info"));
        assertEquals(1.0, e.value("vhostd_build_info", Map.of("version", dev.vhostd.daemon.Version.get(),
                "java_version", Runtime.version().toString())));
    }

    @Test
    void labelsFollowTheDocumentedScheme() {
        Exposition e = Workloads.scrapeOfEverything();
        assertEquals(Set.of("disk", "queue", "type", "status"), e.labelNames("vhostd_requests_total"));
        assertEquals(Set.of("disk", "queue", "type", "le"), e.labelNames("vhostd_request_duration_seconds_bucket"));
        assertEquals(Set.of("disk", "queue", "result"), e.labelNames("vhostd_poll_iterations_total"));
        assertEquals(Set.of("disk", "queue", "kind"), e.labelNames("vhostd_invalid_guest_input_total"));
        assertEquals(Set.of("disk", "event"), e.labelNames("vhostd_connections_total"));
        assertEquals(Set.of("disk"), e.labelNames("vhostd_connected"));
        assertEquals(Set.of("disk", "features", "protocol_features"), e.labelNames("vhostd_negotiated_features_info"));
        // 7 types x 3 statuses, all present from the start so that ratios and increase() work.
        assertEquals(21, e.count("vhostd_requests_total"));
    }

    @Test
    void valuesAreInBaseUnitsAndHistogramsAreCumulative() {
        try (VhostdMetrics metrics = VhostdMetrics.enabled()) {
            DeviceMetrics d = metrics.device("vda");
            d.connected(0x1_3000_0044L, 0x3aL);
            d.capacityBytes(8L << 30);
            QueueMetrics q = d.queue(1);
            q.requestCompleted(RequestType.READ, RequestStatus.OK, 4096, 4_000);       // le 0.000005
            q.requestCompleted(RequestType.READ, RequestStatus.OK, 4096, 300_000);     // le 0.0005
            q.requestCompleted(RequestType.READ, RequestStatus.OK, 4096, 3_000_000_000L); // +Inf
            q.busyNanos(1_500_000_000L);
            Exposition e = new Exposition(metrics.scrape());
            Map<String, String> read = Map.of("disk", "vda", "queue", "1", "type", "read");
            String bucket = "vhostd_request_duration_seconds_bucket";
            assertEquals(1, e.value(bucket, with(read, "le", "0.000005")));
            assertEquals(1, e.value(bucket, with(read, "le", "0.0002")));
            assertEquals(2, e.value(bucket, with(read, "le", "0.0005")));
            assertEquals(2, e.value(bucket, with(read, "le", "1")));
            assertEquals(3, e.value(bucket, with(read, "le", "+Inf")));
            assertEquals(3, e.value("vhostd_request_duration_seconds_count", read));
            assertEquals(3.000304, e.value("vhostd_request_duration_seconds_sum", read), 1e-9);
            assertEquals(0, e.count(bucket) - LatencyBuckets.COUNT, "only types that completed requests have series");
            assertEquals(1.5, e.value("vhostd_poller_busy_seconds_total", Map.of("queue", "1")), 1e-12);
            assertEquals(12288, e.value("vhostd_read_bytes_total", Map.of("queue", "1")));
            assertEquals(8L << 30, e.value("vhostd_capacity_bytes", Map.of("disk", "vda")));
            assertEquals(1, e.value("vhostd_negotiated_features_info",
                    Map.of("features", "0x0000000130000044", "protocol_features", "0x000000000000003a")));
            assertEquals(1, e.value("vhostd_connections_total", Map.of("event", "connect")));

            d.disconnected();
            Exposition after = new Exposition(metrics.scrape());
            assertEquals(0, after.value("vhostd_connected", Map.of("disk", "vda")));
            assertEquals(0, after.count("vhostd_negotiated_features_info"), "no stale features while disconnected");
            assertEquals(1, after.value("vhostd_connections_total", Map.of("event", "disconnect")));
        }
    }

    @Test
    void queuesAddedAfterAScrapeAppearInTheNext() {
        try (VhostdMetrics metrics = VhostdMetrics.enabled()) {
            DeviceMetrics d = metrics.device("vdb");
            d.queue(0);
            assertEquals(1, new Exposition(metrics.scrape()).count("vhostd_kicks_total"));
            d.queue(1).kicksReceived(9);
            Exposition e = new Exposition(metrics.scrape());
            assertEquals(2, e.count("vhostd_kicks_total"));
            assertEquals(9, e.value("vhostd_kicks_total", Map.of("disk", "vdb", "queue", "1")));
        }
    }

    @Test
    void devicesNeedDistinctNames() {
        try (VhostdMetrics metrics = VhostdMetrics.enabled()) {
            metrics.device("vda");
            var ex = assertThrows(IllegalArgumentException.class, () -> metrics.device("vda"));
            assertTrue(ex.getMessage().contains("distinct"), ex.getMessage());
        }
    }

    @Test
    void disabledMetricsStillRecordButExposeNothing() {
        try (VhostdMetrics metrics = VhostdMetrics.disabled()) {
            assertFalse(metrics.isEnabled());
            QueueMetrics q = metrics.device("vda").queue(0);
            q.requestCompleted(RequestType.READ, RequestStatus.OK, 512, 10);
            assertEquals(1, q.requests(RequestType.READ, RequestStatus.OK));
            var ex = assertThrows(IllegalStateException.class, metrics::scrape);
            assertTrue(ex.getMessage().contains("--metrics"), ex.getMessage());
            assertThrows(IllegalStateException.class, metrics::collectorRegistry);
        }
    }

    @Test
    void notRecordingCountsNothingAndExposesNothing() {
        try (VhostdMetrics metrics = VhostdMetrics.notRecording()) {
            assertFalse(metrics.isEnabled());
            QueueMetrics q = metrics.device("vda").queue(0);
            q.setInFlight(1);
            q.requestCompleted(RequestType.READ, RequestStatus.OK, 512, 10);
            q.kicksReceived(3);
            q.notificationSent();
            q.pollIteration(true);
            q.busyNanos(100);
            assertEquals(0, q.requests(RequestType.READ, RequestStatus.OK));
            assertEquals(0, q.readBytes());
            assertEquals(0, q.kicks());
            assertEquals(0, q.notificationsSent());
            assertEquals(0, q.pollIterations(true));
            assertEquals(0, q.busyNanos());
            assertEquals(0, q.inFlight());
            assertThrows(IllegalStateException.class, metrics::scrape);
        }
    }

    private static Map<String, String> with(Map<String, String> base, String k, String v) {
        var m = new java.util.HashMap<>(base);
        m.put(k, v);
        return m;
    }
}

package dev.vhostd.daemon.metrics;

import dev.vhostd.daemon.testing.Json;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * End to end against a real Prometheus: vhostd's endpoint is scraped every second, and what a
 * recorded workload should produce is read back through PromQL. A test that drives real I/O through
 * vhostd only needs to replace the recording with guest traffic and keep the queries.
 */
class PrometheusScrapeTest {
    private static final Duration SCRAPED = Duration.ofSeconds(30);
    private static final String VDA = "disk=\"vda\"";

    private VhostdMetrics metrics;
    private MetricsServer endpoint;
    private PrometheusServer prometheus;

    @BeforeEach
    void start() throws Exception {
        metrics = VhostdMetrics.enabled();
        endpoint = MetricsServer.start(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), metrics, () -> true);
        prometheus = PrometheusServer.start(List.of("127.0.0.1:" + endpoint.address().getPort()));
    }

    @AfterEach
    void stop() {
        try {
            if (prometheus != null) {
                prometheus.close();
            }
        } finally {
            if (endpoint != null) {
                endpoint.close();
            }
            metrics.close();
        }
    }

    @Test
    void prometheusSeesTheRecordedWorkload() throws Exception {
        DeviceMetrics vda = metrics.device("vda");
        vda.capacityBytes(1L << 30);
        QueueMetrics q0 = vda.queue(0);
        QueueMetrics q1 = vda.queue(1);
        prometheus.await("up{job=\"vhostd\"}", 1, SCRAPED);
        prometheus.await("vhostd_connected{" + VDA + "}", 0, SCRAPED);

        vda.connected(0x1_3000_0044L, 0x3aL);
        // 1000 reads of 4 KiB: 900 take 30 us, 90 take 300 us, 10 take 3 ms.
        for (int i = 0; i < 1000; i++) {
            long latency = i < 900 ? 30_000 : i < 990 ? 300_000 : 3_000_000;
            q0.requestCompleted(RequestType.READ, RequestStatus.OK, 4096, latency);
        }
        q0.kicksReceived(400);
        // On the other queue: 10 writes fail, 5 succeed, and 2 are still in flight.
        for (int i = 0; i < 10; i++) {
            q1.backendError();
            q1.requestCompleted(RequestType.WRITE, RequestStatus.IOERR, 512, 1_000_000);
        }
        for (int i = 0; i < 5; i++) {
            q1.requestCompleted(RequestType.WRITE, RequestStatus.OK, 8192, 80_000);
        }
        q1.setInFlight(2);
        q1.invalidInput(InvalidKind.BAD_CHAIN);

        prometheus.await("sum(vhostd_requests_total{" + VDA + ",type=\"read\",status=\"ok\"})", 1000, SCRAPED);
        prometheus.await("sum(vhostd_requests_in_flight{" + VDA + "})", 2, SCRAPED);
        assertEquals(4096 * 1000, prometheus.query("sum(vhostd_read_bytes_total{" + VDA + "})"));
        assertEquals(10, prometheus.query("sum(vhostd_requests_total{" + VDA + ",status=\"ioerr\"})"));
        assertEquals(10, prometheus.query("vhostd_requests_total{" + VDA + ",queue=\"1\",type=\"write\",status=\"ioerr\"}"));
        assertEquals(5 * 8192, prometheus.query("sum(vhostd_written_bytes_total{" + VDA + "})"));
        assertEquals(10, prometheus.query("sum(vhostd_backend_errors_total{" + VDA + "})"));
        assertEquals(1, prometheus.query("sum(vhostd_invalid_guest_input_total{" + VDA + ",kind=\"bad_chain\"})"));
        assertEquals(400, prometheus.query("sum(vhostd_kicks_total{" + VDA + "})"));
        assertEquals(1, prometheus.query("vhostd_connected{" + VDA + "}"));
        assertEquals(1, prometheus.query("vhostd_connections_total{" + VDA + ",event=\"connect\"}"));
        assertEquals(1L << 30, prometheus.query("vhostd_capacity_bytes{" + VDA + "}"));
        assertEquals(1, prometheus.query("vhostd_negotiated_features_info{" + VDA
                + ",features=\"0x0000000130000044\",protocol_features=\"0x000000000000003a\"}"));

        // Quantiles by linear interpolation inside Prometheus' buckets (le in seconds):
        // p50: rank 500 of the 900 in (20us, 50us] -> 20us + 30us * 500/900
        // p95: rank 950, 50 of the 90 in (200us, 500us] -> 200us + 300us * 50/90
        // p99.9: rank 999, 9 of the 10 in (2ms, 5ms] -> 2ms + 3ms * 9/10
        String reads = "sum by (le) (vhostd_request_duration_seconds_bucket{" + VDA + ",type=\"read\"})";
        assertEquals(20e-6 + 30e-6 * 500 / 900, prometheus.query("histogram_quantile(0.5, " + reads + ")"), 1e-12);
        assertEquals(200e-6 + 300e-6 * 50 / 90, prometheus.query("histogram_quantile(0.95, " + reads + ")"), 1e-12);
        assertEquals(2e-3 + 3e-3 * 9 / 10, prometheus.query("histogram_quantile(0.999, " + reads + ")"), 1e-12);
        assertEquals(900 * 30e-6 + 90 * 300e-6 + 10 * 3e-3,
                prometheus.query("sum(vhostd_request_duration_seconds_sum{" + VDA + ",type=\"read\"})"), 1e-9);
        assertEquals(1000, prometheus.query("sum(vhostd_request_duration_seconds_count{" + VDA + ",type=\"read\"})"));

        vda.disconnected();
        prometheus.await("vhostd_connected{" + VDA + "}", 0, SCRAPED);
        assertTrue(Double.isNaN(prometheus.query("vhostd_negotiated_features_info{" + VDA + "}")),
                "the features info series ends with the connection");
    }

    /** Every dashboard query parses and returns data from a real Prometheus scraping vhostd. */
    @Test
    void everyDashboardQueryRunsAndReturnsData() throws Exception {
        DeviceMetrics vda = metrics.device("vda");
        Workloads.touchEverything(vda);
        // Rates need two samples that differ: let a few scrapes pass, then record more.
        prometheus.await("sum(vhostd_kicks_total)", 3, SCRAPED);
        Thread.sleep(2_000);
        Workloads.touchEverything(metrics.device("vdb"));
        QueueMetrics q = vda.queue(0);
        q.requestCompleted(RequestType.WRITE, RequestStatus.IOERR, 0, 70_000);
        q.kicksReceived(3);
        q.notificationSent();
        q.busyNanos(5_000);
        q.blockedNanos(5_000);
        q.pollIteration(true);
        q.invalidInput(InvalidKind.BAD_ADDRESS);
        prometheus.await("sum(vhostd_kicks_total)", 9, SCRAPED);

        List<String> empty = new ArrayList<>();
        List<String> exprs = MonitoringFiles.dashboardExpressions();
        for (String expr : exprs) {
            String runnable = MonitoringFiles.withGrafanaVariablesFilled(expr);
            var result = Json.array(prometheus.queryData(runnable).get("result")); // throws on a PromQL error
            if (result.isEmpty()) {
                empty.add(runnable);
            }
        }
        assertEquals(List.of(), empty, "dashboard queries that returned no data");
    }
}

package dev.vhostd.daemon.metrics;

import java.lang.foreign.ValueLayout;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.vhostd.daemon.serve.VhostdProcess;
import dev.vhostd.protocol.frontend.BlockIo;
import dev.vhostd.protocol.frontend.VhostUserBlkFrontend;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The whole path an operator relies on: a vhostd process serving real vhost-user-blk I/O from a
 * front-end, a real Prometheus scraping its /metrics, and PromQL over what Prometheus stored.
 */
class PrometheusVhostdIoTest {
    private static final int WRITES = 200;
    private static final int READS = 300;
    private static final int OUT_OF_RANGE = 5;

    @TempDir
    Path dir;

    @Test
    void prometheusSeesTheRequestsAndLatenciesOfRealIo() throws Exception {
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        Path sock = dir.resolve("disk0.sock");
        try (VhostdProcess vhostd = VhostdProcess.serve(sock, dir.resolve("vhostd.log"),
                "--backend", "memory:64M", "--metrics", "127.0.0.1:" + port);
                PrometheusServer prometheus = PrometheusServer.start(List.of("127.0.0.1:" + port))) {
            try (VhostUserBlkFrontend dev = VhostUserBlkFrontend.open(sock,
                    new VhostUserBlkFrontend.Options(1, 128, true, 1 << 20));
                    BlockIo io = new BlockIo(dev, 0, 65536)) {
                long sectors = dev.capacityBytes() / 512;
                for (int i = 0; i < WRITES; i++) {
                    io.data().set(ValueLayout.JAVA_INT, 0, i);
                    assertEquals(0, io.write(i * 8L, 4096), "write " + i);
                }
                for (int i = 0; i < READS; i++) {
                    assertEquals(0, io.read((i % WRITES) * 8L, 4096), "read " + i);
                    assertEquals(i % WRITES, io.data().get(ValueLayout.JAVA_INT, 0));
                }
                for (int i = 0; i < OUT_OF_RANGE; i++) {
                    assertEquals(1, io.read(sectors, 4096), "a read past the end is IOERR");
                }
            }
            Duration wait = Duration.ofSeconds(30);
            String dev = "disk=\"disk0\"";
            assertEquals(WRITES, prometheus.await(
                    "sum(vhostd_requests_total{" + dev + ",type=\"write\",status=\"ok\"})", WRITES, wait));
            assertEquals(READS, prometheus.await(
                    "sum(vhostd_requests_total{" + dev + ",type=\"read\",status=\"ok\"})", READS, wait));
            assertEquals(OUT_OF_RANGE, prometheus.await(
                    "sum(vhostd_requests_total{" + dev + ",type=\"read\",status=\"ioerr\"})", OUT_OF_RANGE, wait));
            assertEquals(WRITES * 4096.0, prometheus.await(
                    "sum(vhostd_written_bytes_total{" + dev + "})", WRITES * 4096.0, wait));
            assertEquals(READS * 4096.0, prometheus.query("sum(vhostd_read_bytes_total{" + dev + "})"));
            // The histogram counts every completed read, errors included, and its +Inf bucket agrees.
            assertEquals(READS + OUT_OF_RANGE, prometheus.query(
                    "sum(vhostd_request_duration_seconds_count{" + dev + ",type=\"read\"})"));
            assertEquals(WRITES, prometheus.query(
                    "sum(vhostd_request_duration_seconds_bucket{" + dev + ",type=\"write\",le=\"+Inf\"})"));
            double p99 = prometheus.query("histogram_quantile(0.99, sum by (le) (vhostd_request_duration_seconds_bucket{"
                    + dev + ",type=\"write\"}))");
            assertTrue(p99 > 0 && p99 <= 1.0, "write p99 from the histogram: " + p99);
            // The front-end has gone: the device shows disconnected, with one connect and one disconnect.
            assertEquals(0, prometheus.await("vhostd_connected{" + dev + "}", 0, wait));
            assertEquals(1, prometheus.await("sum(vhostd_connections_total{" + dev + ",event=\"disconnect\"})", 1, wait));
            assertTrue(prometheus.query("sum(vhostd_kicks_total{" + dev + "})") > 0);
            assertTrue(prometheus.query("vhostd_capacity_bytes{" + dev + "}") == 64.0 * 1024 * 1024);
        }
    }
}

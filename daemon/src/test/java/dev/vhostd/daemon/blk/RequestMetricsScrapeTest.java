package dev.vhostd.daemon.blk;

import java.nio.file.Path;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.vhostd.backend.Aio;
import dev.vhostd.backend.BackendOptions;
import dev.vhostd.backend.Backends;
import dev.vhostd.backend.BlockBackend;
import dev.vhostd.daemon.metrics.DeviceMetrics;
import dev.vhostd.daemon.metrics.LatencyBuckets;
import dev.vhostd.daemon.metrics.QueueMetrics;
import dev.vhostd.daemon.metrics.RequestStatus;
import dev.vhostd.daemon.metrics.RequestType;
import dev.vhostd.daemon.metrics.VhostdMetrics;
import dev.vhostd.protocol.connection.VhostUserServer;
import dev.vhostd.protocol.engine.VhostUserEngine;
import dev.vhostd.protocol.frontend.BlockIo;
import dev.vhostd.protocol.frontend.VhostUserBlkFrontend;
import dev.vhostd.protocol.frontend.VirtioBlkSpec;
import dev.vhostd.protocol.poll.PollerGroup;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The request path counts each request before the poller publishes the used ring, and sets the
 * in-flight gauge at the end of each batch, also before: so once the driver has seen N completions,
 * a scrape sees exactly N requests, their bytes and N histogram entries, with nothing in flight.
 */
class RequestMetricsScrapeTest {
    @TempDir
    Path dir;

    private final VhostdMetrics registry = VhostdMetrics.enabled();
    private BlockBackend backend;
    private PollerGroup pollers;
    private VhostUserServer server;
    private Thread serving;

    @AfterEach
    void stop() throws Exception {
        if (server != null) {
            server.close();
            serving.join(10_000);
        }
        if (pollers != null) {
            pollers.close();
        }
        if (backend != null) {
            backend.close();
        }
        registry.close();
    }

    @Test
    void afterNCompletionsAScrapeSeesExactlyN() throws Exception {
        backend = Backends.open("null:16M", new BackendOptions(16 << 20, false, false, 0, Aio.SYNC, 256));
        DeviceMetrics metrics = registry.device("pub");
        VirtioBlkDevice device = new VirtioBlkDevice(backend, new BlkOptions(1, 256, "pub", false), metrics);
        pollers = new PollerGroup("pub", 1, 0);
        Path sock = dir.resolve("pub.sock");
        server = VhostUserServer.bind(sock);
        serving = Thread.ofPlatform().name("pub-serve").start(
                () -> server.serve(() -> new VhostUserEngine("pub", device, pollers, null, null)));
        try (VhostUserBlkFrontend dev = VhostUserBlkFrontend.open(sock,
                new VhostUserBlkFrontend.Options(1, 256, true, 4 << 20, VhostUserBlkFrontend.Options.DEFAULT_BLK_FEATURES));
                BlockIo io = new BlockIo(dev, 0, 4096)) {
            QueueMetrics q = metrics.queue(0);
            long[] buckets = new long[LatencyBuckets.COUNT];
            for (int n = 1; n <= 200; n++) {
                // Reads and writes alternate, and every tenth request is past the end (an I/O error).
                boolean write = n % 2 == 0;
                long sector = n % 10 == 0 ? (16 << 20) / 512 : n * 8L;
                int status = write ? io.write(sector, 4096) : io.read(sector, 4096);
                assertEquals(n % 10 == 0 ? VirtioBlkSpec.S_IOERR : VirtioBlkSpec.S_OK, status, "request " + n);
                // Read at once, no waiting: the counts were stored before the used ring was published.
                long reads = q.requests(RequestType.READ, RequestStatus.OK);
                long writes = q.requests(RequestType.WRITE, RequestStatus.OK);
                long errors = q.requests(RequestType.WRITE, RequestStatus.IOERR) + q.requests(RequestType.READ, RequestStatus.IOERR);
                assertEquals(n, reads + writes + errors, "requests seen after " + n + " completed");
                assertEquals(n / 10, errors, "errors seen after " + n + " completed");
                assertEquals(4096L * reads, q.readBytes(), "read bytes after " + n);
                assertEquals(4096L * writes, q.writtenBytes(), "written bytes after " + n);
                assertEquals(n, q.latencyBuckets(RequestType.READ, buckets) + q.latencyBuckets(RequestType.WRITE, buckets),
                        "histogram entries after " + n);
                assertEquals(0, q.inFlight(), "in flight after " + n + " completed");
            }
        }
    }
}

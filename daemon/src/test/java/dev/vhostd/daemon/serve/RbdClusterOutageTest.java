package dev.vhostd.daemon.serve;

import static dev.vhostd.daemon.serve.ControlCalls.call;
import static dev.vhostd.daemon.serve.ControlCalls.result;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import com.fasterxml.jackson.databind.JsonNode;

import dev.vhostd.backend.CephCluster;
import dev.vhostd.daemon.guest.GuestResult;
import dev.vhostd.daemon.guest.GuestVm;
import dev.vhostd.daemon.guest.RunningGuest;

/**
 * A Ceph cluster that goes away: a running guest gets I/O errors within io_timeout and its disk works
 * again when the cluster returns, with the cluster's latency histogram exposed throughout; and a
 * cluster that stops answering blocks only the calls that need it, never the whole daemon.
 * librbd's control calls (open, resize, close) wait for the OSDs, forever with io_timeout=0; the
 * control API serves each client on a virtual thread, and a virtual thread inside a native call
 * holds its carrier. With as many such calls as carriers, every virtual thread of the daemon (the
 * control API, each disk's vhost-user connection) would stop until the cluster returned.
 */
class RbdClusterOutageTest {
    /** Carrier threads of the daemon's virtual threads: fixed, so the test does not depend on the core count. */
    private static final int CARRIERS = 2;
    private static CephCluster ceph;

    @TempDir
    Path dir;

    @BeforeAll
    static void start() throws Exception {
        GuestVm.prepare();
        ceph = CephCluster.start();
    }

    @AfterAll
    static void stop() throws Exception {
        if (ceph != null) {
            ceph.close();
        }
    }

    @Test
    void aGuestGetsIoErrorsWithinTheIoTimeoutAndItsDiskWorksAgainWhenTheClusterReturns() throws Exception {
        int ioTimeout = 5;
        String image = ceph.newImageName("away");
        ceph.rbd("create", "--size", "32M", "rbd/" + image);
        int port;
        try (java.net.ServerSocket s = new java.net.ServerSocket(0)) {
            port = s.getLocalPort();
        }
        Path sock = dir.resolve("away.sock");
        // Writes (O_DIRECT: no page cache) every half second until one fails, timed with /proc/uptime
        // (busybox date has no sub-second format); then writes until the disk answers again. Writes, not
        // reads: with the object map librbd answers reads of never-written blocks without the OSDs.
        String script = """
                dd if=/dev/zero of=/dev/vda bs=4096 count=1 oflag=direct 2>/dev/null
                echo "RESULT first_rc=$?"
                echo "PHASE stop-the-cluster"
                i=0; rc=0; t0=0; t1=0
                while [ $i -lt 120 ]; do
                  t0=$(cut -d' ' -f1 /proc/uptime)
                  dd if=/dev/zero of=/dev/vda bs=4096 count=1 seek=$((i+1)) oflag=direct 2>/dev/null; rc=$?
                  t1=$(cut -d' ' -f1 /proc/uptime)
                  [ $rc -ne 0 ] && break
                  i=$((i+1)); sleep 0.5
                done
                echo "RESULT failed_rc=$rc t0=$t0 t1=$t1"
                dmesg | grep -i 'error' | tail -n 2
                echo "PHASE start-the-cluster"
                j=0
                until dd if=/dev/zero of=/dev/vda bs=4096 count=1 seek=1000 oflag=direct 2>/dev/null; do
                  j=$((j+1)); [ $j -ge 180 ] && break; sleep 1
                done
                echo "RESULT recovered_rc=$? waited_s=$j"
                """;
        try (VhostdProcess vhostd = VhostdProcess.serve(sock, dir.resolve("vhostd.log"), "--backend",
                "rbd:rbd/" + image + ",conf=" + ceph.conf() + ",io_timeout=" + ioTimeout, "--metrics", "127.0.0.1:" + port);
             RunningGuest guest = GuestVm.start(sock, script, GuestVm.Options.defaults().withTimeout(Duration.ofSeconds(500)))) {
            String disk = "disk=\"away\"";
            boolean osdUp = true;
            try {
                guest.awaitConsoleLine("PHASE stop-the-cluster", Duration.ofSeconds(300));
                ceph.stopOsd();
                osdUp = false;
                guest.awaitConsoleLine("PHASE start-the-cluster", Duration.ofSeconds(180));
                assertTrue(vhostd.isAlive(), vhostd.log());
                assertTrue(VhostdProcess.scrape(port, "vhostd_requests_total", disk, "status=\"ioerr\"") >= 1,
                        "the failed write is counted as an I/O error\n" + vhostd.log());
                ceph.startOsd();
                osdUp = true;
            } finally {
                if (!osdUp) {
                    ceph.startOsd();
                }
            }
            GuestResult r = guest.await();
            String why = r.describe() + "\n--- vhostd log ---\n" + vhostd.log();
            r.requireSuccess();
            assertEquals(0, r.resultLong("first_rc"), why);
            assertTrue(r.resultLong("failed_rc") != 0, "no write failed while the OSD was down\n" + why);
            double seconds = r.resultDouble("t1") - r.resultDouble("t0");
            assertTrue(seconds < ioTimeout + 15, "the failing write took " + seconds + " s with io_timeout=" + ioTimeout
                    + " (the default would be 30 s)\n" + why);
            assertEquals(0, r.resultLong("recovered_rc"), "the disk did not answer again after the OSD returned\n" + why);
            // The cluster's latency histogram (vhostd_backend_latency_seconds) for this disk, its +Inf bucket agreeing.
            double count = VhostdProcess.scrape(port, "vhostd_backend_latency_seconds_count", disk);
            assertTrue(count >= 3, "backend latency samples: " + count);
            assertEquals(count, VhostdProcess.scrape(port, "vhostd_backend_latency_seconds_bucket", disk, "le=\"+Inf\""));
            assertTrue(VhostdProcess.scrape(port, "vhostd_backend_latency_seconds_sum", disk) > 0);
        }
    }

    /**
     * io_timeout=0: a guest's verified fio keeps writing while the OSD is away; its requests wait in
     * librbd (in flight, none failed) for longer than any io_timeout would allow here, and once the
     * OSD is back they complete, and fio finishes and verifies with no error.
     */
    @Test
    void withIoTimeoutZeroAGuestsWritesWaitForTheClusterAndFioVerifies() throws Exception {
        String image = ceph.newImageName("hold");
        ceph.rbd("create", "--size", "32M", "rbd/" + image);
        int port;
        try (java.net.ServerSocket s = new java.net.ServerSocket(0)) {
            port = s.getLocalPort();
        }
        Path sock = dir.resolve("hold.sock");
        // 2048 writes at 100 per second: fio is still writing when the OSD stops 3 s in, and the
        // outage (20 s) comes on top. The verify pass reads at up to 1000 per second.
        String script = """
                fio --name=hold --filename=/dev/vda --direct=1 --ioengine=libaio --rw=randwrite --bs=4k \
                    --iodepth=8 --size=8M --rate_iops=1000,100 --verify=crc32c --verify_fatal=1 --do_verify=1 \
                    --minimal --terse-version=3 >/tmp/h.out 2>&1 &
                fio_pid=$!
                sleep 3
                echo "PHASE stop-the-cluster"
                wait $fio_pid
                echo "RESULT fio_rc=$? fio_err=$(cut -d';' -f5 /tmp/h.out) io_errors=$(dmesg | grep -ci 'I/O error')"
                """;
        int outage = 20;
        try (VhostdProcess vhostd = VhostdProcess.serve(sock, dir.resolve("vhostd.log"), "--backend",
                "rbd:rbd/" + image + ",conf=" + ceph.conf() + ",io_timeout=0", "--metrics", "127.0.0.1:" + port);
             RunningGuest guest = GuestVm.start(sock, script, GuestVm.Options.defaults().withTimeout(Duration.ofSeconds(500)))) {
            String disk = "disk=\"hold\"";
            boolean osdUp = true;
            try {
                guest.awaitConsoleLine("PHASE stop-the-cluster", Duration.ofSeconds(300));
                ceph.stopOsd();
                osdUp = false;
                Thread.sleep(outage * 1000L);
                assertTrue(vhostd.isAlive(), vhostd.log());
                assertTrue(VhostdProcess.scrape(port, "vhostd_requests_in_flight", disk) >= 1,
                        "no request waits for the cluster after " + outage + " s without the OSD\n" + vhostd.log());
                assertEquals(0, VhostdProcess.scrape(port, "vhostd_requests_total", disk, "status=\"ioerr\""),
                        "a request failed while the OSD was down, with io_timeout=0\n" + vhostd.log());
                ceph.startOsd();
                osdUp = true;
            } finally {
                if (!osdUp) {
                    ceph.startOsd();
                }
            }
            GuestResult r = guest.await();
            String why = r.describe() + "\n--- vhostd log ---\n" + vhostd.log();
            r.requireSuccess();
            assertEquals(0, r.resultLong("fio_rc"), why);
            assertEquals(0, r.resultLong("fio_err"), why);
            assertEquals(0, r.resultLong("io_errors"), why);
            assertEquals(0, VhostdProcess.scrape(port, "vhostd_requests_total", disk, "status=\"ioerr\""), why);
        }
    }

    @Test
    void disksAddedWhileTheOsdsAreDownWaitWithoutStoppingTheRestOfTheDaemon() throws Exception {
        Path control = dir.resolve("control.sock");
        List<String> images = new ArrayList<>();
        for (int i = 0; i <= CARRIERS; i++) {
            String image = ceph.newImageName("outage");
            ceph.rbd("create", "--size", "16M", "rbd/" + image);
            images.add(image);
        }
        Map<String, String> env = Map.of("JAVA_TOOL_OPTIONS", "-Djdk.virtualThreadScheduler.parallelism=" + CARRIERS
                + " -Djdk.virtualThreadScheduler.maxPoolSize=" + CARRIERS);
        try (VhostdProcess vhostd = VhostdProcess.start(control, dir.resolve("vhostd.log"), env, "--control",
                control.toString())) {
            result(control, "disk_add", "{\"name\":\"local\",\"socket\":\"" + dir.resolve("local.sock")
                    + "\",\"backend\":\"memory:16M\"}");
            ceph.stopOsd();
            List<CompletableFuture<JsonNode>> adds = new ArrayList<>();
            boolean osdUp = false;
            try {
                // More opens than carriers, each waiting in librbd for the OSD (io_timeout=0: no time limit).
                for (int i = 0; i <= CARRIERS; i++) {
                    String name = "rbd" + i;
                    String params = "{\"name\":\"" + name + "\",\"socket\":\"" + dir.resolve(name + ".sock")
                            + "\",\"backend\":\"rbd:rbd/" + images.get(i) + ",conf=" + ceph.conf() + ",io_timeout=0\"}";
                    adds.add(CompletableFuture.supplyAsync(() -> {
                        try {
                            return call(control, "disk_add", params);
                        } catch (java.io.IOException e) {
                            throw new java.io.UncheckedIOException(e);
                        }
                    }, runnable -> Thread.ofPlatform().daemon().start(runnable)));
                }
                // Give the opens time to reach librbd's wait.
                Thread.sleep(3000);
                for (CompletableFuture<JsonNode> add : adds) {
                    assertTrue(!add.isDone(), "an open completed while the OSD was down: " + add.getNow(null));
                }
                // The rest of the daemon answers: the control API, and a disk that needs no cluster.
                CompletableFuture<JsonNode> get = CompletableFuture.supplyAsync(() -> {
                    try {
                        return call(control, "disk_get", "{\"name\":\"local\"}");
                    } catch (java.io.IOException e) {
                        throw new java.io.UncheckedIOException(e);
                    }
                }, runnable -> Thread.ofPlatform().daemon().start(runnable));
                JsonNode local;
                try {
                    local = get.get(10, TimeUnit.SECONDS);
                } catch (TimeoutException e) {
                    throw new AssertionError("the control API did not answer within 10 s while " + (CARRIERS + 1)
                            + " rbd opens waited for the cluster: the daemon is stuck\n" + vhostd.log());
                }
                assertEquals(16L << 20, local.get("result").get("size").asLong(), local.toString());

                ceph.startOsd();
                osdUp = true;
                for (CompletableFuture<JsonNode> add : adds) {
                    JsonNode r;
                    try {
                        r = add.get(120, TimeUnit.SECONDS);
                    } catch (ExecutionException | TimeoutException e) {
                        throw new AssertionError("disk_add did not finish within 120 s of the OSD's return\n"
                                + vhostd.log(), e);
                    }
                    assertTrue(r.get("error") == null, r.toString());
                    assertEquals(16L << 20, r.get("result").get("size").asLong(), r.toString());
                }
            } finally {
                if (!osdUp) {
                    ceph.startOsd();
                }
            }
            assertEquals(0, vhostd.terminate(Duration.ofSeconds(60)), vhostd.log());
        }
    }
}

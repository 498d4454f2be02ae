package dev.vhostd.daemon.serve;

import static dev.vhostd.daemon.serve.ControlCalls.call;
import static dev.vhostd.daemon.serve.ControlCalls.result;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
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

/**
 * A Ceph cluster that stops answering blocks only the calls that need it, never the whole daemon.
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
        ceph = CephCluster.start();
    }

    @AfterAll
    static void stop() throws Exception {
        if (ceph != null) {
            ceph.close();
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
            assertEquals(0, vhostd.terminate(java.time.Duration.ofSeconds(60)), vhostd.log());
        }
    }
}

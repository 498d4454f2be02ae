package dev.vhostd.daemon.packaging;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.function.BooleanSupplier;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * The container image, built with Docker from the Dockerfile (scripts/container/build-local.sh) and run
 * the way README's container section says: the socket directory bind-mounted from the host, setgid
 * and owned by QEMU's group, so a front-end on the host running as an ordinary user in that group
 * attaches; HEALTHCHECK turns healthy; `docker stop` drains, exits 0 and removes the socket.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ContainerImageIT {
    /** The image's fixed user (Dockerfile). */
    private static final int VHOSTD_UID = 10001;
    private static Path work;
    private static Path runDir;
    private static String image;
    private static String container;
    /** Stand-ins for QEMU's user and group on the host, and a user outside that group. */
    private static int qemuGroup;
    private static int qemuUser;
    private static int outsider;

    @BeforeAll
    static void buildAndRun() throws IOException {
        Docker.ensureReady();
        image = Exec.ok(Duration.ofMinutes(20), List.of(Repo.script("scripts/container/build-local.sh").toString()))
                .strip().lines().reduce((a, b) -> b).orElseThrow();
        int[] free = freeIds(3);
        qemuGroup = free[0];
        qemuUser = free[1];
        outsider = free[2];
        work = Files.createTempDirectory("vhostd-container-it");
        Exec.ok(Duration.ofSeconds(10), List.of("chmod", "0755", work.toString()));
        runDir = work.resolve("run-vhostd");
        Path libDir = work.resolve("lib-vhostd");
        // README step 2, verbatim but for the paths and QEMU's group.
        Exec.ok(Duration.ofSeconds(10), List.of("install", "-d", "-m2750", "-o", "10001", "-g",
                Integer.toString(qemuGroup), runDir.toString()));
        Exec.ok(Duration.ofSeconds(10), List.of("install", "-d", "-m0750", "-o", "10001", "-g", "10001",
                libDir.toString()));
        // README step 3 (Docker picks the host port here: tests never take a fixed one).
        container = Docker.ok("run", "-d", "--restart", "unless-stopped", "--memory", "1g",
                "-v", runDir + ":/run/vhostd", "-v", libDir + ":/var/lib/vhostd", "-p", "127.0.0.1::9477",
                image, "serve", "--socket", "/run/vhostd/disk1.sock", "--backend", "file:/var/lib/vhostd/disk1.img",
                "--size", "256M", "--queues", "1", "--metrics", "0.0.0.0:9477").strip();
        // "serving" is logged once the socket has its final mode (vhostd chmods it after bind).
        awaitTrue(Duration.ofSeconds(90), "vhostd in the container serves", () -> Files.exists(runDir.resolve("disk1.sock"))
                && Docker.run(Duration.ofSeconds(30), "logs", container).output().contains(" serving "));
    }

    @AfterAll
    static void removeContainer() {
        Docker.remove(container);
        if (work != null) {
            Exec.run(Duration.ofMinutes(1), List.of("rm", "-rf", work.toString()));
        }
    }

    @Test
    @Order(1)
    void socketIsOnlyForQemusGroup() {
        Exec stat = Exec.run(Duration.ofSeconds(10), List.of("stat", "-c", "%u:%g %a", runDir.resolve("disk1.sock").toString()));
        assertEquals(VHOSTD_UID + ":" + qemuGroup + " 660", stat.output().strip());
        // A host user outside QEMU's group cannot connect at all.
        Exec refused = Exec.run(Duration.ofMinutes(2), asUser(outsider, outsider, benchCommand()));
        assertNotEquals(0, refused.exitCode(), refused.describe());
        assertTrue(refused.output().contains("Permission denied"), refused.describe());
    }

    @Test
    @Order(2)
    void aFrontEndOnTheHostInQemusGroupRunsVerifiedIo() {
        HostBench.verify(runDir.resolve("disk1.sock"), asUser(qemuUser, qemuGroup, List.of()));
        String owner = Exec.ok(Duration.ofSeconds(10), List.of("stat", "-c", "%u:%g %a",
                work.resolve("lib-vhostd/disk1.img").toString())).strip();
        assertTrue(owner.matches(VHOSTD_UID + ":10001 [67][0-7]0"), "the image vhostd created is not world-readable: " + owner);
    }

    @Test
    @Order(3)
    void healthcheckReachesHealthy() {
        awaitTrue(Duration.ofSeconds(90), "docker reports the container healthy",
                () -> Docker.ok("inspect", "-f", "{{.State.Health.Status}}", container).strip().equals("healthy"));
    }

    @Test
    @Order(4)
    void metricsSayWhatRunsThroughThePublishedPort() throws Exception {
        String hostPort = Docker.ok("port", container, "9477").strip().lines().findFirst().orElseThrow();
        var client = java.net.http.HttpClient.newHttpClient();
        var response = client.send(java.net.http.HttpRequest.newBuilder(java.net.URI.create("http://" + hostPort + "/metrics"))
                .timeout(Duration.ofSeconds(10)).build(), java.net.http.HttpResponse.BodyHandlers.ofString());
        assertEquals(200, response.statusCode());
        assertTrue(response.body().lines().anyMatch(l -> l.startsWith("vhostd_build_info{") && l.endsWith(" 1.0")),
                response.body());
    }

    @Test
    @Order(5)
    void dockerStopDrainsExitsZeroAndRemovesTheSocket() {
        Docker.ok("stop", "-t", "30", container);
        assertEquals("0", Docker.ok("inspect", "-f", "{{.State.ExitCode}}", container).strip(),
                Docker.run(Duration.ofSeconds(30), "logs", container).output());
        assertFalse(Files.exists(runDir.resolve("disk1.sock")), "the socket file is removed on stop");
        String log = Docker.run(Duration.ofSeconds(30), "logs", container).output();
        assertTrue(log.contains("shutting down: finishing in-flight requests"), log);
        assertTrue(log.lines().anyMatch(l -> l.endsWith(" stopped")), log);
    }

    private static List<String> benchCommand() {
        return List.of(Repo.java(), "--enable-native-access=ALL-UNNAMED", "-jar", Repo.jar().toString(), "bench",
                "--socket", runDir.resolve("disk1.sock").toString(), "--seconds", "1", "--ramp", "0");
    }

    /** Runs as an unprivileged host user with only the given supplementary group, like QEMU's user. */
    private static List<String> asUser(int uid, int gid, List<String> cmd) {
        List<String> all = new java.util.ArrayList<>(List.of("setpriv", "--reuid=" + uid, "--regid=" + gid,
                "--groups=" + gid, "--"));
        all.addAll(cmd);
        return all;
    }

    /** Numeric ids no local user or group has, so the test touches no real account. */
    private static int[] freeIds(int n) throws IOException {
        Set<String> taken;
        try (Stream<String> p = Files.lines(Path.of("/etc/passwd")); Stream<String> g = Files.lines(Path.of("/etc/group"))) {
            taken = Stream.concat(p, g).map(l -> l.split(":")).filter(f -> f.length > 2).map(f -> f[2])
                    .collect(Collectors.toSet());
        }
        int[] ids = new int[n];
        int next = 61000 + (int) (ProcessHandle.current().pid() % 1000) * 3;
        for (int i = 0; i < n; i++) {
            while (taken.contains(Integer.toString(next)) || next == VHOSTD_UID) {
                next++;
            }
            ids[i] = next++;
        }
        return ids;
    }

    private static void awaitTrue(Duration limit, String what, BooleanSupplier condition) {
        long deadline = System.nanoTime() + limit.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError(what + ": not within " + limit
                        + (container == null ? "" : "\n" + Docker.run(Duration.ofSeconds(30), "logs", container).output()
                        + "\n" + Docker.run(Duration.ofSeconds(30), "inspect", "-f", "{{json .State}}", container).output()));
            }
            try {
                Thread.sleep(250);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException(e);
            }
        }
    }
}

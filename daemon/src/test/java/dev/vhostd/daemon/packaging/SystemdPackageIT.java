package dev.vhostd.daemon.packaging;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Predicate;
import java.util.stream.Collectors;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * The .deb under a real systemd: a Debian 12 container (debootstrap, cached) boots systemd as PID 1,
 * the package is installed with dpkg, and a front-end on the host reaches vhostd through the socket
 * unit's socket on a bind-mounted /run/vhostd. One container for the whole class; the tests are the
 * steps of one life cycle, in order: install, activate, stop, watchdog, upgrade, remove, purge.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class SystemdPackageIT {
    private static final String UNIT = "vhostd@disk1.service";
    private static Path work;
    private static Path runDir;
    private static DebPackage first;
    private static DebPackage upgrade;
    private static String container;
    private static Set<String> filesBefore;

    @BeforeAll
    static void bootSystemd() throws IOException {
        Docker.ensureReady();
        work = Files.createTempDirectory("vhostd-systemd-it");
        runDir = Files.createDirectories(work.resolve("run-vhostd"));
        Path debs = Files.createDirectories(work.resolve("debs"));
        // Both builds at once (jlink and compression take most of the time); the derived version is
        // read first, since the upgrade's is the same plus a suffix.
        String derived = DebPackage.derivedVersion();
        var later = java.util.concurrent.CompletableFuture.supplyAsync(
                // '+' sorts after the end of a version in Debian's order: a newer build of the same commit.
                () -> DebPackage.build(debs.resolve("upgrade"), derived + "+upgrade"));
        first = DebPackage.build(debs, null);
        upgrade = later.join();
        assertEquals(derived, first.version());
        container = Docker.ok("run", "-d", "--cap-add", "SYS_ADMIN", "--tmpfs", "/run", "--tmpfs", "/run/lock",
                "-v", "/sys/fs/cgroup:/sys/fs/cgroup:ro", "--stop-signal", "SIGRTMIN+3",
                "-v", runDir + ":/run/vhostd", "-v", debs + ":/debs:ro", Docker.SYSTEMD_IMAGE, "/sbin/init").strip();
        awaitTrue(Duration.ofSeconds(60), "systemd in the container reaches running", () -> {
            Exec r = Docker.run(Duration.ofSeconds(30), "exec", container, "systemctl", "is-system-running", "--wait");
            return r.output().strip().equals("running");
        });
        filesBefore = listFiles();
    }

    @AfterAll
    static void removeContainer() throws IOException {
        Docker.remove(container);
        if (work != null) {
            Exec.run(Duration.ofMinutes(1), List.of("rm", "-rf", work.toString()));
        }
    }

    @Test
    @Order(1)
    void versionComesFromTheBuildWithoutSnapshot() {
        assertFalse(first.version().contains("SNAPSHOT"), first.version());
        assertTrue(first.version().matches("\\d+\\.\\d+\\.\\d+(~dev\\.\\d{14}\\.g[0-9a-f]{10})?"), first.version());
        // About 45 MB installed: the linked runtime, not a whole JDK.
        String installedKb = Exec.ok(Duration.ofSeconds(30), List.of("dpkg-deb", "-f", first.file().toString(),
                "Installed-Size")).strip();
        assertTrue(Integer.parseInt(installedKb) < 60_000, "Installed-Size " + installedKb + " KiB");
    }

    @Test
    @Order(2)
    void installsAndStartsOnTheFirstConnection() {
        String out = Docker.sh(container, "dpkg -i /debs/" + first.file().getFileName() + " 2>&1");
        assertTrue(out.contains("Setting up vhostd (" + first.version() + ")"), out);
        assertEquals("vhostd " + first.version(),
                Docker.sh(container, "vhostd --version").lines().findFirst().orElseThrow());
        // The launcher runs the package's own Java 25, not a system java (there is none here).
        assertTrue(Docker.run(Duration.ofSeconds(10), "exec", container, "sh", "-c", "command -v java").exitCode() != 0);
        assertEquals("vhostd:vhostd-clients 750", Docker.sh(container, "stat -c '%U:%G %a' /run/vhostd").strip());
        assertEquals("vhostd:vhostd 750", Docker.sh(container, "stat -c '%U:%G %a' /var/lib/vhostd").strip());
        Docker.sh(container, "printf 'VHOSTD_BACKEND=file:/var/lib/vhostd/disk1.img\\n"
                + "VHOSTD_ARGS=--size 128M --queues 1 --serial disk1\\n' > /etc/vhostd/disk1.conf"
                + " && systemctl enable --now vhostd@disk1.socket");
        assertEquals("inactive", state(UNIT).get("ActiveState"), "nothing starts vhostd before a front-end connects");
        assertTrue(Files.exists(runDir.resolve("disk1.sock")), "the socket unit's socket is visible on the host");

        HostBench.verify(runDir.resolve("disk1.sock"));

        Map<String, String> s = state(UNIT);
        assertEquals("active", s.get("ActiveState"), s.toString());
        assertEquals("running", s.get("SubState"), s.toString());
        // Type=notify: "active" means vhostd sent READY=1; its status line names the disk after the
        // unit instance, and so do its log lines (never the inherited fd's number).
        assertEquals("serving 1 disk(s): disk1", s.get("StatusText"), s.toString());
        String journal = journal();
        assertTrue(journal.contains("vhostd " + first.version() + " starting"), journal);
        assertTrue(journal.contains("disk1: serving file:/var/lib/vhostd/disk1.img"), journal);
        assertFalse(journal.contains("fd3"), journal);
        assertEquals("vhostd:vhostd", Docker.sh(container, "stat -c '%U:%G' /var/lib/vhostd/disk1.img").strip());
    }

    @Test
    @Order(3)
    void stopDrainsAndExitsCleanly() {
        long pid = Long.parseLong(state(UNIT).get("MainPID"));
        assertTrue(pid > 0);
        Docker.sh(container, "systemctl stop " + UNIT);
        Map<String, String> s = state(UNIT);
        assertEquals("inactive", s.get("ActiveState"), s.toString());
        assertEquals("success", s.get("Result"), s.toString());
        String journal = journal();
        assertTrue(journal.contains("shutting down: finishing in-flight requests"), journal);
        assertTrue(journal.lines().anyMatch(l -> l.equals("stopped") || l.endsWith(" stopped")), journal);
        // The socket unit keeps listening: the next connection starts a fresh vhostd.
        assertEquals("active", state("vhostd@disk1.socket").get("ActiveState"));
        HostBench.verify(runDir.resolve("disk1.sock"));
        assertNotEquals(pid, Long.parseLong(state(UNIT).get("MainPID")));
    }

    @Test
    @Order(4)
    void watchdogRestartsAVhostdThatStopsAnswering() {
        // The shipped WatchdogSec=30s would make this test wait a minute; a drop-in shortens the same mechanism.
        Docker.sh(container, "mkdir -p /etc/systemd/system/" + UNIT + ".d && printf '[Service]\\nWatchdogSec=4s\\n"
                + "TimeoutAbortSec=2s\\n' > /etc/systemd/system/" + UNIT + ".d/watchdog.conf"
                + " && systemctl daemon-reload && systemctl restart " + UNIT);
        long pid = Long.parseLong(state(UNIT).get("MainPID"));
        Docker.sh(container, "kill -STOP " + pid);
        awaitTrue(Duration.ofSeconds(60), "systemd restarts the stopped vhostd", () -> {
            Map<String, String> s = state(UNIT);
            return "active".equals(s.get("ActiveState")) && !String.valueOf(pid).equals(s.get("MainPID"));
        });
        assertTrue(journal().contains("Failed with result 'watchdog'"), journal());
        HostBench.verify(runDir.resolve("disk1.sock"));
    }

    @Test
    @Order(5)
    void upgradeKeepsConfigurationAndRestartsRunningInstances() {
        Docker.sh(container, "echo '# kept across upgrades' >> /etc/vhostd/example.conf"
                + " && echo '# disk1, kept' >> /etc/vhostd/disk1.conf");
        long pid = Long.parseLong(state(UNIT).get("MainPID"));
        assertTrue(pid > 0, "an instance runs during the upgrade");
        String out = Docker.sh(container, "dpkg -i /debs/upgrade/" + upgrade.file().getFileName() + " 2>&1");
        assertTrue(out.contains("restarting " + UNIT), out);
        Map<String, String> s = state(UNIT);
        assertEquals("active", s.get("ActiveState"), s.toString());
        assertNotEquals(String.valueOf(pid), s.get("MainPID"));
        assertTrue(journal().contains("vhostd " + upgrade.version() + " starting"), journal());
        assertTrue(Docker.sh(container, "cat /etc/vhostd/example.conf").contains("# kept across upgrades"));
        assertTrue(Docker.sh(container, "cat /etc/vhostd/disk1.conf").contains("# disk1, kept"));
        HostBench.verify(runDir.resolve("disk1.sock"));
    }

    @Test
    @Order(6)
    void removeStopsEverythingAndPurgeLeavesNothing() {
        Docker.sh(container, "dpkg -r vhostd");
        assertEquals("inactive", state(UNIT).get("ActiveState"));
        assertFalse(Files.exists(runDir.resolve("disk1.sock")), "the socket is gone once the package is removed");
        assertTrue(Docker.sh(container, "cat /etc/vhostd/example.conf").contains("# kept across upgrades"),
                "remove keeps configuration");
        // Disk images are the operator's: purge keeps them (and says so) until they are deleted.
        String kept = Docker.sh(container, "dpkg -P vhostd 2>&1; test -f /var/lib/vhostd/disk1.img && echo image-kept");
        assertTrue(kept.contains("kept /var/lib/vhostd") && kept.contains("image-kept"), kept);
        Docker.sh(container, "rm /var/lib/vhostd/disk1.img && dpkg -i /debs/upgrade/" + upgrade.file().getFileName()
                + " && dpkg -P vhostd");
        Set<String> left = new TreeSet<>(listFiles());
        left.removeAll(filesBefore);
        assertEquals(Set.of(), left, "files the package left behind");
        assertEquals("", Docker.sh(container, "getent passwd vhostd; getent group vhostd vhostd-clients; true"));
    }

    /** Every path in the container's root file system, minus dpkg's and journald's own bookkeeping. */
    private static Set<String> listFiles() {
        Predicate<String> bookkeeping = p -> p.startsWith("/var/lib/dpkg/") || p.startsWith("/var/log/")
                || p.startsWith("/var/cache/") || p.startsWith("/var/lib/systemd/") || p.startsWith("/tmp/")
                || p.startsWith("/var/tmp/") || p.startsWith("/etc/ld.so.cache") || p.startsWith("/run/")
                || p.startsWith("/etc/passwd-") || p.startsWith("/etc/group-") || p.startsWith("/etc/shadow-")
                || p.startsWith("/etc/gshadow-") || p.startsWith("/debs");
        String out = Docker.sh(container, "find / -xdev -path /proc -prune -o -path /sys -prune -o -print");
        return Arrays.stream(out.split("\n")).filter(p -> !p.isBlank() && !bookkeeping.test(p))
                .collect(Collectors.toCollection(TreeSet::new));
    }

    private static Map<String, String> state(String unit) {
        String out = Docker.sh(container, "systemctl show -p ActiveState,SubState,MainPID,Result,StatusText,NRestarts "
                + unit);
        return out.lines().filter(l -> l.contains("="))
                .collect(Collectors.toMap(l -> l.substring(0, l.indexOf('=')), l -> l.substring(l.indexOf('=') + 1)));
    }

    private static String journal() {
        return Docker.sh(container, "journalctl --no-pager -o cat -u " + UNIT);
    }

    private static void awaitTrue(Duration limit, String what, java.util.function.BooleanSupplier condition) {
        long deadline = System.nanoTime() + limit.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError(what + ": not within " + limit
                        + (container == null ? "" : "\n" + Docker.run(Duration.ofSeconds(30), "logs", container).output()));
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

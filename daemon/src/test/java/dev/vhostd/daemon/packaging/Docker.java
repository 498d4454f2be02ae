package dev.vhostd.daemon.packaging;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * The Docker CLI of Debian's docker.io, against a daemon scripts/container/dockerd.sh starts when none
 * answers, and the base images scripts/container/base-images.sh makes with debootstrap (cached).
 */
final class Docker {
    /** Debian's docker.io CLI, matching its daemon; another `docker` earlier on PATH may not. */
    static final String CLI = "/usr/bin/docker";
    static final String SYSTEMD_IMAGE = "localhost/vhostd-systemd:bookworm";
    private static boolean ready;

    private Docker() {}

    /** Starts dockerd if needed and imports the base images; once per JVM. */
    static synchronized void ensureReady() {
        if (ready) {
            return;
        }
        Exec.ok(Duration.ofMinutes(1), List.of(Repo.script("scripts/container/dockerd.sh").toString()));
        Exec.ok(Duration.ofMinutes(20), List.of(Repo.script("scripts/container/base-images.sh").toString(), "--import"));
        ready = true;
    }

    static Exec run(Duration limit, String... args) {
        List<String> cmd = new ArrayList<>(List.of(CLI));
        cmd.addAll(List.of(args));
        return Exec.run(limit, cmd);
    }

    static String ok(String... args) {
        Exec r = run(Duration.ofMinutes(5), args);
        if (r.exitCode() != 0) {
            throw new AssertionError(r.describe());
        }
        return r.output();
    }

    /** {@code sh -c SCRIPT} inside a container; fails with the output unless it exits 0. */
    static String sh(String container, String script) {
        return ok("exec", container, "sh", "-c", script);
    }

    /** Removes a container this test created (by its id), whatever state it is in. */
    static void remove(String container) {
        if (container != null) {
            run(Duration.ofMinutes(2), "rm", "-f", "-v", container);
        }
    }
}

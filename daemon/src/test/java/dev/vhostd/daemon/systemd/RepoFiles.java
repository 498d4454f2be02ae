package dev.vhostd.daemon.systemd;

import java.nio.file.Files;
import java.nio.file.Path;

/** Locates files committed outside the module (systemd/, share/) from the test's working directory. */
final class RepoFiles {
    private RepoFiles() {}

    static Path root() {
        Path dir = Path.of(System.getProperty("user.dir")).toAbsolutePath();
        for (Path p = dir; p != null; p = p.getParent()) {
            if (Files.isRegularFile(p.resolve("systemd/vhostd@.service"))) {
                return p;
            }
        }
        throw new IllegalStateException("no systemd/vhostd@.service above " + dir);
    }
}

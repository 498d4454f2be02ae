package dev.vhostd.daemon.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Shared by the tests that run the bench/ scripts against this build's classes. */
final class BenchScripts {
    private BenchScripts() {}

    /** A VHOSTD command line that runs this build (the test class path) on the test's own JVM. */
    static String vhostdCommand() {
        return String.join(" ", ProcessHandle.current().info().command().orElse("java"),
                "--enable-native-access=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"),
                "dev.vhostd.daemon.Main");
    }

    static Path repoRoot() throws IOException {
        for (Path d = Path.of(System.getProperty("user.dir")).toAbsolutePath(); d != null; d = d.getParent()) {
            if (Files.isExecutable(d.resolve("bench/compare.sh"))) {
                return d;
            }
        }
        throw new IOException("bench/compare.sh not found above " + System.getProperty("user.dir"));
    }
}

package dev.vhostd.daemon.packaging;

import java.nio.file.Files;
import java.nio.file.Path;

/** The checkout's root and what the build left in it (these tests run after `package`). */
final class Repo {
    private Repo() {}

    static Path root() {
        Path start = Path.of(System.getProperty("user.dir")).toAbsolutePath();
        for (Path dir = start; dir != null; dir = dir.getParent()) {
            if (Files.isRegularFile(dir.resolve("packaging/build-deb.sh"))) {
                return dir;
            }
        }
        throw new IllegalStateException("no packaging/build-deb.sh in " + start + " or a parent; run from the checkout");
    }

    static Path script(String relative) {
        Path p = root().resolve(relative);
        if (!Files.isExecutable(p)) {
            throw new IllegalStateException(p + " is not executable; 'git checkout -- " + relative + "'");
        }
        return p;
    }

    /** The shaded jar `mvn package` built; failsafe runs after package, so it is this build's. */
    static Path jar() {
        Path jar = root().resolve("daemon/target/vhostd.jar");
        if (!Files.isRegularFile(jar)) {
            throw new IllegalStateException(jar + " is missing: these tests run in `mvn verify` after package");
        }
        return jar;
    }

    /** The JDK 25 `java` running this test (Maven's toolchain), for host-side front-ends. */
    static String java() {
        return ProcessHandle.current().info().command().orElseThrow();
    }
}

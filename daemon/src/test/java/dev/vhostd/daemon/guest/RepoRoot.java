package dev.vhostd.daemon.guest;

import java.nio.file.Files;
import java.nio.file.Path;

/** Finds the checkout's root: the guest scripts live there, while Maven runs tests inside a module. */
final class RepoRoot {
    private RepoRoot() {}

    static Path find() {
        Path start = Path.of(System.getProperty("user.dir")).toAbsolutePath();
        for (Path dir = start; dir != null; dir = dir.getParent()) {
            if (Files.isRegularFile(dir.resolve("scripts/guest/run.sh"))) {
                return dir;
            }
        }
        throw new IllegalStateException("no scripts/guest/run.sh in " + start + " or any parent directory;"
                + " run the tests from inside the vhostd checkout");
    }

    static Path script(String relative) {
        Path script = find().resolve(relative);
        if (!Files.isExecutable(script)) {
            throw new IllegalStateException(script + " is not executable; restore it with 'git checkout -- "
                    + relative + "' or 'chmod +x'");
        }
        return script;
    }
}

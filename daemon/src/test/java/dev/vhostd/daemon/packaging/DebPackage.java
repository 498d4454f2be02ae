package dev.vhostd.daemon.packaging;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/** A .deb built by packaging/build-deb.sh from this build's jar. */
record DebPackage(Path file, String version) {

    /** Builds into {@code dir}; {@code version} null lets the script derive it from the build. */
    static DebPackage build(Path dir, String version) {
        List<String> cmd = new ArrayList<>(List.of(Repo.script("packaging/build-deb.sh").toString(),
                "--jar", Repo.jar().toString(), "--compression", "gzip"));
        if (version != null) {
            cmd.addAll(List.of("--version", version));
        }
        cmd.add(dir.toString());
        String out = Exec.ok(Duration.ofMinutes(10), cmd);
        Path deb = Path.of(out.strip().lines().reduce((a, b) -> b).orElseThrow());
        if (!Files.isRegularFile(deb)) {
            throw new AssertionError("build-deb.sh's last line is not a file: " + out);
        }
        String name = deb.getFileName().toString();
        String v = name.substring("vhostd_".length(), name.length() - "_amd64.deb".length());
        return new DebPackage(deb, v);
    }

    /** The version build-deb.sh derives from the build, without building (--print-version). */
    static String derivedVersion() {
        return Exec.ok(Duration.ofMinutes(1), List.of(Repo.script("packaging/build-deb.sh").toString(),
                "--print-version")).strip();
    }

    long size() {
        try {
            return Files.size(file);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}

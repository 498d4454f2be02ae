package dev.vhostd.daemon.packaging;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** An external command run to completion: its exit status and its combined output. */
record Exec(List<String> command, int exitCode, String output) {

    static Exec run(Duration limit, List<String> cmd) {
        try {
            Path out = Files.createTempFile("vhostd-exec", ".log");
            try {
                ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(out.toFile());
                pb.environment().put("SYSTEMD_COLORS", "0");
                pb.environment().put("SYSTEMD_PAGER", "");
                Process p = pb.start();
                p.getOutputStream().close();
                if (!p.waitFor(limit.toMillis(), TimeUnit.MILLISECONDS)) {
                    p.descendants().forEach(ProcessHandle::destroyForcibly);
                    p.destroyForcibly();
                    throw new AssertionError(cmd + " did not finish within " + limit + ":\n" + Files.readString(out));
                }
                return new Exec(cmd, p.exitValue(), Files.readString(out));
            } finally {
                Files.deleteIfExists(out);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot run " + cmd, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted running " + cmd, e);
        }
    }

    /** Runs {@code cmd} and fails the test with its output unless it exits 0. */
    static String ok(Duration limit, List<String> cmd) {
        Exec r = run(limit, cmd);
        if (r.exitCode != 0) {
            throw new AssertionError(r.describe());
        }
        return r.output;
    }

    String describe() {
        return String.join(" ", command) + " -> exit " + exitCode + ":\n" + output;
    }
}

package dev.vhostd.daemon.bench;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * bench/compare.sh end to end, shortened: real qemu-storage-daemon and vhostd (this build's classes)
 * on both storage kinds it is quickest to set up, one case each, and the notification table.
 */
class CompareScriptTest {
    @TempDir
    Path dir;

    @Test
    void printsTheTableWithRatiosAndTheNotificationCounts() throws Exception {
        Path root = repoRoot();
        String vhostd = String.join(" ", ProcessHandle.current().info().command().orElse("java"),
                "--enable-native-access=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"),
                "dev.vhostd.daemon.Main");
        Path out = dir.resolve("out");
        ProcessBuilder pb = new ProcessBuilder(root.resolve("bench/compare.sh").toString(), "--storage", "null,tmpfs",
                "--cases", "randread-4k-d1-q1", "--runs", "1", "--seconds", "0.5", "--ramp", "0.3", "--size", "64M",
                "--out", out.toString())
                .redirectErrorStream(false)
                .redirectError(dir.resolve("stderr.txt").toFile());
        pb.environment().put("VHOSTD", vhostd);
        pb.environment().put("BENCH_ARGS", "--ramp-max 0");
        Process p = pb.start();
        String stdout = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(240, TimeUnit.SECONDS), "compare.sh did not finish");
        String stderr = Files.readString(dir.resolve("stderr.txt"));
        assertEquals(0, p.exitValue(), stdout + stderr);

        // storage case IOPS-qsd IOPS-B ratio | p50 p50 ratio | p99 p99 ratio | CPU CPU ratio
        Pattern row = Pattern.compile("(?m)^(null|tmpfs) +randread-4k-d1-q1 +(\\d+) +(\\d+) +(\\d+\\.\\d\\d) \\|"
                + " +[\\d.]+ +[\\d.]+ +[\\d.]+ \\| +[\\d.]+ +[\\d.]+ +[\\d.]+ \\| +[\\d.]+ +[\\d.]+ +[\\d.]+$");
        Matcher m = row.matcher(stdout);
        int rows = 0;
        while (m.find()) {
            rows++;
            double qsd = Double.parseDouble(m.group(2));
            double b = Double.parseDouble(m.group(3));
            assertTrue(qsd > 0 && b > 0, m.group());
            assertEquals(b / qsd, Double.parseDouble(m.group(4)), 0.01, "ratio column: " + m.group());
        }
        assertEquals(2, rows, stdout);
        for (String side : List.of("qsd      on ", "qsd      off", "vhostd   on ", "vhostd   off")) {
            assertTrue(stdout.contains(side), side + " missing:\n" + stdout);
        }
        assertTrue(stdout.contains("vhostd: notifications per request with EVENT_IDX = "), stdout);
        assertTrue(Files.readString(out.resolve("results.txt")).lines().count() == 4, "one RESULT per side and case");
    }

    @Test
    void withBothQsdBuildsComparesAgainstTheFasterAndShowsBoth() throws Exception {
        Path root = repoRoot();
        Path out = dir.resolve("both");
        ProcessBuilder pb = new ProcessBuilder(root.resolve("bench/compare.sh").toString(), "--qsd", "both",
                "--storage", "null", "--cases", "randread-4k-d32-q1", "--runs", "1", "--seconds", "0.5", "--ramp", "0.3",
                "--size", "64M", "--notify", "off", "--out", out.toString())
                .redirectError(dir.resolve("both-stderr.txt").toFile());
        pb.environment().put("VHOSTD", BenchScripts.vhostdCommand());
        pb.environment().put("BENCH_ARGS", "--ramp-max 0");
        Process p = pb.start();
        String stdout = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(240, TimeUnit.SECONDS), "compare.sh did not finish");
        assertEquals(0, p.exitValue(), stdout + Files.readString(dir.resolve("both-stderr.txt")));

        // The second table: IOPS of 7.2 and 10.0 side by side, then the main row names the faster one.
        Matcher both = Pattern.compile("(?m)^null +randread-4k-d32-q1 +(\\d+) +(\\d+) +([\\d.]+) \\|"
                + " +[\\d.]+ +[\\d.]+ \\| +[\\d.]+ +[\\d.]+$").matcher(stdout);
        assertTrue(both.find(), stdout);
        double v72 = Double.parseDouble(both.group(1));
        double v10 = Double.parseDouble(both.group(2));
        assertTrue(v72 > 0 && v10 > 0, both.group());
        Matcher main = Pattern.compile("(?m)^null +randread-4k-d32-q1 +(\\d+) +(\\d+) +([\\d.]+) \\|.* (7\\.2\\.\\d+|10\\.0\\.\\d+)$")
                .matcher(stdout);
        assertTrue(main.find(), stdout);
        double ref = Double.parseDouble(main.group(1));
        assertEquals(Math.max(v72, v10), ref, 0.5, "the reference is the faster qsd: " + main.group());
        assertTrue(main.group(4).startsWith(v10 > v72 ? "10.0." : "7.2."), main.group());
        assertEquals(Double.parseDouble(main.group(2)) / ref, Double.parseDouble(main.group(3)), 0.01, main.group());
        assertEquals(3, Files.readString(out.resolve("results.txt")).lines().count(), "one RESULT per back-end");
    }

    private static Path repoRoot() throws IOException {
        for (Path d = Path.of(System.getProperty("user.dir")).toAbsolutePath(); d != null; d = d.getParent()) {
            if (Files.isExecutable(d.resolve("bench/compare.sh"))) {
                return d;
            }
        }
        throw new IOException("bench/compare.sh not found above " + System.getProperty("user.dir"));
    }
}

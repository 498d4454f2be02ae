package dev.vhostd.daemon.bench;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * bench/metrics-cost.sh end to end, shortened: two real vhostd daemons (metrics recorded and served,
 * and --metrics-recording off) under `vhostd bench`, perf stat attached to each. About 20 s.
 */
class MetricsCostScriptTest {
    @TempDir
    Path dir;

    @Test
    void printsCpuPerRequestForMetricsOnAndOffAndTheirRatio() throws Exception {
        Path root = BenchScripts.repoRoot();
        Path out = dir.resolve("out");
        ProcessBuilder pb = new ProcessBuilder(root.resolve("bench/metrics-cost.sh").toString(), "--seconds", "1",
                "--warmup", "1", "--rounds", "1", "--out", out.toString())
                .redirectError(dir.resolve("stderr.txt").toFile());
        pb.environment().put("VHOSTD", BenchScripts.vhostdCommand());
        Process p = pb.start();
        String stdout = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(180, TimeUnit.SECONDS), "metrics-cost.sh did not finish");
        String stderr = Files.readString(dir.resolve("stderr.txt"));
        assertEquals(0, p.exitValue(), stdout + stderr);

        // perf is installed by scripts/install-test-deps.sh: the fallback to /proc must not be taken here.
        assertTrue(stdout.contains("measured with perf stat"), stdout);
        Pattern summary = Pattern.compile("(?m)^(on|off) +(\\d+) +([\\d.]+)(?: +(\\d+) +(\\d+))?$");
        Matcher m = summary.matcher(stdout);
        double on = -1;
        double off = -1;
        while (m.find()) {
            assertTrue(Double.parseDouble(m.group(2)) > 0, m.group());
            double ns = Double.parseDouble(m.group(3));
            // Serving a request costs something, and far less than the millisecond a broken count would show.
            assertTrue(ns > 10 && ns < 1_000_000, m.group());
            if (m.group(1).equals("on")) {
                on = ns;
            } else {
                off = ns;
            }
        }
        assertTrue(on > 0 && off > 0, stdout);
        Matcher ratio = Pattern.compile("metrics on/off: CPU per request ([\\d.]+) \\(([-+][\\d.]+)%\\)").matcher(stdout);
        assertTrue(ratio.find(), stdout);
        assertEquals(on / off, Double.parseDouble(ratio.group(1)), 0.002, stdout);
        // One round: one on/off pair, whose ratio is the median and both ends of the range.
        Matcher perRound = Pattern.compile("metrics on/off per round \\(1 pairs\\): median ([-+][\\d.]+)%.*range ([-+][\\d.]+)% \\.\\. ([-+][\\d.]+)%")
                .matcher(stdout);
        assertTrue(perRound.find(), stdout);
        assertEquals((on / off - 1) * 100, Double.parseDouble(perRound.group(1)), 0.2, stdout);
        assertEquals(perRound.group(2), perRound.group(3), stdout);
        assertEquals(2, Files.readAllLines(out.resolve("results.txt")).size(), "one run per mode");
        assertTrue(Files.readString(out.resolve("vhostd-on.log")).contains("metrics on http://127.0.0.1:"),
                "the 'on' daemon serves its metrics");
        assertTrue(Files.readString(out.resolve("vhostd-off.log")).contains("metrics recording is off"),
                "the 'off' daemon records nothing");
    }
}

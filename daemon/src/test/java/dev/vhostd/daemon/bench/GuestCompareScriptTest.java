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
 * bench/guest-compare.sh end to end, shortened to one case and one boot per back-end: the real test
 * guest under QEMU runs fio against a real qemu-storage-daemon and vhostd (this build's classes), and
 * the table carries IOPS, latency and back-end CPU per guest I/O for both, with ratios, plus the
 * idle line. About 45 s (two TCG boots).
 */
class GuestCompareScriptTest {
    @TempDir
    Path dir;

    @Test
    void bootsTheGuestOnEachBackEndAndPrintsIopsLatencyAndCpuPerIoWithRatios() throws Exception {
        Path root = BenchScripts.repoRoot();
        Path out = dir.resolve("out");
        ProcessBuilder pb = new ProcessBuilder(root.resolve("bench/guest-compare.sh").toString(), "--cases",
                "randread-4k-d1-q1", "--rounds", "1", "--seconds", "2", "--warmup", "0", "--first-warmup", "0", "--idle", "1", "--size", "64M",
                "--out", out.toString())
                .redirectError(dir.resolve("stderr.txt").toFile());
        pb.environment().put("VHOSTD", BenchScripts.vhostdCommand());
        Process p = pb.start();
        String stdout = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(300, TimeUnit.SECONDS), "guest-compare.sh did not finish");
        String stderr = Files.readString(dir.resolve("stderr.txt"));
        assertEquals(0, p.exitValue(), stdout + stderr);

        // storage case back-end IOPS lat-mean lat-p99 CPU-us/IO CPU-%core [| vs REF: IOPS r mean r p99 r CPU r]
        Pattern row = Pattern.compile("(?m)^tmpfs +randread-4k-d1-q1 +(qsd-7\\.2\\.\\d+|vhostd) +(\\d+) +([\\d.]+) +([\\d.]+)"
                + " +([\\d.]+) +([\\d.]+)(?:  \\| vs (qsd-[\\d.]+): IOPS ([\\d.]+) mean ([\\d.]+) p99 ([\\d.]+) CPU ([\\d.]+))?$");
        Matcher m = row.matcher(stdout);
        double qsdIops = -1;
        double qsdCpu = -1;
        int rows = 0;
        while (m.find()) {
            rows++;
            double iops = Double.parseDouble(m.group(2));
            double cpuPerIo = Double.parseDouble(m.group(5));
            assertTrue(iops > 0 && Double.parseDouble(m.group(3)) > 0 && Double.parseDouble(m.group(4)) > 0, m.group());
            // A guest I/O cannot be served for free: each back-end used some CPU during the job.
            assertTrue(cpuPerIo > 0 && Double.parseDouble(m.group(6)) > 0, m.group());
            if (m.group(1).startsWith("qsd")) {
                qsdIops = iops;
                qsdCpu = cpuPerIo;
            } else {
                assertEquals("qsd-7.2", m.group(7).substring(0, 7), m.group());
                assertEquals(iops / qsdIops, Double.parseDouble(m.group(8)), 0.01, "IOPS ratio: " + m.group());
                assertEquals(cpuPerIo / qsdCpu, Double.parseDouble(m.group(11)), 0.02, "CPU ratio: " + m.group());
            }
        }
        assertEquals(2, rows, stdout);
        assertTrue(Pattern.compile("(?m)^Idle guest attached, 1 s per boot, .*tmpfs qsd-7\\.2\\.\\d+ \\d+ ms in [\\d.]+ s .*"
                + "tmpfs vhostd \\d+ ms in [\\d.]+ s \\([\\d.]+% of a core\\)$").matcher(stdout).find(), stdout);
        assertEquals(2, Files.readAllLines(out.resolve("results.txt")).size(), "one fio result per back-end");
    }
}

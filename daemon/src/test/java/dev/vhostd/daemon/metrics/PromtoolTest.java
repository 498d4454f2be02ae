package dev.vhostd.daemon.metrics;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/** Runs promtool over monitoring/prometheus so that `mvn verify` checks the alerting rules. */
class PromtoolTest {
    private static Path promtool() {
        Path p = Path.of(System.getProperty("vhostd.promtool", "/usr/bin/promtool"));
        if (!Files.isExecutable(p)) {
            fail("promtool is needed to check monitoring/prometheus but " + p + " is not executable: install the "
                    + "Debian package 'prometheus' or pass -Dvhostd.promtool=/path/to/promtool");
        }
        return p;
    }

    private static String run(String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>();
        cmd.add(promtool().toString());
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).directory(MonitoringFiles.dir().toFile()).redirectErrorStream(true).start();
        byte[] out = p.getInputStream().readAllBytes();
        if (!p.waitFor(60, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            fail("promtool " + String.join(" ", args) + " did not finish in 60 s");
        }
        String text = new String(out, StandardCharsets.UTF_8);
        if (p.exitValue() != 0) {
            fail("promtool " + String.join(" ", args) + " failed (exit " + p.exitValue() + "):\n" + text);
        }
        return text;
    }

    @Test
    void alertRulesAreValid() throws Exception {
        String out = run("check", "rules", "prometheus/vhostd-alerts.yml");
        assertTrue(out.contains("SUCCESS: 7 rules found"), out);
    }

    @Test
    void alertRuleUnitTestsPass() throws Exception {
        String out = run("test", "rules", "prometheus/tests/vhostd-alerts.test.yml");
        assertTrue(out.contains("SUCCESS"), out);
    }

    @Test
    void exampleConfigIsValid() throws Exception {
        String out = run("check", "config", "prometheus/prometheus-example.yml");
        assertTrue(out.contains("is valid prometheus config file syntax"), out);
    }

    /** The rule tests must cover the alerts the issue names, so none of them can silently rot. */
    @Test
    void unitTestsCoverTheNamedAlerts() throws Exception {
        String tests = Files.readString(MonitoringFiles.alertTests());
        for (String alert : List.of("VhostdDown", "VhostdDeviceDisconnected", "VhostdHighErrorRate",
                "VhostdLatencyP99High", "VhostdInvalidGuestInput")) {
            assertTrue(tests.contains("alertname: " + alert), "no promtool test for " + alert);
        }
    }
}

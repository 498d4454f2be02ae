package dev.vhostd.daemon.metrics;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
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
        assertTrue(out.contains("SUCCESS: 9 rules found"), out);
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

    /**
     * Every rule has a promtool case in which it fires and one in which it must stay quiet, so none can
     * silently rot; the quiet cases include a stopped VM and a socket unit never activated.
     */
    @Test
    void unitTestsCoverEveryRuleFiringAndNotFiring() throws Exception {
        String rules = Files.readString(MonitoringFiles.alerts());
        String tests = Files.readString(MonitoringFiles.alertTests());
        List<String> alerts = java.util.regex.Pattern.compile("(?m)^\\s*- alert: (\\w+)$").matcher(rules).results()
                .map(m -> m.group(1)).toList();
        assertEquals(9, alerts.size(), alerts.toString());
        for (String alert : alerts) {
            var cases = java.util.regex.Pattern.compile("alertname: " + alert + "(?:, exp_alerts: \\[\\]\\}|\\n\\s+exp_alerts:( \\[\\])?)")
                    .matcher(tests).results().map(m -> m.group().contains("[]")).toList();
            assertTrue(cases.contains(true), "no promtool case where " + alert + " must not fire");
            assertTrue(cases.contains(false), "no promtool case where " + alert + " fires");
        }
    }
}

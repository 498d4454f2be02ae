package dev.vhostd.daemon.logging;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.vhostd.daemon.testing.Json;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.logging.LogRecord;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LogFormatTest {

    private static LogRecord record(Level level, String message, Throwable thrown) {
        LogRecord r = new LogRecord(level, message);
        r.setLoggerName("vhostd");
        r.setInstant(Instant.parse("2026-01-31T12:00:00.123Z"));
        r.setThrown(thrown);
        return r;
    }

    @Test
    void journaldTextCarriesThePriorityAndNoTimestamp() {
        TextFormatter f = new TextFormatter(true);
        assertEquals("<6>serving\n", f.format(record(Level.INFO, "serving", null)));
        assertEquals("<4>slow\n", f.format(record(Level.WARNING, "slow", null)));
        assertEquals("<3>broken\n", f.format(record(Level.SEVERE, "broken", null)));
        assertEquals("<7>detail\n", f.format(record(Level.FINE, "detail", null)));
    }

    @Test
    void plainTextHasTimeLevelAndMessage() {
        String line = new TextFormatter(false).format(record(Level.WARNING, "slow", null));
        assertTrue(line.matches("\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d\\.\\d{3} WARN slow\n"), line);
    }

    @Test
    void jsonIsOneParseableObjectPerRecordEvenWithQuotesNewlinesAndControlCharacters() {
        String message = "a \"quoted\" \\ path\nsecond line\u0001";
        String line = new JsonFormatter().format(record(Level.SEVERE, message, new IllegalStateException("why")));
        assertTrue(line.endsWith("}\n") && line.indexOf('\n') == line.length() - 1, line);
        Map<String, Object> o = Json.object(Json.parse(line));
        assertEquals("2026-01-31T12:00:00.123Z", o.get("time"));
        assertEquals("ERROR", o.get("level"));
        assertEquals("vhostd", o.get("logger"));
        assertEquals(message, o.get("message"));
        assertTrue(((String) o.get("error")).startsWith("java.lang.IllegalStateException: why\n"), o.toString());
    }

    /** The options as an operator uses them: a real `vhostd serve` process, its stderr read back. */
    @Test
    void serveTakesLogLevelAndLogFormat(@TempDir Path dir) throws Exception {
        List<String> json = serveAndStop(dir, "json", "--log-format", "json");
        assertFalse(json.isEmpty());
        for (String line : json) {
            Map<String, Object> o = Json.object(Json.parse(line));
            assertTrue(o.keySet().containsAll(List.of("time", "level", "logger", "thread", "message")), line);
        }
        assertTrue(json.stream().anyMatch(l -> l.matches(".*\"message\":\"[^\"]*serving .*")), json.toString());

        // "vhostd ... starting" is an INFO line; at warn it must not be logged.
        List<String> warnOnly = serveAndStop(dir, "warn", "--log-level", "warn");
        assertEquals(List.of(), warnOnly, "--log-level warn hides a clean start and stop");

        List<String> text = serveAndStop(dir, "text");
        assertTrue(text.stream().anyMatch(l -> l.matches("\\S+ \\S+ INFO vhostd \\S+ starting .*")), text.toString());
        for (String line : text) {
            assertFalse(line.contains("\u001b"), "escape code in " + line);
        }
    }

    private static List<String> serveAndStop(Path dir, String name, String... options) throws IOException, InterruptedException {
        Path socket = dir.resolve(name + ".sock");
        Path err = dir.resolve(name + ".log");
        List<String> cmd = new ArrayList<>(List.of(ProcessHandle.current().info().command().orElseThrow(),
                "--enable-native-access=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"),
                "dev.vhostd.daemon.Main", "serve", "--socket", socket.toString(), "--backend", "null:1M"));
        cmd.addAll(List.of(options));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(err.toFile());
        pb.environment().remove("JOURNAL_STREAM");
        Process p = pb.start();
        // SIGTERM only once vhostd says it serves its disks (signal handlers are installed by then); at warn
        // it says nothing, so the socket's existence is all there is, and an early SIGTERM may exit 143.
        boolean quiet = List.of(options).contains("warn");
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        java.util.regex.Pattern ready = java.util.regex.Pattern.compile("serving \\d+ disk");
        while (!Files.exists(socket) || !(quiet || ready.matcher(Files.readString(err)).find())) {
            if (!p.isAlive() || System.nanoTime() > deadline) {
                p.destroyForcibly();
                throw new AssertionError("vhostd did not listen:\n" + Files.readString(err));
            }
            Thread.sleep(50);
        }
        p.destroy();
        assertTrue(p.waitFor(30, TimeUnit.SECONDS));
        if (!quiet) {
            assertEquals(0, p.exitValue(), Files.readString(err));
        }
        return Files.readAllLines(err).stream().filter(l -> !l.isBlank()).toList();
    }
}

package dev.vhostd.daemon.guest;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What a guest run produced.
 *
 * @param exitCode    the guest script's exit code; {@link #TIMED_OUT} when QEMU was killed at the timeout,
 *                    {@link #NO_RESULT} when the guest ended without reporting (QEMU refused to start,
 *                    the back end rejected the device, the kernel panicked)
 * @param console     the guest's serial console, carriage returns removed
 * @param resultLines console lines starting with {@link #RESULT_PREFIX}, prefix removed, in order
 * @param diagnostics what run.sh and QEMU said outside the console (errors, timings)
 */
public record GuestResult(int exitCode, String console, List<String> resultLines, String diagnostics) {

    /** Guest scripts report values as {@code RESULT key=value key2=value2} lines. */
    public static final String RESULT_PREFIX = "RESULT ";
    public static final int TIMED_OUT = 124;
    public static final int NO_RESULT = 125;

    public GuestResult {
        resultLines = List.copyOf(resultLines);
    }

    static GuestResult of(int exitCode, String rawConsole, String diagnostics) {
        String console = rawConsole.replace("\r", "");
        return new GuestResult(exitCode, console, linesWithPrefix(console, RESULT_PREFIX), diagnostics);
    }

    /** Console lines that start with {@code prefix}, with the prefix removed. */
    public static List<String> linesWithPrefix(String console, String prefix) {
        return console.lines().filter(l -> l.startsWith(prefix)).map(l -> l.substring(prefix.length())).toList();
    }

    /**
     * All {@code key=value} tokens of all result lines; a later line's value wins. Tokens without '=' are
     * ignored, values end at whitespace.
     */
    public Map<String, String> results() {
        Map<String, String> values = new LinkedHashMap<>();
        for (String line : resultLines) {
            for (String token : line.trim().split("\\s+")) {
                int eq = token.indexOf('=');
                if (eq > 0) {
                    values.put(token.substring(0, eq), token.substring(eq + 1));
                }
            }
        }
        return values;
    }

    /** The value of a result key; fails, showing the console, when the guest did not report it. */
    public String result(String key) {
        String value = results().get(key);
        if (value == null) {
            throw new AssertionError("the guest reported no RESULT " + key + "=...\n" + describe());
        }
        return value;
    }

    public long resultLong(String key) {
        String value = result(key);
        try {
            return Long.parseLong(value);
        } catch (NumberFormatException e) {
            throw new AssertionError("RESULT " + key + "=" + value + " is not an integer\n" + describe(), e);
        }
    }

    public double resultDouble(String key) {
        String value = result(key);
        try {
            return Double.parseDouble(value);
        } catch (NumberFormatException e) {
            throw new AssertionError("RESULT " + key + "=" + value + " is not a number\n" + describe(), e);
        }
    }

    /** Fails with the console and diagnostics unless the guest script exited 0. */
    public GuestResult requireSuccess() {
        if (exitCode != 0) {
            throw new AssertionError("guest script failed (" + describeExit() + ")\n" + describe());
        }
        return this;
    }

    public String describeExit() {
        return switch (exitCode) {
            case TIMED_OUT -> "timed out, QEMU killed";
            case NO_RESULT -> "the guest never reported a result";
            default -> "exit code " + exitCode;
        };
    }

    /** Console and diagnostics, for failure messages. */
    public String describe() {
        return "--- guest console ---\n" + console + "\n--- run.sh / QEMU ---\n" + diagnostics;
    }
}

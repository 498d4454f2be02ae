package dev.vhostd.daemon.logging;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.time.ZoneId;
import java.time.format.DateTimeFormatter;
import java.util.logging.Formatter;
import java.util.logging.Level;
import java.util.logging.LogRecord;

/**
 * One line per record. Under journald (stderr is its stream: JOURNAL_STREAM is set) the line starts with
 * the syslog priority as {@code <N>}, which journald turns into the entry's priority, and carries no
 * timestamp or level word (journald records both); elsewhere it reads {@code 2026-01-31 12:00:00.000 INFO message}.
 */
final class TextFormatter extends Formatter {
    private static final DateTimeFormatter TIME =
            DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss.SSS").withZone(ZoneId.systemDefault());
    private final boolean journald;

    TextFormatter(boolean journald) {
        this.journald = journald;
    }

    @Override
    public String format(LogRecord r) {
        StringBuilder b = new StringBuilder(128);
        if (journald) {
            b.append('<').append(syslogPriority(r.getLevel())).append('>');
        } else {
            b.append(TIME.format(r.getInstant())).append(' ').append(levelWord(r.getLevel())).append(' ');
        }
        b.append(formatMessage(r)).append('\n');
        if (r.getThrown() != null) {
            StringWriter trace = new StringWriter();
            r.getThrown().printStackTrace(new PrintWriter(trace));
            b.append(trace);
        }
        return b.toString();
    }

    /** sd-daemon(3) priorities: 3 error, 4 warning, 6 info, 7 debug. */
    static int syslogPriority(Level level) {
        int v = level.intValue();
        if (v >= Level.SEVERE.intValue()) {
            return 3;
        }
        if (v >= Level.WARNING.intValue()) {
            return 4;
        }
        return v >= Level.INFO.intValue() ? 6 : 7;
    }

    /** The words --log-level takes, so a line's level reads the same as the option that shows it. */
    static String levelWord(Level level) {
        int v = level.intValue();
        if (v >= Level.SEVERE.intValue()) {
            return "ERROR";
        }
        if (v >= Level.WARNING.intValue()) {
            return "WARN";
        }
        if (v >= Level.INFO.intValue()) {
            return "INFO";
        }
        return v >= Level.FINE.intValue() ? "DEBUG" : "TRACE";
    }
}

package dev.vhostd.daemon.logging;

import java.util.logging.ConsoleHandler;
import java.util.logging.Formatter;
import java.util.logging.Handler;
import java.util.logging.Logger;

/** Points every logger at one stderr handler with the chosen level and format. */
public final class LogSetup {
    private LogSetup() {}

    /** {@code journald}: stderr is connected to the journal (systemd sets JOURNAL_STREAM). */
    public static void configure(LogLevel level, LogFormat format, boolean journald) {
        Formatter formatter = format == LogFormat.JSON ? new JsonFormatter() : new TextFormatter(journald);
        Logger root = Logger.getLogger("");
        for (Handler h : root.getHandlers()) {
            root.removeHandler(h);
        }
        ConsoleHandler handler = new ConsoleHandler(); // System.err, flushed per record
        handler.setFormatter(formatter);
        handler.setLevel(java.util.logging.Level.ALL);
        root.addHandler(handler);
        root.setLevel(level.julLevel);
    }

    public static void configureFromEnvironment(LogLevel level, LogFormat format) {
        configure(level, format, System.getenv("JOURNAL_STREAM") != null);
    }
}

package dev.vhostd.daemon.logging;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.logging.Formatter;
import java.util.logging.LogRecord;

/** One JSON object per line: time (UTC, ISO-8601), level, logger, thread, message and, if any, error. */
final class JsonFormatter extends Formatter {

    @Override
    public String format(LogRecord r) {
        StringBuilder b = new StringBuilder(192);
        b.append("{\"time\":\"").append(r.getInstant()).append('"');
        b.append(",\"level\":\"").append(TextFormatter.levelWord(r.getLevel())).append('"');
        field(b, "logger", r.getLoggerName());
        field(b, "thread", Thread.currentThread().getName());
        field(b, "message", formatMessage(r));
        if (r.getThrown() != null) {
            StringWriter trace = new StringWriter();
            r.getThrown().printStackTrace(new PrintWriter(trace));
            field(b, "error", trace.toString());
        }
        return b.append("}\n").toString();
    }

    private static void field(StringBuilder b, String name, String value) {
        b.append(",\"").append(name).append("\":");
        if (value == null) {
            b.append("null");
            return;
        }
        b.append('"');
        for (int i = 0; i < value.length(); i++) {
            char c = value.charAt(i);
            switch (c) {
                case '"' -> b.append("\\\"");
                case '\\' -> b.append("\\\\");
                case '\n' -> b.append("\\n");
                case '\r' -> b.append("\\r");
                case '\t' -> b.append("\\t");
                default -> {
                    if (c < 0x20) {
                        b.append(String.format("\\u%04x", (int) c));
                    } else {
                        b.append(c);
                    }
                }
            }
        }
        b.append('"');
    }
}
